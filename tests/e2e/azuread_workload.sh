#!/bin/sh
# AKS workload identity: everything comes from what the webhook injects
# (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE,
# AZURE_AUTHORITY_HOST); the azuread block only names the method. The
# federated token is a Kubernetes projected file (a symlink into ..data)
# that the kubelet rotates: promlet must read it again for every token
# request, which the fake checks by comparing with the file's content.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

APP=55555555-6666-7777-8888-999999999999
TENANT=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
mkdir -p "$T/tokens/..2026_01" || fail mkdir
printf 'eyJfed.one.sig' >"$T/tokens/..2026_01/azure-identity-token"
ln -s ..2026_01 "$T/tokens/..data"
ln -s ..data/azure-identity-token "$T/tokens/azure-identity-token"
az_fake_start --tenant "$TENANT" --client-id "$APP" \
    --federated-token-file "$T/tokens/azure-identity-token" --expires-in 8
export AZURE_AUTHORITY_HOST="$AZ_URL/" AZURE_CLIENT_ID="$APP" \
    AZURE_TENANT_ID="$TENANT" \
    AZURE_FEDERATED_TOKEN_FILE="$T/tokens/azure-identity-token"
az_config "$T/promlet.yml" "      workload_identity: {}"
az_promlet_start
az_wait 15 'len(ok(s)) >= 1' || fail "no authenticated write"
az_q 's["issued"][0]["kind"] == "workload"' >/dev/null || fail "not workload"

# The kubelet swaps ..data to a new directory with a new token.
mkdir "$T/tokens/..2026_02" || fail mkdir
printf 'eyJfed.two.sig' >"$T/tokens/..2026_02/azure-identity-token"
ln -s ..2026_02 "$T/tokens/..data.tmp" &&
    mv -T "$T/tokens/..data.tmp" "$T/tokens/..data" || fail "swap"
rm -rf "$T/tokens/..2026_01"
n=$(az_q 'len(s["issued"])')
az_wait 15 "len(s['issued']) >= $n + 2" ||
    fail "no token after the federated token rotated: $(az_q 's["entra"][-3:]')"
az_q 'not s["entra_errors"]' >/dev/null ||
    fail "a token request failed: $(az_q 's["entra_errors"]')"
az_check_common
az_log_lacks "eyJfed.one.sig" "eyJfed.two.sig"
pass
