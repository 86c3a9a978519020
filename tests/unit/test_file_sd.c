/*
 * file_sd target files: JSON and YAML parsing and their errors; the
 * strict JSON form and the labelling that http_sd shares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "file_sd.h"
#include "labels.h"
#include "scrape.h"

static const char *
group_label(const struct target_group *g, const char *name)
{
	const struct lstr *v = labels_get(&g->labels,
	    (struct lstr){ name, strlen(name) });

	return v == NULL ? NULL : v->p;
}

static void
test_json_groups(void **state)
{
	const char *doc = "[{\"targets\":[\"a:1\",\"b:2\"],"
	    "\"labels\":{\"env\":\"prod\"}},{\"targets\":[\"c:3\"]}]";
	struct target_group *g;
	size_t n;
	char *cause = NULL;

	(void)state;
	assert_int_equal(file_sd_parse("/x/t.json", doc, strlen(doc), &g, &n,
	    &cause), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[0].ntargets, 2);
	assert_string_equal(g[0].targets[1], "b:2");
	assert_string_equal(group_label(&g[0], "env"), "prod");
	assert_string_equal(group_label(&g[1], "__meta_filepath"),
	    "/x/t.json");
	assert_null(group_label(&g[1], "env"));
	file_sd_groups_free(g, n);
}

static void
test_yaml_groups(void **state)
{
	const char *doc = "- targets: ['h:9100']\n  labels:\n    dc: west\n";
	struct target_group *g;
	size_t n;
	char *cause = NULL;

	(void)state;
	assert_int_equal(file_sd_parse("t.yml", doc, strlen(doc), &g, &n,
	    &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(g[0].targets[0], "h:9100");
	assert_string_equal(group_label(&g[0], "dc"), "west");
	file_sd_groups_free(g, n);
}

static void
test_json_strict_and_label(void **state)
{
	const char *doc = "[{\"targets\":[\"a:1\"],\"labels\":{\"env\":\"p\"}},"
	    "{\"targets\":[],\"labels\":null},{}]";
	struct target_group *g;
	size_t n;
	char *cause = NULL;

	(void)state;
	assert_int_equal(file_sd_parse_json("response", doc, strlen(doc), &g,
	    &n, &cause), 0);
	assert_int_equal(n, 3);
	file_sd_groups_label(g, n, "__meta_url", "http://sd/t");
	assert_string_equal(group_label(&g[0], "env"), "p");
	assert_string_equal(group_label(&g[0], "__meta_url"), "http://sd/t");
	assert_string_equal(group_label(&g[2], "__meta_url"), "http://sd/t");
	assert_int_equal(g[1].ntargets, 0);
	file_sd_groups_free(g, n);

	/* What Prometheus's strict decoding refuses, named. */
	assert_int_equal(file_sd_parse_json("response", "[null]", 6, &g, &n,
	    &cause), -1);
	assert_string_equal(cause, "response: group 0 is not an object");
	free(cause);
	assert_int_equal(file_sd_parse_json("response",
	    "[{\"target\":[]}]", 15, &g, &n, &cause), -1);
	assert_string_equal(cause, "response: group 0: unknown key "
	    "\"target\"");
	free(cause);
	assert_int_equal(file_sd_parse_json("response", "{}", 2, &g, &n,
	    &cause), -1);
	assert_string_equal(cause, "response: expected a list of target "
	    "groups");
	free(cause);
	assert_int_equal(file_sd_parse_json("response", "[{", 2, &g, &n,
	    &cause), -1);
	assert_non_null(strstr(cause, "response:1:"));
	free(cause);
}

static void
test_errors_name_file_and_place(void **state)
{
	const char *bad_json = "[{\"targets\":[\"a:1\"],\"labels\":"
	    "{\"1bad\":\"x\"}}]";
	const char *bad_yaml = "- targets: ['a:1']\n  lables: {}\n";
	const char *bad_syntax = "[{\"targets\": [\"a:1\"";
	struct target_group *g = NULL;
	size_t n = 0;
	char *cause = NULL;

	(void)state;
	assert_int_equal(file_sd_parse("f.json", bad_json, strlen(bad_json),
	    &g, &n, &cause), -1);
	assert_non_null(strstr(cause, "f.json"));
	assert_non_null(strstr(cause, "1bad"));
	free(cause);
	cause = NULL;
	assert_int_equal(file_sd_parse("f.yml", bad_yaml, strlen(bad_yaml),
	    &g, &n, &cause), -1);
	assert_non_null(strstr(cause, "f.yml:2:3"));
	assert_non_null(strstr(cause, "lables"));
	free(cause);
	cause = NULL;
	assert_int_equal(file_sd_parse("f.json", bad_syntax,
	    strlen(bad_syntax), &g, &n, &cause), -1);
	assert_non_null(strstr(cause, "f.json:1:"));
	free(cause);
	cause = NULL;
	assert_int_equal(file_sd_parse("f.txt", "[]", 2, &g, &n, &cause), -1);
	assert_non_null(strstr(cause, "extension"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_groups),
		cmocka_unit_test(test_yaml_groups),
		cmocka_unit_test(test_json_strict_and_label),
		cmocka_unit_test(test_errors_name_file_and_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
