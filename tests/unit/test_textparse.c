/* Unit tests for the text exposition parser (textparse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "labels.h"
#include "textparse.h"
#include "xmalloc.h"

/*
 * Parse a whole page into "name{a="1"} value [ts]" lines (labels_format
 * plus the value), or "ERR line:col: message". Pages are copied into an
 * exact-size allocation so ASan catches any read past the end.
 */
static char *
parse_page(const char *page, size_t len, enum textparse_format fmt,
    int utf8)
{
	struct buf out = BUF_INIT, scratch = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct textparse p;
	enum textparse_entry e;
	char *copy = xmalloc(len == 0 ? 1 : len);
	int64_t ts;
	double v;

	memcpy(copy, page, len);
	textparse_init(&p, copy, len, fmt);
	textparse_set_utf8_names(&p, utf8);
	while ((e = textparse_next(&p)) != TEXTPARSE_EOF) {
		if (e == TEXTPARSE_ERROR)
			break;
		if (e != TEXTPARSE_SERIES)
			continue;
		if (textparse_labels(&p, &ls, &scratch) == -1) {
			e = TEXTPARSE_ERROR;
			break;
		}
		labels_format(&ls, &out);
		v = textparse_value(&p);
		if (isnan(v))
			buf_puts(&out, " NaN");
		else if (isinf(v))
			buf_puts(&out, v > 0 ? " +Inf" : " -Inf");
		else
			buf_printf(&out, " %.17g", v);
		if (textparse_timestamp(&p, &ts))
			buf_printf(&out, " %lld", (long long)ts);
		buf_putc(&out, '\n');
	}
	if (e == TEXTPARSE_ERROR) {
		buf_reset(&out);
		buf_printf(&out, "ERR %s", textparse_error(&p));
	}
	free(copy);
	labels_free(&ls);
	buf_free(&scratch);
	return buf_steal(&out);
}

static char *
prom(const char *page)
{
	return parse_page(page, strlen(page), TEXTPARSE_PROMTEXT, 0);
}

static char *
om(const char *page)
{
	return parse_page(page, strlen(page), TEXTPARSE_OPENMETRICS, 0);
}

#define assert_parse(fn, page, want) do {				\
	char *got_ = fn(page);						\
	if (strcmp(got_, (want)) != 0)					\
		fail_msg("page %s\n got: %s\nwant: %s", #page, got_,	\
		    (want));						\
	free(got_);							\
} while (0)

/* The page must fail with a message starting "line:col:". */
#define assert_fails_at(fn, page, where) do {				\
	char *got_ = fn(page);						\
	if (strncmp(got_, "ERR " where, strlen("ERR " where)) != 0)	\
		fail_msg("page %s: got %s, want error at %s", #page,	\
		    got_, (where));					\
	free(got_);							\
} while (0)

