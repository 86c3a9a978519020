/*
 * Prometheus's own config test files against config_load().
 *
 * ../shared/conformance/prometheus_config/config_cases.json marks each
 * file of Prometheus's config/testdata as valid or invalid, with a
 * substring of the expected error, and "relevance": "subset" for the
 * files that stay within what promlet implements. Those must behave as
 * in Prometheus: good files load, bad files fail with the same message
 * (promlet prefixes "file:line:col: key: "), except the cases listed in
 * config_conf_differences below, each with its reason. The
 * kubernetes_sd_configs, http_sd_configs and scrape_config_files cases
 * are outside that subset but promlet implements them, so they are held
 * to the same standard. Every
 * other file must only load or fail without crashing or leaking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define CONF_DIR	TOP_SRCDIR "/../shared/conformance/prometheus_config"

/*
 * Where promlet deliberately differs. want: what promlet says instead
 * (a substring), or NULL when the file loads in promlet.
 */
static const struct {
	const char	*file;
	const char	*want;
	const char	*why;
} config_conf_differences[] = {
	{ "testdata/remote_write_retry_on_rate_limit.good.yml",
	    "url: invalid URL \"localhost:9090\": expected http:// or "
	    "https:// and a host",
	    "Prometheus accepts any URL and fails when sending; promlet "
	    "rejects a remote_write url that is not http(s) at load" },
	{ "testdata/section_key_dup.bad.yml",
	    "scrape_configs: duplicate key (already set at line 1)",
	    "Go's yaml.v2 wording names its internal type (config.plain)" },
	{ "testdata/unknown_global_attr.bad.yml",
	    "nonexistent_field: unknown key in global",
	    "Go's yaml.v2 wording names its internal type (config.plain)" },
	{ "testdata/scrape_config_files_fallback_scrape_protocol2.bad.yml",
	    "fallback_scrape_protocol: expected a value, got a sequence",
	    "yaml.v2 says \"unmarshal errors\"; promlet names the key and "
	    "what it got" },
	/* Outside the subset, but in a feature promlet has. */
	{ "testdata/kubernetes_namespace_discovery.bad.yml",
	    "foo: unknown key in namespaces",
	    "Go's yaml.v2 wording names its internal type (kubernetes.plain)" },
	{ "testdata/kubernetes_kubeconfig_without_apiserver.good.yml",
	    "kubeconfig_file: not supported by promlet",
	    "promlet has no kubeconfig support: in-cluster or api_server" },
	{ "testdata/scrape_config_files_glob.good.yml",
	    "scrape_config_files2.good.yml:7:5: vultr_sd_configs: not "
	    "supported by promlet",
	    "a file it includes uses vultr_sd_configs, a discovery promlet "
	    "does not have" },
	{ "testdata/kubernetes_selectors_ingress.good.yml",
	    "role ingress is not supported by promlet",
	    "promlet discovers pods, nodes, endpoints(lices) and services, "
	    "not ingresses" },
};

static const char *
conf_difference(const char *file, const char **why)
{
	size_t i;

	for (i = 0; i < sizeof config_conf_differences /
	    sizeof config_conf_differences[0]; i++) {
		if (strcmp(config_conf_differences[i].file, file) == 0) {
			*why = config_conf_differences[i].why;
			return config_conf_differences[i].want;
		}
	}
	*why = NULL;
	return NULL;
}

/*
 * Prometheus wraps some errors in "parsing YAML file <file>: "; promlet
 * starts every error with "<file>:line:col: key: ", so compare after it.
 */
static const char *
conf_strip_prefix(const char *want)
{
	static const char prefix[] = "parsing YAML file ";
	const char *p;

	if (strncmp(want, prefix, sizeof prefix - 1) != 0)
		return want;
	if ((p = strstr(want + sizeof prefix - 1, ".yml: ")) == NULL)
		return want;
	return p + 6;
}

static json_t *
conf_cases(void)
{
	json_error_t err;
	json_t *root;

	root = json_load_file(CONF_DIR "/config_cases.json", 0, &err);
	if (root == NULL)
		fail_msg("config_cases.json: %s", err.text);
	return root;
}

static int
conf_held(const char *relevance)
{
	return strcmp(relevance, "subset") == 0 ||
	    strstr(relevance, "kubernetes_sd_configs") != NULL ||
	    strstr(relevance, "http_sd_configs") != NULL ||
	    strstr(relevance, "extra_scrape_metrics") != NULL ||
	    strcmp(relevance, "outside-subset (top-level: "
	    "scrape_config_files)") == 0;
}

