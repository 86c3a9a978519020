/*
 * Unit tests for the config stage (src/config.c) and the YAML tree it
 * reads (src/yaml.c): defaults, every error path with its position and
 * wording, environment expansion, durations and sizes, secrets in the
 * dump, hashes, and a 10k-job config.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"
#include "relabel.h"
#include "yaml.h"

static struct config *
load(const char *yaml, char **cause)
{
	*cause = NULL;
	return config_load_string("t.yml", yaml, strlen(yaml), cause);
}

static struct config *
load_ok(const char *yaml)
{
	struct config *cfg;
	char *cause;

	cfg = load(yaml, &cause);
	if (cfg == NULL)
		fail_msg("unexpected error: %s", cause);
	return cfg;
}

/* The load fails and the message is exactly want. */
static void
expect_error(const char *yaml, const char *want)
{
	struct config *cfg;
	char *cause;

	cfg = load(yaml, &cause);
	if (cfg != NULL) {
		config_free(cfg);
		fail_msg("no error for:\n%s\nwanted: %s", yaml, want);
	}
	if (strcmp(cause, want) != 0)
		fail_msg("error:\n  got  %s\n  want %s", cause, want);
	free(cause);
}

static void
test_defaults(void **state)
{
	struct config *cfg;
	const struct config_scrape *sc;
	const struct config_remote_write *rw;
	size_t i;

	(void)state;
	cfg = load_ok("");
	assert_int_equal(cfg->scrape_interval_ms, 60000);
	assert_int_equal(cfg->scrape_timeout_ms, 10000);
	assert_int_equal(cfg->nscrape, 0);
	assert_int_equal(cfg->nremote_write, 0);
	assert_int_equal(cfg->nscrape_protocols, 4);
	assert_string_equal(cfg->scrape_protocols[0], "OpenMetricsText1.0.0");
	assert_string_equal(cfg->scrape_protocols[3], "PrometheusText0.0.4");
	config_free(cfg);

	cfg = load_ok(
	    "scrape_configs:\n"
	    "  - job_name: a\n"
	    "    static_configs:\n"
	    "      - targets: ['h:1', 'h:2']\n"
	    "        labels: {z: '1', a: '2'}\n"
	    "remote_write:\n"
	    "  - url: http://r/w\n");
	sc = &cfg->scrape[0];
	assert_string_equal(sc->job_name, "a");
	assert_int_equal(sc->scrape_interval_ms, 60000);
	assert_int_equal(sc->scrape_timeout_ms, 10000);
	assert_string_equal(sc->metrics_path, "/metrics");
	assert_string_equal(sc->scheme, "http");
	assert_int_equal(sc->honor_labels, 0);
	assert_int_equal(sc->honor_timestamps, 1);
	assert_int_equal(sc->enable_compression, 1);
	assert_int_equal(sc->track_timestamps_staleness, 0);
	assert_int_equal(sc->sample_limit, 0);
	assert_int_equal(sc->body_size_limit, 0);
	assert_int_equal(sc->http.follow_redirects, 1);
	assert_int_equal(sc->http.enable_http2, 1);
	assert_null(sc->http.authorization_type);
	assert_null(sc->http.basic_auth_username);
	assert_null(sc->fallback_scrape_protocol);
	assert_int_equal(sc->nscrape_protocols, 4);
	assert_int_equal(sc->line, 2);
	assert_int_equal(sc->nstatic, 1);
	assert_int_equal(sc->static_configs[0].ntargets, 2);
	assert_string_equal(sc->static_configs[0].targets[1], "h:2");
	/* Labels come out sorted. */
	assert_string_equal(sc->static_configs[0].labels.v[0].name, "a");
	assert_string_equal(sc->static_configs[0].labels.v[1].name, "z");

	rw = &cfg->remote_write[0];
	assert_string_equal(rw->url, "http://r/w");
	assert_int_equal(rw->remote_timeout_ms, 30000);
	assert_int_equal(rw->queue.capacity, 10000);
	assert_int_equal(rw->queue.max_shards, 50);
	assert_int_equal(rw->queue.min_shards, 1);
	assert_int_equal(rw->queue.max_samples_per_send, 2000);
	assert_int_equal(rw->queue.batch_send_deadline_ms, 5000);
	assert_int_equal(rw->queue.min_backoff_ms, 30);
	assert_int_equal(rw->queue.max_backoff_ms, 5000);
	assert_int_equal(rw->queue.retry_on_http_429, 1);
	assert_int_equal(rw->queue.sample_age_limit_ms, 0);
	assert_int_equal(rw->metadata_send, 1);
	assert_int_equal(rw->metadata_send_interval_ms, 60000);
	assert_int_equal(rw->metadata_max_samples_per_send, 2000);
	assert_int_equal(rw->http.enable_http2, 0);
	assert_int_equal(rw->http.follow_redirects, 1);
	assert_int_equal(rw->max_label_count, 63);
	assert_int_equal(rw->max_label_name_length, 511);
	assert_int_equal(rw->max_label_value_length, 1023);
	assert_int_equal(rw->azuread.method, AZUREAD_NONE);
	/* Unnamed: 6 hex digits from the config's hash. */
	assert_int_equal(strlen(rw->name), 6);
	for (i = 0; i < 6; i++)
		assert_non_null(strchr("0123456789abcdef", rw->name[i]));
	config_free(cfg);
}

static void
test_timeouts_and_global_defaults(void **state)
{
	struct config *cfg;

	(void)state;
	/* A short global interval caps the default timeout. */
	cfg = load_ok("global: {scrape_interval: 5s}\n"
	    "scrape_configs: [{job_name: a}, {job_name: b, "
	    "scrape_interval: 2s}, {job_name: c, scrape_interval: 1h}]\n");
	assert_int_equal(cfg->scrape_timeout_ms, 5000);
	assert_int_equal(cfg->scrape[0].scrape_interval_ms, 5000);
	assert_int_equal(cfg->scrape[0].scrape_timeout_ms, 5000);
	assert_int_equal(cfg->scrape[1].scrape_timeout_ms, 2000);
	assert_int_equal(cfg->scrape[2].scrape_timeout_ms, 5000);
	config_free(cfg);

	/* global comes after scrape_configs in the file: still applies. */
	cfg = load_ok("scrape_configs: [{job_name: a}]\n"
	    "global:\n"
	    "  scrape_interval: 30s\n"
	    "  sample_limit: 100\n"
	    "  body_size_limit: 10MB\n"
	    "  label_limit: 30\n"
	    "  scrape_protocols: [PrometheusText0.0.4]\n"
	    "  evaluation_interval: 1m\n"
	    "  extra_scrape_metrics: true\n");
	assert_int_equal(cfg->scrape[0].scrape_interval_ms, 30000);
	assert_int_equal(cfg->scrape[0].sample_limit, 100);
	assert_int_equal(cfg->scrape[0].label_limit, 30);
	assert_int_equal(cfg->scrape[0].body_size_limit, 10 * 1024 * 1024);
	assert_int_equal(cfg->scrape[0].extra_scrape_metrics, 1);
	assert_int_equal(cfg->scrape[0].nscrape_protocols, 1);
	assert_string_equal(cfg->scrape[0].scrape_protocols[0],
	    "PrometheusText0.0.4");
	config_free(cfg);

	/* A job's own values win over global ones. */
	cfg = load_ok("global: {sample_limit: 100}\n"
	    "scrape_configs: [{job_name: a, sample_limit: 5, scheme: https,"
	    " metrics_path: /m, honor_labels: true, honor_timestamps: false,"
	    " scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4],"
	    " fallback_scrape_protocol: PrometheusText0.0.4,"
	    " enable_compression: false}]\n");
	assert_int_equal(cfg->scrape[0].sample_limit, 5);
	assert_string_equal(cfg->scrape[0].scheme, "https");
	assert_string_equal(cfg->scrape[0].metrics_path, "/m");
	assert_int_equal(cfg->scrape[0].honor_labels, 1);
	assert_int_equal(cfg->scrape[0].honor_timestamps, 0);
	assert_int_equal(cfg->scrape[0].enable_compression, 0);
	assert_int_equal(cfg->scrape[0].nscrape_protocols, 2);
	assert_string_equal(cfg->scrape[0].fallback_scrape_protocol,
	    "PrometheusText0.0.4");
	config_free(cfg);
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 ms;
	} good[] = {
		{ "0", 0 }, { "0s", 0 }, { "1ms", 1 }, { "15s", 15000 },
		{ "1m", 60000 }, { "1h30m", 5400000 }, { "1d", 86400000 },
		{ "1w", 604800000 }, { "1y", 31536000000LL },
		{ "1h1m1s1ms", 3661001 }, { "2w3d", 1468800000 },
		{ "90m", 5400000 },
	};
	static const char *bad[] = {
		"", "1", "1.5s", "-1s", "1m1h", "1s1s", "1 s", "s", "1sec",
		"10x", "1h30", "99999999999999999999y", "106751991167301d",
	};
	struct buf b = BUF_INIT;
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		ms = -1;
		assert_int_equal(config_parse_duration(good[i].in, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (config_parse_duration(bad[i], &ms) == 0)
			fail_msg("\"%s\" parsed as %lld", bad[i],
			    (long long)ms);
	}
	/* The dump prints durations the way Prometheus does. */
	{
		struct config *cfg = load_ok(
		    "global: {scrape_interval: 90m, scrape_timeout: 1500ms}\n");
		config_dump(cfg, &b);
		assert_non_null(strstr(b.data, "scrape_interval: 1h30m\n"));
		assert_non_null(strstr(b.data, "scrape_timeout: 1s500ms\n"));
		config_free(cfg);
	}
	buf_free(&b);
	expect_error("global: {scrape_interval: 5 minutes}\n",
	    "t.yml:1:27: scrape_interval: not a valid duration string: "
	    "\"5 minutes\" (use units ms, s, m, h, d, w, y as in 1m30s)");
	expect_error("global: {scrape_interval: ''}\n",
	    "t.yml:1:27: scrape_interval: empty duration string");
}

static void
test_sizes(void **state)
{
	static const struct {
		const char	*in;
		uint64_t	 bytes;
	} good[] = {
		{ "0", 0 }, { "1B", 1 }, { "1KB", 1024 }, { "1KiB", 1024 },
		{ "10MB", 10485760 }, { "1.5MB", 1572864 },
		{ "1GB", 1073741824 }, { "2TiB", 2199023255552ULL },
		{ "1GB512MB", 1610612736 }, { "+5B", 5 },
	};
	static const char *bad[] = {
		"", "100", "10mb", "10 MB", "MB", "1XB", "-1MB", "1KiBB",
		"100000EB",
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 7;
		assert_int_equal(config_parse_size(good[i].in, &v), 0);
		assert_int_equal(v, good[i].bytes);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (config_parse_size(bad[i], &v) == 0)
			fail_msg("\"%s\" parsed as %llu", bad[i],
			    (unsigned long long)v);
	}
	expect_error("scrape_configs: [{job_name: a, body_size_limit: 10XB}]\n",
	    "t.yml:1:49: body_size_limit: units: unknown unit XB in 10XB "
	    "(use B, KB, MB, GB, TB as in 10MB)");
}

