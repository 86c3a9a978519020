/*
 * http_sd: Prometheus's Content-Type rule. The groups are file_sd's
 * JSON (test_file_sd); fetching, refreshing and failures are
 * tests/e2e/http_sd.sh, against a real HTTP server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http_sd.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
