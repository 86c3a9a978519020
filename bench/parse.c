/*
 * Parser micro-benchmark (not a test): parses metric pages N times and
 * prints throughput for
 *
 *	parse	textparse_next() over every entry, nothing else
 *	cold	parse + textparse_labels() + labels_hash() + series lookup
 *		(series_get_or_add/series_release): the scrape path for a
 *		series the scrape cache does not know
 *	cached	parse + scrape cache hit + seen per series, and
 *		scrape_cache_end() per page: the steady-state scrape path
 *
 * and the memory of the series table holding every series of the pages.
 * Times are the thread's CPU time, so the figures are per core; each
 * figure is the best of -r repetitions of -n rounds, which filters out
 * the noise of a shared machine.
 *
 * usage: bench/parse [-n rounds] [-r reps] [-m parse|cold|cached]
 *	      [file|dir ...]
 * Default input: the pages of ../shared/conformance/pages; files whose
 * name contains ".om." are parsed as OpenMetrics.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "textparse.h"
#include "xmalloc.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

struct bench_page {
	char			*name;
	char			*data;
	size_t			 len;
	enum textparse_format	 format;
	size_t			 samples;
	struct scrape_cache	*cache;
};

struct bench {
	struct bench_page	*pages;
	size_t			 npages;
	struct series_table	*series;
	struct labels		 ls;
	struct buf		 scratch;
};

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_read(const char *path, struct buf *b)
{
	char tmp[65536];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(b, tmp, n);
	fclose(f);
	return 0;
}

/* Parse once to count samples; pages that do not parse are left out. */
static void
bench_add(struct bench *bn, const char *path)
{
	struct buf b = BUF_INIT;
	struct bench_page pg;
	struct textparse p;
	enum textparse_entry e;
	const char *base;

	if (bench_read(path, &b) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return;
	}
	base = strrchr(path, '/') == NULL ? path : strrchr(path, '/') + 1;
	memset(&pg, 0, sizeof pg);
	pg.name = xstrdup(base);
	pg.len = b.len;
	pg.data = buf_steal(&b);
	pg.format = strstr(base, ".om.") != NULL ? TEXTPARSE_OPENMETRICS :
	    TEXTPARSE_PROMTEXT;
	textparse_init(&p, pg.data, pg.len, pg.format);
	while ((e = textparse_next(&p)) > TEXTPARSE_EOF) {
		if (e != TEXTPARSE_SERIES)
			continue;
		if (textparse_labels(&p, &bn->ls, &bn->scratch) == -1) {
			e = TEXTPARSE_ERROR;
			break;
		}
		pg.samples++;
	}
	if (e == TEXTPARSE_ERROR) {
		fprintf(stderr, "skipping %s: %s\n", path,
		    textparse_error(&p));
		free(pg.name);
		free(pg.data);
		return;
	}
	bn->pages = xreallocarray(bn->pages, bn->npages + 1,
	    sizeof *bn->pages);
	bn->pages[bn->npages++] = pg;
}

static void
bench_add_path(struct bench *bn, const char *path)
{
	struct dirent **names;
	struct stat st;
	char *full;
	int i, n;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		bench_add(bn, path);
		return;
	}
	if ((n = scandir(path, &names, NULL, alphasort)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			xasprintf(&full, "%s/%s", path, names[i]->d_name);
			bench_add(bn, full);
			free(full);
		}
		free(names[i]);
	}
	free(names);
}

static void
bench_parse_only(struct bench_page *pg)
{
	struct textparse p;

	textparse_init(&p, pg->data, pg->len, pg->format);
	while (textparse_next(&p) > TEXTPARSE_EOF)
		;
}

static void
bench_cold(struct bench *bn, struct bench_page *pg)
{
	struct textparse p;
	enum textparse_entry e;
	series_ref ref;

	textparse_init(&p, pg->data, pg->len, pg->format);
	while ((e = textparse_next(&p)) > TEXTPARSE_EOF) {
		if (e != TEXTPARSE_SERIES ||
		    textparse_labels(&p, &bn->ls, &bn->scratch) == -1)
			continue;
		ref = series_get_or_add(bn->series, &bn->ls,
		    labels_hash(&bn->ls), NULL);
		series_release(bn->series, ref);
	}
}

