#!/usr/bin/python3
"""A fake Kubernetes API server for kubernetes_sd tests (stdlib only).

    fake_k8s.py --port-file F --token-file TF [--objects FILE] [--log FILE]
                [--bookmark-interval S] [--max-page N]

Serves, on 127.0.0.1, for the resources pods, nodes, services, endpoints
and endpointslices (discovery.k8s.io/v1):

    GET /api/v1/pods                     list, all namespaces
    GET /api/v1/namespaces/NS/pods       list, one namespace
    GET /api/v1/nodes                    list (cluster scoped)
    GET /apis/discovery.k8s.io/v1/[namespaces/NS/]endpointslices
    ...?watch=1&resourceVersion=RV       watch: chunked JSON lines
        {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {..}}

Query parameters honoured: labelSelector (k=v, k==v, k!=v, k, !k,
k in (a,b), k notin (a,b)), fieldSelector (dotted paths such as
spec.nodeName=X, metadata.name=X, with = == !=), limit/continue (pages;
--max-page caps the page size so paging can be tested), resourceVersion,
allowWatchBookmarks (a BOOKMARK every --bookmark-interval seconds) and
timeoutSeconds. A watch sees an object that stops matching its selectors
as DELETED and one that starts matching as ADDED, as the real server
does. Every object gets metadata.resourceVersion from one global counter.

Every API request must carry "Authorization: Bearer T" where T is the
content of --token-file, read again for each request (so a test rotates
the token by rewriting the file); others get 401 with a Status body.

Control endpoints (no auth), for the test driving the server:
    POST /fake/apply   {"kind": "pods", "object": {...}}  add or modify
    POST /fake/delete  {"kind": "pods", "namespace": NS, "name": N}
    POST /fake/expire  {"mode": "event"|"http"}  forget the history: every
                       open watch ends, with an ERROR 410 event (mode
                       event) or silently so that the client's next watch
                       from its old resourceVersion gets HTTP 410 (http)
    POST /fake/drop    end every open watch cleanly (like a restart)
    GET  /fake/stats   {"counts": {"list:pods": N, "watch:pods": N, ..},
                        "auth_failures": N, "active_watches": N,
                        "rv": current resourceVersion}
With --log, every API request is appended as a JSON line: time, verb
(list/watch), kind, namespace, query parameters, whether the token
matched, the status sent.
"""

import argparse
import base64
import copy
import http.server
import json
import os
import socketserver
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

KINDS = {
    "pods": ("v1", "Pod", True),
    "nodes": ("v1", "Node", False),
    "services": ("v1", "Service", True),
    "endpoints": ("v1", "Endpoints", True),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice", True),
}


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {k: {} for k in KINDS}
        # (rv, kind, type, old object or None, new object)
        self.history = []
        self.compacted = 0
        self.generation = 0      # bumped to end every open watch
        self.gone_mode = None    # "event" while ending watches with 410
        self.counts = {}
        self.auth_failures = 0
        self.active = 0

    @staticmethod
    def key(kind, obj):
        md = obj.get("metadata", {})
        if KINDS[kind][2]:
            return "%s/%s" % (md.get("namespace", ""), md.get("name", ""))
        return md.get("name", "")

    def apply(self, kind, obj):
        with self.cond:
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            obj["kind"] = KINDS[kind][1]
            obj["apiVersion"] = KINDS[kind][0]
            k = self.key(kind, obj)
            old = self.objects[kind].get(k)
            self.objects[kind][k] = obj
            self.history.append((self.rv, kind,
                                 "MODIFIED" if old else "ADDED", old, obj))
            self.cond.notify_all()
            return self.rv

    def delete(self, kind, ns, name):
        with self.cond:
            k = "%s/%s" % (ns, name) if KINDS[kind][2] else name
            old = self.objects[kind].pop(k, None)
            if old is None:
                return None
            self.rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, kind, "DELETED", old, gone))
            self.cond.notify_all()
            return self.rv


