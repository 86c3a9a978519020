#!/usr/bin/python3
"""A fake http_sd endpoint for promlet's end-to-end tests (stdlib only).

    fake_http_sd.py --port-file F --dir D [--log F]

Answers every GET on 127.0.0.1 from files in D, read again for each
request, so a test changes the answer by writing them:
    body     the response body (absent: empty)
    status   the HTTP status (absent: 200)
    ctype    the Content-Type (absent: application/json)
    delay    seconds to wait before answering (absent: 0)
With --log, every request is appended as a JSON line: time, path and
headers. The port file is written atomically once the port is bound.
"""

import argparse
import http.server
import json
import os
import socketserver
import threading
import time

from serving import write_port_file


def read(d, name, default):
    try:
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            if args.log:
                rec = {"time": time.time(), "path": self.path,
                       "headers": {k.lower(): v
                                   for k, v in self.headers.items()}}
                with lock, open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
            delay = float(read(args.dir, "delay", b"0").strip() or 0)
            if delay > 0:
                time.sleep(delay)
            body = read(args.dir, "body", b"")
            status = int(read(args.dir, "status", b"200").strip())
            ctype = read(args.dir, "ctype", b"application/json").strip()
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype.decode())
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    srv = Server(("127.0.0.1", 0), Handler)
    write_port_file(args.port_file, "%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
