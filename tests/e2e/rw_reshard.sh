#!/bin/sh
# A slow receiver makes one shard too few: promlet must add shards (as
# Prometheus does) and still deliver every series in timestamp order.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY "$HELPERS/fake_target.py" --port-file "$T/ports" series1000 \
    >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
$PY "$HELPERS/fake_receiver.py" --port-file "$T/rport" \
    "/push=$T/recv.jsonl,script=sleep:0.25" >"$T/receiver.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/ports" || fail "target did not start"
wait_for 10 test -s "$T/rport" || fail "receiver did not start"
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: test
    static_configs: [{targets: ['127.0.0.1:$(cut -d' ' -f1 "$T/ports")']}]
remote_write:
  - url: http://127.0.0.1:$(cat "$T/rport")/push
    queue_config:
      max_samples_per_send: 200
      batch_send_deadline: 200ms
      max_shards: 8
EOT
start_promlet

shards() {
	metric_value "$WEB" 'promlet_remote_storage_shards{[^}]*}'
}
# 2000 samples/s at 200 per 0.25 s request need about 3 shards.
i=0
while [ "$i" -lt 60 ] && [ "$(shards)" -le 1 ]; do sleep 0.5; i=$((i + 1)); done
n=$(shards)
[ "$n" -gt 1 ] || fail "still $n shard(s) after 30 s against a slow receiver"
sleep 3
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"
grep -q 'remote write resharded' "$T/promlet.log" || fail "no reshard logged"
$PY "$HELPERS/rwcheck.py" ordering "$T/recv.jsonl" || fail "order broken across reshards"
pass