static void
test_env_expansion(void **state)
{
	struct config *cfg;
	const struct relabel_rule *r;

	(void)state;
	setenv("PROMLET_T_NODE", "node-7", 1);
	setenv("PROMLET_T_EMPTY", "", 1);
	unsetenv("PROMLET_T_UNSET");
	cfg = load_ok(
	    "global:\n"
	    "  external_labels:\n"
	    "    node: ${PROMLET_T_NODE}\n"
	    "    price: $$5 and $$${PROMLET_T_NODE}\n"
	    "    keep: $PROMLET_T_NODE ${1} ${} $\n"
	    "    mixed: a${PROMLET_T_EMPTY}b${PROMLET_T_NODE}c\n"
	    "scrape_configs:\n"
	    "  - job_name: j-${PROMLET_T_NODE}\n"
	    "    relabel_configs:\n"
	    "      - source_labels: [a]\n"
	    "        regex: ${PROMLET_T_NODE}\n"
	    "        target_label: ${x}\n"
	    "        replacement: ${PROMLET_T_NODE}-$1-$$\n");
	/* Sorted: keep, mixed, node, price. */
	assert_string_equal(cfg->external_labels.v[0].value,
	    "$PROMLET_T_NODE ${1} ${} $");
	assert_string_equal(cfg->external_labels.v[1].value, "abnode-7c");
	assert_string_equal(cfg->external_labels.v[2].value, "node-7");
	assert_string_equal(cfg->external_labels.v[3].value,
	    "$5 and $node-7");
	assert_string_equal(cfg->scrape[0].job_name, "j-node-7");
	r = cfg->scrape[0].relabel.v[0];
	assert_string_equal(r->regex, "node-7");
	/* Relabel templates are left for the relabeler. */
	assert_string_equal(r->target_label, "${x}");
	assert_string_equal(r->replacement, "${PROMLET_T_NODE}-$1-$$");
	config_free(cfg);

	expect_error("scrape_configs:\n"
	    "  - job_name: a\n"
	    "    metrics_path: /x/${PROMLET_T_UNSET}\n",
	    "t.yml:3:19: metrics_path: environment variable PROMLET_T_UNSET "
	    "is not set (write $$ for a literal $)");
	/*
	 * Numbers and booleans expand too; in flow style the value must be
	 * quoted, which is then accepted for them.
	 */
	setenv("PROMLET_T_LIMIT", "42", 1);
	setenv("PROMLET_T_BOOL", "true", 1);
	cfg = load_ok("scrape_configs:\n"
	    "  - job_name: a\n"
	    "    sample_limit: ${PROMLET_T_LIMIT}\n"
	    "  - {job_name: b, sample_limit: '${PROMLET_T_LIMIT}',"
	    " honor_labels: \"${PROMLET_T_BOOL}\"}\n");
	assert_int_equal(cfg->scrape[0].sample_limit, 42);
	assert_int_equal(cfg->scrape[1].sample_limit, 42);
	assert_int_equal(cfg->scrape[1].honor_labels, 1);
	config_free(cfg);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*yaml;
		const char	*want;
	} cases[] = {
		/* YAML structure. */
		{ "a: [1\n", "t.yml:2:1: syntax error: did not find expected "
		    "',' or ']' while parsing a flow sequence" },
		{ "global: {}\nglobal: {}\n", "t.yml:2:1: global: duplicate "
		    "key (already set at line 1)" },
		{ "a: 1\n---\nb: 2\n", "t.yml:2:1: syntax error: more than one "
		    "YAML document in the file" },
		{ "- 1\n", "t.yml:1:1: the top level: expected a mapping, "
		    "got a sequence" },
		{ "global: !!foo {}\n", "t.yml:1:9: global: unsupported YAML "
		    "tag \"tag:yaml.org,2002:foo\"" },
		{ "global: *nope\n", "t.yml:1:9: syntax error: unknown anchor "
		    "*nope" },
		{ "? [a]\n: 1\n", "t.yml:1:3: syntax error: mapping keys must "
		    "be scalars" },
		/* Keys. */
		{ "scrape_config: []\n", "t.yml:1:1: scrape_config: unknown "
		    "key in the top level (did you mean scrape_configs?)" },
		{ "global: {scrape_intervall: 1s}\n", "t.yml:1:10: "
		    "scrape_intervall: unknown key in global (did you mean "
		    "scrape_interval?)" },
		{ "global: {zzz: 1}\n", "t.yml:1:10: zzz: unknown key in "
		    "global" },
		{ "rule_files: [a.yml]\n", "t.yml:1:1: rule_files: not "
		    "supported by promlet: promlet is an agent and evaluates "
		    "no recording or alerting rules" },
		{ "alerting: {}\n", "t.yml:1:1: alerting: not supported by "
		    "promlet: promlet is an agent and sends no alerts" },
		{ "remote_read: []\n", "t.yml:1:1: remote_read: not "
		    "supported by promlet: promlet keeps no queryable "
		    "storage" },
		{ "storage: {}\n", "t.yml:1:1: storage: not supported by "
		    "promlet: the write-ahead log is set with "
		    "--storage.agent.path" },
		{ "tracing: {}\n", "t.yml:1:1: tracing: not supported by "
		    "promlet" },
		{ "scrape_configs: [{job_name: a, consul_sd_configs: []}]\n",
		    "t.yml:1:32: consul_sd_configs: not supported by promlet "
		    "(service discovery available: static_configs, "
		    "file_sd_configs, http_sd_configs, kubernetes_sd_configs)"
		},
		{ "global: {scrape_failure_log_file: /x}\n", "t.yml:1:10: "
		    "scrape_failure_log_file: not supported by promlet: failed "
		    "scrapes are logged and visible in the targets API" },
		/* Types. */
		{ "scrape_configs: [{job_name: a, honor_labels: maybe}]\n",
		    "t.yml:1:46: honor_labels: expected true or false, got "
		    "\"maybe\"" },
		{ "scrape_configs: [{job_name: a, honor_labels: 'true'}]\n",
		    "t.yml:1:46: honor_labels: expected true or false, got a "
		    "quoted string" },
		{ "scrape_configs: [{job_name: a, sample_limit: -1}]\n",
		    "t.yml:1:46: sample_limit: must not be negative, got -1" },
		{ "scrape_configs: [{job_name: a, sample_limit: 1e3}]\n",
		    "t.yml:1:46: sample_limit: expected an integer, got "
		    "\"1e3\"" },
		{ "scrape_configs: [{job_name: a, sample_limit: '5'}]\n",
		    "t.yml:1:46: sample_limit: expected an integer, got a "
		    "quoted string" },
		{ "scrape_configs: [{job_name: a, sample_limit: "
		    "99999999999999999999}]\n", "t.yml:1:46: sample_limit: "
		    "integer out of range: 99999999999999999999" },
		{ "scrape_configs: {job_name: a}\n", "t.yml:1:17: "
		    "scrape_configs: expected a list, got a mapping" },
		{ "scrape_configs: [{job_name: [a]}]\n", "t.yml:1:29: "
		    "job_name: expected a value, got a sequence" },
		{ "scrape_configs: [{job_name: \"a\\0b\"}]\n", "t.yml:1:29: "
		    "job_name: value contains a NUL byte" },
		/* global. */
		{ "global: {scrape_interval: 5s, scrape_timeout: 6s}\n",
		    "t.yml:1:31: scrape_timeout: global scrape timeout greater "
		    "than scrape interval" },
		{ "global: {external_labels: {a-b: c}}\n", "t.yml:1:28: "
		    "external_labels: \"a-b\" is not a valid label name" },
		{ "global: {external_labels: {a: ''}}\n", "t.yml:1:31: a: "
		    "external label value is empty" },
		{ "global: {scrape_protocols: []}\n", "t.yml:1:10: "
		    "scrape_protocols: scrape_protocols cannot be empty" },
		{ "global: {scrape_protocols: [Foo]}\n", "t.yml:1:10: "
		    "scrape_protocols: scrape_protocols: unknown scrape "
		    "protocol Foo, supported: [OpenMetricsText0.0.1 "
		    "OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 "
		    "PrometheusText1.0.0] for global config" },
		{ "global: {scrape_protocols: [PrometheusProto]}\n",
		    "t.yml:1:10: scrape_protocols: promlet scrapes text "
		    "formats only: add PrometheusText0.0.4 or "
		    "OpenMetricsText1.0.0 (for global config)" },
		{ "global: {metric_name_validation_scheme: utf8}\n",
		    "t.yml:1:10: metric_name_validation_scheme: promlet "
		    "supports only \"legacy\" metric and label names" },
		{ "global: {metric_name_escaping_scheme: x}\n", "t.yml:1:10: "
		    "metric_name_escaping_scheme: unknown "
		    "metric_name_escaping_scheme \"x\" (one of underscores, "
		    "dots, values, allow-utf-8)" },
		/* scrape_configs. */
		{ "scrape_configs: [~]\n", "t.yml:1:18: scrape_configs[0]: "
		    "empty or null scrape config section" },
		{ "scrape_configs: [{scheme: http}]\n", "t.yml:1:18: "
		    "scrape_configs[0]: job_name is empty" },
		{ "scrape_configs: [{job_name: ''}]\n", "t.yml:1:19: "
		    "job_name: job_name is empty" },
		{ "scrape_configs:\n- job_name: a\n- job_name: b\n"
		    "- job_name: a\n", "t.yml:4:3: job_name: found multiple "
		    "scrape configs with job name \"a\"" },
		{ "scrape_configs: [{job_name: a, scrape_interval: 5s, "
		    "scrape_timeout: 6s}]\n", "t.yml:1:53: scrape_timeout: "
		    "scrape timeout greater than scrape interval for scrape "
		    "config with job name \"a\"" },
		{ "scrape_configs: [{job_name: a, scheme: ftp}]\n",
		    "t.yml:1:32: scheme: unsupported scheme \"ftp\" (http or "
		    "https)" },
		{ "scrape_configs: [{job_name: a, params: {q: x}}]\n",
		    "t.yml:1:44: q: expected a list of values, got a scalar" },
		{ "scrape_configs: [{job_name: a, static_configs: [~]}]\n",
		    "t.yml:1:49: static_configs[0]: empty or null section in "
		    "static_configs" },
		{ "scrape_configs: [{job_name: a, static_configs: "
		    "[{targets: [a/b]}]}]\n", "t.yml:1:60: targets: \"a/b\" "
		    "is not a valid hostname" },
		{ "scrape_configs: [{job_name: a, static_configs: "
		    "[{labels: {1a: x}}]}]\n", "t.yml:1:59: labels: \"1a\" is "
		    "not a valid label name" },
		{ "scrape_configs: [{job_name: a, static_configs: "
		    "[{targets: [x], extra: 1}]}]\n", "t.yml:1:64: extra: "
		    "unknown key in static_configs[0]" },
		{ "scrape_configs: [{job_name: a, fallback_scrape_protocol: "
		    "PrometheusProto}]\n", "t.yml:1:32: "
		    "fallback_scrape_protocol: promlet scrapes text formats "
		    "only" },
		{ "scrape_configs: [{job_name: a, scrape_protocols: "
		    "[PrometheusText0.0.4, prometheustext0.0.4]}]\n",
		    "t.yml:1:32: scrape_protocols: duplicated protocol in "
		    "scrape_protocols, got [PrometheusText0.0.4 "
		    "prometheustext0.0.4] for scrape config with job name "
		    "\"a\"" },
		/* file_sd_configs. */
		{ "scrape_configs: [{job_name: a, file_sd_configs: "
		    "[{files: []}]}]\n", "t.yml:1:50: file_sd_configs[0]: file "
		    "service discovery config must contain at least one path "
		    "name" },
		{ "scrape_configs: [{job_name: a, file_sd_configs: "
		    "[{files: [x.txt]}]}]\n", "t.yml:1:59: files: path name "
		    "\"x.txt\" is not valid for file discovery (a .json, .yml "
		    "or .yaml file; * only in the last path element)" },
		{ "scrape_configs: [{job_name: a, file_sd_configs: "
		    "[{files: ['*/x.json']}]}]\n", "t.yml:1:59: files: path "
		    "name \"*/x.json\" is not valid for file discovery (a "
		    ".json, .yml or .yaml file; * only in the last path "
		    "element)" },
		/* HTTP client. */
		{ "scrape_configs: [{job_name: a, bearer_token: x, "
		    "bearer_token_file: y}]\n", "t.yml:1:49: "
		    "bearer_token_file: at most one of bearer_token & "
		    "bearer_token_file must be configured" },
		{ "scrape_configs: [{job_name: a, bearer_token: x, "
		    "basic_auth: {username: u}}]\n", "t.yml:1:49: basic_auth: "
		    "at most one of basic_auth, oauth2, bearer_token & "
		    "bearer_token_file must be configured" },
		{ "scrape_configs: [{job_name: a, basic_auth: {username: u, "
		    "password: p, password_file: f}}]\n", "t.yml:1:32: "
		    "basic_auth: at most one of basic_auth password, "
		    "password_file & password_ref must be configured" },
		{ "scrape_configs: [{job_name: a, authorization: "
		    "{credentials: c}, bearer_token: x}]\n", "t.yml:1:32: "
		    "authorization: authorization is not compatible with "
		    "bearer_token & bearer_token_file" },
		{ "scrape_configs: [{job_name: a, authorization: "
		    "{credentials: c, credentials_file: f}}]\n", "t.yml:1:32: "
		    "authorization: at most one of authorization credentials & "
		    "credentials_file must be configured" },
		{ "scrape_configs: [{job_name: a, authorization: "
		    "{type: Basic}}]\n", "t.yml:1:32: authorization: "
		    "authorization type cannot be set to \"basic\", use "
		    "\"basic_auth\" instead" },
		{ "scrape_configs: [{job_name: a, authorization: {}, "
		    "basic_auth: {}}]\n", "t.yml:1:51: basic_auth: at most one "
		    "of basic_auth, oauth2 & authorization must be "
		    "configured" },
		/* oauth2, with Prometheus's messages where it has them. */
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/'}, bearer_token: x}]\n",
		    "t.yml:1:80: bearer_token: at most one of basic_auth, "
		    "oauth2, bearer_token & bearer_token_file must be "
		    "configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/'}, authorization: {}}]\n",
		    "t.yml:1:80: authorization: at most one of basic_auth, "
		    "oauth2 & authorization must be configured" },
		{ "scrape_configs: [{job_name: a, basic_auth: {}, oauth2: "
		    "{client_id: c, token_url: 'http://t/'}}]\n",
		    "t.yml:1:48: oauth2: at most one of basic_auth, oauth2 & "
		    "authorization must be configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {token_url: "
		    "'http://t/'}}]\n", "t.yml:1:32: oauth2: oauth2 client_id "
		    "must be configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c}}]\n",
		    "t.yml:1:32: oauth2: oauth2 token_url must be configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', client_secret: s, "
		    "client_secret_file: f}}]\n", "t.yml:1:32: oauth2: at most "
		    "one of oauth2 client_secret, client_secret_file & "
		    "client_secret_ref must be configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'ftp://u:pw@t/'}}]\n", "t.yml:1:32: oauth2: "
		    "invalid oauth2 token_url \"ftp://u:<secret>@t/\" "
		    "(expected an http:// or https:// URL with a host)" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', scopes: [a], endpoint_params: "
		    "{scope: b}}}]\n", "t.yml:1:32: oauth2: oauth2 "
		    "endpoint_params cannot replace \"scope\", which scopes "
		    "sets" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', proxy_url: 'http://p:1', "
		    "proxy_from_environment: true}}]\n", "t.yml:1:104: "
		    "proxy_from_environment: if proxy_from_environment is "
		    "configured, proxy_url must not be configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', tls_config: {cert_file: c}}}]\n",
		    "t.yml:1:79: tls_config: exactly one of key or key_file "
		    "must be configured when a client certificate is "
		    "configured" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', client_secret_ref: r}}]\n",
		    "t.yml:1:79: client_secret_ref: not supported by promlet" },
		{ "scrape_configs: [{job_name: a, oauth2: {client_id: c, "
		    "token_url: 'http://t/', username: u}}]\n",
		    "t.yml:1:79: username: unknown key in oauth2" },
		{ "remote_write: [{url: 'http://r/', oauth2: {client_id: c, "
		    "token_url: 'http://t/'}, azuread: {managed_identity: "
		    "{}}}]\n", "t.yml:1:83: azuread: at most one of basic_auth, "
		    "authorization, oauth2, sigv4, azuread or google_iam must "
		    "be configured. Currently configured: [oauth2 azuread]" },
		{ "scrape_configs: [{job_name: a, tls_config: "
		    "{min_version: TLS13, max_version: TLS12}}]\n",
		    "t.yml:1:32: tls_config: tls_config.max_version must be "
		    "greater than or equal to tls_config.min_version if both "
		    "are specified" },
		{ "scrape_configs: [{job_name: a, tls_config: "
		    "{cert_file: c}}]\n", "t.yml:1:32: tls_config: exactly one "
		    "of key or key_file must be configured when a client "
		    "certificate is configured" },
		{ "scrape_configs: [{job_name: a, tls_config: "
		    "{key_file: k}}]\n", "t.yml:1:32: tls_config: exactly one "
		    "of cert or cert_file must be configured when a client key "
		    "is configured" },
		{ "scrape_configs: [{job_name: a, tls_config: "
		    "{min_version: TLS14}}]\n", "t.yml:1:58: min_version: "
		    "unknown TLS version: TLS14 (one of TLS10, TLS11, TLS12, "
		    "TLS13)" },
		{ "scrape_configs: [{job_name: a, tls_config: {ca: x}}]\n",
		    "t.yml:1:32: tls_config: unable to use inline CA cert" },
		{ "scrape_configs: [{job_name: a, tls_config: {ca: x, "
		    "ca_file: y}}]\n", "t.yml:1:32: tls_config: at most one of "
		    "ca, ca_file & ca_ref must be configured" },
		{ "scrape_configs: [{job_name: a, tls_config: {cert: x, "
		    "cert_file: y, key_file: k}}]\n", "t.yml:1:32: tls_config: "
		    "at most one of cert, cert_file & cert_ref must be "
		    "configured" },
		{ "scrape_configs: [{job_name: a, tls_config: {cert_file: c, "
		    "key: x, key_file: y}}]\n", "t.yml:1:32: tls_config: at "
		    "most one of key and key_file must be configured" },
		{ "scrape_configs: [{job_name: a, tls_config: {cert: x}}]\n",
		    "t.yml:1:32: tls_config: exactly one of key or key_file "
		    "must be configured when a client certificate is "
		    "configured" },
		{ "scrape_configs: [{job_name: a, tls_config: {cert: x, "
		    "key_file: k}}]\n", "t.yml:1:32: tls_config: tls: failed "
		    "to find any PEM data in certificate input" },
		{ "scrape_configs: [{job_name: a, basic_auth: {username: u, "
		    "username_file: f}}]\n", "t.yml:1:32: basic_auth: at most "
		    "one of basic_auth username, username_file & username_ref "
		    "must be configured" },
		{ "scrape_configs: [{job_name: a, no_proxy: x}]\n",
		    "t.yml:1:32: no_proxy: if no_proxy is configured, "
		    "proxy_url must also be configured" },
		{ "scrape_configs: [{job_name: a, proxy_url: 'http://p:1', "
		    "proxy_from_environment: true}]\n", "t.yml:1:57: "
		    "proxy_from_environment: if proxy_from_environment is "
		    "configured, proxy_url must not be configured" },
		{ "scrape_configs: [{job_name: a, proxy_url: p}]\n",
		    "t.yml:1:32: proxy_url: invalid proxy URL \"p\" (expected "
		    "scheme://host:port with scheme http, https, socks4, "
		    "socks4a, socks5 or socks5h)" },
		/* Relabel rules (validated by relabel_rule_compile). */
		{ "scrape_configs: [{job_name: a, relabel_configs: [~]}]\n",
		    "t.yml:1:50: relabel_configs[0]: empty or null target "
		    "relabeling rule in scrape config" },
		{ "scrape_configs: [{job_name: a, metric_relabel_configs: "
		    "[~]}]\n", "t.yml:1:57: metric_relabel_configs[0]: empty "
		    "or null metric relabeling rule in scrape config" },
		{ "scrape_configs: [{job_name: a, relabel_configs: "
		    "[{action: bogus}]}]\n", "t.yml:1:50: relabel_configs[0]: "
		    "unknown relabel action \"bogus\"" },
		{ "scrape_configs: [{job_name: a, relabel_configs: "
		    "[{action: ''}]}]\n", "t.yml:1:50: relabel_configs[0]: "
		    "relabel action cannot be empty" },
		{ "scrape_configs:\n"
		  "  - job_name: a\n"
		  "    relabel_configs:\n"
		  "      - source_labels: [x]\n"
		  "        action: hashmod\n"
		  "        target_label: y\n",
		    "t.yml:4:9: relabel_configs[0]: relabel configuration for "
		    "hashmod requires non-zero modulus" },
		{ "scrape_configs: [{job_name: a, relabel_configs: "
		    "[{source_labels: [a.b]}]}]\n", "t.yml:1:67: "
		    "source_labels: \"a.b\" is not a valid label name" },
		{ "scrape_configs: [{job_name: a, relabel_configs: "
		    "[{regx: a}]}]\n", "t.yml:1:51: regx: unknown key in "
		    "relabel_configs[0] (did you mean regex?)" },
		/* remote_write. */
		{ "remote_write: [~]\n", "t.yml:1:16: remote_write[0]: empty "
		    "or null remote write config section" },
		{ "remote_write: [{name: x}]\n", "t.yml:1:16: "
		    "remote_write[0]: url for remote_write is empty" },
		{ "remote_write: [{url: 'ftp://x/'}]\n", "t.yml:1:17: url: "
		    "invalid URL \"ftp://x/\": expected http:// or https:// "
		    "and a host" },
		{ "remote_write: [{url: 'http:///x'}]\n", "t.yml:1:17: url: "
		    "invalid URL \"http:///x\": expected http:// or https:// "
		    "and a host" },
		{ "remote_write: [{url: 'http://a', name: q}, {url: "
		    "'http://b', name: q}]\n", "t.yml:1:62: name: found "
		    "multiple remote write configs with job name \"q\"" },
		{ "remote_write: [{url: 'http://a'}, {url: 'http://a'}]\n",
		    "t.yml:1:35: remote_write: duplicate remote write configs "
		    "are not allowed, found duplicate for URL: http://a" },
		{ "remote_write: [{url: 'http://a', headers: "
		    "{Authorization: x}}]\n", "t.yml:1:44: Authorization: "
		    "authorization header must be changed via the basic_auth, "
		    "authorization, oauth2, sigv4, azuread or google_iam "
		    "parameter" },
		{ "remote_write: [{url: 'http://a', headers: "
		    "{User-Agent: x}}]\n", "t.yml:1:44: User-Agent: User-Agent "
		    "is a reserved header. It must not be changed" },
		{ "remote_write: [{url: 'http://a', headers: "
		    "{'X a': x}}]\n", "t.yml:1:44: X a: invalid header name" },
		{ "remote_write: [{url: 'http://a', headers: "
		    "{X-A: \"x\\r\\nHost: evil\"}}]\n", "t.yml:1:44: X-A: "
		    "header value contains a control character" },
		{ "remote_write: [{url: 'http://a', write_relabel_configs: "
		    "[~]}]\n", "t.yml:1:58: write_relabel_configs[0]: empty or "
		    "null relabeling rule in remote write config" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{capacity: 0}}]\n", "t.yml:1:49: capacity: remote write "
		    "queue capacity must be positive" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{max_shards: 0}}]\n", "t.yml:1:49: max_shards: remote "
		    "write queue max_shards must be positive" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{min_shards: -1}}]\n", "t.yml:1:49: min_shards: remote "
		    "write queue min_shards must be positive" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{min_shards: 9, max_shards: 3}}]\n", "t.yml:1:49: "
		    "min_shards: remote write queue min_shards must not be "
		    "greater than max_shards" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{max_samples_per_send: 0}}]\n", "t.yml:1:49: "
		    "max_samples_per_send: remote write queue "
		    "max_samples_per_send must be positive" },
		{ "remote_write: [{url: 'http://a', queue_config: "
		    "{min_backoff: 2s, max_backoff: 1s}}]\n", "t.yml:1:66: "
		    "max_backoff: remote write queue max_backoff must not be "
		    "less than min_backoff" },
		{ "remote_write: [{url: 'http://a', metadata_config: "
		    "{max_samples_per_send: 0}}]\n", "t.yml:1:52: "
		    "max_samples_per_send: metadata max_samples_per_send must "
		    "be positive" },
		{ "remote_write: [{url: 'http://a', metadata_config: "
		    "{send_interval: 0s}}]\n", "t.yml:1:52: "
		    "send_interval: metadata send_interval must be positive" },
		{ "remote_write: [{url: 'http://a', protobuf_message: x}]\n",
		    "t.yml:1:34: protobuf_message: invalid protobuf_message "
		    "value: unknown type for remote write protobuf message x, "
		    "supported: prometheus.WriteRequest, "
		    "io.prometheus.write.v2.Request" },
		{ "remote_write: [{url: 'http://a', protobuf_message: "
		    "io.prometheus.write.v2.Request}]\n", "t.yml:1:34: "
		    "protobuf_message: promlet sends remote write 1.0 only "
		    "(prometheus.WriteRequest)" },
		{ "remote_write: [{url: 'http://a', send_exemplars: true}]\n",
		    "t.yml:1:34: send_exemplars: not supported by promlet: it "
		    "does not collect exemplars" },
		{ "remote_write: [{url: 'http://a', sigv4: {}}]\n",
		    "t.yml:1:34: sigv4: not supported by promlet: use azuread, "
		    "oauth2, authorization or basic_auth" },
		{ "remote_write: [{url: 'http://a', google_iam: {}}]\n",
		    "t.yml:1:34: google_iam: not supported by promlet: use "
		    "azuread, oauth2, authorization or basic_auth" },
		{ "remote_write: [{url: 'http://a', oauth2: {}}]\n",
		    "t.yml:1:34: oauth2: oauth2 client_id must be configured" },
		{ "remote_write: [{url: 'http://a', bearer_token: x, "
		    "basic_auth: {username: u}}]\n", "t.yml:1:51: basic_auth: "
		    "at most one of basic_auth, oauth2, bearer_token & "
		    "bearer_token_file must be configured" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].yaml, cases[i].want);
}

