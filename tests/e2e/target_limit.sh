#!/bin/sh
# target_limit, as Prometheus enforces it: a job with more targets than
# its limit (counted after relabeling, duplicates merged) fails every
# scrape of every target with "target_limit exceeded", sends no request,
# reports up=0 and stale-marks what the targets had; back within the
# limit, it scrapes again without a reload. Other jobs are not touched.
# The job logs the limit once; a target failing on its own after it
# logs as any failing target does. What relabeling dropped is listed in
# droppedTargets, at most keep_dropped_targets of it, and counted.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY "$HELPERS/fake_target.py" --port-file "$T/ports" --log "$T/scrapes.jsonl" \
    counter counter counter counter counter,status=500 >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
$PY "$HELPERS/fake_receiver.py" --port-file "$T/rport" "/push=$T/recv.jsonl" \
    >"$T/receiver.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/rport" || fail "receiver did not start"
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge 5 ]" || fail "targets did not start"
A=127.0.0.1:$(sed -n 1p "$T/ports" | cut -d' ' -f1)
B=127.0.0.1:$(sed -n 2p "$T/ports" | cut -d' ' -f1)
C=127.0.0.1:$(sed -n 3p "$T/ports" | cut -d' ' -f1)
F=127.0.0.1:$(sed -n 4p "$T/ports" | cut -d' ' -f1)
E=127.0.0.1:$(sed -n 5p "$T/ports" | cut -d' ' -f1)
# Listed but dropped by relabeling: not counted.
D=127.0.0.1:1
D2=127.0.0.1:2
RPORT=$(cat "$T/rport")
WEB=127.0.0.1:$(free_port)
mkdir "$T/sd"

cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: limited
    target_limit: 3
    keep_dropped_targets: 1
    file_sd_configs:
      - files: ['$T/sd/*.json']
        refresh_interval: 10m
    relabel_configs:
      - source_labels: [__address__]
        regex: '127\.0\.0\.1:[12]'
        action: drop
  - job_name: free
    static_configs: [{targets: ['$F']}]
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    queue_config: {batch_send_deadline: 200ms}
EOT
# Four targets once relabeled and merged: A twice, D and D2 dropped.
printf '[{"targets": ["%s", "%s", "%s", "%s", "%s", "%s", "%s"]}]\n' \
    "$A" "$B" "$A" "$C" "$D" "$E" "$D2" >"$T/sd/x.json"

start_promlet

