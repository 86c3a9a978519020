#!/usr/bin/python3
"""Check fake_receiver.py and fake_target.py themselves.

Starts both on loopback (ephemeral ports, in a temporary directory),
talks to them with urllib and an independent protobuf encoder, and checks
what comes back and what gets recorded: exact float bits (stale NaN),
negative timestamps, UTF-8 label values, metadata, the scripted answers
(500, 429 with Retry-After in seconds and as a date, random sleeps, a hang
that ends when the client gives up), scope=samples, 415 and 400 for bad
bodies; per-target scrape state, gzip and OpenMetrics on the target side;
ports.py's reservations. Exits 1 on the first wrong answer.
"""

import email.utils
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import snappy

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
STALE = 0x7FF0000000000002


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def encode(series, metadata=()):
    body = b""
    for labels, samples in series:
        ts = b""
        for n, v in labels:
            ts += field(1, 2, field(1, 2, n.encode()) +
                        field(2, 2, v.encode()))
        for t, bits in samples:
            ts += field(2, 2, field(1, 1, struct.pack("<Q", bits)) +
                        field(2, 0, varint(t)))
        body += field(1, 2, ts)
    for typ, fam, hlp, unit in metadata:
        body += field(3, 2, field(1, 0, varint(typ)) +
                      field(2, 2, fam.encode()) + field(4, 2, hlp.encode()) +
                      field(5, 2, unit.encode()))
    return body


def fbits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)
    print("ok   " + what)


def post(url, body, ctype="application/x-protobuf", enc="snappy",
         timeout=10):
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", ctype)
    if enc:
        req.add_header("Content-Encoding", enc)
    req.add_header("X-Prometheus-Remote-Write-Version", "0.1.0")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def records(path):
    with open(path, encoding="utf-8") as f:
        return sorted((json.loads(l) for l in f if l.strip()),
                      key=lambda r: r["n"])


def wait_file(path, limit=10):
    end = time.time() + limit
    while time.time() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.05)
    raise Failure("%s not written" % path)


