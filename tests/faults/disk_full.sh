#!/bin/sh
# shellcheck disable=SC2154 # PID_* are set by start() through eval
# The WAL directory on a small tmpfs: filled up (ENOSPC) while the
# receiver is down, then freed. promlet must log the failure clearly,
# count write errors, keep scraping (records wait in memory), recover by
# itself when space returns, and in the end deliver every scraped value.
# Then a restart on the same directory remounted read-only (a live
# remount is refused while promlet holds files open for writing) must
# fail cleanly with a clear message, and a restart read-write resumes.
# Needs root (mount); skips otherwise. EIO is not simulated here: that
# needs device-mapper (dm-error/dm-flakey), which this suite does not
# assume.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
rw_require
FAULTS="$TOP_SRCDIR/tests/faults"
CHK="$PY $FAULTS/faultcheck.py"
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
mkdir -p "$T/wal"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$T/wal" 2>"$T/mount.err" ||
    skip "cannot mount a tmpfs: $(cat "$T/mount.err")"
# Unmount before lib.sh removes $T (after everything is gone).
disk_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	umount "$T/wal" 2>/dev/null
	cleanup
}
trap disk_cleanup EXIT INT TERM

# A counter to check delivery, and 2000 series so that each scrape
# writes a few tens of kB: a full disk shows within a second.
fake_targets_start "$T/targets.port" counter series1000,n=2000
RPORT=$(free_port)
WEB=127.0.0.1:$(free_port)
cat >"$T/promlet.yml" <<EOF
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    name: disk
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'up|counter', action: keep}
scrape_configs:
  - job_name: disk
    static_configs: [{targets: ['127.0.0.1:$(echo "$TARGET_PORTS" | cut -d' ' -f1)']}]
  - job_name: bulk
    static_configs: [{targets: ['127.0.0.1:$(echo "$TARGET_PORTS" | cut -d' ' -f2)']}]
EOF
start_promlet
sleep 1
metric() {
	curl -fsS "http://$WEB/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
ok=1

# 1. Disk full: fill the tmpfs to the last byte.
dd if=/dev/zero of="$T/wal/filler" bs=64k >/dev/null 2>&1
echo "disk full: $(df -k "$T/wal" | awk 'NR == 2 { print $4 }') KiB free"
wait_until 10 grep -q 'WAL write failed' "$T/promlet.log" ||
    { echo "FAIL no WAL write failure logged on a full disk"; ok=0; }
grep 'WAL write failed' "$T/promlet.log" | head -n 1
sleep 2
errs=$(metric promlet_wal_write_errors_total)
echo "promlet_wal_write_errors_total $errs"
[ "${errs:-0}" -gt 0 ] 2>/dev/null || { echo "FAIL write errors not counted"; ok=0; }
http_ok "http://$WEB/-/ready" || { echo "FAIL not ready while the disk is full"; ok=0; }
s1=$(grep -c '"target": 0}' "$T/targets.jsonl")

# 2. Space returns: writes resume without a restart.
rm -f "$T/wal/filler"
wait_until 10 grep -q 'WAL writes recovered' "$T/promlet.log" ||
    { echo "FAIL no recovery logged after space returned"; ok=0; }
grep 'WAL writes recovered' "$T/promlet.log" | head -n 1
e1=$(metric promlet_wal_write_errors_total)
sleep 2
e2=$(metric promlet_wal_write_errors_total)
[ "$e1" = "$e2" ] || { echo "FAIL write errors still rising after space returned ($e1 -> $e2)"; ok=0; }

# 4. The receiver comes up: everything scraped must arrive.
start receiver "$PY" "$HELPERS/fake_receiver.py" --port "$RPORT" \
    --port-file "$T/recv.port" "/push=$T/recv.jsonl"
wait_for 10 test -s "$T/recv.port" || fail "receiver did not start"
wait_until 30 $CHK metric "http://$WEB/metrics" \
    promlet_remote_storage_samples_pending --max 0 ||
    { echo "FAIL samples still pending 30 s after recovery"; ok=0; }
$CHK metric "http://$WEB/metrics" promlet_wal_samples_dropped_total \
    --max 0 || ok=0
# Targets first, so that no scrape is in flight when promlet stops (it
# would be cancelled: served, never stored); then a scrape timeout's wait.
fake_targets_stop
sleep 1
kill -INT "$PID_promlet"
wait "$PID_promlet"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL promlet exited $rc"; ok=0; }
served=$(grep -c '"target": 0}' "$T/targets.jsonl")

# 3. Read-only: a restart must fail at once with a clear message.
if mount -o remount,ro "$T/wal" 2>"$T/remount.err"; then
	start promlet_ro "$PROMLET" --config.file="$T/promlet.yml" \
	    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
	wait_until 10 sh -c "! kill -0 $PID_promlet_ro 2>/dev/null" ||
	    { echo "FAIL promlet kept running on a read-only WAL"; ok=0; }
	wait "$PID_promlet_ro"
	rc=$?
	echo "read-only WAL: exit status $rc: $(grep 'level=error' "$T/promlet_ro.log" | head -n 1)"
	[ "$rc" != 0 ] && [ "$rc" -lt 128 ] ||
	    { echo "FAIL exit status $rc on a read-only WAL"; ok=0; }
	grep -qi 'read-only' "$T/promlet_ro.log" ||
	    { echo "FAIL the log does not say read-only"; ok=0; }
	mount -o remount,rw "$T/wal" || fail "cannot remount read-write"
	start promlet2 "$PROMLET" --config.file="$T/promlet.yml" \
	    --storage.agent.path="$T/wal" --web.listen-address="$WEB"
	wait_for 10 http_ok "http://$WEB/-/ready" ||
	    { echo "FAIL no restart after the remount"; ok=0; }
	kill -INT "$PID_promlet2"
	wait "$PID_promlet2" || { echo "FAIL promlet2 exit status $?"; ok=0; }
else
	echo "note: read-only remount refused: $(cat "$T/remount.err")"
fi
echo "scrapes: $s1 before space returned, $served in all"
$CHK counter "$T/recv.jsonl" counter disk --served "$served" \
    --allow-failed --failed-before "$TARGETS_STOPPED_MS" || ok=0
[ "$ok" = 1 ] || fail "disk full"
pass
