#!/bin/sh
# kubernetes_sd against a fake API server (tests/helpers/fake_k8s.py):
# pod, node and endpoints roles with field/label selectors, ${NODE_NAME}
# from the environment, paged lists, pods added and removed while running
# (targets and stale markers), watch expiry (410 as an event and as an
# HTTP status) answered by a relist, bookmarks, and a rotated bearer
# token picked up from authorization.credentials_file on reconnect.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY "$HELPERS/fake_target.py" --port-file "$T/ports" counter counter \
    gauge42 now >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
$PY "$HELPERS/fake_receiver.py" --port-file "$T/rport" "/push=$T/recv.jsonl" \
    >"$T/receiver.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/rport" || fail "receiver did not start"
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge 4 ]" || fail "targets did not start"
PA=$(sed -n 1p "$T/ports" | cut -d' ' -f1)	# pod a (counter)
PB=$(sed -n 2p "$T/ports" | cut -d' ' -f1)	# pod b, added later
PC=$(sed -n 3p "$T/ports" | cut -d' ' -f1)	# pod c, added after 410
PK=$(sed -n 4p "$T/ports" | cut -d' ' -f1)	# the "kubelet"
RPORT=$(cat "$T/rport")
WEB=127.0.0.1:$(free_port)

# Objects as the API server has them at start. Pods on other nodes, in
# the wrong state or without the scrape annotation must not show up.
pod() {	# name ns node ip port [scrape]
	printf '{"metadata": {"name": "%s", "namespace": "%s", "uid": "uid-%s",
  "labels": {"app.kubernetes.io/name": "%s"},
  "annotations": {"prometheus.io/scrape": "%s"},
  "ownerReferences": [{"kind": "ReplicaSet", "name": "rs-%s",
    "controller": true}]},
 "spec": {"nodeName": "%s", "containers": [{"name": "app", "image": "img:1",
  "ports": [{"name": "metrics", "containerPort": %s, "protocol": "TCP"}]}]},
 "status": {"phase": "Running", "podIP": "%s", "hostIP": "127.0.0.1",
  "conditions": [{"type": "Ready", "status": "True"}]}}' \
	    "$1" "$2" "$1" "$1" "${6:-true}" "$1" "$3" "$5" "$4"
}
cat >"$T/objects.json" <<EOT
{"pods": [
 $(pod a shop node-a 127.0.0.1 "$PA"),
 $(pod other shop node-b 127.0.0.1 "$PB"),
 $(pod quiet shop node-a 127.0.0.1 "$PB" false),
 $(pod pending shop node-a "" "$PB"),
 $(pod sys kube-system node-a 127.0.0.1 "$PC" false)
],
"nodes": [
 {"metadata": {"name": "node-a", "labels": {"kubernetes.io/os": "linux"}},
  "spec": {"providerID": "azure:///vm/a"},
  "status": {"addresses": [{"type": "Hostname", "address": "node-a"},
                           {"type": "InternalIP", "address": "127.0.0.1"}],
             "daemonEndpoints": {"kubeletEndpoint": {"Port": $PK}}}},
 {"metadata": {"name": "node-b"},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.2"}],
             "daemonEndpoints": {"kubeletEndpoint": {"Port": $PK}}}}
],
"services": [
 {"metadata": {"name": "web", "namespace": "shop",
               "labels": {"team": "checkout"}},
  "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.10",
           "ports": [{"name": "metrics", "port": 80, "protocol": "TCP"}]}}
],
"endpoints": [
 {"metadata": {"name": "web", "namespace": "shop"},
  "subsets": [{"addresses": [{"ip": "127.0.0.1", "nodeName": "node-a",
     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "a"}}],
   "ports": [{"name": "metrics", "port": $PA, "protocol": "TCP"}]}]}
]}
EOT
echo tok-1 >"$T/server-token"
echo tok-1 >"$T/token"
$PY "$HELPERS/fake_k8s.py" --port-file "$T/kport" --token-file "$T/server-token" \
    --objects "$T/objects.json" --log "$T/k8s.jsonl" --bookmark-interval 0.5 \
    --max-page 2 >"$T/k8s.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/kport" || fail "fake API server did not start"
API=http://127.0.0.1:$(cat "$T/kport")

cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: $API
        authorization: {credentials_file: $T/token}
        selectors:
          - role: pod
            field: spec.nodeName=\${NODE_NAME}
            label: app.kubernetes.io/name
        attach_metadata: {node: true}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
  - job_name: kubelet
    kubernetes_sd_configs:
      - role: node
        api_server: $API
        authorization: {credentials_file: $T/token}
        selectors: [{role: node, field: "metadata.name=\${NODE_NAME}"}]
  - job_name: endpoints
    kubernetes_sd_configs:
      - role: endpoints
        api_server: $API
        authorization: {credentials_file: $T/token}
        namespaces: {names: [shop]}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
  # In-cluster settings without a cluster: logged, no targets, no harm.
  - job_name: incluster
    kubernetes_sd_configs: [{role: node}]
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    queue_config: {batch_send_deadline: 200ms}
EOT

