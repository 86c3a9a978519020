/*
 * libFuzzer target for the text parser: every input is parsed in both
 * formats and both name modes, each series decoded, interned in a series
 * table and looked up through a scrape cache, and the results checked
 * against the invariants the scrape loop relies on. Then the scrape loop's
 * shortcut (textparse_peek_series, and textparse_next_known for series the
 * cache knows) reads a second page in lockstep with textparse_next, and
 * every entry must come out the same. The second page is what follows a
 * line holding only \x01, or the same page again. Any violation traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "textparse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static void
fuzz_check_labels(const struct labels *ls)
{
	size_t i;

	FUZZ_CHECK(ls->n > 0);
	FUZZ_CHECK(labels_get(ls, LSTR(LABELS_METRIC_NAME)) != NULL);
	for (i = 0; i < ls->n; i++) {
		FUZZ_CHECK(ls->v[i].name.len > 0);
		FUZZ_CHECK(ls->v[i].value.len > 0);
		if (i > 0)
			FUZZ_CHECK(lstr_cmp(ls->v[i - 1].name,
			    ls->v[i].name) < 0);
	}
}

/* Page b read both ways, with the cache filled from page a. */
static void
fuzz_known(struct scrape_cache *c, const char *b, size_t n,
    enum textparse_format fmt, int utf8)
{
	struct textparse p, q;
	enum textparse_entry kp, kq;
	struct lstr raw, sp, sq;
	int64_t tp = 0, tq = 0;
	double vp, vq;
	int hp, hq, known;

	textparse_init(&p, b, n, fmt);
	textparse_init(&q, b, n, fmt);
	textparse_set_utf8_names(&p, utf8);
	textparse_set_utf8_names(&q, utf8);
	scrape_cache_begin(c);
	do {
		known = 0;
		if (textparse_peek_series(&p, &raw)) {
			FUZZ_CHECK(fmt == TEXTPARSE_PROMTEXT);
			FUZZ_CHECK(raw.p >= b && raw.p + raw.len <= b + n);
			known = scrape_cache_get(c, raw) != NULL;
		}
		kp = known ? textparse_next_known(&p) : textparse_next(&p);
		kq = textparse_next(&q);
		FUZZ_CHECK(kp == kq);
		if (kp == TEXTPARSE_ERROR)
			FUZZ_CHECK(strcmp(textparse_error(&p),
			    textparse_error(&q)) == 0);
		if (kp != TEXTPARSE_SERIES)
			continue;
		sp = textparse_series(&p);
		sq = textparse_series(&q);
		FUZZ_CHECK(sp.p == sq.p && sp.len == sq.len);
		vp = textparse_value(&p);
		vq = textparse_value(&q);
		FUZZ_CHECK(memcmp(&vp, &vq, sizeof vp) == 0);
		hp = textparse_timestamp(&p, &tp);
		hq = textparse_timestamp(&q, &tq);
		FUZZ_CHECK(hp == hq && tp == tq);
	} while (kp > TEXTPARSE_EOF);
}

static void
fuzz_one(const char *data, size_t size, const char *b, size_t bn,
    enum textparse_format fmt, int utf8)
{
	struct series_table *t = series_table_create();
	struct scrape_cache *c = scrape_cache_create(t, 0x5eed);
	struct buf scratch = BUF_INIT, help = BUF_INIT;
	struct labels ls = LABELS_INIT, back = LABELS_INIT;
	struct scrape_cache_entry *e;
	struct textparse p;
	enum textparse_entry kind;
	struct lstr raw;
	series_ref ref;
	uint64_t bits;
	int64_t ts;
	double v;

	textparse_init(&p, data, size, fmt);
	textparse_set_utf8_names(&p, utf8);
	scrape_cache_begin(c);
	while ((kind = textparse_next(&p)) > TEXTPARSE_EOF) {
		if (kind == TEXTPARSE_HELP)
			(void)textparse_help(&p, &help);
		if (kind != TEXTPARSE_SERIES)
			continue;
		raw = textparse_series(&p);
		FUZZ_CHECK(raw.len > 0 && raw.p >= data &&
		    raw.p + raw.len <= data + size);
		v = textparse_value(&p);
		memcpy(&bits, &v, sizeof bits);
		FUZZ_CHECK(bits != STALE_NAN_BITS);
		(void)textparse_timestamp(&p, &ts);
		(void)textparse_type(&p);
		if (textparse_labels(&p, &ls, &scratch) == -1) {
			FUZZ_CHECK(textparse_next(&p) == TEXTPARSE_ERROR);
			break;
		}
		fuzz_check_labels(&ls);
		if ((e = scrape_cache_get(c, raw)) == NULL) {
			ref = series_get_or_add(t, &ls, labels_hash(&ls),
			    NULL);
			e = scrape_cache_put(c, raw, ref, 0);
		}
		scrape_cache_seen(c, e);
		/* The same raw text always gives the same labels. */
		series_labels(t, e->ref, &back);
		FUZZ_CHECK(labels_equal(&back, &ls));
	}
	if (kind == TEXTPARSE_ERROR) {
		FUZZ_CHECK(textparse_error(&p)[0] != '\0');
		scrape_cache_all_stale(c, NULL, NULL);
	} else
		scrape_cache_end(c, NULL, NULL);
	fuzz_known(c, b, bn, fmt, utf8);
	scrape_cache_free(c);
	series_gc(t, NULL, NULL);
	FUZZ_CHECK(series_count(t) == 0);
	series_table_free(t);
	labels_free(&ls);
	labels_free(&back);
	buf_free(&scratch);
	buf_free(&help);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies, so reading past the end is caught. */
	const uint8_t *cut = memmem(data, size, "\n\x01\n", 3);
	size_t an = cut != NULL ? (size_t)(cut - data) + 1 : size;
	size_t bn = cut != NULL ? size - an - 2 : size;
	char *a = malloc(an == 0 ? 1 : an), *b = malloc(bn == 0 ? 1 : bn);

	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return 0;
	}
	memcpy(a, data, an);
	memcpy(b, data + size - bn, bn);
	fuzz_one(a, an, b, bn, TEXTPARSE_PROMTEXT, 0);
	fuzz_one(a, an, b, bn, TEXTPARSE_PROMTEXT, 1);
	fuzz_one(a, an, b, bn, TEXTPARSE_OPENMETRICS, 0);
	fuzz_one(a, an, b, bn, TEXTPARSE_OPENMETRICS, 1);
	free(a);
	free(b);
	return 0;
}