static const char *az_head = "remote_write:\n"
    "  - url: https://x.example/api/v1/write\n";

static void
expect_az_error(const char *block, const char *want)
{
	char *yaml;

	if (asprintf(&yaml, "%s%s", az_head, block) == -1)
		fail();
	expect_error(yaml, want);
	free(yaml);
}

static struct config *
load_az(const char *block)
{
	struct config *cfg;
	char *yaml;

	if (asprintf(&yaml, "%s%s", az_head, block) == -1)
		fail();
	cfg = load_ok(yaml);
	free(yaml);
	return cfg;
}

static void
test_azuread(void **state)
{
	char dir[] = "/tmp/promlet-test-az.XXXXXX", path[256], key[256];
	const struct config_azuread *az;
	struct config *cfg;
	char *yaml;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/secret", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "s3cr3t", 6), 6);
	close(fd);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	fd = open(key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	close(fd);

	/* Managed identity: system-assigned three ways, user-assigned. */
	cfg = load_az("    azuread: {managed_identity: {}}\n");
	az = &cfg->remote_write[0].azuread;
	assert_int_equal(az->method, AZUREAD_MANAGED_IDENTITY);
	assert_string_equal(az->cloud, "AzurePublic");
	assert_null(az->client_id);
	assert_null(az->scope);
	config_free(cfg);
	cfg = load_az("    azuread:\n      managed_identity:\n"
	    "        client_id:\n");
	assert_null(cfg->remote_write[0].azuread.client_id);
	config_free(cfg);
	cfg = load_az("    azuread:\n      managed_identity:\n");
	assert_int_equal(cfg->remote_write[0].azuread.method,
	    AZUREAD_MANAGED_IDENTITY);
	config_free(cfg);
	cfg = load_az("    azuread:\n      cloud: AzureChina\n"
	    "      scope: https://monitor.azure.cn//.default\n"
	    "      managed_identity:\n"
	    "        client_id: 00000000-0000-0000-0000-00000000000A\n");
	az = &cfg->remote_write[0].azuread;
	assert_string_equal(az->cloud, "AzureChina");
	assert_string_equal(az->client_id,
	    "00000000-0000-0000-0000-00000000000A");
	assert_string_equal(az->scope, "https://monitor.azure.cn//.default");
	config_free(cfg);

	/* OAuth with a secret file (made absolute against t.yml's cwd). */
	if (asprintf(&yaml, "    azuread:\n      oauth:\n"
	    "        client_id: 00000000-0000-0000-0000-000000000001\n"
	    "        tenant_id: contoso.onmicrosoft.com\n"
	    "        client_secret_file: %s\n", path) == -1)
		fail();
	cfg = load_az(yaml);
	free(yaml);
	az = &cfg->remote_write[0].azuread;
	assert_int_equal(az->method, AZUREAD_OAUTH);
	assert_string_equal(az->client_secret_file, path);
	assert_string_equal(az->tenant_id, "contoso.onmicrosoft.com");
	config_free(cfg);

	/* Certificate under both spellings, with a separate key. */
	if (asprintf(&yaml, "    azuread:\n      certificate:\n"
	    "        client_id: 00000000-0000-0000-0000-000000000001\n"
	    "        tenant_id: 00000000-0000-0000-0000-000000000002\n"
	    "        certificate_path: %s\n"
	    "        certificate_key_path: %s\n"
	    "        send_certificate_chain: true\n", path, key) == -1)
		fail();
	cfg = load_az(yaml);
	free(yaml);
	az = &cfg->remote_write[0].azuread;
	assert_int_equal(az->method, AZUREAD_CERTIFICATE);
	assert_string_equal(az->certificate_file, path);
	assert_string_equal(az->certificate_key_file, key);
	assert_int_equal(az->send_certificate_chain, 1);
	config_free(cfg);
	if (asprintf(&yaml, "    azuread:\n      certificate:\n"
	    "        client_id: 00000000-0000-0000-0000-000000000001\n"
	    "        tenant_id: 00000000-0000-0000-0000-000000000002\n"
	    "        certificate_file: %s\n", path) == -1)
		fail();
	cfg = load_az(yaml);
	free(yaml);
	assert_string_equal(cfg->remote_write[0].azuread.certificate_file,
	    path);
	config_free(cfg);

	/* Workload identity: everything from the webhook's environment. */
	setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000003", 1);
	setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000004", 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
	cfg = load_az("    azuread: {workload_identity: {}}\n");
	az = &cfg->remote_write[0].azuread;
	assert_int_equal(az->method, AZUREAD_WORKLOAD_IDENTITY);
	assert_string_equal(az->client_id,
	    "00000000-0000-0000-0000-000000000003");
	assert_string_equal(az->tenant_id,
	    "00000000-0000-0000-0000-000000000004");
	assert_string_equal(az->token_file_path, path);
	config_free(cfg);
	/* The config wins over the environment. */
	if (asprintf(&yaml, "    azuread:\n      workload_identity:\n"
	    "        client_id: 00000000-0000-0000-0000-000000000005\n"
	    "        token_file_path: %s\n", key) == -1)
		fail();
	cfg = load_az(yaml);
	free(yaml);
	az = &cfg->remote_write[0].azuread;
	assert_string_equal(az->client_id,
	    "00000000-0000-0000-0000-000000000005");
	assert_string_equal(az->token_file_path, key);
	config_free(cfg);
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	expect_az_error("    azuread: {workload_identity: {}}\n",
	    "t.yml:3:15: token_file_path: cannot read "
	    "/var/run/secrets/azure/tokens/azure-identity-token: No such file "
	    "or directory");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("AZURE_TENANT_ID");

	/* Errors, with Prometheus's wording where it has one. */
	expect_az_error("    azuread: {cloud: AzurePublicc, "
	    "managed_identity: {}}\n", "t.yml:3:15: cloud: must provide a "
	    "cloud in the Azure AD config (AzurePublic, AzureChina or "
	    "AzureGovernment), got \"AzurePublicc\"");
	expect_az_error("    azuread: {cloud: AzurePublic}\n",
	    "t.yml:3:5: azuread: must provide an Azure Managed Identity, "
	    "Azure Workload Identity, Azure OAuth, Azure Certificate or Azure "
	    "SDK in the Azure AD config");
	expect_az_error("    azuread:\n      managed_identity: {}\n"
	    "      oauth: {}\n", "t.yml:5:7: oauth: cannot provide multiple "
	    "authentication methods in the Azure AD config");
	expect_az_error("    azuread: {managed_identity: {client_id: x}}\n",
	    "t.yml:3:34: client_id: the provided Azure Managed Identity "
	    "client_id is invalid");
	expect_az_error("    azuread: {sdk: {}}\n", "t.yml:3:15: sdk: not "
	    "supported by promlet: the Azure SDK credential chain is not "
	    "available in promlet; use managed_identity, oauth, certificate "
	    "or workload_identity");
	expect_az_error("    azuread: {oauth: {tenant_id: t}}\n",
	    "t.yml:3:15: oauth: must provide an Azure OAuth client_id in the "
	    "Azure AD config");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, tenant_id: t}}\n",
	    "t.yml:3:15: oauth: must provide an Azure OAuth client_secret in "
	    "the Azure AD config (or client_secret_file)");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, client_secret: s}}\n",
	    "t.yml:3:15: oauth: must provide an Azure OAuth tenant_id in the "
	    "Azure AD config");
	expect_az_error("    azuread: {oauth: {client_id: nope, "
	    "client_secret: s, tenant_id: t}}\n", "t.yml:3:23: client_id: "
	    "the provided Azure OAuth client_id is invalid");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, client_secret: s, "
	    "tenant_id: 'a/b'}}\n", "t.yml:3:90: tenant_id: the provided "
	    "Azure OAuth tenant_id is invalid");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, client_secret: s, "
	    "client_secret_file: /nonexistent/promlet, tenant_id: t}}\n",
	    "t.yml:3:90: client_secret_file: at most one of client_secret & "
	    "client_secret_file must be configured");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, "
	    "client_secret_file: /nonexistent/promlet, tenant_id: t}}\n",
	    "t.yml:3:72: client_secret_file: cannot read "
	    "/nonexistent/promlet: No such file or directory");
	expect_az_error("    azuread: {oauth: {client_id: "
	    "00000000-0000-0000-0000-000000000001, "
	    "client_secret_file: /tmp, tenant_id: t}}\n",
	    "t.yml:3:72: client_secret_file: /tmp is not a regular file");
	expect_az_error("    azuread: {workload_identity: {tenant_id: "
	    "00000000-0000-0000-0000-000000000001}}\n", "t.yml:3:15: "
	    "workload_identity: must provide an Azure Workload Identity "
	    "client_id in the Azure AD config (or set AZURE_CLIENT_ID)");
	expect_az_error("    azuread: {workload_identity: {client_id: "
	    "00000000-0000-0000-0000-000000000001}}\n", "t.yml:3:15: "
	    "workload_identity: must provide an Azure Workload Identity "
	    "tenant_id in the Azure AD config (or set AZURE_TENANT_ID)");
	expect_az_error("    azuread: {workload_identity: {client_id: "
	    "00000000-0000-0000-0000-000000000001, tenant_id: t}}\n",
	    "t.yml:3:84: tenant_id: the provided Azure Workload Identity "
	    "tenant_id is invalid");
	expect_az_error("    azuread: {certificate: {client_id: "
	    "00000000-0000-0000-0000-000000000001, tenant_id: t}}\n",
	    "t.yml:3:15: certificate: must provide an Azure Certificate "
	    "certificate_path in the Azure AD config");
	expect_az_error("    azuread: {certificate: {client_id: "
	    "00000000-0000-0000-0000-000000000001, tenant_id: t, "
	    "certificate_path: a.pem, certificate_file: b.pem}}\n",
	    "t.yml:3:15: certificate: at most one of certificate_path & "
	    "certificate_file must be configured");
	expect_az_error("    azuread: {certificate: {certificate_password: "
	    "x}}\n", "t.yml:3:29: certificate_password: not supported by "
	    "promlet: PKCS#12 files are not supported: use a PEM certificate "
	    "and key");
	expect_az_error("    azuread: {managed_identity: {}, scope: "
	    "'a<b'}\n", "t.yml:3:37: scope: the provided scope contains "
	    "invalid characters");
	expect_az_error("    basic_auth: {username: u}\n"
	    "    azuread: {managed_identity: {}}\n", "t.yml:4:5: azuread: at "
	    "most one of basic_auth, authorization, oauth2, sigv4, azuread "
	    "or google_iam must be configured. Currently configured: "
	    "[basic_auth azuread]");
	expect_az_error("    bearer_token: x\n"
	    "    azuread: {managed_identity: {}}\n", "t.yml:4:5: azuread: at "
	    "most one of basic_auth, authorization, oauth2, sigv4, azuread "
	    "or google_iam must be configured. Currently configured: "
	    "[authorization azuread]");
	expect_az_error("    headers: {authorization: Bearer x}\n"
	    "    azuread: {managed_identity: {}}\n", "t.yml:3:15: "
	    "authorization: authorization header must be changed via the "
	    "basic_auth, authorization, oauth2, sigv4, azuread or google_iam "
	    "parameter");

	unlink(path);
	unlink(key);
	rmdir(dir);
}