static void
test_basic_page(void **state)
{
	static const char page[] =
	    "# HELP http_requests_total The total.\n"
	    "# TYPE http_requests_total counter\n"
	    "http_requests_total{method=\"post\",code=\"200\"} 1027 "
	    "1395066363000\n"
	    "http_requests_total{method=\"post\",code=\"400\"}    3 "
	    "1395066363000\n"
	    "\n"
	    "  # a comment\n"
	    "metric_without_timestamp_and_labels 12.47\n"
	    "\tsome:aggregate:rate5m{a_b=\"c\"}\t1\n";
	struct buf scratch = BUF_INIT;
	struct textparse p;
	struct lstr s;

	(void)state;
	assert_parse(prom, page,
	    "http_requests_total{code=\"200\",method=\"post\"} 1027 "
	    "1395066363000\n"
	    "http_requests_total{code=\"400\",method=\"post\"} 3 "
	    "1395066363000\n"
	    "metric_without_timestamp_and_labels 12.470000000000001\n"
	    "some:aggregate:rate5m{a_b=\"c\"} 1\n");

	textparse_init(&p, page, strlen(page), TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
	assert_true(lstr_eqs(textparse_family(&p), "http_requests_total"));
	assert_true(lstr_eqs(textparse_text(&p), "The total."));
	assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
	assert_int_equal(textparse_type(&p), METRIC_TYPE_COUNTER);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	s = textparse_series(&p);
	assert_true(lstr_eqs(s,
	    "http_requests_total{method=\"post\",code=\"200\"}"));
	assert_int_equal(textparse_type(&p), METRIC_TYPE_COUNTER);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
	assert_true(lstr_eqs(textparse_text(&p), "# a comment"));
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	/* Another family: the last TYPE does not apply. */
	assert_int_equal(textparse_type(&p), METRIC_TYPE_UNKNOWN);
	assert_true(lstr_eqs(textparse_series(&p),
	    "metric_without_timestamp_and_labels"));
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
	buf_free(&scratch);
}

static void
test_help_and_type(void **state)
{
	static const char page[] =
	    "# HELP a line1\\nline2 \\\\ \\\" x\n"
	    "# HELP nohelp\n"
	    "#\tTYPE\th_seconds histogram\n"
	    "h_seconds_bucket{le=\"0.5\"} 1\n"
	    "h_seconds_count 1\n"
	    "h_seconds_total 1\n"
	    "# HELPER not help\n"
	    "#HELP also a comment\n";
	struct buf scratch = BUF_INIT;
	struct textparse p;
	struct lstr h;

	(void)state;
	textparse_init(&p, page, strlen(page), TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
	h = textparse_help(&p, &scratch);
	/* The text format decodes \\ and \n only. */
	assert_int_equal(h.len, strlen("line1\nline2 \\ \\\" x"));
	assert_memory_equal(h.p, "line1\nline2 \\ \\\" x", h.len);
	assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
	assert_true(lstr_eqs(textparse_family(&p), "nohelp"));
	assert_int_equal(textparse_text(&p).len, 0);
	assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
	assert_true(lstr_eqs(textparse_family(&p), "h_seconds"));
	assert_int_equal(textparse_type(&p), METRIC_TYPE_HISTOGRAM);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_type(&p), METRIC_TYPE_HISTOGRAM);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_type(&p), METRIC_TYPE_HISTOGRAM);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_type(&p), METRIC_TYPE_UNKNOWN);
	assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
	buf_free(&scratch);

	assert_fails_at(prom, "# TYPE a gaugehistogram\n", "1:10:");
	assert_fails_at(prom, "# TYPE a counter \n", "1:10:");
	assert_fails_at(prom, "# TYPE a\n", "1:9:");
	assert_fails_at(prom, "# HELP \n", "1:8:");
	assert_fails_at(prom, "# HELP 9a x\n", "1:8:");
	assert_fails_at(prom, "# HELP a \xff\xfe\n", "1:10:");
	assert_parse(prom, "# TYPE a untyped\n# HELP a \xc3\xa9t\xc3\xa9\n",
	    "");
}

static void
test_label_escapes(void **state)
{
	static const char page[] =
	    "m{a=\"x\\\\y\",b=\"q\\\"q\",c=\"l1\\nl2\",d=\"\\t\",e=\"\"} 1\n";
	struct buf scratch = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct textparse p;
	const struct lstr *v;

	(void)state;
	textparse_init(&p, page, strlen(page), TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_labels(&p, &ls, &scratch), 0);
	/* Sorted, __name__ included, e="" left out. */
	assert_int_equal(ls.n, 5);
	assert_true(lstr_eqs(ls.v[0].name, "__name__"));
	assert_true(lstr_eqs(ls.v[0].value, "m"));
	assert_true(lstr_eqs(ls.v[1].name, "a"));
	assert_true(lstr_eqs(ls.v[4].name, "d"));
	assert_non_null(v = labels_get(&ls, LSTR("a")));
	assert_true(lstr_eqs(*v, "x\\y"));
	assert_non_null(v = labels_get(&ls, LSTR("b")));
	assert_true(lstr_eqs(*v, "q\"q"));
	assert_non_null(v = labels_get(&ls, LSTR("c")));
	assert_true(lstr_eqs(*v, "l1\nl2"));
	/* Unknown escapes stay as written. */
	assert_non_null(v = labels_get(&ls, LSTR("d")));
	assert_true(lstr_eqs(*v, "\\t"));
	assert_null(labels_get(&ls, LSTR("e")));
	/* Unescaped values point into the page, decoded ones into scratch. */
	assert_true(ls.v[0].value.p >= page &&
	    ls.v[0].value.p < page + sizeof page);
	v = labels_get(&ls, LSTR("a"));
	assert_true(v->p >= scratch.data && v->p < scratch.data + scratch.len);
	labels_free(&ls);
	buf_free(&scratch);
}

