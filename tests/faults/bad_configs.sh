#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# Bad and huge configs: `promlet check config` on every Prometheus config
# test file (../shared/conformance/prometheus_config, when present) exits
# 0 or 1 with a message, never by a signal or a sanitizer report; a config
# of 10,000 jobs (each with relabel rules and targets) is checked in a few
# seconds, and the daemon starts on 2,000 of them and answers /-/ready.
#
#	FAULT_JOBS=N      jobs in the big config (default 10000)
#	FAULT_CHECK_SECS  time limit for checking it (default 30: ASan on a
#			  shared machine; a normal build takes about 2 s)
. "$TOP_SRCDIR/tests/e2e/lib.sh"
CONF="$TOP_SRCDIR/../shared/conformance/prometheus_config/testdata"
JOBS=${FAULT_JOBS:-10000}
LIMIT=${FAULT_CHECK_SECS:-30}
ok=1

# 1. Every conformance config through the CLI: a verdict, never a crash.
# One ASan process per file costs about a minute here, so only with
# FAULT_ALL_CONFIGS=1 (tests/faults/run-slow); make check covers the same
# files in-process through tests/fuzz/replay_config.
if [ "${FAULT_ALL_CONFIGS:-0}" = 1 ] && [ -d "$CONF" ]; then
	n=0 good=0
	for f in "$CONF"/*.yml "$CONF"/*/*.yml; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		"$PROMLET" check config "$f" >"$T/out" 2>&1
		rc=$?
		case $rc in
		0) good=$((good + 1)) ;;
		1) grep -q 'FAILED: .*:[0-9]*:[0-9]*: ' "$T/out" ||
		       { echo "FAIL $f: rejected without file:line:col"; ok=0; } ;;
		*) echo "FAIL $f: exit status $rc"; head -n 20 "$T/out"; ok=0 ;;
		esac
		if grep -q 'Sanitizer\|runtime error' "$T/out"; then
			echo "FAIL $f: sanitizer report"; head -n 20 "$T/out"; ok=0
		fi
	done
	echo "conformance configs: $n checked, $good accepted, $((n - good)) rejected"
fi

# 2. A huge config.
$PY - "$JOBS" "$T/big.yml" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("global:\n  scrape_interval: 1m\n  external_labels: {dc: x}\n"
            "remote_write:\n  - url: http://127.0.0.1:9/push\n"
            "scrape_configs:\n")
    for i in range(n):
        f.write("  - job_name: job%d\n"
                "    scrape_interval: 5m\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d', '127.0.0.2:%d']\n"
                "        labels: {team: t%d}\n"
                "    relabel_configs:\n"
                "      - source_labels: [__address__]\n"
                "        regex: '([^:]+):(\\d+)'\n"
                "        target_label: host\n"
                "        replacement: '${1}'\n"
                "    metric_relabel_configs:\n"
                "      - source_labels: [__name__]\n"
                "        regex: 'go_.*|process_.*'\n"
                "        action: drop\n" % (i, 10000 + i % 50000,
                                           10000 + i % 50000, i % 100))
EOF
echo "big config: $JOBS jobs, $(wc -c <"$T/big.yml") bytes"
t0=$(date +%s%N)
"$PROMLET" check config "$T/big.yml" >"$T/big.out" 2>&1
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "check config: exit status $rc in $ms ms: $(head -n 1 "$T/big.out")"
[ "$rc" = 0 ] || { echo "FAIL big config rejected"; ok=0; }
[ "$ms" -lt $((LIMIT * 1000)) ] ||
    { echo "FAIL check config took $ms ms (limit $LIMIT s)"; ok=0; }

# 3. The daemon on 2,000 jobs (4,000 targets, scraped every 5 min, so
# almost nothing happens): it starts, is ready, and stops cleanly.
$PY - "$T/big.yml" "$T/mid.yml" 2000 <<'EOF'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out, jobs = [], 0
for line in open(src):
    if line.startswith("  - job_name:"):
        jobs += 1
        if jobs > n:
            break
    out.append(line)
open(dst, "w").write("".join(out))
EOF
WEB=127.0.0.1:$(free_port)
t0=$(date +%s%N)
start promlet "$PROMLET" --config.file="$T/mid.yml" \
    --storage.agent.path="$T/wal" --web.listen-address="$WEB" \
    --storage.remote.flush-deadline=1s
# shellcheck disable=SC2154
if wait_for 30 http_ok "http://$WEB/-/ready"; then
	t1=$(date +%s%N)
	echo "daemon on 2000 jobs ready in $(((t1 - t0) / 1000000)) ms"
	n=$(curl -fsS "http://$WEB/api/v1/targets" | grep -o '"scrapePool"' | wc -l)
	[ "$n" = 4000 ] || { echo "FAIL $n targets listed, want 4000"; ok=0; }
else
	echo "FAIL daemon not ready within 30 s on 2000 jobs"; ok=0
fi
kill -INT "$PID_promlet"
wait "$PID_promlet"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL daemon exit status $rc"; tail -n 20 "$T/promlet.log"; ok=0; }
[ "$ok" = 1 ] || fail "bad configs"
pass
