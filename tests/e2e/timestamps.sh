#!/bin/sh
# Series with their own timestamps (honor_timestamps): stored with them,
# and when they leave the page no stale marker unless the job sets
# track_timestamps_staleness, as in Prometheus. A series without one is
# stale-marked either way.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"

TS=$(($(date +%s) * 1000 - 60000))
printf 'stamped 7 %s\nplain 1\n' "$TS" >"$T/page.prom"
fake_targets_start "$T/targets.port" "file:$T/page.prom"
TARGET=127.0.0.1:${TARGET_PORTS%% *}
fake_receiver_start receiver "/push=$T/recv.jsonl"
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOF
global: {scrape_interval: 500ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: honor
    static_configs: [{targets: ['$TARGET']}]
  - job_name: track
    track_timestamps_staleness: true
    static_configs: [{targets: ['$TARGET']}]
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push
    queue_config: {batch_send_deadline: 200ms}
EOF
start_promlet
wait_for 15 sh -c "grep -q '\"stamped\"' '$T/recv.jsonl'" ||
    fail "no stamped sample arrived"
printf 'other 1\n' >"$T/page.prom.tmp"
mv "$T/page.prom.tmp" "$T/page.prom"
# Two scrapes without the series, then the markers' delivery.
sleep 2.5
kill "$PID_promlet"
wait "$PID_promlet" || fail "promlet exited non-zero"

$PY - "$HELPERS" "$T/recv.jsonl" "$TS" <<'PYEOF' || fail "staleness of stamped series"
import sys
sys.path.insert(0, sys.argv[1])
from rwcheck import Records
recs = Records(sys.argv[2])
ts = int(sys.argv[3])
bad = []
for job, want_stale in (("honor", False), ("track", True)):
    s = recs.series("stamped", job=job)
    if not s:
        bad.append("no stamped{job=%s}" % job)
        continue
    values = [x for x in s if not x.stale]
    if not values or any(x.t != ts for x in values):
        bad.append("stamped{job=%s} not at its own timestamp: %s"
                   % (job, [x.t for x in values][:3]))
    stale = [x for x in s if x.stale]
    if bool(stale) != want_stale:
        bad.append("stamped{job=%s}: %d stale markers, want %s"
                   % (job, len(stale), "some" if want_stale else "none"))
    p = recs.series("plain", job=job)
    if not p or not [x for x in p if x.stale]:
        bad.append("plain{job=%s} not stale-marked" % job)
    print("%s: stamped %d samples, %d stale; plain %d stale" % (
        job, len(values), len(stale),
        len([x for x in (p or []) if x.stale])))
for b in bad:
    print("FAIL " + b)
sys.exit(1 if bad else 0)
PYEOF
pass
