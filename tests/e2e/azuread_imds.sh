#!/bin/sh
# Azure VM / VMSS / AKS node: a user-assigned managed identity from IMDS
# (redirected with the SDKs' AZURE_POD_IDENTITY_AUTHORITY_HOST). Tokens
# live 10 s here, so promlet must refresh them in the background (at
# half-life) without ever sending an expired one or losing a sample.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

MI=11111111-2222-3333-4444-555555555555
az_fake_start --imds-client-id "$MI" --expires-in 10
export AZURE_POD_IDENTITY_AUTHORITY_HOST="$AZ_URL"
az_config "$T/promlet.yml" "      cloud: AzurePublic
      managed_identity:
        client_id: $MI"
az_promlet_start

az_wait 15 'len(ok(s)) >= 1' || fail "no authenticated write reached the fake"
# Two background refreshes: three tokens, each fetched before the
# previous one expired.
az_wait 25 'len(s["issued"]) >= 3' ||
    fail "tokens were not refreshed: $(az_q 'len(s["issued"])') issued"
az_q 'all(b["time"] < a["time"] + a["expires_in"] - 1
          for a, b in zip(s["issued"], s["issued"][1:]))' >/dev/null ||
    fail "a token was refreshed only after it expired"
# Not more often than half-life either (no refresh storm).
az_q 'all(b["time"] >= a["time"] + 4
          for a, b in zip(s["issued"], s["issued"][1:]))' >/dev/null ||
    fail "tokens refreshed too often"
az_q 'all(r["metadata"] == "true" and r["client_id"] == "'"$MI"'"
          for r in s["imds"])' >/dev/null ||
    fail "IMDS request without Metadata: true or the client_id"
# Every token in use was sent by later writes.
az_wait 10 'set(x["token"] for x in ok(s)) >= set(i["token"] for i in s["issued"][:2])' ||
    fail "a refreshed token was never used"
az_check_common
grep -q 'source=imds' "$T/promlet.log" || fail "IMDS source not logged"
pass
