#!/bin/sh
# Scrape phases: a target starts on one of 20 steps of its interval,
# chosen by its hash, and the targets of one step start in the same
# wake-up. 60 targets every 1 s (50 ms steps): every scrape starts on a
# step, more than one step and at most 20 are used, and the targets of a
# step start within a few milliseconds of each other. With a phase of its
# own per target (as before, and as Prometheus does) all three fail.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

N=60
pages=""
i=0
while [ "$i" -lt "$N" ]; do
	pages="$pages gauge42,port=@a,path=/m$i"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one argument per page
start targets "$PY" "$HELPERS/fake_target.py" --port-file "$T/ports" $pages
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge $N ]" ||
    fail "targets did not start"
PORT=$(sed -n 1p "$T/ports" | cut -d' ' -f1)
WEB=127.0.0.1:$(free_port)

{
	printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n'
	printf 'scrape_configs:\n  - job_name: phases\n    static_configs:\n'
	i=0
	while [ "$i" -lt "$N" ]; do
		printf "      - targets: ['127.0.0.1:%s']\n" "$PORT"
		printf '        labels: {__metrics_path__: /m%s}\n' "$i"
		i=$((i + 1))
	done
} >"$T/promlet.yml"

start promlet "$PROMLET" --config.file="$T/promlet.yml" \
    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
wait_for 10 http_ok "http://$WEB/-/ready" || fail "promlet not ready"

# Three rounds, then every target has a last scrape.
sleep 3.5
curl -fsS "http://$WEB/api/v1/targets" >"$T/targets.json" ||
    fail "no /api/v1/targets"
$PY - "$T/targets.json" "$N" <<'EOF' || fail "scrape phases wrong"
import json, sys
from datetime import datetime, timezone

ts = json.load(open(sys.argv[1]))["data"]["activeTargets"]
n = int(sys.argv[2])
if len(ts) != n:
    sys.exit(f"{len(ts)} targets, want {n}")
steps = {}
for t in ts:
    if t["health"] != "up":
        sys.exit(f"{t['scrapeUrl']} is {t['health']}: {t['lastError']}")
    when = datetime.strptime(t["lastScrape"], "%Y-%m-%dT%H:%M:%S.%fZ")
    ms = int(when.replace(tzinfo=timezone.utc).timestamp() * 1000 + 0.5)
    # libevent's coarse clock (4 ms here) can fire a timer a little
    # early; a busy loop, later: from 5 ms before a step to 25 ms after.
    phase = (ms + 5) % 1000
    if phase % 50 > 30:
        sys.exit(f"{t['scrapeUrl']} started {ms % 1000} ms into its "
                 "second, not on a 50 ms step")
    steps.setdefault(phase // 50, []).append(phase)
if not 2 <= len(steps) <= 20:
    sys.exit(f"{len(steps)} steps used, want 2 to 20")
for step, phases in sorted(steps.items()):
    if max(phases) - min(phases) > 10:
        sys.exit(f"step {step}: starts {sorted(phases)} ms apart")
print(f"{n} targets on {len(steps)} steps:",
      {k: len(v) for k, v in sorted(steps.items())})
EOF
pass
