/* Unit tests for the write-ahead log: format, recovery, readers, limits. */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "wal.h"
#include "wal_int.h"
#include "xmalloc.h"

/* ---- helpers ---------------------------------------------------------- */

static uint64_t test_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
test_rand(void)
{
	test_rng ^= test_rng << 13;
	test_rng ^= test_rng >> 7;
	test_rng ^= test_rng << 17;
	return test_rng;
}

static uint64_t
test_bits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof b);
	return b;
}

static double
test_double(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof v);
	return v;
}

static char *
test_tmpdir(void)
{
	char tmpl[] = "/tmp/test_wal.XXXXXX";
	char *d = mkdtemp(tmpl), *sub;

	assert_non_null(d);
	/* A missing leaf: wal_open creates it (0700). */
	xasprintf(&sub, "%s/wal", d);
	return sub;
}

static void
test_rmdir(char *dir)
{
	DIR *d;
	struct dirent *de;
	char *p, *parent;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			xasprintf(&p, "%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
	parent = xstrdup(dir);
	*strrchr(parent, '/') = '\0';
	rmdir(parent);
	free(parent);
	free(dir);
}

static int
test_count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static uint64_t
test_file_size(const char *dir, const char *name)
{
	struct stat sb;
	char *p;

	xasprintf(&p, "%s/%s", dir, name);
	assert_int_equal(stat(p, &sb), 0);
	free(p);
	return (uint64_t)sb.st_size;
}

static struct wal *
test_open_at(const char *dir, const struct wal_options *o, int64_t now_ms)
{
	char *cause = NULL;
	struct wal *w = wal_open(dir, o, now_ms, &cause);

	if (w == NULL)
		fail_msg("wal_open: %s", cause);
	return w;
}

static struct wal *
test_open(const char *dir, const struct wal_options *o)
{
	return test_open_at(dir, o, loop_now_ms());
}

static void
test_labels(struct labels *ls, struct buf *store, const char *metric,
    unsigned id, const char *run)
{
	char tmp[64];

	/* Strings live in store, which must not move: reserve up front. */
	labels_reset(ls);
	snprintf(tmp, sizeof tmp, "%u", id);
	labels_push(ls, LSTR("__name__"), (struct lstr){ metric,
	    strlen(metric) });
	buf_reset(store);
	buf_reserve(store, 256);
	buf_puts(store, tmp);
	labels_push(ls, LSTR("id"), (struct lstr){ store->data,
	    strlen(tmp) });
	labels_push(ls, LSTR("job"), LSTR("node"));
	labels_push(ls, LSTR("run"), (struct lstr){ run, strlen(run) });
	labels_sort(ls);
}

static void
test_log_series(struct wal *w, series_ref ref, const char *metric,
    unsigned id, const char *run)
{
	struct labels ls = LABELS_INIT;
	struct buf store = BUF_INIT;

	test_labels(&ls, &store, metric, id, run);
	assert_int_equal(wal_log_series(w, ref, &ls), 0);
	labels_free(&ls);
	buf_free(&store);
}

/*
 * What an endpoint does with a reader: keeps ref -> labels, and turns
 * samples into (labels, t, value bits) lines, checked against a model.
 */
struct test_sink {
	char		**labels;	/* by ref */
	size_t		  cap;
	struct buf	  out;		/* "labels t bits\n" lines */
	uint64_t	  nsamples;
	uint64_t	  nseries;
	uint64_t	  ndrops;
	uint64_t	  dropped_refs;
	struct wal_pos	  last;
};

static void
test_sink_free(struct test_sink *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->labels[i]);
	free(s->labels);
	buf_free(&s->out);
	memset(s, 0, sizeof *s);
}

static void
test_sink_record(struct test_sink *s, const struct wal_record *rec)
{
	struct buf b = BUF_INIT;
	size_t i, n;

	assert_true(wal_pos_cmp(&rec->pos, &rec->next) < 0);
	switch (rec->type) {
	case WAL_RECORD_SERIES:
		if (rec->ref >= s->cap) {
			n = s->cap == 0 ? 64 : s->cap;
			while (n <= rec->ref)
				n *= 2;
			s->labels = xreallocarray(s->labels, n,
			    sizeof *s->labels);
			memset(s->labels + s->cap, 0,
			    (n - s->cap) * sizeof *s->labels);
			s->cap = n;
		}
		labels_format(&rec->labels, &b);
		free(s->labels[rec->ref]);
		s->labels[rec->ref] = buf_steal(&b);
		s->nseries++;
		break;
	case WAL_RECORD_DROP:
		for (i = 0; i < rec->nrefs; i++) {
			assert_true(rec->refs[i] < s->cap);
			free(s->labels[rec->refs[i]]);
			s->labels[rec->refs[i]] = NULL;
		}
		s->ndrops++;
		s->dropped_refs += rec->nrefs;
		break;
	case WAL_RECORD_SAMPLES:
		assert_true(rec->nsamples > 0);
		for (i = 0; i < rec->nsamples; i++) {
			const struct wal_sample *x = &rec->samples[i];

			if (x->ref >= s->cap || s->labels[x->ref] == NULL)
				fail_msg("sample for unknown ref %u",
				    (unsigned)x->ref);
			buf_printf(&s->out, "%s %" PRId64 " %016" PRIx64 "\n",
			    s->labels[x->ref], x->t_ms, test_bits(x->v));
		}
		s->nsamples += rec->nsamples;
		break;
	default:
		fail_msg("bad record type %d", rec->type);
	}
	s->last = rec->next;
}

/* Read until caught up; returns records read. */
static size_t
test_drain(struct wal_reader *r, struct test_sink *s, size_t max,
    int ack)
{
	struct wal_record rec;
	size_t n = 0;
	int rc;

	while ((rc = wal_reader_next(r, &rec, max)) == 1) {
		test_sink_record(s, &rec);
		if (ack)
			wal_reader_ack(r, &rec.next);
		n++;
	}
	assert_int_equal(rc, 0);
	return n;
}

/* The expected line for a sample, as test_sink_record prints it. */
static void
test_expect(struct buf *b, const char *metric, unsigned id, const char *run,
    int64_t t, double v)
{
	struct labels ls = LABELS_INIT;
	struct buf store = BUF_INIT;

	test_labels(&ls, &store, metric, id, run);
	labels_format(&ls, b);
	buf_printf(b, " %" PRId64 " %016" PRIx64 "\n", t, test_bits(v));
	labels_free(&ls);
	buf_free(&store);
}

/* A deterministic value for (series, scrape), exercising every code. */
static double
test_value(unsigned id, unsigned scrape)
{
	switch (id % 8) {
	case 0:
		return 42;			/* constant */
	case 1:
		return (double)(scrape * (id + 3));	/* counter */
	case 2:
		return (double)(int64_t)(scrape * 1234567 + id) / 100;
	case 3:
		return sin((double)scrape * 0.1 + id);	/* noisy float */
	case 4:
		return scrape % 5 == 4 ?
		    test_double(0x7ff0000000000002ull) : scrape;
	case 5:
		return scrape % 2 ? -0.0 : 0.0;
	case 6:
		return scrape % 3 == 0 ? INFINITY : scrape % 3 == 1 ?
		    -INFINITY : test_double(0x7ff8dead0000beefull);
	default:
		return (double)(test_rand() % 1000) - 500.25;
	}
}

/*
 * Write nscrapes scrapes of series [1, nseries] (refs = ids) and append
 * the expected sink lines to exp. Values come from test_value, except
 * case 7 which is random: the value used is the one recorded.
 */
static void
test_write(struct wal *w, struct buf *exp, unsigned nseries,
    unsigned scrape0, unsigned nscrapes, const char *run, int define)
{
	struct wal_sample *s = xcalloc(nseries, sizeof *s);
	unsigned i, k;

	if (define) {
		for (i = 1; i <= nseries; i++)
			test_log_series(w, i, "m", i, run);
	}
	for (k = scrape0; k < scrape0 + nscrapes; k++) {
		for (i = 0; i < nseries; i++) {
			s[i].ref = i + 1;
			s[i].t_ms = 1700000000000 + (int64_t)k * 15000 +
			    (i % 7 == 3 ? (int64_t)i : 0);
			s[i].v = test_value(i + 1, k);
			if (exp != NULL)
				test_expect(exp, "m", i + 1, run, s[i].t_ms,
				    s[i].v);
		}
		assert_int_equal(wal_log_samples(w, s, nseries), 0);
		assert_int_equal(wal_commit(w), 0);
	}
	free(s);
}

