/*
 * libFuzzer target for the text parser: every input is parsed in both
 * formats and both name modes, each series decoded, interned in a series
 * table and looked up through a scrape cache, and the results checked
 * against the invariants the scrape loop relies on. Any violation traps.
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

static void
fuzz_one(const char *data, size_t size, enum textparse_format fmt, int utf8)
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
	/* An exact-size copy, so reading past the end is caught. */
	char *copy = malloc(size == 0 ? 1 : size);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	fuzz_one(copy, size, TEXTPARSE_PROMTEXT, 0);
	fuzz_one(copy, size, TEXTPARSE_PROMTEXT, 1);
	fuzz_one(copy, size, TEXTPARSE_OPENMETRICS, 0);
	fuzz_one(copy, size, TEXTPARSE_OPENMETRICS, 1);
	free(copy);
	return 0;
}