static void
test_label_syntax(void **state)
{
	(void)state;
	/* Blanks anywhere, trailing comma, missing comma: all accepted. */
	assert_parse(prom, "m { a = \"1\" , b= \"2\" , } 1\n",
	    "m{a=\"1\",b=\"2\"} 1\n");
	assert_parse(prom, "m{a=\"1\" b=\"2\"} 1\n", "m{a=\"1\",b=\"2\"} 1\n");
	assert_parse(prom, "m{} 1\n", "m 1\n");
	assert_parse(prom, "m{a=\"1\"}2\n", "m{a=\"1\"} 2\n");
	assert_fails_at(prom, "m{a=\"1\",,b=\"2\"} 1\n", "1:9:");
	assert_fails_at(prom, "m{1=\"1\"} 1\n", "1:3:");
	assert_fails_at(prom, "m{a} 1\n", "1:4:");
	assert_fails_at(prom, "m{a='1'} 1\n", "1:5:");
	assert_fails_at(prom, "m{a=1} 1\n", "1:5:");
	assert_fails_at(prom, "m{a=\"1\"\n", "1:8:");
	assert_fails_at(prom, "m{a=\"1} 1\n", "2:1:");
	assert_fails_at(prom, "{a=\"1\"} 1\n", "1:1:");
	/* Duplicate names fail the page, __name__ included. */
	assert_fails_at(prom, "x 1\nm{a=\"1\",a=\"2\"} 1\n", "2:1:");
	assert_fails_at(prom, "m{__name__=\"n\"} 1\n", "1:1:");
	assert_fails_at(prom, "m{a=\"\",a=\"1\"} 1\n", "1:1:");
}

static void
test_values(void **state)
{
	static const char *const good[][2] = {
		{ "1", "1" }, { "-1.5", "-1.5" }, { "+3", "3" },
		{ ".5", "0.5" }, { "5.", "5" }, { "1e3", "1000" },
		{ "1E-3", "0.001" }, { "-0", "-0" },
		{ "0000000000000000000000000000001.5e1", "15" },
		{ "12345678901234567890123", "1.2345678901234568e+22" },
		{ "1e-400", "0" }, { "Inf", "+Inf" }, { "+inf", "+Inf" },
		{ "-Inf", "-Inf" }, { "infinity", "+Inf" },
		{ "-INFINITY", "-Inf" }, { "NaN", "NaN" }, { "nan", "NaN" },
		{ "nAN", "NaN" }, { "0.1", "0.10000000000000001" },
		{ "9007199254740993", "9007199254740992" },
		{ "2.2250738585072014e-308", "2.2250738585072014e-308" },
	};
	static const char *const bad[] = {
		"1_2", "0x1p-3", "0x1P-3", "0x1", "0X1", "0b1", "0o1", "true",
		"1e", "1e+", ".", "-", "+nan", "-NaN", "infinit", "Infinityy",
		"1.2.3", "1e400", "-1e400", "1..2", "e3",
	};
	char page[128], want[128], *got;
	uint64_t bits;
	struct textparse p;
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(page, sizeof page, "m %s\n", good[i][0]);
		snprintf(want, sizeof want, "m %s\n", good[i][1]);
		got = prom(page);
		if (strcmp(got, want) != 0)
			fail_msg("%s: got %s", good[i][0], got);
		free(got);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(page, sizeof page, "m %s\n", bad[i]);
		got = prom(page);
		if (strncmp(got, "ERR 1:3:", 8) != 0)
			fail_msg("%s: got %s", bad[i], got);
		free(got);
	}

	/* Scraped NaNs never carry the stale marker bits. */
	textparse_init(&p, "m NaN\n", 6, TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	v = textparse_value(&p);
	memcpy(&bits, &v, sizeof bits);
	assert_true(isnan(v));
	assert_true(bits == NORMAL_NAN_BITS);
	assert_true(bits != STALE_NAN_BITS);
	assert_fails_at(prom, "m StaleNaN\n", "1:3:");
}