def test_receiver(tmp, procs):
    pf = os.path.join(tmp, "recv.port")
    logs = {k: os.path.join(tmp, k + ".jsonl")
            for k in ("plain", "script", "samples", "hang")}
    procs.append(subprocess.Popen([
        PY, os.path.join(HERE, "fake_receiver.py"), "--port-file", pf,
        "/plain=" + logs["plain"],
        "/script=" + logs["script"] + ",script=500*1+429:2*1+429:date:30*1"
        "+sleep:0.3-0.6*1+ok",
        "/samples=" + logs["samples"] + ",scope=samples,script=400",
        "/hang=" + logs["hang"] + ",script=hang*1+ok"]))
    wait_file(pf)
    base = "http://127.0.0.1:%s" % open(pf).read().strip()

    series = [
        ([("__name__", "m"), ("job", "j"), ("v", "h\u00e9llo \u2603")],
         [(-5, fbits(1.5)), (1700000000123, STALE),
          (1700000000124, 0x7FF8000000000001), (0, 0)]),
        ([("__name__", "big")], [((1 << 62) + 7, fbits(-2.0))]),
    ]
    md = [(2, "m", "help text", "seconds")]
    st, _, _ = post(base + "/plain", snappy.compress(encode(series, md)))
    expect(st == 200, "a valid request gets 200")
    st, _, body = post(base + "/plain", snappy.compress(b"\x0a\x05\x0a"))
    expect(st == 400 and b"protobuf" in body,
           "a truncated protobuf gets 400 naming the problem")
    st, _, _ = post(base + "/plain", b"not snappy at all")
    expect(st == 400, "a body that is not snappy gets 400")
    st, _, _ = post(base + "/plain", encode(series), enc="gzip")
    expect(st == 415, "Content-Encoding gzip gets 415")
    st, _, _ = post(base + "/nowhere", b"")
    expect(st == 404, "an unknown endpoint gets 404")

    recs = records(logs["plain"])
    expect(len(recs) == 4, "every request on /plain recorded")
    r = recs[0]
    expect(r["accepted"] and r["status"] == 200 and r["error"] is None,
           "the valid request recorded as accepted")
    got = [(ts["labels"], ts["samples"]) for ts in r["timeseries"]]
    want = [([list(l) for l in labels],
             [[t, "0x%016x" % b] for t, b in samples])
            for labels, samples in series]
    expect(got == want, "labels, timestamps (negative, 0, 2^62) and exact "
           "float bits (stale NaN, normal NaN, 0.0) decoded")
    expect(r["metadata"] == [[2, "m", "help text", "seconds"]],
           "metadata decoded")
    expect(r["headers"].get("content-encoding") == "snappy" and
           r["headers"].get("x-prometheus-remote-write-version") == "0.1.0",
           "request headers recorded")
    expect([x["status"] for x in recs[1:]] == [400, 400, 415] and
           not any(x["accepted"] for x in recs[1:]),
           "rejected requests recorded as not accepted")

    one = snappy.compress(encode(series[:1]))
    st, h, body = post(base + "/script", one)
    expect(st == 500 and b"rejected request #0 with 500" in body,
           "script step 1: 500 with the documented body")
    st, h, _ = post(base + "/script", one)
    expect(st == 429 and h.get("Retry-After") == "2",
           "script step 2: 429 with Retry-After: 2")
    st, h, _ = post(base + "/script", one)
    when = email.utils.parsedate_to_datetime(h.get("Retry-After", ""))
    left = when.timestamp() - time.time()
    expect(st == 429 and 28 <= left <= 31,
           "script step 3: 429 with Retry-After as an HTTP date 30 s ahead")
    t = time.time()
    st, _, _ = post(base + "/script", one)
    took = time.time() - t
    expect(st == 200 and 0.25 <= took <= 2,
           "script step 4: random sleep 0.3-0.6 s then 200 (took %.2f s)"
           % took)
    st, _, _ = post(base + "/script", one)
    expect(st == 200, "script exhausted: 200 from then on")

    st, _, _ = post(base + "/samples", snappy.compress(encode([], md)))
    expect(st == 200, "scope=samples: a metadata-only request gets 200")
    st, _, _ = post(base + "/samples", one)
    expect(st == 400, "scope=samples: a request with samples gets the "
           "scripted 400")

    t = time.time()
    try:
        post(base + "/hang", one, timeout=1)
        hung = False
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        hung = True
    expect(hung and time.time() - t < 3, "hang: no answer until the client "
           "gives up")
    st, _, _ = post(base + "/hang", one)
    expect(st == 200, "hang*1: the next request gets 200")
    end = time.time() + 5
    while time.time() < end and len(records(logs["hang"])) < 2:
        time.sleep(0.05)
    hr = records(logs["hang"])
    expect(len(hr) == 2 and hr[0]["outcome"] == "client_gone" and
           not hr[0]["accepted"] and hr[1]["accepted"],
           "the abandoned request is recorded as client_gone")


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def test_target(tmp, procs):
    pf = os.path.join(tmp, "target.port")
    page = os.path.join(tmp, "page.prom")
    with open(page, "w") as f:
        f.write("a 1\n")
    log = os.path.join(tmp, "targets.jsonl")
    procs.append(subprocess.Popen([
        PY, os.path.join(HERE, "fake_target.py"), "--port-file", pf,
        "--log", log, "counter", "stale,gzip=auto", "file:" + page + ",om=1",
        "series1000,n=3,port=@x,path=/a", "now,port=@x,path=/b",
        "gauge42,status=503", "histogram,delay=0.5",
        "summary,drip=0.5"]))
    wait_file(pf)
    ports = [l.split() for l in open(pf).read().splitlines()]
    expect(len(ports) == 8 and ports[3][0] == ports[4][0] and
           ports[3][1] == "/a" and ports[0][0] != ports[1][0],
           "port file: one line per target, shared port for @x")
    url = ["http://127.0.0.1:%s%s" % (p, path) for p, path in ports]

    get("http://127.0.0.1:%s/-/ready" % ports[0][0])
    vals = [get(url[0])[2].decode().splitlines()[-1] for _ in range(3)]
    expect(vals == ["counter 0", "counter 1", "counter 2"],
           "counter: 0, 1, 2 over three scrapes; /-/ready does not count")
    st, h, body = get(url[1], {"Accept-Encoding": "gzip"})
    expect(h.get("Content-Encoding") == "gzip" and
           b"stale 1" in gzip.decompress(body),
           "stale: gzip when asked, series present on the first scrape")
    st, h, body = get(url[1])
    expect(body == b"" and "Content-Encoding" not in h,
           "stale: empty afterwards; no gzip when not asked")
    st, h, body = get(url[2])
    expect(h["Content-Type"].startswith("application/openmetrics-text") and
           body == b"a 1\n# EOF\n", "file page with OpenMetrics framing")
    with open(page, "w") as f:
        f.write("b 2\n")
    expect(get(url[2])[2] == b"b 2\n# EOF\n", "file page re-read per scrape")
    expect(get(url[3])[2].count(b"test{") == 3, "series1000 with n=3")
    line = get(url[4])[2].decode().splitlines()[-1]
    expect(abs(int(line.split()[1]) - time.time() * 1000) < 5000,
           "now = current unix time in ms")
    try:
        get(url[5])
        st = 200
    except urllib.error.HTTPError as e:
        st = e.code
    expect(st == 503, "status=503 honoured")
    for i, what in ((6, "delay"), (7, "drip")):
        t = time.time()
        body = get(url[i])[2]
        took = time.time() - t
        expect(0.45 <= took < 3 and body.endswith(b"_count %d\n" % (i - 4)),
               "%s=0.5: whole page after %.2f s" % (what, took))
    time.sleep(0.1)
    n0 = sum(1 for l in open(log) if json.loads(l)["target"] == 0)
    expect(n0 == 3, "request log counts the counter target's 3 scrapes")


