/*
 * Conformance of the text parser with the corpora in ../shared/conformance:
 * the OpenMetrics parser suite, Prometheus's own text-format and
 * OpenMetrics parser tests, and prometheus/common's expfmt tests.
 *
 * Each case is "scraped" as the scrape loop does it: every entry is read,
 * every series decoded with textparse_labels(), and any error fails the
 * page. The result is compared with the case: rejected or not, and when
 * the case lists samples, the samples (label sets, values, timestamps,
 * raw series text, exemplars) and metadata entries.
 *
 * Disagreements are allowed only when listed below with the reason; a
 * listed case that agrees again fails the test too, so the list stays
 * exact. Prometheus's own cases are checked in UTF-8 name mode (what its
 * tests assume); every case is also run in the default legacy-name mode,
 * which must either agree or reject the page over a non-legacy name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "buf.h"
#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "textparse.h"
#include "xmalloc.h"

#define CONF_DIR	TOP_SRCDIR "/../shared/conformance"

struct conf_allow {
	const char	*suite;
	const char	*name;
	const char	*reason;
	int		 used;
};

#define OM_SEMANTIC "Prometheus's OpenMetrics parser checks syntax only: " \
	"this OpenMetrics semantic rule is not enforced and the scrape succeeds"

static struct conf_allow conf_allow[] = {
	{ "openmetrics", "bad_clashing_names_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_clashing_names_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_clashing_names_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_3", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_4", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_5", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_6", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_7", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_8", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_9", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_10", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_11", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_12", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_13", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_14", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_15", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_16", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_17", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_18", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_counter_values_19", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_exemplar_complex_chars", "exemplar label set "
	    "longer than 128 runes: Prometheus parses it and only fails to "
	    "store the exemplar (logged, the scrape succeeds); promlet drops "
	    "exemplars", 0 },
	{ "openmetrics", "bad_exemplars_6", "exemplar label set longer than "
	    "128 runes: as bad_exemplar_complex_chars", 0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_metric_types_0",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_metric_types_1",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_metric_types_2",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_samples_0", OM_SEMANTIC,
	    0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_samples_1", OM_SEMANTIC,
	    0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_samples_2", OM_SEMANTIC,
	    0 },
	{ "openmetrics", "bad_exemplars_on_unallowed_samples_3", OM_SEMANTIC,
	    0 },
	{ "openmetrics", "bad_grouping_or_ordering_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_3", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_4", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_5", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_6", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_7", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_8", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_9", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_grouping_or_ordering_10", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_3", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_6", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_7", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_8", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_9", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_10", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_11", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_12", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_13", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_histograms_14", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_info_and_stateset_values_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_info_and_stateset_values_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_metadata_in_wrong_place_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_metadata_in_wrong_place_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_metadata_in_wrong_place_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_extra_commas_2", "trailing comma in "
	    "a label set: Prometheus's OpenMetrics parser accepts it "
	    "(\"free trailing commas are allowed\")", 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_0",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_1",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_2",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_3",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_4",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_5",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_6",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_missing_or_invalid_labels_for_a_type_7",
	    OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_repeated_metadata_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_repeated_metadata_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_repeated_metadata_3", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_stateset_info_values_0", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_stateset_info_values_1", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_stateset_info_values_2", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_stateset_info_values_3", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_unit_6", OM_SEMANTIC, 0 },
	{ "openmetrics", "bad_unit_7", OM_SEMANTIC, 0 },

	{ "promtext", "common-expfmt/testTextParse/3", "negative timestamp "
	    "(decoy -1 -2): Prometheus's lexer takes only digits as a "
	    "timestamp and fails the scrape; expfmt is more lenient", 0 },
	{ "promtext", "common-expfmt/testTextParse/15", "TYPE gaugehistogram "
	    "is OpenMetrics-only: Prometheus's text parser rejects it", 0 },
	{ "promtext", "common-expfmt/testTextParse/16", "TYPE gauge_histogram "
	    "is not a text-format type: Prometheus's text parser rejects it",
	    0 },
	{ "promtext", "common-expfmt/testTextParse/17", "as testTextParse/16",
	    0 },
	{ "promtext", "common-expfmt/testTextParseError/0", "no newline at the "
	    "end: Prometheus's parser appends one and accepts the page", 0 },
	{ "promtext", "common-expfmt/testTextParseError/1", "\\t in a label "
	    "value: Prometheus keeps unknown escapes literally", 0 },
	{ "promtext", "common-expfmt/testTextParseError/2", "raw newline in a "
	    "label value: Prometheus's text lexer accepts it", 0 },
	{ "promtext", "common-expfmt/testTextParseError/7", "quantile not a "
	    "number: the scrape parser does not check le/quantile values", 0 },
	{ "promtext", "common-expfmt/testTextParseError/12", "second HELP "
	    "line: only expfmt checks metadata uniqueness", 0 },
	{ "promtext", "common-expfmt/testTextParseError/13", "second TYPE "
	    "line: only expfmt checks metadata uniqueness", 0 },
	{ "promtext", "common-expfmt/testTextParseError/14", "TYPE after "
	    "samples: only expfmt checks metadata order", 0 },
	{ "promtext", "common-expfmt/testTextParseError/19", "le not a "
	    "number: the scrape parser does not check le/quantile values", 0 },
	{ "promtext", "common-expfmt/testTextParseError/32", "le in hex: "
	    "the scrape parser does not check le values (promlet keeps them "
	    "as written)", 0 },
	{ "promtext", "common-expfmt/testTextParseError/33", "quantile in "
	    "hex: as testTextParseError/32", 0 },
	{ "promtext", "common-expfmt/testTextParseError/36", "\\x in a quoted "
	    "name: Prometheus keeps unknown escapes literally; the name is "
	    "valid UTF-8 (legacy-name mode rejects it)", 0 },
	{ "promtext", "common-expfmt/testTextParseError/38", "\\t in a quoted "
	    "name: kept literally, as testTextParseError/36", 0 },
	{ "promtext", "common-expfmt/testTextParseError/39", "raw newline in "
	    "a quoted metric name: Prometheus's lexer accepts it in UTF-8 "
	    "mode", 0 },
	{ "promtext", "common-expfmt/testTextParseError/40", "raw newline in "
	    "a quoted label name: as testTextParseError/39", 0 },
	{ "promtext", "common-expfmt/testTextParseError/43", "negative "
	    "histogram count: only expfmt checks histogram consistency", 0 },
	{ "promtext", "common-expfmt/testTextParseError/44", "negative bucket: "
	    "only expfmt checks histogram consistency", 0 },
	{ "promtext", "common-expfmt/testTextParseError/45", "as "
	    "testTextParseError/43", 0 },
	{ "promtext", "common-expfmt/testTextParseError/46", "as "
	    "testTextParseError/44", 0 },
};

struct conf_stats {
	const char	*suite;
	unsigned	 total;
	unsigned	 agree;
	unsigned	 allowed;
	unsigned	 bad;
	unsigned	 legacy_bad;
};

/* One parsed page: samples and metadata entries as comparable strings. */
struct conf_page {
	int		 ok;
	char		 err[300];
	char		**samples;	/* canonical "labels value ts" */
	char		**raws;
	char		**exemplars;	/* "value ts" or "" */
	size_t		 nsamples;
	char		**entries;
	size_t		 nentries;
};

