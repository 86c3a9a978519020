#!/usr/bin/python3
"""Assertions over what fake_receiver.py recorded.

    rwcheck.py CASE RECORDS.jsonl [options]

Exit status 0 when every check holds, 1 otherwise; one line per check.
The CASE names follow the Prometheus remote-write 1.0 sender compliance
suite (counter, gauge, histogram, summary, up, invalid, job_label,
instance_label, sorted_labels, repeated_labels, empty_labels, name_label,
honor_labels, staleness, timestamp, headers, ordering, retries500,
retries400) plus nan, resent and dropped for the error tests. Each case
checks what the suite checks and, where the spec makes it unambiguous, a
little more (marked "strict" in the output).

Unless --no-invariants is given, every case also checks what the RW 1.0
spec requires of every request: it decodes; every sample's labels are
sorted with no repeated or empty names or values and carry a valid
__name__; the samples of each series arrive in strictly increasing
timestamp order.

"Received" means carried by a request the receiver answered with 2xx while
the sender was still waiting; requests are taken in arrival order.
"""

import argparse
import json
import math
import re
import struct
import sys

STALE_BITS = 0x7FF0000000000002
METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
INSTANCE_RE = re.compile(r"^127\.0\.0\.1:\d+$")
REPORT_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                 "scrape_samples_post_metric_relabeling",
                 "scrape_series_added"}


class Sample:
    __slots__ = ("labels", "t", "bits", "v", "req")

    def __init__(self, labels, t, bits, req):
        self.labels = labels
        self.t = t
        self.bits = bits
        self.v = struct.unpack("<d", struct.pack("<Q", bits))[0]
        self.req = req

    @property
    def stale(self):
        return self.bits == STALE_BITS

    @property
    def lmap(self):
        return dict(self.labels)

    @property
    def name(self):
        return self.lmap.get("__name__")

    def key(self):
        return (self.labels, self.t)

    def fmt(self):
        inner = ",".join('%s="%s"' % nv for nv in self.labels
                         if nv[0] != "__name__")
        return "%s{%s} %s @%d" % (self.name or "", inner,
                                 "StaleNaN" if self.stale else repr(self.v),
                                 self.t)


class Records:
    def __init__(self, path):
        self.all = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    self.all.append(json.loads(line))
        self.all.sort(key=lambda r: r["n"])
        self.accepted = [r for r in self.all if r.get("accepted")]
        self._received = None

    @staticmethod
    def samples_of(rec):
        out = []
        for ts in rec["timeseries"]:
            labels = tuple(tuple(nv) for nv in ts["labels"])
            for t, bits in ts["samples"]:
                out.append(Sample(labels, t, int(bits, 16), rec["n"]))
        return out

    def received(self):
        if self._received is None:
            self._received = []
            for r in self.accepted:
                self._received.extend(self.samples_of(r))
        return self._received

    def series(self, name=None, **labels):
        """The first received series matching has(), its samples in
        timestamp order; None when none matches."""
        got = [s for s in self.received() if has(s, name, **labels)]
        if not got:
            return None
        return sorted((s for s in got if s.labels == got[0].labels),
                      key=lambda s: s.t)


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, detail=""):
        tag = "ok  " if ok else "FAIL"
        print("%s %s%s" % (tag, what, (": " + detail) if detail else ""))
        if not ok:
            self.failed += 1
        return ok


def has(s, name=None, **labels):
    m = s.lmap
    if name is not None and m.get("__name__") != name:
        return False
    return all(m.get(k) == v for k, v in labels.items())


def value_is(s, v):
    return not s.stale and s.v == v


def series_key(s):
    return s.labels


def present(c, samples, what, pred):
    hits = [s for s in samples if pred(s)]
    c.check(len(hits) > 0, "%s present" % what, "%d samples" % len(hits))
    return hits


def invariants(c, recs):
    bad = [r for r in recs.all if r.get("error")]
    c.check(not bad, "invariant: every request decodes",
            "; ".join("request #%d: %s" % (r["n"], r["error"])
                      for r in bad[:3]))
    problems = []
    for s in recs.received():
        names = [n for n, _ in s.labels]
        if names != sorted(names) or len(set(names)) != len(names):
            problems.append("labels not sorted/unique: %s" % s.fmt())
        elif any(n == "" or v == "" for n, v in s.labels):
            problems.append("empty label name or value: %s" % s.fmt())
        elif s.name is None or not METRIC_RE.match(s.name):
            problems.append("missing or invalid __name__: %s" % s.fmt())
        elif not all(LABEL_RE.match(n) for n in names if n != "__name__"):
            problems.append("invalid label name: %s" % s.fmt())
        if len(problems) >= 3:
            break
    c.check(not problems, "invariant: label sets valid (sorted, unique, "
            "non-empty, named)", "; ".join(problems))
    check_ordering(c, recs)


