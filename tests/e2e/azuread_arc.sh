#!/bin/sh
# Azure Arc-enabled server: the managed identity comes from the local
# HIMDS agent, found through IDENTITY_ENDPOINT + IMDS_ENDPOINT. The agent
# answers 401 with WWW-Authenticate: Basic realm=<key file>; promlet
# checks the file is a .key directly in the agent's token directory
# (PROMLET_AZURE_ARC_TOKEN_DIR stands in for /var/opt/azcmagent/tokens),
# reads it and asks again with Authorization: Basic <key>. Then, as a user
# outside the himds group (run as root only), the unreadable key file
# must produce the log telling to join the group.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

mkdir -m 755 "$T/tokens" || fail mkdir
az_fake_start --arc-key-dir "$T/tokens" --expires-in 8
export IDENTITY_ENDPOINT="$AZ_URL/arc/metadata/identity/oauth2/token"
export IMDS_ENDPOINT="$AZ_URL" PROMLET_AZURE_ARC_TOKEN_DIR="$T/tokens"
az_config "$T/promlet.yml" "      managed_identity: {}"
az_promlet_start
if ! az_wait 10 'len(s["issued"]) >= 1'; then
	grep -q 'does not expose' "$T/promlet.log" &&
	    skip "http.h does not expose WWW-Authenticate yet (needed for Arc)"
	fail "no Arc token: $(grep 'token request failed' "$T/promlet.log" | tail -n 1)"
fi
az_wait 15 'len(ok(s)) >= 1' || fail "no authenticated write"
az_wait 20 'len(s["issued"]) >= 3' || fail "no background refresh"
# Every fetch: a bare probe, then the answer with the key.
az_q '[a["answered"] for a in s["arc"]][:6] == [False, True] * 3' \
    >/dev/null || fail "unexpected Arc exchange: $(az_q 's["arc"]')"
az_q 'all(i["kind"] == "arc" for i in s["issued"])' >/dev/null ||
    fail "not Arc tokens"
az_check_common
az_q '"\n".join(s["arc_issued_keys"])' >"$T/keys.txt"
while read -r k; do az_log_lacks "$k"; done <"$T/keys.txt"
kill -TERM "$AZ_PROMLET_PID"
wait "$AZ_PROMLET_PID"
AZ_PROMLET_PID=""

# A challenge pointing outside the token directory is refused.
az_set '{"arc_realm": "/etc/passwd.key"}'
mv "$T/promlet.log" "$T/promlet-1.log.txt"
az_promlet_start
wait_for 10 grep -q 'is not in' "$T/promlet.log" ||
    fail "a key file outside the token directory was not refused"
kill -TERM "$AZ_PROMLET_PID"
wait "$AZ_PROMLET_PID"
AZ_PROMLET_PID=""
az_set '{"arc_realm": null, "arc_key_mode": "0600"}'

# Not in the himds group: the key file (root, 0600) is unreadable.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$T"
	mkdir "$T/wal-nobody" && chown 65534:65534 "$T/wal-nobody"
	chmod 644 "$T/promlet.yml"
	port=$(free_port)
	start nobody env --default-signal=INT setpriv --reuid=65534 \
	    --regid=65534 --clear-groups "$PROMLET" \
	    --config.file="$T/promlet.yml" \
	    --storage.agent.path="$T/wal-nobody" \
	    --web.listen-address="127.0.0.1:$port"
	AZ_PROMLET_PID=$PID_nobody
	wait_for 10 grep -q 'himds group' "$T/nobody.log" ||
	    fail "no himds group hint for an unreadable key file"
	grep 'himds group' "$T/nobody.log" | grep -q 'level=error' ||
	    fail "the himds hint is not an error"
fi
pass