/* The fast decimal path must agree with strtod bit for bit. */
static void
test_values_random(void **state)
{
	struct textparse p;
	uint64_t x = 0x9e3779b97f4a7c15ULL, a, b;
	char page[96], num[64];
	double want, got;
	int i, j, n, dot, e;

	(void)state;
	for (i = 0; i < 50000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n = 1 + (int)((x >> 33) % 21);		/* 1..21 digits */
		dot = (int)((x >> 40) % (unsigned)(n + 2)) - 1;
		for (j = 0; j < n; j++) {
			x = x * 6364136223846793005ULL + 1;
			num[j] = (char)('0' + (x >> 59) % 10);
			if ((x >> 20) % 4 == 0)
				num[j] = '0';		/* runs of zeros */
		}
		num[n] = '\0';
		if (dot >= 0 && dot <= n) {
			memmove(num + dot + 1, num + dot, (size_t)(n - dot + 1));
			num[dot] = '.';
		}
		if (strcmp(num, ".") == 0)
			continue;
		e = (int)((x >> 8) % 80) - 40;
		if ((x >> 16) % 3 == 0)
			snprintf(num + strlen(num), 16, "e%d", e);
		snprintf(page, sizeof page, "m %s%s\n", (x >> 24) % 2 ? "-" : "",
		    num);
		want = strtod(page + 2, NULL);
		textparse_init(&p, page, strlen(page), TEXTPARSE_PROMTEXT);
		if (textparse_next(&p) != TEXTPARSE_SERIES)
			fail_msg("%s: %s", page, textparse_error(&p));
		got = textparse_value(&p);
		memcpy(&a, &want, 8);
		memcpy(&b, &got, 8);
		if (a != b)
			fail_msg("%s: got %.17g want %.17g", page, got, want);
	}
}

static void
test_timestamps(void **state)
{
	(void)state;
	assert_parse(prom, "m 1 0\n", "m 1 0\n");
	assert_parse(prom, "m 1 9223372036854775807\n",
	    "m 1 9223372036854775807\n");
	assert_parse(prom, "m 1 123  \t\n", "m 1 123\n");
	assert_fails_at(prom, "m 1 9223372036854775808\n", "1:5:");
	assert_fails_at(prom, "m 1 -3\n", "1:5:");
	assert_fails_at(prom, "m 1 +3\n", "1:5:");
	assert_fails_at(prom, "m 1 1.5\n", "1:6:");
	assert_fails_at(prom, "m 1 2 3\n", "1:7:");
	assert_fails_at(prom, "m 1 1_2\n", "1:6:");
	assert_fails_at(prom, "m 1 {\n", "1:5:");
	/* Missing values and garbage. */
	assert_fails_at(prom, "m\n", "1:2:");
	assert_fails_at(prom, "m{a=\"b\"}\n", "1:9:");
	assert_fails_at(prom, "ok 1\n9 1\n", "2:1:");
	assert_fails_at(prom, "m 1\r\n", "1:3:");
}

