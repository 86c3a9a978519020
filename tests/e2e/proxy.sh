#!/bin/sh
# proxy_url, no_proxy and proxy_connect_header, as Prometheus's client
# uses them, through a recording forward proxy (fake_proxy.py):
#
# - a scrape of an http:// target through the proxy is an absolute-form
#   GET, and carries no proxy_connect_header (there is no CONNECT);
# - a job whose target matches no_proxy goes straight to it;
# - a remote write to an https:// receiver is tunnelled by a CONNECT that
#   carries the proxy_connect_header lines, and its samples arrive;
# - the proxy's secrets never reach the log or /api/v1/status/config.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
command -v openssl >/dev/null || skip "no openssl CLI"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=promlet.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" >"$T/openssl.out" 2>&1 ||
    fail "openssl: $(cat "$T/openssl.out")"
printf 'via_proxy 1\n' >"$T/a.prom"
printf 'direct 1\n' >"$T/b.prom"
fake_targets_start "$T/targets.port" "file:$T/a.prom" "file:$T/b.prom"
PA=$(echo $TARGET_PORTS | cut -d' ' -f1)
PB=$(echo $TARGET_PORTS | cut -d' ' -f2)
fake_receiver_start receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
    "/push=$T/recv.jsonl"
start proxy "$PY" "$HELPERS/fake_proxy.py" --port-file "$T/proxy.port" \
    --log "$T/proxy.jsonl"
wait_for 10 test -s "$T/proxy.port" || fail "fake_proxy did not start"
PROXY=http://127.0.0.1:$(cat "$T/proxy.port")
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOF
global: {scrape_interval: 500ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: via
    proxy_url: $PROXY
    proxy_connect_header: {X-Scrape-Proxy: [SCRAPE-PROXY-SECRET]}
    static_configs: [{targets: ['127.0.0.1:$PA']}]
  - job_name: direct
    proxy_url: $PROXY
    no_proxy: 127.0.0.1
    static_configs: [{targets: ['127.0.0.1:$PB']}]
remote_write:
  - url: https://127.0.0.1:$RECV_PORT/push
    proxy_url: $PROXY
    proxy_connect_header:
      X-Proxy-Token: [RW-PROXY-SECRET, second]
    tls_config: {insecure_skip_verify: true}
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
EOF
start_promlet

# arrived NAME: a sample of series NAME reached the receiver.
arrived() {
	grep -q "\"__name__\", \"$1\"" "$T/recv.jsonl" 2>/dev/null
}
wait_for 15 arrived via_proxy || fail "no sample of the proxied scrape arrived"
wait_for 15 arrived direct || fail "no sample of the no_proxy job arrived"
sleep 1
$PY - "$T/proxy.jsonl" "$PA" "$PB" "$RECV_PORT" <<'ZZPY' || fail "what the proxy saw"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pa, pb, rp = sys.argv[2:5]
bad = []
gets = [r for r in recs if r["method"] == "GET"]
if not [r for r in gets if r["target"] == "http://127.0.0.1:%s/metrics" % pa]:
    bad.append("no absolute-form GET of the proxied target")
if [r for r in gets if "x-scrape-proxy" in r["headers"]]:
    bad.append("proxy_connect_header sent without a CONNECT")
if [r for r in recs if ":%s" % pb in r["target"]]:
    bad.append("the no_proxy target went through the proxy")
conns = [r for r in recs if r["method"] == "CONNECT"]
if not conns:
    bad.append("no CONNECT for the https receiver")
for r in conns:
    if r["target"] != "127.0.0.1:%s" % rp:
        bad.append("CONNECT to %s" % r["target"])
    if r["headers"].get("x-proxy-token") != "RW-PROXY-SECRET, second":
        bad.append("CONNECT headers %s" % r["headers"])
    if "content-type" in r["headers"] or "content-encoding" in r["headers"]:
        bad.append("the request's own headers on the CONNECT")
print("proxy: %d GET, %d CONNECT" % (len(gets), len(conns)))
for b in bad[:5]:
    print(b)
sys.exit(1 if bad else 0)
ZZPY

curl -fsS "http://$WEB/api/v1/status/config" >"$T/config.out" ||
    fail "no /api/v1/status/config"
grep -q 'proxy_connect_header' "$T/config.out" ||
    fail "proxy_connect_header not in the config"
if grep -q 'PROXY-SECRET' "$T/config.out" "$T/promlet.log"; then
	fail "a proxy secret leaked"
fi
pass
