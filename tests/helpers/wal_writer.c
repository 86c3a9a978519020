/*
 * Drives a WAL for tests/faults/wal_kill.sh, which SIGKILLs it at random.
 *
 *	wal_writer init DIR		create the log and a "verify" cursor
 *	wal_writer write DIR RUN	append scrapes until killed
 *	wal_writer verify DIR		read what is left and exit
 *
 * Output lines (one write(2) each, so a kill never tears them):
 *	C run scrape	the scrape was committed (wal_commit() returned 0)
 *	V run scrape	reader "verify" got that whole scrape back, with
 *			the right labels, timestamps and value bits
 *	E message	something was wrong (exit status 1 follows)
 *
 * Each run names its series {__name__="m", id, run} and churns one series
 * per scrape (a drop record, then the ref reused for a new id), so replay
 * crosses ref reuse, run starts and checkpoints. Values are a function of
 * (run, scrape, id), special NaNs and -0 included, so the reader can check
 * every bit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "wal.h"
#include "xmalloc.h"

#define WW_SERIES	200
#define WW_T0		1600000000000ll

static void
ww_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ww_out(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n)
		_exit(3);
}

static double
ww_value(unsigned run, unsigned scrape, unsigned id)
{
	uint64_t b;
	double v;

	switch ((id + scrape) % 7) {
	case 0:
		b = 0x7ff0000000000002ull;	/* stale marker */
		memcpy(&v, &b, sizeof v);
		return v;
	case 1:
		return scrape % 2 ? -0.0 : 0.0;
	case 2:
		return (double)(run * 1000 + id);
	case 3:
		return (double)(scrape * (id + 1));
	case 4:
		return (double)(scrape * 37 + id) / 100;
	case 5:
		return sin((double)(run * 7 + scrape + id));
	default:
		b = 0x7ff8000000000000ull | (uint64_t)(run * 65536 + id);
		memcpy(&v, &b, sizeof v);
		return v;
	}
}

static struct wal *
ww_open(const char *dir)
{
	struct wal_options o = { .segment_bytes = 64 << 10,
	    .max_bytes = 256 << 20, .sync_interval_ms = 50 };
	struct wal *w;
	char *cause = NULL;

	if ((w = wal_open(dir, &o, loop_now_ms(), &cause)) == NULL) {
		ww_out("E open: %s\n", cause);
		exit(1);
	}
	return w;
}

/* ref -> (run, id) of the series the verify reader knows. */
struct ww_refs {
	unsigned	*run;
	unsigned	*id;
	size_t		 cap;
};

static void
ww_refs_set(struct ww_refs *m, series_ref ref, unsigned run, unsigned id)
{
	size_t n;

	if (ref >= m->cap) {
		n = m->cap == 0 ? 1024 : m->cap;
		while (n <= ref)
			n *= 2;
		m->run = xreallocarray(m->run, n, sizeof *m->run);
		m->id = xreallocarray(m->id, n, sizeof *m->id);
		memset(m->run + m->cap, 0xff, (n - m->cap) * sizeof *m->run);
		m->cap = n;
	}
	m->run[ref] = run;
	m->id[ref] = id;
}

static unsigned
ww_label_uint(const struct labels *ls, const char *name)
{
	const struct lstr *v = labels_get(ls, (struct lstr){ name,
	    strlen(name) });
	char tmp[32];

	if (v == NULL || v->len == 0 || v->len >= sizeof tmp)
		return UINT32_MAX;
	memcpy(tmp, v->p, v->len);
	tmp[v->len] = '\0';
	return (unsigned)strtoul(tmp, NULL, 10);
}

/* Read everything "verify" has, checking it; ack each whole scrape. */
static int
ww_verify(struct wal_reader *r, struct ww_refs *m)
{
	struct wal_record rec;
	const struct wal_sample *s;
	uint64_t want, got;
	unsigned run, id, scrape;
	size_t i;
	int rc;

	while ((rc = wal_reader_next(r, &rec, 0)) == 1) {
		switch (rec.type) {
		case WAL_RECORD_SERIES:
			run = ww_label_uint(&rec.labels, "run");
			id = ww_label_uint(&rec.labels, "id");
			if (run == UINT32_MAX || id == UINT32_MAX) {
				ww_out("E bad series labels ref=%u\n",
				    (unsigned)rec.ref);
				return -1;
			}
			ww_refs_set(m, rec.ref, run, id);
			break;
		case WAL_RECORD_DROP:
			for (i = 0; i < rec.nrefs; i++) {
				if (rec.refs[i] < m->cap)
					m->run[rec.refs[i]] = UINT32_MAX;
			}
			break;
		case WAL_RECORD_SAMPLES:
			if (rec.pos.index != 0 || rec.next.index != 0) {
				ww_out("E scrape split across reads\n");
				return -1;
			}
			s = rec.samples;
			if (rec.nsamples != WW_SERIES) {
				ww_out("E scrape has %zu samples\n",
				    rec.nsamples);
				return -1;
			}
			run = (unsigned)((s[0].t_ms - WW_T0) / 1000000000);
			scrape = (unsigned)((s[0].t_ms - WW_T0) % 1000000000);
			for (i = 0; i < rec.nsamples; i++) {
				if (s[i].ref >= m->cap ||
				    m->run[s[i].ref] != run ||
				    s[i].t_ms != s[0].t_ms) {
					ww_out("E sample %zu of %u/%u: ref %u "
					    "unknown or from another run\n", i,
					    run, scrape, (unsigned)s[i].ref);
					return -1;
				}
				id = m->id[s[i].ref];
				memcpy(&got, &s[i].v, sizeof got);
				{
					double e = ww_value(run, scrape, id);

					memcpy(&want, &e, sizeof want);
				}
				if (got != want) {
					ww_out("E value of %u/%u id %u: %016"
					    PRIx64 " want %016" PRIx64 "\n",
					    run, scrape, id, got, want);
					return -1;
				}
			}
			ww_out("V %u %u\n", run, scrape);
			break;
		}
		wal_reader_ack(r, &rec.next);
	}
	return rc;
}

