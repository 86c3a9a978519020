/*
 * Remote-write encoding micro-benchmark (not a test): builds request
 * bodies the way a shard does (rw_encode_sample_pairs over interned
 * pairs) and compresses them, printing the thread's CPU nanoseconds and
 * the bytes per sample of
 *
 *	encode		the raw WriteRequest alone
 *	whole		snappy_compress() of the whole raw request
 *	fragments	encode and compress 64 KiB at a time (rw_body), as
 *			the shards do
 *
 * The series are the shape of bench/target's pages (counters with
 * method/code/route, gauges with queue/zone, histogram buckets) for
 * -t targets, in page order, -n samples a request; values are random
 * (-i for small integers instead, as counters mostly are).
 *
 * Without -p it prints the best of the repetitions. -p MS sleeps MS
 * milliseconds before each and prints the median: what a request costs
 * when its tables and buffers have gone cold, as at a few requests a
 * second.
 *
 * usage: bench/rw [-t targets] [-n samples] [-r reps] [-p ms] [-i]
 */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "labels.h"
#include "rw_encode.h"
#include "xmalloc.h"

struct bench_series {
	uint8_t		ids[8 * RW_IDS_MAX];	/* varints, as a shard's */
	size_t		nb;
	size_t		len;
};

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Best of n, or with a pause the median: noise only ever adds. */
static double
bench_pick(double *v, size_t n, int pause)
{
	qsort(v, n, sizeof *v, bench_cmp);
	return pause ? v[n / 2] : v[0];
}

