/*
 * Unit tests for targets' metric metadata (scrape_meta.c): pages read
 * through the real parser, the kept entries decoded with the protobuf-c
 * code generated from src/prompb, so the bytes are proven to be
 * WriteRequest metadata fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.pb-c.h"
#include "scrape_meta.h"
#include "textparse.h"
#include "xmalloc.h"

/* Read a page as the scrape loop does; 0 when it was accepted. */
static int
read_page(struct scrape_meta_read *r, struct scrape_meta *m,
    const char *page, enum textparse_format fmt)
{
	struct textparse p;
	enum textparse_entry kind;

	textparse_init(&p, page, strlen(page), fmt);
	scrape_meta_begin(r, m);
	while ((kind = textparse_next(&p)) != TEXTPARSE_EOF) {
		if (kind == TEXTPARSE_ERROR) {
			scrape_meta_abort(r);
			return -1;
		}
		scrape_meta_line(r, &p, kind);
	}
	scrape_meta_end(r);
	return 0;
}

/* The entries as "TYPE family|help|unit" lines, in order. */
static char *
entries(const struct scrape_meta *m)
{
	Prometheus__WriteRequest *wr;
	struct buf out = BUF_INIT;
	size_t i;

	wr = prometheus__write_request__unpack(NULL, m->enc.len,
	    (const uint8_t *)m->enc.data);
	assert_non_null(wr);
	assert_int_equal(wr->n_timeseries, 0);
	assert_int_equal(wr->n_metadata, scrape_meta_count(m));
	for (i = 0; i < wr->n_metadata; i++) {
		Prometheus__MetricMetadata *md = wr->metadata[i];

		buf_printf(&out, "%d %s|%s|%s\n", (int)md->type,
		    md->metric_family_name, md->help, md->unit);
	}
	prometheus__write_request__free_unpacked(wr, NULL);
	buf_putc(&out, '\0');
	return buf_steal(&out);
}

static void
assert_entries(const struct scrape_meta *m, const char *want)
{
	char *got = entries(m);

	assert_string_equal(got, want);
	free(got);
}

static const char page1[] =
    "# HELP a Requests.\n"
    "# TYPE a counter\n"
    "a 1\n"
    "# TYPE b gauge\n"
    "b 2\n"
    "# HELP c Two\\nlines, one \\\\.\n"
    "c 3\n"
    "d 4\n";

static void
test_page_then_same_page(void **state)
{
	struct scrape_meta m = { 0 };
	struct scrape_meta_read r = { 0 };
	const char *before;

	(void)state;
	assert_int_equal(read_page(&r, &m, page1, TEXTPARSE_PROMTEXT), 0);
	/* d has no metadata lines, so no entry; c's help is decoded. */
	assert_entries(&m, "1 a|Requests.|\n2 b||\n0 c|Two\nlines, one \\.|\n");
	/* The same page again leaves the kept bytes where they were. */
	before = m.enc.data;
	assert_int_equal(read_page(&r, &m, page1, TEXTPARSE_PROMTEXT), 0);
	assert_ptr_equal(m.enc.data, before);
	assert_entries(&m, "1 a|Requests.|\n2 b||\n0 c|Two\nlines, one \\.|\n");
	scrape_meta_free(&m);
	scrape_meta_read_free(&r);
}

static void
test_changes(void **state)
{
	struct scrape_meta m = { 0 };
	struct scrape_meta_read r = { 0 };

	(void)state;
	assert_int_equal(read_page(&r, &m, page1, TEXTPARSE_PROMTEXT), 0);
	/* A help changed in the middle, a family gone, one new at the end. */
	assert_int_equal(read_page(&r, &m,
	    "# HELP a Requests.\n# TYPE a counter\na 1\n"
	    "# TYPE b gauge\n# HELP b Now with help.\nb 2\n"
	    "# TYPE e summary\ne_count 1\n", TEXTPARSE_PROMTEXT), 0);
	assert_entries(&m, "1 a|Requests.|\n2 b|Now with help.|\n5 e||\n");
	/* Fewer families, the rest alike: the last ones go. */
	assert_int_equal(read_page(&r, &m,
	    "# HELP a Requests.\n# TYPE a counter\na 1\n",
	    TEXTPARSE_PROMTEXT), 0);
	assert_entries(&m, "1 a|Requests.|\n");
	/* More families than before, after alike ones. */
	assert_int_equal(read_page(&r, &m,
	    "# HELP a Requests.\n# TYPE a counter\na 1\n# TYPE z gauge\n",
	    TEXTPARSE_PROMTEXT), 0);
	assert_entries(&m, "1 a|Requests.|\n2 z||\n");
	/* A page without metadata lines leaves none. */
	assert_int_equal(read_page(&r, &m, "a 1\n", TEXTPARSE_PROMTEXT), 0);
	assert_int_equal(m.enc.len, 0);
	assert_int_equal(scrape_meta_count(&m), 0);
	scrape_meta_free(&m);
	scrape_meta_read_free(&r);
}