start promlet env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
    NODE_NAME=node-a "$PROMLET" --config.file="$T/promlet.yml" \
    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
wait_for 10 http_ok "http://$WEB/-/ready" || fail "promlet not ready"

targets() {
	curl -fsS "http://$WEB/api/v1/targets" | $PY -c '
import json, sys
d = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(sorted("%s/%s" % (t["scrapePool"],
    t["labels"].get("pod") or t["labels"]["instance"]) for t in d)))'
}
has_targets() { [ "$(targets)" = "$1" ]; }
label_of() {	# pool instance-or-pod label
	curl -fsS "http://$WEB/api/v1/targets" | $PY -c '
import json, sys
pool, who, name = sys.argv[1:4]
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    if t["scrapePool"] == pool and who in (t["labels"].get("pod"),
                                          t["labels"]["instance"]):
        print(t["discoveredLabels"].get(name, t["labels"].get(name, "")))' "$@"
}
stat() {	# counter name from /fake/stats
	curl -fsS "$API/fake/stats" | $PY -c '
import json, sys
d = json.load(sys.stdin)
k = sys.argv[1]
print(d["counts"].get(k, 0) if ":" in k else d[k])' "$1"
}
ctl() { curl -fsS -X POST -d "$2" "$API/fake/$1" >/dev/null; }

# 1. Startup: only node-a's annotated, running pod; node-a's kubelet;
#    the endpoints target with the service and pod labels joined.
WANT="endpoints/a kubelet/node-a pods/a"
wait_for 10 has_targets "$WANT" || fail "initial targets: $(targets)"
[ "$(label_of pods a __meta_kubernetes_pod_controller_name)" = rs-a ] ||
    fail "pod labels missing"
[ "$(label_of pods a __meta_kubernetes_node_label_kubernetes_io_os)" = linux ] ||
    fail "attach_metadata node labels missing"
[ "$(label_of pods a namespace)" = shop ] || fail "relabelled namespace missing"
[ "$(label_of kubelet node-a __address__)" = "127.0.0.1:$PK" ] ||
    fail "node address is not InternalIP:kubelet port"
[ "$(label_of kubelet node-a __meta_kubernetes_node_address_Hostname)" = node-a ] ||
    fail "node address labels missing"
[ "$(label_of endpoints a __meta_kubernetes_service_label_team)" = checkout ] ||
    fail "endpoints target lacks the service labels"
[ "$(label_of endpoints a __meta_kubernetes_pod_name)" = a ] ||
    fail "endpoints target lacks the pod labels"
grep -q 'job=incluster.*not running in a cluster\|not running in a cluster.*job=incluster' \
    "$T/promlet.log" || fail "missing in-cluster settings not logged"
# Selectors went to the server as query parameters; lists were paged.
$PY - "$T/k8s.jsonl" <<'PYEOF' || fail "requests to the API server"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
def seen(verb, kind, **q):
    return any(r["verb"] == verb and r["kind"] == kind and
               all(r["query"].get(k) == v for k, v in q.items())
               for r in reqs)
assert seen("list", "pods", fieldSelector="spec.nodeName=node-a",
            labelSelector="app.kubernetes.io/name"), "pod selectors"
assert seen("list", "nodes", fieldSelector="metadata.name=node-a"), \
    "node selector, and attach_metadata limited to node-a"
assert seen("list", "pods", labelSelector="app.kubernetes.io/name",
            fieldSelector="spec.nodeName=node-a", limit="500") and \
    any(r["verb"] == "list" and r["query"].get("continue") for r in reqs), \
    "paged list"
assert seen("watch", "pods", allowWatchBookmarks="true"), "bookmarks asked"
assert seen("list", "endpoints") and \
    all(r["ns"] == "shop" for r in reqs if r["kind"] == "endpoints"), \
    "endpoints in namespace shop only"
assert all("fieldSelector" in r["query"] for r in reqs
           if r["kind"] == "pods" and r["ns"] is None), \
    "a cluster-wide pod request without the node's field selector"
assert all(r["token_ok"] for r in reqs), "bad token sent"
PYEOF

# 2. A pod scheduled here appears; one on another node does not.
ctl apply "{\"kind\": \"pods\", \"object\": $(pod b shop node-a 127.0.0.1 "$PB")}"
ctl apply "{\"kind\": \"pods\", \"object\": $(pod b2 shop node-b 127.0.0.1 "$PB")}"
WANT="endpoints/a kubelet/node-a pods/a pods/b"
wait_for 5 has_targets "$WANT" || fail "added pod b: $(targets)"
sleep 1.5

# 3. Pod a goes away: its target stops and its series get stale markers.
curl -fsS -X POST -d '{"kind": "pods", "namespace": "shop", "name": "a"}' \
    "$API/fake/delete" >/dev/null || fail "delete"
# The endpoints target stays, without the pod's labels.
WANT="endpoints/127.0.0.1:$PA kubelet/node-a pods/b"
wait_for 5 has_targets "$WANT" || fail "deleted pod a: $(targets)"

