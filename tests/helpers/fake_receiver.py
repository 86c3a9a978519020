#!/usr/bin/python3
"""A Prometheus remote-write 1.0 receiver that records everything it gets.

    fake_receiver.py --port-file F [--tls-cert F --tls-key F
                     [--tls-client-ca F]] ENDPOINT...
    ENDPOINT := PATH=LOGFILE[,script=STEPS][,scope=all|samples][,seed=N]
                [,location=URL]

Each endpoint decodes snappy-block + protobuf WriteRequest bodies with the
decoder below and appends one JSON line per request to LOGFILE when the
request is finished:

    {"n": arrival number on this endpoint, "t_recv": .., "t_done": ..,
     "method": .., "path": .., "headers": {lowercased name: value},
     "body_len": .., "error": decode error or null,
     "action": script step applied, "status": status sent or null,
     "outcome": "answered" | "client_gone" | "pending",
     "accepted": true when a 2xx reached a client still waiting,
     "timeseries": [{"labels": [[name, value], ...],
                     "samples": [[timestamp_ms, "0x<64-bit float bits>"]]}],
     "metadata": [[type, family, help, unit], ...],
     with TLS also "tls_version": "TLSv1.3" etc., "tls_sni": the SNI name,
     and with --tls-client-ca "tls_client": the CN of the certificate the
     client presented, verified against that CA (null if none)}

Float values are kept as their exact bit patterns so that the stale
marker 0x7ff0000000000002 can be told from other NaNs.

STEPS is a '+'-separated list of ACTION or ACTION*N. Each request (or,
with scope=samples, each request that carries at least one sample) uses up
one step; the last step without *N repeats forever, and once every counted
step is used up the answer is 200.
    ok             200
    CODE[:RA]      answer CODE (e.g. 500, 400, 429) with the body
                   "fake_receiver rejected request #N with CODE"; RA adds a
                   Retry-After header: seconds, or date:S for an HTTP date
                   S seconds from now
    sleep:S        sleep S seconds, then 200
    sleep:A-B      sleep a random time in [A, B] seconds, then 200
    hang           never answer; wait until the client gives up
A 3xx CODE carries "Location: URL" when the endpoint has location=URL.
With --tls-cert and --tls-key (PEM files) the port speaks HTTPS only.
Bodies that fail to decode get 400 without using a step; a
Content-Encoding other than snappy (or none) gets 415.
The port file holds the port once the socket listens. /-/ready answers 200.
"""

import argparse
import email.utils
import http.server
import json
import random
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

import snappy

from serving import serve_until_signal, write_port_file


class DecodeError(Exception):
    pass


