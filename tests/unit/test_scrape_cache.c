/* Unit tests for the per-target scrape cache (scrape_cache.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "xmalloc.h"

struct stale_log {
	series_ref	refs[64];
	size_t		n;
};

static void
stale_cb(series_ref ref, void *arg)
{
	struct stale_log *s = arg;

	if (s->n < 64)
		s->refs[s->n] = ref;
	s->n++;
}

static int
stale_has(const struct stale_log *s, series_ref ref)
{
	size_t i;

	for (i = 0; i < s->n && i < 64; i++) {
		if (s->refs[i] == ref)
			return 1;
	}
	return 0;
}

/* A held series for the name, as the scrape loop gets one. */
static series_ref
intern(struct series_table *t, const char *name)
{
	struct labels ls = LABELS_INIT;
	series_ref ref;

	labels_push(&ls, LSTR("__name__"), (struct lstr){ name,
	    strlen(name) });
	ref = series_get_or_add(t, &ls, labels_hash(&ls), NULL);
	labels_free(&ls);
	return ref;
}

static struct lstr
S(const char *s)
{
	return (struct lstr){ s, strlen(s) };
}

/* One scrape: the raw texts seen, interned on a miss. */
static void
scrape(struct scrape_cache *c, struct series_table *t, const char **raws,
    size_t n, struct stale_log *log)
{
	struct scrape_cache_entry *e;
	size_t i;

	scrape_cache_begin(c);
	for (i = 0; i < n; i++) {
		if ((e = scrape_cache_get(c, S(raws[i]))) == NULL)
			e = scrape_cache_put(c, S(raws[i]),
			    intern(t, raws[i]), 0);
		scrape_cache_seen(c, e);
	}
	log->n = 0;
	scrape_cache_end(c, stale_cb, log);
}

static void
test_get_put(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct scrape_cache_entry *e, *e2;
	char *raw = xstrdup("m{a=\"1\"}");
	series_ref ref;

	(void)state;
	scrape_cache_begin(c);
	assert_null(scrape_cache_get(c, S(raw)));
	ref = intern(t, "m");
	e = scrape_cache_put(c, S(raw), ref, 0);
	assert_non_null(e);
	assert_int_equal(e->ref, ref);
	assert_false(e->dropped);
	/* Only the key's hash is kept: the page buffer can go. */
	memset(raw, 'x', strlen(raw));
	free(raw);
	e2 = scrape_cache_get(c, S("m{a=\"1\"}"));
	assert_ptr_equal(e2, e);
	assert_null(scrape_cache_get(c, S("m{a=\"1\"} ")));
	assert_null(scrape_cache_get(c, S("")));
	/* A dropped series is cached too, without a ref. */
	e2 = scrape_cache_put(c, S("dropped_metric"), SERIES_REF_NONE, 1);
	assert_true(e2->dropped);
	assert_int_equal(scrape_cache_count(c), 2);
	/* A put without a miss first replaces the mapping and its hold. */
	e2 = scrape_cache_put(c, S("m{a=\"1\"}"), intern(t, "m"), 0);
	assert_ptr_equal(e2, e);
	assert_int_equal(scrape_cache_count(c), 2);
	/* The cache owns exactly one hold: freeing it frees the series. */
	scrape_cache_free(c);
	assert_int_equal(series_gc(t, NULL, NULL), 1);
	scrape_cache_free(NULL);
	series_table_free(t);
}

static void
test_staleness_and_eviction(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct stale_log log = { { 0 }, 0 };
	const char *both[] = { "a", "b" }, *only_a[] = { "a" };
	struct labels la;
	series_ref ra, rb;
	int i;

	(void)state;
	scrape(c, t, both, 2, &log);
	assert_int_equal(log.n, 0);
	ra = scrape_cache_get(c, S("a"))->ref;
	rb = scrape_cache_get(c, S("b"))->ref;
	scrape(c, t, both, 2, &log);
	assert_int_equal(log.n, 0);

	/* b disappears: reported once, on the first scrape without it. */
	scrape(c, t, only_a, 1, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.refs[0], rb);
	scrape(c, t, only_a, 1, &log);
	assert_int_equal(log.n, 0);
	assert_int_equal(scrape_cache_count(c), 2);
	assert_int_equal(series_gc(t, NULL, NULL), 0);	/* still held */

	/* Unseen for long enough: evicted, and its hold released. */
	for (i = 0; i < SCRAPE_CACHE_KEEP_ITERS; i++)
		scrape(c, t, only_a, 1, &log);
	assert_int_equal(scrape_cache_count(c), 1);
	assert_null(scrape_cache_get(c, S("b")));
	assert_int_equal(series_gc(t, NULL, NULL), 1);
	la = (struct labels){ &(struct label){ LSTR("__name__"), LSTR("a") },
	    1, 1 };
	assert_int_equal(series_lookup(t, &la, labels_hash(&la)), ra);

	/* b comes back: a new entry, not stale. */
	scrape(c, t, both, 2, &log);
	assert_int_equal(log.n, 0);
	assert_int_equal(scrape_cache_count(c), 2);

	scrape_cache_free(c);
	assert_int_equal(series_gc(t, NULL, NULL), 2);
	series_table_free(t);
}

