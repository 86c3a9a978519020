#!/bin/sh
# shellcheck disable=SC2154 # RC_*, INDEX_*, ... are set through eval
# The remote-write 1.0 sender compliance cases (prometheus/compliance
# remote_write_sender), rebuilt on fake_target.py, fake_receiver.py and
# rwcheck.py. Each case runs its own sender set up as the suite sets up
# Prometheus: global scrape_interval 1s, one job "test" scraping one fake
# target, one remote_write to the case's receiver endpoint; after
# RW_DURATION seconds it gets SIGINT and must exit 0, then rwcheck.py
# checks what the receiver recorded. The cases run in parallel, at most
# RW_PARALLEL senders at a time. The 19 cases of the suite come with one
# extra, nan: a scraped NaN must not go out as the stale marker.
#
#   RW_SENDER=prometheus sh tests/e2e/rw_compliance.sh   # reference sender
#   RW_CASES="counter staleness" ...                     # a subset
#   RW_VERBOSE=1 (print every check), KEEP_TMP=1 (keep the recordings)
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require

ALL="counter gauge histogram summary up invalid job_label instance_label
sorted_labels repeated_labels empty_labels name_label honor_labels staleness
timestamp headers ordering retries500 retries400 nan"
CASES=${RW_CASES:-$ALL}
if [ "$RW_SENDER" = prometheus ]; then
	# Prometheus's WAL watcher sends nothing for its first ~5 s, and one
	# Prometheus per case is heavy on two cores.
	DUR=${RW_DURATION:-10}
	PAR=${RW_PARALLEL:-7}
else
	DUR=${RW_DURATION:-8}
	PAR=${RW_PARALLEL:-20}
fi
STOP_LIMIT=${RW_STOP_LIMIT:-40}

page_of() {
	case $1 in
	counter) echo counter ;;
	gauge|headers|retries500|retries400) echo now ;;
	histogram|summary|nan) echo "$1" ;;
	up|job_label|instance_label|timestamp) echo gauge42 ;;
	invalid) echo invalid ;;
	sorted_labels) echo sorted ;;
	repeated_labels) echo repeated ;;
	empty_labels) echo empty ;;
	name_label) echo noname ;;
	honor_labels) echo honor ;;
	staleness) echo stale ;;
	ordering) echo series1000 ;;
	*) fail "unknown case $1" ;;
	esac
}

script_of() {
	case $1 in
	ordering) echo ",script=sleep:0-5" ;;
	retries500) echo ",script=500*1+ok,scope=samples" ;;
	retries400) echo ",script=400*1+ok,scope=samples" ;;
	esac
}

pages="" endpoints=""
for c in $CASES; do
	pages="$pages $(page_of "$c")"
	endpoints="$endpoints /push/$c=$T/$c.jsonl$(script_of "$c")"
done
# shellcheck disable=SC2086
fake_targets_start "$T/targets.port" $pages
# shellcheck disable=SC2086
fake_receiver_start receiver $endpoints

i=0
for c in $CASES; do
	port=$(echo "$TARGET_PORTS" | cut -d' ' -f$((i + 1)))
	eval "TARGET_$c=127.0.0.1:$port INDEX_$c=$i"
	cat >"$T/$c.yml" <<EOF
global:
  scrape_interval: 1s
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push/$c
    queue_config:
      batch_send_deadline: 1s
scrape_configs:
  - job_name: test
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
	i=$((i + 1))
done

# Run the cases in waves of PAR senders.
# shellcheck disable=SC2086
set -- $CASES
while [ $# -gt 0 ]; do
	wave="" n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$PAR" ]; do
		wave="$wave $1"
		n=$((n + 1))
		shift
	done
	# shellcheck disable=SC2046
	set -- $(free_ports "$n") "$@"
	for c in $wave; do
		eval "START_$c=\$(now_ms)"
		sender_start "$c" "$T/$c.yml" "$1"
		shift
	done
	sleep "$DUR"
	# shellcheck disable=SC2086
	senders_stop "$STOP_LIMIT" $wave
	for c in $wave; do eval "END_$c=\$(now_ms)"; done
done

# Check the cases side by side (each is a Python start), then report.
checks=""
for c in $CASES; do
	eval "rc=\$RC_$c target=\$TARGET_$c idx=\$INDEX_$c"
	eval "start_ms=\$START_$c end_ms=\$END_$c"
	(
		ok=1
		echo "== $c (sender: $RW_SENDER, exit status $rc)"
		if [ "$rc" != 0 ]; then
			echo "FAIL sender exit status $rc after SIGINT (want 0)"
			ok=0
		else
			echo "ok   sender exit status 0 after SIGINT"
		fi
		$PY "$HELPERS/rwcheck.py" "$c" "$T/$c.jsonl" --target "$target" \
		    --start "$start_ms" --end "$end_ms" \
		    --scrapes "$(scrapes_served "$idx")" || ok=0
		echo "$ok" >"$T/$c.ok"
	) >"$T/$c.check" 2>&1 &
	checks="$checks $!"
done
for p in $checks; do wait "$p"; done

passed=0 failed="" total=0
for c in $CASES; do
	total=$((total + 1))
	if [ "$(cat "$T/$c.ok" 2>/dev/null)" = 1 ]; then
		passed=$((passed + 1))
		echo "PASS $c"
	else
		failed="$failed $c"
		echo "FAIL $c"
	fi
	[ "${RW_VERBOSE:-0}" = 1 ] && cat "$T/$c.check"
done

echo "rw 1.0 sender compliance ($RW_SENDER): $passed/$total passed"
if [ -n "$failed" ]; then
	for c in $failed; do
		echo "---- $c" >&2
		grep -v '^ok' "$T/$c.check" >&2
		echo "---- $c sender log (last 15 lines)" >&2
		tail -n 15 "$T/$c.log" >&2
	done
	echo "FAIL:$failed" >&2
	exit 1
fi
pass