static void
bench_cached(struct bench *bn, struct bench_page *pg)
{
	struct scrape_cache_entry *ce;
	struct textparse p;
	enum textparse_entry e;
	struct lstr raw;
	series_ref ref;

	scrape_cache_begin(pg->cache);
	textparse_init(&p, pg->data, pg->len, pg->format);
	/* As scrape_parse_page(): known series skip the label scan. */
	for (;;) {
		if (textparse_peek_series(&p, &raw) &&
		    (ce = scrape_cache_get(pg->cache, raw)) != NULL)
			e = textparse_next_known(&p);
		else {
			ce = NULL;
			e = textparse_next(&p);
		}
		if (e <= TEXTPARSE_EOF)
			break;
		if (e != TEXTPARSE_SERIES)
			continue;
		raw = textparse_series(&p);
		if (ce == NULL &&
		    (ce = scrape_cache_get(pg->cache, raw)) == NULL) {
			textparse_labels(&p, &bn->ls, &bn->scratch);
			ref = series_get_or_add(bn->series, &bn->ls,
			    labels_hash(&bn->ls), NULL);
			ce = scrape_cache_put(pg->cache, raw, ref, 0);
		}
		scrape_cache_seen(pg->cache, ce);
	}
	scrape_cache_end(pg->cache, NULL, NULL);
}

static void
bench_report(const char *what, const char *page, double secs, size_t bytes,
    size_t samples)
{
	printf("%-8s %-40s %9.1f MB/s %8.2f Msamples/s %8.1f ns/sample\n",
	    what, page, (double)bytes / secs / 1e6,
	    (double)samples / secs / 1e6, secs * 1e9 / (double)samples);
}

int
main(int argc, char **argv)
{
	struct bench bn;
	struct bench_page *pg;
	static const char *const modes[] = { "parse", "cold", "cached" };
	size_t i, r, k, rounds = 100, reps = 5, bytes = 0, samples = 0;
	size_t strings, table;
	int m;
	double t0, t[3] = { 0, 0, 0 }, tp;
	const char *only = NULL;
	int c;

	memset(&bn, 0, sizeof bn);
	while ((c = getopt(argc, argv, "m:n:r:")) != -1) {
		if (c == 'n')
			rounds = strtoul(optarg, NULL, 10);
		else if (c == 'r')
			reps = strtoul(optarg, NULL, 10);
		else if (c == 'm')
			only = optarg;
		else {
			fprintf(stderr, "usage: %s [-n rounds] [-r reps] "
			    "[-m parse|cold|cached] [file|dir ...]\n",
			    argv[0]);
			return 2;
		}
	}
	if (rounds == 0)
		rounds = 1;
	if (reps == 0)
		reps = 1;
	if (optind == argc)
		bench_add_path(&bn, TOP_SRCDIR "/../shared/conformance/pages");
	for (; optind < argc; optind++)
		bench_add_path(&bn, argv[optind]);
	if (bn.npages == 0) {
		fprintf(stderr, "no pages\n");
		return 1;
	}
	bn.series = series_table_create();
	for (i = 0; i < bn.npages; i++) {
		bn.pages[i].cache = scrape_cache_create(bn.series, 0x5eed);
		bench_cached(&bn, &bn.pages[i]);	/* warm the caches */
		bytes += bn.pages[i].len;
		samples += bn.pages[i].samples;
	}
	printf("%zu pages, %zu bytes, %zu samples per round, best of %zu x "
	    "%zu rounds\n", bn.npages, bytes, samples, reps, rounds);

	for (i = 0; i < bn.npages; i++) {
		pg = &bn.pages[i];
		for (m = 0; m < 3; m++) {
			if (only != NULL && strcmp(only, modes[m]) != 0)
				continue;
			for (k = 0, tp = 0; k < reps; k++) {
				t0 = bench_now();
				for (r = 0; r < rounds; r++) {
					if (m == 0)
						bench_parse_only(pg);
					else if (m == 1)
						bench_cold(&bn, pg);
					else
						bench_cached(&bn, pg);
				}
				t0 = bench_now() - t0;
				if (k == 0 || t0 < tp)
					tp = t0;
			}
			t[m] += tp;
			bench_report(modes[m], pg->name, tp, pg->len * rounds,
			    pg->samples * rounds);
		}
	}
	for (m = 0; m < 3; m++) {
		if (only == NULL || strcmp(only, modes[m]) == 0)
			bench_report(modes[m], "(all pages)", t[m],
			    bytes * rounds, samples * rounds);
	}

	table = series_mem_bytes(bn.series, &strings);
	printf("series table: %zu series, %zu bytes (%.1f B/series), "
	    "interned strings %zu bytes (%.1f B/series)\n",
	    series_count(bn.series), table,
	    (double)table / (double)series_count(bn.series), strings,
	    (double)strings / (double)series_count(bn.series));

	for (i = 0; i < bn.npages; i++) {
		scrape_cache_free(bn.pages[i].cache);
		free(bn.pages[i].name);
		free(bn.pages[i].data);
	}
	free(bn.pages);
	series_table_free(bn.series);
	labels_free(&bn.ls);
	buf_free(&bn.scratch);
	return 0;
}
