#!/bin/sh
# shellcheck disable=SC2154,SC2317 # variables set through eval; functions called indirectly
# End to end into a real Prometheus: the sender scrapes a fake target and
# a real node_exporter and remote-writes into a Prometheus server started
# with --web.enable-remote-write-receiver; the test then asks Prometheus's
# query API for the series, their values and labels (job, instance,
# external_labels), up, the scrape_* series (with extra-scrape-metrics),
# and staleness of a series
# that leaves the page and, for promlet, of everything at shutdown.
#
#   RW_SENDER=prometheus sh tests/e2e/prometheus_receiver.sh  # reference
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/helpers/rw.sh"
. "$TOP_SRCDIR/tests/helpers/prom.sh"
prom_require
rw_require

prom_start prom
node_exporter_start node

page() {
	# $1: the counter value; $2: include e2e_vanishing (1) or not (0).
	{
		printf '# HELP e2e_gauge A gauge.\n# TYPE e2e_gauge gauge\n'
		printf 'e2e_gauge{kind="a"} 42.5\ne2e_gauge{kind="b"} -0.001\n'
		printf '# TYPE e2e_counter_total counter\ne2e_counter_total %s\n' "$1"
		printf 'e2e_conflict{env="from-target"} 1\n'
		[ "$2" = 1 ] && printf 'e2e_vanishing 7\n'
	} >"$T/page.tmp"
	mv "$T/page.tmp" "$T/page.prom"
}
page 17 1
fake_targets_start "$T/targets.port" "file:$T/page.prom"
FAKE=127.0.0.1:${TARGET_PORTS%% *}

cat >"$T/sender.yml" <<EOF
global:
  scrape_interval: 1s
  external_labels:
    env: e2e
    cluster: test-cluster
scrape_configs:
  - job_name: fake
    static_configs:
      - targets: ['$FAKE']
  - job_name: node
    scrape_interval: 2s
    static_configs:
      - targets: ['$NODE_ADDR']
remote_write:
  - url: $PROM_URL/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send_interval: 1s
EOF
sender_start sender "$T/sender.yml" "" --enable-feature=extra-scrape-metrics
eval "SENDER_ADDR=\$SENDER_ADDR_sender"

# expect QUERY WANT: the query returns exactly one series, of value WANT
# ("" = no series).
expect() {
	got=$(prom_value "$1") || fail "query failed: $1"
	[ "$got" = "$2" ] || fail "$1 = '$got', want '$2'"
	echo "ok   $1 = '$2'"
}
value_is() {
	[ "$(prom_value "$1" 2>/dev/null)" = "$2" ]
}

wait_until 40 value_is "up{job=\"fake\",instance=\"$FAKE\"}" 1 ||
    fail "no up{job=\"fake\"} = 1 in Prometheus after 40 s"
wait_until 20 value_is "up{job=\"node\",instance=\"$NODE_ADDR\"}" 1 ||
    fail "no up{job=\"node\"} = 1 in Prometheus after 20 s"

base="job=\"fake\",instance=\"$FAKE\",env=\"e2e\",cluster=\"test-cluster\""
expect "e2e_gauge{kind=\"a\",$base}" 42.5
expect "e2e_gauge{kind=\"b\",$base}" -0.001
expect "e2e_counter_total{$base}" 17
expect "count(e2e_gauge)" 2
# A target label wins over an external label of the same name.
expect "e2e_conflict{env=\"from-target\",job=\"fake\"}" 1
expect "e2e_conflict{env=\"e2e\"}" ""
expect "up{$base}" 1
expect "scrape_samples_scraped{$base}" 5
expect "scrape_samples_post_metric_relabeling{$base}" 5
expect "count(scrape_duration_seconds{$base} > 0 < 1)" 1
expect "count(scrape_series_added{$base})" 1
# --enable-feature=extra-scrape-metrics: the timeout (1s, the interval),
# no sample_limit, the page's size as served.
expect "scrape_timeout_seconds{$base}" 1
expect "scrape_sample_limit{$base}" 0
expect "scrape_body_size_bytes{$base}" "$(wc -c <"$T/page.prom")"
expect "up{job=\"node\",instance=\"$NODE_ADDR\",env=\"e2e\"}" 1
expect "count(node_load1{job=\"node\",instance=\"$NODE_ADDR\",cluster=\"test-cluster\"})" 1
n=$(prom_value "count({job=\"node\"})")
[ "${n:-0}" -gt 100 ] || fail "only ${n:-0} node_exporter series in Prometheus"
echo "ok   $n node_exporter series"
expect "count({job=\"node\",env!=\"e2e\"})" ""
http_ok "http://$SENDER_ADDR/metrics" ||
    fail "the sender does not serve /metrics on $SENDER_ADDR"
echo "ok   the sender serves /metrics on $SENDER_ADDR"
if [ "$RW_SENDER" != prometheus ]; then
	sent=$(metric_value "$SENDER_ADDR" \
	    'promlet_remote_storage_metadata_total{[^}]*}')
	failed=$(metric_value "$SENDER_ADDR" \
	    'promlet_remote_storage_metadata_failed_total{[^}]*}')
	[ "${sent:-0}" -gt 0 ] && [ "$failed" = 0 ] ||
	    fail "metadata: ${sent:-none} accepted, ${failed:-none} rejected"
	echo "ok   Prometheus accepted $sent metadata entries, rejected none"
fi

# The values follow the target.
expect "e2e_vanishing{$base}" 7
page 18 1
wait_until 10 value_is "e2e_counter_total{$base}" 18 ||
    fail "e2e_counter_total did not become 18"
echo "ok   e2e_counter_total follows the target to 18"

# A series that leaves the page is marked stale: without a stale marker
# Prometheus would keep returning it for 5 minutes.
page 19 0
wait_until 10 value_is "e2e_vanishing{$base}" "" ||
    fail "e2e_vanishing still has a value after leaving the page (no stale marker)"
n=$(prom_value "count_over_time(e2e_vanishing{$base}[10m])")
[ "${n:-0}" -gt 0 ] || fail "e2e_vanishing has no samples at all"
echo "ok   e2e_vanishing went stale after $n samples"

senders_stop 30 sender
[ "$RC_sender" = 0 ] || fail "sender exit status $RC_sender after SIGINT (want 0)"
echo "ok   sender exited 0 after SIGINT"
served=$(scrapes_served 0)

# Every scrape the target answered reached Prometheus (the last one may
# be cut short by the shutdown).
got=$(prom_value "count_over_time(e2e_gauge{kind=\"a\",$base}[10m])")
if [ "${got:-0}" -lt $((served - 1)) ] || [ "${got:-0}" -gt "$served" ]; then
	fail "Prometheus holds ${got:-0} samples of e2e_gauge, the target served $served scrapes"
fi
echo "ok   $got of $served scrapes stored in Prometheus"

if [ "$RW_SENDER" = prometheus ]; then
	echo "info Prometheus writes no stale markers at shutdown; not checked"
else
	wait_until 10 value_is "up{$base}" "" ||
	    fail "up{job=\"fake\"} still has a value after shutdown (no stale markers)"
	expect "e2e_gauge{kind=\"a\",$base}" ""
	echo "ok   the target's series went stale at shutdown"
fi

if grep -iE 'out of order|out of bounds|duplicate sample|error appending|rejected' \
    "$T/prom.log" >"$T/prom-errors.txt"; then
	head -n 5 "$T/prom-errors.txt" >&2
	fail "Prometheus logged remote-write ingestion errors"
fi
echo "ok   Prometheus logged no ingestion errors"
pass
