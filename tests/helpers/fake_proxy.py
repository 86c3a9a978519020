#!/usr/bin/python3
"""A forward HTTP proxy for promlet's end-to-end tests; it records what it
is asked to do.

    fake_proxy.py --port-file F --log F

CONNECT HOST:PORT opens a tunnel to 127.0.0.1:PORT (whatever HOST is: the
tests have no DNS). An absolute-form request (GET http://HOST:PORT/path)
is sent on to 127.0.0.1:PORT and its answer relayed. Each request appends
one JSON line to the log before it is served:

    {"method": "CONNECT" | "GET" | ..., "target": the request target,
     "headers": {lowercased name: its values joined by ", "}}
"""

import argparse
import http.client
import http.server
import json
import select
import socket
import socketserver
import sys
import threading
import urllib.parse

from serving import serve_until_signal, write_port_file

LOCK = threading.Lock()
LOG = None
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
       "te", "trailer", "transfer-encoding", "upgrade"}


def record(handler):
    rec = {"method": handler.command, "target": handler.path,
           "headers": {k.lower(): ", ".join(handler.headers.get_all(k))
                       for k in handler.headers.keys()}}
    with LOCK, open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def port_of(hostport, default):
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return default
    return int(port)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        record(self)
        try:
            up = socket.create_connection(("127.0.0.1",
                                           port_of(self.path, 443)), 5)
        except OSError as e:
            self.send_error(502, str(e))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        socks = [self.connection, up]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.connection else
                     self.connection).sendall(data)
        except OSError:
            pass
        finally:
            up.close()
            self.close_connection = True

    def forward(self):
        record(self)
        u = urllib.parse.urlsplit(self.path)
        if u.scheme != "http":
            self.send_error(400, "absolute http:// URL expected")
            return
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP}
        c = http.client.HTTPConnection("127.0.0.1", u.port or 80, timeout=10)
        try:
            c.request(self.command, (u.path or "/") +
                      ("?" + u.query if u.query else ""), body, headers)
            r = c.getresponse()
            data = r.read()
        except OSError as e:
            self.send_error(502, str(e))
            return
        finally:
            c.close()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = forward
    do_POST = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG
    ap = argparse.ArgumentParser(description="recording forward proxy")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    LOG = args.log
    open(LOG, "a").close()
    srv = Server(("127.0.0.1", 0), Handler)
    write_port_file(args.port_file, "%d\n" % srv.server_address[1])
    serve_until_signal([srv])
    sys.exit(0)


if __name__ == "__main__":
    main()
