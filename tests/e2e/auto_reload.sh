#!/bin/sh
# --enable-feature=auto-reload-config (Prometheus 3's): promlet reloads
# by itself when the config file or a file its scrape_config_files match
# changes, checked every --config.auto-reload-interval; a broken edit is
# tried once, logged, and the running config stays until the next edit.
# Without the feature, an edit waits for SIGHUP as before.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir -p "$T/jobs"
conf() {
	# $1: the jobs of the main file, as "name:port" words.
	{
		printf 'global: {scrape_interval: 1h}\n'
		printf 'scrape_config_files: [jobs/*.yml]\n'
		printf 'scrape_configs:\n'
		for j in $1; do
			printf '  - job_name: %s\n' "${j%%:*}"
			printf "    static_configs: [{targets: ['127.0.0.1:%s']}]\n" \
			    "${j#*:}"
		done
	} >"$T/promlet.yml.new"
	mv "$T/promlet.yml.new" "$T/promlet.yml"
}
jobs() { api_targets "$WEB" scrapePool; }
has_jobs() { [ "$(jobs)" = "$1" ]; }
reloads() { grep -c "$1" "$T/promlet.log"; }

conf "a:1"
WEB=127.0.0.1:$(free_port)
start_promlet --enable-feature=auto-reload-config \
    --config.auto-reload-interval=1s
has_jobs a || fail "start: jobs $(jobs)"

conf "a:1 b:2"
wait_for 10 has_jobs "a b" || fail "an added job was not loaded: $(jobs)"
grep -q 'msg="configuration file change detected, reloading"' \
    "$T/promlet.log" || fail "the reload was not logged"

printf "scrape_configs:\n  - job_name: c\n    static_configs: [{targets: ['127.0.0.1:3']}]\n" \
    >"$T/jobs/c.yml"
wait_for 10 has_jobs "a b c" ||
    fail "a new scrape_config_files match was not loaded: $(jobs)"

# A broken edit: tried once, the running config stays.
printf 'scrape_configs: [\n' >"$T/promlet.yml"
wait_for 10 sh -c "grep -q 'reload failed, keeping the running config' \
    '$T/promlet.log'" || fail "the broken edit was not tried"
sleep 3
[ "$(reloads 'reload failed')" = 1 ] ||
    fail "the broken file was tried $(reloads 'reload failed') times"
has_jobs "a b c" || fail "the running config changed: $(jobs)"
kill -0 "$PID_promlet" || fail "promlet died"

conf "b:2"
wait_for 10 has_jobs "b c" || fail "the fixed file was not loaded: $(jobs)"
rm "$T/jobs/c.yml"
wait_for 10 has_jobs "b" || fail "a removed file's job stayed: $(jobs)"

# Without the feature: no reload until SIGHUP.
kill "$PID_promlet"
wait "$PID_promlet"
conf "a:1"
WEB=127.0.0.1:$(free_port)
start_promlet name=plain
conf "a:1 b:2"
sleep 3
[ "$(jobs)" = a ] || fail "reloaded without the feature: $(jobs)"
kill -HUP "$PID_plain"
wait_for 10 has_jobs "a b" || fail "SIGHUP did not reload: $(jobs)"
pass
