# shellcheck shell=sh disable=SC2034,SC2154 # variables for the caller; eval
# Remote-write senders, fake targets and fake receivers for the e2e tests.
# Source after tests/e2e/lib.sh.
#
# RW_SENDER picks the sender under test:
#   promlet (default)  $PROMLET
#   prometheus         /usr/bin/prometheus --enable-feature=agent, the
#                      reference RW 1.0 sender, to validate the checks
#   anything else      a command that takes the same flags
# Every sender gets --config.file, --storage.agent.path and
# --web.listen-address, as the compliance harness gives Prometheus.

RW_SENDER=${RW_SENDER:-promlet}
SENDER_PIDS=""

# On the way out, senders go first, while their receivers still run, and
# quickly: after a failure nobody waits for a flush.
rw_cleanup() {
	for _p in $SENDER_PIDS; do kill -TERM "$_p" 2>/dev/null; done
	_i=0
	while [ "$_i" -lt 30 ]; do
		_alive=0
		for _p in $SENDER_PIDS; do
			pid_alive "$_p" && _alive=1
		done
		[ "$_alive" = 0 ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	for _p in $SENDER_PIDS; do kill -KILL "$_p" 2>/dev/null; done
	cleanup
}
trap rw_cleanup EXIT INT TERM

rw_require() {
	$PY -c 'import snappy' 2>/dev/null ||
	    skip "$PY lacks the snappy module (Debian package python3-snappy)"
	case $RW_SENDER in
	promlet) [ -x "$PROMLET" ] || fail "PROMLET=$PROMLET is not executable" ;;
	prometheus) [ -x /usr/bin/prometheus ] ||
	    skip "RW_SENDER=prometheus but /usr/bin/prometheus is missing" ;;
	esac
}

# fake_targets_start PORTFILE PAGE...: one fake_target.py serving every
# PAGE on its own port; sets TARGET_PORTS to the ports in order. The
# request log is $T/targets.jsonl.
fake_targets_start() {
	_pf=$1; shift
	start fake_target "$PY" "$HELPERS/fake_target.py" --port-file "$_pf" \
	    --log "$T/targets.jsonl" "$@"
	wait_for 10 test -s "$_pf" || fail "fake_target did not start"
	TARGET_PORTS=$(cut -d' ' -f1 "$_pf" | tr '\n' ' ')
}

# fake_receiver_start NAME ENDPOINT...: one fake_receiver.py; sets
# RECV_PORT.
fake_receiver_start() {
	_name=$1; shift
	start "$_name" "$PY" "$HELPERS/fake_receiver.py" \
	    --port-file "$T/$_name.port" "$@"
	wait_for 10 test -s "$T/$_name.port" || fail "fake_receiver did not start"
	RECV_PORT=$(cat "$T/$_name.port")
}

# fake_targets_stop: stop fake_target.py and set TARGETS_STOPPED_MS to
# the moment it was gone. Stop the targets before the sender when every
# served value must arrive: a scrape still in flight when the sender
# stops is cancelled, so its value was served (logged) but never stored.
# With the target gone first (then a scrape timeout's wait), every
# logged value was either stored or its scrape failed (up=0) before
# TARGETS_STOPPED_MS; scrapes that start later cannot have been served.
fake_targets_stop() {
	kill "$PID_fake_target" 2>/dev/null
	wait "$PID_fake_target" 2>/dev/null
	TARGETS_STOPPED_MS=$(now_ms)
}

# scrapes_served INDEX: how many scrapes fake target INDEX answered.
scrapes_served() {
	grep -c "\"target\": $1}" "$T/targets.jsonl"
}

# sender_start NAME CONFIG [PORT [FLAG...]]: start the sender under test
# in the background, logging to $T/NAME.log, with its WAL in $T/NAME.wal,
# its web server on PORT (default, or "": a free one) and FLAGs added.
# SIGINT is reset to the default action because sh starts background jobs
# with it ignored.
sender_start() {
	_name=$1 _cfg=$2 _port=${3:-}
	shift 2
	[ $# -gt 0 ] && shift
	[ -n "$_port" ] || _port=$(free_port)
	# promlet gets a Prometheus agent's own arguments: they must work.
	case $RW_SENDER in
	promlet)
		start "$_name" env --default-signal=INT "$PROMLET" \
		    --enable-feature=agent \
		    --config.file="$_cfg" --storage.agent.path="$T/$_name.wal" \
		    --web.listen-address="127.0.0.1:$_port" "$@" ;;
	prometheus)
		start "$_name" env --default-signal=INT /usr/bin/prometheus \
		    --enable-feature=agent \
		    --config.file="$_cfg" --storage.agent.path="$T/$_name.wal" \
		    --web.listen-address="127.0.0.1:$_port" "$@" ;;
	*)
		# shellcheck disable=SC2086 # a command with its arguments
		start "$_name" env --default-signal=INT $RW_SENDER \
		    --config.file="$_cfg" --storage.agent.path="$T/$_name.wal" \
		    --web.listen-address="127.0.0.1:$_port" "$@" ;;
	esac
	eval "SENDER_ADDR_$_name=127.0.0.1:$_port"
	eval "SENDER_PIDS=\"\$SENDER_PIDS \$PID_$_name\""
}

# pid_alive PID: true while PID runs (a zombie does not count).
pid_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# senders_stop LIMIT NAME...: SIGINT every named sender, give them LIMIT
# seconds in all to exit, SIGKILL the rest. Sets RC_<name> to the exit
# status (or "timeout").
senders_stop() {
	_limit=$1; shift
	for _n in "$@"; do
		eval "_p=\$PID_$_n"
		kill -INT "$_p" 2>/dev/null
	done
	_i=0
	while [ "$_i" -lt $((_limit * 10)) ]; do
		_alive=0
		for _n in "$@"; do
			eval "_p=\$PID_$_n"
			if pid_alive "$_p"; then _alive=1; break; fi
		done
		[ "$_alive" = 0 ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	for _n in "$@"; do
		eval "_p=\$PID_$_n"
		if pid_alive "$_p"; then
			kill -KILL "$_p" 2>/dev/null
			wait "$_p" 2>/dev/null
			eval "RC_$_n=timeout"
		else
			wait "$_p"
			eval "RC_$_n=\$?"
		fi
	done
}

# wait_until SECONDS COMMAND...: retry COMMAND until it succeeds or
# SECONDS of wall time have passed (lib.sh's wait_for counts tries, which
# stretches when each try takes a while, as a Python query does).
wait_until() {
	_end=$(($(date +%s) + $1)); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.2
	done
}

# now_ms: wall clock in milliseconds (GNU date).
now_ms() {
	date +%s%3N
}

