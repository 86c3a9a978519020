#!/bin/sh
# metadata_config: every send_interval each endpoint sends the targets'
# HELP/TYPE/UNIT entries in requests of their own, each distinct entry
# once however many targets expose it, at most max_samples_per_send a
# request; send: false sends none; a receiver that rejects them gets the
# error logged and counted, and samples are unaffected.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

cat >"$T/om.txt" <<'EOT'
# TYPE x_seconds counter
# UNIT x_seconds seconds
# HELP x_seconds Time \"spent\" \\ here.
x_seconds_total 1
EOT
$PY "$HELPERS/fake_target.py" --port-file "$T/ports" \
    counter gauge42 gauge42 "file:$T/om.txt,om=1" >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
$PY "$HELPERS/fake_receiver.py" --port-file "$T/rport" "/a=$T/a.jsonl" \
    "/b=$T/b.jsonl" "/c=$T/c.jsonl,script=400" >"$T/receiver.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/rport" || fail "receiver did not start"
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge 4 ]" || fail "targets did not start"
TARGETS=$(cut -d' ' -f1 "$T/ports" | sed 's/^/127.0.0.1:/' | paste -sd, - |
    sed "s/,/', '/g")
RPORT=$(cat "$T/rport")
WEB=127.0.0.1:$(free_port)

cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: meta
    static_configs: [{targets: ['$TARGETS']}]
remote_write:
  - name: a
    url: http://127.0.0.1:$RPORT/a
    queue_config: {batch_send_deadline: 200ms}
    metadata_config: {send_interval: 1s, max_samples_per_send: 2}
  - name: b
    url: http://127.0.0.1:$RPORT/b
    queue_config: {batch_send_deadline: 200ms}
    metadata_config: {send: false, send_interval: 1s}
  - name: c
    url: http://127.0.0.1:$RPORT/c
    metadata_config: {send_interval: 1s}
EOT

start_promlet
# metric NAME ENDPOINT: promlet_remote_storage_NAME of the endpoint.
metric() {
	metric_value "$WEB" "promlet_remote_storage_$1{remote_name=\"$2\"}"
}
at_least() {
	[ "$(metric "$1" "$2")" -ge "$3" ]
}
# Two rounds of three entries at least, in requests of at most two.
wait_for 10 at_least metadata_total a 6 ||
    fail "metadata not sent: $(metric metadata_total a)"
wait_for 5 at_least metadata_failed_total c 3 ||
    fail "rejected metadata not counted: $(metric metadata_failed_total c)"
[ "$(metric metadata_total b)" = 0 ] || fail "send: false sent metadata"
[ "$(metric metadata_bytes_total a)" -gt 0 ] || fail "metadata bytes not counted"
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"
grep -q 'remote write rejected metadata, dropped.*remote_name=c.*status=400' \
    "$T/promlet.log" || fail "rejected metadata not logged"

$PY - "$HELPERS" "$T/a.jsonl" "$T/b.jsonl" <<'PYEOF' ||
import sys
sys.path.insert(0, sys.argv[1])
from rwcheck import Checker, Records  # noqa: E402
c = Checker()
check = c.check
a = Records(sys.argv[2]).all
meta = [r for r in a if r["metadata"]]
want = {
    (1, "counter", "Incremented after each scrape.", ""),
    (2, "gauge", "A constant gauge.", ""),
    (1, "x_seconds", 'Time "spent" \\ here.', "seconds"),
}
got = [tuple(m) for r in meta for m in r["metadata"]]
check(set(got) == want, "the three families' entries: %s" % sorted(set(got)))
check(len(meta) >= 4, "sent again every interval (%d requests)" % len(meta))
check(all(not r["timeseries"] for r in meta), "metadata in requests of their own")
check(all(len(r["metadata"]) <= 2 for r in meta), "at most max_samples_per_send a request")
check(all(len(set(map(tuple, r["metadata"]))) == len(r["metadata"]) for r in meta),
      "gauge42's two targets give one entry")
check(all(r["headers"].get("content-encoding") == "snappy" and
          r["headers"].get("x-prometheus-remote-write-version") == "0.1.0"
          for r in meta), "remote-write headers")
check(all(r["accepted"] for r in meta), "accepted")
check(sum(len(r["timeseries"]) for r in a) > 0, "samples sent as before")
b = Records(sys.argv[3]).all
check(b and not any(r["metadata"] for r in b), "send: false sends samples only")
sys.exit(1 if c.failed else 0)
PYEOF
    fail "receiver checks failed"
pass