static void
conf_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = s;
}

static void
conf_page_free(struct conf_page *pg)
{
	size_t i;

	for (i = 0; i < pg->nsamples; i++) {
		free(pg->samples[i]);
		free(pg->raws[i]);
		free(pg->exemplars[i]);
	}
	for (i = 0; i < pg->nentries; i++)
		free(pg->entries[i]);
	free(pg->samples);
	free(pg->raws);
	free(pg->exemplars);
	free(pg->entries);
	memset(pg, 0, sizeof *pg);
}

static void
conf_put_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\')
			buf_puts(b, "\\\\");
		else if (s[i] == '"')
			buf_puts(b, "\\\"");
		else if (s[i] == '\n')
			buf_puts(b, "\\n");
		else if (s[i] == '\0')
			buf_puts(b, "\\0");
		else
			buf_putc(b, s[i]);
	}
}

static void
conf_put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else
		buf_printf(b, "%.17g", v);
}

/*
 * le and quantile stay as written in promlet while current Prometheus
 * rewrites them to a float format: compare their numeric values.
 */
static void
conf_put_label_value(struct buf *b, const char *name, const char *v,
    size_t n)
{
	char tmp[64], *end;
	double d;

	if ((strcmp(name, "le") == 0 || strcmp(name, "quantile") == 0) &&
	    n > 0 && n < sizeof tmp) {
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		d = strtod(tmp, &end);
		if (*end == '\0') {
			buf_putc(b, '#');
			conf_put_value(b, d);
			return;
		}
	}
	conf_put_escaped(b, v, n);
}

