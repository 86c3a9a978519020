#!/bin/sh
# tls_config.server_name and max_version, as Go's client applies them:
# against a receiver on 127.0.0.1 whose certificate names only
# promlet.test, server_name makes the handshake send that name (SNI) and
# verify the certificate against it, while the connection still goes to
# the URL's address; without it the certificate does not match and
# nothing is accepted. max_version caps the protocol the handshake picks.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
command -v openssl >/dev/null || skip "no openssl CLI"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=promlet.test \
    -addext subjectAltName=DNS:promlet.test -keyout "$T/key.pem" \
    -out "$T/cert.pem" >"$T/openssl.out" 2>&1 ||
    fail "openssl: $(cat "$T/openssl.out")"
fake_receiver_start receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
    "/named=$T/named.jsonl" "/tls12=$T/tls12.jsonl" "/plain=$T/plain.jsonl"
WEB=127.0.0.1:$(free_port)
R=https://127.0.0.1:$RECV_PORT
cat >"$T/promlet.yml" <<EOF
global: {scrape_interval: 500ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['$WEB']}]
remote_write:
  - url: $R/named
    name: named
    tls_config: {ca_file: $T/cert.pem, server_name: promlet.test}
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
  - url: $R/tls12
    name: tls12
    tls_config: {ca_file: $T/cert.pem, server_name: promlet.test,
                 max_version: TLS12}
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
  - url: $R/plain
    name: plain
    tls_config: {ca_file: $T/cert.pem}
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
EOF
start_promlet
accepted() { [ -s "$1" ] && grep -q '"accepted": true' "$1"; }
wait_for 15 accepted "$T/named.jsonl" || fail "nothing accepted with server_name"
wait_for 15 accepted "$T/tls12.jsonl" || fail "nothing accepted with max_version"
sleep 1
accepted "$T/plain.jsonl" && fail "accepted without server_name"
grep -q "remote_name=plain.*certificate subject name matches target host name '127.0.0.1'" \
    "$T/promlet.log" || fail "no certificate error logged for the plain endpoint"
$PY - "$T/named.jsonl" "$T/tls12.jsonl" <<'PYEOF' || fail "handshakes"
import json, sys
bad = []
for path, want in ((sys.argv[1], None), (sys.argv[2], "TLSv1.2")):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    for r in recs:
        if r.get("tls_sni") != "promlet.test":
            bad.append("%s: SNI %r" % (path, r.get("tls_sni")))
        if want and r.get("tls_version") != want:
            bad.append("%s: %r, want %s" % (path, r.get("tls_version"), want))
    print("%s: %d requests, %s" % (path.rsplit("/", 1)[1], len(recs),
          sorted({r.get("tls_version") for r in recs})))
for b in bad[:5]:
    print("FAIL " + b)
sys.exit(1 if bad else 0)
PYEOF
pass
