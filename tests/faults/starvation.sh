#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# Scheduling under CPU starvation: for a few seconds every thread of
# promlet is pinned to one CPU as SCHED_IDLE (taskset -a, chrt -a -i) with
# a busy loop on that CPU, and within that window stopped for a second
# (SIGSTOP/SIGCONT, as a container's CPU quota throttles every thread at
# once); before and after, promlet runs as usual.
# Scrapes that start late are counted in promlet_scrapes_late_total; every
# sample keeps the time its scrape started (never later than the moment
# the target served the page); once the hog stops, scrapes are back on
# their interval and nothing was lost or duplicated.
#
# Only the hog window is SCHED_IDLE: a SCHED_IDLE promlet is starved by
# any other work on its CPU, so with `make -j2 check` on two cores the
# test next door starved it before and after the hog too, and the check
# "interval kept after the hog" failed for reasons outside the test.
# The stop is what makes scrapes late for certain: a SCHED_IDLE thread
# that wakes gets the sleeper's credit and runs within a tick, so a
# promlet that needs little CPU per scrape was seen never to be late.
#
#	FAULT_HOG_SECS=S   length of the starvation (default 3)
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
FAULTS="$TOP_SRCDIR/tests/faults"
CHK="$PY $FAULTS/faultcheck.py"
HOG=${FAULT_HOG_SECS:-3}
command -v taskset >/dev/null || skip "taskset missing"
command -v chrt >/dev/null || skip "chrt missing"
chrt -i 0 true 2>/dev/null || skip "chrt -i (SCHED_IDLE) not permitted"
# Back from SCHED_IDLE to SCHED_OTHER needs RLIMIT_NICE or CAP_SYS_NICE.
chrt -i 0 sh -c 'chrt -o -p 0 $$' >/dev/null 2>&1 ||
    skip "cannot leave SCHED_IDLE (chrt -o) here"
CPU=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')

fake_targets_start "$T/targets.port" now counter
fake_receiver_start receiver "/push=$T/recv.jsonl"
set -- $TARGET_PORTS
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOF
global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push
    queue_config: {batch_send_deadline: 500ms}
scrape_configs:
  - job_name: now
    static_configs: [{targets: ['127.0.0.1:$1']}]
  - job_name: counter
    static_configs: [{targets: ['127.0.0.1:$2']}]
EOF
start promlet "$PROMLET" \
    --config.file="$T/promlet.yml" --storage.agent.path="$T/wal" \
    --web.listen-address="$WEB"
wait_for 20 http_ok "http://$WEB/-/ready" || fail "promlet not ready"
sleep 1.5
late() {
	curl -fsS --max-time 20 "http://$WEB/metrics" |
	    awk '$1 == "promlet_scrapes_late_total" { print $2 }'
}
late0=$(late)
MASK=$(taskset -pc "$PID_promlet" | sed 's/.*: //')
taskset -a -pc "$CPU" "$PID_promlet" >/dev/null ||
    fail "cannot pin promlet to CPU $CPU"
chrt -a -i -p 0 "$PID_promlet" || fail "cannot make promlet SCHED_IDLE"
taskset -c "$CPU" $PY -c "
import time
end = time.time() + $HOG
while time.time() < end:
    pass
" &
HOG_PID=$!
sleep 1
kill -STOP "$PID_promlet"
sleep 1
kill -CONT "$PID_promlet"
wait "$HOG_PID"
hog_end=$(date +%s%3N)
chrt -a -o -p 0 "$PID_promlet" || fail "cannot restore SCHED_OTHER"
taskset -a -pc "$MASK" "$PID_promlet" >/dev/null ||
    fail "cannot restore the CPU mask $MASK"
sleep 3
late1=$(late)
echo "late scrapes: $late0 before, $late1 after ${HOG}s of starvation"
ok=1
[ "$late1" -gt "$late0" ] 2>/dev/null ||
    { echo "FAIL no late scrape counted"; ok=0; }
# Targets first, so that no scrape is in flight when promlet stops (it
# would be cancelled: served, never stored); then a scrape timeout's wait.
fake_targets_stop
sleep 1
kill -INT "$PID_promlet"
wait "$PID_promlet"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL promlet exited $rc"; ok=0; }

served=$(grep -c '"target": 1}' "$T/targets.jsonl")
$CHK counter "$T/recv.jsonl" counter counter --served "$served" \
    --allow-failed --failed-before "$TARGETS_STOPPED_MS" || ok=0
# Timestamps: taken when the scrape started, so never after the page was
# served (the `now` gauge is the target's clock, same machine); and after
# the hog the interval is kept again.
$PY - "$T/recv.jsonl" "$hog_end" <<'EOF' || ok=0
import json, struct, sys
hog_end = int(sys.argv[2])
pts = []
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if not rec.get("accepted"):
        continue
    for ts in rec["timeseries"]:
        lab = dict(ts["labels"])
        if lab.get("__name__") != "now":
            continue
        for t, bits in ts["samples"]:
            if bits == "0x7ff0000000000002":
                continue
            pts.append((t, struct.unpack(">d", bytes.fromhex(bits[2:]))[0]))
pts.sort()
bad = [(t, v) for t, v in pts if v < t]
after = [t for t, _ in pts if t > hog_end + 500]
gaps = [b - a for a, b in zip(after, after[1:])]
print("now: %d samples, %d stamped after the page was served; after the "
      "hog %d samples, largest gap %d ms" %
      (len(pts), len(bad), len(after), max(gaps) if gaps else -1))
ok = not bad and len(after) >= 3 and gaps and max(gaps) <= 600
sys.exit(0 if ok else 1)
EOF
[ "$ok" = 1 ] || fail "starvation"
pass