struct conf_label {
	const char	*name;
	size_t		 nlen;
	const char	*value;
	size_t		 vlen;
};

static int
conf_label_cmp(const void *a, const void *b)
{
	const struct conf_label *x = a, *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c;

	if ((c = memcmp(x->name, y->name, n)) != 0)
		return c;
	return x->nlen < y->nlen ? -1 : x->nlen > y->nlen;
}

static char *
conf_sample_key(struct conf_label *l, size_t n, double v, int has_ts,
    long long ts)
{
	struct buf b = BUF_INIT;
	char name[256];
	size_t i;

	qsort(l, n, sizeof *l, conf_label_cmp);
	buf_putc(&b, '{');
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%.*s", (int)l[i].nlen, l[i].name);
		if (i > 0)
			buf_putc(&b, ',');
		conf_put_escaped(&b, l[i].name, l[i].nlen);
		buf_puts(&b, "=\"");
		conf_put_label_value(&b, name, l[i].value, l[i].vlen);
		buf_putc(&b, '"');
	}
	buf_puts(&b, "} ");
	conf_put_value(&b, v);
	if (has_ts)
		buf_printf(&b, " @%lld", ts);
	return buf_steal(&b);
}

static const char *
conf_type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_TYPE_COUNTER:
		return "counter";
	case METRIC_TYPE_GAUGE:
		return "gauge";
	case METRIC_TYPE_HISTOGRAM:
		return "histogram";
	case METRIC_TYPE_GAUGEHISTOGRAM:
		return "gaugehistogram";
	case METRIC_TYPE_SUMMARY:
		return "summary";
	case METRIC_TYPE_INFO:
		return "info";
	case METRIC_TYPE_STATESET:
		return "stateset";
	default:
		return "unknown";
	}
}

static char *
conf_entry(const char *kind, struct lstr a, struct lstr b)
{
	struct buf out = BUF_INIT;

	buf_puts(&out, kind);
	buf_putc(&out, '|');
	conf_put_escaped(&out, a.p, a.len);
	buf_putc(&out, '|');
	conf_put_escaped(&out, b.p, b.len);
	return buf_steal(&out);
}

/*
 * The page again the way the scrape loop reads a page it has seen: series
 * texts the cache knows go through textparse_next_known(). Every entry,
 * and the error if any, must be what textparse_next() gives.
 */
static void
conf_scrape_known(const char *data, size_t len, enum textparse_format fmt,
    int utf8, struct scrape_cache *c)
{
	struct textparse p, q;
	enum textparse_entry kp, kq;
	struct lstr raw, sp, sq;
	int64_t tp = 0, tq = 0;
	double vp, vq;

	textparse_init(&p, data, len, fmt);
	textparse_init(&q, data, len, fmt);
	textparse_set_utf8_names(&p, utf8);
	textparse_set_utf8_names(&q, utf8);
	scrape_cache_begin(c);
	do {
		if (textparse_peek_series(&p, &raw) &&
		    scrape_cache_get(c, raw) != NULL)
			kp = textparse_next_known(&p);
		else
			kp = textparse_next(&p);
		kq = textparse_next(&q);
		assert_int_equal(kp, kq);
		if (kp == TEXTPARSE_ERROR)
			assert_string_equal(textparse_error(&p),
			    textparse_error(&q));
		if (kp != TEXTPARSE_SERIES)
			continue;
		sp = textparse_series(&p);
		sq = textparse_series(&q);
		assert_ptr_equal(sp.p, sq.p);
		assert_int_equal(sp.len, sq.len);
		vp = textparse_value(&p);
		vq = textparse_value(&q);
		assert_memory_equal(&vp, &vq, sizeof vp);
		assert_int_equal(textparse_timestamp(&p, &tp),
		    textparse_timestamp(&q, &tq));
		assert_true(tp == tq);
	} while (kp > TEXTPARSE_EOF);
}

