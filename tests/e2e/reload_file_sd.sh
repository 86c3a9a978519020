#!/bin/sh
# file_sd targets come and go while running; SIGHUP and POST /-/reload
# keep unchanged targets scraping without gaps, stale-mark removed ones,
# read scrape_config_files again, and a bad config is rejected while the
# running one stays.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY "$HELPERS/fake_target.py" --port-file "$T/ports" counter gauge42 now \
    >"$T/target.log" 2>&1 &
PIDS="$PIDS $!"
$PY "$HELPERS/fake_receiver.py" --port-file "$T/rport" "/push=$T/recv.jsonl" \
    >"$T/receiver.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/rport" || fail "receiver did not start"
wait_for 10 sh -c "[ \$(wc -l <'$T/ports') -ge 3 ]" || fail "targets did not start"
A=127.0.0.1:$(sed -n 1p "$T/ports" | cut -d' ' -f1)
B=127.0.0.1:$(sed -n 2p "$T/ports" | cut -d' ' -f1)
C=127.0.0.1:$(sed -n 3p "$T/ports" | cut -d' ' -f1)
RPORT=$(cat "$T/rport")
WEB=127.0.0.1:$(free_port)
mkdir "$T/sd"

write_config() {
	cat >"$T/promlet.yml" <<EOT
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
$1
  - job_name: files
    file_sd_configs:
      - files: ['$T/sd/*.json']
        refresh_interval: 10m
remote_write:
  - url: http://127.0.0.1:$RPORT/push
    queue_config: {batch_send_deadline: 200ms}
EOT
}
STATIC="  - job_name: static
    static_configs: [{targets: ['$A']}]"
write_config "$STATIC"

start_promlet --web.enable-lifecycle

targets() { api_targets "$WEB" scrapePool labels.instance; }
# has_targets "JOB/INSTANCE ...": exactly these, in any order.
has_targets() { [ "$(targets)" = "$(sorted_words "$1")" ]; }

# file_sd: add, then swap the target (inotify, not the 10m refresh).
printf '[{"targets": ["%s"], "labels": {"team": "a"}}]\n' "$B" >"$T/sd/x.json"
wait_for 5 has_targets "files/$B static/$A" ||
    fail "file_sd target $B not picked up: $(targets)"
sleep 1.5
printf '[{"targets": ["%s"]}]\n' "$C" >"$T/sd/x.json.tmp"
mv "$T/sd/x.json.tmp" "$T/sd/x.json"
wait_for 5 has_targets "files/$C static/$A" ||
    fail "file_sd change not picked up: $(targets)"

# A target listed twice with the same labels is one target, also when
# it is already running (the second entry must not start another).
# B comes with it, to tell when the file has been read.
printf '[{"targets": ["%s", "%s"]}, {"targets": ["%s", "%s"]}]\n' \
    "$C" "$C" "$B" "$C" >"$T/sd/x.json.tmp"
mv "$T/sd/x.json.tmp" "$T/sd/x.json"
wait_for 5 has_targets "files/$B files/$C static/$A" ||
    fail "a target listed twice is not one target: $(targets)"
printf '[{"targets": ["%s"]}]\n' "$C" >"$T/sd/x.json.tmp"
mv "$T/sd/x.json.tmp" "$T/sd/x.json"
wait_for 5 has_targets "files/$C static/$A" ||
    fail "file_sd target $B not removed: $(targets)"

# A bad file keeps the previous targets.
echo '[{"targets": [' >"$T/sd/x.json"
sleep 1
has_targets "files/$C static/$A" || fail "bad file_sd file changed targets: $(targets)"
grep -q 'file_sd: cannot use file' "$T/promlet.log" || fail "bad file not logged"
printf '[{"targets": ["%s"]}]\n' "$C" >"$T/sd/x.json"

# SIGHUP with the static job unchanged and a new job: A keeps scraping.
sleep 1
STATIC2="$STATIC
  - job_name: extra
    static_configs: [{targets: ['$B']}]"
