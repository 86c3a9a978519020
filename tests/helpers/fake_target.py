#!/usr/bin/python3
"""Fake scrape targets for promlet's end-to-end tests.

One process serves any number of targets on 127.0.0.1. Each TARGET argument
is a page name plus comma-separated options:

    fake_target.py --port-file F [--log F] counter now,om=1 file:/tmp/p,gzip=1

Every target gets its own listening port unless several name the same
share key with port=@KEY, in which case they share one port and are told
apart by path=. When all ports are bound, the port file is written
atomically with one line per target: "PORT PATH".

Pages (state is per target; only requests for the target's path count as
scrapes):
    counter      counter `counter`, 0 on the first scrape, +1 after each
    now          gauge `now` = current unix time in milliseconds
    histogram    histogram `histogram`, buckets 1 and 2, observed 1 and 2
    summary      summary `summary`, quantiles .5/.9/.99, observed 1, 2, 3
    gauge42      gauge `gauge` = 42
    invalid      a body no parser accepts
    sorted       test{b="2",a="1"} 1.0
    repeated     test{a="1",a="1"} 1.0
    empty        test{a=""} 1.0
    noname       {label="value"} 1.0
    honor        test{job="original", instance="foo"} 1.0
    stale        gauge `stale` on the first scrape only, then an empty page
    series1000   test{i="0".."999"} 1 (n=N changes the count)
    nan          gauge `nan_gauge` = NaN
    file:PATH    the file's contents, re-read on every scrape
Options:
    path=/metrics   the path that serves the page (others get 404)
    port=N|@KEY     fixed port (0 = any free one) or a shared-port key
    om=1            OpenMetrics content type and a closing "# EOF"
    gzip=1|auto     always gzip, or only when Accept-Encoding allows it
    delay=S         sleep S seconds before answering
    drip=S          send the body in small pieces spread over S seconds
    status=N        answer with HTTP status N
    ctype=STRING    override the Content-Type
    n=N             series count for series1000
/-/ready answers 200 on every port without counting as a scrape.
With --log, every request is appended as a JSON line (time, target, path,
headers, scrape number, status).
"""

import argparse
import gzip
import http.server
import json
import socketserver
import sys
import threading
import time

from serving import serve_until_signal, write_port_file

TEXT_CTYPE = "text/plain; version=0.0.4; charset=utf-8"
OM_CTYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

STATIC_PAGES = {
    "gauge42": "# HELP gauge A constant gauge.\n# TYPE gauge gauge\n"
    "gauge 42\n",
    "invalid": "# this is not valid prometheus\n1234notvali}{ 444\n",
    "sorted": 'test{b="2",a="1"} 1.0\n',
    "repeated": 'test{a="1",a="1"} 1.0\n',
    "empty": 'test{a=""} 1.0\n',
    "noname": '{label="value"} 1.0\n',
    "honor": 'test{job="original", instance="foo"} 1.0\n',
    "histogram": "# HELP histogram A histogram.\n"
    "# TYPE histogram histogram\n"
    'histogram_bucket{le="1"} 1\n'
    'histogram_bucket{le="2"} 2\n'
    'histogram_bucket{le="+Inf"} 2\n'
    "histogram_sum 3\n"
    "histogram_count 2\n",
    "summary": "# HELP summary A summary.\n"
    "# TYPE summary summary\n"
    'summary{quantile="0.5"} 2\n'
    'summary{quantile="0.9"} 3\n'
    'summary{quantile="0.99"} 3\n'
    "summary_sum 6\n"
    "summary_count 3\n",
    "nan": "# HELP nan_gauge A gauge that is not a number.\n"
    "# TYPE nan_gauge gauge\nnan_gauge NaN\n",
}

LOG_LOCK = threading.Lock()
LOG_FILE = None