def check_ordering(c, recs):
    probs = ordering_problems(recs)
    c.check(not probs, "invariant: per-series timestamps strictly increasing",
            "; ".join(probs[:3]))


def ordering_problems(recs):
    last = {}
    problems = []
    for s in recs.received():
        k = series_key(s)
        if k in last and s.t <= last[k][0]:
            problems.append("%s after @%d (request #%d)" %
                            (s.fmt(), last[k][0], last[k][1]))
        last[k] = (s.t, s.req)
    return problems


def case_counter(c, recs, args):
    samples = [s for s in recs.received() if s.name == "counter"]
    by_series = {}
    for s in samples:
        by_series.setdefault(s.labels, []).append(s)
    c.check(len(samples) > 0, "counter samples received",
            "%d in %d series" % (len(samples), len(by_series)))
    dropped = set()
    if args.dropped_status is not None:
        r = first_failed(c, recs, parse_status(args.dropped_status))
        if r is not None:
            dropped = {s.v for s in Records.samples_of(r)
                       if s.name == "counter" and not s.stale}
            print("info request #%d (dropped) carried counter values %s"
                  % (r["n"], sorted(dropped)))
    for labels, ss in by_series.items():
        vals = [s.v for s in ss if not s.stale]
        want = [float(i) for i in range(len(vals) + len(dropped))
                if float(i) not in dropped]
        first_bad = next((i for i, (a, b) in enumerate(zip(vals, want))
                          if a != b), None)
        c.check(vals == want, "counter values are 0, 1, 2, ... in order",
                "%d values%s" % (len(vals), "" if first_bad is None else
                                 ", value #%d is %r" % (first_bad,
                                                       vals[first_bad])))
        stale_at = [i for i, s in enumerate(ss) if s.stale]
        c.check(all(i == len(ss) - 1 for i in stale_at),
                "strict: a stale marker can only end the counter",
                "stale at positions %s of %d" % (stale_at, len(ss)))
        if args.scrapes is not None:
            c.check(len(vals) + len(dropped) >= args.scrapes - 1,
                    "strict: every scrape delivered (the last may be cut "
                    "by the shutdown)", "target served %d scrapes, %d "
                    "values received" % (args.scrapes, len(vals)))


def check_now(c, samples, args):
    now = [s for s in samples if s.name == "now" and not s.stale]
    c.check(len(now) > 0, "gauge `now` received", "%d samples" % len(now))
    loose = [s for s in now if s.t == 0 or abs(s.v - s.t) > 0.01 * abs(s.t)]
    c.check(not loose, "`now` value within 1% of its timestamp",
            "; ".join(s.fmt() for s in loose[:3]))
    tight = [s for s in now if abs(s.v - s.t) > args.now_tolerance_ms]
    c.check(not tight, "strict: `now` value within %d ms of its timestamp"
            % args.now_tolerance_ms,
            "; ".join("%s (off by %d ms)" % (s.fmt(), s.v - s.t)
                      for s in tight[:3]))


def case_gauge(c, recs, args):
    check_now(c, recs.received(), args)


def check_family(c, samples, expected):
    counts = {}
    for desc, (name, labels, want) in expected.items():
        ss = [s for s in samples if not s.stale and has(s, name, **labels)]
        wrong = [s for s in ss if s.v != want]
        c.check(ss and not wrong, "%s = %g" % (desc, want),
                "%d samples%s" % (len(ss), "; wrong: " +
                                  wrong[0].fmt() if wrong else ""))
        counts[desc] = len(ss)
    c.check(len(set(counts.values())) == 1 and min(counts.values()) > 0,
            "every series received the same number of times",
            ", ".join("%s: %d" % kv for kv in counts.items()))


