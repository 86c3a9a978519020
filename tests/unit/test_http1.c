/*
 * Unit tests for the HTTP/1.x response reader (http1.c). Every response
 * is fed whole, then split at every byte, then a byte at a time: the
 * result must not depend on how the bytes arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "http1.h"

struct outcome {
	int		 ret;	/* HTTP1_DONE or HTTP1_ERROR */
	long		 status;
	int		 keep_alive;
	int		 too_large;
	char		 error[128];
	char		 ctype[64];
	struct buf	 body;
	size_t		 used;	/* bytes consumed */
};

/* Feed s in pieces cut at cut1 and then every step bytes; eof at end. */
static void
run(const char *s, size_t n, size_t cut1, size_t step, int eof,
    uint64_t max, struct outcome *o)
{
	struct http1_response r;
	size_t off = 0, len, used;
	int ret = HTTP1_MORE;

	memset(o, 0, sizeof *o);
	buf_init(&o->body);
	http1_response_init(&r, &o->body, max);
	while (off < n && ret == HTTP1_MORE) {
		len = off == 0 && cut1 != 0 ? cut1 : step;
		if (len > n - off)
			len = n - off;
		ret = http1_response_feed(&r, s + off, len, &used);
		assert_true(used <= len);
		if (ret == HTTP1_MORE)
			assert_int_equal(used, len);
		off += used;
	}
	if (ret == HTTP1_MORE && eof)
		ret = http1_response_eof(&r);
	o->ret = ret;
	o->used = off;
	o->status = r.status;
	o->keep_alive = r.keep_alive;
	o->too_large = r.too_large;
	if (r.error != NULL)
		snprintf(o->error, sizeof o->error, "%s", r.error);
	if (r.content_type != NULL)
		snprintf(o->ctype, sizeof o->ctype, "%s", r.content_type);
	http1_response_clean(&r);
}

/* The same outcome for every way of cutting s. */
static void
check_all_splits(const char *s, size_t n, int eof, uint64_t max,
    struct outcome *want)
{
	struct outcome o;
	size_t cut;

	run(s, n, 0, n, eof, max, want);
	for (cut = 1; cut <= n; cut++) {
		run(s, n, cut, n, eof, max, &o);
		assert_int_equal(o.ret, want->ret);
		assert_int_equal(o.status, want->status);
		assert_int_equal(o.keep_alive, want->keep_alive);
		assert_int_equal(o.too_large, want->too_large);
		assert_string_equal(o.error, want->error);
		/* Past a limit, what was kept depends on the pieces. */
		if (o.too_large) {
			buf_free(&o.body);
			continue;
		}
		assert_int_equal(o.body.len, want->body.len);
		assert_memory_equal(o.body.data == NULL ? "" : o.body.data,
		    want->body.data == NULL ? "" : want->body.data, o.body.len);
		buf_free(&o.body);
	}
	run(s, n, 0, 1, eof, max, &o);
	assert_int_equal(o.ret, want->ret);
	if (!o.too_large)
		assert_int_equal(o.body.len, want->body.len);
	assert_string_equal(o.error, want->error);
	buf_free(&o.body);
}

static void
gzip_into(struct buf *out, const char *s, size_t n)
{
	z_stream z;
	unsigned char tmp[4096];
	int ret;

	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)s;
	z.avail_in = (uInt)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		ret = deflate(&z, Z_FINISH);
		buf_append(out, tmp, sizeof tmp - z.avail_out);
	} while (ret == Z_OK);
	assert_int_equal(ret, Z_STREAM_END);
	deflateEnd(&z);
}

static void
test_content_length(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4\r\n"
	    "content-length: 10\r\n\r\nup 1\nx 2\n\n"
	    "HTTP/1.1 200 OK\r\n";	/* the next response: not consumed */
	struct outcome o;

	check_all_splits(s, sizeof s - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.keep_alive, 1);
	assert_string_equal(o.ctype, "text/plain; version=0.0.4");
	assert_int_equal(o.body.len, 10);
	assert_memory_equal(o.body.data, "up 1\nx 2\n\n", 10);
	assert_int_equal(o.used, sizeof s - 1 - 17);
	buf_free(&o.body);
}

static void
test_chunked_with_trailer(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\n"	/* bare LF lines */
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nup 1\n\r\n"
	    "A\r\n0123456789\r\n"
	    "0\r\nX-Trailer: 1\r\n\r\n";
	struct outcome o;

	check_all_splits(s, sizeof s - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.keep_alive, 1);
	assert_int_equal(o.body.len, 15);
	assert_memory_equal(o.body.data, "up 1\n0123456789", 15);
	assert_int_equal(o.used, sizeof s - 1);
	buf_free(&o.body);
}

