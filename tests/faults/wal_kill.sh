#!/bin/sh
# Kill a WAL writer with SIGKILL at random points, many times in a row;
# after each kill the WAL must reopen, and in the end every scrape the
# writer reported as committed must have been read back intact.
#
#	make fault-wal
#	WAL_WRITER=build/tests/helpers/wal_writer sh tests/faults/wal_kill.sh
#
# Environment: WAL_WRITER (required), KILLS (default 50), KEEP_TMP=1.
# Not part of make check: it takes about a minute.
set -u
: "${WAL_WRITER:?set WAL_WRITER to the built tests/helpers/wal_writer}"
KILLS=${KILLS:-50}
T=$(mktemp -d "${TMPDIR:-/tmp}/wal-kill.XXXXXX")
PID=""

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	grep -h '^E' "$T"/*.out >&2 2>/dev/null | head -20
	exit 1
}

# A pseudo-random number in [0, $1) without bash's $RANDOM.
rnd() {
	od -An -N2 -tu2 /dev/urandom | awk -v n="$1" '{ print $1 % n }'
}

"$WAL_WRITER" init "$T/wal" >"$T/init.out" 2>"$T/init.err" ||
    fail "init: $(cat "$T/init.out" "$T/init.err")"

i=1
while [ "$i" -le "$KILLS" ]; do
	"$WAL_WRITER" write "$T/wal" "$i" >"$T/run$i.out" 2>"$T/run$i.err" &
	PID=$!
	# 20..420 ms: sometimes mid-recovery, mostly mid-write.
	ms=$((20 + $(rnd 400)))
	sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=""
	grep -q '^E' "$T/run$i.out" && fail "run $i reported an error"
	if ! grep -q '^C' "$T/run$i.out"; then
		# Killed before its first commit: the WAL still had to open.
		grep -q 'level=error' "$T/run$i.err" &&
		    fail "run $i: $(cat "$T/run$i.err")"
	fi
	i=$((i + 1))
done

"$WAL_WRITER" verify "$T/wal" >"$T/verify.out" 2>"$T/verify.err" ||
    fail "final verify: $(cat "$T/verify.out" "$T/verify.err")"

grep -h '^C' "$T"/run*.out | sed 's/^C //' | sort -u >"$T/committed"
grep -h '^V' "$T"/*.out | sed 's/^V //' | sort -u >"$T/verified"
missing=$(comm -23 "$T/committed" "$T/verified" | wc -l)
extra=$(comm -13 "$T/committed" "$T/verified" | wc -l)
ncommit=$(wc -l <"$T/committed")
[ "$ncommit" -gt 0 ] || fail "nothing was committed"
if [ "$missing" -ne 0 ]; then
	comm -23 "$T/committed" "$T/verified" | head -5 >&2
	fail "$missing committed scrapes never read back"
fi
warns=$(grep -h 'level=warn' "$T"/*.err | grep -c 'truncated' || true)
echo "PASS: $KILLS kills, $ncommit scrapes committed and read back" \
    "($extra more read back that were written but not yet reported;" \
    "$warns torn tails repaired)"
