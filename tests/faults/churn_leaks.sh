#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# Resources under churn: file_sd targets come and go every half second,
# series churn on every scrape, the config is reloaded (changed and
# unchanged) every couple of seconds, and the receiver drops out for a
# while. With the sanitizer build LeakSanitizer checks at exit that
# nothing leaked (a leak fails the exit status); open file descriptors
# and RSS must stay bounded throughout.
#
#	FAULT_DURATION=S   seconds of churn (default 14; the 10-minute run
#			   of docs/reliability.md is FAULT_DURATION=600)
#	FAULT_VALGRIND=1   run promlet under valgrind --leak-check=full
#			   (needs a build without --enable-sanitizers)
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
FAULTS="$TOP_SRCDIR/tests/faults"
DUR=${FAULT_DURATION:-14}
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
export ASAN_OPTIONS

# Eight targets on one port (paths /t0../t7), churning series, plus a
# counter on a port of its own.
set --
i=0
while [ "$i" -lt 8 ]; do
	set -- "$@" "series1000,n=300,port=@a,path=/t$i"
	i=$((i + 1))
done
fake_targets_start "$T/targets.port" counter "$@"
set -- $TARGET_PORTS
CPORT=$1 SPORT=$2
RPORT=$(free_port)
WEB=127.0.0.1:$(free_port)
mkdir "$T/sd"

# write_config N: a config whose relabel rules change with N.
write_config() {
	cat >"$T/promlet.yml.tmp" <<EOF
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
  external_labels: {gen: 'g$(($1 % 3))'}
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    name: churn
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'up|counter', action: keep}
scrape_configs:
  - job_name: counter
    static_configs: [{targets: ['127.0.0.1:$CPORT']}]
  - job_name: files
    file_sd_configs:
      - files: ['$T/sd/*.json']
        refresh_interval: 1s
    metric_relabel_configs:
      - source_labels: [i]
        regex: '(.*)'
        target_label: copy
        replacement: 'c$(($1 % 2))-\${1}'
EOF
	mv "$T/promlet.yml.tmp" "$T/promlet.yml"
}
write_config 0
VG=""
if [ "${FAULT_VALGRIND:-0}" = 1 ]; then
	command -v valgrind >/dev/null || skip "valgrind missing"
	VG="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind.txt"
fi
# shellcheck disable=SC2086
start promlet $VG "$PROMLET" --config.file="$T/promlet.yml" \
    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
wait_for 60 http_ok "http://$WEB/-/ready" || fail "promlet not ready"
# shellcheck disable=SC2154
P=$PID_promlet
fds() { ls "/proc/$P/fd" | wc -l; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$P/status"; }

ok=1
fd0=$(fds) fdmax=0 rss1=0 rssmax=0
end=$(($(date +%s) + DUR))
mid=$(($(date +%s) + DUR / 3))
n=0
recv=down
while [ "$(date +%s)" -lt "$end" ]; do
	n=$((n + 1))
	# About half of the eight targets, through an atomic rename.
	i=0
	printf '[' >"$T/sd/t.json.tmp"
	for j in 0 1 2 3 4 5 6 7; do
		[ $(( (n * 7 + j * 3) % 5 )) -lt 3 ] || continue
		[ "$i" -gt 0 ] && printf ',' >>"$T/sd/t.json.tmp"
		printf '{"targets": ["127.0.0.1:%s"], "labels": {"__metrics_path__": "/t%d", "slot": "%d"}}' \
		    "$SPORT" "$j" "$j" >>"$T/sd/t.json.tmp"
		i=$((i + 1))
	done
	printf ']\n' >>"$T/sd/t.json.tmp"
	mv "$T/sd/t.json.tmp" "$T/sd/t.json"
	# Reload every fourth round, with a changed config every other time.
	if [ $((n % 4)) = 0 ]; then
		write_config $((n / 8))
		kill -HUP "$P"
	fi
	# The receiver comes up after a third of the run.
	if [ "$recv" = down ] && [ "$(date +%s)" -ge "$mid" ]; then
		start receiver "$PY" "$HELPERS/fake_receiver.py" --port "$RPORT" \
		    --port-file "$T/recv.port" "/push=$T/recv.jsonl"
		recv=up
		rss1=$(rss)
	fi
	sleep 0.5
	pid_alive "$P" || fail "promlet died"
	f=$(fds)
	[ "$f" -gt "$fdmax" ] && fdmax=$f
	r=$(rss)
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	echo "$n $f $r" >>"$T/resources.txt"
done
rss2=$(rss)
echo "rounds: $n, reloads: $((n / 4)); fds: $fd0 at start, max $fdmax"
echo "RSS: $((rss1 / 1024)) MiB when the receiver came up, $((rss2 / 1024)) MiB at the end, max $((rssmax / 1024)) MiB"
if [ "$fdmax" -gt $((fd0 + 40)) ]; then
	echo "FAIL file descriptors grew from $fd0 to $fdmax; now:"
	for l in /proc/"$P"/fd/*; do readlink "$l"; done |
	    sed 's/:\[.*//; s|^/.*/|/.../|' | sort | uniq -c
	echo "round fds rss_kib, every 50th:"
	awk 'NR % 50 == 1' "$T/resources.txt"
	ok=0
fi
grep -c 'configuration reloaded' "$T/promlet.log" | sed 's/^/reloads logged: /'
grep -q 'configuration reloaded' "$T/promlet.log" ||
    { echo "FAIL no reload happened"; ok=0; }

# Targets first, so that no scrape is in flight when promlet stops (it
# would be cancelled: served, never stored); then a scrape timeout's wait.
fake_targets_stop
sleep 1
kill -INT "$P"
wait "$P"
rc=$?
echo "promlet exit status $rc"
if [ -n "$VG" ]; then
	grep -E 'definitely lost|indirectly lost|ERROR SUMMARY' "$T/valgrind.txt"
	grep -q 'ERROR SUMMARY: 0 errors' "$T/valgrind.txt" ||
	    { echo "FAIL valgrind found errors:"; grep -B2 -A20 'definitely lost in\|Invalid' "$T/valgrind.txt" | head -n 60; ok=0; }
fi
if grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error' "$T/promlet.log"; then
	echo "FAIL sanitizer report:"
	grep -A 12 'LeakSanitizer\|AddressSanitizer\|runtime error' "$T/promlet.log" | head -n 40
	ok=0
fi
[ "$rc" = 0 ] || { echo "FAIL promlet exited $rc"; ok=0; }
served=$(grep -c '"target": 0}' "$T/targets.jsonl")
$PY "$FAULTS/faultcheck.py" counter "$T/recv.jsonl" counter counter \
    --served "$served" --allow-failed \
    --failed-before "$TARGETS_STOPPED_MS" || ok=0
[ "$ok" = 1 ] || fail "churn and leaks"
pass