static void
test_until_close_http10(void **state)
{
	static const char s[] = "HTTP/1.0 200 OK\r\n\r\nabc\ndef\n";
	static const char ka[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	    "Content-Length: 2\r\n\r\nok";
	static const char cl[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
	    "Content-Length: 2\r\n\r\nok";
	struct outcome o;

	check_all_splits(s, sizeof s - 1, 1, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.keep_alive, 0);
	assert_int_equal(o.body.len, 8);
	buf_free(&o.body);
	/* Without the close, the body is not known to be complete. */
	run(s, sizeof s - 1, 0, 4, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_MORE);
	buf_free(&o.body);

	check_all_splits(ka, sizeof ka - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.keep_alive, 1);
	buf_free(&o.body);
	check_all_splits(cl, sizeof cl - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.keep_alive, 0);
	buf_free(&o.body);
}

static void
test_gzip(void **state)
{
	struct buf page = BUF_INIT, gz = BUF_INIT, resp = BUF_INIT;
	struct outcome o;
	size_t i, half;

	for (i = 0; i < 3000; i++)
		buf_printf(&page, "metric_%zu{a=\"b\"} %zu\n", i % 97, i);
	gzip_into(&gz, page.data, page.len);
	/* Content-Length framing. */
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: %zu\r\n\r\n", gz.len);
	buf_append(&resp, gz.data, gz.len);
	run(resp.data, resp.len, 0, resp.len, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.body.len, page.len);
	assert_memory_equal(o.body.data, page.data, page.len);
	buf_free(&o.body);
	run(resp.data, resp.len, 0, 7, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_memory_equal(o.body.data, page.data, page.len);
	buf_free(&o.body);

	/* Chunked, two gzip members (as gzip(1) concatenates files). */
	buf_reset(&resp);
	half = gz.len / 2;
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", half);
	buf_append(&resp, gz.data, half);
	buf_printf(&resp, "\r\n%zx\r\n", gz.len - half);
	buf_append(&resp, gz.data + half, gz.len - half);
	buf_printf(&resp, "\r\n%zx\r\n", gz.len);
	buf_append(&resp, gz.data, gz.len);
	buf_puts(&resp, "\r\n0\r\n\r\n");
	run(resp.data, resp.len, 0, 1000, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.body.len, 2 * page.len);
	assert_memory_equal(o.body.data + page.len, page.data, page.len);
	buf_free(&o.body);

	/* Cut short: the stream never ends. */
	buf_reset(&resp);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: %zu\r\n\r\n", gz.len - 8);
	buf_append(&resp, gz.data, gz.len - 8);
	run(resp.data, resp.len, 0, resp.len, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_string_equal(o.error, "truncated gzip body");
	buf_free(&o.body);

	/* The limit counts decoded bytes: a small gzip of a big page. */
	buf_reset(&resp);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: %zu\r\n\r\n", gz.len);
	buf_append(&resp, gz.data, gz.len);
	run(resp.data, resp.len, 0, resp.len, 0, page.len / 2, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_int_equal(o.too_large, 1);
	assert_true(o.body.len <= page.len / 2 + 70 * 1024);
	buf_free(&o.body);

	/* Not gzip at all. */
	buf_reset(&resp);
	buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: 10\r\n\r\nup 1\nup 2\n");
	run(resp.data, resp.len, 0, resp.len, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_string_equal(o.error, "invalid gzip body");
	buf_free(&o.body);

	buf_free(&page);
	buf_free(&gz);
	buf_free(&resp);
}

static void
test_interim_and_no_body(void **state)
{
	static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
	static const char nm[] = "HTTP/1.1 304 Not Modified\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	struct outcome o;

	check_all_splits(s, sizeof s - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.status, 204);
	assert_int_equal(o.body.len, 0);
	buf_free(&o.body);
	check_all_splits(nm, sizeof nm - 1, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	assert_int_equal(o.status, 304);
	buf_free(&o.body);
}

static void
test_body_limit(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	static const char c[] = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n";
	struct outcome o;

	/* Refused from the header, before any body byte. */
	check_all_splits(s, sizeof s - 1, 0, 99, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_int_equal(o.too_large, 1);
	assert_string_equal(o.error, "body size limit exceeded");
	buf_free(&o.body);
	check_all_splits(c, sizeof c - 1, 0, 10, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_int_equal(o.too_large, 1);
	assert_true(o.body.len <= 10);
	buf_free(&o.body);
	check_all_splits(c, sizeof c - 1, 0, 16, &o);
	assert_int_equal(o.ret, HTTP1_DONE);
	buf_free(&o.body);
}

static void
expect_error(const char *s, int eof, const char *err)
{
	struct outcome o;

	check_all_splits(s, strlen(s), eof, 0, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_string_equal(o.error, err);
	buf_free(&o.body);
}

static void
test_errors(void **state)
{
	struct buf big = BUF_INIT;
	struct outcome o;

	expect_error("HTTP/2 200\r\n\r\n", 0, "malformed HTTP status line");
	expect_error("SSH-2.0-OpenSSH\r\n", 0, "malformed HTTP status line");
	expect_error("HTTP/1.1 20 OK\r\n", 0, "malformed HTTP status line");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 0, "conflicting Content-Length values");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0,
	    "malformed Content-Length");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999"
	    "\r\n\r\n", 0, "malformed Content-Length");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n", 0, "malformed chunk size");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffff\r\n", 0, "chunk size too large");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nabX\r\n", 0, "malformed chunk end");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0,
	    "unsupported Transfer-Encoding");
	expect_error("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", 0,
	    "unsupported Content-Encoding");
	expect_error("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", 0,
	    "malformed header line");
	expect_error("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0,
	    "folded header line");
	expect_error("HTTP/1.1 101 Switching Protocols\r\n\r\n", 0,
	    "unexpected 101 Switching Protocols");
	/* The peer closed early, at each place it can. */
	expect_error("", 1, "empty reply from server");
	expect_error("HTTP/1.1 200 OK\r\nContent-", 1,
	    "connection closed in the response header");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1,
	    "transfer closed with 7 bytes remaining to read");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "a\r\nabc", 1, "transfer closed before the last chunk");

	/* A header section without end is cut at HTTP1_HEAD_MAX. */
	buf_puts(&big, "HTTP/1.1 200 OK\r\n");
	while (big.len <= HTTP1_HEAD_MAX)
		buf_puts(&big, "X-Filler: 0123456789012345678901234567890\r\n");
	run(big.data, big.len, 0, 1000, 0, 0, &o);
	assert_int_equal(o.ret, HTTP1_ERROR);
	assert_string_equal(o.error, "response header too large");
	buf_free(&o.body);
	buf_free(&big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked_with_trailer),
		cmocka_unit_test(test_until_close_http10),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_interim_and_no_body),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
