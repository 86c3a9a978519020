#!/usr/bin/python3
"""Misbehaving scrape targets for promlet's fault tests (tests/faults/).

    bad_target.py --port-file F [--log F]

One port serves every case, chosen by the path; HTTP is written by hand so
that framing, resets and timing are exactly as described. Pages are made
on the fly and streamed: nothing large is kept in memory (the gzip bomb is
compressed once, about 1 MB).

    /ok            counter `ok_counter`, +1 per scrape, and gauge `ok_now`
    /huge?mb=N     N MiB (default 1024) of valid samples with Content-Length
    /hugechunked?mb=N  the same without a length, chunked
    /longline?mb=N one series whose label value is N MiB (default 10)
    /manylabels?n=N one series with N labels (default 100000)
    /badutf8       label values and a HELP text that are not UTF-8
    /gzipbomb?mb=N gzip of N MiB (default 1024) of samples, ~1/1000 size
    /drip?s=S      a valid page trickled out over S seconds (default 30)
    /stall         headers, half a body, then silence until the peer leaves
    /reset         headers announcing 1 MB, 10 kB of body, then a TCP RST
    /redirect      302 to itself forever (a redirect loop)
    /http10        HTTP/1.0, no Content-Length, body ends at close
    /chunked       a valid page with chunked transfer encoding
    /churn?n=N     N series (default 10000) whose label changes every scrape
    /garbage       200 with random bytes that are no exposition format
    /-/ready       200

Every request is appended to --log as a JSON line (time, path, scrape
number of that path, bytes sent, outcome).
"""

import argparse
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "helpers"))
from serving import serve_until_signal, write_port_file  # noqa: E402

LOG_LOCK = threading.Lock()
LOG_FILE = None
COUNTS = {}
COUNT_LOCK = threading.Lock()
BOMB = {}
BOMB_LOCK = threading.Lock()
TEXT = "text/plain; version=0.0.4; charset=utf-8"


def log(rec):
    if LOG_FILE is None:
        return
    with LOG_LOCK:
        LOG_FILE.write(json.dumps(rec, sort_keys=True) + "\n")
        LOG_FILE.flush()


