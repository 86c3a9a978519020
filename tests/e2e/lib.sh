# Shared by the e2e scripts: a private temp dir, cleanup of everything a
# test started, free loopback ports, and waiting helpers.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/promlet-e2e.XXXXXX")
PIDS=""
PY=/usr/bin/python3
HELPERS="$TOP_SRCDIR/tests/helpers"

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 40 lines)" >&2
		tail -n 40 "$f" >&2
	done
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

pass() {
	echo "PASS"
	exit 0
}

# A free TCP port on 127.0.0.1.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Start a command in the background, logging to $T/<name>.log.
start() {
	name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PID_$name=$!"
}

# wait_for SECONDS COMMAND...: retry until the command succeeds.
wait_for() {
	limit=$1; shift
	i=0
	while [ "$i" -lt $((limit * 10)) ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

http_ok() {
	curl -fsS -o /dev/null --max-time 2 "$1"
}

# metric_value ADDR SERIES: the value of SERIES on ADDR's /metrics, empty
# when it is not there. SERIES is a sed regex for the name and labels as
# written, e.g. 'up{job="a"}' or 'promlet_remote_storage_shards{[^}]*}'.
metric_value() {
	curl -fsS "http://$1/metrics" | sed -n "s/^$2 //p"
}