static void
test_failed_page_keeps(void **state)
{
	struct scrape_meta m = { 0 };
	struct scrape_meta_read r = { 0 };

	(void)state;
	assert_int_equal(read_page(&r, &m, page1, TEXTPARSE_PROMTEXT), 0);
	/* Different metadata, then a line no parser accepts. */
	assert_int_equal(read_page(&r, &m,
	    "# HELP a Other.\n# TYPE q gauge\nq{ 1\n", TEXTPARSE_PROMTEXT),
	    -1);
	assert_entries(&m, "1 a|Requests.|\n2 b||\n0 c|Two\nlines, one \\.|\n");
	/* And the next good page is compared with what was kept. */
	assert_int_equal(read_page(&r, &m, page1, TEXTPARSE_PROMTEXT), 0);
	assert_entries(&m, "1 a|Requests.|\n2 b||\n0 c|Two\nlines, one \\.|\n");
	scrape_meta_free(&m);
	scrape_meta_read_free(&r);
}

static void
test_openmetrics(void **state)
{
	struct scrape_meta m = { 0 };
	struct scrape_meta_read r = { 0 };

	(void)state;
	assert_int_equal(read_page(&r, &m,
	    "# TYPE x_seconds counter\n# UNIT x_seconds seconds\n"
	    "# HELP x_seconds Time \\\"spent\\\".\nx_seconds_total 1\n"
	    "# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n",
	    TEXTPARSE_OPENMETRICS), 0);
	assert_entries(&m, "1 x_seconds|Time \"spent\".|seconds\n6 i||\n");
	scrape_meta_free(&m);
	scrape_meta_read_free(&r);
}

static void
test_unique(void **state)
{
	struct scrape_meta m[3] = { { BUF_INIT }, { BUF_INIT }, { BUF_INIT } };
	const struct scrape_meta *lists[3] = { &m[0], &m[1], &m[2] };
	struct scrape_meta_read r = { 0 };
	struct scrape_meta all = { 0 };
	struct lstr *spans = NULL;
	size_t cap = 0, n, i;

	(void)state;
	assert_int_equal(read_page(&r, &m[0], page1, TEXTPARSE_PROMTEXT), 0);
	assert_int_equal(read_page(&r, &m[1], page1, TEXTPARSE_PROMTEXT), 0);
	/* b again, but as a counter: another entry. */
	assert_int_equal(read_page(&r, &m[2],
	    "# TYPE b counter\nb 1\n# HELP a Requests.\n# TYPE a counter\n",
	    TEXTPARSE_PROMTEXT), 0);
	assert_int_equal(scrape_meta_unique(lists, 0, &spans, &cap), 0);
	n = scrape_meta_unique(lists, 3, &spans, &cap);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++)
		buf_append(&all.enc, spans[i].p, spans[i].len);
	/*
	 * Each once, sorted by their bytes, which start with the entry's
	 * length: the short b entries first, a counter before a gauge.
	 */
	assert_entries(&all, "1 b||\n2 b||\n1 a|Requests.|\n"
	    "0 c|Two\nlines, one \\.|\n");
	free(spans);
	scrape_meta_free(&all);
	for (i = 0; i < 3; i++)
		scrape_meta_free(&m[i]);
	scrape_meta_read_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_then_same_page),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_failed_page_keeps),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
