#!/bin/sh
# http_headers, in the shape Prometheus reads it, for a scrape job and a
# remote_write:
#
# - every value and secret goes out as a line of its own, and a file's
#   content, trimmed, under the name Go's client would send;
# - a file is read at each request: a rotated key is sent at the next
#   scrape without a reload;
# - a file that is gone fails the scrape, naming the file, in the
#   targets API; the scrape recovers when the file is back;
# - the secret never reaches the log or /api/v1/status/config.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"

printf 'hdr_test 1\n' >"$T/page.prom"
printf '  key-A\n\n' >"$T/key"
fake_targets_start "$T/targets.port" "file:$T/page.prom"
TARGET=127.0.0.1:${TARGET_PORTS%% *}
fake_receiver_start receiver "/push=$T/recv.jsonl"
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOF
global: {scrape_interval: 500ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: hdr
    http_headers:
      x-tenant: {values: [t1], secrets: [S3CRET-HDR]}
      X-KEY: {files: [key]}
    static_configs: [{targets: ['$TARGET']}]
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push
    http_headers: {x-scope-orgid: {values: [tenant-7]}}
    queue_config: {batch_send_deadline: 200ms}
EOF
start_promlet

# seen KEY VALUE: a logged scrape sent header KEY (lower case) as VALUE.
seen() {
	$PY - "$T/targets.jsonl" "$1" "$2" <<'ZZPY'
import json, sys
for line in open(sys.argv[1]):
    if json.loads(line)["headers"].get(sys.argv[2]) == sys.argv[3]:
        sys.exit(0)
sys.exit(1)
ZZPY
}

wait_for 10 seen x-key key-A ||
    fail "no scrape sent X-Key from the file, trimmed: $(tail -n 1 \
    "$T/targets.jsonl")"
seen x-tenant "t1, S3CRET-HDR" ||
    fail "X-Tenant not sent as its value then its secret: $(tail -n 1 \
    "$T/targets.jsonl")"
wait_for 10 sh -c "grep -q '\"x-scope-orgid\": \"tenant-7\"' \
    '$T/recv.jsonl'" || fail "the remote write sent no X-Scope-Orgid"
printf 'key-B' >"$T/key.tmp"
mv "$T/key.tmp" "$T/key"
wait_for 10 seen x-key key-B || fail "the rotated key file was not read"

# target_is PATTERN: the target's health/lastError matches.
target_is() {
	api_targets "$WEB" health lastError | grep -q "$1"
}
rm "$T/key"
wait_for 10 target_is "^down/unable to read headers file $T/key: " ||
    fail "no failed scrape naming the file: $(api_targets "$WEB" health \
    lastError)"
printf 'key-C\n' >"$T/key"
wait_for 10 seen x-key key-C || fail "no scrape once the file was back"
wait_for 10 target_is '^up/$' || fail "not up again: $(api_targets \
    "$WEB" health lastError)"

curl -fsS "http://$WEB/api/v1/status/config" >"$T/config.out" ||
    fail "no /api/v1/status/config"
grep -q '<secret>' "$T/config.out" || fail "secret not redacted"
if grep -q 'S3CRET-HDR' "$T/config.out" "$T/promlet.log"; then
	fail "the secret leaked"
fi
pass
