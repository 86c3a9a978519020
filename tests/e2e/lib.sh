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
	$PY "$HELPERS/ports.py" release "$T/.ports"
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

# free_port: a free TCP port on 127.0.0.1, reserved until the test ends so
# that no test running beside it gets the same one (see ports.py).
# free_ports N: N of them, in one Python start.
free_port() {
	free_ports 1
}

free_ports() {
	$PY "$HELPERS/ports.py" take "$1" $$ "$T/.ports"
}

# Start a command in the background, logging to $T/<name>.log.
start() {
	name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PID_$name=$!"
}

# start_promlet [name=NAME] [FLAG...]: promlet on $T/promlet.yml, its WAL
# in $T/wal, listening on $WEB, with FLAGs added; fails the test unless it
# is ready within 10 s. Its pid is $PID_NAME, its log $T/NAME.log (NAME is
# promlet unless given).
start_promlet() {
	pname=promlet
	case ${1:-} in name=*) pname=${1#name=}; shift ;; esac
	start "$pname" "$PROMLET" --config.file="$T/promlet.yml" \
	    --storage.agent.path="$T/wal" --web.listen-address="$WEB" "$@"
	wait_for 10 http_ok "http://$WEB/-/ready" || fail "promlet not ready"
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

# api_targets ADDR FIELD...: a word per active target in ADDR's
# /api/v1/targets, its FIELDs joined by "/" (a dotted FIELD reads into
# an object: labels.instance), the words sorted on one line.
api_targets() {
	addr=$1
	shift
	curl -fsS "http://$addr/api/v1/targets" | $PY -c '
import json, sys
def get(t, f):
    for k in f.split("."):
        t = t[k]
    return t
d = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(sorted("/".join(get(t, f) for f in sys.argv[1:])
                      for t in d)))' "$@"
}

# sorted_words WORDS: the words sorted as api_targets sorts them.
sorted_words() {
	# shellcheck disable=SC2086 # one word each
	printf '%s\n' $1 | LC_ALL=C sort | paste -sd' '
}

# metric_value ADDR SERIES: the value of SERIES on ADDR's /metrics, empty
# when it is not there. SERIES is a sed regex for the name and labels as
# written, e.g. 'up{job="a"}' or 'promlet_remote_storage_shards{[^}]*}'.
metric_value() {
	curl -fsS "http://$1/metrics" | sed -n "s/^$2 //p"
}
