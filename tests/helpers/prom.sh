# shellcheck shell=sh
# Real Prometheus and node_exporter for the e2e tests. Source after
# tests/e2e/lib.sh: everything listens on 127.0.0.1 on free ports, stores
# under $T and is stopped by lib.sh's cleanup.

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}

# prom_require: skip the test unless Prometheus is installed.
prom_require() {
	[ -x "$PROMETHEUS" ] || skip "$PROMETHEUS not installed (Debian package prometheus)"
}

# prom_start NAME: a Prometheus server that accepts remote write, with an
# empty configuration (it scrapes nothing itself). Sets PROM_URL.
prom_start() {
	_name=$1
	_port=$(free_port)
	printf 'global:\n  scrape_interval: 15s\n' >"$T/$_name.yml"
	start "$_name" "$PROMETHEUS" --config.file="$T/$_name.yml" \
	    --storage.tsdb.path="$T/$_name-data" \
	    --web.listen-address="127.0.0.1:$_port" \
	    --web.enable-remote-write-receiver
	PROM_URL="http://127.0.0.1:$_port"
	wait_for 30 http_ok "$PROM_URL/-/ready" ||
	    fail "Prometheus did not become ready on $PROM_URL"
}

# node_exporter_start NAME: the Debian node exporter on a free port. Sets
# NODE_ADDR (host:port).
node_exporter_start() {
	_name=$1
	[ -x "$NODE_EXPORTER" ] ||
	    skip "$NODE_EXPORTER not installed (prometheus-node-exporter)"
	_port=$(free_port)
	start "$_name" "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$_port"
	NODE_ADDR="127.0.0.1:$_port"
	wait_for 20 http_ok "http://$NODE_ADDR/metrics" ||
	    fail "node_exporter did not answer on $NODE_ADDR"
}

# prom_query QUERY [promq.py options]: print the result of an instant
# query, one 'name{labels} value' line per series, sorted.
prom_query() {
	$PY "$HELPERS/promq.py" "$PROM_URL" "$@"
}

# prom_value QUERY: the value of a query that must return one series;
# empty output when it returns none.
prom_value() {
	$PY "$HELPERS/promq.py" --value "$PROM_URL" "$@"
}
