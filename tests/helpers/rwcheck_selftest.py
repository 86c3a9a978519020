#!/usr/bin/python3
"""Prove that rwcheck.py's checks can fail.

For every case, build what a correct sender would make fake_receiver.py
record, require rwcheck.py to pass it, then break it the ways a faulty
sender would (a gap in the counter, unsorted labels, a resend after 400,
a normal NaN instead of the stale marker, ...) and require rwcheck.py to
fail each one. Prints one line per run; exits 1 if any expectation is
wrong.
"""

import contextlib
import copy
import io
import json
import os
import struct
import sys
import tempfile

# No __pycache__ in the source tree (it may be read-only, as in distcheck).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rwcheck  # noqa: E402

T0 = 1700000000000
INST = "127.0.0.1:4242"
STALE = "0x7ff0000000000002"
NORMAL_NAN = "0x7ff8000000000001"
HEADERS = {"content-encoding": "snappy",
           "content-type": "application/x-protobuf",
           "x-prometheus-remote-write-version": "0.1.0",
           "user-agent": "selftest/1"}


def bits(v):
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]


def series(name, value, t, **labels):
    labels.setdefault("job", "test")
    labels.setdefault("instance", INST)
    ls = [["__name__", name]] + sorted([k, v] for k, v in labels.items())
    b = value if isinstance(value, str) else bits(value)
    return {"labels": ls, "samples": [[t, b]]}


def report(t, up=1.0):
    return [series("up", up, t),
            series("scrape_duration_seconds", 0.002, t),
            series("scrape_samples_scraped", 1.0, t),
            series("scrape_samples_post_metric_relabeling", 1.0, t),
            series("scrape_series_added", 0.0, t)]


def request(n, ts, status=200):
    return {"n": n, "t_recv": 1000.0 + n, "t_done": 1000.0 + n + 0.01,
            "method": "POST", "path": "/push", "headers": dict(HEADERS),
            "body_len": 100, "error": None, "timeseries": ts,
            "metadata": [], "status": status, "outcome": "answered",
            "accepted": 200 <= status < 300, "action": "ok",
            "retry_after": None}


def scrapes(page, k=5, up=1.0):
    """One accepted request per scrape: page(i, t) samples + report."""
    return [request(i, page(i, T0 + 1000 * i) + report(T0 + 1000 * i, up))
            for i in range(k)]


def find(recs, name):
    for r in recs:
        for ts in r["timeseries"]:
            if ts["labels"][0][1] == name:
                yield r, ts


def setv(recs, name, idx, value):
    """Set the value of the idx-th sample of series `name`."""
    for j, (_, ts) in enumerate(find(recs, name)):
        if j == idx:
            ts["samples"][0][1] = value if isinstance(value, str) \
                else bits(value)
    return recs


def drop_series(recs, name, only=None):
    for i, r in enumerate(recs):
        if only is None or i in only:
            r["timeseries"] = [ts for ts in r["timeseries"]
                               if ts["labels"][0][1] != name]
    return recs


def relabel(recs, name, fn):
    for _, ts in find(recs, name):
        ts["labels"] = fn(ts["labels"])
    return recs


def renumber(recs):
    recs = copy.deepcopy(recs)
    for i, r in enumerate(recs):
        r["n"] = i
        r["t_recv"] = 1000.0 + i
        r["t_done"] = 1000.0 + i + 0.01
    return recs


def counter_page(i, t):
    return [series("counter", float(i), t)]


def now_page(i, t):
    return [series("now", float(t + 3), t)]


def hist_page(i, t):
    return [series("histogram_bucket", 1.0, t, le="1"),
            series("histogram_bucket", 2.0, t, le="2"),
            series("histogram_bucket", 2.0, t, le="+Inf"),
            series("histogram_sum", 3.0, t),
            series("histogram_count", 2.0, t)]


