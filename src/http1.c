/*
 * HTTP/1.x response reader (see http1.h for the wire layout).
 *
 * Lines (status, headers, chunk sizes, trailers) are gathered in r->line
 * because a line may arrive split across reads; body bytes go straight
 * to the decoder. Leniencies are those of Go's net/http client, which
 * the targets are written against: bare LF line ends, any reason phrase,
 * repeated equal Content-Length values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http1.h"
#include "xmalloc.h"

enum {
	H1_STATUS = 0,
	H1_HEADER,
	H1_BODY_LEN,
	H1_BODY_CLOSE,
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,
	H1_CHUNK_END,
	H1_TRAILER,
	H1_DONE,
	H1_FAILED,
};

/* A chunk-size line is hex digits and extensions: short. */
#define H1_CHUNK_LINE_MAX	1024
/* Room made for inflate's output at a time. */
#define H1_INFLATE_STEP		(64 * 1024)

static int
h1_fail(struct http1_response *r, const char *why)
{
	r->state = H1_FAILED;
	r->error = why;
	return HTTP1_ERROR;
}

void
http1_response_init(struct http1_response *r, struct buf *body,
    uint64_t max_body)
{
	memset(r, 0, sizeof *r);
	r->body = body;
	r->max_body = max_body;
	r->content_length = -1;
	buf_init(&r->line);
}

static void
h1_z_free(struct http1_response *r)
{
	if (r->z != NULL) {
		inflateEnd(r->z);
		free(r->z);
		r->z = NULL;
	}
}

void
http1_response_clean(struct http1_response *r)
{
	free(r->content_type);
	r->content_type = NULL;
	free(r->retry_after);
	r->retry_after = NULL;
	buf_free(&r->line);
	h1_z_free(r);
}

int
http1_response_started(const struct http1_response *r)
{
	return r->head_len != 0 || r->line.len != 0;
}

static int
h1_room(struct http1_response *r, size_t n)
{
	if (r->max_body != 0 && r->body->len + n > r->max_body) {
		r->too_large = 1;
		return h1_fail(r, "body size limit exceeded");
	}
	return 0;
}

static int
h1_inflate(struct http1_response *r, const char *p, size_t n)
{
	z_stream *z = r->z;
	size_t before;
	int ret;

	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	for (;;) {
		if (r->z_end) {
			if (z->avail_in == 0)
				return 0;
			/* Another member follows, as gzip(1) and Go read. */
			if (inflateReset(z) != Z_OK)
				return h1_fail(r, "invalid gzip body");
			r->z_end = 0;
		}
		buf_reserve(r->body, H1_INFLATE_STEP);
		before = r->body->len;
		z->next_out = (Bytef *)r->body->data + before;
		z->avail_out = (uInt)(r->body->cap - before - 1);
		ret = inflate(z, Z_NO_FLUSH);
		r->body->len = r->body->cap - 1 - z->avail_out;
		r->body->data[r->body->len] = '\0';
		if (r->max_body != 0 && r->body->len > r->max_body) {
			r->too_large = 1;
			return h1_fail(r, "body size limit exceeded");
		}
		if (ret == Z_STREAM_END)
			r->z_end = 1;
		else if (ret == Z_BUF_ERROR && z->avail_in == 0)
			return 0;
		else if (ret != Z_OK)
			return h1_fail(r, "invalid gzip body");
		else if (z->avail_in == 0 && z->avail_out != 0)
			return 0;
	}
}

static int
h1_body(struct http1_response *r, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (r->gzip)
		return h1_inflate(r, p, n);
	if (h1_room(r, n) == -1)
		return HTTP1_ERROR;
	buf_append(r->body, p, n);
	return 0;
}

/* The body ended where the framing says it does. */
static int
h1_finish(struct http1_response *r)
{
	if (r->gzip && !r->z_end)
		return h1_fail(r, "truncated gzip body");
	h1_z_free(r);
	r->keep_alive = r->state != H1_BODY_CLOSE &&
	    (r->minor >= 1 ? !r->conn_close : r->conn_keep);
	r->state = H1_DONE;
	return HTTP1_DONE;
}

/* Comma-separated tokens of a header value, as a caller of each. */
static int
h1_has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok), len;

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		len = strcspn(v, ", \t");
		if (len == n && strncasecmp(v, tok, n) == 0)
			return 1;
		v += len;
	}
	return 0;
}

static const char *
h1_last_token(const char *v, size_t *len)
{
	const char *last = v, *p = v;

	*len = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		last = p;
		*len = strcspn(p, ", \t");
		p += *len;
	}
	return last;
}

