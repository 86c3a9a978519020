/*
 * flags.c: promlet's flags, and Prometheus agents' command lines (2.x
 * with --enable-feature=agent, 3.x with --agent) with each kind of
 * Prometheus flag: used, no effect (noted), server-only (exit 3 with
 * Prometheus's message), refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

/* promlet ARG... (up to NULL) */
static enum flags_result
vparse(struct flags *f, char **cause, va_list ap)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = "promlet";
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	argv[argc] = NULL;
	return flags_parse(argc, argv, f, cause);
}

static enum flags_result
parse(struct flags *f, char **cause, ...)
{
	enum flags_result r;
	va_list ap;

	va_start(ap, cause);
	r = vparse(f, cause, ap);
	va_end(ap);
	return r;
}

static void
test_defaults(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, NULL), FLAGS_RUN);
	assert_string_equal(f.config_file, "promlet.yml");
	assert_string_equal(f.storage_path, "data-agent/");
	assert_string_equal(f.listen_address, "0.0.0.0:9099");
	assert_int_equal(f.lifecycle, 0);
	assert_true(f.wal_max_bytes == 1024ULL * 1024 * 1024);
	assert_true(f.wal_max_age_ms == 0);
	assert_true(f.flush_deadline_ms == 60000);
	assert_true(f.scrape_max_body == 512ULL * 1024 * 1024);
	assert_int_equal(f.http_native, 1);
	assert_string_equal(f.route_prefix, "");
	assert_int_equal(f.nnotes, 0);
	assert_null(cause);
	flags_free(&f);
}

/* A Prometheus 2 agent's systemd arguments, both value forms. */
static void
test_prometheus2_agent(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "--enable-feature=agent",
	    "--config.file=/etc/prometheus/prometheus.yml",
	    "--storage.agent.path", "/var/lib/prometheus/agent",
	    "--web.listen-address=:9090",
	    "--storage.agent.retention.max-time=4h", "--web.enable-lifecycle",
	    "--storage.remote.flush-deadline", "30s", "--log.level=debug",
	    "--log.format=json", NULL), FLAGS_RUN);
	assert_string_equal(f.config_file, "/etc/prometheus/prometheus.yml");
	assert_string_equal(f.storage_path, "/var/lib/prometheus/agent");
	assert_string_equal(f.listen_address, ":9090");
	assert_true(f.wal_max_age_ms == 4 * 3600 * 1000);
	assert_int_equal(f.lifecycle, 1);
	assert_true(f.flush_deadline_ms == 30000);
	assert_string_equal(f.log_level, "debug");
	assert_string_equal(f.log_format, "json");
	assert_int_equal(f.nnotes, 0);
	flags_free(&f);
}

/* Prometheus 3: --agent; switches as --no-x and --x=false. */
static void
test_prometheus3_agent(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "--agent", "--web.enable-lifecycle",
	    "--no-web.enable-lifecycle", NULL), FLAGS_RUN);
	assert_int_equal(f.lifecycle, 0);
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--web.enable-lifecycle=true",
	    "--agent=false", "--scrape.http-client", "curl", NULL),
	    FLAGS_RUN);
	assert_int_equal(f.lifecycle, 1);
	assert_int_equal(f.http_native, 0);
	flags_free(&f);
	/* Given twice, the last wins (the unit file, then /etc/default). */
	assert_int_equal(parse(&f, &cause, "--web.listen-address=:1",
	    "--web.listen-address", ":2", NULL), FLAGS_RUN);
	assert_string_equal(f.listen_address, ":2");
	flags_free(&f);
}

static const struct flags_note *
note(const struct flags *f, const char *what)
{
	size_t i;

	for (i = 0; i < f->nnotes; i++)
		if (strcmp(f->notes[i].what, what) == 0)
			return &f->notes[i];
	fail_msg("no note for %s", what);
	return NULL;
}

/* Flags and features with no effect are noted with their reason. */
static void
test_notes(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "--web.page-title=x",
	    "--no-storage.agent.wal-compression", "--web.read-timeout", "5m",
	    "--auto-gomemlimit.ratio=0.9",
	    "--storage.agent.retention.min-time=1h",
	    "--enable-feature=native-histograms, foo",
	    "--enable-feature", "agent,expand-external-labels", NULL),
	    FLAGS_RUN);
	assert_int_equal(f.nnotes, 8);
	assert_string_equal(note(&f, "--web.page-title")->why,
	    "promlet has no web UI");
	assert_int_equal(note(&f, "--web.page-title")->warn, 0);
	assert_non_null(note(&f, "--storage.agent.wal-compression"));
	assert_non_null(note(&f, "--web.read-timeout"));
	assert_non_null(note(&f, "--auto-gomemlimit.ratio"));
	assert_string_equal(note(&f,
	    "--storage.agent.retention.min-time")->why, "promlet removes WAL "
	    "data once every remote_write has sent it");
	assert_int_equal(note(&f, "--enable-feature=native-histograms")->warn,
	    1);
	assert_string_equal(note(&f, "--enable-feature=foo")->why,
	    "unknown option for --enable-feature");
	assert_int_equal(note(&f, "--enable-feature=foo")->warn, 1);
	assert_int_equal(note(&f,
	    "--enable-feature=expand-external-labels")->warn, 0);
	flags_free(&f);
}