/* Scrape one page the way the scrape loop does. */
static void
conf_scrape(const char *data, size_t len, enum textparse_format fmt,
    int utf8, struct conf_page *pg)
{
	struct buf scratch = BUF_INIT, help = BUF_INIT, ex = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct conf_label *cl = NULL;
	struct series_table *st = series_table_create();
	struct scrape_cache *c = scrape_cache_create(st, 0x5eed);
	struct textparse p;
	enum textparse_entry e;
	struct lstr raw, empty = { "", 0 };
	const char *tname;
	int64_t ts, exts;
	double exv;
	int exhas;
	size_t i, n;

	memset(pg, 0, sizeof *pg);
	textparse_init(&p, data, len, fmt);
	textparse_set_utf8_names(&p, utf8);
	while ((e = textparse_next(&p)) != TEXTPARSE_EOF) {
		if (e == TEXTPARSE_ERROR)
			break;
		switch (e) {
		case TEXTPARSE_HELP:
			conf_push(&pg->entries, &pg->nentries, conf_entry(
			    "help", textparse_family(&p),
			    textparse_help(&p, &help)));
			continue;
		case TEXTPARSE_TYPE:
			tname = conf_type_name(textparse_type(&p));
			conf_push(&pg->entries, &pg->nentries, conf_entry(
			    "type", textparse_family(&p),
			    (struct lstr){ tname, strlen(tname) }));
			continue;
		case TEXTPARSE_UNIT:
			conf_push(&pg->entries, &pg->nentries, conf_entry(
			    "unit", textparse_family(&p), textparse_text(&p)));
			continue;
		case TEXTPARSE_COMMENT:
			conf_push(&pg->entries, &pg->nentries, conf_entry(
			    "comment", textparse_text(&p), empty));
			continue;
		default:
			break;
		}
		if (textparse_labels(&p, &ls, &scratch) == -1) {
			e = TEXTPARSE_ERROR;
			break;
		}
		cl = xreallocarray(cl, ls.n + 1, sizeof *cl);
		for (i = 0; i < ls.n; i++) {
			cl[i].name = ls.v[i].name.p;
			cl[i].nlen = ls.v[i].name.len;
			cl[i].value = ls.v[i].value.p;
			cl[i].vlen = ls.v[i].value.len;
		}
		ts = 0;
		n = pg->nsamples++;
		pg->samples = xreallocarray(pg->samples, n + 1,
		    sizeof *pg->samples);
		pg->raws = xreallocarray(pg->raws, n + 1, sizeof *pg->raws);
		pg->exemplars = xreallocarray(pg->exemplars, n + 1,
		    sizeof *pg->exemplars);
		exhas = textparse_timestamp(&p, &ts);
		pg->samples[n] = conf_sample_key(cl, ls.n, textparse_value(&p),
		    exhas, (long long)ts);
		raw = textparse_series(&p);
		pg->raws[n] = xstrndup(raw.p, raw.len);
		if (scrape_cache_get(c, raw) == NULL)
			scrape_cache_put(c, raw, SERIES_REF_NONE, 1);
		if (textparse_exemplar(&p, &exv, &exts, &exhas)) {
			buf_reset(&ex);
			conf_put_value(&ex, exv);
			if (exhas)
				buf_printf(&ex, " @%lld", (long long)exts);
			pg->exemplars[n] = xstrdup(ex.data);
		} else
			pg->exemplars[n] = xstrdup("");
		conf_push(&pg->entries, &pg->nentries,
		    xstrdup(pg->samples[n]));
	}
	pg->ok = e == TEXTPARSE_EOF;
	if (!pg->ok)
		snprintf(pg->err, sizeof pg->err, "%s", textparse_error(&p));
	conf_scrape_known(data, len, fmt, utf8, c);
	scrape_cache_free(c);
	series_table_free(st);
	free(cl);
	labels_free(&ls);
	buf_free(&scratch);
	buf_free(&help);
	buf_free(&ex);
}