static void
ww_series(struct wal *w, series_ref ref, unsigned run, unsigned id)
{
	struct labels ls = LABELS_INIT;
	char sid[16], srun[16];

	snprintf(sid, sizeof sid, "%u", id);
	snprintf(srun, sizeof srun, "%u", run);
	labels_push(&ls, LSTR("__name__"), LSTR("m"));
	labels_push(&ls, LSTR("id"), (struct lstr){ sid, strlen(sid) });
	labels_push(&ls, LSTR("run"), (struct lstr){ srun, strlen(srun) });
	labels_sort(&ls);
	if (wal_log_series(w, ref, &ls) != 0) {
		ww_out("E log series\n");
		exit(1);
	}
	labels_free(&ls);
}

static int
ww_write(const char *dir, unsigned run)
{
	struct wal *w = ww_open(dir);
	struct wal_reader *r;
	struct ww_refs m = { 0 };
	struct wal_sample s[WW_SERIES];
	unsigned id[WW_SERIES + 1], next_id = 0, scrape, i, victim;
	series_ref ref;
	char *cause = NULL;

	if ((r = wal_reader_open(w, "verify", &cause)) == NULL) {
		ww_out("E reader: %s\n", cause);
		return 1;
	}
	if (ww_verify(r, &m) != 0)
		return 1;
	for (i = 1; i <= WW_SERIES; i++) {
		id[i] = next_id++;
		ww_series(w, i, run, id[i]);
	}
	for (scrape = 0;; scrape++) {
		/* Churn: free one ref and reuse it for a new series. */
		victim = 1 + scrape * 37 % WW_SERIES;
		ref = victim;
		wal_log_drop(w, &ref, 1);
		id[victim] = next_id++;
		ww_series(w, victim, run, id[victim]);
		for (i = 0; i < WW_SERIES; i++) {
			s[i].ref = i + 1;
			s[i].t_ms = WW_T0 + (int64_t)run * 1000000000 + scrape;
			s[i].v = ww_value(run, scrape, id[i + 1]);
		}
		wal_log_samples(w, s, WW_SERIES);
		if (wal_commit(w) == 0)
			ww_out("C %u %u\n", run, scrape);
		else
			ww_out("E commit failed\n");
		if (scrape % 8 == 0 && ww_verify(r, &m) != 0)
			return 1;
		if (scrape % 16 == 0)
			wal_maintain(w, loop_now_ms());
		usleep(500);
	}
}

int
main(int argc, char **argv)
{
	struct wal *w;
	struct wal_reader *r;
	struct wal_stats st;
	struct ww_refs m = { 0 };
	char *cause = NULL;
	int rc = 0;

	log_setup(LOG_WARN, LOG_FORMAT_LOGFMT);
	if (argc == 3 && strcmp(argv[1], "init") == 0) {
		w = ww_open(argv[2]);
		r = wal_reader_open(w, "verify", &cause);
		wal_close(w);
		wal_reader_close(r);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return ww_write(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "verify") == 0) {
		w = ww_open(argv[2]);
		if ((r = wal_reader_open(w, "verify", &cause)) == NULL) {
			ww_out("E reader: %s\n", cause);
			return 1;
		}
		if (ww_verify(r, &m) != 0)
			rc = 1;
		wal_stats(w, &st);
		if (st.samples_lost_corrupt != 0 || st.samples_dropped_cap != 0
		    || wal_reader_dropped(r) != 0) {
			ww_out("E lost=%" PRIu64 " dropped=%" PRIu64 "\n",
			    st.samples_lost_corrupt, st.samples_dropped_cap);
			rc = 1;
		}
		wal_reader_close(r);
		wal_close(w);
		free(m.run);
		free(m.id);
		return rc;
	}
	fprintf(stderr, "usage: wal_writer init|write|verify DIR [RUN]\n");
	return 2;
}