static void
test_kubernetes_sd(void **state)
{
	const struct config_k8s_sd *sd;
	struct config *cfg;

	(void)state;
	setenv("PROMLET_T_NODE", "node-7", 1);
	cfg = load_ok(
	    "scrape_configs:\n"
	    "  - job_name: pods\n"
	    "    kubernetes_sd_configs:\n"
	    "      - role: pod\n"
	    "        namespaces: {names: [a, b]}\n"
	    "        attach_metadata: {node: true}\n"
	    "        selectors:\n"
	    "          - role: pod\n"
	    "            field: spec.nodeName=${PROMLET_T_NODE}\n"
	    "            label: 'app in (x, y),!legacy,tier!=db'\n"
	    "          - role: node\n"
	    "            label: kubernetes.io/os=linux\n"
	    "      - role: endpointslice\n"
	    "        api_server: https://k8s.example:6443\n"
	    "        bearer_token_file: /t\n"
	    "        tls_config: {ca_file: /ca}\n"
	    "      - role: node\n"
	    "        namespaces: {own_namespace: true}\n");
	assert_int_equal(cfg->scrape[0].nk8s_sd, 3);
	sd = &cfg->scrape[0].k8s_sd[0];
	assert_int_equal(sd->role, CONFIG_K8S_POD);
	assert_null(sd->api_server);
	assert_int_equal(sd->nnamespaces, 2);
	assert_string_equal(sd->namespaces[1], "b");
	assert_int_equal(sd->attach_metadata_node, 1);
	assert_int_equal(sd->nselectors, 2);
	assert_int_equal(sd->selectors[0].role, CONFIG_K8S_POD);
	assert_string_equal(sd->selectors[0].field, "spec.nodeName=node-7");
	assert_int_equal(sd->selectors[1].role, CONFIG_K8S_NODE);
	assert_null(sd->selectors[1].field);
	assert_int_equal(sd->line, 4);
	sd = &cfg->scrape[0].k8s_sd[1];
	assert_int_equal(sd->role, CONFIG_K8S_ENDPOINTSLICE);
	assert_string_equal(sd->api_server, "https://k8s.example:6443");
	assert_string_equal(sd->http.authorization_type, "Bearer");
	assert_string_equal(sd->http.authorization_credentials_file, "/t");
	assert_string_equal(sd->http.tls.ca_file, "/ca");
	assert_int_equal(cfg->scrape[0].k8s_sd[2].own_namespace, 1);
	assert_string_equal(config_k8s_role_name(CONFIG_K8S_SERVICE),
	    "service");
	config_free(cfg);

#define K8S "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n"
	expect_error(K8S "      - {namespaces: {}}\n", "t.yml:4:9: "
	    "kubernetes_sd_configs[0]: role missing (one of: pod, service, "
	    "endpoints, endpointslice, node, ingress)");
	expect_error(K8S "      - {role: vacation}\n", "t.yml:4:10: role: "
	    "unknown Kubernetes SD role \"vacation\"");
	expect_error(K8S "      - {role: ingress}\n", "t.yml:4:10: role: role "
	    "ingress is not supported by promlet (supported: pod, node, "
	    "endpoints, endpointslice, service)");
	expect_error(K8S "      - {role: pod, kubeconfig_file: /k}\n",
	    "t.yml:4:21: kubeconfig_file: not supported by promlet: set "
	    "api_server with tls_config and authorization, or run in the "
	    "cluster with the service account");
	expect_error(K8S "      - {role: pod, bearer_token: x}\n",
	    "t.yml:4:9: kubernetes_sd_configs[0]: to use custom HTTP client "
	    "configuration please provide the 'api_server' URL explicitly");
	expect_error(K8S "      - {role: pod, api_server: 'k8s:443'}\n",
	    "t.yml:4:9: api_server: invalid URL \"k8s:443\": expected "
	    "http:// or https:// and a host");
	expect_error(K8S "      - {role: pod, api_server: 'https://a', "
	    "namespaces: {own_namespace: true}}\n", "t.yml:4:59: "
	    "own_namespace: cannot use 'api_server' and "
	    "'namespaces.own_namespace' simultaneously");
	expect_error(K8S "      - {role: node, selectors: [{role: pod}]}\n",
	    "t.yml:4:34: selectors: node role supports only node selectors");
	expect_error(K8S "      - {role: pod, selectors: [{role: pod}, "
	    "{role: pod}]}\n", "t.yml:4:46: selectors: duplicated selector "
	    "role: pod");
	expect_error(K8S "      - {role: pod, selectors: [{role: pod, "
	    "field: 'a,b=c'}]}\n", "t.yml:4:33: field: invalid selector: "
	    "'a,b=c'; can't understand 'a'");
	/* A trailing escape: the parser once read past the end. */
	expect_error(K8S "      - {role: pod, selectors: [{role: pod, "
	    "field: 'a=b\\'}]}\n", "t.yml:4:33: field: invalid selector: "
	    "'a=b\\'; it ends in an escaping '\\'");
	expect_error(K8S "      - {role: pod, selectors: [{role: pod, "
	    "field: '\\'}]}\n", "t.yml:4:33: field: invalid selector: "
	    "'\\'; it ends in an escaping '\\'");
	{
		struct config *c = load_ok(K8S "      - {role: pod, "
		    "selectors: [{role: pod, field: 'a=b\\,c'}]}\n");

		config_free(c);
	}
	expect_error(K8S "      - {role: pod, selectors: [{role: pod, "
	    "label: 'a in b'}]}\n", "t.yml:4:33: label: invalid label "
	    "selector \"a in b\": expected a parenthesised list of values");
	expect_error(K8S "      - {role: pod, selectors: [{role: pod, "
	    "label: '-a=b'}]}\n", "t.yml:4:33: label: invalid label "
	    "selector \"-a=b\": invalid label key");
	expect_error(K8S "      - {role: pod, selectors: [{role: nope}]}\n",
	    "t.yml:4:33: selectors[0]: unknown Kubernetes SD role \"nope\"");
	expect_error(K8S "      - {role: pod, namespaces: {foo: bar}}\n",
	    "t.yml:4:34: foo: unknown key in namespaces");
#undef K8S
}

