#!/bin/sh
# Anywhere else (on premises, other clouds): an Entra app registration
# with a client secret, inline and then from client_secret_file. The
# fake Entra endpoint is reached through the SDKs' AZURE_AUTHORITY_HOST.
# A 401 from ingestion (token revoked) makes promlet fetch a new token
# and resend; a rotated secret file is read again; the secret never
# reaches the log (debug level) or /api/v1/status/config.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

APP=33333333-4444-5555-6666-777777777777
TENANT=88888888-9999-aaaa-bbbb-cccccccccccc
SECRET='Xq8~s3cr3t.Value_for-promlet'
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"
# The fake checks against the file, so rotating it changes both ends.
az_fake_start --tenant "$TENANT" --client-id "$APP" \
    --client-secret-file "$T/secret"
export AZURE_AUTHORITY_HOST="$AZ_URL/"

# ---- inline client_secret -------------------------------------------------
az_config "$T/promlet.yml" "      oauth:
        client_id: $APP
        tenant_id: $TENANT
        client_secret: '$SECRET'"
az_promlet_start
az_wait 15 'len(ok(s)) >= 2' || fail "no authenticated write"
az_q 'all(e["tenant"] == "'"$TENANT"'" and e["kind"] == "secret"
          for e in s["entra"])' >/dev/null || fail "unexpected token requests"
# The receiver stops accepting the token: 401, new token, resend.
sleep 2.5
az_revoke
az_wait 15 'len(s["issued"]) >= 2 and
    any(x["token"] == s["issued"][1]["token"] for x in ok(s))' ||
    fail "no new token after the receiver answered 401"
az_q 'any(x["status"] == 401 and x["why"] == "revoked token"
          for x in s["ingest"])' >/dev/null || fail "the 401 did not happen"
grep -q 'receiver rejected the azure AD token' "$T/promlet.log" ||
    fail "the 401 was not logged"
az_check_common
curl -fsS --noproxy '*' "http://127.0.0.1:$AZ_WEB/api/v1/status/config" \
    >"$T/config.out" || fail "/api/v1/status/config"
grep -qF -- "$SECRET" "$T/config.out" && fail "secret in /api/v1/status/config"
az_log_lacks "$SECRET"
kill -TERM "$AZ_PROMLET_PID"
wait "$AZ_PROMLET_PID"
AZ_PROMLET_PID=""

# ---- client_secret_file, rotated ----------------------------------------------
mv "$T/promlet.log" "$T/promlet-inline.log.txt"
az_config "$T/promlet.yml" "      oauth:
        client_id: $APP
        tenant_id: $TENANT
        client_secret_file: $T/secret"
az_promlet_start
az_wait 15 'len(s["issued"]) >= 3' || fail "no token from client_secret_file"
NEW='rotated-S3cret~two'
printf '%s\n' "$NEW" >"$T/secret"
sleep 2.5
az_revoke
az_wait 15 'len(s["issued"]) >= 4 and
    any(x["token"] == s["issued"][3]["token"] for x in ok(s))' ||
    fail "the rotated secret file was not read again"
az_log_lacks "$SECRET" "$NEW"
az_check_common
pass
