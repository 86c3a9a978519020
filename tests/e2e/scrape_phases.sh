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
# A job too small for five targets on each of 20 steps uses fewer:
# - 8 targets start together, on one step (on 20 steps: fails);
# - when file_sd grows a job from 8 to 30 targets, they spread over
#   several steps, and none is scraped sooner than an interval after its
#   last scrape while they move.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

N=60
SMALL=8
GROW=30
pages=""
i=0
while [ "$i" -lt "$N" ]; do
	pages="$pages gauge42,port=@a,path=/m$i"
	[ "$i" -lt "$SMALL" ] && pages="$pages gauge42,port=@a,path=/s$i"
	[ "$i" -lt "$GROW" ] && pages="$pages gauge42,port=@a,path=/g$i"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one argument per page
start targets "$PY" "$HELPERS/fake_target.py" --port-file "$T/ports" \
    --log "$T/requests.jsonl" $pages
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge $((N + SMALL + GROW)) ]" ||
    fail "targets did not start"
PORT=$(sed -n 1p "$T/ports" | cut -d' ' -f1)

# grow_file COUNT: job grow's file_sd file with COUNT targets.
grow_file() {
	$PY -c '
import json, sys
port, n = sys.argv[1], int(sys.argv[2])
print(json.dumps([{"targets": ["127.0.0.1:" + port],
                   "labels": {"__metrics_path__": "/g%d" % i}}
                  for i in range(n)]))' "$PORT" "$1" >"$T/grow.tmp" &&
	    mv "$T/grow.tmp" "$T/grow.json" || fail "cannot write grow.json"
}
grow_file "$SMALL"

# job NAME PATH COUNT: a static job of COUNT targets /PATH0, /PATH1, ...
job() {
	printf '  - job_name: %s\n    static_configs:\n' "$1"
	i=0
	while [ "$i" -lt "$3" ]; do
		printf "      - targets: ['127.0.0.1:%s']\n" "$PORT"
		printf '        labels: {__metrics_path__: /%s%s}\n' "$2" "$i"
		i=$((i + 1))
	done
}

# launch NAME REPLICA: a promlet scraping all targets, external label
# replica=REPLICA; its web address in WEB_<NAME>. Replica a also has the
# small and grow jobs.
launch() {
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n'
		printf '  external_labels: {replica: %s}\n' "$2"
		printf 'scrape_configs:\n'
		job phases m "$N"
		if [ "$2" = a ]; then
			job small s "$SMALL"
			printf '  - job_name: grow\n    file_sd_configs:\n'
			printf '      - files: [%s]\n' "$T/grow.json"
		fi
	} >"$T/$1.yml"
	_web=127.0.0.1:$(free_port)
	eval "WEB_$1=$_web"
	start "$1" "$PROMLET" --config.file="$T/$1.yml" \
	    --storage.agent.path="$T/wal-$1" --web.listen-address="$_web"
	wait_for 10 http_ok "http://$_web/-/ready" || fail "promlet $1 not ready"
}

# steps NAME JOB COUNT MIN MAX: check the phases of one job of one
# instance: COUNT targets on MIN to MAX steps of 50 ms. Writes "url step"
# lines to $T/NAME.steps.
steps() {
	eval "_web=\$WEB_$1"
	# shellcheck disable=SC2154 # set by launch through eval
	curl -fsS "http://$_web/api/v1/targets" >"$T/$1.json" ||
	    fail "no /api/v1/targets from $1"
	$PY - "$T/$1.json" "$2" "$3" "$4" "$5" >"$T/$1.steps" <<'EOF' ||
import json, sys
from datetime import datetime, timezone

job, n, lo, hi = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ts = [t for t in json.load(open(sys.argv[1]))["data"]["activeTargets"]
      if t["labels"]["job"] == job]
if len(ts) != n:
    sys.exit(f"{job}: {len(ts)} targets, want {n}")
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
if not lo <= len(steps) <= hi:
    sys.exit(f"{job}: {len(steps)} steps used, want {lo} to {hi}")
for step, phases in sorted(steps.items()):
    if max(phases) - min(phases) > 10:
        sys.exit(f"{job}: step {step}: starts {sorted(phases)} ms apart")
for url, step in sorted(of.items()):
    print(url, step)
print(f"{job}: {n} targets on {len(steps)} steps:",
      {k: len(v) for k, v in sorted(steps.items())}, file=sys.stderr)
EOF
	    fail "$1: scrape phases of job $2 wrong"
}

# grown: job grow has all its targets.
grown() {
	[ "$(curl -fsS "http://$WEB_a/api/v1/targets" | grep -o '/g[0-9]*"' |
	    sort -u | wc -l)" -eq "$GROW" ]
}

launch a a
launch b b
# Three rounds, then every target has a last scrape.
sleep 3.5
steps a small "$SMALL" 1 1
steps a grow "$SMALL" 1 1
steps b phases "$N" 2 20
steps a phases "$N" 2 20
cp "$T/a.steps" "$T/a1.steps"

# 30 targets: five a step would fill six; the steps divide the interval
# evenly, so five. Three more rounds, and every target has moved.
grow_file "$GROW"
wait_for 10 grown || fail "file_sd did not grow job grow to $GROW targets"
sleep 3.5
steps a grow "$GROW" 2 5
$PY - "$T/requests.jsonl" "$GROW" <<'EOF' || fail "a target was scraped too soon"
import json, sys
last = {}
gaps = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = r["path"]
    if not p.startswith("/g"):
        continue
    if p in last:
        gap = r["t"] - last[p]
        gaps += 1
        # The server reads its clock when a thread gets to the request:
        # allow 50 ms of that, not the half interval a move could cost.
        if gap < 0.95:
            sys.exit(f"{p} scraped {gap * 1000:.0f} ms after its last scrape")
    last[p] = r["t"]
if len(last) != int(sys.argv[2]) or gaps < 100:
    sys.exit(f"{len(last)} grow targets and {gaps} gaps seen")
EOF

kill "$PID_a"
wait "$PID_a" 2>/dev/null
grow_file "$SMALL"
launch a a
sleep 3.5
steps a phases "$N" 2 20

differ=$(paste "$T/a1.steps" "$T/b.steps" | awk '$2 != $4' | wc -l)
[ "$differ" -ge $((N / 2)) ] ||
    fail "replica b shares the step of $((N - differ)) of $N targets with a"
cmp -s "$T/a1.steps" "$T/a.steps" ||
    fail "a restart moved targets: $(diff "$T/a1.steps" "$T/a.steps" | head -5)"
pass
