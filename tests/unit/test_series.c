/* Unit tests for the series table (series.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "labels.h"
#include "series.h"
#include "xmalloc.h"

struct gc_log {
	series_ref	refs[64];
	size_t		n;
};

static void
gc_cb(series_ref ref, void *arg)
{
	struct gc_log *g = arg;

	if (g->n < 64)
		g->refs[g->n] = ref;
	g->n++;
}

/* A sorted set from "name=value" pairs, strings in an arena. */
static void
make_labels(struct labels *ls, struct arena *a, const char *metric,
    const char *job, int i)
{
	char tmp[64];

	labels_reset(ls);
	labels_push(ls, LSTR("__name__"), (struct lstr){ metric,
	    strlen(metric) });
	labels_push(ls, LSTR("job"), (struct lstr){ job, strlen(job) });
	snprintf(tmp, sizeof tmp, "%d", i);
	labels_push(ls, LSTR("cpu"), (struct lstr){ arena_strndup(a, tmp,
	    strlen(tmp)), strlen(tmp) });
	labels_sort(ls);
}

static void
test_intern_and_lookup(void **state)
{
	struct series_table *t = series_table_create();
	struct labels a = LABELS_INIT, b = LABELS_INIT, out = LABELS_INIT;
	struct arena ar = ARENA_INIT;
	series_ref r1, r2, r3;
	int created = -1;

	(void)state;
	make_labels(&a, &ar, "node_cpu", "node", 0);
	make_labels(&b, &ar, "node_cpu", "node", 1);
	assert_int_equal(series_lookup(t, &a, labels_hash(&a)),
	    SERIES_REF_NONE);
	r1 = series_get_or_add(t, &a, labels_hash(&a), &created);
	assert_int_not_equal(r1, SERIES_REF_NONE);
	assert_int_equal(created, 1);
	r2 = series_get_or_add(t, &b, labels_hash(&b), &created);
	assert_int_equal(created, 1);
	assert_int_not_equal(r1, r2);
	/* The same set again: same ref, not created, one more hold. */
	r3 = series_get_or_add(t, &a, labels_hash(&a), &created);
	assert_int_equal(created, 0);
	assert_int_equal(r3, r1);
	assert_int_equal(series_lookup(t, &a, labels_hash(&a)), r1);
	assert_int_equal(series_count(t), 2);

	series_labels(t, r2, &out);
	assert_true(labels_equal(&out, &b));
	/* The returned strings are the table's, not the caller's. */
	assert_true(out.v[1].value.p != b.v[1].value.p);

	/* Equal hash, different labels: never confused. */
	assert_int_equal(series_lookup(t, &b, labels_hash(&a)),
	    SERIES_REF_NONE);

	labels_free(&a);
	labels_free(&b);
	labels_free(&out);
	arena_free(&ar);
	series_table_free(t);
}

static void
test_gc_and_ref_reuse(void **state)
{
	struct series_table *t = series_table_create();
	struct labels a = LABELS_INIT, b = LABELS_INIT, c = LABELS_INIT;
	struct arena ar = ARENA_INIT;
	struct gc_log g = { { 0 }, 0 };
	series_ref ra, rb, rc;
	size_t strings0, strings1;
	int created;

	(void)state;
	series_mem_bytes(t, &strings0);
	make_labels(&a, &ar, "m", "j", 1);
	make_labels(&b, &ar, "m", "j", 2);
	make_labels(&c, &ar, "other_metric", "other_job", 3);
	ra = series_get_or_add(t, &a, labels_hash(&a), NULL);
	rb = series_get_or_add(t, &b, labels_hash(&b), NULL);
	series_hold(t, rb);			/* rb: 2 holds */

	/* Held series are never collected. */
	assert_int_equal(series_gc(t, gc_cb, &g), 0);

	/* Unheld, but kept until GC runs: the ref survives a comeback. */
	series_release(t, ra);
	assert_int_equal(series_lookup(t, &a, labels_hash(&a)), ra);
	assert_int_equal(series_get_or_add(t, &a, labels_hash(&a), &created),
	    ra);
	assert_int_equal(created, 0);
	series_release(t, ra);

	series_release(t, rb);			/* rb: still 1 hold */
	assert_int_equal(series_gc(t, gc_cb, &g), 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.refs[0], ra);
	assert_int_equal(series_lookup(t, &a, labels_hash(&a)),
	    SERIES_REF_NONE);
	assert_int_equal(series_lookup(t, &b, labels_hash(&b)), rb);
	assert_int_equal(series_count(t), 1);

	/* The freed ref is handed out again, as a new series. */
	rc = series_get_or_add(t, &c, labels_hash(&c), &created);
	assert_int_equal(created, 1);
	assert_int_equal(rc, ra);
	series_labels(t, rc, &a);
	assert_true(labels_equal(&a, &c));

	/* Symbols go when their last series does. */
	series_release(t, rb);
	series_release(t, rc);
	series_mem_bytes(t, &strings1);
	assert_true(strings1 > strings0);
	assert_int_equal(series_gc(t, NULL, NULL), 2);
	assert_int_equal(series_count(t), 0);
	series_mem_bytes(t, &strings1);
	assert_int_equal(strings1, strings0);

	/* Releasing an unheld or unknown ref is logged and ignored. */
	series_release(t, rc);
	series_release(t, 12345);
	assert_int_equal(series_gc(t, NULL, NULL), 0);

	labels_free(&a);
	labels_free(&b);
	labels_free(&c);
	arena_free(&ar);
	series_table_free(t);
}

