#!/bin/sh
# shellcheck disable=SC2154 # RC_*, INDEX_*, ... are set through eval
# Remote-write error handling against a misbehaving receiver: 5xx is
# resent, 400 is dropped and its body logged, 429 honours Retry-After
# (retried by default in promlet, only with retry_on_http_429: true in
# Prometheus), Retry-After as an HTTP date is honoured for 429 and 503,
# and a receiver slower than remote_timeout (or silent) leads to a resend
# without duplicates.
# Every case also checks per-series timestamp order (rwcheck invariants).
#
#   RW_SENDER=prometheus sh tests/e2e/rw_errors.sh   # reference sender
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require

DUR=${RW_DURATION:-8}
[ "$RW_SENDER" = prometheus ] && DUR=${RW_DURATION:-11}
# promlet retries 429 unless told not to; Prometheus does the opposite.
if [ "$RW_SENDER" = prometheus ]; then DEF429=dropped; else DEF429=resent; fi

# name  script                 queue_config/remote_write extras  check
CASES="e500 e400 e429 e429on e429off e429date e503date etimeout ehang"
script_of() {
	case $1 in
	e500) echo "500*2+ok" ;;
	e400) echo "400*1+ok" ;;
	e429|e429on|e429off) echo "429:2*1+ok" ;;
	e429date) echo "429:date:3*1+ok" ;;
	e503date) echo "503:date:3*1+ok" ;;
	etimeout) echo "sleep:3*1+ok" ;;
	ehang) echo "hang*1+ok" ;;
	esac
}
extra_of() {
	case $1 in
	e429on|e429date) printf '      retry_on_http_429: true\n' ;;
	e429off) printf '      retry_on_http_429: false\n' ;;
	esac
}
timeout_of() {
	case $1 in
	etimeout|ehang) echo 1s ;;
	*) echo 30s ;;
	esac
}

pages="" endpoints=""
for c in $CASES; do
	pages="$pages counter"
	endpoints="$endpoints /push/$c=$T/$c.jsonl,scope=samples,script=$(script_of "$c")"
done
# shellcheck disable=SC2086
fake_targets_start "$T/targets.port" $pages
# shellcheck disable=SC2086
fake_receiver_start receiver $endpoints

i=0
# shellcheck disable=SC2046,SC2086
set -- $(free_ports "$(echo $CASES | wc -w)")
for c in $CASES; do
	port=$(echo "$TARGET_PORTS" | cut -d' ' -f$((i + 1)))
	eval "INDEX_$c=$i"
	{
		cat <<EOF
global:
  scrape_interval: 1s
remote_write:
  - url: http://127.0.0.1:$RECV_PORT/push/$c
    remote_timeout: $(timeout_of "$c")
    queue_config:
      batch_send_deadline: 1s
      max_backoff: 5s
EOF
		extra_of "$c"
		cat <<EOF
scrape_configs:
  - job_name: test
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
	} >"$T/$c.yml"
	sender_start "$c" "$T/$c.yml" "$1"
	shift
	i=$((i + 1))
done
sleep "$DUR"
# shellcheck disable=SC2086
senders_stop 40 $CASES

# check NAME RWCHECK-ARGS...: the named check must hold, and the counter
# must arrive in order with every scrape but those of a dropped request.
passed=0 failed="" total=0
check() {
	c=$1; shift
	eval "rc=\$RC_$c idx=\$INDEX_$c"
	total=$((total + 1))
	{
		echo "== $c (sender: $RW_SENDER, exit status $rc)"
		ok=1
		[ "$rc" = 0 ] || { echo "FAIL sender exit status $rc after SIGINT"; ok=0; }
		$PY "$HELPERS/rwcheck.py" "$@" "$T/$c.jsonl" --sender-log "$T/$c.log" || ok=0
		case $1 in
		dropped) drop="--dropped-status $3" ;;
		*) drop="" ;;
		esac
		# shellcheck disable=SC2086
		$PY "$HELPERS/rwcheck.py" counter "$T/$c.jsonl" $drop \
		    --scrapes "$(scrapes_served "$idx")" || ok=0
		echo "$ok" >"$T/$c.ok"
	} >"$T/$c.check" 2>&1
	if [ "$(cat "$T/$c.ok")" = 1 ]; then
		passed=$((passed + 1)); echo "PASS $c"
	else
		failed="$failed $c"; echo "FAIL $c"
	fi
	[ "${RW_VERBOSE:-0}" = 1 ] && cat "$T/$c.check"
	return 0
}

check e500 resent --status 500
check e400 dropped --status 400 --grep "fake_receiver rejected request #"
if [ "$DEF429" = resent ]; then
	check e429 resent --status 429 --min-delay 1.8 --max-delay 6
else
	check e429 dropped --status 429
fi
check e429on resent --status 429 --min-delay 1.8 --max-delay 6
check e429off dropped --status 429
check e429date resent --status 429 --min-delay 1.5 --max-delay 6
if [ "$RW_SENDER" = prometheus ]; then
	# Prometheus 2.42 reads Retry-After only for 429; newer versions and
	# promlet also honour it on 5xx.
	check e503date resent --status 503
else
	check e503date resent --status 503 --min-delay 1.5 --max-delay 6
fi
check etimeout resent --status gone
check ehang resent --status gone

echo "rw error handling ($RW_SENDER): $passed/$total passed"
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
