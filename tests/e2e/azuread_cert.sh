#!/bin/sh
# An Entra app registration with a certificate: promlet signs a PS256
# client assertion (x5t#S256, aud = the token URL, 10-minute lifetime,
# fresh jti) that the fake Entra endpoint verifies against the public
# certificate. Tokens live 8 s, so several assertions are signed in the
# background; the private key never reaches the log.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require
$PY -c 'import cryptography' 2>/dev/null ||
    skip "$PY lacks the cryptography module (Debian package python3-cryptography)"

APP=44444444-5555-6666-7777-888888888888
TENANT=99999999-aaaa-bbbb-cccc-dddddddddddd
$PY "$HELPERS/fake_azure.py" gencert "$T/client.pem" "$T/cert.pem" ||
    fail "gencert"
az_fake_start --tenant "$TENANT" --client-id "$APP" --cert "$T/cert.pem" \
    --expires-in 8
export AZURE_AUTHORITY_HOST="$AZ_URL"
az_config "$T/promlet.yml" "      cloud: AzurePublic
      certificate:
        client_id: $APP
        tenant_id: $TENANT
        certificate_path: $T/client.pem"
az_promlet_start
az_wait 15 'len(ok(s)) >= 1' || fail "no authenticated write"
az_wait 20 'len(s["issued"]) >= 3' || fail "no background refresh"
az_q 'not s["assertion_errors"] and not s["entra_errors"]' >/dev/null ||
    fail "assertions rejected: $(az_q 's["assertion_errors"]')"
az_q 's["jtis"] >= 3 and all(i["kind"] == "certificate" for i in s["issued"])' \
    >/dev/null || fail "not certificate tokens"
az_check_common
# Neither the key nor any assertion is logged.
az_log_lacks "$(sed -n '2p' "$T/client.pem")" "eyJhbGciOiJQUzI1NiIs"
pass