static uint64_t bench_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
bench_rand(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

static void
bench_add(struct rw_pairs *p, struct bench_series *s, const char *n,
    const char *v)
{
	uint32_t id;
	size_t len;

	id = rw_pairs_intern(p, (struct lstr){ n, strlen(n) },
	    (struct lstr){ v, strlen(v) });
	(void)rw_pairs_get(p, id, &len);
	s->len += len;
	s->nb = (size_t)(rw_ids_put(s->ids + s->nb, id) - s->ids);
}

/* One target's 1,000 series, labels sorted as a series' are. */
static void
bench_target_series(struct rw_pairs *p, struct bench_series *v, int t)
{
	static const char *methods[] = { "GET", "POST", "PUT", "DELETE" };
	static const char *les[] = { "0.005", "0.01", "0.025", "0.05", "0.1",
	    "0.25", "0.5", "1", "2.5", "+Inf" };
	char name[64], inst[32], a[64], b[32];
	int i, k = 0;

	snprintf(inst, sizeof inst, "127.1.0.%d:9100", t + 1);
	for (i = 0; k < 1000; i++) {
		struct bench_series *s = &v[k++];

		memset(s, 0, sizeof *s);
		switch (i % 3) {
		case 0:
			snprintf(name, sizeof name, "bench_requests_%d_total",
			    i / 30);
			bench_add(p, s, "__name__", name);
			bench_add(p, s, "agent", "promlet");
			snprintf(b, sizeof b, "%d", 200 + i % 5);
			bench_add(p, s, "code", b);
			bench_add(p, s, "instance", inst);
			bench_add(p, s, "job", "bench");
			bench_add(p, s, "method", methods[i % 4]);
			snprintf(a, sizeof a, "/api/v1/resource/%d", i % 10);
			bench_add(p, s, "route", a);
			break;
		case 1:
			snprintf(name, sizeof name, "bench_queue_depth_%d",
			    i / 30);
			bench_add(p, s, "__name__", name);
			bench_add(p, s, "agent", "promlet");
			bench_add(p, s, "instance", inst);
			bench_add(p, s, "job", "bench");
			snprintf(a, sizeof a, "worker-%d", i % 10);
			bench_add(p, s, "queue", a);
			snprintf(b, sizeof b, "zone-%d", i % 3);
			bench_add(p, s, "zone", b);
			break;
		default:
			snprintf(name, sizeof name,
			    "bench_latency_%d_seconds_bucket", i / 30);
			bench_add(p, s, "__name__", name);
			bench_add(p, s, "agent", "promlet");
			snprintf(a, sizeof a, "/handler/%d", i % 10);
			bench_add(p, s, "handler", a);
			bench_add(p, s, "instance", inst);
			bench_add(p, s, "job", "bench");
			bench_add(p, s, "le", les[i % 10]);
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	struct bench_series *series;
	struct rw_pairs *p = rw_pairs_new();
	struct buf req = BUF_INIT, frag = BUF_INIT;
	struct rw_body body;
	int targets = 2, nsamples = 2000, reps = 200, ints = 0, pause = 0;
	int c, r;
	size_t i, total, ns, nreq = 0;
	double t0, enc, comp, frg, *enc_v, *comp_v, *frg_v;
	struct timespec nap;
	size_t clen = 0;
	char *cbuf = NULL;
	double *vals;

	while ((c = getopt(argc, argv, "in:p:r:t:")) != -1) {
		switch (c) {
		case 'i': ints = 1; break;
		case 'n': nsamples = atoi(optarg); break;
		case 'p': pause = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 't': targets = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench/rw [-t targets] "
			    "[-n samples] [-r reps] [-p ms] [-i]\n");
			return 2;
		}
	}
	if (targets < 1 || nsamples < 1 || reps < 1 || pause < 0)
		return 2;
	nap.tv_sec = pause / 1000;
	nap.tv_nsec = (long)(pause % 1000) * 1000000L;
	enc_v = xcalloc((size_t)reps, sizeof *enc_v);
	comp_v = xcalloc((size_t)reps, sizeof *comp_v);
	frg_v = xcalloc((size_t)reps, sizeof *frg_v);
	total = (size_t)targets * 1000;
	series = xcalloc(total, sizeof *series);
	for (c = 0; c < targets; c++)
		bench_target_series(p, series + (size_t)c * 1000, c);
	ns = (size_t)nsamples;
	vals = xcalloc(ns, sizeof *vals);

	for (r = 0; r < reps; r++) {
		if (pause > 0)
			nanosleep(&nap, NULL);
		for (i = 0; i < ns; i++)
			vals[i] = ints ? (double)(bench_rand() % 1000) :
			    (double)(bench_rand() % 100000000) / 100.0;
		buf_reset(&req);
		t0 = bench_now();
		for (i = 0; i < ns; i++) {
			struct bench_series *s = &series[(nreq * ns + i) %
			    total];

			rw_encode_sample_pairs(&req, p, s->ids, s->nb, s->len,
			    vals[i], 1796553366123LL + (int64_t)(i / 1000) * 50);
		}
		enc_v[r] = bench_now() - t0;

		if (cbuf == NULL)
			cbuf = xmalloc(snappy_max_compressed_length(req.len) +
			    (1 << 20));
		clen = snappy_max_compressed_length(req.len) + (1 << 20);
		t0 = bench_now();
		if (snappy_compress(req.data, req.len, cbuf, &clen) !=
		    SNAPPY_OK)
			return 1;
		comp_v[r] = bench_now() - t0;

		memset(&body, 0, sizeof body);
		t0 = bench_now();
		rw_body_begin(&body);
		for (i = 0; i < ns; i++) {
			struct bench_series *s = &series[(nreq * ns + i) %
			    total];

			rw_encode_sample_pairs(&frag, p, s->ids, s->nb, s->len,
			    vals[i], 1796553366123LL + (int64_t)(i / 1000) * 50);
			if (frag.len >= RW_FRAGMENT - 1024)
				rw_body_add(&body, &frag);
		}
		rw_body_add(&body, &frag);
		rw_body_finish(&body);
		frg_v[r] = bench_now() - t0;
		if (r + 1 < reps)
			buf_free(&body.out);
		nreq++;
	}
	enc = bench_pick(enc_v, (size_t)reps, pause);
	comp = bench_pick(comp_v, (size_t)reps, pause);
	frg = bench_pick(frg_v, (size_t)reps, pause);
	printf("request: %zu samples, %.1f bytes/sample uncompressed\n", ns,
	    (double)req.len / (double)ns);
	printf("encode      %7.1f ns/sample\n", enc * 1e9 / (double)ns);
	printf("whole       %7.1f ns/sample  %6.2f bytes/sample (snappy)\n",
	    comp * 1e9 / (double)ns, (double)clen / (double)ns);
	printf("fragments   %7.1f ns/sample  %6.2f bytes/sample (encode "
	    "included)\n", frg * 1e9 / (double)ns,
	    (double)(body.out.len - body.start) / (double)ns);
	buf_free(&req);
	buf_free(&frag);
	buf_free(&body.out);
	free(cbuf);
	free(vals);
	free(enc_v);
	free(comp_v);
	free(frg_v);
	rw_pairs_free(p);
	free(series);
	return 0;
}
