# shellcheck shell=sh disable=SC2034,SC2154 # variables for the caller; eval
# Shared by tests/e2e/azuread_*.sh: start fake_azure.py (fake IMDS, Arc
# HIMDS, Entra token endpoint, Azure Monitor ingestion and a scrape
# target in one process), write a promlet config that scrapes the fake
# target and remote-writes to the fake ingestion with an azuread block,
# and query what the fake saw. Source after tests/e2e/lib.sh.
#
#   az_require                 skip unless python3-snappy and a daemon exist
#   az_fake_start ARGS...      sets AZ_PORT and AZ_URL
#   az_config FILE BLOCK [N]   BLOCK = the azuread: body, indented 6 spaces
#   az_promlet_start           promlet (debug logs) in $T/promlet.log
#   az_q PYEXPR                evaluate PYEXPR over s = /control/state;
#                              prints it, succeeds when it is truthy
#   az_set JSON / az_revoke    change the fake's failure modes
#   az_check_common            no sample lost, no token sent after it
#                              expired, no secret in the log

AZ_PROMLET_PID=""

az_cleanup() {
	# promlet first, while the fake it talks to still runs.
	if [ -n "$AZ_PROMLET_PID" ]; then
		kill -TERM "$AZ_PROMLET_PID" 2>/dev/null
		wait "$AZ_PROMLET_PID" 2>/dev/null
	fi
	cleanup
}
trap az_cleanup EXIT INT TERM

az_require() {
	[ -x "$PY" ] || skip "$PY is missing"
	$PY -c 'import snappy' 2>/dev/null ||
	    skip "$PY lacks the snappy module (Debian package python3-snappy)"
	[ -x "$PROMLET" ] || fail "PROMLET=$PROMLET is not executable"
	# The daemon marker: the agent flags exist only once main.c runs
	# the scrape -> WAL -> remote write pipeline.
	"$PROMLET" --help 2>/dev/null | grep -q -- '--storage.agent.path' ||
	    skip "promlet is not a working daemon yet (--help lacks --storage.agent.path)"
}

az_fake_start() {
	start fake_azure "$PY" "$HELPERS/fake_azure.py" \
	    --port-file "$T/fake_azure.port" "$@"
	wait_for 10 test -s "$T/fake_azure.port" || fail "fake_azure did not start"
	AZ_PORT=$(cat "$T/fake_azure.port")
	AZ_URL="http://127.0.0.1:$AZ_PORT"
}

# az_config FILE BLOCK: one scrape job on the fake target every second and
# one remote_write to the fake ingestion, with azuread: BLOCK.
az_config() {
	cat >"$1" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fake
    static_configs:
      - targets: ["127.0.0.1:$AZ_PORT"]
remote_write:
  - url: $AZ_URL/dataCollectionRules/dcr-00000000000000000000000000000000/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24
    name: azmon
    remote_timeout: 5s
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
      max_backoff: 1s
    azuread:
$2
EOF
}

az_promlet_start() {
	AZ_WEB=$(free_port)
	start promlet env --default-signal=INT "$PROMLET" \
	    --config.file="$T/promlet.yml" --storage.agent.path="$T/wal" \
	    --web.listen-address="127.0.0.1:$AZ_WEB" --log.level=debug
	AZ_PROMLET_PID=$PID_promlet
	wait_for 10 http_ok "http://127.0.0.1:$AZ_WEB/-/healthy" ||
	    fail "promlet did not start"
}

az_q() {
	$PY - "$AZ_URL" "$1" <<'EOF'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
s = json.load(opener.open(sys.argv[1] + "/control/state", timeout=5))
ok = lambda r: [x for x in s["ingest"] if x["status"] == 200]
r = eval("(" + sys.argv[2] + "\n)")
print(r)
sys.exit(0 if r else 1)
EOF
}

# az_wait SECONDS PYEXPR: wait until az_q PYEXPR holds.
az_wait() {
	_end=$(($(date +%s) + $1))
	while :; do
		az_q "$2" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.3
	done
}

az_set() {
	curl -fsS --noproxy '*' -o /dev/null -X POST -d "$1" \
	    "$AZ_URL/control/set" || fail "control/set $1"
}

az_revoke() {
	curl -fsS --noproxy '*' -o /dev/null -X POST "$AZ_URL/control/revoke" ||
	    fail "control/revoke"
}

az_metrics() {
	curl -fsS --noproxy '*' "http://127.0.0.1:$AZ_WEB/metrics"
}

# az_log_lacks STRING...: none of the strings appears in promlet's log.
az_log_lacks() {
	for _s in "$@"; do
		[ -n "$_s" ] || continue
		if grep -qF -- "$_s" "$T/promlet.log"; then
			fail "a secret appears in the promlet log"
		fi
	done
}

# az_check_common: every scrape value up to the last delivered one
# arrived (nothing dropped), promlet counted no dropped sample, and no
# issued token shows up in promlet's debug log.
az_check_common() {
	# Let the last scrapes drain before judging.
	_served=$(az_q 's["scrapes"]')
	az_wait 15 "len(s['counter_values']) > 0 and
	    max(s['counter_values']) >= $_served" ||
	    fail "scrape $_served never arrived: $(az_q 's["counter_values"][-5:]')"
	# From the first scrape on (the WAL reader may start just after it).
	az_q 'min(s["counter_values"]) <= 2 and sorted(s["counter_values"]) ==
	    list(range(min(s["counter_values"]), max(s["counter_values"]) + 1))' \
	    >/dev/null || fail "samples lost: $(az_q 's["counter_values"]')"
	az_q 'not [x for x in s["ingest"] if x.get("why") == "expired token"]' \
	    >/dev/null || fail "promlet sent an expired token"
	az_metrics >"$T/metrics.txt" || fail "promlet /metrics"
	if grep '^promlet_remote_storage_samples_dropped_total' "$T/metrics.txt" |
	    grep -v ' 0$' | grep -q .; then
		fail "promlet dropped samples: $(grep dropped_total "$T/metrics.txt")"
	fi
	grep -q '^promlet_azuread_token_requests_total{.*result="success"} [1-9]' \
	    "$T/metrics.txt" || fail "no promlet_azuread_token_requests_total"
	az_q '"\n".join(t for t in s["tokens"])' >"$T/tokens.txt"
	while read -r _tok; do
		az_log_lacks "$_tok"
	done <"$T/tokens.txt"
	grep -q 'msg="azure AD token acquired"' "$T/promlet.log" ||
	    fail "no token acquisition logged"
}
