#!/bin/sh
# tls_config.server_name and max_version, as Go's client applies them:
# against a receiver on 127.0.0.1 whose certificate names only
# promlet.test, server_name makes the handshake send that name (SNI) and
# verify the certificate against it, while the connection still goes to
# the URL's address; without it the certificate does not match and
# nothing is accepted. max_version caps the protocol the handshake picks.
# Client certificates, from files (cert_file, key_file) and inline (ca,
# cert, key as PEM in the config), are presented and verified by the
# receiver; the inline key never shows in /api/v1/status/config.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
command -v openssl >/dev/null || skip "no openssl CLI"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=promlet.test \
    -addext subjectAltName=DNS:promlet.test -keyout "$T/key.pem" \
    -out "$T/cert.pem" >"$T/openssl.out" 2>&1 ||
    fail "openssl: $(cat "$T/openssl.out")"
# A client CA, and two clients it signed: one in files, one inline.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=client-ca \
    -keyout "$T/cca.key" -out "$T/cca.pem" >>"$T/openssl.out" 2>&1 ||
    fail "openssl: $(cat "$T/openssl.out")"
for c in files inline; do
	openssl req -newkey rsa:2048 -nodes -subj "/CN=promlet-$c" \
	    -keyout "$T/$c.key" -out "$T/$c.csr" >>"$T/openssl.out" 2>&1 &&
	openssl x509 -req -in "$T/$c.csr" -CA "$T/cca.pem" -CAkey \
	    "$T/cca.key" -CAcreateserial -days 1 -out "$T/$c.pem" \
	    >>"$T/openssl.out" 2>&1 || fail "openssl: $(cat "$T/openssl.out")"
done
# "key: |" and the PEM's lines under it, for the YAML below.
block() {
	printf '%s: |\n' "$1"
	sed 's/^/        /' "$2"
}
fake_receiver_start receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
    --tls-client-ca "$T/cca.pem" \
    "/named=$T/named.jsonl" "/tls12=$T/tls12.jsonl" "/plain=$T/plain.jsonl" \
    "/mtls=$T/mtls.jsonl" "/inline=$T/inline.jsonl"
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
  - url: $R/mtls
    name: mtls
    tls_config: {ca_file: $T/cert.pem, server_name: promlet.test,
                 cert_file: $T/files.pem, key_file: $T/files.key}
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
  - url: $R/inline
    name: inline
    queue_config: {batch_send_deadline: 200ms, max_backoff: 500ms}
    tls_config:
      server_name: promlet.test
      $(block ca "$T/cert.pem")
      $(block cert "$T/inline.pem")
      $(block key "$T/inline.key")
EOF
start_promlet
accepted() { [ -s "$1" ] && grep -q '"accepted": true' "$1"; }
wait_for 15 accepted "$T/named.jsonl" || fail "nothing accepted with server_name"
wait_for 15 accepted "$T/tls12.jsonl" || fail "nothing accepted with max_version"
wait_for 15 accepted "$T/mtls.jsonl" || fail "nothing accepted with cert_file"
wait_for 15 accepted "$T/inline.jsonl" || fail "nothing accepted inline"
sleep 1
accepted "$T/plain.jsonl" && fail "accepted without server_name"
grep -q "remote_name=plain.*certificate subject name matches target host name '127.0.0.1'" \
    "$T/promlet.log" || fail "no certificate error logged for the plain endpoint"
curl -fsS --noproxy '*' "http://$WEB/api/v1/status/config" >"$T/config.out" ||
    fail "/api/v1/status/config"
grep -q 'BEGIN CERTIFICATE' "$T/config.out" || fail "no inline cert in the dump"
grep -q 'PRIVATE KEY' "$T/config.out" && fail "the inline key is in the dump"
grep -q 'PRIVATE KEY' "$T/promlet.log" && fail "the inline key is in the log"
$PY - "$T" <<'PYEOF' || fail "handshakes"
import json, sys
bad = []
# endpoint, TLS version wanted, client certificate wanted
for ep, want, client in (("named", None, None), ("tls12", "TLSv1.2", None),
                         ("mtls", None, "promlet-files"),
                         ("inline", None, "promlet-inline")):
    path = "%s/%s.jsonl" % (sys.argv[1], ep)
    recs = [json.loads(l) for l in open(path) if l.strip()]
    for r in recs:
        if r.get("tls_sni") != "promlet.test":
            bad.append("%s: SNI %r" % (path, r.get("tls_sni")))
        if want and r.get("tls_version") != want:
            bad.append("%s: %r, want %s" % (path, r.get("tls_version"), want))
        if r.get("tls_client") != client:
            bad.append("%s: client %r, want %r" % (path, r.get("tls_client"),
                                                  client))
    print("%s: %d requests, %s" % (path.rsplit("/", 1)[1], len(recs),
          sorted({r.get("tls_version") for r in recs})))
for b in bad[:5]:
    print("FAIL " + b)
sys.exit(1 if bad else 0)
PYEOF
pass