static void
test_no_staleness_for_explicit_ts_and_dropped(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct stale_log log = { { 0 }, 0 };
	struct scrape_cache_entry *e;
	const char *none[] = { "" };

	(void)state;
	scrape_cache_begin(c);
	e = scrape_cache_put(c, S("with_ts"), intern(t, "with_ts"), 0);
	e->explicit_ts = 1;
	scrape_cache_put(c, S("dropped"), SERIES_REF_NONE, 1);
	e = scrape_cache_put(c, S("plain"), intern(t, "plain"), 0);
	scrape_cache_end(c, stale_cb, &log);
	assert_int_equal(log.n, 0);

	scrape(c, t, none, 0, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.refs[0], e->ref);
	scrape_cache_free(c);
	series_table_free(t);
}

static void
test_all_stale(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct stale_log log = { { 0 }, 0 };
	const char *ab[] = { "a", "b" }, *abc[] = { "a", "b", "c" };
	struct scrape_cache_entry *e;
	series_ref ra, rb, rc;

	(void)state;
	scrape(c, t, ab, 2, &log);
	ra = scrape_cache_get(c, S("a"))->ref;
	rb = scrape_cache_get(c, S("b"))->ref;

	/* A failed scrape that got half way: only the last good set. */
	scrape_cache_begin(c);
	e = scrape_cache_get(c, S("a"));
	scrape_cache_seen(c, e);
	rc = intern(t, "c");
	scrape_cache_seen(c, scrape_cache_put(c, S("c"), rc, 0));
	log.n = 0;
	scrape_cache_all_stale(c, stale_cb, &log);
	assert_int_equal(log.n, 2);
	assert_true(stale_has(&log, ra));
	assert_true(stale_has(&log, rb));
	/* Reported once: the target is gone as far as staleness goes. */
	log.n = 0;
	scrape_cache_all_stale(c, stale_cb, &log);
	assert_int_equal(log.n, 0);

	/* Back to normal: nothing is reported twice. */
	scrape(c, t, abc, 3, &log);
	assert_int_equal(log.n, 0);
	scrape(c, t, ab, 2, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.refs[0], rc);
	scrape_cache_free(c);
	series_table_free(t);
}

/* Two raw texts, one series: stale only when neither was seen. */
static void
test_shared_ref(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct stale_log log = { { 0 }, 0 };
	struct scrape_cache_entry *e;
	series_ref r;
	const char *x = "m{a=\"1\",b=\"2\"}", *y = "m{b=\"2\",a=\"1\"}";

	(void)state;
	scrape_cache_begin(c);
	r = intern(t, "m");
	scrape_cache_seen(c, scrape_cache_put(c, S(x), r, 0));
	scrape_cache_seen(c, scrape_cache_put(c, S(y), intern(t, "m"), 0));
	scrape_cache_end(c, stale_cb, &log);

	/* Only y: the series is still there. */
	scrape_cache_begin(c);
	scrape_cache_seen(c, scrape_cache_get(c, S(y)));
	log.n = 0;
	scrape_cache_end(c, stale_cb, &log);
	assert_int_equal(log.n, 0);

	/* x again, y gone: still there. Then both gone: reported once. */
	scrape_cache_begin(c);
	scrape_cache_seen(c, scrape_cache_get(c, S(x)));
	scrape_cache_end(c, stale_cb, &log);
	assert_int_equal(log.n, 0);
	scrape_cache_begin(c);
	e = scrape_cache_get(c, S(x));
	scrape_cache_seen(c, e);
	scrape_cache_end(c, stale_cb, &log);
	scrape_cache_begin(c);
	scrape_cache_end(c, stale_cb, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.refs[0], r);
	scrape_cache_free(c);
	series_table_free(t);
}

/* Two raw texts of one series that both go: one report, not two. */
static void
test_shared_ref_reported_once(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct stale_log log = { { 0 }, 0 };
	const char *xy[] = { "m{a=\"1\",b=\"2\"}", "m{b=\"2\",a=\"1\"}",
	    "other" }, *none[] = { "" };
	series_ref r, ro;

	(void)state;
	scrape_cache_begin(c);
	r = intern(t, "m");
	ro = intern(t, "other");
	scrape_cache_seen(c, scrape_cache_put(c, S(xy[0]), r, 0));
	scrape_cache_seen(c, scrape_cache_put(c, S(xy[1]), intern(t, "m"),
	    0));
	scrape_cache_seen(c, scrape_cache_put(c, S(xy[2]), ro, 0));
	scrape_cache_end(c, stale_cb, &log);
	assert_int_equal(log.n, 0);
	scrape(c, t, none, 0, &log);
	assert_int_equal(log.n, 2);
	assert_true(stale_has(&log, r));
	assert_true(stale_has(&log, ro));

	scrape(c, t, xy, 3, &log);
	log.n = 0;
	scrape_cache_all_stale(c, stale_cb, &log);
	assert_int_equal(log.n, 2);
	assert_true(stale_has(&log, r));
	assert_true(stale_has(&log, ro));
	scrape_cache_free(c);
	series_table_free(t);
}

