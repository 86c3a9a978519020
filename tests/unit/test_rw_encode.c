/*
 * rw_encode writes protobuf by hand; decode its output with the
 * protobuf-c code generated from the files in src/prompb to prove it is the
 * WriteRequest the remote write spec defines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "labels.h"
#include "remote.pb-c.h"
#include "rw_encode.h"

/* ids as the varints rw_encode_sample_pairs reads; returns the bytes. */
static size_t
ids_put(const uint32_t *ids, size_t n, uint8_t *out)
{
	uint8_t *o = out;
	size_t i;

	for (i = 0; i < n; i++)
		o = rw_ids_put(o, ids[i]);
	return (size_t)(o - out);
}

/* Every id reads back as written, in as few bytes as a varint takes. */
static void
test_ids_varints(void **state)
{
	static const uint32_t v[] = { 0, 1, 127, 128, 16383, 16384,
	    2097151, 2097152, 268435455, 268435456, UINT32_MAX };
	static const size_t want[] = { 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5 };
	uint8_t b[sizeof v / sizeof v[0] * RW_IDS_MAX];
	const uint8_t *q = b;
	size_t i, nb = 0;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = ids_put(&v[i], 1, b + nb);

		assert_int_equal(n, want[i]);
		nb += n;
	}
	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		assert_int_equal(rw_ids_get(&q), v[i]);
	assert_ptr_equal(q, b + nb);
}

/* One TimeSeries through the production path: interned pairs. */
static void
encode_series(struct buf *req, const char *name, const char *job,
    double v, int64_t ts)
{
	struct rw_pairs *p = rw_pairs_new();
	uint32_t ids[2];
	uint8_t b[2 * RW_IDS_MAX];
	size_t len, total = 0;
	int i;

	ids[0] = rw_pairs_intern(p, LSTR("__name__"),
	    (struct lstr){ name, strlen(name) });
	ids[1] = rw_pairs_intern(p, LSTR("job"),
	    (struct lstr){ job, strlen(job) });
	for (i = 0; i < 2; i++) {
		(void)rw_pairs_get(p, ids[i], &len);
		total += len;
	}
	rw_encode_sample_pairs(req, p, b, ids_put(ids, 2, b), total, v, ts);
	rw_pairs_free(p);
}

static void
test_decodes_as_write_request(void **state)
{
	struct buf req = BUF_INIT;
	Prometheus__WriteRequest *wr;
	uint64_t stale = 0x7ff0000000000002ULL, bits;
	double sv;

	(void)state;
	memcpy(&sv, &stale, sizeof sv);
	encode_series(&req, "up", "node", 1.0, 1700000000123LL);
	encode_series(&req, "http_requests_total", "a-long-job-name", -2.5, 0);
	encode_series(&req, "gone", "x", sv, -5);

	wr = prometheus__write_request__unpack(NULL, req.len,
	    (const uint8_t *)req.data);
	assert_non_null(wr);
	assert_int_equal(wr->n_timeseries, 3);
	assert_int_equal(wr->timeseries[0]->n_labels, 2);
	assert_string_equal(wr->timeseries[0]->labels[0]->name, "__name__");
	assert_string_equal(wr->timeseries[0]->labels[0]->value, "up");
	assert_string_equal(wr->timeseries[0]->labels[1]->name, "job");
	assert_string_equal(wr->timeseries[0]->labels[1]->value, "node");
	assert_int_equal(wr->timeseries[0]->n_samples, 1);
	assert_true(wr->timeseries[0]->samples[0]->value == 1.0);
	assert_true(wr->timeseries[0]->samples[0]->timestamp ==
	    1700000000123LL);
	assert_string_equal(wr->timeseries[1]->labels[0]->value,
	    "http_requests_total");
	assert_true(wr->timeseries[1]->samples[0]->value == -2.5);
	assert_true(wr->timeseries[1]->samples[0]->timestamp == 0);
	/* The stale marker's exact bits survive encoding. */
	memcpy(&bits, &wr->timeseries[2]->samples[0]->value, sizeof bits);
	assert_true(bits == stale);
	assert_true(wr->timeseries[2]->samples[0]->timestamp == -5);
	prometheus__write_request__free_unpacked(wr, NULL);
	buf_free(&req);
}

static void
test_long_labels_need_multibyte_lengths(void **state)
{
	struct buf req = BUF_INIT;
	Prometheus__WriteRequest *wr;
	char big[1000];

	(void)state;
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	encode_series(&req, "m", big, 3.0, 42);
	wr = prometheus__write_request__unpack(NULL, req.len,
	    (const uint8_t *)req.data);
	assert_non_null(wr);
	assert_string_equal(wr->timeseries[0]->labels[1]->value, big);
	prometheus__write_request__free_unpacked(wr, NULL);
	buf_free(&req);
}

