#!/usr/bin/python3
"""Checks shared by the fault tests (tests/faults/*.sh).

    faultcheck.py targets API_URL JOB=EXPECT...
        /api/v1/targets: EXPECT is "up", or "down:REGEX" (lastError must
        match REGEX, case-insensitive). Prints one line per job.
    faultcheck.py series RECV_LOG NAME JOB [--min N] [--max-gap S]
                  [--value V [--tolerate K]]
        The receiver log must hold samples of series NAME{job=JOB}: at
        least N, consecutive timestamps at most S seconds apart, every
        value (but K) equal to V when given; no timestamp twice.
    faultcheck.py counter RECV_LOG NAME JOB --served N [--missing M]
                  [--allow-failed]
        A counter that counts its own scrapes: the values received must
        be 0..N-1 with at most M missing (default 0), each at most once.
        With --allow-failed, scrapes promlet gave up on (up=0 received,
        e.g. a timeout on a busy machine) may be missing too; with
        --failed-before MS only those that started before MS (when the
        target was stopped: later ones cannot have been served).
    faultcheck.py metric METRICS_URL NAME [--min V] [--max V]
        Sum of every sample of NAME on a /metrics page within bounds.
    faultcheck.py gaps TARGET_LOG [--target I] [--max-gap S] [--min N]
        fake_target.py's request log: scrapes of target I (default 0) at
        most S seconds apart and at least N of them.
Exit status 0 when every check holds, 1 otherwise.
"""

import argparse
import json
import re
import struct
import sys
import urllib.request


STALE = "0x7ff0000000000002"


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def load_samples(path, name, job):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if not rec.get("accepted"):
                continue
            for ts in rec.get("timeseries") or []:
                labels = dict(ts["labels"])
                if labels.get("__name__") != name or \
                        labels.get("job") != job:
                    continue
                for t, bits in ts["samples"]:
                    # Stale markers (shutdown, vanished series) are not
                    # samples of the target.
                    if bits == STALE:
                        continue
                    v = struct.unpack(">d", bytes.fromhex(bits[2:]))[0]
                    out.append((t, v))
    return out


def cmd_targets(a):
    data = json.loads(fetch(a.url))["data"]["activeTargets"]
    by_job = {}
    for t in data:
        by_job[t["scrapePool"]] = t
    ok = True
    for spec in a.expect:
        job, want = spec.split("=", 1)
        t = by_job.get(job)
        if t is None:
            print("FAIL %s: no such target" % job)
            ok = False
            continue
        health, err = t["health"], t["lastError"]
        if want == "up":
            good = health == "up" and err == ""
        else:
            rx = want.split(":", 1)[1] if ":" in want else ""
            good = health == "down" and re.search(rx, err, re.I) is not None
        print("%s %s: health=%s lastError=%r" %
              ("ok  " if good else "FAIL", job, health, err[:160]))
        ok = ok and good
    return ok


def cmd_series(a):
    s = load_samples(a.log, a.name, a.job)
    ts = [t for t, _ in s]
    ok = True
    if len(s) < a.min:
        print("FAIL %s{job=%s}: %d samples, want >= %d" %
              (a.name, a.job, len(s), a.min))
        ok = False
    if len(set(ts)) != len(ts):
        print("FAIL %s{job=%s}: duplicate timestamps" % (a.name, a.job))
        ok = False
    st = sorted(ts)
    gaps = [(st[i + 1] - st[i]) / 1000.0 for i in range(len(st) - 1)]
    if gaps and a.max_gap and max(gaps) > a.max_gap:
        print("FAIL %s{job=%s}: gap of %.2fs, max %.2fs" %
              (a.name, a.job, max(gaps), a.max_gap))
        ok = False
    if a.value is not None:
        bad = [v for _, v in s if v != a.value]
        if bad and len(bad) <= a.tolerate:
            print("note %s{job=%s}: %d samples != %g (tolerated)" %
                  (a.name, a.job, len(bad), a.value))
        elif bad:
            print("FAIL %s{job=%s}: %d samples != %g (e.g. %g)" %
                  (a.name, a.job, len(bad), a.value, bad[0]))
            ok = False
    if ok:
        print("ok   %s{job=%s}: %d samples, largest gap %.2fs" %
              (a.name, a.job, len(s), max(gaps) if gaps else 0))
    return ok


def cmd_counter(a):
    s = load_samples(a.log, a.name, a.job)
    vals = [int(v) for _, v in s if v == v]
    dup = len(vals) - len(set(vals))
    missing = sorted(set(range(a.served)) - set(vals))
    extra = sorted(set(vals) - set(range(a.served)))
    failed = 0
    if a.allow_failed:
        failed = sum(1 for t, v in load_samples(a.log, "up", a.job)
                     if v == 0 and (a.failed_before is None or
                                    t < a.failed_before))
    ok = dup == 0 and len(missing) <= a.missing + failed and not extra
    print("%s %s{job=%s}: served %d, received %d, missing %d%s, "
          "failed scrapes %d, duplicates %d, unexpected %s" %
          ("ok  " if ok else "FAIL", a.name, a.job, a.served,
           len(set(vals)), len(missing),
           (" %s" % missing[:10]) if missing else "", failed, dup,
           extra[:5]))
    return ok


def cmd_metric(a):
    text = fetch(a.url)
    total = 0.0
    found = False
    rx = re.compile(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(a.name))
    for line in text.splitlines():
        m = rx.match(line)
        if m:
            found = True
            total += float(m.group(2))
    ok = found and (a.min is None or total >= a.min) and \
        (a.max is None or total <= a.max)
    print("%s %s = %g" % ("ok  " if ok else "FAIL", a.name,
                          total if found else float("nan")))
    return ok


def cmd_gaps(a):
    ts = []
    with open(a.log, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("target") == a.target:
                ts.append(rec["t"])
    ts.sort()
    gaps = [ts[i + 1] - ts[i] for i in range(len(ts) - 1)]
    big = max(gaps) if gaps else 0
    ok = len(ts) >= a.min and big <= a.max_gap
    print("%s target %d: %d scrapes, largest gap %.2fs (max %.2fs)" %
          ("ok  " if ok else "FAIL", a.target, len(ts), big, a.max_gap))
    return ok


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("targets")
    p.add_argument("url")
    p.add_argument("expect", nargs="+")
    p = sub.add_parser("series")
    p.add_argument("log")
    p.add_argument("name")
    p.add_argument("job")
    p.add_argument("--min", type=int, default=1)
    p.add_argument("--max-gap", type=float, default=0)
    p.add_argument("--value", type=float)
    p.add_argument("--tolerate", type=int, default=0)
    p = sub.add_parser("counter")
    p.add_argument("log")
    p.add_argument("name")
    p.add_argument("job")
    p.add_argument("--served", type=int, required=True)
    p.add_argument("--missing", type=int, default=0)
    p.add_argument("--allow-failed", action="store_true")
    p.add_argument("--failed-before", type=int)
    p = sub.add_parser("metric")
    p.add_argument("url")
    p.add_argument("name")
    p.add_argument("--min", type=float)
    p.add_argument("--max", type=float)
    p = sub.add_parser("gaps")
    p.add_argument("log")
    p.add_argument("--target", type=int, default=0)
    p.add_argument("--max-gap", type=float, default=2.0)
    p.add_argument("--min", type=int, default=1)
    a = ap.parse_args()
    ok = {"targets": cmd_targets, "series": cmd_series,
          "counter": cmd_counter, "metric": cmd_metric,
          "gaps": cmd_gaps}[a.cmd](a)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
