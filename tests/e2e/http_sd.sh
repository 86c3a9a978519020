#!/bin/sh
# http_sd_configs against a real HTTP server: the request Prometheus
# sends (Accept, X-Prometheus-Refresh-Interval-Seconds, the URL's basic
# auth), targets added and removed by the answer with __meta_url set and
# relabelable, every kind of bad answer (status, Content-Type, JSON, a
# timeout) logged and counted with the previous targets kept, recovery,
# a reload, a password that never reaches the log or the API, and a
# clean exit with a refresh in flight.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY "$HELPERS/fake_target.py" --port-file "$T/ports" counter gauge42 \
    >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
mkdir "$T/sd"
$PY "$HELPERS/fake_http_sd.py" --port-file "$T/sdport" --dir "$T/sd" \
    --log "$T/sdreq.jsonl" >"$T/sd.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/sdport" || fail "sd endpoint did not start"
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge 2 ]" ||
	fail "targets did not start"
A=127.0.0.1:$(sed -n 1p "$T/ports" | cut -d' ' -f1)
B=127.0.0.1:$(sed -n 2p "$T/ports" | cut -d' ' -f1)
SDPORT=$(cat "$T/sdport")
URL="http://sduser:SEKRET@127.0.0.1:$SDPORT/targets?env=test"
SHOWN="http://sduser:<secret>@127.0.0.1:$SDPORT/targets?env=test"
WEB=127.0.0.1:$(free_port)

write_config() {
	cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: h
    http_sd_configs:
      - url: '$URL'
        refresh_interval: $1
    relabel_configs:
      - {source_labels: [__meta_url], target_label: sd_url}
EOT
}
write_config 1s
printf '[{"targets": ["%s"], "labels": {"team": "x"}}]' "$A" >"$T/sd/body"

start_promlet --web.enable-lifecycle

targets() { api_targets "$WEB" labels.instance health; }
# is_targets "INSTANCE/HEALTH ...": exactly these, in any order.
is_targets() { [ "$(targets)" = "$(sorted_words "$1")" ]; }
logged() { grep -c "$1" "$T/promlet.log"; }
logged_more() { [ "$(logged "$1")" -gt "$2" ]; }
# more_logged PATTERN SECONDS: wait for one more line matching it.
more_logged() { wait_for "$2" logged_more "$1" "$(logged "$1")"; }

wait_for 10 is_targets "$A/up" || fail "first target not scraped: $(targets)"
curl -fsS "http://$WEB/api/v1/targets" | $PY -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"][0]
want = sys.argv[1]
assert t["labels"]["team"] == "x", t
assert t["labels"]["sd_url"] == want, t
assert t["discoveredLabels"]["__meta_url"] == want, t
assert t["scrapePool"] == "h", t
' "$SHOWN" || fail "labels of the discovered target"
$PY - "$T/sdreq.jsonl" <<'PYEOF' || fail "the request"
import base64, json, sys
r = json.loads(open(sys.argv[1]).readline())
h = r["headers"]
assert r["path"] == "/targets?env=test", r
assert h.get("accept") == "application/json", h
assert h.get("x-prometheus-refresh-interval-seconds") == "1", h
assert h.get("authorization") == "Basic " + base64.b64encode(
    b"sduser:SEKRET").decode(), h
PYEOF

printf '[{"targets": ["%s"]}, {"targets": ["%s"]}]' "$A" "$B" >"$T/sd/body"
wait_for 5 is_targets "$A/up $B/up" ||
	fail "second target not added: $(targets)"

# Bad answers: each logged, counted, and the targets kept.
echo 503 >"$T/sd/status"
more_logged 'server returned HTTP status 503' 5 || fail "503 not logged"
more_logged 'server returned HTTP status 503' 5 || fail "503 not logged again"
# Each change keeps the answer bad, so nothing recovers in between.
echo 'text/plain; charset=utf-8' >"$T/sd/ctype"
echo 200 >"$T/sd/status"
more_logged 'unsupported content type \\"text/plain; charset=utf-8\\"' 5 ||
	fail "wrong content type not logged"
printf '[{"targets": [' >"$T/sd/body"
rm "$T/sd/ctype"
more_logged 'err="response:1:' 5 || fail "bad JSON not logged"
printf '[{"targets": ["%s"], "labelz": {}}]' "$A" >"$T/sd/body"
more_logged 'unknown key \\"labelz\\"' 5 || fail "unknown key not logged"
echo 3 >"$T/sd/delay"
more_logged 'refresh failed.*err=.*[Tt]ime' 6 || fail "timeout not logged"
rm "$T/sd/delay"
is_targets "$A/up $B/up" || fail "targets not kept across failures: $(targets)"
grep 'http_sd: refresh failed' "$T/promlet.log" | grep -q \
    'msg="http_sd: refresh failed, keeping the previous targets" job=h' ||
	fail "failure log line"
n=$(metric_value "$WEB" promlet_sd_http_failures_total)
[ "${n:-0}" -ge 6 ] || fail "promlet_sd_http_failures_total is '$n'"

# Recovery: the new answer replaces the old targets, logged once.
printf '[{"targets": ["%s"]}]' "$B" >"$T/sd/body"
wait_for 5 is_targets "$B/up" || fail "targets not replaced: $(targets)"
[ "$(logged 'http_sd: refresh recovered')" = 1 ] ||
	fail "recovery not logged once"
printf '[]' >"$T/sd/body"
wait_for 5 is_targets "" || fail "empty list left targets: $(targets)"

# A reload with another interval: its header follows.
write_config 500ms
printf '[{"targets": ["%s"]}]' "$A" >"$T/sd/body"
kill -HUP "$PID_promlet"
header_is() {
	grep -q "\"x-prometheus-refresh-interval-seconds\": \"$1\"" \
	    "$T/sdreq.jsonl"
}
wait_for 5 header_is 0.5 || fail "reload did not change the refresh header"
wait_for 5 is_targets "$A/up" || fail "target after reload: $(targets)"

# The password stays out of logs and the API.
if grep -q SEKRET "$T/promlet.log"; then fail "password in the log"; fi
if curl -fsS "http://$WEB/api/v1/targets" | grep -q SEKRET; then
	fail "password in the targets API"
fi

# Stop with a refresh in flight: cancelled, exit 0 (and no leak under ASan).
echo 5 >"$T/sd/delay"
requests() { wc -l <"$T/sdreq.jsonl"; }
requests_over() { [ "$(requests)" -gt "$1" ]; }
wait_for 3 requests_over "$(requests)" || fail "no refresh started"
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"
pass