static void
test_http_sd(void **state)
{
	const struct config_http_sd *sd;
	struct config *cfg;

	(void)state;
	cfg = load_ok(
	    "scrape_configs:\n"
	    "  - job_name: h\n"
	    "    http_sd_configs:\n"
	    "      - url: http://sd.example:8080/targets?env=prod\n"
	    "      - url: HTTPS://u:p@sd.example/t\n"
	    "        refresh_interval: 15s\n"
	    "        bearer_token_file: /t\n"
	    "        tls_config: {ca_file: /ca}\n");
	assert_int_equal(cfg->scrape[0].nhttp_sd, 2);
	sd = &cfg->scrape[0].http_sd[0];
	assert_string_equal(sd->url, "http://sd.example:8080/targets?env=prod");
	assert_int_equal(sd->refresh_interval_ms, 60000);
	assert_int_equal(sd->http.follow_redirects, 1);
	assert_int_equal(sd->http.enable_http2, 1);
	assert_int_equal(sd->line, 4);
	sd = &cfg->scrape[0].http_sd[1];
	assert_int_equal(sd->refresh_interval_ms, 15000);
	assert_string_equal(sd->http.authorization_type, "Bearer");
	assert_string_equal(sd->http.authorization_credentials_file, "/t");
	assert_string_equal(sd->http.tls.ca_file, "/ca");
	config_free(cfg);

#define HSD "scrape_configs:\n  - job_name: h\n    http_sd_configs:\n"
	expect_error(HSD "      - {refresh_interval: 1m}\n", "t.yml:4:9: "
	    "http_sd_configs[0]: URL is missing");
	expect_error(HSD "      - {url: 'sd:80'}\n", "t.yml:4:10: url: URL "
	    "scheme must be 'http' or 'https'");
	expect_error(HSD "      - {url: 'ftp://sd'}\n", "t.yml:4:10: url: "
	    "URL scheme must be 'http' or 'https'");
	expect_error(HSD "      - {url: 'http://'}\n", "t.yml:4:10: url: "
	    "host is missing in URL");
	expect_error(HSD "      - {url: 'http://u:pw@/x'}\n", "t.yml:4:10: "
	    "url: host is missing in URL");
	expect_error(HSD "      - {url: 'http://u:pw@a b/'}\n", "t.yml:4:10: "
	    "url: invalid URL \"http://u:<secret>@a b/\"");
	expect_error(HSD "      - {url: 'http://sd', refresh_interval: 0s}\n",
	    "t.yml:4:28: refresh_interval: must be greater than 0");
	expect_error(HSD "      - {url: 'http://sd', bearer_token: a, "
	    "bearer_token_file: b}\n", "t.yml:4:45: bearer_token_file: at "
	    "most one of bearer_token & bearer_token_file must be "
	    "configured");
	expect_error(HSD "      - {url: 'http://sd', files: [a]}\n",
	    "t.yml:4:28: files: unknown key in http_sd_configs[0]");
#undef HSD
}

static void
test_file_sd_and_paths(void **state)
{
	struct config *cfg;
	char *cause;
	const char *yaml =
	    "scrape_configs:\n"
	    "  - job_name: f\n"
	    "    basic_auth: {username: u, password_file: pw}\n"
	    "    file_sd_configs:\n"
	    "      - files: ['targets/*.json', /abs/x.yml]\n"
	    "      - files: [y.YAML]\n"
	    "        refresh_interval: 30s\n";

	(void)state;
	/* Relative paths are resolved against the config's directory. */
	cfg = config_load_string("/etc/promlet/promlet.yml", yaml,
	    strlen(yaml), &cause);
	assert_non_null(cfg);
	assert_int_equal(cfg->scrape[0].nfile_sd, 2);
	assert_string_equal(cfg->scrape[0].file_sd[0].files[0],
	    "/etc/promlet/targets/*.json");
	assert_string_equal(cfg->scrape[0].file_sd[0].files[1], "/abs/x.yml");
	assert_int_equal(cfg->scrape[0].file_sd[0].refresh_interval_ms,
	    300000);
	assert_int_equal(cfg->scrape[0].file_sd[1].refresh_interval_ms,
	    30000);
	assert_string_equal(cfg->scrape[0].http.basic_auth_password_file,
	    "/etc/promlet/pw");
	config_free(cfg);
	/* Without a directory in the name they stay relative (to cwd). */
	cfg = load_ok(yaml);
	assert_string_equal(cfg->scrape[0].file_sd[0].files[0],
	    "targets/*.json");
	config_free(cfg);
}

static void
test_http_mapping(void **state)
{
	const struct config_http *h;
	struct config *cfg;

	(void)state;
	cfg = load_ok(
	    "scrape_configs:\n"
	    "  - {job_name: a, bearer_token: tok}\n"
	    "  - {job_name: b, bearer_token_file: /f}\n"
	    "  - {job_name: c, authorization: {credentials: c}}\n"
	    "  - {job_name: d, authorization: {type: ' Token ', "
	    "credentials_file: /g}}\n"
	    "  - job_name: e\n"
	    "    basic_auth: {username: u, password: p}\n"
	    "    tls_config: {ca_file: /ca, cert_file: /c, key_file: /k,\n"
	    "      server_name: s, insecure_skip_verify: true,\n"
	    "      min_version: TLS12, max_version: TLS13}\n"
	    "    proxy_url: 'http://user:pw@proxy:3128'\n"
	    "    no_proxy: 'localhost,10.0.0.0/8'\n"
	    "    follow_redirects: false\n"
	    "    enable_http2: false\n"
	    "  - {job_name: f, proxy_from_environment: true}\n");
	h = &cfg->scrape[0].http;
	assert_string_equal(h->authorization_type, "Bearer");
	assert_string_equal(h->authorization_credentials, "tok");
	h = &cfg->scrape[1].http;
	assert_string_equal(h->authorization_type, "Bearer");
	assert_string_equal(h->authorization_credentials_file, "/f");
	assert_null(h->authorization_credentials);
	h = &cfg->scrape[2].http;
	assert_string_equal(h->authorization_type, "Bearer");
	h = &cfg->scrape[3].http;
	assert_string_equal(h->authorization_type, "Token");
	h = &cfg->scrape[4].http;
	assert_string_equal(h->basic_auth_username, "u");
	assert_string_equal(h->basic_auth_password, "p");
	assert_string_equal(h->tls.ca_file, "/ca");
	assert_string_equal(h->tls.server_name, "s");
	assert_int_equal(h->tls.insecure_skip_verify, 1);
	assert_string_equal(h->tls.min_version, "TLS12");
	assert_string_equal(h->tls.max_version, "TLS13");
	assert_string_equal(h->no_proxy, "localhost,10.0.0.0/8");
	assert_int_equal(h->follow_redirects, 0);
	assert_int_equal(h->enable_http2, 0);
	assert_int_equal(cfg->scrape[5].http.proxy_from_environment, 1);
	config_free(cfg);

	/* Params keep repeated values in order. */
	cfg = load_ok("scrape_configs: [{job_name: a, params: "
	    "{module: [m1, m2], target: [t]}}]\n");
	assert_int_equal(cfg->scrape[0].params.n, 3);
	assert_string_equal(cfg->scrape[0].params.v[1].name, "module");
	assert_string_equal(cfg->scrape[0].params.v[1].value, "m2");
	assert_string_equal(cfg->scrape[0].params.v[2].name, "target");
	config_free(cfg);
}

static void
test_remote_write_options(void **state)
{
	const struct config_remote_write *rw;
	struct config *cfg;

	(void)state;
	cfg = load_ok(
	    "remote_write:\n"
	    "  - url: https://a/w\n"
	    "    name: one\n"
	    "    remote_timeout: 10s\n"
	    "    headers: {X-Scope-OrgID: tenant1}\n"
	    "    write_relabel_configs:\n"
	    "      - {source_labels: [__name__], regex: go_.*, action: drop}\n"
	    "    queue_config:\n"
	    "      capacity: 500\n"
	    "      min_shards: 2\n"
	    "      max_shards: 4\n"
	    "      max_samples_per_send: 100\n"
	    "      batch_send_deadline: 1s\n"
	    "      min_backoff: 100ms\n"
	    "      max_backoff: 10s\n"
	    "      retry_on_http_429: false\n"
	    "      sample_age_limit: 1h\n"
	    "    metadata_config: {send: false, send_interval: 2m}\n"
	    "    max_label_count: 0\n"
	    "    max_label_name_length: 100\n"
	    "    enable_http2: true\n"
	    "    send_native_histograms: false\n"
	    "    round_robin_dns: true\n"
	    "    protobuf_message: prometheus.WriteRequest\n");
	rw = &cfg->remote_write[0];
	assert_string_equal(rw->name, "one");
	assert_int_equal(rw->remote_timeout_ms, 10000);
	assert_string_equal(rw->headers.v[0].name, "X-Scope-OrgID");
	assert_int_equal(rw->write_relabel.n, 1);
	assert_int_equal(rw->write_relabel.v[0]->action, RELABEL_DROP);
	assert_int_equal(rw->queue.capacity, 500);
	assert_int_equal(rw->queue.min_shards, 2);
	assert_int_equal(rw->queue.max_shards, 4);
	assert_int_equal(rw->queue.max_samples_per_send, 100);
	assert_int_equal(rw->queue.batch_send_deadline_ms, 1000);
	assert_int_equal(rw->queue.min_backoff_ms, 100);
	assert_int_equal(rw->queue.max_backoff_ms, 10000);
	/* An explicit false keeps Prometheus's behaviour. */
	assert_int_equal(rw->queue.retry_on_http_429, 0);
	assert_int_equal(rw->queue.sample_age_limit_ms, 3600000);
	assert_int_equal(rw->metadata_send, 0);
	assert_int_equal(rw->metadata_send_interval_ms, 120000);
	assert_int_equal(rw->max_label_count, 0);
	assert_int_equal(rw->max_label_name_length, 100);
	assert_int_equal(rw->max_label_value_length, 1023);
	assert_int_equal(rw->http.enable_http2, 1);
	config_free(cfg);
}

static void
test_accepted_prometheus_keys(void **state)
{
	struct config *cfg;

	(void)state;
	/* Keys with no effect in promlet load rather than break configs. */
	cfg = load_ok(
	    "global:\n"
	    "  evaluation_interval: 15s\n"
	    "  rule_query_offset: 1m\n"
	    "  query_log_file: /q.log\n"
	    "  scrape_native_histograms: true\n"
	    "  always_scrape_classic_histograms: true\n"
	    "  convert_classic_histograms_to_nhcb: false\n"
	    "  metric_name_validation_scheme: legacy\n"
	    "  metric_name_escaping_scheme: underscores\n"
	    "  keep_dropped_targets: 10\n"
	    "  target_limit: 5\n"
	    "scrape_configs:\n"
	    "  - job_name: a\n"
	    "    scrape_classic_histograms: true\n"
	    "    native_histogram_bucket_limit: 10\n"
	    "    native_histogram_min_bucket_factor: 1.1\n"
	    "    track_timestamps_staleness: yes\n");
	assert_int_equal(cfg->scrape[0].keep_dropped_targets, 10);
	assert_int_equal(cfg->scrape[0].target_limit, 5);
	assert_int_equal(cfg->scrape[0].track_timestamps_staleness, 1);
	config_free(cfg);
	/* Go's GC setting: checked, no effect. */
	cfg = load_ok("runtime:\n  gogc: 42\nscrape_configs: []\n");
	config_free(cfg);
	cfg = load_ok("runtime:\n");
	config_free(cfg);
	expect_error("runtime: {gogc: lots}\n", "t.yml:1:17: gogc: expected an "
	    "integer, got \"lots\"");
	expect_error("runtime: {gog: 1}\n", "t.yml:1:11: gog: unknown key in "
	    "runtime (did you mean gogc?)");
}

