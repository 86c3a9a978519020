/*
 * libFuzzer target for the HTTP/1.x response reader (http1.c), which
 * reads what any scrape target sends. The input is a response; its
 * first byte picks how it is cut into pieces and the body limit. The
 * reader must not crash, leak or loop, and must give the same result
 * however the bytes arrive: fed whole, fed in the chosen pieces and fed
 * a byte at a time. A decoded body never passes the limit by more than
 * one inflate step.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http1.h"
#include "fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz_out {
	int		 ret;
	long		 status;
	int		 keep_alive;
	int		 too_large;
	size_t		 used;
	struct buf	 body;
};

static void
fuzz_feed(const char *p, size_t n, size_t step, uint64_t max,
    struct fuzz_out *o)
{
	struct http1_response r;
	size_t off = 0, len, used;
	int ret = HTTP1_MORE;

	buf_init(&o->body);
	http1_response_init(&r, &o->body, max);
	while (off < n && ret == HTTP1_MORE) {
		len = n - off < step ? n - off : step;
		ret = http1_response_feed(&r, p + off, len, &used);
		FUZZ_CHECK(used <= len);
		FUZZ_CHECK(ret != HTTP1_MORE || used == len);
		FUZZ_CHECK(ret != HTTP1_ERROR || r.error != NULL);
		off += used;
	}
	if (ret == HTTP1_MORE)
		ret = http1_response_eof(&r);
	FUZZ_CHECK(ret != HTTP1_MORE);
	o->ret = ret;
	o->status = r.status;
	o->keep_alive = r.keep_alive;
	o->too_large = r.too_large;
	o->used = off;
	if (max != 0)
		FUZZ_CHECK(o->body.len <= max + 64 * 1024);
	if (ret == HTTP1_DONE)
		FUZZ_CHECK(r.status >= 200 && r.status <= 599);
	http1_response_clean(&r);
}

static void
fuzz_same(const struct fuzz_out *a, const struct fuzz_out *b)
{
	FUZZ_CHECK(a->ret == b->ret);
	FUZZ_CHECK(a->too_large == b->too_large);
	if (a->ret != HTTP1_DONE)
		return;
	FUZZ_CHECK(a->status == b->status);
	FUZZ_CHECK(a->keep_alive == b->keep_alive);
	FUZZ_CHECK(a->used == b->used);
	FUZZ_CHECK(a->body.len == b->body.len);
	FUZZ_CHECK(a->body.len == 0 ||
	    memcmp(a->body.data, b->body.data, a->body.len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_out whole, cut, one;
	const char *p;
	uint64_t max;
	size_t n, step;

	if (size < 1 || size > 256 * 1024)
		return 0;
	step = (size_t)(data[0] & 0x1f) + 1;
	max = (data[0] & 0x20) ? 0 : (uint64_t)(data[0] >> 6) * 4096 + 64;
	p = (const char *)data + 1;
	n = size - 1;
	fuzz_feed(p, n, n == 0 ? 1 : n, max, &whole);
	fuzz_feed(p, n, step, max, &cut);
	fuzz_same(&whole, &cut);
	if (n <= 4096) {
		fuzz_feed(p, n, 1, max, &one);
		fuzz_same(&whole, &one);
		buf_free(&one.body);
	}
	buf_free(&whole.body);
	buf_free(&cut.body);
	return 0;
}
