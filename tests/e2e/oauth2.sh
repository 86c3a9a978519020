#!/bin/sh
# oauth2 (client credentials), as Prometheus's HTTP client does it, for a
# scrape job and a remote_write with the same settings, against the fake
# generic token endpoint of fake_azure.py, whose target and ingestion
# both want a live Bearer token:
#
# - the endpoint refuses the Basic header: promlet sends the credentials
#   in the form instead, and keeps doing so; scopes and endpoint_params
#   are in every request;
# - the scrape job and the remote_write share one token; short-lived
#   tokens are renewed before they expire, so no request goes out
#   without a live one;
# - a rotated client_secret_file is read again at the next request;
# - a 401 from the receiver (the token revoked) drops the token: the
#   write is retried with a new one, and nothing is lost;
# - while the endpoint fails and the token has run out, scrapes fail
#   with the endpoint's reason in the targets API; they recover, the
#   failure and the recovery are logged once each, and every sample of
#   every successful scrape is delivered;
# - answers form-encoded (tokens and errors) are read as Go reads them;
# - no secret or token reaches the log or /api/v1/status/config.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/azure.sh"
az_require

CID='promlet agent'
SECRET='0a~Secret/with:odd&chars'
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"
az_fake_start --oauth2-client-id "$CID" --oauth2-client-secret-file \
    "$T/secret" --oauth2-refuse-basic --metrics-auth --expires-in 6

block() {
	cat <<EOF
$1oauth2:
$1  client_id: '$CID'
$1  client_secret_file: $T/secret
$1  scopes: [metrics.write, 'read all']
$1  token_url: $AZ_URL/oauth2/token
$1  endpoint_params: {audience: promlet}
EOF
}
cat >"$T/promlet.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fake
$(block "    ")
    static_configs:
      - targets: ["127.0.0.1:$AZ_PORT"]
remote_write:
  - url: $AZ_URL/api/v1/write
    name: rw
    remote_timeout: 5s
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms,
                   max_backoff: 1s}
$(block "    ")
EOF
az_promlet_start

# ---- credentials style, form, sharing, renewal --------------------------
az_wait 20 'len(ok(s)) >= 3 and len(s["issued"]) >= 3' ||
    fail "no authenticated scrape and write with renewed tokens: $(az_q \
    's["oauth2"][:4]')"
az_q 's["oauth2"][0]["style"] == "header" and
    s["oauth2"][0]["status"] == 401 and s["oauth2"][1]["style"] == "params"
    and s["oauth2"][1]["status"] == 200' >/dev/null ||
    fail "not Basic first, then the form: $(az_q 's["oauth2"][:2]')"
az_q 'all(r["style"] == "params" for r in s["oauth2"][1:])' >/dev/null ||
    fail "Basic tried again after the form worked"
az_q 'all(r["params"] == {"grant_type": "client_credentials",
    "scope": "metrics.write read all", "audience": "promlet"} and
    r["ctype"] == "application/x-www-form-urlencoded"
    for r in s["oauth2"])' >/dev/null ||
    fail "token request form: $(az_q 's["oauth2"][1]')"
az_q 'set(m["token"] for m in s["metrics"] if m["status"] == 200) &
    set(x["token"] for x in ok(s))' >/dev/null ||
    fail "the scrape job and the remote_write did not share a token"
az_q 'not [m for m in s["metrics"] if m["status"] != 200] and
    not [x for x in s["ingest"] if x["status"] != 200]' >/dev/null ||
    fail "a request went without a live token: $(az_q \
    '[m for m in s["metrics"] if m["status"] != 200][:3]')"

# ---- a rotated secret file ------------------------------------------------
NEW='rotated=Two+plus'
printf '%s\n' "$NEW" >"$T/secret"
n=$(az_q 'len(s["oauth2"])')
az_wait 10 "len([r for r in s['oauth2'][$n:] if r['status'] == 200 and
    r['secret_ok']]) >= 1" || fail "the rotated secret was not read again"
az_q "all(r['secret_ok'] for r in s['oauth2'][$n:])" >/dev/null ||
    fail "the old secret was sent after the file changed"

# ---- the receiver refuses the token ---------------------------------------
# The target stops checking tokens meanwhile, so that the 401 is the
# receiver's (a scrape's 401 would drop the token first). Tokens of 20 s
# in this phase: the one in use is then past the 5 s for which a 401 is
# not blamed on it (a quarter of its life), and 4 s short of its
# background renewal, which would otherwise race the 401 and replace the
# token before it is dropped.
n=$(az_q 'len(s["issued"])')
az_set '{"metrics_auth": false, "expires_in": 20}'
az_wait 10 "len(s['issued']) > $n" || fail "no 20 s token"
sleep 6
n=$(az_q 'len(s["issued"])')
az_revoke
az_wait 15 "len(s['issued']) > $n and any(x['token'] in
    [i['token'] for i in s['issued'][$n:]] for x in ok(s))" ||
    fail "no new token after the receiver answered 401"