/* Many entries in and out: the index must stay consistent. */
static void
test_churn(void **state)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct scrape_cache_entry *e;
	char raw[64];
	int i, round, n = 5000, gen;
	size_t live;

	(void)state;
	for (round = 0; round < 24; round++) {
		scrape_cache_begin(c);
		/* Half the series change name every round. */
		for (i = 0; i < n; i++) {
			gen = i % 2 ? 0 : round;
			snprintf(raw, sizeof raw, "metric_%d{gen=\"%d\"}", i,
			    gen);
			if ((e = scrape_cache_get(c, S(raw))) == NULL)
				e = scrape_cache_put(c, S(raw),
				    intern(t, raw), 0);
			scrape_cache_seen(c, e);
		}
		scrape_cache_end(c, NULL, NULL);
		series_gc(t, NULL, NULL);
		/* Entries live KEEP_ITERS + 1 rounds after their last. */
		assert_true(scrape_cache_count(c) <= (size_t)n +
		    (size_t)(n / 2) * SCRAPE_CACHE_KEEP_ITERS);
		for (i = 0; i < n; i++) {
			gen = i % 2 ? 0 : round;
			snprintf(raw, sizeof raw, "metric_%d{gen=\"%d\"}", i,
			    gen);
			assert_non_null(e = scrape_cache_get(c, S(raw)));
			assert_int_not_equal(e->ref, SERIES_REF_NONE);
		}
		/* Evicted entries are reused: memory follows the peak
		 * count, the live entries plus a round's new ones before
		 * end() evicts (items, a chunk of slack, an index at most
		 * three quarters empty). */
		live = scrape_cache_count(c) + (size_t)n / 2;
		assert_true(scrape_cache_mem_bytes(c) <= live * 24 + 256 * 24 +
		    4 * 4 * live + 4096);
	}
	assert_int_equal(scrape_cache_count(c), (size_t)n +
	    (size_t)(n / 2) * SCRAPE_CACHE_KEEP_ITERS);
	scrape_cache_free(c);
	assert_int_equal(series_gc(t, NULL, NULL), series_count(t));
	assert_int_equal(series_count(t), 0);
	series_table_free(t);
}

static int
cmp128(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int
cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The cache trusts hash_bytes128 as the key. Near-identical texts (one
 * digit apart, every length, trailing NULs) must give distinct values in
 * each 64-bit lane on its own, the lanes must differ, and the seed must
 * matter.
 */
static void
test_key_hash(void **state)
{
	enum { N = 400000 };
	uint64_t (*h)[2] = xcalloc(N, sizeof *h), *lane = xcalloc(N,
	    sizeof *lane), o[2], o2[2];
	char text[160];
	size_t i, k, len;

	(void)state;
	memset(text, 0, sizeof text);
	for (i = 0; i < N; i++) {
		len = snprintf(text, sizeof text, "http_requests_total{code=\""
		    "%zu\",pod=\"web-%zu\"}", i % 1000, i / 1000);
		/* Every length class, and texts that differ only in NULs. */
		if (i % 7 == 0)
			len += i % 33;
		hash_bytes128(text, len, 0x5eed, h[i]);
		assert_true(h[i][0] != h[i][1]);
		memset(text + strlen(text), 0, sizeof text - strlen(text));
	}
	qsort(h, N, sizeof *h, cmp128);
	for (i = 1; i < N; i++)
		assert_true(cmp128(h[i - 1], h[i]) != 0);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < N; i++)
			lane[i] = h[i][k];
		qsort(lane, N, sizeof *lane, cmp64);
		for (i = 1; i < N; i++)
			assert_true(lane[i - 1] != lane[i]);
	}
	hash_bytes128("up", 2, 1, o);
	hash_bytes128("up", 2, 2, o2);
	assert_true(o[0] != o2[0] && o[1] != o2[1]);
	hash_bytes128("up", 2, 1, o2);
	assert_true(o[0] == o2[0] && o[1] == o2[1]);
	free(h);
	free(lane);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_hash),
		cmocka_unit_test(test_get_put),
		cmocka_unit_test(test_staleness_and_eviction),
		cmocka_unit_test(test_no_staleness_for_explicit_ts_and_dropped),
		cmocka_unit_test(test_all_stale),
		cmocka_unit_test(test_shared_ref),
		cmocka_unit_test(test_shared_ref_reported_once),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