static int
h1_status_line(struct http1_response *r, const char *s)
{
	if (strncmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' ||
	    s[8] != ' ' || s[9] < '1' || s[9] > '5' || s[10] < '0' ||
	    s[10] > '9' || s[11] < '0' || s[11] > '9' ||
	    (s[12] != ' ' && s[12] != '\0'))
		return h1_fail(r, "malformed HTTP status line");
	r->minor = s[7] - '0';
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (r->status == 101)
		return h1_fail(r, "unexpected 101 Switching Protocols");
	r->state = H1_HEADER;
	return 0;
}

static int
h1_content_length(struct http1_response *r, const char *v)
{
	int64_t n = 0;
	const char *p;

	if (*v == '\0')
		return h1_fail(r, "malformed Content-Length");
	for (p = v; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10)
			return h1_fail(r, "malformed Content-Length");
		n = n * 10 + (*p - '0');
	}
	if (r->content_length != -1 && r->content_length != n)
		return h1_fail(r, "conflicting Content-Length values");
	r->content_length = n;
	return 0;
}

static int
h1_header_line(struct http1_response *r, char *s)
{
	char *colon, *v, *end;
	const char *tok;
	size_t len;

	if (*s == ' ' || *s == '\t')
		return h1_fail(r, "folded header line");
	if ((colon = strchr(s, ':')) == NULL || colon == s ||
	    strcspn(s, " \t") < (size_t)(colon - s))
		return h1_fail(r, "malformed header line");
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';

	if (strcasecmp(s, "Content-Length") == 0)
		return h1_content_length(r, v);
	if (strcasecmp(s, "Transfer-Encoding") == 0) {
		tok = h1_last_token(v, &len);
		if (len == 7 && strncasecmp(tok, "chunked", 7) == 0)
			r->chunked = 1;
		else if (!(len == 8 && strncasecmp(tok, "identity", 8) == 0))
			return h1_fail(r, "unsupported Transfer-Encoding");
		return 0;
	}
	if (strcasecmp(s, "Content-Encoding") == 0) {
		if (strcasecmp(v, "gzip") == 0 || strcasecmp(v, "x-gzip") == 0)
			r->gzip = 1;
		else if (*v != '\0' && strcasecmp(v, "identity") != 0)
			return h1_fail(r, "unsupported Content-Encoding");
		return 0;
	}
	if (strcasecmp(s, "Connection") == 0) {
		r->conn_close |= h1_has_token(v, "close");
		r->conn_keep |= h1_has_token(v, "keep-alive");
		return 0;
	}
	if (strcasecmp(s, "Content-Type") == 0) {
		free(r->content_type);
		r->content_type = xstrdup(v);
	} else if (strcasecmp(s, "Retry-After") == 0) {
		free(r->retry_after);
		r->retry_after = xstrdup(v);
	}
	return 0;
}

/* The blank line after the headers: choose how the body is framed. */
static int
h1_head_end(struct http1_response *r)
{
	z_stream *z;

	if (r->status < 200) {
		/* 1xx: an interim response; the real one follows. */
		r->state = H1_STATUS;
		r->chunked = r->gzip = r->conn_close = r->conn_keep = 0;
		r->content_length = -1;
		return 0;
	}
	if (r->status == 204 || r->status == 304) {
		r->gzip = 0;
		r->state = H1_BODY_LEN;
		return h1_finish(r);
	}
	if (r->gzip) {
		z = xcalloc(1, sizeof *z);
		if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK) {
			free(z);
			return h1_fail(r, "cannot start gzip decoding");
		}
		r->z = z;
	}
	if (r->chunked) {
		r->state = H1_CHUNK_SIZE;
		return 0;
	}
	if (r->content_length >= 0) {
		if (!r->gzip && h1_room(r, (size_t)r->content_length) == -1)
			return HTTP1_ERROR;
		r->length_hint = (size_t)r->content_length;
		r->left = (uint64_t)r->content_length;
		r->state = H1_BODY_LEN;
		if (r->left == 0)
			return h1_finish(r);
		return 0;
	}
	r->state = H1_BODY_CLOSE;
	return 0;
}