def split_top(s):
    """Split on commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [t.strip() for t in out if t.strip()]


def label_match(sel, labels):
    for term in split_top(sel or ""):
        words = term.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            vals = [v.strip() for v in
                    " ".join(words[2:]).strip("()").split(",")]
            have = words[0] in labels and labels[words[0]] in vals
            if (words[1] == "in") != have:
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part, "")
    return cur if isinstance(cur, str) else ""


def field_match(sel, obj):
    for term in split_top(sel or ""):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if field_value(obj, k.strip()) == v.strip():
                return False
        else:
            k, v = term.replace("==", "=").split("=", 1)
            if field_value(obj, k.strip()) != v.strip():
                return False
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing -------------------------------------------------------
    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1",
                              "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason,
                              "code": code})
        return code

    def chunk(self, obj):
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def record(self, verb, kind, ns, q, token_ok, status):
        st = self.server.state
        with st.cond:
            if token_ok:
                name = "%s:%s" % (verb, kind)
                st.counts[name] = st.counts.get(name, 0) + 1
        if self.server.log:
            line = json.dumps({"t": time.time(), "verb": verb, "kind": kind,
                               "ns": ns, "query": q, "token_ok": token_ok,
                               "status": status})
            with self.server.log_lock:
                with open(self.server.log, "a") as f:
                    f.write(line + "\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    # ---- control --------------------------------------------------------
    def do_POST(self):
        st = self.server.state
        path = urlsplit(self.path).path
        try:
            req = self.body()
        except ValueError as e:
            self.send_json(400, {"error": str(e)})
            return
        if path == "/fake/apply":
            rv = st.apply(req["kind"], req["object"])
            self.send_json(200, {"rv": rv})
        elif path == "/fake/delete":
            rv = st.delete(req["kind"], req.get("namespace", ""),
                           req["name"])
            self.send_json(200 if rv else 404, {"rv": rv})
        elif path == "/fake/expire":
            with st.cond:
                # Every resourceVersion handed out so far is now too old.
                st.rv += 1
                st.compacted = st.rv
                st.history = []
                st.gone_mode = req.get("mode", "event")
                st.generation += 1
                st.cond.notify_all()
            self.send_json(200, {"compacted": st.compacted})
        elif path == "/fake/drop":
            with st.cond:
                st.gone_mode = None
                st.generation += 1
                st.cond.notify_all()
            self.send_json(200, {})
        else:
            self.send_json(404, {"error": "no such control"})

    # ---- API ------------------------------------------------------------
    def route(self, path):
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
        elif parts[:3] == ["apis", "discovery.k8s.io", "v1"]:
            rest = parts[3:]
        else:
            return None
        ns = None
        if len(rest) == 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if len(rest) != 1 or rest[0] not in KINDS:
            return None
        kind = rest[0]
        if (kind == "endpointslices") != (parts[0] == "apis"):
            return None
        if ns is not None and not KINDS[kind][2]:
            return None
        return kind, ns

    def do_GET(self):
        st = self.server.state
        u = urlsplit(self.path)
        if u.path == "/fake/stats":
            with st.cond:
                self.send_json(200, {"counts": st.counts,
                                     "auth_failures": st.auth_failures,
                                     "active_watches": st.active,
                                     "rv": st.rv})
            return
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        r = self.route(u.path)
        watch = q.get("watch") in ("1", "true")
        verb = "watch" if watch else "list"
        if r is None:
            self.record(verb, None, None, q, None,
                        self.status(404, "NotFound", "no such resource"))
            return
        kind, ns = r
        try:
            with open(self.server.token_file) as f:
                token = f.read().strip()
        except OSError:
            token = None
        auth = self.headers.get("Authorization", "")
        if token is None or auth != "Bearer " + token:
            with st.cond:
                st.auth_failures += 1
            self.record(verb, kind, ns, q, False,
                        self.status(401, "Unauthorized", "Unauthorized"))
            return
        if watch:
            self.watch(kind, ns, q)
        else:
            self.list(kind, ns, q)

    def matches(self, kind, ns, q, obj):
        if obj is None:
            return False
        md = obj.get("metadata", {})
        if ns is not None and md.get("namespace") != ns:
            return False
        return (label_match(q.get("labelSelector"), md.get("labels") or {})
                and field_match(q.get("fieldSelector"), obj))

    def list(self, kind, ns, q):
        st = self.server.state
        limit = int(q.get("limit") or 0)
        if self.server.max_page:
            limit = min(limit or self.server.max_page, self.server.max_page)
        offset, snap = 0, None
        with st.cond:
            if q.get("continue"):
                snap, offset = (int(x) for x in base64.b64decode(
                    q["continue"]).decode().split(":"))
                if snap < st.compacted:
                    self.record("list", kind, ns, q, True, self.status(
                        410, "Expired", "continue token expired"))
                    return
            items = sorted((o for o in st.objects[kind].values()
                            if self.matches(kind, ns, q, o)),
                           key=lambda o: State.key(kind, o))
            rv = snap or st.rv
        page = items[offset:offset + limit] if limit else items[offset:]
        md = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            md["continue"] = base64.b64encode(
                ("%d:%d" % (rv, offset + limit)).encode()).decode()
        listed = []
        for o in page:
            o = copy.deepcopy(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            listed.append(o)
        self.send_json(200, {"kind": KINDS[kind][1] + "List",
                             "apiVersion": KINDS[kind][0], "metadata": md,
                             "items": listed})
        self.record("list", kind, ns, q, True, 200)

    def watch(self, kind, ns, q):
        st = self.server.state
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        deadline = time.time() + int(q.get("timeoutSeconds") or 1800)
        with st.cond:
            start = q.get("resourceVersion")
            if start not in (None, "", "0") and int(start) < st.compacted:
                if st.gone_mode == "http":
                    self.record("watch", kind, ns, q, True, self.status(
                        410, "Expired", "too old resource version"))
                    return
                sent_gone = True
            else:
                sent_gone = False
            gen = st.generation
            st.active += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.record("watch", kind, ns, q, True, 200)
        try:
            if sent_gone:
                self.chunk({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "message": "too old resource "
                    "version: %s (%d)" % (start, st.compacted),
                    "reason": "Expired", "code": 410}})
                return
            if start in (None, "", "0"):
                with st.cond:
                    pos = st.rv
                    initial = [o for o in st.objects[kind].values()
                               if self.matches(kind, ns, q, o)]
                for o in initial:
                    self.chunk({"type": "ADDED", "object": o})
            else:
                pos = int(start)
            last_bookmark = time.time()
            while True:
                out = []
                with st.cond:
                    if st.generation != gen:
                        if st.gone_mode == "event":
                            out.append({"type": "ERROR", "object": {
                                "kind": "Status", "apiVersion": "v1",
                                "metadata": {}, "status": "Failure",
                                "message": "too old resource version",
                                "reason": "Expired", "code": 410}})
                        else:
                            out.append(None)
                    else:
                        for rv, k, typ, old, new in st.history:
                            if rv <= pos or k != kind:
                                continue
                            was = self.matches(kind, ns, q, old)
                            now = self.matches(kind, ns, q, new)
                            if typ == "DELETED":
                                if was:
                                    out.append({"type": "DELETED",
                                                "object": new})
                            elif now:
                                out.append({"type": "MODIFIED" if was else
                                            "ADDED", "object": new})
                            elif was:
                                out.append({"type": "DELETED",
                                            "object": new})
                        pos = max(pos, st.rv)
                        if not out:
                            interval = self.server.bookmark_interval
                            if (bookmarks and interval and time.time() -
                                    last_bookmark >= interval):
                                last_bookmark = time.time()
                                out.append({"type": "BOOKMARK", "object": {
                                    "kind": KINDS[kind][1],
                                    "apiVersion": KINDS[kind][0],
                                    "metadata": {"resourceVersion":
                                                 str(st.rv)}}})
                            elif time.time() >= deadline:
                                out.append(None)
                            else:
                                st.cond.wait(0.2)
                ended = False
                for ev in out:
                    if ev is None:
                        ended = True
                        break
                    self.chunk(ev)
                    if ev["type"] == "ERROR":
                        ended = True
                        break
                if ended:
                    return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        finally:
            with st.cond:
                st.active -= 1
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--objects")
    ap.add_argument("--log")
    ap.add_argument("--bookmark-interval", type=float, default=2.0)
    ap.add_argument("--max-page", type=int, default=0)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()

    st = State()
    if a.objects:
        with open(a.objects) as f:
            for kind, objs in json.load(f).items():
                for o in objs:
                    st.apply(kind, o)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.state = st
    srv.token_file = a.token_file
    srv.log = a.log
    srv.log_lock = threading.Lock()
    srv.bookmark_interval = a.bookmark_interval
    srv.max_page = a.max_page
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