/* Every secret is replaced in the dump; hashes see them all the same. */
static void
test_secrets_redacted(void **state)
{
	static const char *yaml =
	    "scrape_configs:\n"
	    "  - job_name: a\n"
	    "    basic_auth: {username: user1, password: SECRET-PW}\n"
	    "  - job_name: b\n"
	    "    bearer_token: SECRET-BEARER\n"
	    "    proxy_url: 'http://pu:SECRET-PROXY@proxy:3128'\n"
	    "  - job_name: c\n"
	    "    authorization: {type: Token, credentials: SECRET-CRED}\n"
	    "    kubernetes_sd_configs:\n"
	    "      - role: pod\n"
	    "        api_server: 'https://ku:SECRET-K8SURL@k:6443'\n"
	    "        basic_auth: {username: ku, password: SECRET-K8SPW}\n"
	    "    http_sd_configs:\n"
	    "      - url: 'https://hu:SECRET-HSDURL@h/sd'\n"
	    "        authorization: {credentials: SECRET-HSDCRED}\n"
	    "  - job_name: d\n"
	    "    oauth2:\n"
	    "      client_id: cid\n"
	    "      client_secret: SECRET-OAUTH2\n"
	    "      token_url: 'https://tu:SECRET-TOKURL@t/token'\n"
	    "      proxy_url: 'http://pu:SECRET-OAPROXY@p:3128'\n"
	    "remote_write:\n"
	    "  - url: 'https://ru:SECRET-URL@r/w'\n"
	    "    headers: {X-Api-Key: SECRET-HEADER}\n"
	    "    azuread:\n"
	    "      oauth:\n"
	    "        client_id: 00000000-0000-0000-0000-000000000001\n"
	    "        tenant_id: t\n"
	    "        client_secret: SECRET-CLIENT\n";
	struct config *cfg, *cfg2;
	struct buf b = BUF_INIT;
	char *other;
	uint64_t h;

	(void)state;
	cfg = load_ok(yaml);
	config_dump(cfg, &b);
	if (strstr(b.data, "SECRET") != NULL)
		fail_msg("secret in dump:\n%s", b.data);
	assert_non_null(strstr(b.data, "password: \"<secret>\""));
	assert_non_null(strstr(b.data, "credentials: \"<secret>\""));
	assert_non_null(strstr(b.data, "client_secret: \"<secret>\""));
	assert_non_null(strstr(b.data, "\"X-Api-Key\": \"<secret>\""));
	assert_non_null(strstr(b.data,
	    "url: \"https://ru:<secret>@r/w\""));
	assert_non_null(strstr(b.data, "username: \"user1\""));
	/* The redacted dump is itself a valid config. */
	cfg2 = load_ok(b.data);
	assert_int_equal(cfg2->nscrape, 4);
	config_free(cfg2);

	/* A changed secret changes the hash (a reload must pick it up). */
	h = config_scrape_hash(&cfg->scrape[0]);
	other = strdup(yaml);
	memcpy(strstr(other, "SECRET-PW"), "SECRET-XX", 9);
	cfg2 = load_ok(other);
	assert_true(config_scrape_hash(&cfg2->scrape[0]) != h);
	assert_true(config_scrape_hash(&cfg2->scrape[1]) ==
	    config_scrape_hash(&cfg->scrape[1]));
	config_free(cfg2);
	memcpy(strstr(other, "SECRET-OAUTH2"), "SECRET-OAUTHX", 13);
	cfg2 = load_ok(other);
	assert_true(config_scrape_hash(&cfg2->scrape[3]) !=
	    config_scrape_hash(&cfg->scrape[3]));
	assert_string_not_equal(cfg2->scrape[3].http.oauth2->key,
	    cfg->scrape[3].http.oauth2->key);
	config_free(cfg2);
	memcpy(strstr(other, "SECRET-CLIENT"), "SECRET-CLIENX", 13);
	cfg2 = load_ok(other);
	assert_true(config_remote_write_hash(&cfg2->remote_write[0]) !=
	    config_remote_write_hash(&cfg->remote_write[0]));
	config_free(cfg2);
	free(other);
	config_free(cfg);
	buf_free(&b);

	/* Nor in error messages that quote a URL. */
	expect_error("remote_write: [{url: 'ftp://u:SECRET@h/'}]\n",
	    "t.yml:1:17: url: invalid URL \"ftp://u:<secret>@h/\": expected "
	    "http:// or https:// and a host");
	expect_error("scrape_configs: [{job_name: a, proxy_url: "
	    "'u:SECRET@h:1'}]\n", "t.yml:1:32: proxy_url: invalid proxy URL "
	    "\"<secret>@h:1\" (expected scheme://host:port with scheme "
	    "http, https, socks4, socks4a, socks5 or socks5h)");
	expect_error("remote_write: [{url: 'http://u:SECRET@h/'}, "
	    "{url: 'http://u:SECRET@h/'}]\n", "t.yml:1:45: remote_write: "
	    "duplicate remote write configs are not allowed, found "
	    "duplicate for URL: http://u:<secret>@h/");
}

static void
test_hashes(void **state)
{
	struct config *a, *b;

	(void)state;
	a = load_ok("scrape_configs: [{job_name: x, static_configs: "
	    "[{targets: ['h:1']}]}, {job_name: y}]\n"
	    "remote_write: [{url: 'http://r/1'}, {url: 'http://r/2'}]\n");
	/* Same job, moved and with another job around it. */
	b = load_ok("global: {scrape_timeout: 10s}\n"
	    "scrape_configs:\n"
	    "  - job_name: z\n"
	    "  - job_name: x\n"
	    "    static_configs:\n"
	    "      - targets: ['h:1']\n"
	    "remote_write:\n"
	    "  - url: 'http://r/2'\n"
	    "    queue_config: {capacity: 5}\n"
	    "  - url: 'http://r/1'\n");
	assert_true(config_scrape_hash(&a->scrape[0]) ==
	    config_scrape_hash(&b->scrape[1]));
	assert_true(config_scrape_hash(&a->scrape[0]) !=
	    config_scrape_hash(&a->scrape[1]));
	assert_true(config_remote_write_hash(&a->remote_write[0]) ==
	    config_remote_write_hash(&b->remote_write[1]));
	assert_true(config_remote_write_hash(&a->remote_write[1]) !=
	    config_remote_write_hash(&b->remote_write[0]));
	/* Default names follow the config, so they are stable too. */
	assert_string_equal(a->remote_write[0].name, b->remote_write[1].name);
	assert_string_not_equal(a->remote_write[0].name,
	    a->remote_write[1].name);
	config_free(a);
	config_free(b);

	/* Any effective change shows. */
	a = load_ok("scrape_configs: [{job_name: x}]\n");
	b = load_ok("scrape_configs: [{job_name: x, scrape_interval: 1m, "
	    "metrics_path: /metrics}]\n");
	assert_true(config_scrape_hash(&a->scrape[0]) ==
	    config_scrape_hash(&b->scrape[0]));
	config_free(b);
	b = load_ok("scrape_configs: [{job_name: x, metrics_path: /m}]\n");
	assert_true(config_scrape_hash(&a->scrape[0]) !=
	    config_scrape_hash(&b->scrape[0]));
	config_free(b);
	b = load_ok("scrape_configs: [{job_name: x, relabel_configs: "
	    "[{source_labels: [a], action: drop}]}]\n");
	assert_true(config_scrape_hash(&a->scrape[0]) !=
	    config_scrape_hash(&b->scrape[0]));
	config_free(b);
	config_free(a);
}

/* Dump, load the dump, dump again: the same text. */
static void
test_dump_roundtrip(void **state)
{
	struct buf d1 = BUF_INIT, d2 = BUF_INIT;
	struct config *a, *b;

	(void)state;
	a = load_ok(
	    "global:\n"
	    "  scrape_interval: 15s\n"
	    "  external_labels: {region: \"eu\\n\\\"x\\\"\", b: \"\\u00e9\"}\n"
	    "scrape_configs:\n"
	    "  - job_name: \"odd \\\"name\\\"\"\n"
	    "    params: {q: ['a b']}\n"
	    "    static_configs:\n"
	    "      - targets: []\n"
	    "      - targets: ['h:1']\n"
	    "        labels: {k: v}\n"
	    "    file_sd_configs: [{files: [/x/*.json]}]\n"
	    "    kubernetes_sd_configs:\n"
	    "      - role: service\n"
	    "        namespaces: {names: [n]}\n"
	    "        selectors: [{role: service, label: a=b}]\n"
	    "    http_sd_configs:\n"
	    "      - {url: 'http://sd/t', refresh_interval: 2m,"
	    " basic_auth: {username: u, password_file: /p}}\n"
	    "    tls_config: {insecure_skip_verify: true}\n"
	    "    oauth2:\n"
	    "      client_id: c\n"
	    "      client_secret_file: /s\n"
	    "      scopes: [a, 'b c']\n"
	    "      token_url: 'https://t/token'\n"
	    "      endpoint_params: {z: '1', audience: x}\n"
	    "      tls_config: {ca_file: /ca}\n"
	    "      proxy_url: 'http://p:3128'\n"
	    "      no_proxy: q\n"
	    "    metric_relabel_configs:\n"
	    "      - {source_labels: [a, b], separator: ',', regex: '(.+)',"
	    " modulus: 4, target_label: t, action: hashmod}\n"
	    "      - {regex: 'tmp_.*', action: labeldrop}\n"
	    "remote_write:\n"
	    "  - url: http://r/w\n"
	    "    azuread: {managed_identity: {}}\n");
	config_dump(a, &d1);
	b = load_ok(d1.data);
	config_dump(b, &d2);
	assert_string_equal(d1.data, d2.data);
	assert_string_equal(b->external_labels.v[1].value, "eu\n\"x\"");
	assert_string_equal(b->external_labels.v[0].value, "\xc3\xa9");
	assert_string_equal(b->scrape[0].job_name, "odd \"name\"");
	assert_string_equal(b->scrape[0].http.oauth2->key,
	    a->scrape[0].http.oauth2->key);
	assert_string_equal(b->scrape[0].http.oauth2->endpoint_params.v[0].name,
	    "audience");
	assert_string_equal(b->scrape[0].http.oauth2->http.tls.ca_file, "/ca");
	config_free(a);
	config_free(b);
	buf_reset(&d1);
	buf_reset(&d2);

	/* Characters YAML only takes escaped. */
	a = load_ok("scrape_configs: [{job_name: "
	    "\"a\\x85\\x7f\\uFEFF\\uFFFEb\"}]\n");
	config_dump(a, &d1);
	assert_non_null(strstr(d1.data,
	    "job_name: \"a\\x85\\x7f\\uFEFF\\uFFFEb\"\n"));
	b = load_ok(d1.data);
	assert_string_equal(a->scrape[0].job_name, b->scrape[0].job_name);
	config_free(a);
	config_free(b);
	buf_reset(&d1);

	/* Bytes that are not UTF-8 survive, as !!binary. */
	a = load_ok("scrape_configs: [{job_name: !!binary /2E=, "
	    "metrics_path: !!binary L3j/eQ==}]\n");
	assert_string_equal(a->scrape[0].job_name, "\xff" "a");
	config_dump(a, &d1);
	assert_non_null(strstr(d1.data, "job_name: !!binary \"/2E=\"\n"));
	assert_non_null(strstr(d1.data,
	    "metrics_path: !!binary \"L3j/eQ==\"\n"));
	b = load_ok(d1.data);
	assert_string_equal(b->scrape[0].metrics_path, "/x\xffy");
	config_dump(b, &d2);
	assert_string_equal(d1.data, d2.data);
	config_free(a);
	config_free(b);
	buf_free(&d1);
	buf_free(&d2);
}

static void
test_yaml_features(void **state)
{
	struct config *cfg;

	(void)state;
	/* Anchors, aliases and merge keys, as shared configs use them. */
	cfg = load_ok(
	    "scrape_configs:\n"
	    "  - &common\n"
	    "    job_name: a\n"
	    "    scrape_interval: 10s\n"
	    "    honor_labels: true\n"
	    "  - <<: *common\n"
	    "    job_name: b\n"
	    "    honor_labels: false\n"
	    "  - <<: [{sample_limit: 7}, *common]\n"
	    "    job_name: c\n"
	    "    static_configs: &st\n"
	    "      - targets: ['h:1']\n"
	    "  - job_name: d\n"
	    "    static_configs: *st\n");
	assert_int_equal(cfg->nscrape, 4);
	assert_int_equal(cfg->scrape[1].scrape_interval_ms, 10000);
	assert_int_equal(cfg->scrape[1].honor_labels, 0);
	assert_int_equal(cfg->scrape[2].scrape_interval_ms, 10000);
	assert_int_equal(cfg->scrape[2].honor_labels, 1);
	assert_int_equal(cfg->scrape[2].sample_limit, 7);
	assert_string_equal(cfg->scrape[3].static_configs[0].targets[0], "h:1");
	assert_int_equal(cfg->scrape[3].scrape_interval_ms, 60000);
	config_free(cfg);

	/* Quoted scalars are strings, plain ones may be null or numbers. */
	cfg = load_ok("scrape_configs: [{job_name: 'null', "
	    "metrics_path: \"~\"}]\n");
	assert_string_equal(cfg->scrape[0].job_name, "null");
	assert_string_equal(cfg->scrape[0].metrics_path, "~");
	config_free(cfg);
	expect_error("scrape_configs: [{job_name: null}]\n", "t.yml:1:19: "
	    "job_name: job_name is empty");
	/* An integer is a fine string. */
	cfg = load_ok("scrape_configs: [{job_name: 1234}]\n");
	assert_string_equal(cfg->scrape[0].job_name, "1234");
	config_free(cfg);
}