def case_histogram(c, recs, args):
    check_family(c, recs.received(), {
        'histogram_bucket{le="1"}': ("histogram_bucket", {"le": "1"}, 1),
        'histogram_bucket{le="2"}': ("histogram_bucket", {"le": "2"}, 2),
        'histogram_bucket{le="+Inf"}': ("histogram_bucket", {"le": "+Inf"},
                                        2),
        "histogram_sum": ("histogram_sum", {}, 3),
        "histogram_count": ("histogram_count", {}, 2),
    })


def case_summary(c, recs, args):
    check_family(c, recs.received(), {
        'summary{quantile="0.5"}': ("summary", {"quantile": "0.5"}, 2),
        'summary{quantile="0.9"}': ("summary", {"quantile": "0.9"}, 3),
        'summary{quantile="0.99"}': ("summary", {"quantile": "0.99"}, 3),
        "summary_sum": ("summary_sum", {}, 6),
        "summary_count": ("summary_count", {}, 3),
    })


def case_up(c, recs, args):
    present(c, recs.received(), 'up{job="test"} = 1',
            lambda s: has(s, "up", job="test") and value_is(s, 1))


def case_invalid(c, recs, args):
    samples = recs.received()
    present(c, samples, 'up{job="test"} = 0',
            lambda s: has(s, "up", job="test") and value_is(s, 0))
    ones = [s for s in samples if has(s, "up") and value_is(s, 1)]
    c.check(not ones, "strict: never up = 1 for an unparsable page",
            "; ".join(s.fmt() for s in ones[:3]))
    other = [s for s in samples if s.name not in REPORT_SERIES]
    c.check(not other, "strict: no samples from an unparsable page",
            "; ".join(s.fmt() for s in other[:3]))


def case_job_label(c, recs, args):
    present(c, recs.received(), 'gauge{job="test"} = 42',
            lambda s: has(s, "gauge", job="test") and value_is(s, 42))


def case_instance_label(c, recs, args):
    samples = recs.received()
    present(c, samples, "gauge = 42",
            lambda s: has(s, "gauge") and value_is(s, 42))
    bad = [s for s in samples
           if not INSTANCE_RE.match(s.lmap.get("instance", ""))]
    c.check(not bad, "every sample has instance=127.0.0.1:PORT",
            "; ".join(s.fmt() for s in bad[:3]))
    if args.target:
        bad = [s for s in samples if s.lmap.get("instance") != args.target]
        c.check(not bad, "strict: instance is the target address %s"
                % args.target, "; ".join(s.fmt() for s in bad[:3]))


def case_sorted_labels(c, recs, args):
    samples = recs.received()
    bad = [s for s in samples
           if [n for n, _ in s.labels] != sorted(n for n, _ in s.labels)]
    c.check(not bad, "every label set sorted by name",
            "; ".join(s.fmt() for s in bad[:3]))
    present(c, samples, 'test{a="1",b="2"} = 1',
            lambda s: has(s, "test", a="1", b="2") and value_is(s, 1))


def case_repeated_labels(c, recs, args):
    samples = recs.received()
    bad = [s for s in samples
           if len({n for n, _ in s.labels}) != len(s.labels)]
    c.check(not bad, "no label name repeated",
            "; ".join(s.fmt() for s in bad[:3]))
    got = [s for s in samples if has(s, "test", a="1") and value_is(s, 1)]
    c.check(not got, 'no test{a="1"} = 1 (the series is rejected)',
            "; ".join(s.fmt() for s in got[:3]))


def case_empty_labels(c, recs, args):
    samples = recs.received()
    bad = [s for s in samples if any(v == "" for _, v in s.labels)]
    c.check(not bad, "no empty label value",
            "; ".join(s.fmt() for s in bad[:3]))
    hits = present(c, samples, "test = 1",
                   lambda s: has(s, "test") and value_is(s, 1))
    with_a = [s for s in hits if "a" in s.lmap]
    c.check(not with_a, "strict: the empty label is dropped, not kept",
            "; ".join(s.fmt() for s in with_a[:3]))


def case_name_label(c, recs, args):
    samples = recs.received()
    bad = [s for s in samples if not s.lmap.get("__name__")]
    c.check(not bad, "every sample has __name__",
            "; ".join(s.fmt() for s in bad[:3]))
    got = [s for s in samples if has(s, label="value") and value_is(s, 1)]
    c.check(not got, 'no {label="value"} = 1',
            "; ".join(s.fmt() for s in got[:3]))