az_q 'any(x["status"] == 401 and x["why"] == "revoked token"
    for x in s["ingest"])' >/dev/null || fail "the 401 did not happen"
grep -q 'msg="receiver rejected the oauth2 token; fetching a new one"' \
    "$T/promlet.log" || fail "the 401 was not logged"
az_set '{"metrics_auth": true, "expires_in": 6}'

# ---- the endpoint fails after the token ran out ---------------------------
# (Tokens of before the revocation are refused by the target too, so a
# scrape's 401 also drops one: the next scrape gets a new token.)
az_set '{"oauth2_fail": [503, 503, 503, 503, 503, 503, 503, 503, 503, 503,
    503, 503, 503, 503, 503, 503, 503, 503, 503, 503]}'
wait_for 30 sh -c "curl -fsS --noproxy '*' \
    http://127.0.0.1:$AZ_WEB/api/v1/targets | grep -q 'oauth2: cannot fetch'" ||
    fail "no scrape failed for want of a token"
curl -fsS --noproxy '*' "http://127.0.0.1:$AZ_WEB/api/v1/targets" \
    >"$T/targets.json"
grep -qF "oauth2: cannot fetch a token from $AZ_URL/oauth2/token: HTTP 503: invalid_client: refused (503)" \
    "$T/targets.json" || fail "targets API lacks the reason: $(cat "$T/targets.json")"
az_set '{"oauth2_fail": []}'
served=$(az_q 's["scrapes"]')
az_wait 15 "s['scrapes'] >= $served + 3" || fail "scrapes did not recover"
[ "$(grep -c 'msg="oauth2 token request failed"' "$T/promlet.log")" -ge 1 ] ||
    fail "the failure was not logged"
[ "$(grep -c 'msg="oauth2 token request failed".*HTTP 503' "$T/promlet.log")" = 1 ] ||
    fail "the same failure logged more than once: $(grep -c 'HTTP 503' "$T/promlet.log")"
grep -q 'msg="oauth2 token request succeeded again"' "$T/promlet.log" ||
    fail "the recovery was not logged"
curl -fsS --noproxy '*' "http://127.0.0.1:$AZ_WEB/metrics" >"$T/metrics.txt" ||
    fail "promlet /metrics"
grep -q '^promlet_oauth2_token_requests_total{result="success"} [1-9]' \
    "$T/metrics.txt" || fail "no successful token request counted"
grep -q '^promlet_oauth2_token_requests_total{result="failure"} [1-9]' \
    "$T/metrics.txt" || fail "no failed token request counted"

# ---- a form-encoded token endpoint ----------------------------------------
# Go's oauth2 reads application/x-www-form-urlencoded answers, errors
# included (GitHub's endpoint answers that way); so must promlet.
az_set '{"oauth2_form": true, "oauth2_fail": [400]}'
n=$(az_q 'len(s["issued"])')
az_revoke
az_wait 15 "s['form_answers'] >= 2 and len(s['issued']) > $n and
    any(x['token'] in [i['token'] for i in s['issued'][$n:]]
    for x in ok(s))" ||
    fail "no token from a form answer was used: $(az_q 's["oauth2"][-3:]')"
grep -q 'msg="oauth2 token request failed".*err="oauth2: cannot fetch a token from [^ ]*: HTTP 400: invalid_client: refused (400)"' \
    "$T/promlet.log" || fail "the form-encoded error was not read"
served=$(az_q 's["scrapes"]')
az_wait 15 "s['scrapes'] >= $served + 3" ||
    fail "scrapes stopped with form-encoded tokens"
az_set '{"oauth2_form": false}'

# ---- nothing lost, nothing leaked -----------------------------------------
served=$(az_q 's["scrapes"]')
az_wait 15 "len(s['counter_values']) > 0 and
    max(s['counter_values']) >= $served" || fail "scrape $served never arrived"
az_q 'min(s["counter_values"]) <= 2 and sorted(s["counter_values"]) ==
    list(range(min(s["counter_values"]), max(s["counter_values"]) + 1))' \
    >/dev/null || fail "samples lost: $(az_q 's["counter_values"]')"
curl -fsS --noproxy '*' "http://127.0.0.1:$AZ_WEB/api/v1/status/config" \
    >"$T/config.out" || fail "/api/v1/status/config"
grep -q 'client_secret_file' "$T/config.out" || fail "no oauth2 in the config"
az_q '"\n".join(t for t in s["tokens"])' >"$T/tokens.txt"
while read -r tok; do
	az_log_lacks "$tok"
done <"$T/tokens.txt"
az_log_lacks "$SECRET" "$NEW"
pass
