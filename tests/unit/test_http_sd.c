/*
 * http_sd: the pure parts, Prometheus's Content-Type rule and the
 * response's target groups. Fetching, refreshing and failures are
 * tests/e2e/http_sd.sh, against a real HTTP server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "file_sd.h"
#include "http_sd.h"
#include "labels.h"
#include "scrape.h"

static void
test_content_type(void **state)
{
	static const char *good[] = {
		"application/json", "Application/JSON",
		" application/json\t", "application/json; charset=utf-8",
		"application/json;charset=UTF-8",
		"application/json;  charset=\"utf-8\"",
	};
	static const char *bad[] = {
		"", "text/plain", "application/jsonx", "application/json;",
		"application/json; charset=latin1",
		"application/json, text/html",
		"application/json; charset=utf-8; q=1", "application/json-seq",
		"application/problem+json",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!http_sd_content_type_ok(good[i]))
			fail_msg("refused \"%s\"", good[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (http_sd_content_type_ok(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(http_sd_content_type_ok(NULL));
}

static const char *
group_label(const struct target_group *g, const char *name)
{
	const struct lstr *v = labels_get(&g->labels,
	    (struct lstr){ name, strlen(name) });

	return v == NULL ? NULL : v->p;
}

static void
test_groups(void **state)
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