class Target:
    def __init__(self, index, spec):
        self.index = index
        self.lock = threading.Lock()
        self.scrapes = 0
        fields = spec.split(",")
        self.page = fields[0]
        self.opts = {}
        for f in fields[1:]:
            if "=" not in f:
                raise SystemExit("fake_target: bad option %r in %r"
                                 % (f, spec))
            k, v = f.split("=", 1)
            self.opts[k] = v
        known = {"path", "port", "om", "gzip", "delay", "drip", "status",
                 "ctype", "n"}
        for k in self.opts:
            if k not in known:
                raise SystemExit("fake_target: unknown option %r" % k)
        if (self.page not in STATIC_PAGES and
                not self.page.startswith("file:") and
                self.page not in ("counter", "now", "stale", "series1000")):
            raise SystemExit("fake_target: unknown page %r" % self.page)
        self.path = self.opts.get("path", "/metrics")
        self.om = self.opts.get("om", "0") == "1"

    def render(self, scrape):
        """Body for scrape number `scrape` (0-based)."""
        p = self.page
        if p == "counter":
            if self.om:
                return ("# TYPE counter counter\ncounter_total %d\n" %
                        scrape)
            return ("# HELP counter Incremented after each scrape.\n"
                    "# TYPE counter counter\ncounter %d\n" % scrape)
        if p == "now":
            return ("# HELP now Unix time in milliseconds.\n"
                    "# TYPE now gauge\nnow %d\n" % int(time.time() * 1000))
        if p == "stale":
            if scrape == 0:
                return ("# HELP stale Present on the first scrape only.\n"
                        "# TYPE stale gauge\nstale 1\n")
            return ""
        if p == "series1000":
            n = int(self.opts.get("n", "1000"))
            return "".join('test{i="%d"} 1\n' % i for i in range(n))
        if p.startswith("file:"):
            with open(p[5:], encoding="utf-8") as f:
                return f.read()
        return STATIC_PAGES[p]


def log_request(rec):
    if LOG_FILE is None:
        return
    line = json.dumps(rec, sort_keys=True) + "\n"
    with LOG_LOCK:
        LOG_FILE.write(line)
        LOG_FILE.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_target/1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/-/ready":
            self.reply(200, b"ready\n", "text/plain")
            return
        target = self.server.targets.get(path)
        if target is None:
            self.reply(404, b"not found\n", "text/plain")
            return
        with target.lock:
            scrape = target.scrapes
            target.scrapes += 1
            try:
                body = target.render(scrape)
            except OSError as e:
                body = None
                err = str(e)
        status = int(target.opts.get("status", "200"))
        log_request({
            "t": time.time(), "target": target.index, "path": self.path,
            "scrape": scrape, "status": status,
            # A header sent twice is logged once, its values joined.
            "headers": {k.lower(): ", ".join(self.headers.get_all(k))
                        for k in self.headers.keys()},
        })
        if body is None:
            self.reply(500, (err + "\n").encode(), "text/plain")
            return
        if target.om:
            body += "# EOF\n"
        data = body.encode("utf-8")
        ctype = target.opts.get("ctype", OM_CTYPE if target.om else TEXT_CTYPE)
        gz = target.opts.get("gzip", "0")
        accept_enc = self.headers.get("Accept-Encoding", "")
        use_gzip = gz == "1" or (gz == "auto" and "gzip" in accept_enc)
        if use_gzip:
            data = gzip.compress(data)
        delay = float(target.opts.get("delay", "0"))
        if delay > 0:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        drip = float(target.opts.get("drip", "0"))
        try:
            if drip > 0 and data:
                pieces = max(1, min(len(data), 20))
                step = (len(data) + pieces - 1) // pieces
                for off in range(0, len(data), step):
                    self.wfile.write(data[off:off + step])
                    self.wfile.flush()
                    time.sleep(drip / pieces)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def reply(self, status, data, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    # socketserver's backlog is 5: a step of more targets than that on
    # one port would lose SYNs on its first round and time out.
    request_queue_size = 128
    allow_reuse_address = True


def main():
    global LOG_FILE
    ap = argparse.ArgumentParser(description="fake scrape targets")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("targets", nargs="+", metavar="TARGET")
    args = ap.parse_args()

    if args.log:
        LOG_FILE = open(args.log, "a", encoding="utf-8")
    targets = [Target(i, s) for i, s in enumerate(args.targets)]

    # Group targets by listener: a shared key, or a port of their own.
    groups = {}
    order = []
    for t in targets:
        port = t.opts.get("port", "0")
        key = port if port.startswith("@") else ("own", t.index)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(t)

    servers = []
    where = {}
    for key in order:
        port = 0
        if isinstance(key, tuple):
            port = int(groups[key][0].opts.get("port", "0"))
        srv = Server((args.host, port), Handler)
        srv.targets = {}
        for t in groups[key]:
            if t.path in srv.targets:
                raise SystemExit("fake_target: two targets on one port "
                                 "share path %s" % t.path)
            srv.targets[t.path] = t
            where[t.index] = (srv.server_address[1], t.path)
        servers.append(srv)

    write_port_file(args.port_file, "".join("%d %s\n" % where[t.index]
                                            for t in targets))
    serve_until_signal(servers)
    sys.exit(0)


if __name__ == "__main__":
    main()
