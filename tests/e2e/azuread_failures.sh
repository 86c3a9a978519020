#!/bin/sh
# Failure handling with a managed identity:
#  - IMDS answers 410, 429, 500 at first: retried on IMDS's documented
#    schedule (2, 6, 14 s) while samples wait in the WAL;
#  - ingestion answers 403 (role assignment not yet applied): logged with
#    the Monitoring Metrics Publisher hint, and the data is kept;
#  - a background refresh fails: the old token is used while still valid;
#  - bad azuread configs are refused at load with what is wrong;
# and in the end no sample is missing.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

# ---- bad configs --------------------------------------------------------------
AZ_PORT=1 AZ_URL=http://127.0.0.1:1
az_config "$T/bad1.yml" "      managed_identity:
        client_id: not-a-uuid"
"$PROMLET" check config "$T/bad1.yml" >"$T/bad1.out" 2>&1 &&
    fail "a managed identity client_id that is not a UUID was accepted"
grep -q 'client_id' "$T/bad1.out" || fail "error does not name client_id"
az_config "$T/bad2.yml" "      oauth:
        client_id: 00000000-0000-0000-0000-000000000001
        client_secret: hush-hush-value"
"$PROMLET" check config "$T/bad2.yml" >"$T/bad2.out" 2>&1 &&
    fail "oauth without tenant_id was accepted"
grep -q 'tenant_id' "$T/bad2.out" || fail "error does not name tenant_id"
grep -q 'hush-hush-value' "$T/bad2.out" && fail "secret printed"
az_config "$T/bad3.yml" "      oauth:
        client_id: 00000000-0000-0000-0000-000000000001
        tenant_id: 00000000-0000-0000-0000-000000000002
        client_secret_file: $T/missing-secret"
"$PROMLET" check config "$T/bad3.yml" >"$T/bad3.out" 2>&1 &&
    fail "a missing client_secret_file was accepted"
grep -q 'missing-secret' "$T/bad3.out" || fail "error does not name the file"

# ---- IMDS 410, 429, 500 at start ------------------------------------------------
az_fake_start --imds-fail 410,429,500 --expires-in 12
export AZURE_POD_IDENTITY_AUTHORITY_HOST="$AZ_URL"
az_config "$T/promlet.yml" "      managed_identity:
        client_id: ''"
az_promlet_start
az_wait 40 'len(ok(s)) >= 1' || fail "no write after the IMDS failures"
az_q '[r["status"] for r in s["imds"]][:4] == [410, 429, 500, 0]' \
    >/dev/null || fail "IMDS sequence: $(az_q '[r["status"] for r in s["imds"]]')"
# Waits before the retries: 2, 6 and 14 s (some slack for a busy box).
az_q 'all(lo - 0.3 <= b["time"] - a["time"] <= lo + 3 for a, b, lo in
          zip(s["imds"], s["imds"][1:4], (2, 6, 14)))' >/dev/null ||
    fail "IMDS retry waits: $(az_q '[round(b["time"] - a["time"], 1)
        for a, b in zip(s["imds"], s["imds"][1:4])]')"
grep -c 'azure AD token request failed' "$T/promlet.log" | grep -qx 3 ||
    fail "the three IMDS failures were not logged"
# The scrapes of those 22 s waited in the WAL and were all delivered.
az_wait 20 'min(s["counter_values"]) <= 2 and len(s["counter_values"]) >= 20' ||
    fail "samples from before the first token are missing"

# ---- 403 from ingestion -----------------------------------------------------------
az_set '{"ingest_fail": [403, 403, 403]}'
az_wait 15 'len([x for x in s["ingest"] if x["status"] == 403]) == 3 and
    s["ingest"][-1]["status"] == 200' || fail "403s not retried"
grep 'status=403' "$T/promlet.log" | grep -q . || fail "403 not logged"
grep -q 'Monitoring Metrics Publisher' "$T/promlet.log" ||
    fail "403 logged without the role assignment hint"

# ---- refresh fails while the token is still valid -----------------------------------
n=$(az_q 'len(s["issued"])')
az_wait 15 "len(s['issued']) > $n" || fail "no refresh"
n=$(az_q 'len(s["issued"])')
az_set '{"imds_fail": [500, 500]}'
az_wait 30 "len(s['issued']) > $n" || fail "no token after the refresh failures"
# Writes went on with the old token after the first failed refresh.
az_q 'any(x["time"] > [r for r in s["imds"] if r["status"] == 500][-2]["time"]
          and x["token"] == s["issued"]['"$n"' - 1]["token"] for x in ok(s))' \
    >/dev/null || fail "the still-valid token was not used during refresh failures"
az_check_common
pass