static void
test_utf8_and_nul(void **state)
{
	static const char nul_value[] = "m{a=\"x\0y\"} 1\n";
	static const char nul_name[] = "m\0{a=\"1\"} 1\n";
	static const char nul_help[] = "# HELP m a\0b\nm 1\n";
	static const char nul_line[] = "m 1\n\0\n";
	static const char nul_ts[] = "m 1 2\0\n";
	char *got;

	(void)state;
	assert_parse(prom, "m{a=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n",
	    "m{a=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n");
	assert_fails_at(prom, "m{a=\"\xff\"} 1\n", "1:5:");
	assert_fails_at(prom, "m{a=\"\xc0\xaf\"} 1\n", "1:5:");	/* overlong */
	/* A surrogate. */
	assert_fails_at(prom, "m{a=\"\xed\xa0\x80\"} 1\n", "1:5:");
	assert_fails_at(prom, "m{a=\"0123456789abcdef\xc3\"} 1\n", "1:5:");
	assert_fails_at(prom, "m{\xff=\"1\"} 1\n", "1:3:");

	got = parse_page(nul_value, sizeof nul_value - 1, TEXTPARSE_PROMTEXT,
	    0);
	assert_memory_equal(got, "m{a=\"x\0y\"} 1\n", 13);
	free(got);
	got = parse_page(nul_value, sizeof nul_value - 1,
	    TEXTPARSE_OPENMETRICS, 0);
	assert_string_equal(got, "ERR 2:1: data does not end with # EOF");
	free(got);
	got = parse_page(nul_help, sizeof nul_help - 1, TEXTPARSE_PROMTEXT, 0);
	assert_string_equal(got, "m 1\n");
	free(got);
	got = parse_page(nul_name, sizeof nul_name - 1, TEXTPARSE_PROMTEXT, 0);
	assert_string_equal(got, "ERR 1:2: expected value after metric, "
	    "got \"\\x00\"");
	free(got);
	got = parse_page(nul_line, sizeof nul_line - 1, TEXTPARSE_PROMTEXT, 0);
	assert_true(strncmp(got, "ERR 2:1:", 8) == 0);
	free(got);
	got = parse_page(nul_ts, sizeof nul_ts - 1, TEXTPARSE_PROMTEXT, 0);
	assert_true(strncmp(got, "ERR 1:6:", 8) == 0);
	free(got);
}

/*
 * Lines are read without bounds checks when a newline follows; check the
 * pages that end without one, and raw newlines in label values, which
 * make the parser re-read a line with checks, at every position.
 */
static void
test_page_ends(void **state)
{
	static const char page[] =
	    "m{a=\"multi\nline\"} 1\nn{b=\"0123456789abcdefghij\"} 2 3";
	char *got;
	size_t n;

	(void)state;
	assert_parse(prom, "m 1", "m 1\n");
	assert_parse(prom, "m{a=\"1\"} 1 2", "m{a=\"1\"} 1 2\n");
	assert_parse(prom, "m{a=\"x\ny\"} 1", "m{a=\"x\\ny\"} 1\n");
	assert_parse(prom, "m{a=\"x\ny\"} 1\n", "m{a=\"x\\ny\"} 1\n");
	assert_parse(prom, "# HELP \"x\ny\" z\nm 1", "m 1\n");
	assert_fails_at(prom, "m{a=\"1\"", "1:8:");
	assert_fails_at(prom, "m{a=\"1", "1:7:");
	assert_fails_at(prom, "m{a", "1:4:");
	assert_parse(prom, "", "");
	assert_parse(prom, "\n\n  \t\n", "");
	/* Every prefix of a page parses or fails cleanly (ASan watches). */
	for (n = 0; n <= sizeof page - 1; n++) {
		got = parse_page(page, n, TEXTPARSE_PROMTEXT, 0);
		free(got);
		got = parse_page(page, n, TEXTPARSE_OPENMETRICS, 0);
		free(got);
	}
	got = parse_page(page, sizeof page - 1, TEXTPARSE_PROMTEXT, 0);
	assert_string_equal(got, "m{a=\"multi\\nline\"} 1\n"
	    "n{b=\"0123456789abcdefghij\"} 2 3\n");
	free(got);
}

