#!/bin/sh
# Scrape phases: a target starts on one of 20 steps of its interval,
# chosen by a hash of the target, the host name and the external labels,
# and the targets of one step start in the same wake-up. 60 targets
# every 1 s (50 ms steps):
# - every scrape starts on a step, more than one step and at most 20 are
#   used, and the targets of a step start within a few ms of each other
#   (with a phase of its own per target, as Prometheus does, all fail);
# - a replica with other external labels puts most targets on other
#   steps, as Prometheus's HA pairs do;
# - a restart with the same config puts every target on the same step.
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

# launch NAME REPLICA: a promlet scraping all targets, external label
# replica=REPLICA; its web address in WEB_<NAME>.
launch() {
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n'
		printf '  external_labels: {replica: %s}\n' "$2"
		printf 'scrape_configs:\n  - job_name: phases\n'
		printf '    static_configs:\n'
		i=0
		while [ "$i" -lt "$N" ]; do
			printf "      - targets: ['127.0.0.1:%s']\n" "$PORT"
			printf '        labels: {__metrics_path__: /m%s}\n' "$i"
			i=$((i + 1))
		done
	} >"$T/$1.yml"
	_web=127.0.0.1:$(free_port)
	eval "WEB_$1=$_web"
	start "$1" "$PROMLET" --config.file="$T/$1.yml" \
	    --storage.agent.path="$T/wal-$1" --web.listen-address="$_web"
	wait_for 10 http_ok "http://$_web/-/ready" || fail "promlet $1 not ready"
}

# steps NAME: check one instance's phases, write "url step" lines.
steps() {
	eval "_web=\$WEB_$1"
	# shellcheck disable=SC2154 # set by launch through eval
	curl -fsS "http://$_web/api/v1/targets" >"$T/$1.json" ||
	    fail "no /api/v1/targets from $1"
	$PY - "$T/$1.json" "$N" >"$T/$1.steps" <<'EOF' || fail "$1: scrape phases wrong"
import json, sys
from datetime import datetime, timezone

ts = json.load(open(sys.argv[1]))["data"]["activeTargets"]
n = int(sys.argv[2])
if len(ts) != n:
    sys.exit(f"{len(ts)} targets, want {n}")
steps = {}
of = {}
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
    of[t["scrapeUrl"]] = phase // 50
if not 2 <= len(steps) <= 20:
    sys.exit(f"{len(steps)} steps used, want 2 to 20")
for step, phases in sorted(steps.items()):
    if max(phases) - min(phases) > 10:
        sys.exit(f"step {step}: starts {sorted(phases)} ms apart")
for url, step in sorted(of.items()):
    print(url, step)
print(f"{n} targets on {len(steps)} steps:",
      {k: len(v) for k, v in sorted(steps.items())}, file=sys.stderr)
EOF
}

launch a a
launch b b
# Three rounds, then every target has a last scrape.
sleep 3.5
steps a
steps b
kill "$PID_a"
wait "$PID_a" 2>/dev/null
cp "$T/a.steps" "$T/a1.steps"
launch a a
sleep 3.5
steps a

differ=$(paste "$T/a1.steps" "$T/b.steps" | awk '$2 != $4' | wc -l)
[ "$differ" -ge $((N / 2)) ] ||
    fail "replica b shares the step of $((N - differ)) of $N targets with a"
cmp -s "$T/a1.steps" "$T/a.steps" ||
    fail "a restart moved targets: $(diff "$T/a1.steps" "$T/a.steps" | head -5)"
pass