FILLER = b"".join(b'bad_target_filler{i="%08d"} 1\n' % i
                  for i in range((1 << 20) // 34))
# The same block framed as one HTTP chunk, made once: a chunked huge page
# costs no copy per chunk either, so it streams as fast as the peer reads.
FILLER_CHUNK = b"%x\r\n%s\r\n" % (len(FILLER), FILLER)


def sample_lines(total):
    """Yield chunks of valid samples adding up to `total` bytes: the same
    1 MiB block again and again, so streaming costs no CPU."""
    sent = 0
    while sent < total:
        chunk = FILLER
        if sent + len(chunk) > total:
            chunk = chunk[:total - sent]
        sent += len(chunk)
        yield chunk


def gzip_bomb(mb):
    """gzip of `mb` MiB of samples, computed once per size."""
    with BOMB_LOCK:
        if mb not in BOMB:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            block = b"bomb 11\n" * ((1 << 20) // 8)
            parts = [c.compress(block) for _ in range(mb)]
            parts.append(c.flush())
            BOMB[mb] = b"".join(parts)
        return BOMB[mb]


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.sent = 0
        self.outcome = "answered"

    def send(self, data):
        self.request.sendall(data)
        self.sent += len(data)

    def head(self, status, headers, version="HTTP/1.1"):
        reason = {200: "OK", 302: "Found", 404: "Not Found"}.get(status, "X")
        lines = ["%s %d %s" % (version, status, reason)]
        lines += ["%s: %s" % kv for kv in headers]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def read_request(self):
        data = b""
        while b"\r\n\r\n" not in data:
            part = self.request.recv(65536)
            if not part:
                return None
            data += part
            if len(data) > 1 << 20:
                return None
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        return parts[1] if len(parts) >= 2 else "/"

    def handle(self):
        # One request per connection: every answer closes, so framing
        # mistakes of one case cannot leak into the next request.
        target = self.read_request()
        if target is None:
            return
        url = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        with COUNT_LOCK:
            n = COUNTS.get(path, 0)
            COUNTS[path] = n + 1
        t0 = time.time()
        try:
            fn = getattr(self, "case_" + path.strip("/").replace("-", "_")
                         .replace("/", "_"), None)
            if path == "/-/ready":
                self.body(200, b"ready\n", "text/plain")
            elif fn is None:
                self.body(404, b"no such case\n", "text/plain")
            else:
                fn(q, n)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.outcome = "client_gone"
        log({"t": t0, "dur": round(time.time() - t0, 3), "path": path,
             "scrape": n, "sent": self.sent, "outcome": self.outcome})

    def body(self, status, data, ctype, extra=()):
        self.head(status, [("Content-Type", ctype),
                           ("Content-Length", str(len(data))),
                           ("Connection", "close")] + list(extra))
        self.send(data)

    def stream(self, chunks, ctype, length=None, chunked=False):
        hdrs = [("Content-Type", ctype), ("Connection", "close")]
        if length is not None:
            hdrs.append(("Content-Length", str(length)))
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        self.head(200, hdrs)
        for c in chunks:
            if chunked and c is FILLER:
                self.send(FILLER_CHUNK)
            elif chunked:
                self.send(b"%x\r\n%s\r\n" % (len(c), c))
            else:
                self.send(c)
        if chunked:
            self.send(b"0\r\n\r\n")

    # ---- cases ---------------------------------------------------------

    def case_ok(self, q, n):
        page = ("# TYPE ok_counter counter\nok_counter %d\n"
                "# TYPE ok_now gauge\nok_now %d\n" %
                (n, int(time.time() * 1000))).encode()
        self.body(200, page, TEXT)

    def case_huge(self, q, n):
        total = int(q.get("mb", "1024")) << 20
        self.stream(sample_lines(total), TEXT, length=total)

    def case_hugechunked(self, q, n):
        total = int(q.get("mb", "1024")) << 20
        self.stream(sample_lines(total), TEXT, chunked=True)

    def case_longline(self, q, n):
        size = int(q.get("mb", "10")) << 20
        pre, post = b'longline{v="', b'"} 1\n'

        def gen():
            yield pre
            left = size
            while left > 0:
                k = min(left, 1 << 20)
                yield b"x" * k
                left -= k
            yield post
        self.stream(gen(), TEXT, length=len(pre) + size + len(post))

    def case_manylabels(self, q, n):
        count = int(q.get("n", "100000"))
        key = ("manylabels", count)
        with BOMB_LOCK:
            if key not in BOMB:
                parts = [b"manylabels{"]
                parts += [b'l%d="v",' % i for i in range(count)]
                parts.append(b"} 1\n")
                BOMB[key] = b"".join(parts)
        self.body(200, BOMB[key], TEXT)

    def case_badutf8(self, q, n):
        data = (b"# HELP badutf8 caf\xe9 \xff\xfe\n# TYPE badutf8 gauge\n"
                b'badutf8{v="caf\xe9"} 1\n'
                b'badutf8{v="\xc3\x28"} 2\n'
                b'badutf8{v="\xed\xa0\x80"} 3\n')
        self.body(200, data, TEXT)

    def case_gzipbomb(self, q, n):
        data = gzip_bomb(int(q.get("mb", "1024")))
        self.body(200, data, TEXT, [("Content-Encoding", "gzip")])

    def case_drip(self, q, n):
        secs = float(q.get("s", "30"))
        data = ("# TYPE drip gauge\n" +
                "".join("drip{i=\"%d\"} 1\n" % i for i in range(50))).encode()
        self.head(200, [("Content-Type", TEXT),
                        ("Content-Length", str(len(data))),
                        ("Connection", "close")])
        step = secs / len(data)
        for i in range(len(data)):
            self.send(data[i:i + 1])
            time.sleep(step)

    def case_stall(self, q, n):
        data = b"stall 1\n" * 1000
        self.head(200, [("Content-Type", TEXT),
                        ("Content-Length", str(len(data)))])
        self.send(data[: len(data) // 2])
        self.request.settimeout(120)
        while self.request.recv(4096):
            pass
        self.outcome = "client_gone"

    def case_reset(self, q, n):
        self.head(200, [("Content-Type", TEXT),
                        ("Content-Length", str(1 << 20))])
        self.send(b"reset 1\n" * 1280)
        # SO_LINGER with a zero timeout turns close() into an RST.
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
        self.request.close()
        self.outcome = "reset"

    def case_redirect(self, q, n):
        hop = int(q.get("hop", "0")) + 1
        self.head(302, [("Location", "/redirect?hop=%d" % hop),
                        ("Content-Length", "0"), ("Connection", "close")])

    def case_http10(self, q, n):
        data = ("# TYPE http10 counter\nhttp10_total %d\n" % n).encode()
        self.head(200, [("Content-Type", TEXT)], version="HTTP/1.0")
        self.send(data)

    def case_chunked(self, q, n):
        page = ("# TYPE chunked counter\nchunked_total %d\n" % n +
                "".join('chunked_series{i="%d"} %d\n' % (i, i)
                        for i in range(100)))
        data = page.encode()
        pieces = [data[i:i + 97] for i in range(0, len(data), 97)]
        self.stream(pieces, TEXT, chunked=True)

    def case_churn(self, q, n):
        count = int(q.get("n", "10000"))
        data = "".join('churn{gen="%d",i="%d"} 1\n' % (n, i)
                       for i in range(count)).encode()
        self.body(200, data, TEXT)

    def case_garbage(self, q, n):
        rnd = random.Random(n)
        data = bytes(rnd.getrandbits(8) for _ in range(4096))
        self.body(200, data, TEXT)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global LOG_FILE
    ap = argparse.ArgumentParser(description="misbehaving scrape targets")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    if args.log:
        LOG_FILE = open(args.log, "a", encoding="utf-8")
    srv = Server((args.host, args.port), Handler)
    write_port_file(args.port_file, "%d\n" % srv.server_address[1])
    serve_until_signal([srv])
    sys.exit(0)


if __name__ == "__main__":
    main()
