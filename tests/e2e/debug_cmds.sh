#!/bin/sh
# promlet debug parse and promlet debug relabel: what users run by hand.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

cat >"$T/page.txt" <<'EOT'
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{code="400",method="post"} 3
plain 1e3
esc{path="a\\b\"c\nd"} NaN
EOT
"$PROMLET" debug parse "$T/page.txt" >"$T/out" || fail "debug parse failed"
cat >"$T/want" <<'EOT'
http_requests_total{code="200",method="post"} 1027 1395066363000
http_requests_total{code="400",method="post"} 3
plain 1000
esc{path="a\\b\"c\nd"} NaN
EOT
diff -u "$T/want" "$T/out" || fail "debug parse output differs"

printf 'ok 1\nbad{a="1",a="2"} 2\n' >"$T/bad.txt"
"$PROMLET" debug parse "$T/bad.txt" >/dev/null 2>"$T/err" && fail "bad page accepted"
grep -q "bad.txt:2:" "$T/err" || fail "error lacks file:line: $(cat "$T/err")"
printf 'a 1\n' | "$PROMLET" debug parse - >"$T/out" || fail "stdin not read"
grep -qx 'a 1' "$T/out" || fail "stdin parse wrong"
printf '# TYPE a gauge\na 1\n' | "$PROMLET" debug parse --openmetrics - \
    >/dev/null 2>&1 && fail "OpenMetrics without # EOF accepted"

cat >"$T/cfg.yml" <<'EOT'
global:
  external_labels: {region: eu}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['h:9100']}]
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.*):\d+'
        target_label: host
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
      - regex: 'cpu'
        action: labeldrop
remote_write:
  - url: http://127.0.0.1:1/write
    name: main
    write_relabel_configs:
      - source_labels: [region, __name__]
        separator: '/'
        target_label: key
EOT
out=$("$PROMLET" debug relabel -c "$T/cfg.yml" --job node 'node_cpu_seconds_total{cpu="0",mode="idle"}') ||
    fail "debug relabel failed"
[ "$out" = 'node_cpu_seconds_total{mode="idle"}' ] || fail "metric relabel gave: $out"
out=$("$PROMLET" debug relabel -c "$T/cfg.yml" --job node 'go_goroutines')
[ "$out" = dropped ] || fail "drop rule gave: $out"
out=$("$PROMLET" debug relabel -c "$T/cfg.yml" --job node --target '{__address__="h:9100"}')
[ "$out" = '{__address__="h:9100",host="h"}' ] || fail "target relabel gave: $out"
out=$("$PROMLET" debug relabel -c "$T/cfg.yml" --remote-write main 'up{job="x"}')
[ "$out" = 'up{job="x",key="eu/up",region="eu"}' ] || fail "write relabel gave: $out"
"$PROMLET" debug relabel -c "$T/cfg.yml" --job nope 'up' 2>"$T/err" && fail "unknown job accepted"
grep -q 'nope' "$T/err" || fail "unknown job error unclear"
pass
