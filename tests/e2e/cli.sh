#!/bin/sh
# The command line: --version, --help, flag errors; a Prometheus agent's
# arguments: server-only flags exit 3 with Prometheus's message, the rest
# start promlet (flags with no effect logged), under the route prefix,
# and POST /-/quit stops it cleanly.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

out=$("$PROMLET" --version) || fail "--version exited non-zero"
case $out in "promlet, version "*) ;; *) fail "--version printed: $out" ;; esac

"$PROMLET" --help | grep -q -- '--config.file' || fail "--help lacks --config.file"
"$PROMLET" --help | grep -q -- '--storage.agent.path' || fail "--help lacks --storage.agent.path"

"$PROMLET" --log.level=loud >/dev/null 2>"$T/err" && fail "bad --log.level accepted"
grep -q 'log.level' "$T/err" || fail "bad --log.level error does not name the flag"

"$PROMLET" --no-such-flag >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown flag did not exit 2"

"$PROMLET" --agent --storage.tsdb.retention.time=15d --config.file=x \
    >/dev/null 2>"$T/err"
[ $? -eq 3 ] || fail "a server-only flag did not exit 3"
grep -qF 'The following flag(s) can not be used in agent mode: ["--storage.tsdb.retention.time"]' \
    "$T/err" || fail "server-only message: $(cat "$T/err")"

cat >"$T/promlet.yml" <<EOF
global: {scrape_interval: 1h}
scrape_configs: []
EOF
WEB=127.0.0.1:$(free_port)
start promlet "$PROMLET" --enable-feature=agent \
    --config.file "$T/promlet.yml" --storage.agent.path="$T/wal" \
    --web.listen-address="$WEB" --web.external-url="http://agent.example/agent/" \
    --web.page-title=x --no-storage.agent.wal-compression \
    --web.enable-lifecycle --enable-feature=native-histograms
wait_for 10 http_ok "http://$WEB/agent/-/ready" || fail "not ready under /agent"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$WEB/-/ready")" = 404 ] ||
    fail "/-/ready answered outside the route prefix"
http_ok "http://$WEB/agent/metrics" || fail "/agent/metrics"
grep -q 'msg="flag has no effect in promlet" flag=--web.page-title reason="promlet has no web UI"' \
    "$T/promlet.log" || fail "--web.page-title not noted"
grep -q 'level=warn msg="flag has no effect in promlet" flag="--enable-feature=native-histograms"' \
    "$T/promlet.log" || fail "native-histograms not warned about"
[ "$(curl -s -X POST "http://$WEB/agent/-/quit")" = "Requesting termination... Goodbye!" ] ||
    fail "/-/quit answer"
i=0
while kill -0 "$PID_promlet" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$PID_promlet" 2>/dev/null && fail "promlet still runs after /-/quit"
wait "$PID_promlet" || fail "promlet exited non-zero after /-/quit"
grep -q 'msg="shutdown requested over HTTP' "$T/promlet.log" ||
    fail "/-/quit not logged"
pass
