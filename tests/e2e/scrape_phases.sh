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
# An interval with too few targets for ten on each of 20 steps uses
# fewer, counted over all its jobs:
# - jobs of 8 and 1 targets every 2 s start together, on one step (on 20
#   steps: fails);
# - two jobs of 10 every 2.5 s use two steps between them (one step a
#   job: fails);
# - when file_sd grows a job every 1.5 s from 8 to 30 targets, they
#   spread over several steps, and none is scraped sooner than an
#   interval after its last scrape while they move.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

N=60
SMALL=8
GROW=30
pages=""
i=0
while [ "$i" -lt "$N" ]; do
	pages="$pages gauge42,port=@a,path=/m$i"
	[ "$i" -lt "$SMALL" ] && pages="$pages gauge42,port=@a,path=/s$i"
	[ "$i" -lt 20 ] && pages="$pages gauge42,port=@a,path=/h$i"
	[ "$i" -lt "$GROW" ] && pages="$pages gauge42,port=@a,path=/g$i"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one argument per page
start targets "$PY" "$HELPERS/fake_target.py" --port-file "$T/ports" \
    --log "$T/requests.jsonl" $pages
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge $((N + SMALL + GROW + 20)) ]" ||
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

# job NAME INTERVAL PATH FIRST COUNT: a static job scraping /PATHFIRST
# and on, COUNT targets.
job() {
	printf '  - job_name: %s\n    scrape_interval: %s\n' "$1" "$2"
	printf '    static_configs:\n'
	i=$4
	while [ "$i" -lt $(($4 + $5)) ]; do
		printf "      - targets: ['127.0.0.1:%s']\n" "$PORT"
		printf '        labels: {__metrics_path__: /%s%s}\n' "$3" "$i"
		i=$((i + 1))
	done
}

# launch NAME REPLICA: a promlet scraping all targets, external label
# replica=REPLICA; its web address in WEB_<NAME>. Replica a also has the
# jobs of other intervals.
launch() {
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n'
		printf '  external_labels: {replica: %s}\n' "$2"
		printf 'scrape_configs:\n'
		job phases 1s m 0 "$N"
		if [ "$2" = a ]; then
			job small 2s s 0 "$SMALL"
			job solo 2s m 0 1
			job half1 2500ms h 0 10
			job half2 2500ms h 10 10
			printf '  - job_name: grow\n    scrape_interval: 1500ms\n'
			printf '    file_sd_configs:\n'
			printf '      - files: [%s]\n' "$T/grow.json"
		fi
	} >"$T/$1.yml"
	_web=127.0.0.1:$(free_port)
	eval "WEB_$1=$_web"
	eval "T0_$1=$(date +%s.%N)"
	start "$1" "$PROMLET" --config.file="$T/$1.yml" \
	    --storage.agent.path="$T/wal-$1" --web.listen-address="$_web"
	wait_for 10 http_ok "http://$_web/-/ready" || fail "promlet $1 not ready"
}

# steps NAME JOBS IV COUNT MIN MAX: check the phases of some jobs
# (comma-separated) of one instance, scraped every IV ms: COUNT targets
# on MIN to MAX steps of IV/20 ms. Writes "url step" lines to
# $T/NAME.steps.
steps() {
	eval "_web=\$WEB_$1"
	# shellcheck disable=SC2154 # set by launch through eval
	curl -fsS "http://$_web/api/v1/targets" >"$T/$1.json" ||
	    fail "no /api/v1/targets from $1"
	$PY - "$T/$1.json" "$2" "$3" "$4" "$5" "$6" >"$T/$1.steps" <<'EOF' ||
import json, sys
from datetime import datetime, timezone

job = sys.argv[2].split(",")
iv, n, lo, hi = (int(a) for a in sys.argv[3:7])
step_ms = iv // 20
ts = [t for t in json.load(open(sys.argv[1]))["data"]["activeTargets"]
      if t["labels"]["job"] in job]
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
    phase = (ms + 5) % iv
    if phase % step_ms > 30:
        sys.exit(f"{t['scrapeUrl']} started {ms % iv} ms into its "
                 f"interval, not on a {step_ms} ms step")
    steps.setdefault(phase // step_ms, []).append(phase)
    of[t["scrapeUrl"]] = phase // step_ms
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
	    fail "$1: scrape phases of $2 wrong"
}

# grown: job grow has all its targets.
grown() {
	[ "$(curl -fsS "http://$WEB_a/api/v1/targets" | grep -o '/g[0-9]*"' |
	    sort -u | wc -l)" -eq "$GROW" ]
}

launch a a
launch b b
# Every target has a last scrape after one 2.5 s interval and a bit.
sleep 3.5
steps a small,solo 2000 "$((SMALL + 1))" 1 1
steps a half1,half2 2500 20 2 2
steps a grow 1500 "$SMALL" 1 1
steps b phases 1000 "$N" 2 20
steps a phases 1000 "$N" 2 20
cp "$T/a.steps" "$T/a1.steps"
# Jobs applied one after another move the earlier ones' targets to the
# later count's steps before any was scraped: each target's first scrape
# still comes within an interval of the start (and the time to start).
# shellcheck disable=SC2154 # set by launch through eval
$PY - "$T/requests.jsonl" "$T0_a" <<'EOF' || fail "a first scrape came late"
import json, sys
t0 = float(sys.argv[2])
iv = {"/s": 2.0, "/h": 2.5, "/g": 1.5}
first = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = r["path"]
    if p[:2] in iv and p not in first:
        first[p] = r["t"]
if len(first) != 8 + 20 + 8:
    sys.exit(f"first scrapes of {sorted(first)} only")
for p, t in sorted(first.items()):
    if t - t0 > iv[p[:2]] + 0.5:
        sys.exit(f"{p}: first scrape {t - t0:.2f} s after the start")
EOF

# 30 targets: ten a step would fill three; the steps divide the interval
# evenly, so two. Two more rounds, and every target has moved.
grow_file "$GROW"
wait_for 10 grown || fail "file_sd did not grow job grow to $GROW targets"
sleep 3.5
steps a grow 1500 "$GROW" 2 2
$PY - "$T/requests.jsonl" "$GROW" <<'EOF' || fail "a target was scraped too soon"
import json, sys
last = {}
gaps = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = r["path"]
    if not p.startswith("/g"):
        continue
    if p in last:
        gap = r["t"] - last[p]
        gaps[p] = gaps.get(p, 0) + 1
        # The server reads its clock when a thread gets to the request:
        # allow 50 ms of that, not the half interval a move could cost.
        if gap < 1.45:
            sys.exit(f"{p} scraped {gap * 1000:.0f} ms after its last scrape")
    last[p] = r["t"]
# The first eight were scraped before, across and after the move.
if len(last) != int(sys.argv[2]) or len(gaps) != len(last) or \
        min(gaps.get(f"/g{i}", 0) for i in range(8)) < 3:
    sys.exit(f"{len(last)} grow targets seen, gaps {gaps}")
EOF

kill "$PID_a"
wait "$PID_a" 2>/dev/null
grow_file "$SMALL"
launch a a
sleep 3.5
steps a phases 1000 "$N" 2 20

differ=$(paste "$T/a1.steps" "$T/b.steps" | awk '$2 != $4' | wc -l)
[ "$differ" -ge $((N / 2)) ] ||
    fail "replica b shares the step of $((N - differ)) of $N targets with a"
cmp -s "$T/a1.steps" "$T/a.steps" ||
    fail "a restart moved targets: $(diff "$T/a1.steps" "$T/a.steps" | head -5)"
pass