write_config "$STATIC2"
kill -HUP "$PID_promlet"
wait_for 5 has_targets "extra/$B files/$C static/$A" ||
    fail "SIGHUP reload did not add the new job: $(targets)"
sleep 1.5

# A bad config over the API is refused; the running config stays.
echo 'scrape_configs: [' >"$T/promlet.yml"
code=$(curl -s -o "$T/reload.out" -w '%{http_code}' -X POST "http://$WEB/-/reload")
[ "$code" = 500 ] || fail "bad reload answered $code"
grep -q 'promlet.yml' "$T/reload.out" || fail "bad reload error does not name the file"
curl -fsS "http://$WEB/metrics" | grep -q '^promlet_config_last_reload_successful 0' ||
    fail "failed reload not reported in metrics"
has_targets "extra/$B files/$C static/$A" || fail "bad reload changed targets"

# Remove the static job: its series must go stale.
write_config "  - job_name: extra
    static_configs: [{targets: ['$B']}]"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$WEB/-/reload")
[ "$code" = 200 ] || fail "good reload answered $code"
wait_for 5 has_targets "extra/$B files/$C" || fail "removed job still scraped"

# Jobs from scrape_config_files (relative to the config's directory) are
# read again at each reload; an error in one names that file and keeps
# the running config.
mkdir "$T/jobs"
included() {
	printf 'scrape_configs:\n  - job_name: %s\n' "$1" >"$T/jobs/a.yml"
	printf '    static_configs: [{targets: [%s]}]\n' "$2" >>"$T/jobs/a.yml"
}
included included "'$A'"
echo 'scrape_config_files: [jobs/*.yml]' >>"$T/promlet.yml"
kill -HUP "$PID_promlet"
wait_for 5 has_targets "extra/$B files/$C included/$A" ||
    fail "job from scrape_config_files not added: $(targets)"
included renamed "'$A'"
kill -HUP "$PID_promlet"
wait_for 5 has_targets "extra/$B files/$C renamed/$A" ||
    fail "changed scrape_config_files file not read again: $(targets)"
included extra "'$A'"
code=$(curl -s -o "$T/reload.out" -w '%{http_code}' -X POST "http://$WEB/-/reload")
[ "$code" = 500 ] || fail "reload with a duplicate job answered $code"
want='jobs/a.yml:2:5: job_name: found multiple scrape configs with job name'
want="$want \"extra\", first found in main config file"
grep -qF "$want" "$T/reload.out" ||
    fail "duplicate job error: $(cat "$T/reload.out")"
has_targets "extra/$B files/$C renamed/$A" || fail "bad reload changed targets"
sleep 1
kill -INT "$PID_promlet"
wait "$PID_promlet"; rc=$?
[ "$rc" = 0 ] || fail "promlet exited $rc"

# What the receiver saw.
$PY - "$HELPERS" "$T/recv.jsonl" "$A" "$B" <<'PYEOF' ||
import sys
helpers, path, A, B = sys.argv[1:5]
sys.path.insert(0, helpers)
from rwcheck import Checker, Records, check_ordering  # noqa: E402
c = Checker()
recs = Records(path)
check_ordering(c, recs)
cnt = recs.series("counter", instance=A)
c.check(cnt is not None and len(cnt) > 8,
        "static target scraped across reloads")
if cnt:
    live = [s for s in cnt if not s.stale]
    gaps = [b.t - a.t for a, b in zip(live, live[1:])]
    c.check(max(gaps) < 900,
            "no gap in the unchanged target (max %d ms)" % max(gaps))
    c.check([s.v for s in live] == list(range(len(live))),
            "counter never restarted or repeated")
    c.check(cnt[-1].stale, "removed job's series ended with a stale marker")
g = recs.series("gauge", instance=B, job="files")
c.check(g is not None and g[-1].stale,
        "target removed from file_sd got a stale marker")
c.check(recs.series("gauge", instance=B, job="extra") is not None,
        "job added by reload scraped")
sys.exit(1 if c.failed else 0)
PYEOF
    fail "receiver checks failed"
pass