/* Run maintenance until no checkpoint job is left in flight. */
static void
test_settle(struct wal *w, int64_t now)
{
	int i, state;

	for (i = 0; i < 400; i++) {
		wal_maintain(w, now);
		pthread_mutex_lock(&w->bg.mu);
		state = w->bg.job.state;
		pthread_mutex_unlock(&w->bg.mu);
		if (state == WAL_JOB_IDLE)
			return;
		usleep(2000);
	}
	fail_msg("checkpoint did not finish");
}

static void
test_wait_job(struct wal *w, int64_t now)
{
	struct wal_stats st, st2;
	int i;

	wal_stats(w, &st);
	for (i = 0; i < 400; i++) {
		wal_maintain(w, now);
		wal_stats(w, &st2);
		if (st2.checkpoints != st.checkpoints)
			return;
		usleep(5000);
	}
	fail_msg("checkpoint did not finish");
}

/* ---- CRC and codec ---------------------------------------------------- */

static void
test_crc32c(void **state)
{
	uint8_t buf[1000];
	size_t i;
	uint32_t a, b;

	(void)state;
	assert_int_equal(wal_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(wal_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff. */
	memset(buf, 0, 32);
	assert_int_equal(wal_crc32c(0, buf, 32), 0x8a9136aau);
	memset(buf, 0xff, 32);
	assert_int_equal(wal_crc32c(0, buf, 32), 0x62a8ab43u);
	for (i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)test_rand();
	for (i = 0; i < 200; i++) {
		size_t off = test_rand() % 17, len = test_rand() % 900;
		size_t cut = len == 0 ? 0 : test_rand() % len;

		a = wal_crc32c(0, buf + off, len);
		b = wal_crc32c(wal_crc32c(0, buf + off, cut), buf + off + cut,
		    len - cut);
		assert_int_equal(a, b);
		assert_int_equal(a, wal_crc32c_portable(0, buf + off, len));
	}
}

static void
test_codec_roundtrip(void **state)
{
	static const uint64_t special[] = {
		0x7ff0000000000002ull,	/* stale marker */
		0x7ff8000000000000ull, 0xfff8000000000001ull,
		0x7ff4000000000000ull,	/* signalling NaN */
		0x8000000000000000ull,	/* -0 */
		0x0000000000000000ull, 0x7ff0000000000000ull,
		0xfff0000000000000ull, 0x0000000000000001ull,
		0x000fffffffffffffull, 0x7fefffffffffffffull,
		0x4340000000000000ull,	/* 2^53 */
		0x433fffffffffffffull,	/* 2^53 - 1 */
		0xc33fffffffffffffull,
	};
	struct wal_codec enc = { 0 }, dec = { 0 };
	struct wal_samples_iter it;
	struct wal_sample in[600], out[600];
	struct buf b = BUF_INIT;
	size_t i, n, rec;
	long k;

	(void)state;
	for (rec = 0; rec < 40; rec++) {
		n = 1 + test_rand() % 600;
		for (i = 0; i < n; i++) {
			uint64_t r = test_rand();

			in[i].ref = rec % 5 == 0 ? 1 + test_rand() % 5000 :
			    (series_ref)(i + 1 + (rec % 3 == 1 && i > 100 ?
			    1000 : 0));
			in[i].t_ms = rec % 4 == 0 ? 1700000000000 +
			    (int64_t)(r % 100000) - 50000 : 1700000000000;
			switch (r % 9) {
			case 0:
				in[i].v = test_double(special[(r >> 8) %
				    (sizeof special / sizeof special[0])]);
				break;
			case 1:
				in[i].v = test_double(test_rand());
				break;
			case 2:
				in[i].v = (double)(int64_t)(test_rand() %
				    100000000) / 1000;
				break;
			case 3:
				in[i].v = (double)(int64_t)test_rand();
				break;
			case 4:
				in[i].v = 1e300 * (double)(r % 7);
				break;
			default:
				in[i].v = (double)(rec * 10 + r % 3);
			}
		}
		buf_reset(&b);
		wal_samples_encode(&enc, &b, in, n);
		buf_reserve(&b, 8);	/* the decoder loads whole words */
		assert_int_equal(wal_samples_count((uint8_t *)b.data, b.len),
		    n);
		assert_int_equal(wal_samples_begin(&it, (uint8_t *)b.data,
		    b.len), 0);
		/* Odd chunk sizes: decoding resumes mid-record. */
		for (i = 0; i < n; i += (size_t)k) {
			k = wal_samples_next(&dec, &it, out + i, 1 +
			    test_rand() % 50);
			assert_true(k > 0);
		}
		assert_int_equal(wal_samples_next(&dec, &it, out, 10), 0);
		for (i = 0; i < n; i++) {
			assert_int_equal(out[i].ref, in[i].ref);
			assert_int_equal(out[i].t_ms, in[i].t_ms);
			assert_int_equal(test_bits(out[i].v),
			    test_bits(in[i].v));
		}
		if (rec == 20) {
			/* A segment boundary: both sides forget. */
			wal_codec_reset(&enc);
			wal_codec_reset(&dec);
		}
	}
	/* Damage: truncation and bit flips never crash the decoder. */
	for (rec = 0; rec < 200; rec++) {
		struct wal_codec d2 = { 0 };

		b.data[test_rand() % b.len] ^= (char)(1u << (test_rand() % 8));
		if (wal_samples_begin(&it, (uint8_t *)b.data,
		    test_rand() % (b.len + 1)) == 0)
			while (wal_samples_next(&d2, &it, out, 600) > 0)
				;
		wal_codec_free(&d2);
	}
	wal_codec_free(&enc);
	wal_codec_free(&dec);
	buf_free(&b);
}

/*
 * A decoder with a ref bound refuses a record whose refs run past it
 * instead of growing its state to them (up to 4 GiB at WAL_REF_MAX).
 */
static void
test_codec_ref_limit(void **state)
{
	struct wal_codec enc = { 0 }, dec = { 0 };
	struct wal_samples_iter it;
	struct wal_sample s[2], out[2];
	struct buf b = BUF_INIT;

	(void)state;
	s[0].ref = 5000;
	s[1].ref = 5001;
	s[0].t_ms = s[1].t_ms = 1000;
	s[0].v = 1;
	s[1].v = 2;
	wal_samples_encode(&enc, &b, s, 2);
	dec.ref_limit = 100;
	assert_int_equal(wal_samples_begin(&it, (uint8_t *)b.data, b.len), 0);
	assert_int_equal(wal_samples_next(&dec, &it, out, 2), -1);
	assert_true(dec.cap < 5000);
	/* The second ref is predicted from the first: bound too. */
	dec.ref_limit = 5001;
	assert_int_equal(wal_samples_begin(&it, (uint8_t *)b.data, b.len), 0);
	assert_int_equal(wal_samples_next(&dec, &it, out, 2), -1);
	dec.ref_limit = 5002;
	wal_codec_free(&dec);
	assert_int_equal(wal_samples_begin(&it, (uint8_t *)b.data, b.len), 0);
	assert_int_equal(wal_samples_next(&dec, &it, out, 2), 2);
	assert_int_equal(out[1].ref, 5001);
	assert_true(out[1].v == 2);
	wal_codec_free(&enc);
	wal_codec_free(&dec);
	buf_free(&b);
}

static void
test_codec_compact(void **state)
{
	struct wal_codec enc = { 0 };
	struct wal_sample s[1000];
	struct buf b = BUF_INIT;
	size_t i, k, first = 0;

	(void)state;
	/* Steady counters and constants cost a few bits per sample. */
	for (k = 0; k < 10; k++) {
		for (i = 0; i < 1000; i++) {
			s[i].ref = (series_ref)(i + 1);
			s[i].t_ms = 1000 * (int64_t)k;
			s[i].v = i % 2 ? 7 : (double)(k * (i % 13));
		}
		buf_reset(&b);
		wal_samples_encode(&enc, &b, s, 1000);
		if (k == 0)
			first = b.len;
	}
	assert_true(b.len < 1000);	/* < 1 byte per sample */
	assert_true(b.len < first);
	wal_codec_free(&enc);
	buf_free(&b);
}

static void
test_series_codec(void **state)
{
	struct wal_sbuild sb = { 0 };
	struct wal_series_iter it = { 0 };
	struct labels ls = LABELS_INIT, got = LABELS_INIT;
	struct buf b = BUF_INIT, store = BUF_INIT, f1 = BUF_INIT, f2 = BUF_INIT;
	series_ref refs[] = { 5, 3, 900000, 1, 2 }, ref, *dr = NULL;
	char big[3000];
	size_t i, cap = 0;
	long n;

	(void)state;
	memset(big, 'x', sizeof big);
	buf_append(&b, "T", 1);	/* the builder appends after a prefix */
	wal_sbuild_begin(&sb, &b);
	for (i = 0; i < 5; i++) {
		test_labels(&ls, &store, i == 2 ? "other" : "m", (unsigned)i,
		    "r");
		if (i == 4)
			labels_set(&ls, LSTR("big"), (struct lstr){ big,
			    sizeof big });
		wal_sbuild_add(&sb, refs[i], &ls);
	}
	wal_series_begin(&it, (uint8_t *)b.data + 1, b.len - 1);
	for (i = 0; i < 5; i++) {
		test_labels(&ls, &store, i == 2 ? "other" : "m", (unsigned)i,
		    "r");
		if (i == 4)
			labels_set(&ls, LSTR("big"), (struct lstr){ big,
			    sizeof big });
		assert_int_equal(wal_series_next(&it, &ref, &got), 1);
		assert_int_equal(ref, refs[i]);
		buf_reset(&f1);
		buf_reset(&f2);
		labels_format(&ls, &f1);
		labels_format(&got, &f2);
		assert_string_equal(f1.data, f2.data);
	}
	assert_int_equal(wal_series_next(&it, &ref, &got), 0);
	/* Repeated names and values are dictionary references. */
	assert_true(b.len < 3000 + 5 * 20);

	buf_reset(&b);
	wal_drop_encode(&b, refs, 5);
	n = wal_drop_decode((uint8_t *)b.data, b.len, &dr, &cap);
	assert_int_equal(n, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(dr[i], refs[i]);
	free(dr);
	wal_sbuild_free(&sb);
	wal_series_iter_free(&it);
	labels_free(&ls);
	labels_free(&got);
	buf_free(&b);
	buf_free(&store);
	buf_free(&f1);
	buf_free(&f2);
}

/* ---- through the log -------------------------------------------------- */

static void
test_record_roundtrip(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r;
	struct wal_record rec;
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;
	series_ref drop[] = { 3, 5 };
	struct wal_stats st;
	struct stat sb;
	char *cause = NULL;
	int seen_drop = 0, rc;

	(void)state;
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	r = wal_reader_open(w, "ep", &cause);
	assert_non_null(r);
	assert_null(wal_reader_open(w, "ep", &cause));
	assert_non_null(strstr(cause, "already open"));
	free(cause);

	test_write(w, &exp, 40, 0, 12, "a", 1);
	assert_int_equal(wal_log_drop(w, drop, 2), 0);
	assert_int_equal(wal_commit(w), 0);
	assert_int_equal(wal_reader_pending(r), 40 * 12);

	while ((rc = wal_reader_next(r, &rec, 7)) == 1) {
		if (rec.type == WAL_RECORD_DROP) {
			assert_int_equal(rec.nrefs, 2);
			assert_int_equal(rec.refs[0], 3);
			assert_int_equal(rec.refs[1], 5);
			seen_drop = 1;
		}
		if (rec.type == WAL_RECORD_SAMPLES) {
			assert_true(rec.nsamples <= 7);
			assert_int_equal(rec.next.index == 0 ? 1 :
			    rec.next.index - rec.pos.index, rec.next.index ==
			    0 ? 1 : rec.nsamples);
		}
		test_sink_record(&sink, &rec);
		wal_reader_ack(r, &rec.next);
	}
	assert_int_equal(rc, 0);
	assert_true(seen_drop);
	assert_int_equal(sink.nseries, 40);
	assert_string_equal(sink.out.data, exp.data);
	assert_int_equal(wal_reader_pending(r), 0);
	wal_stats(w, &st);
	assert_int_equal(st.samples_appended, 40 * 12);
	assert_int_equal(st.series_appended, 40);
	assert_int_equal(st.segments, 1);
	assert_true(st.bytes > 0);
	assert_int_equal(st.failing, 0);
	/* Files are private. */
	assert_int_equal(test_file_size(dir, "seg-00000001"), st.bytes);
	{
		char *p;

		xasprintf(&p, "%s/seg-00000001", dir);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		free(p);
	}
	/* Invalid refs are refused. */
	assert_int_equal(wal_log_series(w, 0, &rec.labels), -1);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

/* Endpoints ack the first unsent sample, often inside a record. */
static void
test_pending_mid_record(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct wal_record rec;
	struct wal_pos p;
	uint64_t before = 0, k;
	int rc;

	(void)state;
	test_write(w, NULL, 50, 0, 6, "a", 1);
	assert_int_equal(wal_reader_pending(r), 300);
	while ((rc = wal_reader_next(r, &rec, 20)) == 1) {
		if (rec.type != WAL_RECORD_SAMPLES)
			continue;
		/* Ack a few samples into the chunk just read. */
		k = before % 7;
		p = rec.pos;
		p.index += (uint32_t)k;
		wal_reader_ack(r, &p);
		assert_int_equal(wal_reader_pending(r), 300 - before - k);
		before += rec.nsamples;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(before, 300);
	wal_reader_ack(r, &rec.next);	/* zeroed: ignored */
	assert_true(wal_reader_pending(r) > 0);
	wal_reader_close(r);
	wal_close(w);
	test_rmdir(dir);
}

static void
test_segment_rotation(void **state)
{
	struct wal_options o = { .segment_bytes = 4096 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;
	struct wal_stats st;

	(void)state;
	test_write(w, &exp, 50, 0, 60, "a", 1);
	wal_stats(w, &st);
	assert_true(st.segments >= 4);
	assert_int_equal(test_count_files(dir, "seg-"), st.segments);
	test_drain(r, &sink, 1000, 0);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);

	/* Each segment decodes alone: resume a cursor mid-log. */
	w = test_open(dir, &o);
	r = wal_reader_open(w, "ep", NULL);
	test_sink_free(&sink);
	test_drain(r, &sink, 1000, 0);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

/* Byte offsets of the records of a segment. */
static size_t
test_record_offsets(const char *dir, const char *name, uint64_t *offs,
    size_t max)
{
	struct wal_rfile rf;
	const uint8_t *body;
	uint64_t off;
	uint32_t len;
	size_t n = 0;
	char *p;
	int fd;

	xasprintf(&p, "%s/%s", dir, name);
	fd = open(p, O_RDONLY);
	assert_true(fd != -1);
	free(p);
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, test_file_size(dir, name));
	while (wal_rfile_next(&rf, &off, &body, &len, 0) == 1 && n < max)
		offs[n++] = off;
	offs[n] = rf.off;
	wal_rfile_free(&rf);
	return n;
}

static void
test_append_bytes(const char *dir, const char *name, const void *data,
    size_t len)
{
	char *p;
	int fd;

	xasprintf(&p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(p);
}

static void
test_torn_tail(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;
	struct wal_stats st;
	uint64_t offs[64], size;
	uint8_t rec[4096], zeros[8192];
	size_t n;
	int fd;
	char *p;

	(void)state;
	wal_reader_close(r);
	test_write(w, &exp, 20, 0, 5, "a", 1);
	wal_close(w);
	size = test_file_size(dir, "seg-00000001");
	n = test_record_offsets(dir, "seg-00000001", offs, 63);
	assert_int_equal(n, 6);
	/* Half of the last record again: a write cut short. */
	xasprintf(&p, "%s/seg-00000001", dir);
	fd = open(p, O_RDONLY);
	assert_int_equal(pread(fd, rec, (size_t)(offs[6] - offs[5]) / 2,
	    (off_t)offs[5]), (ssize_t)(offs[6] - offs[5]) / 2);
	close(fd);
	free(p);
	test_append_bytes(dir, "seg-00000001", rec,
	    (size_t)(offs[6] - offs[5]) / 2);

	w = test_open(dir, NULL);
	assert_int_equal(test_file_size(dir, "seg-00000001"), size);
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 0);
	r = wal_reader_open(w, "ep", NULL);
	test_drain(r, &sink, 0, 0);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);

	/* Zero-filled pages, as after a power loss on some filesystems. */
	memset(zeros, 0, sizeof zeros);
	test_append_bytes(dir, "seg-00000002", zeros, 10);
	test_append_bytes(dir, "seg-00000001", zeros, sizeof zeros);
	w = test_open(dir, NULL);
	assert_int_equal(test_file_size(dir, "seg-00000001"), size);
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 0);
	r = wal_reader_open(w, "ep", NULL);
	test_sink_free(&sink);
	test_drain(r, &sink, 0, 0);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

static void
test_bitflip_mid_segment(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT, exp2 = BUF_INIT;
	struct wal_stats st;
	uint64_t offs[64];
	size_t n, keep;
	char *p, c;
	int fd;

	(void)state;
	wal_reader_close(r);
	/* 1 series record, then 8 records of 30 samples. */
	test_write(w, &exp, 30, 0, 3, "a", 1);
	keep = exp.len;
	test_write(w, &exp, 30, 3, 5, "a", 0);
	wal_close(w);
	n = test_record_offsets(dir, "seg-00000001", offs, 63);
	assert_int_equal(n, 9);
	/* Flip a bit inside the 5th record (4th samples record). */
	xasprintf(&p, "%s/seg-00000001", dir);
	fd = open(p, O_RDWR);
	assert_int_equal(pread(fd, &c, 1, (off_t)offs[4] + 20), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)offs[4] + 20), 1);
	close(fd);
	free(p);

	/* A second run's data follows in the next segment. */
	w = test_open(dir, NULL);
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 5 * 30);
	assert_int_equal(test_file_size(dir, "seg-00000001"), offs[4]);
	test_write(w, &exp2, 10, 100, 2, "b", 1);
	r = wal_reader_open(w, "ep", NULL);
	test_drain(r, &sink, 0, 0);
	exp.len = keep;
	buf_append(&exp, exp2.data, exp2.len);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	buf_free(&exp2);
	test_rmdir(dir);
}

static void
test_cursor_persistence(void **state)
{
	struct wal_options o = { .segment_bytes = 4096,
	    .sync_interval_ms = 10 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep/1:x", NULL);
	struct wal_record rec;
	struct test_sink sink = { 0 }, rest = { 0 };
	struct buf exp = BUF_INIT;
	struct wal_pos acked;
	uint64_t total = 30 * 40, got = 0;
	int rc;

	(void)state;
	test_write(w, &exp, 30, 0, 40, "a", 1);
	/* Read about half, in odd pieces, acking as we go. */
	while (got < total / 2 && (rc = wal_reader_next(r, &rec, 11)) == 1) {
		test_sink_record(&sink, &rec);
		wal_reader_ack(r, &rec.next);
		if (rec.type == WAL_RECORD_SAMPLES)
			got += rec.nsamples;
	}
	acked = rec.next;
	assert_int_equal(wal_reader_pending(r), total - got);
	/* Read more without acking: redelivered after the restart. */
	assert_int_equal(wal_reader_next(r, &rec, 11), 1);
	wal_reader_close(r);
	wal_close(w);
	assert_int_equal(test_count_files(dir, "cursor-ep%2F1%3Ax"), 1);

	w = test_open(dir, &o);
	r = wal_reader_open(w, "ep/1:x", NULL);
	assert_int_equal(wal_reader_pending(r), total - got);
	while ((rc = wal_reader_next(r, &rec, 11)) == 1) {
		/* Replayed series come first, then samples after acked. */
		if (rec.type == WAL_RECORD_SAMPLES)
			assert_true(wal_pos_cmp(&rec.pos, &acked) >= 0);
		test_sink_record(&rest, &rec);
		wal_reader_ack(r, &rec.next);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(rest.nseries, 30);
	assert_int_equal(sink.nsamples + rest.nsamples, total);
	buf_append(&sink.out, rest.out.data, rest.out.len);
	assert_string_equal(sink.out.data, exp.data);
	assert_int_equal(wal_reader_pending(r), 0);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	test_sink_free(&rest);
	buf_free(&exp);
	test_rmdir(dir);
}

static void
test_new_reader_start(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r;
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;

	(void)state;
	test_write(w, NULL, 25, 0, 4, "a", 1);
	/* No backfill, but the series are known. */
	r = wal_reader_open(w, "late", NULL);
	assert_int_equal(wal_reader_pending(r), 0);
	test_drain(r, &sink, 0, 1);
	assert_int_equal(sink.nsamples, 0);
	assert_int_equal(sink.nseries, 25);
	test_write(w, &exp, 25, 4, 2, "a", 0);
	assert_int_equal(wal_reader_pending(r), 50);
	test_drain(r, &sink, 0, 1);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);

	/* Reopened: a known name resumes, it is not new again. */
	w = test_open(dir, NULL);
	r = wal_reader_open(w, "late", NULL);
	test_sink_free(&sink);
	test_drain(r, &sink, 0, 1);
	assert_int_equal(sink.nsamples, 0);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

/*
 * Refs restart at 1 in each process run: a reader replaying an old run's
 * samples must label them with the old run's series.
 */
static void
test_restart_refs(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;
	series_ref d = 2;

	(void)state;
	wal_reader_close(r);
	test_write(w, &exp, 12, 0, 3, "one", 1);
	/* Ref reuse inside a run: drop 2, then 2 names something else. */
	assert_int_equal(wal_log_drop(w, &d, 1), 0);
	test_log_series(w, 2, "reused", 2, "one");
	{
		struct wal_sample s = { 2, 5, 1.5 };

		assert_int_equal(wal_log_samples(w, &s, 1), 0);
		assert_int_equal(wal_commit(w), 0);
		test_expect(&exp, "reused", 2, "one", 5, 1.5);
	}
	wal_close(w);
	w = test_open(dir, NULL);
	test_write(w, &exp, 7, 10, 3, "two", 1);
	wal_close(w);

	w = test_open(dir, NULL);
	r = wal_reader_open(w, "ep", NULL);
	test_drain(r, &sink, 5, 0);
	assert_string_equal(sink.out.data, exp.data);
	/* Run starts drop what the old runs defined. */
	assert_true(sink.ndrops >= 2);
	assert_int_equal(sink.dropped_refs, 1 + 12 + 7);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

/* Ack everything the reader returns, up to a number of samples. */
static uint64_t
test_read_ack(struct wal_reader *r, struct test_sink *s, uint64_t limit)
{
	struct wal_record rec;
	uint64_t got = 0;

	while (got < limit && wal_reader_next(r, &rec, 0) == 1) {
		test_sink_record(s, &rec);
		wal_reader_ack(r, &rec.next);
		if (rec.type == WAL_RECORD_SAMPLES)
			got += rec.nsamples;
	}
	return got;
}

static void
test_checkpoint_lagging_reader(void **state)
{
	struct wal_options o = { .segment_bytes = 4096,
	    .sync_interval_ms = 10 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *fast = wal_reader_open(w, "fast", NULL);
	struct wal_reader *slow = wal_reader_open(w, "slow", NULL);
	struct test_sink fs = { 0 }, ss = { 0 }, ls = { 0 };
	struct buf exp = BUF_INIT;
	struct wal_stats st;
	series_ref dropped[] = { 38, 39, 40 };
	uint64_t got;
	int nseg, i;

	(void)state;
	test_write(w, &exp, 40, 0, 10, "a", 1);
	assert_int_equal(wal_log_drop(w, dropped, 3), 0);
	test_write(w, &exp, 37, 10, 190, "a", 0);
	test_read_ack(fast, &fs, UINT64_MAX);
	test_read_ack(slow, &ss, 40 * 5);
	nseg = test_count_files(dir, "seg-");
	assert_true(nseg >= 5);
	for (i = 0; i < 20; i++) {
		wal_maintain(w, 1000 + i);
		usleep(2000);
	}
	/* The slow reader holds everything from its segment on. */
	assert_true(test_count_files(dir, "seg-") >= nseg - 1);
	wal_stats(w, &st);
	assert_int_equal(st.samples_dropped_cap, 0);

	/* Once it catches up, the segments go and a checkpoint stays. */
	got = 200 + test_read_ack(slow, &ss, 37 * 180);
	assert_int_equal(wal_reader_pending(slow), 400 + 37 * 190 - got);
	test_wait_job(w, 2000);
	wal_stats(w, &st);
	assert_int_equal(test_count_files(dir, "checkpoint-"), 1);
	/* Files go on the sync thread, a moment later. */
	for (i = 0; i < 200 && test_count_files(dir, "seg-") >= nseg; i++)
		usleep(5000);
	assert_true(test_count_files(dir, "seg-") < nseg);
	assert_int_equal(st.series_checkpointed, 37);
	test_read_ack(slow, &ss, UINT64_MAX);
	assert_string_equal(ss.out.data, exp.data);
	assert_string_equal(fs.out.data, exp.data);
	wal_reader_close(fast);
	wal_reader_close(slow);
	wal_close(w);

	/*
	 * A restarted reader whose series were defined in deleted segments
	 * gets them from the checkpoint; the dropped ones are gone.
	 */
	w = test_open(dir, &o);
	slow = wal_reader_open(w, "slow", NULL);
	test_write(w, NULL, 33, 50, 1, "b", 1);
	test_drain(slow, &ls, 0, 1);
	assert_int_equal(ls.nsamples, 33);
	assert_int_equal(ls.nseries, 37 + 33);
	wal_reader_close(slow);
	wal_close(w);
	test_sink_free(&fs);
	test_sink_free(&ss);
	test_sink_free(&ls);
	buf_free(&exp);
	test_rmdir(dir);
}

/* ---- checkpoint contents ------------------------------------------- */

#define TEST_CK_REFS	4600

/*
 * Define ref in generation gen, and note its labels in model. The pad
 * value is unique and long, so a checkpoint of a few thousand series
 * outgrows the megabyte it is written in.
 */
static void
test_ck_define(struct wal *w, char **model, series_ref ref, unsigned gen)
{
	struct labels ls = LABELS_INIT;
	struct buf b = BUF_INIT;
	char g[16], pad[320];
	size_t i;

	snprintf(g, sizeof g, "%u", gen);
	i = (size_t)snprintf(pad, sizeof pad, "%u-%u-", (unsigned)ref, gen);
	for (; i + 1 < sizeof pad; i++)
		pad[i] = (char)('a' + (ref * 31 + gen * 7 + i * i) % 26);
	pad[sizeof pad - 1] = '\0';
	labels_push(&ls, LSTR("__name__"), LSTR("ck"));
	labels_push(&ls, LSTR("gen"), (struct lstr){ g, strlen(g) });
	labels_push(&ls, LSTR("pad"), (struct lstr){ pad, strlen(pad) });
	assert_int_equal(wal_log_series(w, ref, &ls), 0);
	labels_format(&ls, &b);
	free(model[ref]);
	model[ref] = buf_steal(&b);
	labels_free(&ls);
	/* Small commits: many segments for the checkpoint to replace. */
	if (ref % 100 == 0)
		assert_int_equal(wal_commit(w), 0);
}

static void
test_ck_drop(struct wal *w, char **model, series_ref ref)
{
	assert_int_equal(wal_log_drop(w, &ref, 1), 0);
	free(model[ref]);
	model[ref] = NULL;
}

/*
 * Apply one file's SERIES and DROP records to got, in order, the way
 * readers do (and the one-pass checkpoint builder did). Returns the
 * number of series entries read.
 */
static size_t
test_ck_fold(const char *dir, const char *prefix, uint64_t number,
    char **got)
{
	struct wal_rfile rf;
	struct wal_series_iter si = { 0 };
	struct labels ls = LABELS_INIT;
	struct buf b = BUF_INIT;
	uint8_t hdr[WAL_HDR_SIZE];
	struct wal_hdr h;
	struct stat sb;
	const uint8_t *body;
	series_ref ref, *refs = NULL;
	size_t refcap = 0, entries = 0, k;
	uint64_t off;
	uint32_t len;
	long i, n;
	char *path = wal_path(dir, prefix, number);
	int fd, rc;

	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(pread(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
	assert_int_equal(wal_hdr_decode(hdr, sizeof hdr,
	    strcmp(prefix, "seg") == 0 ? WAL_MAGIC_SEG : WAL_MAGIC_CKPT,
	    &h), 0);
	if (h.flags & WAL_SEG_RUN_START) {
		for (k = 0; k < TEST_CK_REFS; k++) {
			free(got[k]);
			got[k] = NULL;
		}
	}
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, (uint64_t)sb.st_size);
	while ((rc = wal_rfile_next(&rf, &off, &body, &len,
	    WAL_REC_SAMPLES)) == 1) {
		if (body == NULL)
			continue;
		if (body[0] == WAL_REC_SERIES) {
			wal_series_begin(&si, body + 1, len - 1);
			while ((rc = wal_series_next(&si, &ref, &ls)) == 1) {
				assert_true(ref < TEST_CK_REFS);
				buf_reset(&b);
				labels_format(&ls, &b);
				free(got[ref]);
				got[ref] = xstrdup(b.data);
				entries++;
			}
			assert_int_equal(rc, 0);
		} else if (body[0] == WAL_REC_DROP) {
			n = wal_drop_decode(body + 1, len - 1, &refs, &refcap);
			assert_true(n > 0);
			for (i = 0; i < n; i++) {
				free(got[refs[i]]);
				got[refs[i]] = NULL;
			}
		} else if (body[0] == WAL_REC_END)
			break;
	}
	assert_true(rc >= 0);
	wal_rfile_free(&rf);
	wal_series_iter_free(&si);
	labels_free(&ls);
	buf_free(&b);
	free(refs);
	free(path);
	return entries;
}

static int
test_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The checkpoint and the segments after it, replayed, must define
 * exactly the live series of the model. Returns the checkpoint's series
 * count; *bytes gets its size.
 */
static size_t
test_ck_check(const char *dir, char **model, uint64_t *bytes)
{
	char **got = xcalloc(TEST_CK_REFS, sizeof *got);
	uint64_t ck = 0, segs[4096], n;
	size_t nsegs = 0, entries, i;
	DIR *d = opendir(dir);
	struct dirent *de;
	char name[64];
	int nck = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		/* The one it replaced goes a moment later. */
		if (sscanf(de->d_name, "checkpoint-%" SCNu64 "%s", &n,
		    name) == 1) {
			ck = n > ck ? n : ck;
			nck++;
		} else if (sscanf(de->d_name, "seg-%" SCNu64 "%s", &n,
		    name) == 1) {
			assert_true(nsegs < 4096);
			segs[nsegs++] = n;
		}
	}
	closedir(d);
	assert_true(nck >= 1);
	qsort(segs, nsegs, sizeof *segs, test_cmp_u64);
	snprintf(name, sizeof name, "checkpoint-%08" PRIu64, ck);
	*bytes = test_file_size(dir, name);
	entries = test_ck_fold(dir, "checkpoint", ck, got);
	for (i = 0; i < nsegs; i++) {
		if (segs[i] >= ck)
			test_ck_fold(dir, "seg", segs[i], got);
	}
	for (i = 0; i < TEST_CK_REFS; i++) {
		if (model[i] == NULL && got[i] != NULL)
			fail_msg("ref %zu: dropped, but defined as %s", i,
			    got[i]);
		if (model[i] != NULL && got[i] == NULL)
			fail_msg("ref %zu: %s is missing", i, model[i]);
		if (model[i] != NULL)
			assert_string_equal(got[i], model[i]);
		free(got[i]);
	}
	free(got);
	return entries;
}

/* Read and ack everything, then wait for the checkpoint it allows. */
static void
test_ck_settle(struct wal *w, struct wal_reader *r, struct test_sink *s,
    int64_t now)
{
	struct wal_sample x = { 1, now, 1 };

	/* A last commit in a new head segment, so all before can go. */
	w->rotate = 1;
	assert_int_equal(wal_log_samples(w, &x, 1), 0);
	assert_int_equal(wal_commit(w), 0);
	test_read_ack(r, s, UINT64_MAX);
	test_wait_job(w, now);
}

/*
 * What checkpoints carry, against a model of the live refs: refs dropped,
 * dropped and reused, a second checkpoint folding the first, and a run
 * start, which leaves nothing of the run before.
 */
static void
test_checkpoint_contents(void **state)
{
	struct wal_options o = { .segment_bytes = 64 << 10,
	    .sync_interval_ms = 10 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	char **model = xcalloc(TEST_CK_REFS, sizeof *model);
	struct wal_stats st;
	uint64_t bytes;
	size_t live, i;
	series_ref ref;

	(void)state;
	for (ref = 1; ref <= 4000; ref++)
		test_ck_define(w, model, ref, 1);
	for (ref = 3; ref <= 4000; ref += 3)
		test_ck_drop(w, model, ref);
	for (ref = 6; ref <= 4000; ref += 6)
		test_ck_define(w, model, ref, 2);
	test_ck_settle(w, r, &sink, 1000);
	assert_true(test_ck_check(dir, model, &bytes) > 3000);
	assert_true(bytes > (1u << 20));

	/* A second checkpoint folds the first. */
	for (ref = 1; ref <= 4000; ref += 5)
		if (model[ref] != NULL)
			test_ck_drop(w, model, ref);
	for (ref = 4001; ref <= 4500; ref++)
		test_ck_define(w, model, ref, 3);
	test_ck_settle(w, r, &sink, 2000);
	wal_stats(w, &st);
	assert_int_equal(st.checkpoints, 2);
	for (live = 0, i = 0; i < TEST_CK_REFS; i++)
		live += model[i] != NULL;
	assert_int_equal(test_ck_check(dir, model, &bytes), live);
	assert_int_equal(st.series_checkpointed, live);
	assert_true(st.checkpoint_seconds_total > 0);
	wal_reader_close(r);
	wal_close(w);

	/* A new run: its checkpoint has only what the new run defined. */
	for (i = 0; i < TEST_CK_REFS; i++) {
		free(model[i]);
		model[i] = NULL;
	}
	w = test_open(dir, &o);
	r = wal_reader_open(w, "ep", NULL);
	for (ref = 1; ref <= 300; ref++)
		test_ck_define(w, model, ref, 4);
	test_ck_settle(w, r, &sink, 3000);
	assert_true(test_ck_check(dir, model, &bytes) <= 300);
	wal_reader_close(r);
	wal_close(w);

	for (i = 0; i < TEST_CK_REFS; i++)
		free(model[i]);
	free(model);
	test_sink_free(&sink);
	test_rmdir(dir);
}

static void
test_cap_drops_oldest(void **state)
{
	struct wal_options o = { .segment_bytes = 4096, .max_bytes = 20000,
	    .sync_interval_ms = 10 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct wal_reader *r2 = wal_reader_open(w, "ep2", NULL);
	struct test_sink sink = { 0 }, s2 = { 0 };
	struct wal_stats st;
	uint64_t total = 0, got2 = 0;
	int k;

	(void)state;
	for (k = 0; k < 40; k++) {
		test_write(w, NULL, 60, (unsigned)k * 4, 4, "a", k == 0);
		total += 60 * 4;
		if (k % 2 == 1)
			test_settle(w, 1000 + k);
		wal_stats(w, &st);
		/* The cap holds within a segment or so. */
		assert_true(st.bytes <= o.max_bytes + 3 * o.segment_bytes);
		/* The second reader keeps up a little at a time. */
		got2 += test_read_ack(r2, &s2, 100);
	}
	wal_stats(w, &st);
	assert_true(st.samples_dropped_cap > 0);
	test_drain(r, &sink, 0, 1);
	got2 += test_read_ack(r2, &s2, UINT64_MAX);
	/* Exact: every sample was delivered or counted as dropped. */
	assert_int_equal(sink.nsamples + wal_reader_dropped(r), total);
	assert_int_equal(got2 + wal_reader_dropped(r2), total);
	assert_int_equal(st.samples_dropped_cap, wal_reader_dropped(r));
	assert_true(wal_reader_dropped(r2) < wal_reader_dropped(r));
	assert_int_equal(wal_reader_pending(r), 0);
	wal_reader_close(r);
	wal_reader_close(r2);
	wal_close(w);
	test_sink_free(&sink);
	test_sink_free(&s2);
	test_rmdir(dir);
}

static void
test_max_age(void **state)
{
	struct wal_options o = { .segment_bytes = 4096,
	    .max_age_ms = 60000, .sync_interval_ms = 10 };
	char *dir = test_tmpdir();
	/* Wall-clock ms: segments found on disk carry file mtimes. */
	int64_t now = loop_now_ms();
	struct wal *w = test_open_at(dir, &o, now);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct wal_stats st;

	(void)state;
	test_write(w, NULL, 50, 0, 20, "a", 1);
	wal_maintain(w, now);
	/*
	 * A head older than max_age / 4 is sealed, even if small. The
	 * writes rotated by size at the time the WAL was opened at, so the
	 * head's age counts from then. A sealed head's successor is empty
	 * until written.
	 */
	wal_maintain(w, now + 14999);
	assert_true(w->segs[w->nsegs - 1].size > 0);
	wal_maintain(w, now + 15000);
	assert_int_equal(w->segs[w->nsegs - 1].size, 0);
	test_write(w, NULL, 50, 20, 1, "a", 0);
	wal_maintain(w, now + 50000);
	wal_stats(w, &st);
	assert_int_equal(st.samples_dropped_cap, 0);
	/* Everything but the last scrape is over a minute old. */
	test_wait_job(w, now + 70000);
	wal_stats(w, &st);
	assert_int_equal(st.samples_dropped_cap, 50 * 20);
	test_drain(r, &sink, 0, 1);
	assert_int_equal(sink.nsamples + st.samples_dropped_cap, 50 * 21);
	wal_reader_close(r);
	wal_close(w);
	test_sink_free(&sink);
	test_rmdir(dir);
}

/*
 * Writes that fail: RLIMIT_FSIZE turns writes past a size into EFBIG
 * (SIGXFSZ ignored), after writing what fits: a real partial write.
 */
static void
test_write_failure(void **state)
{
	struct wal_options o = { .buffer_bytes = 40000 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT, exp2 = BUF_INIT;
	struct wal_sample s[100];
	struct wal_stats st;
	struct rlimit old, lim;
	uint64_t size;
	int i, k, fails = 0;

	(void)state;
	test_write(w, &exp, 100, 0, 3, "a", 1);
	size = test_file_size(dir, "seg-00000001");
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = size + 150;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (k = 3; k < 40; k++) {
		if (k == 4) {
			/* The write was cut short, then undone. */
			assert_int_equal(test_file_size(dir, "seg-00000001"),
			    size);
			/* Now even a new segment's header does not fit. */
			lim.rlim_cur = 20;
			assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		}
		for (i = 0; i < 100; i++) {
			s[i].ref = (series_ref)(i + 1);
			s[i].t_ms = 1700000000000 + (int64_t)k * 15000;
			s[i].v = (double)(k * 1000 + i) + 0.5;
			test_expect(&exp2, "m", (unsigned)i + 1, "a",
			    s[i].t_ms, s[i].v);
		}
		assert_int_equal(wal_log_samples(w, s, 100), 0);
		if (wal_commit(w) != 0)
			fails++;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(fails, 37);
	wal_stats(w, &st);
	assert_int_equal(st.failing, 1);
	assert_true(st.write_errors >= 37);
	/* No partial record stayed behind. */
	assert_int_equal(test_file_size(dir, "seg-00000001"), size);
	assert_int_equal(test_file_size(dir, "seg-00000002"), 0);
	/* Nothing new is visible while failing. */
	test_drain(r, &sink, 0, 1);
	assert_string_equal(sink.out.data, exp.data);
	/* The bounded buffer dropped the oldest samples, exactly. */
	assert_true(st.samples_dropped_buffer > 0);
	assert_int_equal(st.samples_dropped_buffer % 100, 0);

	/* Space is back: the next commit writes what stayed buffered. */
	assert_int_equal(wal_commit(w), 0);
	wal_stats(w, &st);
	assert_int_equal(st.failing, 0);
	assert_int_equal(st.samples_appended,
	    300 + 3700 - st.samples_dropped_buffer);
	/* Expected: the tail of exp2 that was not dropped. */
	{
		size_t lines = (size_t)st.samples_dropped_buffer, off = 0;

		while (lines-- > 0)
			off = (size_t)(strchr(exp2.data + off, '\n') -
			    exp2.data) + 1;
		buf_append(&exp, exp2.data + off, exp2.len - off);
	}
	test_drain(r, &sink, 0, 1);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	wal_close(w);

	/* And the log reopens clean. */
	w = test_open(dir, &o);
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 0);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	buf_free(&exp2);
	test_rmdir(dir);
}

static void
test_version_mismatch(void **state)
{
	char *dir = test_tmpdir(), *cause = NULL;
	struct wal *w = test_open(dir, NULL);
	uint8_t hdr[WAL_HDR_SIZE];
	char *p;
	int fd;

	(void)state;
	test_write(w, NULL, 5, 0, 1, "a", 1);
	wal_close(w);
	wal_hdr_encode(hdr, WAL_MAGIC_SEG, 0, 9, 0);
	wal_put_le16(hdr + 4, WAL_FORMAT_VERSION + 1);
	xasprintf(&p, "%s/seg-00000009", dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	close(fd);
	free(p);
	assert_null(wal_open(dir, NULL, loop_now_ms(), &cause));
	assert_non_null(cause);
	assert_non_null(strstr(cause, "version 2"));
	assert_non_null(strstr(cause, "seg-00000009"));
	free(cause);
	/* Nothing was repaired or removed. */
	assert_int_equal(test_count_files(dir, "seg-"), 2);
	test_rmdir(dir);
}

static void
test_lock_conflict(void **state)
{
	char *dir = test_tmpdir(), *cause = NULL;
	struct wal *w = test_open(dir, NULL), *w2;

	(void)state;
	w2 = wal_open(dir, NULL, loop_now_ms(), &cause);
	assert_null(w2);
	assert_non_null(strstr(cause, "in use by another process"));
	free(cause);
	wal_close(w);
	w2 = test_open(dir, NULL);
	wal_close(w2);
	test_rmdir(dir);
}

static void
test_damaged_files(void **state)
{
	char *dir = test_tmpdir(), *p;
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct test_sink sink = { 0 };
	struct buf exp = BUF_INIT;
	struct wal_stats st;
	int fd;

	(void)state;
	test_write(w, &exp, 10, 0, 3, "a", 1);
	test_read_ack(r, &sink, UINT64_MAX);
	wal_reader_close(r);
	wal_close(w);
	/* A garbled cursor resends from the oldest data instead of losing. */
	xasprintf(&p, "%s/cursor-ep", dir);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "junk", 4), 4);
	close(fd);
	free(p);
	/* A segment with a garbled header goes (and never stops startup). */
	test_append_bytes(dir, "seg-00000002", "garbage garbage garbage "
	    "garbage garbage", 40);
	w = test_open(dir, NULL);
	assert_int_equal(test_count_files(dir, "seg-00000002"), 0);
	r = wal_reader_open(w, "ep", NULL);
	test_sink_free(&sink);
	test_drain(r, &sink, 0, 1);
	assert_string_equal(sink.out.data, exp.data);
	wal_reader_close(r);
	/* A full segment whose header rotted: skipped, its samples counted. */
	test_write(w, NULL, 10, 3, 4, "a", 1);
	wal_close(w);
	xasprintf(&p, "%s/seg-00000002", dir);
	fd = open(p, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, 0), 1);
	close(fd);
	free(p);
	w = test_open(dir, NULL);
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 40);
	assert_int_equal(test_count_files(dir, "seg-00000002"), 0);
	wal_close(w);
	test_sink_free(&sink);
	buf_free(&exp);
	test_rmdir(dir);
}

/* Ack everything readable; the position after it. */
static struct wal_pos
test_ack_all(struct wal_reader *r)
{
	struct wal_record rec;
	struct wal_pos last = { 0 };

	while (wal_reader_next(r, &rec, 0) == 1) {
		wal_reader_ack(r, &rec.next);
		last = rec.next;
	}
	return last;
}

/* The cursor file at path says want, within a second. */
static void
test_wait_cursor(const char *path, const struct wal_pos *want)
{
	struct wal_pos pos;
	uint64_t seq;
	char *cause = NULL;
	int i;

	for (i = 0; i < 200; i++) {
		if (wal_cursor_read(path, &pos, &seq, &cause) == 0 &&
		    wal_pos_cmp(&pos, want) == 0)
			return;
		free(cause);
		cause = NULL;
		usleep(5000);
	}
	fail_msg("cursor %s never reached %llu:%llu", path,
	    (unsigned long long)want->segment,
	    (unsigned long long)want->offset);
}

/* Wait until more than more_than fsyncs are counted. */
static void
test_wait_fsyncs(struct wal *w, uint64_t more_than)
{
	struct wal_stats st;
	int i;

	for (i = 0; i < 200; i++) {
		wal_stats(w, &st);
		if (st.fsyncs > more_than)
			return;
		usleep(5000);
	}
	fail_msg("no fsync after %" PRIu64, more_than);
}

static void
test_sync_thread(void **state)
{
	struct wal_options o = { .sync_interval_ms = 5 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r = wal_reader_open(w, "ep", NULL);
	struct wal_record rec;
	struct wal_pos pos, last = { 0 };
	struct wal_stats st;
	struct stat st1, st2;
	uint64_t seq;
	char *p, *cause = NULL;
	int i;

	(void)state;
	test_write(w, NULL, 10, 0, 2, "a", 1);
	test_wait_fsyncs(w, 0);
	wal_stats(w, &st);
	assert_true(st.fsync_seconds_total >= 0);
	/* The cursor reaches the disk without wal_close. */
	while (wal_reader_next(r, &rec, 0) == 1) {
		wal_reader_ack(r, &rec.next);
		last = rec.next;
	}
	xasprintf(&p, "%s/cursor-ep", dir);
	for (i = 0; i < 200; i++) {
		if (wal_cursor_read(p, &pos, &seq, &cause) == 0 &&
		    wal_pos_cmp(&pos, &last) == 0)
			break;
		free(cause);
		cause = NULL;
		usleep(5000);
	}
	assert_int_equal(wal_pos_cmp(&pos, &last), 0);
	assert_int_equal(seq, 20);

	/* Later acks rewrite the same file in place... */
	assert_int_equal(stat(p, &st1), 0);
	test_write(w, NULL, 10, 2, 2, "a", 0);
	last = test_ack_all(r);
	test_wait_cursor(p, &last);
	assert_int_equal(stat(p, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	/* ...and a cursor file someone removed is written anew. */
	assert_int_equal(unlink(p), 0);
	test_write(w, NULL, 10, 4, 2, "a", 0);
	last = test_ack_all(r);
	test_wait_cursor(p, &last);
	free(p);
	wal_reader_close(r);
	wal_close(w);
	test_rmdir(dir);
}

/* Voluntary context switches of every thread but the main one. */
static unsigned long
test_bg_switches(void)
{
	char path[320], line[128];
	unsigned long n = 0, v;
	struct dirent *de;
	DIR *d;
	FILE *f;

	assert_non_null(d = opendir("/proc/self/task"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atol(de->d_name) == getpid())
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/status",
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, "voluntary_ctxt_switches: %lu",
			    &v) == 1)
				n += v;
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * With nothing written the sync thread sleeps instead of ticking every
 * interval, and the next write still reaches the disk within one.
 */
static void
test_sync_idle(void **state)
{
	struct wal_options o = { .sync_interval_ms = 20 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_stats st;
	unsigned long before, after;
	uint64_t n;

	(void)state;
	test_write(w, NULL, 10, 0, 2, "a", 1);
	test_wait_fsyncs(w, 0);
	usleep(100 * 1000);	/* the tick after the sync finds nothing */
	wal_stats(w, &st);
	n = st.fsyncs;
	before = test_bg_switches();
	usleep(500 * 1000);
	after = test_bg_switches();
	/* Ticking every 20 ms would be about 25. */
	if (after - before > 3)
		fail_msg("sync thread woke %lu times in 500 ms with nothing "
		    "to sync", after - before);
	wal_stats(w, &st);
	assert_int_equal(st.fsyncs, n);
	test_write(w, NULL, 10, 2, 2, "a", 0);
	test_wait_fsyncs(w, n);
	wal_close(w);
	test_rmdir(dir);
}

/* Read up to nrec records (0: all) with max samples a call. */
static void
test_read_some(struct wal_reader *r, struct test_sink *s, struct buf *pos,
    size_t nrec, size_t max)
{
	struct wal_record rec;
	size_t k = 0, i;
	int rc;

	while ((nrec == 0 || k < nrec) &&
	    (rc = wal_reader_next(r, &rec, max)) == 1) {
		test_sink_record(s, &rec);
		if (rec.type == WAL_RECORD_SAMPLES) {
			for (i = 0; i < rec.nsamples; i++)
				buf_printf(pos, "%" PRIu64 ":%" PRIu64 ":%zu\n",
				    rec.pos.segment, rec.pos.offset,
				    rec.pos.index + i);
		} else
			buf_printf(pos, "%d %" PRIu64 ":%" PRIu64 ":%u\n",
			    rec.type, rec.pos.segment, rec.pos.offset,
			    (unsigned)rec.pos.index);
		wal_reader_ack(r, &rec.next);
		k++;
	}
}

/*
 * Samples whose series record is missing (as after corruption) are
 * dropped and counted, whether the reader takes them from the file or
 * from the writer; the other samples of their records are delivered.
 */
static void
test_undefined_refs(void **state)
{
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, NULL);
	struct wal_reader *r[2];
	struct test_sink s[2];
	struct buf exp = BUF_INIT;
	struct wal_stats st;
	unsigned i, k;

	(void)state;
	memset(s, 0, sizeof s);
	r[0] = wal_reader_open(w, "tee", NULL);
	r[1] = wal_reader_open(w, "file", NULL);
	wal_reader_set_tee_max(r[1], 0);
	/* Series 1-3 are defined; two scrapes also sample 4 and 5. */
	test_write(w, &exp, 3, 0, 1, "a", 1);
	/* Caught up with the head, "tee" takes what is written next. */
	test_drain(r[0], &s[0], 0, 0);
	test_write(w, NULL, 5, 1, 2, "a", 0);
	assert_true(wal_reader_live(r[0]));
	assert_false(wal_reader_live(r[1]));
	for (k = 1; k < 3; k++)
		for (i = 0; i < 3; i++)
			test_expect(&exp, "m", i + 1, "a", 1700000000000 +
			    (int64_t)k * 15000 + (i % 7 == 3 ? (int64_t)i : 0),
			    test_value(i + 1, k));
	for (k = 0; k < 2; k++) {
		test_drain(r[k], &s[k], 0, 0);
		assert_string_equal(s[k].out.data, exp.data);
	}
	wal_stats(w, &st);
	assert_int_equal(st.samples_lost_corrupt, 2 * 2 * 2);
	for (k = 0; k < 2; k++) {
		wal_reader_close(r[k]);
		test_sink_free(&s[k]);
	}
	buf_free(&exp);
	wal_close(w);
	test_rmdir(dir);
}

/*
 * A reader fed by the tee returns exactly what one reading the file does:
 * series, drops and samples, at the same positions, through rotations,
 * reads split at any sample, and falls behind (a tiny tee limit) with
 * reading on from the file.
 */
static void
test_tee_matches_file(void **state)
{
	struct wal_options o = { .segment_bytes = 16 * 1024 };
	char *dir = test_tmpdir();
	struct wal *w = test_open(dir, &o);
	struct wal_reader *r[2];
	struct test_sink s[2];
	struct buf pos[2] = { BUF_INIT, BUF_INIT };
	struct wal_sample *smp = xcalloc(300, sizeof *smp);
	unsigned char defined[301] = { 0 }, gen[301] = { 0 };
	series_ref drops[300];
	char run[16];
	size_t k, n, nd;
	int round, live = 0, fell = 0, was;
	unsigned id, x;

	(void)state;
	memset(s, 0, sizeof s);
	r[0] = wal_reader_open(w, "tee", NULL);
	r[1] = wal_reader_open(w, "file", NULL);
	wal_reader_set_tee_max(r[0], 3000);
	wal_reader_set_tee_max(r[1], 0);
	for (round = 0; round < 600; round++) {
		/* Drop some series, (re)define others, sample the rest. */
		nd = 0;
		for (id = 1; id <= 300; id++) {
			x = test_rand() % 100;
			if (defined[id] && x < 2) {
				drops[nd++] = id;
				defined[id] = 0;
			} else if (!defined[id] && x < 30) {
				snprintf(run, sizeof run, "g%u", ++gen[id]);
				test_log_series(w, id, "m", id, run);
				defined[id] = 1;
			}
		}
		if (nd > 0)
			assert_int_equal(wal_log_drop(w, drops, nd), 0);
		for (id = 1, n = 0; id <= 300; id++) {
			if (!defined[id] || test_rand() % 4 == 0)
				continue;
			smp[n].ref = id;
			smp[n].t_ms = 1700000000000 + (int64_t)round * 1000;
			smp[n].v = test_value(id, (unsigned)round);
			n++;
		}
		if (n > 0)
			assert_int_equal(wal_log_samples(w, smp, n), 0);
		was = wal_reader_live(r[0]);
		assert_int_equal(wal_commit(w), 0);
		fell += was && !wal_reader_live(r[0]);
		for (k = 0; k < 2; k++) {
			switch (test_rand() % 5) {
			case 0:
			case 1:
				break;		/* not reading: falls behind */
			case 2:
				test_read_some(r[k], &s[k], &pos[k], 0, 0);
				break;
			default:
				test_read_some(r[k], &s[k], &pos[k],
				    1 + test_rand() % 4, 1 + test_rand() % 60);
				break;
			}
			if (k == 0)
				live |= wal_reader_live(r[0]);
			assert_false(k == 1 && wal_reader_live(r[1]));
		}
		if (round % 50 == 49)
			wal_maintain(w, 1700000000000 + (int64_t)round * 1000);
	}
	for (k = 0; k < 2; k++)
		test_read_some(r[k], &s[k], &pos[k], 0, 0);
	assert_true(live);
	assert_true(fell > 0);
	assert_true(s[0].nsamples > 10000);
	assert_int_equal(s[0].nsamples, s[1].nsamples);
	assert_int_equal(s[0].nseries, s[1].nseries);
	assert_int_equal(s[0].ndrops, s[1].ndrops);
	assert_int_equal(s[0].out.len, s[1].out.len);
	assert_memory_equal(s[0].out.data, s[1].out.data, s[0].out.len);
	assert_int_equal(pos[0].len, pos[1].len);
	assert_memory_equal(pos[0].data, pos[1].data, pos[0].len);
	for (k = 0; k < 2; k++) {
		wal_reader_close(r[k]);
		test_sink_free(&s[k]);
		buf_free(&pos[k]);
	}
	free(smp);
	wal_close(w);
	test_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_compact),
		cmocka_unit_test(test_codec_ref_limit),
		cmocka_unit_test(test_series_codec),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_pending_mid_record),
		cmocka_unit_test(test_segment_rotation),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_bitflip_mid_segment),
		cmocka_unit_test(test_cursor_persistence),
		cmocka_unit_test(test_new_reader_start),
		cmocka_unit_test(test_restart_refs),
		cmocka_unit_test(test_checkpoint_lagging_reader),
		cmocka_unit_test(test_checkpoint_contents),
		cmocka_unit_test(test_cap_drops_oldest),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_write_failure),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_lock_conflict),
		cmocka_unit_test(test_damaged_files),
		cmocka_unit_test(test_sync_thread),
		cmocka_unit_test(test_sync_idle),
		cmocka_unit_test(test_tee_matches_file),
		cmocka_unit_test(test_undefined_refs),
	};

	log_setup(getenv("TEST_WAL_DEBUG") != NULL ? LOG_DEBUG : LOG_ERROR,
	    LOG_FORMAT_LOGFMT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