static int
h1_chunk_size(struct http1_response *r, const char *s)
{
	uint64_t n = 0;
	const char *p;
	int c;

	while (*s == ' ' || *s == '\t')
		s++;
	for (p = s; (c = (unsigned char)*p) != '\0'; p++) {
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			break;
		if (n >> 59 != 0)
			return h1_fail(r, "chunk size too large");
		n = n << 4 | (uint64_t)c;
	}
	if (p == s || (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t'))
		return h1_fail(r, "malformed chunk size");
	if (n == 0) {
		r->state = H1_TRAILER;
		return 0;
	}
	r->left = n;
	r->state = H1_CHUNK_DATA;
	return 0;
}

/* One whole line, CR LF (or LF) removed. */
static int
h1_line(struct http1_response *r, char *s)
{
	switch (r->state) {
	case H1_STATUS:
		return h1_status_line(r, s);
	case H1_HEADER:
		if (*s == '\0')
			return h1_head_end(r);
		return h1_header_line(r, s);
	case H1_CHUNK_SIZE:
		return h1_chunk_size(r, s);
	case H1_CHUNK_END:
		if (*s != '\0')
			return h1_fail(r, "malformed chunk end");
		r->state = H1_CHUNK_SIZE;
		return 0;
	case H1_TRAILER:
		if (*s == '\0')
			return h1_finish(r);
		return 0;
	}
	return h1_fail(r, "internal error: line in body state");
}

static int
h1_is_head(const struct http1_response *r)
{
	return r->state == H1_STATUS || r->state == H1_HEADER ||
	    r->state == H1_TRAILER;
}

int
http1_response_feed(struct http1_response *r, const char *p, size_t n,
    size_t *used)
{
	const char *nl;
	size_t take, limit;
	int ret;

	*used = 0;
	while (*used < n) {
		switch (r->state) {
		case H1_DONE:
			return HTTP1_DONE;
		case H1_FAILED:
			return HTTP1_ERROR;
		case H1_BODY_CLOSE:
			take = n - *used;
			if (h1_body(r, p + *used, take) == -1)
				return HTTP1_ERROR;
			*used += take;
			continue;
		case H1_BODY_LEN:
		case H1_CHUNK_DATA:
			take = n - *used;
			if (take > r->left)
				take = (size_t)r->left;
			if (h1_body(r, p + *used, take) == -1)
				return HTTP1_ERROR;
			*used += take;
			r->left -= take;
			if (r->left != 0)
				continue;
			if (r->state == H1_CHUNK_DATA) {
				r->state = H1_CHUNK_END;
				continue;
			}
			return h1_finish(r);
		}
		/* A line state. */
		limit = h1_is_head(r) ? HTTP1_HEAD_MAX : H1_CHUNK_LINE_MAX;
		nl = memchr(p + *used, '\n', n - *used);
		take = nl != NULL ? (size_t)(nl - (p + *used)) + 1 : n - *used;
		if (h1_is_head(r))
			r->head_len += take;
		if (r->line.len + take > limit || r->head_len > HTTP1_HEAD_MAX)
			return h1_fail(r, r->state == H1_STATUS ||
			    r->state == H1_HEADER ?
			    "response header too large" : "chunk line too long");
		buf_append(&r->line, p + *used, take);
		*used += take;
		if (nl == NULL)
			return HTTP1_MORE;
		r->line.len--;
		if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r')
			r->line.len--;
		r->line.data[r->line.len] = '\0';
		if (memchr(r->line.data, '\0', r->line.len) != NULL)
			return h1_fail(r, "NUL byte in response header");
		ret = h1_line(r, r->line.data);
		buf_reset(&r->line);
		if (ret != 0)
			return ret;
	}
	if (r->state == H1_DONE)
		return HTTP1_DONE;
	return r->state == H1_FAILED ? HTTP1_ERROR : HTTP1_MORE;
}

int
http1_response_eof(struct http1_response *r)
{
	switch (r->state) {
	case H1_DONE:
		return HTTP1_DONE;
	case H1_FAILED:
		return HTTP1_ERROR;
	case H1_BODY_CLOSE:
		return h1_finish(r);
	case H1_STATUS:
		if (!http1_response_started(r))
			return h1_fail(r, "empty reply from server");
		break;
	case H1_BODY_LEN:
		snprintf(r->errbuf, sizeof r->errbuf, "transfer closed with "
		    "%llu bytes remaining to read", (unsigned long long)r->left);
		return h1_fail(r, r->errbuf);
	case H1_CHUNK_SIZE:
	case H1_CHUNK_DATA:
	case H1_CHUNK_END:
	case H1_TRAILER:
		return h1_fail(r, "transfer closed before the last chunk");
	}
	return h1_fail(r, "connection closed in the response header");
}