/* One pair table across samples: each keeps its own timestamp. */
static void
test_timestamps_change(void **state)
{
	static const int64_t ts[] = { 1700000000123LL, 1700000000123LL, 5,
	    1700000000123LL, -1, 0 };
	struct rw_pairs *p = rw_pairs_new();
	struct buf req = BUF_INIT;
	Prometheus__WriteRequest *wr;
	uint32_t id;
	uint8_t b[RW_IDS_MAX];
	size_t len, i, nb;

	(void)state;
	id = rw_pairs_intern(p, LSTR("__name__"), LSTR("up"));
	(void)rw_pairs_get(p, id, &len);
	nb = ids_put(&id, 1, b);
	for (i = 0; i < 6; i++)
		rw_encode_sample_pairs(&req, p, b, nb, len, (double)i, ts[i]);
	wr = prometheus__write_request__unpack(NULL, req.len,
	    (const uint8_t *)req.data);
	assert_non_null(wr);
	assert_int_equal(wr->n_timeseries, 6);
	for (i = 0; i < 6; i++) {
		assert_true(wr->timeseries[i]->samples[0]->timestamp == ts[i]);
		assert_true(wr->timeseries[i]->samples[0]->value == (double)i);
	}
	prometheus__write_request__free_unpacked(wr, NULL);
	buf_free(&req);
	rw_pairs_free(p);
}

/*
 * A body compressed a fragment at a time is one snappy stream: libsnappy
 * decompresses it to the raw request, whatever the fragment sizes, and it
 * is no bigger than compressing the whole at once, give or take a little.
 */
static void
test_body_fragments(void **state)
{
	static const size_t cuts[] = { 1, 100, 4096, RW_FRAGMENT - 1024,
	    RW_FRAGMENT, 3 * RW_FRAGMENT };
	struct buf req = BUF_INIT, frag = BUF_INIT;
	struct rw_body body;
	size_t k, off, n, got, whole;
	char *back, *w;
	int i;

	(void)state;
	for (i = 0; i < 6000; i++)
		encode_series(&req, i % 3 ? "node_cpu_seconds_total" :
		    "http_requests_total", i % 2 ? "node" : "api", i * 0.5, i);
	whole = snappy_max_compressed_length(req.len);
	w = malloc(whole);
	assert_non_null(w);
	assert_int_equal(snappy_compress(req.data, req.len, w, &whole),
	    SNAPPY_OK);
	back = malloc(req.len);
	assert_non_null(back);
	memset(&body, 0, sizeof body);
	for (k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
		rw_body_begin(&body);
		for (off = 0; off < req.len; off += n) {
			n = req.len - off < cuts[k] ? req.len - off : cuts[k];
			buf_append(&frag, req.data + off, n);
			rw_body_add(&body, &frag);
			assert_int_equal(frag.len, 0);
		}
		rw_body_finish(&body);
		got = req.len;
		assert_int_equal(snappy_uncompress(body.out.data + body.start,
		    body.out.len - body.start, back, &got), SNAPPY_OK);
		assert_int_equal(got, req.len);
		assert_memory_equal(back, req.data, req.len);
		if (cuts[k] >= RW_FRAGMENT - 1024)
			assert_true((body.out.len - body.start) * 100 <=
			    whole * 102);
	}
	/* Nothing added: an empty request is still a valid body. */
	rw_body_begin(&body);
	rw_body_finish(&body);
	got = 0;
	assert_int_equal(snappy_uncompressed_length(body.out.data + body.start,
	    body.out.len - body.start, &got), SNAPPY_OK);
	assert_int_equal(got, 0);
	free(back);
	free(w);
	buf_free(&req);
	buf_free(&frag);
	buf_free(&body.out);
}

/*
 * Pairs give byte for byte what protobuf-c packs for the same WriteRequest
 * (nonzero value and timestamp, so proto3 elides nothing), with a label
 * long enough for multi-byte lengths.
 */