def case_honor_labels(c, recs, args):
    hits = present(c, recs.received(),
                   'test{exported_job="original",exported_instance="foo"} = 1',
                   lambda s: has(s, "test", exported_job="original",
                                 exported_instance="foo") and value_is(s, 1))
    bad = [s for s in hits if s.lmap.get("job") != "test" or
           (args.target and s.lmap.get("instance") != args.target)]
    c.check(not bad, "strict: job and instance are the target's",
            "; ".join(s.fmt() for s in bad[:3]))


def case_staleness(c, recs, args):
    ss = [s for s in recs.received() if s.name == "stale"]
    stale = [s for s in ss if s.stale]
    c.check(len(stale) > 0, "`stale` gets a stale marker (NaN bits "
            "0x7ff0000000000002)", "%d samples, %d markers" %
            (len(ss), len(stale)))
    c.check(ss and not ss[0].stale and ss[0].v == 1,
            "strict: `stale` = 1 arrives first",
            ss[0].fmt() if ss else "no samples")


def case_timestamp(c, recs, args):
    samples = recs.received()
    if args.start is None or args.end is None:
        c.check(False, "timestamp case needs --start and --end")
        return
    out = [s for s in samples if not args.start < s.t < args.end]
    c.check(not out, "every timestamp within the run (%d..%d)"
            % (args.start, args.end), "; ".join(s.fmt() for s in out[:3]))
    back = []
    prev = None
    for s in samples:
        if prev is not None and s.t < prev.t:
            back.append("%s after %s" % (s.fmt(), prev.fmt()))
        prev = s
    c.check(not back, "timestamps non-decreasing in arrival order",
            "; ".join(back[:3]))
    present(c, samples, "gauge = 42",
            lambda s: has(s, "gauge") and value_is(s, 42))


def case_headers(c, recs, args):
    want = {"content-encoding": "snappy",
            "content-type": "application/x-protobuf",
            "x-prometheus-remote-write-version": "0.1.0"}
    c.check(len(recs.all) > 0, "requests received", "%d" % len(recs.all))
    for h, v in want.items():
        bad = [r for r in recs.all if r["headers"].get(h) != v]
        c.check(not bad, "every request has %s: %s" % (h, v),
                "; ".join("request #%d has %r" % (r["n"],
                                                  r["headers"].get(h))
                          for r in bad[:3]))
    bad = [r for r in recs.all if not r["headers"].get("user-agent")]
    c.check(not bad, "strict: every request has a User-Agent",
            "%d without" % len(bad))
    check_now(c, recs.received(), args)


def case_ordering(c, recs, args):
    samples = recs.received()
    probs = ordering_problems(recs)
    c.check(not probs, "per-series timestamps strictly increasing",
            "; ".join(probs[:3]))
    present(c, samples, "test = 1",
            lambda s: has(s, "test") and value_is(s, 1))
    seen = {s.lmap.get("i") for s in samples if has(s, "test")}
    c.check(len(seen) == args.series, "strict: all %d series received"
            % args.series, "%d distinct" % len(seen))


def first_failed(c, recs, status):
    """The first request carrying samples that got `status` (or that the
    client abandoned, for status "gone")."""
    for r in recs.all:
        if not any(ts["samples"] for ts in r["timeseries"]):
            continue
        if status == "gone":
            if r["outcome"] == "client_gone":
                return r
        elif r["status"] == status:
            return r
    c.check(False, "a request with samples was answered %s" % status)
    return None