static void
test_long_tokens(void **state)
{
	static const char name[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDE";
	static const char lname[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcde";
	static const char value[] = "0123456789012345678901234567890123456789";
	struct buf page = BUF_INIT, want = BUF_INIT;
	char *got;
	int i;

	(void)state;
	/* Names and values longer than the 8/16-byte scanning blocks. */
	for (i = 0; i < 40; i++) {
		buf_reset(&page);
		buf_reset(&want);
		buf_printf(&page, "metric_%.*s{label_%.*s=\"v%.*s\\\"%.*s"
		    "\xc3\xa9\"} %d\n", i, name, i, lname, i, value, i % 7,
		    "xxxxxxx", i);
		buf_printf(&want, "metric_%.*s{label_%.*s=\"v%.*s\\\"%.*s"
		    "\xc3\xa9\"} %d\n", i, name, i, lname, i, value, i % 7,
		    "xxxxxxx", i);
		got = parse_page(page.data, page.len, TEXTPARSE_PROMTEXT, 0);
		assert_string_equal(got, want.data);
		free(got);
		/* A bad byte at the end of a long name stops it there. */
		buf_reset(&page);
		buf_printf(&page, "metric_%.*s-x 1\n", i, name);
		got = parse_page(page.data, page.len, TEXTPARSE_PROMTEXT, 0);
		assert_true(strncmp(got, "ERR 1:", 6) == 0);
		free(got);
	}
	buf_free(&page);
	buf_free(&want);
}

static void
test_openmetrics(void **state)
{
	static const char page[] =
	    "# TYPE c counter\n"
	    "# HELP c A \\\"counter\\\".\n"
	    "# UNIT c_seconds seconds\n"
	    "c_total{a=\"b\"} 17.0 1520879607.789 # {id=\"x\"} 5 1.5\n"
	    "c_created{a=\"b\"} 1520872607.123\n"
	    "# TYPE g gauge\n"
	    "g_created 1\n"
	    "g 2 # {} 3\n"
	    "# EOF\n";
	struct buf scratch = BUF_INIT;
	struct textparse p;
	double ev;
	int64_t ets, ts;
	int has;
	struct lstr h;

	(void)state;
	assert_parse(om, page, "c_total{a=\"b\"} 17 1520879607789\n"
	    "g_created 1\ng 2\n");
	textparse_init(&p, page, strlen(page), TEXTPARSE_OPENMETRICS);
	assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
	assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
	h = textparse_help(&p, &scratch);
	assert_int_equal(h.len, strlen("A \"counter\"."));
	assert_memory_equal(h.p, "A \"counter\".", h.len);
	assert_int_equal(textparse_next(&p), TEXTPARSE_UNIT);
	assert_true(lstr_eqs(textparse_text(&p), "seconds"));
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_type(&p), METRIC_TYPE_COUNTER);
	assert_true(textparse_timestamp(&p, &ts));
	assert_true(ts == 1520879607789LL);
	assert_true(textparse_exemplar(&p, &ev, &ets, &has));
	assert_true(ev == 5.0);
	assert_true(has);
	assert_true(ets == 1500);
	/* c_created is skipped; g_created (a gauge) is a sample. */
	assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_true(lstr_eqs(textparse_series(&p), "g_created"));
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_true(textparse_exemplar(&p, &ev, &ets, &has));
	assert_false(has);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
	buf_free(&scratch);

	/* Kept on request, as Prometheus's default scrape does. */
	textparse_init(&p, page, strlen(page), TEXTPARSE_OPENMETRICS);
	textparse_set_keep_created(&p, 1);
	while (textparse_next(&p) != TEXTPARSE_SERIES)
		;
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_true(lstr_eqs(textparse_series(&p), "c_created{a=\"b\"}"));
	assert_true(textparse_value(&p) == 1520872607.123);

	assert_parse(om, "# EOF", "");
	assert_parse(om, "a 1\n# EOF", "a 1\n");
	assert_parse(om, "a{b=\"1\",} 1\n# EOF\n", "a{b=\"1\"} 1\n");
	assert_fails_at(om, "", "1:1:");
	assert_fails_at(om, "a 1\n", "2:1:");
	assert_fails_at(om, "a 1\n# EOF\n\n", "3:1:");
	assert_fails_at(om, "# EOF\na 1\n", "2:1:");
	assert_fails_at(om, "a  1\n# EOF\n", "1:2:");
	assert_fails_at(om, "a 1 \n# EOF\n", "1:4:");
	assert_fails_at(om, "a{b=\"1\" ,c=\"2\"} 1\n# EOF\n", "1:8:");
	assert_fails_at(om, "# comment\n# EOF\n", "1:1:");
	assert_fails_at(om, "# TYPE a untyped\n# EOF\n", "1:10:");
	assert_fails_at(om, "# HELP a\n# EOF\n", "1:9:");
	assert_fails_at(om, "# UNIT a_b c\n# EOF\n", "1:12:");
	assert_fails_at(om, "a 1 NaN\n# EOF\n", "1:5:");
	assert_fails_at(om, "a 1 # {b=\"c\"}\n# EOF\n", "1:14:");
	assert_fails_at(om, "a 1 # {b=\"c\"} 1 Inf\n# EOF\n", "1:17:");
	assert_fails_at(om, "a 1 # {b=\"c\"} 1 1 \n# EOF\n", "1:18:");
	assert_fails_at(om, "a 1 # {\"b\"} 1\n# EOF\n", "1:11:");
	/* Negative and fractional second timestamps are fine in OM. */
	assert_parse(om, "a 1 -1.5\n# EOF\n", "a 1 -1500\n");
	assert_parse(om, "a 1 1e30\n# EOF\n", "a 1 9223372036854775807\n");
}

static void
test_quoted_names(void **state)
{
	static const char page[] =
	    "# TYPE \"my.metric\" gauge\n"
	    "{\"my.metric\",\"a.b\"=\"1\",c=\"2\"} 1\n";
	static const char legacy_ok[] = "{\"ok_name\",\"label\"=\"1\"} 1\n";
	char *got;

	(void)state;
	got = parse_page(page, strlen(page), TEXTPARSE_PROMTEXT, 1);
	assert_string_equal(got, "my.metric{a.b=\"1\",c=\"2\"} 1\n");
	free(got);
	got = parse_page(page, strlen(page), TEXTPARSE_PROMTEXT, 0);
	assert_string_equal(got, "ERR 2:1: invalid metric name "
	    "\"my.metric\"");
	free(got);
	got = parse_page(legacy_ok, strlen(legacy_ok), TEXTPARSE_PROMTEXT, 0);
	assert_string_equal(got, "ok_name{label=\"1\"} 1\n");
	free(got);
	assert_fails_at(prom, "{\"a\",\"b\"} 1\n", "1:6:");
	assert_fails_at(prom, "{\"a\",\"b.c\"=\"1\"} 1\n", "1:6:");
}

static void
test_format_for(void **state)
{
	(void)state;
	assert_int_equal(textparse_format_for(NULL), TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_format_for("text/plain; version=0.0.4"),
	    TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_format_for("application/openmetrics-text;"
	    " version=1.0.0; charset=utf-8"), TEXTPARSE_OPENMETRICS);
	assert_int_equal(textparse_format_for(" Application/OpenMetrics-Text"),
	    TEXTPARSE_OPENMETRICS);
	assert_int_equal(textparse_format_for("application/openmetrics-textx"),
	    TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_format_for(""), TEXTPARSE_PROMTEXT);
}

static void
test_error_is_sticky(void **state)
{
	struct textparse p;
	const char *page = "a 1\nb x\nc 1\n";

	(void)state;
	textparse_init(&p, page, strlen(page), TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
	assert_int_equal(textparse_next(&p), TEXTPARSE_ERROR);
	assert_string_equal(textparse_error(&p),
	    "2:3: invalid value \"x\"");
	assert_int_equal(textparse_next(&p), TEXTPARSE_ERROR);
	textparse_init(&p, NULL, 0, TEXTPARSE_PROMTEXT);
	assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_page),
		cmocka_unit_test(test_help_and_type),
		cmocka_unit_test(test_label_escapes),
		cmocka_unit_test(test_label_syntax),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_values_random),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_utf8_and_nul),
		cmocka_unit_test(test_page_ends),
		cmocka_unit_test(test_long_tokens),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_quoted_names),
		cmocka_unit_test(test_format_for),
		cmocka_unit_test(test_error_is_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