# "JOB/INSTANCE health lastError" per target, sorted; "-" for no error.
targets() {
	curl -fsS "http://$WEB/api/v1/targets" | $PY -c '
import json, sys
d = json.load(sys.stdin)["data"]["activeTargets"]
for t in d:
    print(t["scrapePool"] + "/" + t["labels"]["instance"], t["health"],
          t["lastError"] or "-")' | LC_ALL=C sort
}
# is LINE...: the targets are exactly these lines, in any order.
is() {
	[ "$(targets)" = "$(printf '%s\n' "$@" | LC_ALL=C sort)" ]
}
ERR="target_limit exceeded (number of targets: 4, limit: 3)"
over() {
	is "free/$F up -" "limited/$A down $ERR" "limited/$B down $ERR" \
	    "limited/$C down $ERR" "limited/$E down $ERR"
}
wait_for 10 over || fail "limit not enforced: $(targets)"
# "POOL ADDRESS FILE" per dropped target, then the counts.
dropped() {
	curl -fsS "http://$WEB/api/v1/targets" | $PY -c '
import json, sys
d = json.load(sys.stdin)["data"]
for t in d["droppedTargets"]:
    l = t["discoveredLabels"]
    print(t["scrapePool"], l["__address__"], l["__meta_filepath"].split("/")[-1])
print(json.dumps(d["droppedTargetCounts"], sort_keys=True))'
}
[ "$(dropped)" = "limited $D x.json
{\"free\": 0, \"limited\": 2}" ] || fail "dropped targets: $(dropped)"
sleep 1.5
over || fail "limit no longer enforced: $(targets)"
n=$(metric_value "$WEB" \
    'promlet_scrapes_exceeded_limit_total{limit="target_limit"}')
[ "${n:-0}" -ge 8 ] || fail "target_limit scrapes counted: ${n:-none}"

# Back within the limit through discovery alone: A and B scrape again,
# E fails on its own.
printf '[{"targets": ["%s", "%s", "%s", "%s"]}]\n' "$A" "$B" "$D" "$E" \
    >"$T/sd/x.json.tmp"
mv "$T/sd/x.json.tmp" "$T/sd/x.json"
under() {
	is "free/$F up -" "limited/$A up -" "limited/$B up -" \
	    "limited/$E down server returned HTTP status 500"
}
wait_for 10 under || fail "not scraping within the limit: $(targets)"
[ "$(dropped)" = "limited $D x.json
{\"free\": 0, \"limited\": 1}" ] || fail "dropped targets after the change: $(dropped)"
sleep 1.5
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"

# One warning and one recovery for the job, not a line per target.
[ "$(grep -c 'target_limit exceeded: scrapes fail' "$T/promlet.log")" = 1 ] ||
    fail "limit not logged once"
grep 'target_limit exceeded: scrapes fail' "$T/promlet.log" |
    grep -q 'job=limited targets=4 limit=3' || fail "limit log lacks its numbers"
[ "$(grep -c 'targets within target_limit again' "$T/promlet.log")" = 1 ] ||
    fail "recovery not logged once"
! grep 'scrape recovered' "$T/promlet.log" ||
    fail "recovery from the limit logged per target"
[ "$(grep -c 'scrape failed' "$T/promlet.log")" = 1 ] ||
    fail "not one 'scrape failed' line"
grep 'scrape failed' "$T/promlet.log" | grep -q "target=http://$E/metrics" ||
    fail "E's own failure not logged"

# What the targets and the receiver saw.
$PY - "$HELPERS" "$T/scrapes.jsonl" "$T/recv.jsonl" "$A" "$B" "$C" "$F" \
    <<'PYEOF' ||
import json, sys
helpers, slog, rlog, A, B, C, F = sys.argv[1:8]
sys.path.insert(0, helpers)
from rwcheck import STALE_BITS, Checker, Records, has  # noqa: E402
c = Checker()
# fake_target numbers its targets from 0 in the order of the ports file.
asked = {}
for line in open(slog):
    r = json.loads(line)
    asked[r["target"]] = asked.get(r["target"], 0) + 1
c.check(asked.get(2, 0) == 0, "C, never within the limit, was never asked")
c.check(asked.get(0, 0) >= 2 and asked.get(1, 0) >= 2, "A and B scraped after")
c.check(asked.get(3, 0) >= 6, "the other job scraped throughout")
recv = Records(rlog).received()
def find(name, inst, job):
    """The series' value bits in timestamp order."""
    got = [s for s in recv if has(s, name, instance=inst, job=job)]
    return [s.bits for s in sorted(got, key=lambda s: (s.t, s.bits))]
def live(v):
    # promlet stale-marks every series it scraped when it stops.
    return [b for b in v if b != STALE_BITS]
ZERO, ONE = 0, 0x3ff0000000000000
up_a = live(find("up", A, "limited"))
c.check(len(up_a) >= 4 and up_a[0] == ZERO and up_a[-1] == ONE and
        up_a == sorted(up_a, key=lambda b: b == ONE),
        "A: up=0 while over the limit, then up=1 (%d samples)" % len(up_a))
up_c = find("up", C, "limited")
c.check(len(up_c) >= 3 and set(up_c[:-1]) == {ZERO} and
        up_c[-1] == STALE_BITS, "C: up=0 only, stale once removed")
dur_c = find("scrape_duration_seconds", C, "limited")
c.check(len(dur_c) >= 3 and set(dur_c[:-1]) == {ZERO},
        "C: scrape_duration_seconds 0, no request made")
cnt_a = live(find("counter", A, "limited"))
c.check(len(cnt_a) >= 2 and cnt_a[0] == ZERO,
        "A's first page after the limit was its first scrape")
up_f = live(find("up", F, "free"))
c.check(len(up_f) >= 6 and set(up_f) == {ONE}, "the other job up throughout")
sys.exit(1 if c.failed else 0)
PYEOF
    fail "receiver checks failed"
pass