static void
test_pairs_encode_like_protobuf_c(void **state)
{
	static const char *names[] = { "__name__", "job", "path" };
	char big[301];
	const char *values[] = { "http_requests_total", "api", big };
	Prometheus__Label lab[3], *labp[3];
	Prometheus__Sample smp = PROMETHEUS__SAMPLE__INIT, *smpp = &smp;
	Prometheus__TimeSeries ts = PROMETHEUS__TIME_SERIES__INIT, *tsp = &ts;
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	struct buf got = BUF_INIT;
	struct rw_pairs *p = rw_pairs_new();
	uint8_t *want, b[3 * RW_IDS_MAX];
	uint32_t ids[3];
	size_t i, len, total = 0, wlen;

	(void)state;
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (i = 0; i < 3; i++) {
		prometheus__label__init(&lab[i]);
		lab[i].name = (char *)names[i];
		lab[i].value = (char *)values[i];
		labp[i] = &lab[i];
		ids[i] = rw_pairs_intern(p, (struct lstr){ names[i],
		    strlen(names[i]) }, (struct lstr){ values[i],
		    strlen(values[i]) });
		(void)rw_pairs_get(p, ids[i], &len);
		total += len;
	}
	smp.value = 42.5;
	smp.timestamp = 1700000000000LL;
	ts.n_labels = 3;
	ts.labels = labp;
	ts.n_samples = 1;
	ts.samples = &smpp;
	wr.n_timeseries = 1;
	wr.timeseries = &tsp;
	wlen = prometheus__write_request__get_packed_size(&wr);
	want = malloc(wlen);
	assert_non_null(want);
	prometheus__write_request__pack(&wr, want);

	rw_encode_sample_pairs(&got, p, b, ids_put(ids, 3, b), total, 42.5,
	    1700000000000LL);
	assert_int_equal(got.len, wlen);
	assert_memory_equal(got.data, want, wlen);
	free(want);
	buf_free(&got);
	rw_pairs_free(p);
}

/* The bytes protobuf-c packs for a TimeSeries holding just this label:
 * one Label field, which is what a pair holds. */
static void
pack_label(struct buf *out, const char *name, const char *value)
{
	Prometheus__Label lab = PROMETHEUS__LABEL__INIT, *labp = &lab;
	Prometheus__TimeSeries ts = PROMETHEUS__TIME_SERIES__INIT;

	lab.name = (char *)name;
	lab.value = (char *)value;
	ts.n_labels = 1;
	ts.labels = &labp;
	buf_reset(out);
	buf_reserve(out, prometheus__time_series__get_packed_size(&ts));
	out->len = prometheus__time_series__pack(&ts, (uint8_t *)out->data);
}

/*
 * Interning against a model under churn: equal pairs share an id while
 * held, every held id still reads back its own pair after other pairs
 * were released (deletion keeps probe runs intact), and the last release
 * frees the pair.
 */
static void
test_pairs_refcount_and_churn(void **state)
{
	enum { N = 3000, ROUNDS = 20000 };
	static uint32_t held[N];
	static unsigned refs[N];
	struct rw_pairs *p = rw_pairs_new();
	struct buf want = BUF_INIT;
	char v[32];
	const char *got;
	size_t len, live = 0;
	unsigned x = 12345, k, r;
	uint32_t id;

	(void)state;
	for (r = 0; r < ROUNDS; r++) {
		x = x * 1103515245u + 12345u;
		k = (x >> 8) % N;
		snprintf(v, sizeof v, "value-%u", k);
		if ((x >> 4) % 3 != 0 || refs[k] == 0) {
			id = rw_pairs_intern(p, LSTR("pod"),
			    (struct lstr){ v, strlen(v) });
			if (refs[k] > 0)
				assert_int_equal(id, held[k]);
			else
				live++;
			held[k] = id;
			refs[k]++;
		} else {
			rw_pairs_release(p, held[k]);
			if (--refs[k] == 0)
				live--;
		}
		assert_int_equal(rw_pairs_count(p), live);
	}
	for (k = 0; k < N; k++) {
		if (refs[k] == 0)
			continue;
		snprintf(v, sizeof v, "value-%u", k);
		pack_label(&want, "pod", v);
		got = rw_pairs_get(p, held[k], &len);
		assert_int_equal(len, want.len);
		assert_memory_equal(got, want.data, len);
		/* Looking it up again finds the same entry. */
		id = rw_pairs_intern(p, LSTR("pod"),
		    (struct lstr){ v, strlen(v) });
		assert_int_equal(id, held[k]);
		rw_pairs_release(p, id);
		while (refs[k]-- > 0)
			rw_pairs_release(p, held[k]);
	}
	assert_int_equal(rw_pairs_count(p), 0);
	buf_free(&want);
	rw_pairs_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_varints),
		cmocka_unit_test(test_decodes_as_write_request),
		cmocka_unit_test(test_long_labels_need_multibyte_lengths),
		cmocka_unit_test(test_timestamps_change),
		cmocka_unit_test(test_body_fragments),
		cmocka_unit_test(test_pairs_encode_like_protobuf_c),
		cmocka_unit_test(test_pairs_refcount_and_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
