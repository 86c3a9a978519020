#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# Security basics: promlet runs as an unprivileged user (nobody, through
# setpriv, when the test runs as root); the WAL directory it creates is
# 0700 and every file in it 0600; secrets of the config (basic_auth
# password, bearer tokens, a password file, header values marked secret)
# are sent where they belong but never appear in the debug log, in
# /api/v1/status/config, /api/v1/targets or /metrics, not even after a
# reload; the HTTP listener binds only the configured address.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
ok=1

# Run as nobody when we can; otherwise as whoever we are (still checks
# modes, secrets and the listener).
RUNAS=""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    id nobody >/dev/null 2>&1; then
	RUNAS="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups --"
	# $T is 0700 root: nobody needs a directory of its own.
	D=$(mktemp -d "${TMPDIR:-/tmp}/promlet-sec.XXXXXX")
	chmod 0755 "$D"
	chown nobody "$D"
	sec_cleanup() { rw_cleanup; rm -rf "$D"; }
	trap sec_cleanup EXIT INT TERM
else
	echo "note: not root (or no setpriv/nobody): running as $(id -un)"
	D=$T
fi

PW='pw-Sekr1t-4a7f'
TOKEN='tok-Sekr1t-91c2'
RWTOKEN='rwtok-Sekr1t-55e0'
FILEPW='filepw-Sekr1t-0b3d'
printf '%s\n' "$FILEPW" >"$D/password"
chmod 0644 "$D/password"

fake_targets_start "$T/targets.port" counter counter counter
fake_receiver_start receiver "/push=$T/recv.jsonl"
set -- $TARGET_PORTS
PORT=$(free_port)
WEB=127.0.0.1:$PORT
cat >"$D/promlet.yml" <<EOF
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push
    name: sec
    authorization: {credentials: '$RWTOKEN'}
    queue_config: {batch_send_deadline: 500ms}
scrape_configs:
  - job_name: basic
    basic_auth: {username: scraper, password: '$PW'}
    static_configs: [{targets: ['127.0.0.1:$1']}]
  - job_name: bearer
    authorization: {type: Bearer, credentials: '$TOKEN'}
    static_configs: [{targets: ['127.0.0.1:$2']}]
  - job_name: pwfile
    basic_auth: {username: scraper, password_file: '$D/password'}
    static_configs: [{targets: ['127.0.0.1:$3']}]
EOF
chmod 0644 "$D/promlet.yml"
# shellcheck disable=SC2086
start promlet $RUNAS "$PROMLET" --config.file="$D/promlet.yml" \
    --storage.agent.path="$D/wal" --web.listen-address="$WEB" \
    --log.level=debug --web.enable-lifecycle
wait_for 15 http_ok "http://$WEB/-/ready" || fail "promlet not ready"
sleep 2
curl -fsS -X POST "http://$WEB/-/reload" >/dev/null ||
    { echo "FAIL reload refused"; ok=0; }
sleep 2

# The process really is unprivileged.
# shellcheck disable=SC2154
pid=$(pgrep -P "$PID_promlet" promlet 2>/dev/null || echo "$PID_promlet")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
echo "promlet runs with uid $uid"
if [ -n "$RUNAS" ]; then
	[ "$uid" = "$(id -u nobody)" ] || { echo "FAIL uid $uid, want nobody"; ok=0; }
fi
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$pid/status" ||
    [ -z "$RUNAS" ] || { echo "FAIL effective capabilities: $(grep CapEff "/proc/$pid/status")"; ok=0; }

# Secrets went to the peers...
grep -q '"authorization": "Basic ' "$T/targets.jsonl" ||
    { echo "FAIL no basic auth sent to the target"; ok=0; }
grep -q "\"authorization\": \"Bearer $TOKEN\"" "$T/targets.jsonl" ||
    { echo "FAIL no bearer token sent to the target"; ok=0; }
grep -q "\"authorization\": \"Bearer $RWTOKEN\"" "$T/recv.jsonl" ||
    { echo "FAIL no bearer token sent to the receiver"; ok=0; }
# ...and nowhere else.
curl -fsS "http://$WEB/api/v1/status/config" >"$T/status_config.json"
curl -fsS "http://$WEB/api/v1/targets" >"$T/targets.json"
curl -fsS "http://$WEB/metrics" >"$T/metrics.txt"
for f in "$T/promlet.log" "$T/status_config.json" "$T/targets.json" \
    "$T/metrics.txt"; do
	for s in "$PW" "$TOKEN" "$RWTOKEN" "$FILEPW"; do
		if grep -q -- "$s" "$f"; then
			echo "FAIL secret $s found in $(basename "$f"):"
			grep -- "$s" "$f" | head -n 2 | cut -c1-200
			ok=0
		fi
	done
done
grep -q '<secret>' "$T/status_config.json" ||
    { echo "FAIL /api/v1/status/config shows no <secret> placeholder"; ok=0; }
echo "debug log: $(wc -l <"$T/promlet.log") lines, no secret in it"

# The WAL: directory 0700, files 0600, owned by the user promlet runs as.
mode=$(stat -c %a "$D/wal")
[ "$mode" = 700 ] || { echo "FAIL WAL directory mode $mode"; ok=0; }
n=0
for f in "$D"/wal/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	m=$(stat -c %a "$f")
	[ "$m" = 600 ] || { echo "FAIL $(basename "$f") has mode $m"; ok=0; }
	[ "$(stat -c %u "$f")" = "$uid" ] ||
	    { echo "FAIL $(basename "$f") owned by $(stat -c %u "$f")"; ok=0; }
done
echo "WAL: directory $mode, $n files all 0600"
[ "$n" -ge 2 ] || { echo "FAIL only $n files in the WAL"; ok=0; }

# The listener answers on the configured address only.
if curl -s -o /dev/null --max-time 2 "http://127.0.0.2:$PORT/-/ready"; then
	echo "FAIL the listener answers on 127.0.0.2 too"; ok=0
else
	echo "listener: 127.0.0.1:$PORT only"
fi

kill -INT "$PID_promlet"
wait "$PID_promlet"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL promlet exited $rc"; ok=0; }
for s in "$PW" "$TOKEN" "$RWTOKEN" "$FILEPW"; do
	grep -q -- "$s" "$T/promlet.log" &&
	    { echo "FAIL secret in the shutdown log"; ok=0; }
done
[ "$ok" = 1 ] || fail "security"
pass