def summary_page(i, t):
    return [series("summary", 2.0, t, quantile="0.5"),
            series("summary", 3.0, t, quantile="0.9"),
            series("summary", 3.0, t, quantile="0.99"),
            series("summary_sum", 6.0, t),
            series("summary_count", 3.0, t)]


def g42(i, t):
    return [series("gauge", 42.0, t)]


def retried(status, resend):
    recs = scrapes(now_page, 4)
    failed = copy.deepcopy(recs[0])
    failed["status"] = status
    failed["accepted"] = False
    recs = [failed] + (recs if resend else recs[1:])
    return renumber(recs)


def with_stale(recs, name):
    last = recs[-1]
    t = T0 + 1000 * len(recs)
    recs.append(request(len(recs), [series(name, STALE, t)] + report(t)))
    del last
    return recs


def case_list():
    C = []

    def add(case, good, bad, extra=()):
        C.append((case, good, bad, list(extra)))

    # counter
    g = scrapes(counter_page)
    add("counter", g, [
        ("a gap in the values", setv(copy.deepcopy(g), "counter", 2, 3.0)),
        ("a request delivered twice",
         renumber(g[:3] + copy.deepcopy(g[2:3]) + g[3:])),
        ("requests reordered", renumber([g[0], g[2], g[1], g[3], g[4]])),
        ("a stale marker in the middle",
         setv(copy.deepcopy(g), "counter", 2, STALE)),
    ], ["--scrapes", "5"])
    C.append(("counter", None, [
        ("two scrapes lost at shutdown", copy.deepcopy(g[:3]))],
        ["--scrapes", "5"]))
    add("counter", with_stale(copy.deepcopy(g), "counter"), [],
        ["--scrapes", "6"])
    # gauge
    g = scrapes(now_page)
    add("gauge", g, [
        ("timestamps in seconds", relabel_ts(copy.deepcopy(g), "now",
                                             lambda t: t // 1000)),
        ("value 20 s away from the timestamp",
         setv(copy.deepcopy(g), "now", 1, float(T0 + 1000 + 20000))),
        ("no `now` at all", drop_series(copy.deepcopy(g), "now")),
    ])
    # histogram, summary
    g = scrapes(hist_page)
    add("histogram", g, [
        ('le="1" bucket wrong',
         setv(copy.deepcopy(g), "histogram_bucket", 0, 2.0)),
        ("_sum missing from one scrape",
         drop_series(copy.deepcopy(g), "histogram_sum", only={2})),
        ('le normalised to "1.0"', relabel(
            copy.deepcopy(g), "histogram_bucket",
            lambda ls: [[n, "1.0" if (n, v) == ("le", "1") else v]
                        for n, v in ls])),
    ])
    g = scrapes(summary_page)
    add("summary", g, [
        ("quantile 0.9 wrong", setv(copy.deepcopy(g), "summary", 1, 2.0)),
        ("_count missing", drop_series(copy.deepcopy(g), "summary_count")),
    ])
    # up, invalid
    g = scrapes(g42)
    add("up", g, [
        ("up always 0", scrapes(g42, up=0.0)),
        ("no job label", relabel(copy.deepcopy(g), "up", lambda ls: [
            x for x in ls if x[0] != "job"])),
    ])
    g = scrapes(lambda i, t: [], up=0.0)
    add("invalid", g, [
        ("up = 1", scrapes(lambda i, t: [], up=1.0)),
        ("a sample from the unparsable page",
         scrapes(lambda i, t: [series("notvali", 444.0, t)], up=0.0)),
    ])
    # labels
    g = scrapes(g42)
    add("job_label", g, [
        ("job renamed", relabel(copy.deepcopy(g), "gauge", lambda ls: [
            ["job", "other"] if n == "job" else [n, v] for n, v in ls])),
    ])
    add("instance_label", g, [
        ("a report series without instance",
         relabel(copy.deepcopy(g), "scrape_duration_seconds",
                 lambda ls: [x for x in ls if x[0] != "instance"])),
        ("instance is localhost", relabel(copy.deepcopy(g), "gauge",
            lambda ls: [["instance", "localhost:4242"] if n == "instance"
                        else [n, v] for n, v in ls])),
    ], ["--target", INST])
    g = scrapes(lambda i, t: [series("test", 1.0, t, a="1", b="2")])
    add("sorted_labels", g, [
        ("labels not sorted", relabel(copy.deepcopy(g), "test",
            lambda ls: [ls[0], ls[2], ls[1]] + ls[3:])),
    ])
    g = scrapes(lambda i, t: [], up=0.0)
    add("repeated_labels", g, [
        ("the series kept once",
         scrapes(lambda i, t: [series("test", 1.0, t, a="1")], up=1.0)),
        ("the label sent twice", scrapes(lambda i, t: [{
            "labels": [["__name__", "test"], ["a", "1"], ["a", "1"],
                       ["instance", INST], ["job", "test"]],
            "samples": [[t, bits(1.0)]]}], up=1.0)),
    ])
    g = scrapes(lambda i, t: [series("test", 1.0, t)])
    add("empty_labels", g, [
        ("the empty label kept",
         scrapes(lambda i, t: [series("test", 1.0, t, a="")])),
        ("the sample dropped", scrapes(lambda i, t: [])),
    ])
    g = scrapes(lambda i, t: [], up=0.0)
    add("name_label", g, [
        ("sent without a name", scrapes(lambda i, t: [{
            "labels": [["instance", INST], ["job", "test"],
                       ["label", "value"]],
            "samples": [[t, bits(1.0)]]}])),
    ])
    g = scrapes(lambda i, t: [series("test", 1.0, t, exported_job="original",
                                     exported_instance="foo")])
    add("honor_labels", g, [
        ("scraped labels honoured", scrapes(lambda i, t: [
            series("test", 1.0, t, job="original", instance="foo")])),
    ], ["--target", INST])
    # staleness
    g = scrapes(lambda i, t: [series("stale", 1.0 if i == 0 else STALE, t)]
                if i < 2 else [], 4)
    add("staleness", g, [
        ("a normal NaN as the marker", scrapes(
            lambda i, t: [series("stale", 1.0 if i == 0 else NORMAL_NAN, t)]
            if i < 2 else [], 4)),
        ("no marker", scrapes(lambda i, t: [series("stale", 1.0, t)]
                              if i == 0 else [], 4)),
    ])
    # timestamp
    g = scrapes(g42)
    span = ["--start", str(T0 - 1), "--end", str(T0 + 10000)]
    add("timestamp", g, [
        ("a timestamp after the run",
         relabel_ts(copy.deepcopy(g), "gauge", lambda t: t + 60000)),
        ("a later request with older samples",
         relabel_ts(copy.deepcopy(g), "up",
                    lambda t: t - 3000 if t == T0 + 4000 else t)),
    ], span)
    # headers
    g = scrapes(now_page)
    bad_ct = copy.deepcopy(g)
    bad_ct[1]["headers"]["content-type"] = \
        "application/x-protobuf;proto=prometheus.WriteRequest"
    no_ver = copy.deepcopy(g)
    del no_ver[2]["headers"]["x-prometheus-remote-write-version"]
    framed = copy.deepcopy(g)
    framed[0]["headers"]["content-encoding"] = "x-snappy-framed"
    no_ua = copy.deepcopy(g)
    del no_ua[3]["headers"]["user-agent"]
    add("headers", g, [
        ("Content-Type with ;proto=", bad_ct),
        ("no version header", no_ver),
        ("framed snappy", framed),
        ("no User-Agent", no_ua),
    ])
    # ordering
    def many(i, t):
        return [series("test", 1.0, t, i=str(j)) for j in range(3)]
    g = scrapes(many)
    dup = copy.deepcopy(g)
    dup[3]["timeseries"].append(copy.deepcopy(dup[2]["timeseries"][1]))
    add("ordering", g, [
        ("a sample sent twice", dup),
        ("one series reordered", relabel_ts(
            copy.deepcopy(g), "test", lambda t: t - 2500
            if t == T0 + 3000 else t, only_label=("i", "1"))),
        ("a series missing", scrapes(lambda i, t: many(i, t)[:2])),
    ], ["--series", "3"])
    # retries
    add("retries500", retried(500, True), [
        ("not resent", retried(500, False)),
        ("answered 503, not 500", retried(503, True)),
    ])
    add("retries400", retried(400, False), [
        ("resent", retried(400, True)),
    ])
    # nan
    g = scrapes(lambda i, t: [series("nan_gauge", NORMAL_NAN, t)])
    add("nan", g, [
        ("scraped NaN sent as the stale marker",
         scrapes(lambda i, t: [series("nan_gauge", STALE, t)])),
    ])
    # resent/dropped with delays and logs
    g = retried(429, True)
    g[1]["t_recv"] = g[0]["t_done"] + 2.1
    early = retried(429, True)
    add("resent", g, [("resent before Retry-After", early)],
        ["--status", "429", "--min-delay", "1.8", "--max-delay", "6"])
    gone = retried(200, True)
    gone[0]["outcome"] = "client_gone"
    add("resent", gone, [("abandoned and never resent", drop_first(
        copy.deepcopy(gone)))], ["--status", "gone"])
    return C


def drop_first(recs):
    return renumber([recs[0]] + recs[2:])


def relabel_ts(recs, name, fn, only_label=None):
    for _, ts in find(recs, name):
        if only_label and only_label not in [tuple(x) for x in ts["labels"]]:
            continue
        for s in ts["samples"]:
            s[0] = fn(s[0])
    return recs


def run(case, recs, extra, tmp, log=None):
    path = os.path.join(tmp, "recs.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    args = ["rwcheck.py", case, path] + extra
    if log is not None:
        lp = os.path.join(tmp, "sender.log")
        with open(lp, "w", encoding="utf-8") as f:
            f.write(log)
        args += ["--sender-log", lp]
    out = io.StringIO()
    saved = sys.argv
    sys.argv = args
    try:
        with contextlib.redirect_stdout(out):
            rc = rwcheck.main()
    finally:
        sys.argv = saved
    return rc, out.getvalue()


def main():
    wrong = 0
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case, good, bad, extra in case_list():
            if good is not None:
                rc, out = run(case, good, extra, tmp)
                runs += 1
                if rc != 0:
                    wrong += 1
                    print("WRONG %s: a correct recording fails:\n%s"
                          % (case, out))
                else:
                    print("ok    %s: a correct recording passes" % case)
            for what, recs in bad:
                rc, out = run(case, recs, extra, tmp)
                runs += 1
                if rc == 0:
                    wrong += 1
                    print("WRONG %s: passes although %s:\n%s"
                          % (case, what, out))
                else:
                    why = [l for l in out.splitlines()
                           if l.startswith("FAIL")]
                    print("ok    %s: fails when %s (%s)"
                          % (case, what, why[0][5:60] if why else "?"))
        # The 400 case must find the receiver's message in the log.
        g = retried(400, False)
        msg = "fake_receiver rejected request #0 with 400"
        for log, want in (("error: " + msg + "\n", 0), ("error\n", 1)):
            rc, out = run("dropped", g, ["--status", "400", "--grep", msg],
                          tmp, log)
            runs += 1
            if (rc != 0) != bool(want):
                wrong += 1
                print("WRONG dropped with log %r:\n%s" % (log, out))
            else:
                print("ok    dropped: %s when the log %s the message" %
                      ("fails" if want else "passes",
                       "lacks" if want else "quotes"))
    print("rwcheck self-test: %d runs, %d wrong" % (runs, wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