/* What Prometheus refuses in agent mode: its message, every flag. */
static void
test_server_only(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "--agent",
	    "--storage.tsdb.path=/prometheus", "--query.timeout", "2m",
	    "--storage.tsdb.no-lockfile", "--config.file=x", NULL),
	    FLAGS_SERVER_ONLY);
	assert_string_equal(cause, "The following flag(s) can not be used in "
	    "agent mode: [\"--storage.tsdb.path\" \"--query.timeout\" "
	    "\"--storage.tsdb.no-lockfile\"]");
	free(cause);
	flags_free(&f);
}

static void
expect_error(const char *want, ...)
{
	struct flags f;
	enum flags_result r;
	char *cause;
	va_list ap;

	va_start(ap, want);
	r = vparse(&f, &cause, ap);
	va_end(ap);
	assert_int_equal(r, FLAGS_ERROR);
	assert_string_equal(cause, want);
	free(cause);
	flags_free(&f);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("unknown flag --no-such-flag", "--no-such-flag", NULL);
	expect_error("unknown flag --no-config.file", "--no-config.file",
	    NULL);
	expect_error("unknown flag --no-web.enable-lifecycle",
	    "--no-web.enable-lifecycle=true", NULL);
	expect_error("unexpected argument \"x.yml\"", "x.yml", NULL);
	expect_error("--config.file needs a value", "--config.file", NULL);
	expect_error("--web.read-timeout: bad value \"soon\"",
	    "--web.read-timeout=soon", NULL);
	expect_error("--storage.agent.max-bytes: bad value \"1XB\"",
	    "--storage.agent.max-bytes=1XB", NULL);
	expect_error("--web.enable-lifecycle: bad value \"yes\"",
	    "--web.enable-lifecycle=yes", NULL);
	expect_error("--scrape.http-client: \"fast\" is neither builtin nor "
	    "curl", "--scrape.http-client=fast", NULL);
	expect_error("--web.config.file: not supported by promlet: its "
	    "endpoints have no TLS or authentication; listen on 127.0.0.1 or "
	    "put a TLS proxy in front", "--web.config.file=/etc/web.yml",
	    NULL);
	expect_error("--web.enable-remote-write-receiver: not supported by "
	    "promlet: it receives no writes",
	    "--web.enable-remote-write-receiver", NULL);
	expect_error("--enable-feature=remote-write-receiver: not supported "
	    "by promlet: it receives no writes",
	    "--enable-feature=agent,remote-write-receiver", NULL);
}

/* Refused settings at their harmless values are fine. */
static void
test_refused_when_off(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "--web.config.file=",
	    "--no-web.enable-remote-write-receiver",
	    "--web.enable-otlp-receiver=false", NULL), FLAGS_RUN);
	flags_free(&f);
}

static void
test_route_prefix(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause,
	    "--web.external-url=https://h.example:9090/agent/x/?q=1", NULL),
	    FLAGS_RUN);
	assert_string_equal(f.route_prefix, "/agent/x");
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--web.route-prefix=/r/",
	    "--web.external-url=http://h/agent", NULL), FLAGS_RUN);
	assert_string_equal(f.route_prefix, "/r");
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--web.route-prefix", "/", NULL),
	    FLAGS_RUN);
	assert_string_equal(f.route_prefix, "");
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--web.external-url=http://h:1",
	    NULL), FLAGS_RUN);
	assert_string_equal(f.route_prefix, "");
	flags_free(&f);
}

static void
test_help_version(void **state)
{
	struct flags f;
	char *cause;

	(void)state;
	assert_int_equal(parse(&f, &cause, "-h", NULL), FLAGS_HELP);
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--help-long", NULL), FLAGS_HELP);
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--version", "--help", NULL),
	    FLAGS_HELP);
	flags_free(&f);
	assert_int_equal(parse(&f, &cause, "--version", NULL), FLAGS_VERSION);
	flags_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_prometheus2_agent),
		cmocka_unit_test(test_prometheus3_agent),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_server_only),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_refused_when_off),
		cmocka_unit_test(test_route_prefix),
		cmocka_unit_test(test_help_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
