#!/bin/sh
# promlet check config: 0 on the shipped configs (etc/promlet.yml and every
# etc/examples/*.yml), 1 with "file:line:col: key: message" on a bad one,
# and no side effects either way.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

# What the examples expect from their environment: the downward API's
# NODE_NAME and the workload identity webhook's AZURE_* variables
# (azure-workload-identity.yml), systemd's $CREDENTIALS_DIRECTORY
# (azure-client-secret.yml). Secret files must exist at load.
mkdir -p "$T/creds" "$T/cwd"
printf 'not-a-real-secret' >"$T/creds/azure-client-secret"
printf 'eyJhbGciOiJSUzI1NiJ9.e30.sig' >"$T/token"
NODE_NAME=node-1
AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000001
AZURE_TENANT_ID=00000000-0000-0000-0000-000000000002
AZURE_FEDERATED_TOKEN_FILE=$T/token
CREDENTIALS_DIRECTORY=$T/creds
export NODE_NAME AZURE_CLIENT_ID AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE \
    CREDENTIALS_DIRECTORY

# Run from an empty directory to see that nothing is written.
cd "$T/cwd" || fail "cd"

n=0
for f in "$TOP_SRCDIR/etc/promlet.yml" "$TOP_SRCDIR/etc/demo.yml" "$TOP_SRCDIR"/etc/examples/*.yml; do
	[ -f "$f" ] || fail "missing $f"
	"$PROMLET" check config "$f" >"$T/out" 2>"$T/err" ||
	    fail "check config $f: $(cat "$T/err")"
	grep -q "^SUCCESS: $f is valid" "$T/out" ||
	    fail "check config $f printed: $(cat "$T/out")"
	n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "expected etc/promlet.yml and 5 examples, found $n"

# All at once, as promtool takes them.
"$PROMLET" check config "$TOP_SRCDIR/etc/promlet.yml" \
    "$TOP_SRCDIR"/etc/examples/*.yml >/dev/null 2>&1 ||
    fail "check config with several files failed"

# A bad file: exit 1, the position and the key in the message.
cat >"$T/bad.yml" <<'YAML'
scrape_configs:
  - job_name: node
    scrape_timeout: 1 minute
YAML
"$PROMLET" check config "$T/bad.yml" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] || fail "bad config: exit $rc, want 1"
grep -qF "$T/bad.yml:3:21: scrape_timeout: not a valid duration string" \
    "$T/err" || fail "bad config message: $(cat "$T/err")"

# A good and a bad file: still 1.
"$PROMLET" check config "$TOP_SRCDIR/etc/promlet.yml" "$T/bad.yml" \
    >/dev/null 2>&1
[ $? -eq 1 ] || fail "good+bad did not exit 1"

# An unset variable is named, with its position.
(
	unset NODE_NAME
	"$PROMLET" check config \
	    "$TOP_SRCDIR/etc/examples/azure-workload-identity.yml" \
	    >/dev/null 2>"$T/err"
	[ $? -eq 1 ] || exit 1
	grep -q 'azure-workload-identity.yml:[0-9]*:[0-9]*: node: environment variable NODE_NAME is not set' \
	    "$T/err"
) || fail "unset NODE_NAME: $(cat "$T/err")"

# A missing secret file is found at load, not at the first send.
(
	CREDENTIALS_DIRECTORY=$T/nowhere
	"$PROMLET" check config \
	    "$TOP_SRCDIR/etc/examples/azure-client-secret.yml" \
	    >/dev/null 2>"$T/err"
	[ $? -eq 1 ] || exit 1
	grep -q "client_secret_file: cannot read $T/nowhere/azure-client-secret" \
	    "$T/err"
) || fail "missing secret file: $(cat "$T/err")"

# Unsupported Prometheus features are named.
printf 'rule_files: [rules.yml]\n' >"$T/rules.yml"
"$PROMLET" check config "$T/rules.yml" >/dev/null 2>"$T/err"
[ $? -eq 1 ] || fail "rule_files accepted"
grep -qF "$T/rules.yml:1:1: rule_files: not supported by promlet" "$T/err" ||
    fail "rule_files message: $(cat "$T/err")"

# A missing file.
"$PROMLET" check config "$T/none.yml" >/dev/null 2>"$T/err"
[ $? -eq 1 ] || fail "missing file did not exit 1"
grep -qF "$T/none.yml: cannot open config file" "$T/err" ||
    fail "missing file message: $(cat "$T/err")"

# No side effects: nothing written where it ran (no WAL directory).
[ -z "$(ls -A "$T/cwd")" ] || fail "check config wrote: $(ls -A "$T/cwd")"
pass