static char *
conf_read_file(const char *path, size_t *len)
{
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static int
conf_have_dir(void)
{
	struct stat st;

	return stat(CONF_DIR, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct conf_allow *
conf_find_allow(const char *suite, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof conf_allow / sizeof conf_allow[0]; i++) {
		if (strcmp(conf_allow[i].suite, suite) == 0 &&
		    strcmp(conf_allow[i].name, name) == 0)
			return &conf_allow[i];
	}
	return NULL;
}

/* Record one case's verdict; diff is NULL when it agrees. */
static void
conf_verdict(struct conf_stats *st, const char *name, const char *diff)
{
	struct conf_allow *a = conf_find_allow(st->suite, name);

	st->total++;
	if (a != NULL) {
		a->used = 1;
		if (diff == NULL) {
			print_message("%s: %s: listed as a disagreement but "
			    "agrees now: remove it from the allow-list\n",
			    st->suite, name);
			st->bad++;
		} else
			st->allowed++;
		return;
	}
	if (diff == NULL) {
		st->agree++;
		return;
	}
	print_message("%s: %s: %s\n", st->suite, name, diff);
	st->bad++;
}

/*
 * Legacy-name mode must agree with UTF-8 mode or reject the page because
 * of a name.
 */
static void
conf_check_legacy(struct conf_stats *st, const char *name, const char *data,
    size_t len, enum textparse_format fmt, const struct conf_page *utf8,
    int legacy_must_fail)
{
	struct conf_page pg;
	size_t i;
	int same;

	conf_scrape(data, len, fmt, 0, &pg);
	if (!pg.ok) {
		if (utf8->ok && strstr(pg.err, "invalid metric name") == NULL &&
		    strstr(pg.err, "invalid label name") == NULL) {
			print_message("%s: %s: legacy mode fails for another "
			    "reason: %s\n", st->suite, name, pg.err);
			st->legacy_bad++;
		}
		conf_page_free(&pg);
		return;
	}
	same = utf8->ok && pg.nsamples == utf8->nsamples;
	for (i = 0; same && i < pg.nsamples; i++)
		same = strcmp(pg.samples[i], utf8->samples[i]) == 0;
	if (!same || legacy_must_fail) {
		print_message("%s: %s: legacy mode %s\n", st->suite, name,
		    legacy_must_fail ? "accepts a non-legacy name" :
		    "disagrees with UTF-8 mode");
		st->legacy_bad++;
	}
	conf_page_free(&pg);
}

static void
conf_report(const struct conf_stats *st)
{
	print_message("%s: %u cases: %u agree, %u listed disagreements, "
	    "%u unexplained, %u legacy-mode problems\n", st->suite, st->total,
	    st->agree, st->allowed, st->bad, st->legacy_bad);
}

static void
test_openmetrics_suite(void **state)
{
	struct conf_stats st = { "openmetrics", 0, 0, 0, 0, 0 };
	json_t *root, *cases, *c;
	json_error_t jerr;
	struct conf_page pg;
	char path[4096], diff[512], *data;
	const char *name, *file;
	size_t i, len;
	int should;

	(void)state;
	if (!conf_have_dir())
		skip();
	root = json_load_file(CONF_DIR "/openmetrics/index.json", 0, &jerr);
	assert_non_null(root);
	cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases));
	json_array_foreach(cases, i, c) {
		name = json_string_value(json_object_get(c, "case"));
		file = json_string_value(json_object_get(c, "file"));
		should = json_is_true(json_object_get(c, "shouldParse"));
		assert_non_null(name);
		assert_non_null(file);
		snprintf(path, sizeof path, "%s/openmetrics/%s", CONF_DIR,
		    file);
		data = conf_read_file(path, &len);
		assert_non_null(data);
		conf_scrape(data, len, TEXTPARSE_OPENMETRICS, 0, &pg);
		if (pg.ok == should)
			conf_verdict(&st, name, NULL);
		else {
			snprintf(diff, sizeof diff, "%s", should ?
			    pg.err : "accepted, should be rejected");
			conf_verdict(&st, name, diff);
		}
		conf_page_free(&pg);
		free(data);
	}
	json_decref(root);
	conf_report(&st);
	assert_int_equal(st.total, 211);
	assert_int_equal(st.bad, 0);
}

