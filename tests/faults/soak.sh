#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# Soak: promlet for hours with target churn (file_sd), series churn,
# config reloads and receiver outages, sampling RSS, open file
# descriptors, WAL size and pending samples every minute into a CSV. In
# the end RSS must be flat: the median of the last hour no more than
# SOAK_RSS_GROWTH percent (default 20) above the median of the first hour
# after warm-up; descriptors bounded; every counter value delivered. Not
# part of make check.
#
#	PROMLET=build/src/promlet TOP_SRCDIR=. sh tests/faults/soak.sh
#
#	SOAK_HOURS=4        length (hours; decimals allowed: 0.1 = 6 min)
#	SOAK_SAMPLE=60      seconds between samples
#	SOAK_OUT=FILE       CSV (default $T/soak.csv, printed at the end)
# Use a build without --enable-sanitizers: ASan's quarantine and shadow
# memory make RSS meaningless over hours.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
FAULTS="$TOP_SRCDIR/tests/faults"
HOURS=${SOAK_HOURS:-4}
EVERY=${SOAK_SAMPLE:-60}
GROWTH=${SOAK_RSS_GROWTH:-20}
OUTF=${SOAK_OUT:-$T/soak.csv}
SECS=$(awk -v h="$HOURS" 'BEGIN { printf "%d", h * 3600 }')

set --
i=0
while [ "$i" -lt 16 ]; do
	set -- "$@" "series1000,n=500,port=@a,path=/t$i"
	i=$((i + 1))
done
fake_targets_start "$T/targets.port" counter "$@"
set -- $TARGET_PORTS
CPORT=$1 SPORT=$2
RPORT=$(free_port)
WEB=127.0.0.1:$(free_port)
mkdir "$T/sd"

write_config() {
	cat >"$T/promlet.yml.tmp" <<EOF
global:
  scrape_interval: 5s
  scrape_timeout: 4s
  external_labels: {gen: 'g$(($1 % 2))'}
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    name: soak
    queue_config: {batch_send_deadline: 1s, max_backoff: 5s}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'up|counter|test', action: keep}
scrape_configs:
  - job_name: counter
    static_configs: [{targets: ['127.0.0.1:$CPORT']}]
  - job_name: files
    file_sd_configs:
      - files: ['$T/sd/*.json']
        refresh_interval: 30s
    metric_relabel_configs:
      - source_labels: [i]
        target_label: copy
        replacement: 'c$(($1 % 3))-\${1}'
EOF
	mv "$T/promlet.yml.tmp" "$T/promlet.yml"
}
write_sd() {
	i=0
	printf '[' >"$T/sd/t.json.tmp"
	for j in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		[ $(( (($1 * 7) + j * 3) % 5 )) -lt 3 ] || continue
		[ "$i" -gt 0 ] && printf ',' >>"$T/sd/t.json.tmp"
		printf '{"targets": ["127.0.0.1:%s"], "labels": {"__metrics_path__": "/t%d", "slot": "%d"}}' \
		    "$SPORT" "$j" "$j" >>"$T/sd/t.json.tmp"
		i=$((i + 1))
	done
	printf ']\n' >>"$T/sd/t.json.tmp"
	mv "$T/sd/t.json.tmp" "$T/sd/t.json"
}
recv_up() {
	start receiver "$PY" "$HELPERS/fake_receiver.py" --port "$RPORT" \
	    --port-file "$T/recv.port" "/push=$T/recv.jsonl"
	RECV=$PID_receiver
}
recv_down() {
	kill "$RECV" 2>/dev/null
	wait "$RECV" 2>/dev/null
	rm -f "$T/recv.port"
	RECV=""
}

write_config 0
write_sd 0
recv_up
start promlet "$PROMLET" --config.file="$T/promlet.yml" \
    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
wait_for 30 http_ok "http://$WEB/-/ready" || fail "promlet not ready"
# shellcheck disable=SC2154
P=$PID_promlet
metric() {
	curl -fsS "http://$WEB/metrics" 2>/dev/null |
	    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'
}

echo "elapsed_s,rss_kib,fds,wal_bytes,pending,cpu_s,receiver" >"$OUTF"
t0=$(date +%s)
n=0
while :; do
	now=$(date +%s)
	el=$((now - t0))
	[ "$el" -ge "$SECS" ] && break
	n=$((n + 1))
	write_sd "$n"
	# A reload every 10 samples, a receiver outage of 5 samples every 30.
	[ $((n % 10)) = 0 ] && { write_config $((n / 10)); kill -HUP "$P"; }
	[ $((n % 30)) = 10 ] && recv_down
	[ $((n % 30)) = 15 ] && recv_up
	pid_alive "$P" || fail "promlet died after ${el}s"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$P/status")
	fds=$(ls "/proc/$P/fd" | wc -l)
	cpu=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$P/stat")
	echo "$el,$rss,$fds,$(metric promlet_wal_size_bytes),$(metric promlet_remote_storage_samples_pending),$cpu,$([ -n "$RECV" ] && echo up || echo down)" >>"$OUTF"
	sleep "$EVERY"
done
[ -n "$RECV" ] || recv_up
wait_until 120 $PY "$FAULTS/faultcheck.py" metric "http://$WEB/metrics" \
    promlet_remote_storage_samples_pending --max 0 >/dev/null
kill -INT "$P"
wait "$P"
rc=$?
ok=1
[ "$rc" = 0 ] || { echo "FAIL promlet exited $rc"; ok=0; }
served=$(grep -c '"target": 0}' "$T/targets.jsonl")
$PY "$FAULTS/faultcheck.py" counter "$T/recv.jsonl" counter counter \
    --served "$served" --allow-failed || ok=0
$PY - "$OUTF" "$GROWTH" <<'EOF' || ok=0
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
growth = float(sys.argv[2])
if len(rows) < 6:
    print("too few samples for a trend (%d)" % len(rows))
    sys.exit(0)
span = int(rows[-1]["elapsed_s"])
win = min(3600, span // 3)
warm = min(600, span // 6)
first = [int(r["rss_kib"]) for r in rows
         if warm <= int(r["elapsed_s"]) < warm + win]
last = [int(r["rss_kib"]) for r in rows if int(r["elapsed_s"]) >= span - win]
fds = [int(r["fds"]) for r in rows]
a, b = statistics.median(first), statistics.median(last)
print("RSS median %.1f MiB (first window) -> %.1f MiB (last window), "
      "%+.1f%%; fds %d..%d; %d samples over %.1f h" %
      (a / 1024, b / 1024, 100 * (b - a) / a, min(fds), max(fds),
       len(rows), span / 3600))
ok = b <= a * (1 + growth / 100) and max(fds) <= min(fds) + 40
print("ok   flat" if ok else "FAIL RSS or descriptors grew")
sys.exit(0 if ok else 1)
EOF
echo "samples: $OUTF"
[ "$OUTF" = "$T/soak.csv" ] && cat "$OUTF"
[ "$ok" = 1 ] || fail "soak"
pass