static void
test_yaml_tree(void **state)
{
	static const struct {
		const char	*doc;
		const char	*want;
	} bad[] = {
		{ "a: 1\na: 2\n", "d.yml:2:1: a: duplicate key (already set "
		    "at line 1)" },
		{ "a: &x [*x]\n", "d.yml:1:8: syntax error: alias *x refers "
		    "to a node that contains it" },
		{ "a: {<<: 1}\n", "d.yml:1:9: <<: merge value must be a "
		    "mapping or a list of mappings" },
		{ "a: !!binary '%%%'\n", "d.yml:1:4: a: !!binary value "
		    "contains invalid base64 data" },
		{ "a:\n  b: [1, {c: [2, {d: \n", "d.yml:3:1: syntax error: did "
		    "not find expected node content while parsing a flow "
		    "node" },
		{ "a: \"\\xzz\"\n", "d.yml:1:7: syntax error: did not find "
		    "expected hexdecimal number while parsing a quoted "
		    "scalar" },
	};
	struct yaml_tree *t;
	const struct ynode *n, *v;
	char *cause = NULL;
	const char *doc;
	size_t i;

	(void)state;
	doc = "a: &x {k: 1, l: [1, 2]}\n"
	    "b:\n"
	    "  <<: *x\n"
	    "  k: 2\n"
	    "c: [*x, ~, '', \"~\", null, !!str 5, !!binary aGk=]\n"
	    "d: |\n"
	    "  text\n";
	t = yaml_tree_load("d.yml", doc, strlen(doc), &cause);
	if (t == NULL)
		fail_msg("%s", cause);
	assert_int_equal(t->root->type, YNODE_MAP);
	assert_int_equal(t->root->n, 4);
	n = yaml_tree_map_get(t->root, "b");
	assert_int_equal(n->type, YNODE_MAP);
	/* Explicit k wins over the merged one; l is merged in. */
	assert_int_equal(n->n, 2);
	assert_string_equal(yaml_tree_map_get(n, "k")->value, "2");
	v = yaml_tree_map_get(n, "l");
	assert_int_equal(v->type, YNODE_SEQ);
	assert_int_equal(v->n, 2);
	/* Copies keep the position of the anchored original. */
	assert_int_equal(v->line, 1);
	n = yaml_tree_map_get(t->root, "c");
	assert_int_equal(n->n, 7);
	assert_int_equal(n->v[0]->type, YNODE_MAP);
	assert_true(n->v[1]->flags & YNODE_NULL);
	assert_false(n->v[2]->flags & YNODE_NULL);
	assert_true(n->v[2]->flags & YNODE_QUOTED);
	assert_false(n->v[3]->flags & YNODE_NULL);
	assert_true(n->v[4]->flags & YNODE_NULL);
	assert_true(n->v[5]->flags & YNODE_QUOTED);
	assert_true(n->v[6]->flags & YNODE_BINARY);
	assert_string_equal(n->v[6]->value, "hi");
	assert_int_equal(n->v[6]->line, 5);
	assert_int_equal(n->v[6]->column, 36);
	assert_string_equal(yaml_tree_kind(n), "a sequence");
	v = yaml_tree_map_get(t->root, "d");
	assert_true(v->flags & YNODE_QUOTED);
	assert_string_equal(v->value, "text\n");
	assert_int_equal(v->line, 6);
	assert_int_equal(v->column, 4);
	assert_string_equal(yaml_tree_kind(v), "a scalar");
	yaml_tree_free(t);

	/* An anchor can be used after its node was merged away. */
	doc = "a:\n  <<: &m {k: 1}\nb: *m\n";
	t = yaml_tree_load("d.yml", doc, strlen(doc), &cause);
	assert_non_null(t);
	assert_string_equal(yaml_tree_map_get(yaml_tree_map_get(t->root,
	    "b"), "k")->value, "1");
	yaml_tree_free(t);

	/* Empty documents have no root. */
	t = yaml_tree_load("d.yml", "# nothing\n", 10, &cause);
	assert_non_null(t);
	assert_null(t->root);
	yaml_tree_free(t);

	/* Errors: each frees what it built (LeakSanitizer checks). */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		t = yaml_tree_load("d.yml", bad[i].doc, strlen(bad[i].doc),
		    &cause);
		assert_null(t);
		if (strcmp(cause, bad[i].want) != 0)
			fail_msg("got  %s\nwant %s", cause, bad[i].want);
		free(cause);
	}
}

/* Nesting and alias expansion are bounded. */
static void
test_yaml_limits(void **state)
{
	struct buf b = BUF_INIT;
	struct yaml_tree *t;
	char *cause = NULL;
	int i;

	(void)state;
	for (i = 0; i < 200; i++)
		buf_putc(&b, '[');
	for (i = 0; i < 200; i++)
		buf_putc(&b, ']');
	t = yaml_tree_load("d.yml", b.data, b.len, &cause);
	assert_null(t);
	assert_non_null(strstr(cause, "nesting deeper than 128 levels"));
	free(cause);
	buf_reset(&b);

	/* A billion laughs: 10 levels of 10 aliases each. */
	buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 10; i++)
		buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
		    "*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	t = yaml_tree_load("d.yml", b.data, b.len, &cause);
	assert_null(t);
	assert_non_null(strstr(cause, "document too large"));
	free(cause);
	buf_free(&b);
}

static void
test_load_file(void **state)
{
	char dir[] = "/tmp/promlet-test-cfg.XXXXXX", path[256];
	struct config *cfg;
	char *cause = NULL;
	FILE *f;

	(void)state;
	assert_null(config_load("/nonexistent/promlet.yml", &cause));
	assert_string_equal(cause, "/nonexistent/promlet.yml: cannot open "
	    "config file: No such file or directory");
	free(cause);
	assert_null(config_load("/tmp", &cause));
	assert_string_equal(cause, "/tmp: cannot read config file: is a "
	    "directory");
	free(cause);
	/* Endless input stops at the size cap. */
	assert_null(config_load("/dev/zero", &cause));
	assert_string_equal(cause, "/dev/zero: config file larger than 16 "
	    "MiB");
	free(cause);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/p.yml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("scrape_configs:\n  - job_name: a\n    scrape_timeout: x\n", f);
	fclose(f);
	assert_null(config_load(path, &cause));
	assert_non_null(strstr(cause, "/p.yml:3:21: scrape_timeout: not a "
	    "valid duration string: \"x\""));
	assert_true(strncmp(cause, dir, strlen(dir)) == 0);
	free(cause);
	f = fopen(path, "w");
	fputs("scrape_configs:\n  - job_name: a\n"
	    "    file_sd_configs: [{files: [t.json]}]\n", f);
	fclose(f);
	cfg = config_load(path, &cause);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	assert_true(strncmp(cfg->scrape[0].file_sd[0].files[0], dir,
	    strlen(dir)) == 0);
	config_free(cfg);
	unlink(path);
	rmdir(dir);
}

static void
test_write(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_scrape_config_files(void **state)
{
	char dir[] = "/tmp/promlet-test-scf.XXXXXX", path[512], want[1024];
	const struct config_scrape *sc;
	struct config *cfg;
	char *cause = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/jobs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	test_write(dir, "jobs/b.yml", "scrape_configs:\n  - job_name: b\n"
	    "    file_sd_configs: [{files: [sd/*.json]}]\n");
	test_write(dir, "jobs/a.yml", "scrape_configs:\n  - job_name: a1\n"
	    "  - job_name: a2\n    scrape_interval: 30s\n");
	test_write(dir, "jobs/empty.yml", "");
	test_write(dir, "p.yml", "global: {scrape_interval: 7s}\n"
	    "scrape_config_files: [jobs/*.yml, none/*.yml]\n"
	    "scrape_configs: [{job_name: main}]\n");
	snprintf(path, sizeof path, "%s/p.yml", dir);
	cfg = config_load(path, &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	/* The config's jobs, then each file's in glob order. */
	assert_int_equal(cfg->nscrape, 4);
	assert_string_equal(cfg->scrape[0].job_name, "main");
	assert_null(cfg->scrape[0].file);
	sc = &cfg->scrape[1];
	assert_string_equal(sc->job_name, "a1");
	snprintf(want, sizeof want, "%s/jobs/a.yml", dir);
	assert_string_equal(sc->file, want);
	assert_int_equal(sc->line, 2);
	/* The global section applies to them too. */
	assert_int_equal(sc->scrape_interval_ms, 7000);
	assert_int_equal(cfg->scrape[2].scrape_interval_ms, 30000);
	/* Paths in a file are relative to that file. */
	sc = &cfg->scrape[3];
	assert_string_equal(sc->job_name, "b");
	snprintf(want, sizeof want, "%s/jobs/sd/*.json", dir);
	assert_string_equal(sc->file_sd[0].files[0], want);
	config_free(cfg);

	/* A name again, in a file: where it was first found. */
	test_write(dir, "jobs/c.yml", "scrape_configs:\n  - job_name: main\n");
	assert_null(config_load(path, &cause));
	snprintf(want, sizeof want, "%s/jobs/c.yml:2:5: job_name: found "
	    "multiple scrape configs with job name \"main\", first found in "
	    "main config file", dir);
	assert_string_equal(cause, want);
	free(cause);
	test_write(dir, "jobs/c.yml", "scrape_configs:\n  - job_name: a2\n");
	assert_null(config_load(path, &cause));
	snprintf(want, sizeof want, "%s/jobs/c.yml:2:5: job_name: found "
	    "multiple scrape configs with job name \"a2\", first found in "
	    "\"%s/jobs/a.yml\"", dir, dir);
	assert_string_equal(cause, want);
	free(cause);
	/* An error in a file names the file, line and column. */
	test_write(dir, "jobs/c.yml", "scrape_configs:\n  - job_name: c\n"
	    "    scrape_timeout: x\n");
	assert_null(config_load(path, &cause));
	snprintf(want, sizeof want, "%s/jobs/c.yml:3:21: scrape_timeout: not "
	    "a valid duration string: \"x\"", dir);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("got %s", cause);
	free(cause);
	/* A file holds scrape_configs only. */
	test_write(dir, "jobs/c.yml", "global: {scrape_interval: 1s}\n");
	assert_null(config_load(path, &cause));
	snprintf(want, sizeof want, "%s/jobs/c.yml:1:1: global: ", dir);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("got %s", cause);
	free(cause);
	snprintf(want, sizeof want, "%s/jobs/c.yml", dir);
	unlink(want);
	/* A match that cannot be read. */
	snprintf(want, sizeof want, "%s/jobs/d.yml", dir);
	assert_int_equal(mkdir(want, 0700), 0);
	assert_null(config_load(path, &cause));
	assert_non_null(strstr(cause, "/jobs/d.yml: cannot read config file: "
	    "is a directory"));
	free(cause);
	rmdir(want);
	/* A FIFO, with no writer: refused, not waited on. */
	assert_int_equal(mkfifo(want, 0600), 0);
	assert_null(config_load(path, &cause));
	assert_non_null(strstr(cause, "/jobs/d.yml: cannot read config file: "
	    "not a regular file"));
	free(cause);
	unlink(want);

	expect_error("scrape_config_files: ['x/*/y.yml']\n", "t.yml:1:23: "
	    "scrape_config_files: invalid scrape config file path "
	    "\"x/*/y.yml\"");
	expect_error("scrape_config_files: x.yml\n", "t.yml:1:22: "
	    "scrape_config_files: expected a list, got a scalar");

	snprintf(want, sizeof want, "%s/jobs/a.yml", dir);
	unlink(want);
	snprintf(want, sizeof want, "%s/jobs/b.yml", dir);
	unlink(want);
	snprintf(want, sizeof want, "%s/jobs/empty.yml", dir);
	unlink(want);
	snprintf(want, sizeof want, "%s/jobs", dir);
	rmdir(want);
	unlink(path);
	rmdir(dir);
}

/*
 * The checksum auto-reload-config compares: the config file's bytes and
 * the names and bytes of what its scrape_config_files patterns match now.
 */
static void
test_files_checksum(void **state)
{
	char dir[] = "/tmp/promlet-test-sum.XXXXXX", path[512], inc[512];
	struct config *cfg;
	char *cause = NULL;
	uint64_t a, b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/p.yml", dir);
	test_write(dir, "p.yml", "scrape_config_files: ['*.inc']\n"
	    "scrape_configs: [{job_name: a}]\n");
	test_write(dir, "1.inc", "scrape_configs: [{job_name: b}]\n");
	cfg = config_load(path, &cause);
	assert_non_null(cfg);
	a = config_files_checksum(cfg, path);
	assert_true(config_files_checksum(cfg, path) == a);
	/* The sum of what was read is the files' sum while they are as read. */
	assert_true(cfg->files_sum == a);
	/* An included file's content, a new match, the file itself. */
	test_write(dir, "1.inc", "scrape_configs: [{job_name: c}]\n");
	b = config_files_checksum(cfg, path);
	assert_true(b != a);
	test_write(dir, "2.inc", "scrape_configs: []\n");
	a = config_files_checksum(cfg, path);
	assert_true(a != b);
	test_write(dir, "p.yml", "scrape_config_files: ['*.inc']\n"
	    "scrape_configs: [{job_name: x}]\n");
	b = config_files_checksum(cfg, path);
	assert_true(b != a);
	/* A file gone counts as a change, and as a state of its own. */
	snprintf(inc, sizeof inc, "%s/2.inc", dir);
	unlink(inc);
	a = config_files_checksum(cfg, path);
	assert_true(a != b);
	unlink(path);
	b = config_files_checksum(cfg, path);
	assert_true(b != a && config_files_checksum(cfg, path) == b);
	config_free(cfg);

	/* Each load's sum is of its own files: no include, then two. */
	test_write(dir, "p.yml", "scrape_configs: [{job_name: a}]\n");
	cfg = config_load(path, &cause);
	assert_non_null(cfg);
	assert_true(cfg->files_sum == config_files_checksum(cfg, path));
	assert_true(cfg->files_sum == config_files_checksum(NULL, path));
	config_free(cfg);
	test_write(dir, "p.yml",
	    "scrape_config_files: ['1.inc', 'none*.inc']\n");
	cfg = config_load(path, &cause);
	assert_non_null(cfg);
	assert_int_equal(cfg->nscrape, 1);
	a = config_files_checksum(cfg, path);
	assert_true(cfg->files_sum == a);
	test_write(dir, "1.inc", "scrape_configs: [{job_name: d}]\n");
	assert_true(cfg->files_sum != config_files_checksum(cfg, path));
	config_free(cfg);
	cfg = config_load_string(path, "scrape_configs: []\n", 19, &cause);
	assert_non_null(cfg);
	assert_true(cfg->files_sum == 0);
	config_free(cfg);

	unlink(path);
	snprintf(inc, sizeof inc, "%s/1.inc", dir);
	unlink(inc);
	rmdir(dir);
}

/* 10k jobs load, and a duplicate among them is found by name. */
static void
test_many_jobs(void **state)
{
	struct buf b = BUF_INIT;
	struct config *cfg;
	struct timespec t0, t1;
	double secs;
	char *cause;
	int i;

	(void)state;
	buf_puts(&b, "scrape_configs:\n");
	for (i = 0; i < 10000; i++)
		buf_printf(&b, "  - job_name: job%d\n"
		    "    static_configs: [{targets: ['h%d:9100']}]\n"
		    "    relabel_configs: [{target_label: x, "
		    "replacement: y}]\n",
		    i, i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg = config_load_string("big.yml", b.data, b.len, &cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(cfg);
	assert_int_equal(cfg->nscrape, 10000);
	config_free(cfg);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Reported, not asserted: make check holds no timed assertion. */
	print_message("10000 jobs loaded in %.3f s\n", secs);

	buf_puts(&b, "  - job_name: job9999\n");
	cfg = config_load_string("big.yml", b.data, b.len, &cause);
	assert_null(cfg);
	assert_string_equal(cause, "big.yml:30002:5: job_name: found multiple "
	    "scrape configs with job name \"job9999\"");
	free(cause);
	buf_free(&b);
}

/* http_headers, in the shape Prometheus's own conf.good.yml has. */
static void
test_http_headers(void **state)
{
	static const char *yaml =
	    "scrape_configs:\n"
	    "  - job_name: a\n"
	    "    http_headers:\n"
	    "      x-api-KEY:\n"
	    "        values: [v1, \"v 2\"]\n"
	    "        secrets: [S3CRET]\n"
	    "        files: [key.txt, /abs/key]\n"
	    "      X-Nothing:\n"
	    "    kubernetes_sd_configs:\n"
	    "      - role: pod\n"
	    "        api_server: https://k:6443\n"
	    "        http_headers: {X-Sd: {values: [k]}}\n"
	    "remote_write:\n"
	    "  - url: http://r/w\n"
	    "    http_headers: {x-scope-orgid: {values: [tenant-1]}}\n";
	const struct config_header *e;
	struct config *cfg, *cfg2;
	struct buf b = BUF_INIT;
	char *cause, *other;

	(void)state;
	cfg = config_load_string("/etc/p/t.yml", yaml, strlen(yaml), &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	assert_int_equal(cfg->scrape[0].http.nheaders, 2);
	e = &cfg->scrape[0].http.headers[0];
	/* Go canonicalizes the name it sends. */
	assert_string_equal(e->name, "X-Api-Key");
	assert_int_equal(e->nvalues, 2);
	assert_string_equal(e->values[1], "v 2");
	assert_int_equal(e->nsecrets, 1);
	assert_string_equal(e->secrets[0], "S3CRET");
	assert_int_equal(e->nfiles, 2);
	assert_string_equal(e->files[0], "/etc/p/key.txt");
	assert_string_equal(e->files[1], "/abs/key");
	e = &cfg->scrape[0].http.headers[1];
	assert_string_equal(e->name, "X-Nothing");
	assert_int_equal(e->nvalues + e->nsecrets + e->nfiles, 0);
	assert_int_equal(cfg->scrape[0].k8s_sd[0].http.nheaders, 1);
	assert_string_equal(cfg->remote_write[0].http.headers[0].name,
	    "X-Scope-Orgid");

	/* The dump hides the secret and reads back the same. */
	config_dump(cfg, &b);
	assert_null(strstr(b.data, "S3CRET"));
	assert_non_null(strstr(b.data, "- \"<secret>\""));
	assert_non_null(strstr(b.data, "- \"/etc/p/key.txt\""));
	cfg2 = load_ok(b.data);
	assert_int_equal(cfg2->scrape[0].http.headers[0].nsecrets, 1);
	assert_int_equal(cfg2->scrape[0].http.headers[0].nvalues, 2);
	config_free(cfg2);

	/* A changed secret or value is a changed job. */
	other = strdup(yaml);
	memcpy(strstr(other, "S3CRET"), "S3CREX", 6);
	cfg2 = load_ok(other);
	assert_true(config_scrape_hash(&cfg2->scrape[0]) !=
	    config_scrape_hash(&cfg->scrape[0]));
	config_free(cfg2);
	memcpy(strstr(other, "tenant-1"), "tenant-2", 8);
	cfg2 = load_ok(other);
	assert_true(config_remote_write_hash(&cfg2->remote_write[0]) !=
	    config_remote_write_hash(&cfg->remote_write[0]));
	config_free(cfg2);
	free(other);
	buf_free(&b);
	config_free(cfg);

	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "{authorization: {values: [x]}}}]\n", "t.yml:1:47: http_headers: "
	    "setting header \"Authorization\" is not allowed");
	expect_error("remote_write: [{url: 'http://r/', http_headers: "
	    "{X-PROMETHEUS-REMOTE-WRITE-VERSION: {values: ['2.0']}}}]\n",
	    "t.yml:1:50: http_headers: setting header "
	    "\"X-Prometheus-Remote-Write-Version\" is not allowed");
	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "{x-prometheus-scrape-timeout-seconds: {values: ['1']}}}]\n",
	    "t.yml:1:47: http_headers: setting header "
	    "\"X-Prometheus-Scrape-Timeout-Seconds\" is not allowed");
	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "{'a b': {values: [x]}}}]\n", "t.yml:1:47: http_headers: "
	    "invalid header name \"a b\"");
	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "{X-A: {values: [\"x\\r\\nHost: evil\"]}}}]\n",
	    "t.yml:1:62: values: header X-A: a value holds a control "
	    "character");
	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "{X-A: {value: [x]}}}]\n", "t.yml:1:53: value: unknown key in "
	    "X-A (did you mean values?)");
	expect_error("scrape_configs: [{job_name: a, http_headers: "
	    "[x]}]\n", "t.yml:1:46: http_headers: expected a mapping, got "
	    "a sequence");
}