static char *
conf_b64(const char *in, size_t *len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), i, o = 0;
	unsigned v = 0, bits = 0;
	const char *p;
	char *out = xmalloc(n + 1);

	for (i = 0; i < n && in[i] != '='; i++) {
		if ((p = strchr(tab, in[i])) == NULL)
			continue;
		v = (v << 6) | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Expected sample key and raw text from a case's "expect" item. */
static char *
conf_expected_key(json_t *x)
{
	json_t *labels = json_object_get(x, "labels"), *ts, *v;
	struct conf_label *cl;
	const char *k;
	size_t n = 0;
	double value;
	char *key;

	cl = xcalloc(json_object_size(labels) + 1, sizeof *cl);
	json_object_foreach(labels, k, v) {
		cl[n].name = k;
		cl[n].nlen = strlen(k);
		cl[n].value = json_string_value(v);
		cl[n].vlen = json_string_length(v);
		n++;
	}
	value = strtod(json_string_value(json_object_get(x, "value")), NULL);
	ts = json_object_get(x, "timestamp_ms");
	key = conf_sample_key(cl, n, value, json_is_integer(ts),
	    json_is_integer(ts) ? (long long)json_integer_value(ts) : 0);
	free(cl);
	return key;
}

static char *
conf_expected_exemplar(json_t *x)
{
	json_t *ex = json_object_get(x, "exemplars"), *e, *ts;
	struct buf b = BUF_INIT;

	if (!json_is_array(ex) || json_array_size(ex) == 0)
		return xstrdup("");
	e = json_array_get(ex, 0);
	conf_put_value(&b, strtod(json_string_value(json_object_get(e,
	    "value")), NULL));
	ts = json_object_get(e, "timestamp_ms");
	if (json_is_integer(ts))
		buf_printf(&b, " @%lld", (long long)json_integer_value(ts));
	return buf_steal(&b);
}

static char *
conf_expected_entry(json_t *x)
{
	const char *kind = json_string_value(json_object_get(x, "kind"));
	const char *metric, *text = NULL, *t;
	json_t *j;

	if (strcmp(kind, "series") == 0)
		return conf_expected_key(x);
	if (strcmp(kind, "comment") == 0) {
		j = json_object_get(x, "comment");
		return conf_entry("comment", (struct lstr){
		    json_string_value(j), json_string_length(j) },
		    (struct lstr){ "", 0 });
	}
	metric = json_string_value(json_object_get(x, "metric"));
	j = json_object_get(x, kind);
	text = json_string_value(j);
	if (strcmp(kind, "type") == 0) {
		t = strcmp(text, "untyped") == 0 ? "unknown" : text;
		return conf_entry(kind, (struct lstr){ metric, strlen(metric) },
		    (struct lstr){ t, strlen(t) });
	}
	return conf_entry(kind, (struct lstr){ metric, strlen(metric) },
	    (struct lstr){ text, json_string_length(j) });
}

static int
conf_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compare parsed samples with "expect"; returns a message or NULL. */
static const char *
conf_compare(json_t *c, const struct conf_page *pg, int ordered, char *diff,
    size_t len)
{
	json_t *expect = json_object_get(c, "expect"), *x, *entries;
	char **want, **have, *s;
	const char *raw, *r;
	size_t i, n;
	int bad = 0;

	n = json_array_size(expect);
	if (n != pg->nsamples) {
		snprintf(diff, len, "%zu samples, expected %zu", pg->nsamples,
		    n);
		return diff;
	}
	want = xcalloc(n + 1, sizeof *want);
	have = xcalloc(n + 1, sizeof *have);
	json_array_foreach(expect, i, x) {
		want[i] = conf_expected_key(x);
		have[i] = pg->samples[i];
		if (!ordered)
			continue;
		raw = json_string_value(json_object_get(x, "raw"));
		r = pg->raws[i];
		if (raw != NULL && strcmp(raw, r) != 0 && !bad) {
			snprintf(diff, len, "sample %zu: raw \"%s\", expected "
			    "\"%s\"", i, r, raw);
			bad = 1;
		}
		s = conf_expected_exemplar(x);
		if (strcmp(s, pg->exemplars[i]) != 0 && !bad) {
			snprintf(diff, len, "sample %zu: exemplar \"%s\", "
			    "expected \"%s\"", i, pg->exemplars[i], s);
			bad = 1;
		}
		free(s);
	}
	if (!ordered) {
		qsort(want, n, sizeof *want, conf_strcmp);
		qsort(have, n, sizeof *have, conf_strcmp);
	}
	for (i = 0; i < n && !bad; i++) {
		if (strcmp(want[i], have[i]) != 0) {
			snprintf(diff, len, "sample %zu: %s, expected %s", i,
			    have[i], want[i]);
			bad = 1;
		}
	}
	for (i = 0; i < n; i++)
		free(want[i]);
	free(want);
	free(have);

	entries = json_object_get(c, "entries");
	if (!bad && json_is_array(entries)) {
		n = json_array_size(entries);
		if (n != pg->nentries) {
			snprintf(diff, len, "%zu entries, expected %zu",
			    pg->nentries, n);
			return diff;
		}
		json_array_foreach(entries, i, x) {
			s = conf_expected_entry(x);
			if (strcmp(s, pg->entries[i]) != 0 && !bad) {
				snprintf(diff, len, "entry %zu: %s, expected "
				    "%s", i, pg->entries[i], s);
				bad = 1;
			}
			free(s);
		}
	}
	return bad ? diff : NULL;
}

static void
conf_run_json(const char *file, const char *suite,
    enum textparse_format fmt)
{
	struct conf_stats st = { suite, 0, 0, 0, 0, 0 };
	json_t *root, *c, *in, *err;
	json_error_t jerr;
	struct conf_page pg;
	char diff[1024], *data;
	const char *name, *d;
	size_t i, len;
	int ordered;

	root = json_load_file(file, JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		fail_msg("%s: %s", file, jerr.text);
	assert_true(json_is_array(root));
	json_array_foreach(root, i, c) {
		name = json_string_value(json_object_get(c, "name"));
		in = json_object_get(c, "input");
		if (json_is_string(in)) {
			len = json_string_length(in);
			data = xmemdup(json_string_value(in), len + 1);
		} else
			data = conf_b64(json_string_value(json_object_get(c,
			    "input_b64")), &len);
		err = json_object_get(c, "error");
		ordered = strncmp(name, "prometheus@", 11) == 0 ||
		    json_is_true(json_object_get(c, "expect_ordered"));
		conf_scrape(data, len, fmt, 1, &pg);
		d = NULL;
		if (json_is_true(err) && pg.ok)
			d = "accepted, should be rejected";
		else if (json_is_false(err) && !pg.ok)
			d = pg.err;
		else if (json_is_false(err) &&
		    json_is_array(json_object_get(c, "expect")))
			d = conf_compare(c, &pg, ordered, diff, sizeof diff);
		if (json_is_null(err)) {
			/* Only "must not crash": nothing to compare. */
			st.total++;
			st.agree++;
		} else
			conf_verdict(&st, name, d);
		conf_check_legacy(&st, name, data, len, fmt, &pg,
		    json_is_true(json_object_get(c,
		    "error_legacy_validation")) && !json_is_true(err));
		conf_page_free(&pg);
		free(data);
	}
	json_decref(root);
	conf_report(&st);
	assert_int_equal(st.bad, 0);
	assert_int_equal(st.legacy_bad, 0);
}

static void
test_promtext_cases(void **state)
{
	(void)state;
	if (!conf_have_dir())
		skip();
	conf_run_json(CONF_DIR "/promtext_cases.json", "promtext",
	    TEXTPARSE_PROMTEXT);
}

static void
test_omtext_cases(void **state)
{
	(void)state;
	if (!conf_have_dir())
		skip();
	conf_run_json(CONF_DIR "/omtext_cases.json", "omtext",
	    TEXTPARSE_OPENMETRICS);
}

/* Every allow-list entry must have matched a case that disagrees. */
static void
test_allow_list_used(void **state)
{
	size_t i;
	int unused = 0;

	(void)state;
	if (!conf_have_dir())
		skip();
	for (i = 0; i < sizeof conf_allow / sizeof conf_allow[0]; i++) {
		if (!conf_allow[i].used) {
			print_message("allow-list entry %s %s matches no "
			    "case\n", conf_allow[i].suite, conf_allow[i].name);
			unused++;
		}
	}
	assert_int_equal(unused, 0);
}

/* The real pages must parse, in their own format. */
static void
test_pages_parse(void **state)
{
	struct conf_page pg;
	struct dirent *de;
	char path[4096], *data;
	size_t len, n = 0;
	DIR *d;

	(void)state;
	if (!conf_have_dir())
		skip();
	assert_non_null(d = opendir(CONF_DIR "/pages"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/pages/%s", CONF_DIR,
		    de->d_name);
		assert_non_null(data = conf_read_file(path, &len));
		conf_scrape(data, len, strstr(de->d_name, ".om.") != NULL ?
		    TEXTPARSE_OPENMETRICS : TEXTPARSE_PROMTEXT, 0, &pg);
		if (!pg.ok)
			print_message("%s: %s\n", de->d_name, pg.err);
		assert_true(pg.ok);
		assert_true(pg.nsamples > 0);
		print_message("pages: %s: %zu samples\n", de->d_name,
		    pg.nsamples);
		conf_page_free(&pg);
		free(data);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openmetrics_suite),
		cmocka_unit_test(test_promtext_cases),
		cmocka_unit_test(test_omtext_cases),
		cmocka_unit_test(test_allow_list_used),
		cmocka_unit_test(test_pages_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