# 4. Bookmarks carry the resourceVersion forward: a node change bumps
#    it without any pod event; the next pod watch must start there.
ctl apply '{"kind": "nodes", "object": {"metadata": {"name": "node-c"}}}'
RV=$(stat rv)
sleep 1.5
W=$(stat watch:pods)
ctl drop '{}'
wait_for 5 sh -c "[ \$(curl -fsS '$API/fake/stats' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"][\"watch:pods\"])') -gt $W ]" ||
    fail "no new pod watch after the server dropped watches"
tail -n 20 "$T/k8s.jsonl" | grep '"watch"' | grep '"pods"' | tail -n 1 |
    grep -q "\"resourceVersion\": \"$RV\"" ||
    fail "watch did not resume from the bookmark's resourceVersion $RV"

# 5. 410 Gone, as an ERROR event and as an HTTP status: relist, nothing
#    lost, and what changed meanwhile is seen.
L=$(stat list:pods)
ctl expire '{"mode": "event"}'
wait_for 5 sh -c "[ \$(curl -fsS '$API/fake/stats' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"][\"list:pods\"])') -gt $L ]" ||
    fail "no relist after a 410 event"
has_targets "$WANT" || fail "targets changed across the relist: $(targets)"
L=$(stat list:pods)
ctl expire '{"mode": "http"}'
ctl apply "{\"kind\": \"pods\", \"object\": $(pod c shop node-a 127.0.0.1 "$PC")}"
wait_for 5 sh -c "[ \$(curl -fsS '$API/fake/stats' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"][\"list:pods\"])') -gt $L ]" ||
    fail "no relist after HTTP 410"
WANT="endpoints/127.0.0.1:$PA kubelet/node-a pods/b pods/c"
wait_for 5 has_targets "$WANT" || fail "pod added across the relist: $(targets)"
grep -q 'watch expired, listing again' "$T/promlet.log" || fail "410 not logged"

# 6. Token rotation: the server switches to a new token; the old one is
#    refused until the credentials file has it too, then everything goes
#    on without a restart or reload.
echo tok-2 >"$T/server-token"
ctl drop '{}'
wait_for 5 sh -c "[ \$(curl -fsS '$API/fake/stats' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"auth_failures\"])') -gt 0 ]" ||
    fail "old token not refused"
# The server counts the refusal before it answers: give promlet the
# moment it takes to read the answer and log it.
wait_for 5 grep -q 'HTTP 401' "$T/promlet.log" || fail "401 not logged"
echo tok-2 >"$T/token.new" && mv "$T/token.new" "$T/token"
ctl apply "{\"kind\": \"pods\", \"object\": $(pod d shop node-a 127.0.0.1 "$PB")}"
WANT="endpoints/127.0.0.1:$PA kubelet/node-a pods/b pods/c pods/d"
wait_for 10 has_targets "$WANT" || fail "rotated token not used: $(targets)"
grep -q tok- "$T/promlet.log" && fail "a token was logged"

# 7. A reload lists everything again; the targets stay as they are.
L=$(stat list:pods)
kill -HUP "$PID_promlet"
wait_for 5 sh -c "[ \$(curl -fsS '$API/fake/stats' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"counts\"][\"list:pods\"])') -gt $L ]" ||
    fail "no relist after SIGHUP"
sleep 1
has_targets "$WANT" || fail "targets changed across the reload: $(targets)"

# RSS for sizing the DaemonSet (ASan builds are several times larger).
RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$PID_promlet/status")
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$PID_promlet/status")
echo "promlet RSS ${RSS} kB, peak ${HWM} kB (4 pods, 2 nodes, 1 endpoints)"

sleep 1
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"

# What the receiver saw.
$PY - "$HELPERS" "$T/recv.jsonl" <<'PYEOF' || fail "receiver checks failed"
import sys
helpers, path = sys.argv[1:3]
sys.path.insert(0, helpers)
from rwcheck import Checker, Records, check_ordering  # noqa: E402
c = Checker()
recs = Records(path)
check_ordering(c, recs)
find = recs.series
a = find("counter", job="pods", pod="a")
c.check(a is not None and len([s for s in a if not s.stale]) >= 2,
        "pod a was scraped with its relabelled labels")
c.check(a is not None and a[-1].stale,
        "pod a's series ended with a stale marker when it was deleted")
c.check(find("now", job="kubelet", instance="node-a") is not None,
        "node target scraped on the kubelet port, instance = node")
c.check(find("counter", job="endpoints") is not None,
        "endpoints target scraped")
c.check(find("gauge", job="pods", pod="c") is not None,
        "pod added across the relist scraped")
c.check(find("counter", job="pods", pod="d") is not None,
        "pod added after the token rotation scraped")
b = find("counter", job="pods", pod="b")
c.check(b is not None and not any(s.stale for s in b[:-1]),
        "pod b scraped without a stale marker across relists, token "
        "rotation and reload")
sys.exit(1 if c.failed else 0)
PYEOF
pass