/* Many series in and out: the index must stay consistent. */
static void
test_churn(void **state)
{
	struct series_table *t = series_table_create();
	struct labels ls = LABELS_INIT, out = LABELS_INIT;
	struct arena ar = ARENA_INIT;
	series_ref *refs;
	int i, n = 20000, round;

	(void)state;
	refs = xcalloc((size_t)n, sizeof *refs);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < n; i++) {
			if (refs[i] != SERIES_REF_NONE)
				continue;
			make_labels(&ls, &ar, i % 3 ? "metric_a" : "metric_b",
			    "job", i);
			refs[i] = series_get_or_add(t, &ls, labels_hash(&ls),
			    NULL);
		}
		assert_int_equal(series_count(t), (size_t)n);
		/* Drop every other (shifted each round) and collect. */
		for (i = round % 2; i < n; i += 2) {
			series_release(t, refs[i]);
			refs[i] = SERIES_REF_NONE;
		}
		assert_int_equal(series_gc(t, NULL, NULL), (size_t)n / 2);
		for (i = 0; i < n; i++) {
			make_labels(&ls, &ar, i % 3 ? "metric_a" : "metric_b",
			    "job", i);
			assert_int_equal(series_lookup(t, &ls,
			    labels_hash(&ls)), refs[i]);
			if (refs[i] != SERIES_REF_NONE) {
				series_labels(t, refs[i], &out);
				assert_true(labels_equal(&out, &ls));
			}
		}
		arena_reset(&ar);
	}
	free(refs);
	labels_free(&ls);
	labels_free(&out);
	arena_free(&ar);
	series_table_free(t);
}

/* The size target: at most 48 bytes per series beyond the strings. */
static void
test_memory_per_series(void **state)
{
	struct series_table *t = series_table_create();
	struct labels ls = LABELS_INIT;
	struct arena ar = ARENA_INIT;
	size_t table, strings, n = 50000, i;
	char v[32];

	(void)state;
	for (i = 0; i < n; i++) {
		/* A node_exporter-like series: five labels. */
		labels_reset(&ls);
		labels_push(&ls, LSTR("__name__"),
		    LSTR("node_cpu_seconds_total"));
		snprintf(v, sizeof v, "%zu", i / 2);
		labels_push(&ls, LSTR("cpu"), (struct lstr){
		    arena_strndup(&ar, v, strlen(v)), strlen(v) });
		labels_push(&ls, LSTR("instance"), LSTR("host:9100"));
		labels_push(&ls, LSTR("job"), LSTR("node"));
		labels_push(&ls, LSTR("mode"), i % 2 ? LSTR("user") :
		    LSTR("system"));
		labels_sort(&ls);
		series_get_or_add(t, &ls, labels_hash(&ls), NULL);
	}
	assert_int_equal(series_count(t), n);
	table = series_mem_bytes(t, &strings);
	print_message("series: %zu series, %.1f B/series table, %.1f "
	    "B/series strings\n", series_count(t),
	    (double)table / (double)series_count(t),
	    (double)strings / (double)series_count(t));
	assert_true(table / series_count(t) <= 48);
	labels_free(&ls);
	arena_free(&ar);
	series_table_free(t);
}

/* A label set far larger than a pool chunk. */
static void
test_huge_label_set(void **state)
{
	struct series_table *t = series_table_create();
	struct labels ls = LABELS_INIT, out = LABELS_INIT;
	struct arena ar = ARENA_INIT;
	series_ref r, r2;
	char name[32];
	int i, n = 20000;

	(void)state;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "l%06d", i);
		labels_push(&ls, (struct lstr){ arena_strndup(&ar, name,
		    strlen(name)), strlen(name) }, LSTR("v"));
	}
	labels_push(&ls, LSTR("__name__"), LSTR("big"));
	labels_sort(&ls);
	r = series_get_or_add(t, &ls, labels_hash(&ls), NULL);
	series_labels(t, r, &out);
	assert_true(labels_equal(&out, &ls));
	series_release(t, r);
	assert_int_equal(series_gc(t, NULL, NULL), 1);
	/* Its block is reused for the next set of the same size. */
	r2 = series_get_or_add(t, &ls, labels_hash(&ls), NULL);
	assert_int_equal(r2, r);
	series_labels(t, r2, &out);
	assert_true(labels_equal(&out, &ls));
	labels_free(&ls);
	labels_free(&out);
	arena_free(&ar);
	series_table_free(t);
	series_table_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_and_lookup),
		cmocka_unit_test(test_gc_and_ref_reuse),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_memory_per_series),
		cmocka_unit_test(test_huge_label_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
