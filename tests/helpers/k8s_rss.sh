#!/bin/sh
# Memory and CPU of promlet as a DaemonSet member, for sizing the
# manifests in packaging/kubernetes: N pods on its node (default 110, the
# kubelet's default maxPods) of 300 series each, found through
# kubernetes_sd against tests/helpers/fake_k8s.py, plus a kubelet
# (node_exporter page) and cAdvisor page, every 5 s, with remote write.
# Prints VmRSS/VmHWM every 10 s for a minute. Not part of make check.
#
#	PROMLET=build/src/promlet [N=110] sh tests/helpers/k8s_rss.sh
#
# Use a build without --enable-sanitizers: ASan multiplies RSS.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
H=$TOP/tests/helpers
C=$TOP/../shared/conformance/pages
PROMLET=${PROMLET:?set PROMLET to the promlet binary}
[ -d "$C" ] || { echo "needs $C" >&2; exit 77; }
T=$(mktemp -d /tmp/measure.XXXXXX)
PY=/usr/bin/python3
N=${N:-110}
args=""
i=0; while [ $i -lt $N ]; do args="$args series1000,n=300"; i=$((i+1)); done
$PY $H/fake_target.py --port-file $T/ports $args file:$C/node_exporter_e2e-output.txt,path=/metrics file:$C/cadvisor_prometheus_metrics.txt,path=/metrics/cadvisor >$T/t.log 2>&1 & P1=$!
$PY $H/fake_receiver.py --port-file $T/rport "/push=/dev/null" >$T/r.log 2>&1 & P2=$!
while [ ! -s $T/rport ] || [ $(wc -l < $T/ports 2>/dev/null || echo 0) -lt $((N+2)) ]; do sleep 0.2; done
KP=$(sed -n "$((N+1))p" $T/ports | cut -d' ' -f1)
CP=$(sed -n "$((N+2))p" $T/ports | cut -d' ' -f1)
$PY - $T $N $KP <<'PY'
import json, sys
T, N, KP = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ports = [l.split()[0] for l in open(T + "/ports")][:N]
pods = []
for i, p in enumerate(ports):
    pods.append({"metadata": {"name": "app-%d-7d4b9c6f5-x2x9q" % i, "namespace": "ns%d" % (i % 10),
        "uid": "5c0b2a31-8f0e-4a57-9a3c-%012d" % i,
        "labels": {"app.kubernetes.io/name": "app-%d" % i, "app.kubernetes.io/instance": "prod",
                   "pod-template-hash": "7d4b9c6f5", "team": "t%d" % (i % 7)},
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": p,
                        "kubectl.kubernetes.io/restartedAt": "2026-11-20T09:12:40Z",
                        "checksum/config": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "app-%d-7d4b9c6f5" % i, "controller": True}],
        "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]},
      "spec": {"nodeName": "node-a", "containers": [
          {"name": "app", "image": "registry.example/app:%d" % i, "ports": [{"name": "metrics", "containerPort": int(p), "protocol": "TCP"}],
           "env": [{"name": "E%d" % k, "value": "v" * 40} for k in range(20)]},
          {"name": "sidecar", "image": "envoy:1.30", "ports": [{"name": "admin", "containerPort": 1, "protocol": "TCP"}]}]},
      "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                 "conditions": [{"type": "Ready", "status": "True"}],
                 "containerStatuses": [{"name": "app", "containerID": "containerd://%064d" % i}]}})
nodes = [{"metadata": {"name": "node-a", "labels": {"kubernetes.io/os": "linux"}},
          "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                     "daemonEndpoints": {"kubeletEndpoint": {"Port": int(KP)}}}}]
json.dump({"pods": pods, "nodes": nodes}, open(T + "/objects.json", "w"))
PY
echo tok > $T/token
$PY $H/fake_k8s.py --port-file $T/kport --token-file $T/token --objects $T/objects.json >$T/k.log 2>&1 & P3=$!
while [ ! -s $T/kport ]; do sleep 0.2; done
API=http://127.0.0.1:$(cat $T/kport)
cat > $T/p.yml <<EOT
global: {scrape_interval: 5s, scrape_timeout: 4s}
scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: $API
        authorization: {credentials_file: $T/token}
        selectors: [{role: pod, field: "spec.nodeName=\${NODE_NAME}"}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_pod_container_name]
        regex: app
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
  - job_name: cadvisor
    metrics_path: /metrics/cadvisor
    static_configs: [{targets: ['127.0.0.1:$CP']}]
remote_write:
  - url: http://127.0.0.1:$(cat $T/rport)/push
EOT
WP=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
NODE_NAME=node-a $PROMLET --config.file=$T/p.yml --storage.agent.path=$T/wal --web.listen-address=127.0.0.1:$WP >$T/promlet.log 2>&1 & PP=$!
for s in 10 20 30 40 50 60; do
  sleep 10
  echo "t=${s}s $(grep -E '^(VmRSS|VmHWM)' /proc/$PP/status | tr -s ' \t' ' ' | tr '\n' ' ')"
done
curl -s "http://127.0.0.1:$WP/metrics" 2>/dev/null | grep -E "^promlet_(scrape_targets|series|samples)" | head
grep -E "level=(warn|error)" $T/promlet.log | head -5
echo "cpu_ticks(user+sys, 100/s)=$(awk "{print \$14+\$15}" /proc/$PP/stat)"
kill $PP; wait $PP; kill $P1 $P2 $P3
du -sh $T/wal
rm -rf $T
