#!/usr/bin/python3
"""Fake Azure identity endpoints and a fake Azure Monitor ingestion endpoint.

One HTTP server on loopback answers, with the documented wire formats:

  GET  /metadata/identity/oauth2/token          IMDS managed identity
  GET  /arc/metadata/identity/oauth2/token      Azure Arc HIMDS (401 challenge
                                                 naming a key file, then Basic)
  POST /{tenant}/oauth2/v2.0/token              Entra ID client credentials:
                                                 client_secret, certificate
                                                 assertion (PS256, verified with
                                                 --cert), workload identity
                                                 (assertion = the federated
                                                 token file's content)
  POST /oauth2/token                            a generic OAuth 2.0 token endpoint
                                                 (client credentials; the client
                                                 in a Basic header or the form;
                                                 --oauth2-refuse-basic answers a
                                                 Basic header with 401)
  POST .../api/v1/write                         ingestion: checks Authorization:
                                                 Bearer <live token>, decodes the
                                                 remote write body and records it
  GET  /metrics                                 a scrape target: one counter that
                                                 grows by one per scrape (with
                                                 --metrics-auth only for a live
                                                 Bearer token; else 401)
  GET  /control/state                           everything seen, as JSON
  POST /control/set                             change failure modes (JSON body)
  POST /control/revoke                          revoke every token issued so far

Failure modes (flags, or keys of /control/set): imds_fail / arc_fail /
token_fail / oauth2_fail / ingest_fail are lists of HTTP statuses answered, in order, to
the next requests of that kind; expires_in and refresh_in shape new tokens;
arc_realm replaces the challenge's key path; oauth2_form makes the generic
endpoint answer form-encoded.

Also: `fake_azure.py gencert KEY_AND_CERT.pem CERT.pem` writes a test RSA key
with a self-signed certificate (for the certificate credential).

Only the Python standard library plus Debian's python3-cryptography and
python3-snappy are used.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {}
CONF = {}


def now():
    return time.time()


# ---- remote write decoding (protobuf by hand: WriteRequest/TimeSeries) ----

def pb_fields(data):
    """Yield (field number, wire type, value) of one protobuf message."""
    i = 0
    n = len(data)
    while i < n:
        key, i = pb_varint(data, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = pb_varint(data, i)
        elif wt == 1:
            v = data[i:i + 8]
            i += 8
        elif wt == 2:
            ln, i = pb_varint(data, i)
            v = data[i:i + ln]
            i += ln
        elif wt == 5:
            v = data[i:i + 4]
            i += 4
        else:
            raise ValueError("bad wire type %d" % wt)
        yield field, wt, v


def pb_varint(data, i):
    shift = 0
    result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def decode_write_request(body):
    import snappy
    import struct
    raw = snappy.uncompress(body)
    series = []
    for field, _, ts in pb_fields(raw):
        if field != 1:
            continue
        labels = {}
        samples = []
        for f2, _, v in pb_fields(ts):
            if f2 == 1:
                name = value = ""
                for f3, _, lv in pb_fields(v):
                    if f3 == 1:
                        name = lv.decode()
                    elif f3 == 2:
                        value = lv.decode()
                labels[name] = value
            elif f2 == 2:
                val = 0.0
                tms = 0
                for f3, wt, sv in pb_fields(v):
                    if f3 == 1 and wt == 1:
                        val = struct.unpack("<d", sv)[0]
                    elif f3 == 2:
                        tms = sv
                samples.append((val, tms))
        series.append((labels, samples))
    return series


# ---- tokens -----------------------------------------------------------------

def issue_token(kind, extra=None):
    with LOCK:
        STATE["counter"] += 1
        tok = "fake.%s.%d.%s" % (kind, STATE["counter"], secrets.token_hex(12))
        exp_in = int(CONF["expires_in"])
        STATE["tokens"][tok] = {
            "kind": kind, "issued": now(), "expires": now() + exp_in,
            "revoked": False,
        }
        STATE["issued"].append({"kind": kind, "token": tok,
                                "time": now(), "expires_in": exp_in})
        refresh_in = CONF.get("refresh_in")
    return tok, exp_in, refresh_in


def token_ok(tok):
    with LOCK:
        t = STATE["tokens"].get(tok)
        if t is None:
            return "unknown token"
        if t["revoked"]:
            return "revoked token"
        if now() >= t["expires"]:
            return "expired token"
    return None


def pop_fail(key):
    with LOCK:
        seq = CONF.get(key) or []
        if seq:
            st = int(seq.pop(0))
            CONF[key] = seq
            return st
    return None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def read_stripped(path):
    with open(path, "rb") as f:
        return f.read().decode().rstrip("\r\n \t")


# ---- client assertion verification -------------------------------------------

def verify_assertion(jwt, aud):
    """Return None when the PS256 assertion is valid, else a reason."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    if not CONF.get("cert"):
        return "no certificate registered for this app"
    with open(CONF["cert"], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    parts = jwt.split(".")
    if len(parts) != 3:
        return "assertion is not a JWS compact serialization"
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except ValueError as e:
        return "assertion does not decode: %s" % e
    if header.get("alg") != "PS256":
        return "alg is %r, expected PS256" % header.get("alg")
    if header.get("typ") != "JWT":
        return "typ is not JWT"
    der = cert.public_bytes(serialization.Encoding.DER)
    if header.get("x5t#S256") != b64url(hashlib.sha256(der).digest()):
        return "x5t#S256 does not match the registered certificate"
    try:
        cert.public_key().verify(
            sig, (parts[0] + "." + parts[1]).encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256())
    except InvalidSignature:
        return "signature does not verify"
    t = now()
    if claims.get("aud") != aud:
        return "aud is %r, expected %r" % (claims.get("aud"), aud)
    if claims.get("iss") != CONF["client_id"] or \
            claims.get("sub") != CONF["client_id"]:
        return "iss/sub are not the client id"
    for k in ("nbf", "exp", "iat", "jti"):
        if k not in claims:
            return "claim %s missing" % k
    if claims["nbf"] > t + 60:
        return "assertion not yet valid"
    if claims["exp"] <= t:
        return "assertion expired"
    if claims["exp"] - claims["nbf"] > 600 + 5:
        return "assertion lives longer than 10 minutes"
    with LOCK:
        if claims["jti"] in STATE["jtis"]:
            return "jti replayed"
        STATE["jtis"].add(claims["jti"])
    return None


# ---- HTTP -----------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-azure/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%.3f %s\n" % (now(), fmt % args))

    def reply(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record(self, key, **kw):
        kw["time"] = now()
        with LOCK:
            STATE[key].append(kw)

    def oauth_error(self, status, error, code, desc):
        self.record("entra_errors", status=status, error=error, code=code)
        self.reply(status, {
            "error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: 0\r\n"
                                 "Correlation ID: 0\r\nTimestamp: x"
                                 % (code, desc),
            "error_codes": [code], "timestamp": "x", "trace_id": "0",
            "correlation_id": "0",
            "error_uri": "https://login.microsoftonline.com/error?code=%d"
                         % code})

    def mi_token(self, kind, query):
        tok, exp_in, _ = issue_token(kind)
        body = {"access_token": tok, "refresh_token": "",
                "expires_in": str(exp_in),
                "expires_on": str(int(now()) + exp_in),
                "not_before": str(int(now())),
                "resource": query.get("resource", [""])[0],
                "token_type": "Bearer"}
        cid = query.get("client_id", [None])[0]
        if cid is not None and (kind == "imds" or CONF.get("arc_echo")):
            body["client_id"] = cid
        self.reply(200, body)

    # -- GET --------------------------------------------------------------
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if u.path == "/metadata/identity/oauth2/token":
            return self.imds(q)
        if u.path == "/arc/metadata/identity/oauth2/token":
            return self.arc(q)
        if u.path == "/metrics":
            if CONF.get("metrics_auth"):
                tok, why = self.bearer()
                self.record("metrics", status=401 if why else 200,
                            token=tok, why=why)
                if why is not None:
                    return self.reply(401, why + "\n", "text/plain")
            with LOCK:
                STATE["scrapes"] += 1
                n = STATE["scrapes"]
            return self.reply(
                200, "# TYPE azure_e2e_scrapes counter\n"
                     "azure_e2e_scrapes %d\n" % n,
                "text/plain; version=0.0.4")
        if u.path == "/control/state":
            with LOCK:
                out = dict(STATE)
                out["jtis"] = len(STATE["jtis"])
                out["tokens"] = {k: v for k, v in STATE["tokens"].items()}
                out["conf"] = {k: v for k, v in CONF.items()}
                out["now"] = now()
                out["counter_values"] = sorted(STATE["counter_values"])
                s = json.dumps(out)
            return self.reply(200, s)
        self.reply(404, {"error": "not_found"})

    def imds(self, q):
        st = pop_fail("imds_fail")
        hdr = {k.lower(): v for k, v in self.headers.items()}
        self.record("imds", status=st or 0,
                    client_id=q.get("client_id", [None])[0],
                    metadata=hdr.get("metadata"))
        if st is not None:
            return self.reply(st, {"error": "service_unavailable",
                                   "error_description": "scripted %d" % st})
        if hdr.get("metadata") != "true":
            return self.reply(400, {"error": "invalid_request",
                                    "error_description":
                                    "Required metadata header not specified"})
        if "x-forwarded-for" in hdr:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "proxied request"})
        if q.get("api-version") != ["2018-02-01"]:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "bad api-version"})
        if q.get("resource") != [CONF["resource"]]:
            return self.reply(400, {"error": "invalid_resource",
                                    "error_description":
                                    "AADSTS50001: resource %r not found"
                                    % q.get("resource")})
        want = CONF.get("imds_client_id")
        got = q.get("client_id", [None])[0]
        if want != got:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description":
                                    "Identity not found"})
        self.mi_token("imds", q)

    def arc(self, q):
        hdr = {k.lower(): v for k, v in self.headers.items()}
        auth = self.headers.get("Authorization")
        st = pop_fail("arc_fail")
        self.record("arc", status=st or 0, answered=auth is not None)
        if st is not None:
            return self.reply(st, {"error": "service_unavailable"})
        if hdr.get("metadata") != "true":
            return self.reply(400, {"error": "invalid_request",
                                    "error_description":
                                    "metadata header missing"})
        if q.get("api-version") != ["2020-06-01"]:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "bad api-version"})
        if q.get("resource") != [CONF["resource"]]:
            return self.reply(400, {"error": "invalid_resource"})
        if auth is None:
            key = secrets.token_urlsafe(32)
            path = os.path.join(CONF["arc_key_dir"],
                                "%s.key" % secrets.token_hex(8))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         int(CONF.get("arc_key_mode", "0640"), 8))
            os.write(fd, key.encode())
            os.close(fd)
            os.chmod(path, int(CONF.get("arc_key_mode", "0640"), 8))
            with LOCK:
                STATE["arc_keys"][key] = path
                STATE["arc_issued_keys"].append(key)
            realm = CONF.get("arc_realm") or path
            return self.reply(401, {"error": "unauthorized"},
                              headers={"WWW-Authenticate":
                                       "Basic realm=%s" % realm})
        with LOCK:
            path = None
            if auth.startswith("Basic "):
                path = STATE["arc_keys"].pop(auth[6:], None)
        if path is None:
            return self.reply(401, {"error": "unauthorized",
                                    "error_description": "bad key"})
        os.unlink(path)
        self.mi_token("arc", q)

    # -- POST -------------------------------------------------------------
    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        body = self.body()
        if u.path == "/control/set":
            upd = json.loads(body or b"{}")
            with LOCK:
                CONF.update(upd)
            return self.reply(200, {"ok": True})
        if u.path == "/control/revoke":
            with LOCK:
                for t in STATE["tokens"].values():
                    t["revoked"] = True
            return self.reply(200, {"ok": True})
        if "/api/v1/write" in u.path:
            return self.ingest(body)
        if u.path == "/oauth2/token":
            return self.oauth2(body)
        parts = u.path.split("/")
        if len(parts) == 5 and parts[2:] == ["oauth2", "v2.0", "token"]:
            return self.entra(urllib.parse.unquote(parts[1]), body)
        self.reply(404, {"error": "not_found"})

    def entra(self, tenant, body):
        ctype = self.headers.get("Content-Type", "")
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        kind = ("secret" if "client_secret" in f else
                "assertion" if "client_assertion" in f else "none")
        st = pop_fail("token_fail")
        self.record("entra", status=st or 0, tenant=tenant, kind=kind)
        if st is not None:
            return self.oauth_error(st, "temporarily_unavailable", 90006,
                                    "scripted failure")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.oauth_error(400, "invalid_request", 900144,
                                    "body is not form-encoded")
        if tenant != CONF["tenant"]:
            return self.oauth_error(400, "invalid_request", 90002,
                                    "Tenant '%s' not found." % tenant)
        if f.get("grant_type") != "client_credentials":
            return self.oauth_error(400, "unsupported_grant_type", 70003,
                                    "grant_type")
        if f.get("client_id") != CONF["client_id"]:
            return self.oauth_error(400, "unauthorized_client", 700016,
                                    "Application not found in the tenant.")
        if f.get("scope") != CONF["scope"]:
            return self.oauth_error(400, "invalid_scope", 70011,
                                    "The provided value for scope %s is "
                                    "not valid." % f.get("scope"))
        if kind == "secret":
            want = CONF.get("client_secret")
            if CONF.get("client_secret_file"):
                want = read_stripped(CONF["client_secret_file"])
            if f["client_secret"] != want:
                desc = "Invalid client secret provided."
                if CONF.get("echo_secret"):
                    # A hostile or buggy server: the client must scrub.
                    desc += " Got '%s'." % f["client_secret"]
                return self.oauth_error(401, "invalid_client", 7000215, desc)
            tok, exp_in, refresh_in = issue_token("secret")
        elif kind == "assertion":
            if f.get("client_assertion_type") != \
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return self.oauth_error(400, "invalid_request", 50027,
                                        "bad client_assertion_type")
            a = f["client_assertion"]
            if CONF.get("federated_token_file"):
                if a != read_stripped(CONF["federated_token_file"]):
                    return self.oauth_error(
                        400, "invalid_client", 700024,
                        "Client assertion is not within its valid time "
                        "range.")
                tok, exp_in, refresh_in = issue_token("workload")
            else:
                aud = "http://%s%s" % (self.headers.get("Host"),
                                       urllib.parse.urlsplit(self.path).path)
                why = verify_assertion(a, aud)
                if why is not None:
                    self.record("assertion_errors", reason=why)
                    return self.oauth_error(401, "invalid_client", 700027,
                                            "Client assertion failed "
                                            "signature validation: %s" % why)
                tok, exp_in, refresh_in = issue_token("certificate")
        else:
            return self.oauth_error(400, "invalid_client", 7000218,
                                    "The request body must contain the "
                                    "following parameter: 'client_assertion'"
                                    " or 'client_secret'.")
        out = {"token_type": "Bearer", "expires_in": exp_in,
               "ext_expires_in": exp_in, "access_token": tok}
        if refresh_in:
            out["refresh_in"] = int(refresh_in)
        self.reply(200, out)

    def oauth2(self, body):
        """RFC 6749 4.4 as Go's clientcredentials speaks it."""
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        auth = self.headers.get("Authorization") or ""
        style, cid, secret = "params", f.get("client_id"), \
            f.get("client_secret", "")
        if auth.startswith("Basic "):
            style = "header"
            pair = base64.b64decode(auth[6:]).decode()
            cid, _, secret = pair.partition(":")
            cid = urllib.parse.unquote_plus(cid)
            secret = urllib.parse.unquote_plus(secret)
        want = CONF.get("oauth2_client_secret")
        if CONF.get("oauth2_client_secret_file"):
            want = read_stripped(CONF["oauth2_client_secret_file"])
        params = {k: v for k, v in f.items()
                  if k not in ("client_id", "client_secret")}
        st = pop_fail("oauth2_fail")
        if st is None and style == "header" and CONF.get("oauth2_refuse_basic"):
            st = 401
        if st is None and (cid != CONF.get("oauth2_client_id") or
                           secret != want):
            st = 401
        if st is None and f.get("grant_type") != "client_credentials":
            st = 400
        self.record("oauth2", status=st or 200, style=style,
                    ctype=self.headers.get("Content-Type", ""),
                    params=params, secret_ok=secret == want)
        if st is not None:
            return self.oauth2_reply(st, {"error": "invalid_client",
                                          "error_description":
                                          "refused (%d)" % st})
        tok, exp_in, _ = issue_token("oauth2")
        self.oauth2_reply(200, {"access_token": tok, "token_type": "bearer",
                                "expires_in": exp_in})

    def oauth2_reply(self, status, out):
        """JSON, or with oauth2_form the form some endpoints (GitHub's)
        answer with, which Go's oauth2 reads by its Content-Type."""
        if not CONF.get("oauth2_form"):
            return self.reply(status, out)
        with LOCK:
            STATE["form_answers"] += 1
        self.reply(status, urllib.parse.urlencode(out),
                   ctype="application/x-www-form-urlencoded; charset=utf-8")

    def bearer(self):
        """The request's Bearer token, and why it is not live (or None)."""
        auth = self.headers.get("Authorization") or ""
        tok = auth[7:] if auth.startswith("Bearer ") else None
        return tok, "no bearer token" if tok is None else token_ok(tok)

    def ingest(self, body):
        tok, why = self.bearer()
        if why is not None:
            self.record("ingest", status=401, token=tok, why=why)
            return self.reply(401, {"error": {"code": "InvalidToken",
                                              "message": why}},
                              headers={"WWW-Authenticate":
                                       'Bearer error="invalid_token"'})
        st = pop_fail("ingest_fail")
        if st is not None:
            self.record("ingest", status=st, token=tok)
            return self.reply(st, {"error": {"code": "Scripted",
                                             "message": "scripted %d" % st}})
        try:
            series = decode_write_request(body)
        except Exception as e:  # noqa: BLE001 - report, do not crash
            self.record("ingest", status=400, token=tok, why=str(e))
            return self.reply(400, {"error": str(e)})
        n = sum(len(s) for _, s in series)
        with LOCK:
            STATE["samples"] += n
            for labels, samples in series:
                if labels.get("__name__") == "azure_e2e_scrapes":
                    for v, _ in samples:
                        # Stale markers are NaN.
                        if v == v:
                            STATE["counter_values"].add(int(v))
        self.record("ingest", status=200, token=tok, samples=n)
        self.reply(200, "", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def gencert(key_and_cert, cert_only):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "promlet-e2e")])
    t = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(t - datetime.timedelta(minutes=5))
            .not_valid_after(t + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem_cert = cert.public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_and_cert, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, pem_key + pem_cert)
    os.close(fd)
    with open(cert_only, "wb") as f:
        f.write(pem_cert)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "gencert":
        gencert(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--tenant", default="tenant-1")
    p.add_argument("--client-id",
                   default="00000000-0000-0000-0000-000000000001")
    p.add_argument("--client-secret")
    p.add_argument("--client-secret-file")
    p.add_argument("--cert", help="PEM certificate assertions must match")
    p.add_argument("--federated-token-file")
    p.add_argument("--imds-client-id")
    p.add_argument("--arc-key-dir")
    p.add_argument("--arc-realm")
    p.add_argument("--arc-echo", action="store_true")
    p.add_argument("--resource", default="https://monitor.azure.com/")
    p.add_argument("--scope", default="https://monitor.azure.com//.default")
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--refresh-in", type=int)
    p.add_argument("--imds-fail", default="")
    p.add_argument("--arc-fail", default="")
    p.add_argument("--token-fail", default="")
    p.add_argument("--ingest-fail", default="")
    p.add_argument("--echo-secret", action="store_true")
    p.add_argument("--oauth2-client-id")
    p.add_argument("--oauth2-client-secret")
    p.add_argument("--oauth2-client-secret-file")
    p.add_argument("--oauth2-refuse-basic", action="store_true")
    p.add_argument("--oauth2-fail", default="")
    p.add_argument("--metrics-auth", action="store_true")
    a = p.parse_args()

    def seq(s):
        return [int(x) for x in s.split(",") if x]
    CONF.update({
        "tenant": a.tenant, "client_id": a.client_id,
        "client_secret": a.client_secret,
        "client_secret_file": a.client_secret_file, "cert": a.cert,
        "federated_token_file": a.federated_token_file,
        "imds_client_id": a.imds_client_id,
        "arc_key_dir": a.arc_key_dir, "arc_realm": a.arc_realm,
        "arc_echo": a.arc_echo, "resource": a.resource, "scope": a.scope,
        "expires_in": a.expires_in, "refresh_in": a.refresh_in,
        "imds_fail": seq(a.imds_fail), "arc_fail": seq(a.arc_fail),
        "token_fail": seq(a.token_fail), "ingest_fail": seq(a.ingest_fail),
        "echo_secret": a.echo_secret,
        "oauth2_client_id": a.oauth2_client_id,
        "oauth2_client_secret": a.oauth2_client_secret,
        "oauth2_client_secret_file": a.oauth2_client_secret_file,
        "oauth2_refuse_basic": a.oauth2_refuse_basic,
        "oauth2_fail": seq(a.oauth2_fail), "metrics_auth": a.metrics_auth,
    })
    STATE.update({"counter": 0, "tokens": {}, "issued": [], "imds": [],
                  "arc": [], "entra": [], "ingest": [], "samples": 0,
                  "scrapes": 0, "counter_values": set(), "jtis": set(),
                  "arc_keys": {}, "assertion_errors": [],
                  "entra_errors": [], "arc_issued_keys": [],
                  "oauth2": [], "metrics": [], "form_answers": 0})
    srv = Server(("127.0.0.1", a.port), Handler)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    sys.stderr.write("fake_azure listening on 127.0.0.1:%d\n"
                     % srv.server_address[1])
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
