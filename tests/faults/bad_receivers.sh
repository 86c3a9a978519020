#!/bin/sh
# shellcheck disable=SC2154 # PID_*, RC_*, SENDER_ADDR_* are set through eval
# Misbehaving remote-write receivers, one promlet each, all at once: a 5xx
# storm, a 429 storm with Retry-After, a receiver that accepts and never
# answers, one that is down (port closed) and comes up late, a TLS
# receiver with a self-signed certificate (refused until the config names
# its CA and is reloaded), and a 301 to another URL (followed: the batch
# is posted again there). During the outage
# promlet keeps scraping into the WAL (samples pending, memory flat); once
# the receiver recovers every scraped value arrives exactly once.
#
#	FAULT_OUTAGE=S   seconds of outage (default 6; run-slow uses 3600 for
#			 the "down" case with FAULT_CASES=down)
#	FAULT_CASES="e5xx e429 hang down tls moved"
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
FAULTS="$TOP_SRCDIR/tests/faults"
# ASan keeps freed memory in a 256 MiB quarantine, which reads as growth
# wherever promlet allocates a lot (TLS handshakes load the CA store each
# time); a small one keeps the RSS checks about promlet, not ASan.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
export ASAN_OPTIONS
OUT=${FAULT_OUTAGE:-6}
CASES=${FAULT_CASES:-"e5xx e429 hang down tls moved"}
CHK="$PY $FAULTS/faultcheck.py"
# The storms are counted in requests: about one a second once the
# backoff reaches max_backoff (1 s), Retry-After (1 s) or remote_timeout
# (2 s); each lasts a little longer than the outage.
N=$((OUT + 2))

script_of() {
	case $1 in
	e5xx) echo "500*$((N + 3))+ok" ;;
	e429) echo "429:1*$N+ok" ;;
	hang) echo "hang*$((N / 2 + 1))+ok" ;;
	moved) echo "301*$N+ok" ;;
	*) echo ok ;;
	esac
}

if ! command -v openssl >/dev/null; then
	echo "note: no openssl CLI: the tls case is left out"
	CASES=$(echo " $CASES " | sed 's/ tls / /')
fi
case " $CASES " in *" tls "*)
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	    -out "$T/cert.pem" >"$T/openssl.out" 2>&1 ||
	    fail "openssl: $(cat "$T/openssl.out")"
esac

pages=""
eps="/elsewhere=$T/elsewhere.jsonl"
for c in $CASES; do
	pages="$pages counter"
	case $c in
	down|tls) ;;
	moved) eps="$eps /push/$c=$T/$c.jsonl,script=$(script_of "$c"),location=/elsewhere" ;;
	*) eps="$eps /push/$c=$T/$c.jsonl,script=$(script_of "$c")" ;;
	esac
done
# shellcheck disable=SC2086
fake_targets_start "$T/targets.port" $pages
# shellcheck disable=SC2086
fake_receiver_start receiver $eps
MAIN_PORT=$RECV_PORT
DOWN_PORT=$(free_port)
TLS_PORT=0
case " $CASES " in *" tls "*)
	start tlsrecv "$PY" "$HELPERS/fake_receiver.py" \
	    --port-file "$T/tls.port" --tls-cert "$T/cert.pem" \
	    --tls-key "$T/key.pem" "/push/tls=$T/tls.jsonl"
	wait_for 10 test -s "$T/tls.port" || fail "TLS receiver did not start"
	TLS_PORT=$(cat "$T/tls.port")
esac

url_of() {
	case $1 in
	down) echo "http://127.0.0.1:$DOWN_PORT/push/down" ;;
	tls) echo "https://127.0.0.1:$TLS_PORT/push/tls" ;;
	*) echo "http://127.0.0.1:$MAIN_PORT/push/$1" ;;
	esac
}

# config CASE [TLS-YAML]: the promlet config of a case.
config() {
	cat <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
remote_write:
  - url: $(url_of "$1")
    name: $1
    remote_timeout: 2s
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}
EOF
	[ -n "${2:-}" ] && printf '    %s\n' "$2"
	cat <<EOF
scrape_configs:
  - job_name: $1
    static_configs: [{targets: ['127.0.0.1:$3']}]
EOF
}

i=0
for c in $CASES; do
	port=$(echo "$TARGET_PORTS" | cut -d' ' -f$((i + 1)))
	eval "INDEX_$c=$i PORT_$c=$port"
	config "$c" "" "$port" >"$T/$c.yml"
	sender_start "$c" "$T/$c.yml"
	i=$((i + 1))