def pb_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def pb_fields(buf):
    """Yield (field number, wire type, value) for a protobuf message.

    Varints come back as unsigned ints, fixed64 as 8 raw bytes, length-
    delimited fields as bytes; unknown wire types are errors."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = pb_varint(buf, pos)
        field, wt = key >> 3, key & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, pos = pb_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise DecodeError("truncated fixed64")
            v = buf[pos:pos + 8]
            pos += 8
        elif wt == 2:
            ln, pos = pb_varint(buf, pos)
            if pos + ln > n:
                raise DecodeError("truncated length-delimited field")
            v = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise DecodeError("truncated fixed32")
            v = buf[pos:pos + 4]
            pos += 4
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        yield field, wt, v


def pb_string(v, wt, what):
    if wt != 2:
        raise DecodeError("%s has wire type %d" % (what, wt))
    try:
        return bytes(v).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("%s is not UTF-8" % what)


def decode_label(buf):
    name = value = ""
    for f, wt, v in pb_fields(buf):
        if f == 1:
            name = pb_string(v, wt, "label name")
        elif f == 2:
            value = pb_string(v, wt, "label value")
    return [name, value]


def decode_sample(buf):
    bits = 0
    ts = 0
    for f, wt, v in pb_fields(buf):
        if f == 1:
            if wt != 1:
                raise DecodeError("sample value has wire type %d" % wt)
            bits = struct.unpack("<Q", v)[0]
        elif f == 2:
            if wt != 0:
                raise DecodeError("sample timestamp has wire type %d" % wt)
            ts = v - (1 << 64) if v >= (1 << 63) else v
    return [ts, "0x%016x" % bits]


def decode_timeseries(buf):
    ts = {"labels": [], "samples": []}
    for f, wt, v in pb_fields(buf):
        if f == 1:
            if wt != 2:
                raise DecodeError("labels have wire type %d" % wt)
            ts["labels"].append(decode_label(v))
        elif f == 2:
            if wt != 2:
                raise DecodeError("samples have wire type %d" % wt)
            ts["samples"].append(decode_sample(v))
        elif f == 3:
            ts["exemplars"] = ts.get("exemplars", 0) + 1
        elif f == 4:
            ts["histograms"] = ts.get("histograms", 0) + 1
    return ts


def decode_metadata(buf):
    md = [0, "", "", ""]
    for f, wt, v in pb_fields(buf):
        if f == 1 and wt == 0:
            md[0] = v
        elif f == 2:
            md[1] = pb_string(v, wt, "metadata family name")
        elif f == 4:
            md[2] = pb_string(v, wt, "metadata help")
        elif f == 5:
            md[3] = pb_string(v, wt, "metadata unit")
    return md


def decode_write_request(buf):
    series = []
    metadata = []
    for f, wt, v in pb_fields(buf):
        if f == 1:
            if wt != 2:
                raise DecodeError("timeseries have wire type %d" % wt)
            series.append(decode_timeseries(v))
        elif f == 3:
            if wt != 2:
                raise DecodeError("metadata have wire type %d" % wt)
            metadata.append(decode_metadata(v))
    return series, metadata


def parse_step(text):
    count = None
    if "*" in text:
        text, c = text.rsplit("*", 1)
        count = int(c)
    if text == "ok":
        act = ("ok",)
    elif text == "hang":
        act = ("hang",)
    elif text.startswith("sleep:"):
        arg = text[6:]
        if "-" in arg:
            a, b = arg.split("-", 1)
            act = ("sleep", float(a), float(b))
        else:
            act = ("sleep", float(arg), float(arg))
    else:
        code, _, ra = text.partition(":")
        act = ("status", int(code), ra)
    return [act, count, text]


class Endpoint:
    def __init__(self, spec):
        path, _, rest = spec.partition("=")
        if not path.startswith("/") or not rest:
            raise SystemExit("fake_receiver: bad endpoint %r" % spec)
        fields = rest.split(",")
        self.path = path
        self.log = open(fields[0], "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.arrivals = 0
        self.scope = "all"
        self.steps = []
        seed = None
        self.location = None
        for f in fields[1:]:
            k, _, v = f.partition("=")
            if k == "script":
                self.steps = [parse_step(s) for s in v.split("+") if s]
            elif k == "scope" and v in ("all", "samples"):
                self.scope = v
            elif k == "seed":
                seed = int(v)
            elif k == "location":
                self.location = v
            else:
                raise SystemExit("fake_receiver: bad option %r" % f)
        self.rng = random.Random(seed)
        self.pending = {}

    def next_action(self, uses_step):
        """Arrival number and the step to apply, under the endpoint lock."""
        with self.lock:
            n = self.arrivals
            self.arrivals += 1
            act = ("ok",)
            name = "ok"
            if uses_step:
                while self.steps:
                    step = self.steps[0]
                    if step[1] is None:
                        act, name = step[0], step[2]
                        break
                    if step[1] > 0:
                        step[1] -= 1
                        act, name = step[0], step[2]
                        if step[1] == 0:
                            self.steps.pop(0)
                        break
                    self.steps.pop(0)
            if act[0] == "sleep":
                act = ("sleep", self.rng.uniform(act[1], act[2]))
            return n, act, name

    def record(self, rec):
        line = json.dumps(rec, sort_keys=True) + "\n"
        with self.lock:
            self.pending.pop(rec["n"], None)
            self.log.write(line)
            self.log.flush()

    def flush_pending(self):
        with self.lock:
            for rec in self.pending.values():
                rec["outcome"] = "pending"
                rec["t_done"] = time.time()
                self.log.write(json.dumps(rec, sort_keys=True) + "\n")
            self.pending.clear()
            self.log.flush()


STOP = threading.Event()


def client_gone(sock):
    """True if the peer has closed its side (EOF or reset)."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_receiver/1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if self.path == "/-/ready":
            self.reply(200, b"ready\n")
        else:
            self.reply(405, b"remote write wants POST\n")

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        t_recv = time.time()
        ep = self.server.endpoints.get(self.path.split("?", 1)[0])
        if ep is None:
            self.read_body()
            self.reply(404, b"no such endpoint\n")
            return
        body = self.read_body()
        rec = {
            "t_recv": t_recv, "method": "POST", "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_len": len(body), "error": None, "timeseries": [],
            "metadata": [], "status": None, "outcome": "answered",
            "accepted": False,
        }
        # With TLS: the protocol version and the name the client asked
        # for (SNI), as the handshake set them.
        if hasattr(self.connection, "version"):
            rec["tls_version"] = self.connection.version()
            rec["tls_sni"] = getattr(self.connection, "promlet_sni", None)
            peer = self.connection.getpeercert()
            rec["tls_client"] = None
            for rdn in (peer or {}).get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        rec["tls_client"] = v
        enc = self.headers.get("Content-Encoding", "")
        status = None
        if enc not in ("", "snappy"):
            rec["error"] = "unsupported Content-Encoding %r" % enc
            status = 415
        else:
            try:
                raw = snappy.uncompress(body) if body else b""
            except Exception as e:
                rec["error"] = "snappy: %s" % e
                status = 400
            else:
                try:
                    series, md = decode_write_request(raw)
                    rec["timeseries"] = series
                    rec["metadata"] = md
                except DecodeError as e:
                    rec["error"] = "protobuf: %s" % e
                    status = 400
        has_samples = any(s["samples"] for s in rec["timeseries"])
        n, act, name = ep.next_action(
            status is None and (ep.scope == "all" or has_samples))
        rec["n"] = n
        rec["action"] = name if status is None else "reject"
        with ep.lock:
            ep.pending[n] = rec
        if status is not None:
            msg = "fake_receiver: %s\n" % rec["error"]
            self.respond(ep, rec, status, msg.encode(), None)
            return
        if act[0] == "hang":
            while not STOP.is_set() and not client_gone(self.connection):
                time.sleep(0.05)
            rec["outcome"] = "client_gone"
            rec["t_done"] = time.time()
            ep.record(rec)
            self.close_connection = True
            return
        if act[0] == "sleep":
            end = time.time() + act[1]
            while not STOP.is_set() and time.time() < end:
                time.sleep(min(0.05, max(0, end - time.time())))
            act = ("ok",)
        if act[0] == "ok":
            self.respond(ep, rec, 200, b"", None)
            return
        code, ra = act[1], act[2]
        retry_after = None
        if ra.startswith("date:"):
            retry_after = email.utils.formatdate(
                time.time() + float(ra[5:]), usegmt=True)
        elif ra:
            retry_after = ra
        msg = "fake_receiver rejected request #%d with %d\n" % (n, code)
        self.respond(ep, rec, code, msg.encode(), retry_after)

    def respond(self, ep, rec, status, body, retry_after):
        if client_gone(self.connection):
            rec["outcome"] = "client_gone"
            rec["t_done"] = time.time()
            ep.record(rec)
            self.close_connection = True
            return
        rec["status"] = status
        rec["retry_after"] = retry_after
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            if ep.location is not None and 300 <= status < 400:
                self.send_header("Location", ep.location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            rec["accepted"] = 200 <= status < 300
        except OSError:
            rec["outcome"] = "client_gone"
            self.close_connection = True
        rec["t_done"] = time.time()
        ep.record(rec)

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="recording remote-write receiver")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    ap.add_argument("endpoints", nargs="+", metavar="ENDPOINT")
    args = ap.parse_args()

    eps = {}
    for spec in args.endpoints:
        ep = Endpoint(spec)
        eps[ep.path] = ep
    srv = Server((args.host, args.port), Handler)
    srv.endpoints = eps
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            # Optional: endpoints without a client certificate still work;
            # the record says which client, if any, presented one.
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.tls_client_ca)

        def sni_cb(sock, name, _ctx):
            sock.promlet_sni = name
        ctx.sni_callback = sni_cb
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    write_port_file(args.port_file, "%d\n" % srv.server_address[1])
    serve_until_signal([srv], STOP)
    time.sleep(0.1)
    for ep in eps.values():
        ep.flush_pending()
    sys.exit(0)


if __name__ == "__main__":
    main()