/* A fresh P-256 key and its self-signed certificate, as PEM. */
static void
test_pem_pair(char **cert, char **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *bio;
	char *data;
	long n;

	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"promlet-test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	n = BIO_get_mem_data(bio, &data);
	*cert = strndup(data, (size_t)n);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &data);
	*key = strndup(data, (size_t)n);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* "key: |" at indent, and the PEM's lines two further in. */
static void
test_put_block(struct buf *b, int indent, const char *key, const char *pem)
{
	const char *p, *nl;

	buf_printf(b, "%*s%s: |\n", indent, "", key);
	for (p = pem; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		buf_printf(b, "%*s%.*s\n", indent + 2, "", (int)(nl - p), p);
	}
}

/*
 * Inline tls_config ca, cert and key: kept as written, the key a secret
 * (hidden in the dump, counted in the hash, copied to an oauth2 token
 * request's settings), and checked at load as Go's client checks them.
 */
static void
test_tls_inline(void **state)
{
	struct buf y = BUF_INIT, d = BUF_INIT;
	struct config *cfg, *cfg2;
	char *c1, *k1, *c2, *k2;
	const struct config_tls *t;

	(void)state;
	test_pem_pair(&c1, &k1);
	test_pem_pair(&c2, &k2);
	buf_puts(&y, "scrape_configs:\n  - job_name: a\n    tls_config:\n");
	test_put_block(&y, 6, "ca", c2);
	test_put_block(&y, 6, "cert", c1);
	test_put_block(&y, 6, "key", k1);
	buf_puts(&y, "    oauth2:\n      client_id: i\n      token_url: "
	    "https://t/\n      tls_config:\n");
	test_put_block(&y, 8, "ca", c1);
	buf_putc(&y, '\0');
	cfg = load_ok(y.data);
	t = &cfg->scrape[0].http.tls;
	assert_string_equal(t->ca, c2);
	assert_string_equal(t->cert, c1);
	assert_string_equal(t->key, k1);
	assert_null(t->ca_file);
	assert_string_equal(cfg->scrape[0].http.oauth2->http.tls.ca, c1);

	config_dump(cfg, &d);
	buf_putc(&d, '\0');
	assert_null(strstr(d.data, "PRIVATE KEY"));
	assert_non_null(strstr(d.data, "key: \"<secret>\""));
	assert_non_null(strstr(d.data, "-----BEGIN CERTIFICATE-----\\n"));

	/* Another key (and so another cert) is another job. */
	buf_reset(&y);
	buf_puts(&y, "scrape_configs:\n  - job_name: a\n    tls_config:\n");
	test_put_block(&y, 6, "ca", c2);
	test_put_block(&y, 6, "cert", c2);
	test_put_block(&y, 6, "key", k2);
	buf_putc(&y, '\0');
	cfg2 = load_ok(y.data);
	assert_true(config_scrape_hash(&cfg2->scrape[0]) !=
	    config_scrape_hash(&cfg->scrape[0]));
	config_free(cfg2);
	config_free(cfg);

	/* A key that is not the certificate's. */
	buf_reset(&y);
	buf_puts(&y, "scrape_configs:\n  - job_name: a\n    tls_config:\n");
	test_put_block(&y, 6, "cert", c1);
	test_put_block(&y, 6, "key", k2);
	buf_putc(&y, '\0');
	expect_error(y.data, "t.yml:3:5: tls_config: tls: private key does "
	    "not match public key");
	/* PEM of the wrong kind, and a broken key. */
	buf_reset(&y);
	buf_puts(&y, "scrape_configs:\n  - job_name: a\n    tls_config:\n");
	test_put_block(&y, 6, "ca", k1);
	buf_putc(&y, '\0');
	expect_error(y.data, "t.yml:3:5: tls_config: unable to use inline CA "
	    "cert");
	expect_error("scrape_configs:\n  - job_name: a\n    tls_config:\n"
	    "      cert_file: c.pem\n      key: |\n"
	    "        -----BEGIN PRIVATE KEY-----\n        AAAA\n"
	    "        -----END PRIVATE KEY-----\n", "t.yml:3:5: tls_config: "
	    "tls: failed to parse private key");

	buf_free(&y);
	buf_free(&d);
	free(c1);
	free(k1);
	free(c2);
	free(k2);
}

/* basic_auth username_file: a path made absolute, in the dump. */
static void
test_username_file(void **state)
{
	static const char *yaml = "scrape_configs: [{job_name: a, "
	    "basic_auth: {username_file: u.txt, password_file: p.txt}}]\n";
	struct config *cfg;
	struct buf d = BUF_INIT;
	char *cause;

	(void)state;
	cfg = config_load_string("/etc/p/t.yml", yaml, strlen(yaml), &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	assert_string_equal(cfg->scrape[0].http.basic_auth_username_file,
	    "/etc/p/u.txt");
	assert_string_equal(cfg->scrape[0].http.basic_auth_username, "");
	config_dump(cfg, &d);
	buf_putc(&d, '\0');
	assert_non_null(strstr(d.data, "username_file: \"/etc/p/u.txt\""));
	buf_free(&d);
	config_free(cfg);
}

/* proxy_connect_header: a pair per value, secrets hidden, needs a proxy. */
static void
test_proxy_connect_header(void **state)
{
	static const char *yaml =
	    "scrape_configs:\n"
	    "  - job_name: a\n"
	    "    proxy_url: http://p:3128\n"
	    "    proxy_connect_header: {X-Token: [T0K3N, two], x-b: [b]}\n"
	    "    oauth2:\n"
	    "      client_id: c\n"
	    "      token_url: https://t/token\n"
	    "      proxy_from_environment: true\n"
	    "      proxy_connect_header: {X-O: [OAUTH-PX]}\n";
	const struct config_kvs *kvs;
	struct config *cfg, *cfg2;
	struct config_oauth2 *dup;
	struct buf b = BUF_INIT;

	(void)state;
	cfg = load_ok(yaml);
	kvs = &cfg->scrape[0].http.proxy_connect_header;
	assert_int_equal(kvs->n, 3);
	assert_string_equal(kvs->v[0].name, "X-Token");
	assert_string_equal(kvs->v[0].value, "T0K3N");
	assert_string_equal(kvs->v[1].name, "X-Token");
	assert_string_equal(kvs->v[1].value, "two");
	/* Written as it is, as Go writes the map. */
	assert_string_equal(kvs->v[2].name, "x-b");
	assert_int_equal(cfg->scrape[0].http.oauth2->http.proxy_connect_header.n,
	    1);
	/* The token source's copy keeps it. */
	dup = config_oauth2_dup(cfg->scrape[0].http.oauth2);
	assert_string_equal(dup->http.proxy_connect_header.v[0].value,
	    "OAUTH-PX");
	config_oauth2_free(dup);
	config_dump(cfg, &b);
	assert_null(strstr(b.data, "T0K3N"));
	assert_null(strstr(b.data, "OAUTH-PX"));
	cfg2 = load_ok(b.data);
	assert_int_equal(cfg2->scrape[0].http.proxy_connect_header.n, 3);
	config_free(cfg2);
	buf_free(&b);
	config_free(cfg);

	expect_error("scrape_configs: [{job_name: a, proxy_connect_header: "
	    "{X-A: [x]}}]\n", "t.yml:1:32: proxy_connect_header: if "
	    "proxy_connect_header is configured, proxy_url or "
	    "proxy_from_environment must also be configured");
	expect_error("scrape_configs: [{job_name: a, proxy_url: 'http://p:1', "
	    "proxy_connect_header: {'a b': [x]}}]\n", "t.yml:1:80: "
	    "proxy_connect_header: invalid header name \"a b\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_timeouts_and_global_defaults),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_azuread),
		cmocka_unit_test(test_kubernetes_sd),
		cmocka_unit_test(test_http_sd),
		cmocka_unit_test(test_file_sd_and_paths),
		cmocka_unit_test(test_http_mapping),
		cmocka_unit_test(test_remote_write_options),
		cmocka_unit_test(test_accepted_prometheus_keys),
		cmocka_unit_test(test_secrets_redacted),
		cmocka_unit_test(test_http_headers),
		cmocka_unit_test(test_proxy_connect_header),
		cmocka_unit_test(test_tls_inline),
		cmocka_unit_test(test_username_file),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_dump_roundtrip),
		cmocka_unit_test(test_yaml_features),
		cmocka_unit_test(test_yaml_tree),
		cmocka_unit_test(test_yaml_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_scrape_config_files),
		cmocka_unit_test(test_files_checksum),
		cmocka_unit_test(test_many_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
