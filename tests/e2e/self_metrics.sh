#!/bin/sh
# promlet's own /metrics, with two remote_write endpoints sharing the
# families: promtool's linter finds nothing, and every family is one
# block under its own HELP and TYPE, as the text format requires.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

PROMTOOL=$(command -v promtool || echo /usr/bin/promtool)
[ -x "$PROMTOOL" ] || skip "promtool not installed (Debian package prometheus)"
port=$(free_port)
dead=$(free_port)
cat >"$T/cfg.yml" <<EOT
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:$port']}]
remote_write:
  - url: http://127.0.0.1:$dead/api/v1/write
    name: first
  - url: http://127.0.0.1:$dead/api/v1/write
    name: second
EOT
start promlet "$PROMLET" --config.file="$T/cfg.yml" \
    --storage.agent.path="$T/data" --web.listen-address="127.0.0.1:$port"
wait_for 10 http_ok "http://127.0.0.1:$port/-/ready" || fail "not ready"
# A scrape and a refused send have happened: every family has lines.
wait_for 10 sh -c "curl -fsS http://127.0.0.1:$port/metrics | \
    grep -q '^promlet_remote_storage_requests_failed_total{remote_name=\"second\"} [1-9]'" ||
	fail "no failed request counted for the second endpoint"
curl -fsS "http://127.0.0.1:$port/metrics" >"$T/metrics" || fail "no /metrics"

"$PROMTOOL" check metrics <"$T/metrics" >"$T/lint" 2>&1 ||
	fail "promtool check metrics: $(head -5 "$T/lint")"
[ -s "$T/lint" ] && fail "promtool check metrics: $(head -5 "$T/lint")"

$PY - "$T/metrics" <<'EOP' || fail "exposition is not one block per family"
import re, sys
typed, cur, ctype, helps = {}, None, None, set()
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
        continue
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        if name in typed:
            sys.exit(f"line {n}: second TYPE for {name}")
        if name not in helps:
            sys.exit(f"line {n}: {name} has no HELP")
        typed[name], cur, ctype = kind, name, kind
        continue
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
    ok = {cur} | ({cur + "_sum", cur + "_count"} if ctype == "summary" else set())
    if name not in ok:
        sys.exit(f"line {n}: {name} outside its family's block (in {cur})")
for fam in ("promlet_remote_storage_samples_total",
            "promlet_remote_storage_sent_batch_duration_seconds"):
    if fam not in typed:
        sys.exit(f"{fam} missing")
EOP
for ep in first second; do
	grep -q "^promlet_remote_storage_shards{remote_name=\"$ep\"} " "$T/metrics" ||
		fail "no shards line for endpoint $ep"
done
pass