def case_retries(c, recs, args, status, resend):
    r = first_failed(c, recs, status)
    if r is None:
        return
    failed = Records.samples_of(r)
    later = [s for s in recs.received() if s.req > r["n"]]
    keys = {s.key() for s in later}
    now = [s for s in failed if s.name == "now"]
    if args.case.startswith("retries"):
        c.check(len(now) > 0, "request #%d answered %s carries `now`"
                % (r["n"], status), "%d samples" % len(failed))
        subject, what = now, "its `now` sample"
    else:
        subject, what = failed, "its %d samples" % len(failed)
    got = [s for s in subject if s.key() in keys]
    if resend:
        c.check(subject and len(got) == len(subject),
                "%s later received (resent)" % what,
                "%d of %d" % (len(got), len(subject)))
        if subject is not failed:
            all_got = [s for s in failed if s.key() in keys]
            c.check(len(all_got) == len(failed),
                    "strict: all %d samples of the failed request resent"
                    % len(failed), "%d resent" % len(all_got))
        fkeys = {f.key() for f in failed}
        first = next((x for x in recs.accepted if x["n"] > r["n"] and
                      any(s.key() in fkeys
                          for s in Records.samples_of(x))), None)
        if first is not None and status != "gone":
            delay = first["t_recv"] - r["t_done"]
            print("info resent after %.3f s (request #%d)"
                  % (delay, first["n"]))
            if args.min_delay is not None:
                c.check(delay >= args.min_delay, "resend waited at least "
                        "%.1f s" % args.min_delay, "%.3f s" % delay)
            if args.max_delay is not None:
                c.check(delay <= args.max_delay, "resend within %.1f s"
                        % args.max_delay, "%.3f s" % delay)
    else:
        c.check(len(got) == 0, "%s never received (dropped, not resent)"
                % what, "%d of %d received" % (len(got), len(subject)))
        if args.grep:
            try:
                with open(args.sender_log, encoding="utf-8",
                          errors="replace") as f:
                    text = f.read()
            except (OSError, TypeError) as e:
                text = ""
                print("info cannot read sender log: %s" % e)
            c.check(args.grep in text, "sender log quotes the receiver's "
                    "message %r" % args.grep)


def case_retries500(c, recs, args):
    case_retries(c, recs, args, 500, True)


def case_retries400(c, recs, args):
    case_retries(c, recs, args, 400, False)


def parse_status(v):
    return v if v == "gone" else int(v)


def case_resent(c, recs, args):
    case_retries(c, recs, args, parse_status(args.status), True)


def case_dropped(c, recs, args):
    case_retries(c, recs, args, parse_status(args.status), False)


def case_nan(c, recs, args):
    ss = [s for s in recs.received() if s.name == "nan_gauge"]
    nans = [s for s in ss if not s.stale and math.isnan(s.v)]
    c.check(len(nans) > 0, "nan_gauge received as a NaN that is not the "
            "stale marker", "%d samples, bits %s" %
            (len(ss), sorted({"0x%016x" % s.bits for s in ss})))
    stale = [i for i, s in enumerate(ss) if s.stale]
    c.check(all(i == len(ss) - 1 for i in stale),
            "scraped NaN never sent as the stale marker",
            "stale at %s of %d" % (stale, len(ss)))


CASES = {
    "counter": case_counter, "gauge": case_gauge,
    "histogram": case_histogram, "summary": case_summary, "up": case_up,
    "invalid": case_invalid, "job_label": case_job_label,
    "instance_label": case_instance_label,
    "sorted_labels": case_sorted_labels,
    "repeated_labels": case_repeated_labels,
    "empty_labels": case_empty_labels, "name_label": case_name_label,
    "honor_labels": case_honor_labels, "staleness": case_staleness,
    "timestamp": case_timestamp, "headers": case_headers,
    "ordering": case_ordering, "retries500": case_retries500,
    "retries400": case_retries400, "nan": case_nan,
    "resent": case_resent, "dropped": case_dropped,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("records")
    ap.add_argument("--no-invariants", action="store_true")
    ap.add_argument("--target", help="expected instance label")
    ap.add_argument("--start", type=int, help="run start, ms")
    ap.add_argument("--end", type=int, help="run end, ms")
    ap.add_argument("--scrapes", type=int,
                    help="scrapes the target served (counter)")
    ap.add_argument("--dropped-status",
                    help="counter: the first request answered with this "
                    "status was dropped; its values are not expected")
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--now-tolerance-ms", type=int, default=10000)
    ap.add_argument("--status", default="500",
                    help="resent/dropped: status of the failed request, "
                    "or 'gone' for one the sender abandoned")
    ap.add_argument("--min-delay", type=float)
    ap.add_argument("--max-delay", type=float)
    ap.add_argument("--grep", help="text the sender log must contain")
    ap.add_argument("--sender-log")
    args = ap.parse_args()

    try:
        recs = Records(args.records)
    except OSError as e:
        print("FAIL cannot read records: %s" % e)
        return 1
    c = Checker()
    print("info %d requests, %d accepted, %d samples received" %
          (len(recs.all), len(recs.accepted), len(recs.received())))
    CASES[args.case](c, recs, args)
    if not args.no_invariants:
        invariants(c, recs)
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