def ports(tmp, *args):
    env = dict(os.environ, PROMLET_PORTS_DIR=os.path.join(tmp, "ports"))
    return subprocess.run([PY, os.path.join(HERE, "ports.py")] + list(args),
                          env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_ports(tmp):
    pdir = os.path.join(tmp, "ports")
    lst = os.path.join(tmp, "ports.list")
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    got = [int(p) for p in ports(tmp, "take", "5", str(os.getpid()), lst)]
    expect(len(set(got)) == 5, "five distinct ports: %r" % got)
    expect(all(1024 <= p < low for p in got),
           "ports below the ephemeral range (%d): %r" % (low, got))
    for p in got:
        with open(os.path.join(pdir, str(p), "owner")) as f:
            expect(int(f.read()) == os.getpid(), "port %d owned by us" % p)
    # Every port of the range but one held by live owners, one by a dead
    # one: the next take must be that one (taken over), never a held one.
    dead = subprocess.Popen(["true"])
    dead.wait()
    free = got[0]
    for p in range(max(1024, low - 1 - 12000), low):
        d = os.path.join(pdir, str(p))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "owner"), "w") as f:
            f.write("%d\n" % (dead.pid if p == free else os.getpid()))
    lst2 = os.path.join(tmp, "ports2.list")
    again = ports(tmp, "take", "1", "1", lst2)
    expect(again == [str(free)], "stale port %d taken over: %r" %
           (free, again))
    with open(os.path.join(pdir, str(free), "owner")) as f:
        expect(f.read().strip() == "1", "new owner recorded")
    ports(tmp, "release", lst2)
    expect(not os.path.exists(os.path.join(pdir, str(free))),
           "released port's reservation removed")
    expect(os.path.exists(os.path.join(pdir, str(got[1]))),
           "release leaves other reservations")


def main():
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            test_receiver(tmp, procs)
            test_target(tmp, procs)
            test_ports(tmp)
    except Failure as e:
        print("FAIL " + str(e))
        return 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    print("helpers self-test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