static void
test_conformance_cases(void **state)
{
	json_t *root, *cases, *c, *valid, *contains;
	const char *file, *relevance, *want, *why, *expect;
	struct config *cfg;
	char path[1024], *cause;
	size_t i, checked = 0, differ = 0, subset = 0;
	int failures = 0;

	(void)state;
	if (access(CONF_DIR "/config_cases.json", R_OK) != 0)
		skip();
	/* external_labels.good.yml: Prometheus's test sets TEST. */
	setenv("TEST", "testvalue", 1);
	root = conf_cases();
	cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases));
	json_array_foreach(cases, i, c) {
		file = json_string_value(json_object_get(c, "file"));
		relevance = json_string_value(json_object_get(c, "relevance"));
		valid = json_object_get(c, "valid");
		contains = json_object_get(c, "error_contains");
		assert_non_null(file);
		assert_non_null(relevance);
		snprintf(path, sizeof path, "%s/%s", CONF_DIR, file);
		cause = NULL;
		cfg = config_load(path, &cause);
		if (!conf_held(relevance) || json_is_null(valid) ||
		    valid == NULL) {
			/* Only must not crash or leak. */
			config_free(cfg);
			free(cause);
			continue;
		}
		checked++;
		if (strcmp(relevance, "subset") == 0)
			subset++;
		want = conf_difference(file, &why);
		if (why != NULL) {
			differ++;
			expect = want;
		} else if (json_is_true(valid))
			expect = NULL;
		else
			expect = conf_strip_prefix(json_string_value(contains));
		if (expect == NULL && cfg == NULL) {
			print_error("%s: should load: %s\n", file, cause);
			failures++;
		} else if (expect != NULL && cfg != NULL) {
			print_error("%s: loaded, want error \"%s\"\n", file,
			    expect);
			failures++;
		} else if (expect != NULL && strstr(cause, expect) == NULL) {
			print_error("%s:\n  got  %s\n  want ...%s...\n", file,
			    cause, expect);
			failures++;
		}
		config_free(cfg);
		free(cause);
	}
	json_decref(root);
	print_message("%zu cases checked (%zu in the subset), %zu with a "
	    "documented difference\n", checked, subset, differ);
	assert_int_equal(failures, 0);
	/* The corpus has 73 subset cases with a verdict; guard the walk. */
	assert_true(subset >= 70);
}

/* Prometheus's TestExpandExternalLabels, with the same file. */
static void
test_conformance_external_labels(void **state)
{
	const struct config_kvs *el;
	struct config *cfg;
	char *cause = NULL;

	(void)state;
	if (access(CONF_DIR "/testdata/external_labels.good.yml", R_OK) != 0)
		skip();
	setenv("TEST", "testvalue", 1);
	cfg = config_load(CONF_DIR "/testdata/external_labels.good.yml",
	    &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	el = &cfg->external_labels;
	assert_int_equal(el->n, 5);
	assert_string_equal(el->v[0].name, "bar");
	assert_string_equal(el->v[0].value, "foo");
	assert_string_equal(el->v[1].name, "baz");
	assert_string_equal(el->v[1].value, "footestvaluebar");
	assert_string_equal(el->v[2].name, "foo");
	assert_string_equal(el->v[2].value, "testvalue");
	assert_string_equal(el->v[3].name, "qux");
	assert_string_equal(el->v[3].value, "foo${TEST}");
	assert_string_equal(el->v[4].name, "xyz");
	assert_string_equal(el->v[4].value, "foo$bar");
	config_free(cfg);

	/* Prometheus expands an unset variable to ""; promlet refuses. */
	unsetenv("TEST");
	assert_null(config_load(CONF_DIR "/testdata/external_labels.good.yml",
	    &cause));
	assert_non_null(strstr(cause, ":4:10: foo: environment variable TEST "
	    "is not set"));
	free(cause);
}

/*
 * The scrape_config_files cases the index leaves without a verdict:
 * Prometheus finds their errors when it reads the files (its
 * TestGetScrapeConfigs), promlet when it loads the config.
 */
static void
test_conformance_scrape_config_files(void **state)
{
	static const struct {
		const char	*file;
		const char	*want;
	} cases[] = {
		{ "scrape_config_files_double_import.bad.yml",
		    "found multiple scrape configs with job name \"prometheus\", "
		    "first found in \"" },
		{ "scrape_config_files_duplicate.bad.yml",
		    "found multiple scrape configs with job name \"prometheus\", "
		    "first found in main config file" },
		{ "scrape_config_files_global_duplicate.bad.yml",
		    "found multiple scrape configs with job name \"prometheus\", "
		    "first found in main config file" },
		{ "scrape_config_files_global.bad.yml",
		    "scrape timeout greater than scrape interval for scrape "
		    "config with job name \"prometheus\"" },
	};
	char path[1024], *cause;
	size_t i;

	(void)state;
	if (access(CONF_DIR "/testdata", R_OK) != 0)
		skip();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(path, sizeof path, "%s/testdata/%s", CONF_DIR,
		    cases[i].file);
		cause = NULL;
		assert_null(config_load(path, &cause));
		if (strstr(cause, cases[i].want) == NULL)
			fail_msg("%s:\n  got  %s\n  want ...%s...",
			    cases[i].file, cause, cases[i].want);
		free(cause);
	}
}

/* Every file in testdata, indexed or not, loads or fails cleanly. */
static void
test_conformance_no_crash(void **state)
{
	static const char *extra[] = {
		"testdata/scrape_configs/scrape_config_files1.good.yml",
		"testdata/scrape_configs/scrape_config_files2.good.yml",
		"testdata/first.rules",
	};
	struct config *cfg;
	char path[1024], *cause = NULL;
	size_t i;

	(void)state;
	if (access(CONF_DIR, R_OK) != 0)
		skip();
	for (i = 0; i < sizeof extra / sizeof extra[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", CONF_DIR, extra[i]);
		cause = NULL;
		cfg = config_load(path, &cause);
		config_free(cfg);
		free(cause);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance_cases),
		cmocka_unit_test(test_conformance_external_labels),
		cmocka_unit_test(test_conformance_scrape_config_files),
		cmocka_unit_test(test_conformance_no_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
