#!/bin/sh
# shellcheck disable=SC2317 # cleanup runs from a trap
# The README demo: start a node_exporter and a Prometheus that accepts
# remote write (both on loopback, Prometheus with throw-away storage), then
# run the freshly built promlet in the foreground on etc/demo.yml, which
# scrapes promlet itself and the node_exporter and remote-writes into that
# Prometheus. Ctrl-C stops promlet, then everything this script started.
#
# The usual ports are 9100 (node_exporter), 9090 (Prometheus) and 9099
# (promlet). On Debian the prometheus and prometheus-node-exporter
# packages start their own services on 9090 and 9100; then the demo says
# so, picks other ports and runs promlet on a copy of the config that
# points at them.
#
# Environment: PROMLET (default: src/promlet next to this etc/),
# PROMETHEUS, NODE_EXPORTER (default: the Debian binaries).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
PROMLET=${PROMLET:-$top/src/promlet}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
CONFIG=${CONFIG:-$top/etc/demo.yml}
PY=/usr/bin/python3

say() {
	printf 'demo: %s\n' "$*" >&2
}

die() {
	say "$*"
	exit 1
}

for b in "$PROMLET" "$PROMETHEUS" "$NODE_EXPORTER" "$PY"; do
	[ -x "$b" ] || die "$b is missing: run 'sh .ci/deps.sh' and build first (see README.md)"
done
command -v curl >/dev/null 2>&1 || die "curl is missing: run 'sh .ci/deps.sh'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/promlet-demo.XXXXXX") ||
    die "cannot create a temporary directory"
pids=""
reporter=""

cleanup() {
	trap - EXIT INT TERM
	[ -n "$reporter" ] && kill "$reporter" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
	say "stopped everything it started"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() {
	$PY -c '
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$1"
}

# who_listens PORT: the process on PORT, when ss can tell.
who_listens() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "sport = :$1" 2>/dev/null |
	    sed -n 's/.*users:((\("[^"]*"\).*/\1/p' | head -n 1
}

# pick NAME PORT FALLBACK: PORT if free, else FALLBACK if free, else any
# free port; says which and why.
pick() {
	if port_free "$2"; then
		echo "$2"
		return
	fi
	who=$(who_listens "$2")
	new=$3
	if ! port_free "$new"; then
		new=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	fi
	say "port $2 (for $1) is already in use${who:+ by $who}${4:+ ($4)}; using $new instead"
	echo "$new"
}

node_port=$(pick node_exporter 9100 19100 \
    "the Debian prometheus-node-exporter service?")
prom_port=$(pick Prometheus 9090 19090 "the Debian prometheus service?")
self_port=$(pick promlet 9099 19099)

# The demo config, with the ports above. etc/demo.yml names the usual
# ones; a copy points at the ports actually used.
[ -f "$CONFIG" ] || die "$CONFIG not found"
sed -e "s/\(127\.0\.0\.1\|localhost\):9100\b/127.0.0.1:$node_port/g" \
    -e "s/\(127\.0\.0\.1\|localhost\):9090\b/127.0.0.1:$prom_port/g" \
    -e "s/\(127\.0\.0\.1\|localhost\):9099\b/127.0.0.1:$self_port/g" \
    "$CONFIG" >"$tmp/promlet.yml"
grep -q "127.0.0.1:$prom_port" "$tmp/promlet.yml" ||
    say "warning: $CONFIG does not remote-write to 127.0.0.1:9090"

# Prometheus and node_exporter get sessions of their own so that Ctrl-C
# reaches only promlet, which then flushes into a Prometheus still running;
# the EXIT trap stops them afterwards.
setsid "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$node_port" \
    >"$tmp/node_exporter.log" 2>&1 &
pids="$pids $!"

printf 'global:\n  scrape_interval: 15s\n' >"$tmp/prometheus.yml"
setsid "$PROMETHEUS" --config.file="$tmp/prometheus.yml" \
    --storage.tsdb.path="$tmp/prometheus-data" \
    --web.listen-address="127.0.0.1:$prom_port" \
    --web.enable-remote-write-receiver >"$tmp/prometheus.log" 2>&1 &
pids="$pids $!"

# wait_up NAME URL LOG: up to 30 s for URL to answer.
wait_up() {
	i=0
	while [ "$i" -lt 60 ]; do
		curl -fsS -o /dev/null --max-time 1 "$2" 2>/dev/null && return 0
		sleep 0.5
		i=$((i + 1))
	done
	tail -n 20 "$3" >&2
	die "$1 did not start on $2 (log above)"
}
wait_up node_exporter "http://127.0.0.1:$node_port/metrics" "$tmp/node_exporter.log"
wait_up Prometheus "http://127.0.0.1:$prom_port/-/ready" "$tmp/prometheus.log"

prom=http://127.0.0.1:$prom_port
cat >&2 <<EOF

  node_exporter  http://127.0.0.1:$node_port/metrics
  Prometheus     $prom   (remote-write receiver at /api/v1/write)
  promlet        http://127.0.0.1:$self_port/metrics   config: $tmp/promlet.yml

  See the data arrive in Prometheus (within a scrape interval or two):
    $prom/graph?g0.expr=node_load1&g0.tab=0&g0.range_input=15m
    $prom/graph?g0.expr=up&g0.tab=1
    curl -s '$prom/api/v1/query?query=up'

  Ctrl-C stops promlet, Prometheus and node_exporter.

EOF

# Once data is in, say so; give up quietly after two minutes.
(
	i=0
	while [ "$i" -lt 24 ]; do
		sleep 5
		out=$($PY - "$prom" <<'EOF' 2>/dev/null
import json, sys, urllib.parse, urllib.request
base = sys.argv[1] + "/api/v1/query?query="
def q(expr):
    with urllib.request.urlopen(base + urllib.parse.quote(expr),
                                timeout=5) as r:
        return json.load(r)["data"]["result"]
load = q('node_load1{job="node"}')
up = q("up")
if not load or not q('up{job="node"}'):
    sys.exit(1)
ups = ", ".join('up{job="%s"}=%s' % (r["metric"].get("job", "?"),
                                     r["value"][1]) for r in up)
n = q("count({__name__=~'.+'})")
print("Prometheus has %s series from promlet: node_load1=%s, %s" %
      (n[0]["value"][1] if n else "?", load[0]["value"][1], ups))
EOF
		) && { say "$out"; exit 0; }
		i=$((i + 1))
	done
	say "no node_exporter data in Prometheus after 2 minutes; see promlet's log"
) &
reporter=$!

say "starting promlet (logs below)"
"$PROMLET" --config.file="$tmp/promlet.yml" \
    --storage.agent.path="$tmp/promlet-wal" \
    --web.listen-address="127.0.0.1:$self_port"
rc=$?
case $rc in
0|130) ;;
*) say "promlet exited with status $rc" ;;
esac
exit "$rc"