done
for c in $CASES; do
	eval "addr=\$SENDER_ADDR_$c"
	wait_for 20 http_ok "http://$addr/-/ready" || fail "$c: promlet not ready"
done

# The outage: RSS a third of the way in and at the end; the most samples
# seen pending (polled every second, since the storms end on their own).
# The first third is warm-up: the first TLS handshakes load the CA store
# (tens of MiB under ASan), sooner or later depending on the backoff, and
# what must hold is that nothing grows after that.
pending() {
	curl -fsS "http://$1/metrics" 2>/dev/null | awk '
	    $1 ~ /^promlet_remote_storage_samples_pending/ { s += $2 }
	    END { print s + 0 }'
}
sleep 1
for c in $CASES; do
	eval "p=\$PID_$c"
	eval "RSS0_$c=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status") MAXP_$c=0"
done
i=1
while [ "$i" -lt "$OUT" ]; do
	for c in $CASES; do
		eval "addr=\$SENDER_ADDR_$c maxp=\$MAXP_$c p=\$PID_$c"
		n=$(pending "$addr")
		[ "$n" -gt "$maxp" ] && eval "MAXP_$c=$n"
		[ "$i" = $((OUT / 3)) ] && eval "RSS0_$c=$(awk \
		    '/^VmRSS/ { print $2 }' "/proc/$p/status")"
	done
	sleep 1
	i=$((i + 1))
done
ok=1
for c in $CASES; do
	eval "p=\$PID_$c rss0=\$RSS0_$c maxp=\$MAXP_$c"
	pid_alive "$p" || { echo "FAIL $c: promlet died"; ok=0; continue; }
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")
	echo "$c: RSS $((rss0 / 1024)) -> $((rss / 1024)) MiB during the outage, up to $maxp samples pending"
	[ $((rss - rss0)) -lt $((32 * 1024)) ] ||
	    { echo "FAIL $c: RSS grew by $(((rss - rss0) / 1024)) MiB"; ok=0; }
	# The redirect target accepts at once: nothing needs to wait.
	[ "$c" = moved ] && continue
	[ "$maxp" -ge 3 ] ||
	    { echo "FAIL $c: samples did not wait in the WAL ($maxp pending)"; ok=0; }
done

# Recovery: the late receiver comes up; the TLS case learns the CA.
case " $CASES " in *" down "*)
	start downrecv "$PY" "$HELPERS/fake_receiver.py" --port "$DOWN_PORT" \
	    --port-file "$T/down.port" "/push/down=$T/down.jsonl"
	wait_for 10 test -s "$T/down.port" || fail "late receiver did not start"
esac
case " $CASES " in *" tls "*)
	grep -qi 'certificate' "$T/tls.log" ||
	    { echo "FAIL tls: no certificate error logged"; ok=0; }
	grep 'certificate' "$T/tls.log" | head -n 1
	config tls "tls_config: {ca_file: $T/cert.pem}" "$PORT_tls" >"$T/tls.yml"
	kill -HUP "$PID_tls"
esac
# Catch up: until nothing is pending anywhere (at most 30 s).
for c in $CASES; do
	eval "addr=\$SENDER_ADDR_$c"
	wait_until 30 $CHK metric "http://$addr/metrics" \
	    promlet_remote_storage_samples_pending --max 0 ||
	    { echo "FAIL $c: samples still pending after 30 s"; ok=0; }
done
# Targets first, so that no scrape is in flight when promlet stops (it
# would be cancelled: served, never stored); then a scrape timeout's wait.
fake_targets_stop
sleep 2
# shellcheck disable=SC2086
senders_stop 30 $CASES

for c in $CASES; do
	eval "idx=\$INDEX_$c rc=\$RC_$c"
	[ "$rc" = 0 ] || { echo "FAIL $c: exit status $rc"; ok=0; }
	served=$(grep -c "\"target\": $idx}" "$T/targets.jsonl")
	# A followed 301 delivers to the new URL: count both.
	[ "$c" = moved ] && cat "$T/elsewhere.jsonl" >>"$T/$c.jsonl"
	$CHK counter "$T/$c.jsonl" counter "$c" --served "$served" \
	    --allow-failed --failed-before "$TARGETS_STOPPED_MS" || ok=0
done
for c in $CASES; do
	grep -q 'level=error' "$T/$c.log" && [ "$c" != tls ] &&
	    { echo "FAIL $c: errors logged"; grep 'level=error' "$T/$c.log" | head -3; ok=0; }
done
[ "$ok" = 1 ] || fail "bad receivers"
pass
