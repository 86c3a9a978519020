/*
 * The native scrape path of http.c on a real loop against a scripted
 * server on loopback (a thread with blocking sockets): connection reuse,
 * a kept connection the server closed, framing and gzip in small pieces,
 * long bodies in evhttp-sized pieces and a close before their end,
 * timeouts, refused connections, cancels, redirects handed to curl, the
 * Authorization header, and POSTs (remote write) with their bodies; and
 * oauth2: the token request, the token on requests, the credentials
 * style detected, failures, requests waiting for a token.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "config.h"
#include "http.h"

enum mode {
	M_KEEP,		/* Content-Length, connection kept */
	M_CLOSE,	/* Content-Length, then close without saying so */
	M_GZIP_DRIP,	/* chunked gzip, written a few bytes at a time */
	M_SILENT,	/* read the request, never answer */
	M_REDIRECT,	/* /old: 302 to /new */
	M_BIG,		/* a 100-byte body */
	M_POST,		/* read a POST's body; 429 with Retry-After */
	M_LONG,		/* 200 kB by Content-Length, in 16 KiB pieces */
	M_CHUNK,	/* the same as one chunk */
	M_CUT,		/* a fifth of M_LONG, then close */
	M_OAUTH2,	/* POST /token, GET /metrics needing it; one each */
};

struct server {
	int		 lfd;
	int		 port;
	pthread_t	 th;
	int		 stop;
	enum mode	 mode;
	int		 accepts;
	int		 requests;
	char		 last[4096];	/* the last request's head */
	char		*body;		/* the last request's body */
	size_t		 body_len;
	pthread_mutex_t	 mu;
	/* M_OAUTH2 */
	int		 tokens;	/* token requests */
	int		 issued;
	char		 token_req[8192];	/* the last one, with body */
	int		 token_status;	/* to answer; 0 = 200 */
	int		 refuse_basic;
	int		 expires_in;
	int		 revoked;	/* tok-1 .. tok-revoked get 401 */
};

static struct server srv;

/* The server thread reads the mode while tests change it. */
static enum mode
srv_mode(void)
{
	return __atomic_load_n(&srv.mode, __ATOMIC_SEQ_CST);
}

static void
set_mode(enum mode m)
{
	__atomic_store_n(&srv.mode, m, __ATOMIC_SEQ_CST);
}

static void
srv_write(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t k;

	while (n > 0 && (k = send(fd, s, n, MSG_NOSIGNAL)) > 0) {
		s += k;
		n -= (size_t)k;
	}
}

/* The page M_GZIP_DRIP serves, before compression. */
static void
drip_page(struct buf *b)
{
	size_t i;

	for (i = 0; i < 500; i++)
		buf_printf(b, "m{i=\"%zu\"} %zu\n", i, i * 3);
}

static void
srv_gzip_drip(int fd)
{
	struct buf page = BUF_INIT, gz = BUF_INIT, chunk = BUF_INIT;
	unsigned char tmp[65536];
	z_stream z;
	size_t off, n;

	drip_page(&page);
	memset(&z, 0, sizeof z);
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)page.data;
	z.avail_in = (uInt)page.len;
	z.next_out = tmp;
	z.avail_out = sizeof tmp;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	buf_append(&gz, tmp, sizeof tmp - z.avail_out);
	deflateEnd(&z);
	buf_puts(&chunk, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (off = 0; off < gz.len; off += n) {
		n = gz.len - off < 100 ? gz.len - off : 100;
		buf_printf(&chunk, "%zx\r\n", n);
		buf_append(&chunk, gz.data + off, n);
		buf_puts(&chunk, "\r\n");
	}
	buf_puts(&chunk, "0\r\n\r\n");
	for (off = 0; off < chunk.len; off += n) {
		n = chunk.len - off < 7 ? chunk.len - off : 7;
		srv_write(fd, chunk.data + off, n);
		if (off % 70 == 0)
			usleep(200);
	}
	buf_free(&page);
	buf_free(&gz);
	buf_free(&chunk);
}

/* The body M_LONG, M_CHUNK and M_CUT send: 200,000 bytes. */
#define LONG_LEN	200000

static char
long_byte(size_t i)
{
	return (char)('a' + i % 23);
}

/*
 * Write p in the 16 KiB pieces libevent's evhttp writes (bench/target),
 * a millisecond apart so that the client reads them in separate passes.
 */
static void
srv_drip(int fd, const char *p, size_t n)
{
	size_t off, k;

	for (off = 0; off < n; off += k) {
		k = n - off < 16384 ? n - off : 16384;
		srv_write(fd, p + off, k);
		usleep(1000);
	}
}

/* The long body by Content-Length, as one chunk, or a fifth of it. */
static void
srv_long(int fd, enum mode m)
{
	static char body[LONG_LEN];
	struct buf r = BUF_INIT;
	size_t i;

	for (i = 0; i < LONG_LEN; i++)
		body[i] = long_byte(i);
	if (m == M_CHUNK)
		buf_printf(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n%x\r\n", LONG_LEN);
	else
		buf_printf(&r, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
		    "\r\n", LONG_LEN);
	buf_append(&r, body, LONG_LEN);
	if (m == M_CHUNK)
		buf_puts(&r, "\r\n0\r\n\r\n");
	srv_drip(fd, r.data, m == M_CUT ? r.len / 5 : r.len);
	buf_free(&r);
}

/*
 * recv that gives up once srv_stop asks: a test that fails leaves its
 * client's connection open, and a plain recv would then hang the join.
 */
static ssize_t
srv_recv(int fd, void *p, size_t n)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (poll(&pfd, 1, 50) == 0) {
		if (__atomic_load_n(&srv.stop, __ATOMIC_SEQ_CST))
			return -1;
	}
	return recv(fd, p, n, 0);
}

/* Read the body the head announces; some of it may be in req already. */
static int
srv_body(int fd, const char *req, size_t len, const char *end)
{
	const char *cl = strcasestr(req, "\r\nContent-Length:");
	size_t want = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
	size_t have = len - (size_t)(end + 4 - req);
	char *body = malloc(want + 1);
	ssize_t k;

	assert_non_null(body);
	memcpy(body, end + 4, have);
	while (have < want) {
		if ((k = srv_recv(fd, body + have, want - have)) <= 0) {
			free(body);
			return -1;
		}
		have += (size_t)k;
	}
	pthread_mutex_lock(&srv.mu);
	free(srv.body);
	srv.body = body;
	srv.body_len = want;
	pthread_mutex_unlock(&srv.mu);
	return 0;
}

/*
 * One M_OAUTH2 request, then the connection closes: the token request
 * (curl's) and the target's (native) come on connections of their own.
 */
static void
srv_oauth2(int fd, const char *req)
{
	struct buf r = BUF_INIT;
	const char *tok;
	char body[256];
	int n, st;

	pthread_mutex_lock(&srv.mu);
	if (strncmp(req, "POST /token ", 12) == 0) {
		srv.tokens++;
		snprintf(srv.token_req, sizeof srv.token_req, "%.4000s%.*s",
		    req, (int)(srv.body_len < 4000 ? srv.body_len : 4000),
		    srv.body);
		st = srv.token_status;
		if (st == 0 && srv.refuse_basic &&
		    strstr(req, "\r\nAuthorization: Basic ") != NULL)
			st = 401;
		if (st != 0)
			snprintf(body, sizeof body, "{\"error\":\"invalid_client\","
			    "\"error_description\":\"refused\"}");
		else {
			st = 200;
			n = ++srv.issued;
			snprintf(body, sizeof body, "{\"access_token\":\"tok-%d\","
			    "\"token_type\":\"bearer\",\"expires_in\":%d}", n,
			    srv.expires_in);
		}
	} else if ((tok = strstr(req, "\r\nAuthorization: Bearer tok-")) !=
	    NULL && atoi(tok + 28) > srv.revoked) {
		st = 200;
		snprintf(body, sizeof body, "up 1\n");
	} else {
		st = 401;
		snprintf(body, sizeof body, "no token\n");
	}
	pthread_mutex_unlock(&srv.mu);
	buf_printf(&r, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s", st,
	    strlen(body), body);
	srv_write(fd, r.data, r.len);
	buf_free(&r);
}

/* Serve requests on one connection; 0 when the client closed. */
static void
srv_conn(int fd)
{
	char req[4096], resp[512];
	size_t len = 0;
	ssize_t k;
	char *end;

	for (;;) {
		end = NULL;
		while (end == NULL) {
			k = srv_recv(fd, req + len, sizeof req - 1 - len);
			if (k <= 0)
				return;
			len += (size_t)k;
			req[len] = '\0';
			end = strstr(req, "\r\n\r\n");
		}
		pthread_mutex_lock(&srv.mu);
		srv.requests++;
		snprintf(srv.last, sizeof srv.last, "%.*s",
		    (int)(end - req + 4), req);
		pthread_mutex_unlock(&srv.mu);
		if (strncmp(req, "POST ", 5) == 0 &&
		    srv_body(fd, req, len, end) == -1)
			return;
		len = 0;
		switch (srv_mode()) {
		case M_KEEP:
		case M_CLOSE:
			snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain\r\nContent-Length: 5\r\n"
			    "\r\nup 1\n");
			srv_write(fd, resp, strlen(resp));
			if (srv_mode() == M_CLOSE)
				return;
			break;
		case M_GZIP_DRIP:
			srv_gzip_drip(fd);
			break;
		case M_SILENT:
			while (srv_recv(fd, req, sizeof req) > 0)
				;
			return;
		case M_REDIRECT:
			if (strncmp(req, "GET /old ", 9) == 0)
				snprintf(resp, sizeof resp, "HTTP/1.1 302 Found"
				    "\r\nLocation: /new\r\nContent-Length: 0"
				    "\r\n\r\n");
			else if (strncmp(req, "POST /old ", 10) == 0)
				snprintf(resp, sizeof resp, "HTTP/1.1 307 "
				    "Temporary Redirect\r\nLocation: /new\r\n"
				    "Content-Length: 0\r\n\r\n");
			else
				snprintf(resp, sizeof resp, "HTTP/1.1 200 OK"
				    "\r\nContent-Length: 6\r\n\r\nmoved\n");
			srv_write(fd, resp, strlen(resp));
			break;
		case M_BIG:
			snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\n"
			    "Content-Length: 100\r\n\r\n%0100d", 7);
			srv_write(fd, resp, strlen(resp));
			break;
		case M_POST:
			snprintf(resp, sizeof resp, "HTTP/1.1 429 Too Many "
			    "Requests\r\nRetry-After: 7\r\nContent-Length: 5"
			    "\r\n\r\nslow\n");
			srv_write(fd, resp, strlen(resp));
			break;
		case M_LONG:
			srv_long(fd, M_LONG);
			break;
		case M_CHUNK:
			srv_long(fd, M_CHUNK);
			break;
		case M_CUT:
			srv_long(fd, M_CUT);
			return;
		case M_OAUTH2:
			srv_oauth2(fd, req);
			return;
		}
	}
}

static void *
srv_main(void *arg)
{
	struct pollfd pfd;
	int fd;

	pfd.fd = srv.lfd;
	pfd.events = POLLIN;
	while (!__atomic_load_n(&srv.stop, __ATOMIC_SEQ_CST)) {
		if (poll(&pfd, 1, 50) != 1)
			continue;
		if ((fd = accept(srv.lfd, NULL, NULL)) == -1)
			continue;
		pthread_mutex_lock(&srv.mu);
		srv.accepts++;
		pthread_mutex_unlock(&srv.mu);
		srv_conn(fd);
		close(fd);
	}
	return NULL;
}

static int
srv_start(void **state)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	int one = 1;

	memset(&srv, 0, sizeof srv);
	pthread_mutex_init(&srv.mu, NULL);
	srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(srv.lfd, 8) == -1 ||
	    getsockname(srv.lfd, (struct sockaddr *)&sin, &sl) == -1)
		return -1;
	srv.port = ntohs(sin.sin_port);
	return pthread_create(&srv.th, NULL, srv_main, NULL);
}

static int
srv_stop(void **state)
{
	__atomic_store_n(&srv.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	pthread_mutex_destroy(&srv.mu);
	free(srv.body);
	return 0;
}

static int
srv_count(int *p)
{
	int v;

	pthread_mutex_lock(&srv.mu);
	v = *p;
	pthread_mutex_unlock(&srv.mu);
	return v;
}

/* The client side: one loop, one client, one pool (a target). */
struct got {
	int		 done;
	long		 status;
	int		 failed;
	int		 too_large;
	char		 error[256];
	char		 ctype[64];
	char		 retry_after[64];
	struct buf	 body;
	const char	*body_at;	/* where the client kept it */
	struct event_base *base;
};

static void
got_cb(const struct http_response *resp, void *arg)
{
	struct got *g = arg;

	g->done++;
	g->status = resp->status;
	g->failed = resp->curl_code != 0;
	g->too_large = resp->body_too_large;
	snprintf(g->error, sizeof g->error, "%s",
	    resp->error != NULL ? resp->error : "");
	snprintf(g->ctype, sizeof g->ctype, "%s",
	    resp->content_type != NULL ? resp->content_type : "");
	snprintf(g->retry_after, sizeof g->retry_after, "%s",
	    resp->retry_after != NULL ? resp->retry_after : "");
	buf_reset(&g->body);
	buf_append(&g->body, resp->body->data, resp->body->len);
	g->body_at = resp->body->data;
	event_base_loopbreak(g->base);
}

static void
fetch_start(struct http_client *c, struct http_pool *p, struct got *g,
    int port, const char *path, int64_t timeout_ms, uint64_t max_body,
    const struct config_http *h)
{
	static const char *hdrs[] = { "Accept: text/plain",
	    "X-Prometheus-Scrape-Timeout-Seconds: 2", "Expect:", NULL };
	struct http_request_opts o;
	char url[128];

	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	memset(&o, 0, sizeof o);
	o.url = url;
	o.headers = hdrs;
	o.timeout_ms = timeout_ms;
	o.max_body = max_body;
	o.accept_gzip = 1;
	o.http = h;
	o.pool = p;
	g->done = 0;
	assert_non_null(http_request_start(c, &o, got_cb, g));
	/* Never from the caller's stack, even for an immediate failure. */
	assert_int_equal(g->done, 0);
}

static void
fetch(struct http_client *c, struct http_pool *p, struct got *g, int port,
    const char *path, int64_t timeout_ms, uint64_t max_body,
    const struct config_http *h)
{
	fetch_start(c, p, g, port, path, timeout_ms, max_body, h);
	event_base_dispatch(g->base);
	assert_int_equal(g->done, 1);
}

struct rig {
	struct event_base	*base;
	struct http_client	*c;
	struct http_pool	*p;
	struct got		 g;
};

static void
rig_open(struct rig *r)
{
	memset(r, 0, sizeof *r);
	r->base = event_base_new();
	r->c = http_client_create(r->base);
	r->p = http_pool_new();
	r->g.base = r->base;
}

static void
rig_close(struct rig *r)
{
	http_pool_free(r->p);
	http_client_free(r->c);
	event_base_free(r->base);
	buf_free(&r->g.body);
}

static void
test_keep_alive(void **state)
{
	struct rig r;
	int i, a0 = srv_count(&srv.accepts);

	set_mode(M_KEEP);
	rig_open(&r);
	for (i = 0; i < 3; i++) {
		fetch(r.c, r.p, &r.g, srv.port, "/metrics?x=1", 2000, 0, NULL);
		assert_int_equal(r.g.failed, 0);
		assert_int_equal(r.g.status, 200);
		assert_string_equal(r.g.ctype, "text/plain");
		assert_int_equal(r.g.body.len, 5);
		assert_memory_equal(r.g.body.data, "up 1\n", 5);
	}
	/* Three requests, one connection. */
	assert_int_equal(srv_count(&srv.accepts) - a0, 1);
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.last, "GET /metrics?x=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(srv.last, "\r\nHost: 127.0.0.1:"));
	assert_non_null(strstr(srv.last, "\r\nAccept: text/plain\r\n"));
	assert_non_null(strstr(srv.last, "\r\nAccept-Encoding: gzip\r\n"));
	assert_non_null(strstr(srv.last,
	    "\r\nX-Prometheus-Scrape-Timeout-Seconds: 2\r\n"));
	assert_null(strstr(srv.last, "Expect"));
	assert_null(strstr(srv.last, "Accept: */*"));
	pthread_mutex_unlock(&srv.mu);
	rig_close(&r);
}

/* Bodies are reused across requests: each one holds its own bytes only. */
static void
test_bodies_reused(void **state)
{
	struct buf page = BUF_INIT;
	struct rig r;
	int i;

	drip_page(&page);
	rig_open(&r);
	for (i = 0; i < 3; i++) {
		set_mode(M_GZIP_DRIP);
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
		assert_int_equal(r.g.body.len, page.len);
		assert_memory_equal(r.g.body.data, page.data, page.len);
		set_mode(M_KEEP);
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
		assert_int_equal(r.g.body.len, 5);
		assert_memory_equal(r.g.body.data, "up 1\n", 5);
		set_mode(M_BIG);
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
		assert_int_equal(r.g.body.len, 100);
		assert_memory_equal(r.g.body.data + 95, "00007", 5);
	}
	rig_close(&r);
	buf_free(&page);
}

/*
 * Two targets scraped at once whose pages come one after the other
 * share one body buffer: the second takes it when its first bytes come,
 * after the first page was handed over, so it is still in the cache.
 * The server serves one connection at a time: B's answer waits until
 * A's connection is closed.
 */
static void
test_body_taken_when_bytes_come(void **state)
{
	struct rig r;
	struct http_pool *b = http_pool_new();
	struct got gb;

	set_mode(M_KEEP);
	rig_open(&r);
	memset(&gb, 0, sizeof gb);
	gb.base = r.base;
	fetch_start(r.c, r.p, &r.g, srv.port, "/a", 2000, 0, NULL);
	fetch_start(r.c, b, &gb, srv.port, "/b", 2000, 0, NULL);
	event_base_dispatch(r.base);
	assert_int_equal(r.g.done, 1);
	assert_int_equal(gb.done, 0);
	http_pool_free(r.p);	/* lets the server go on to B */
	r.p = b;
	event_base_dispatch(r.base);
	assert_int_equal(gb.done, 1);
	assert_int_equal(gb.failed, 0);
	assert_memory_equal(gb.body.data, "up 1\n", 5);
	assert_non_null(r.g.body_at);
	assert_ptr_equal(gb.body_at, r.g.body_at);
	buf_free(&gb.body);
	rig_close(&r);
}

static void
test_server_closed_kept_connection(void **state)
{
	struct rig r;
	int i, a0 = srv_count(&srv.accepts);

	set_mode(M_CLOSE);
	rig_open(&r);
	for (i = 0; i < 3; i++) {
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
		assert_int_equal(r.g.failed, 0);
		assert_int_equal(r.g.body.len, 5);
	}
	assert_int_equal(srv_count(&srv.accepts) - a0, 3);
	rig_close(&r);
}

static void
test_gzip_chunked_in_pieces(void **state)
{
	struct buf want = BUF_INIT;
	struct rig r;

	drip_page(&want);
	set_mode(M_GZIP_DRIP);
	rig_open(&r);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 5000, 0, NULL);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.body.len, want.len);
	assert_memory_equal(r.g.body.data, want.data, want.len);
	rig_close(&r);
	buf_free(&want);
}

static void
assert_long_body(const struct got *g)
{
	size_t i;

	assert_int_equal(g->failed, 0);
	assert_int_equal(g->status, 200);
	assert_int_equal(g->body.len, LONG_LEN);
	for (i = 0; i < LONG_LEN; i++)
		if (g->body.data[i] != long_byte(i))
			fail_msg("byte %zu of the long body differs", i);
}

/*
 * Long bodies in pieces, by length and as one chunk, each followed by a
 * short answer on the same connection; a close before the promised end
 * must fail at once, not wait for the timeout.
 */
static void
test_long_bodies_in_pieces(void **state)
{
	static const enum mode longs[] = { M_LONG, M_CHUNK };
	struct rig r;
	char want[96];
	size_t head, i;
	int a0 = srv_count(&srv.accepts);

	rig_open(&r);
	for (i = 0; i < sizeof longs / sizeof longs[0]; i++) {
		set_mode(longs[i]);
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 5000, 0, NULL);
		assert_long_body(&r.g);
		/* Read to the body's end and no further: the next answer. */
		set_mode(M_KEEP);
		fetch(r.c, r.p, &r.g, srv.port, "/metrics", 1000, 0, NULL);
		assert_int_equal(r.g.failed, 0);
		assert_memory_equal(r.g.body.data, "up 1\n", 5);
	}
	assert_int_equal(srv_count(&srv.accepts) - a0, 1);

	/* The server sends a fifth of head and body, then closes. */
	head = (size_t)snprintf(NULL, 0, "HTTP/1.1 200 OK\r\nContent-Length: "
	    "%d\r\n\r\n", LONG_LEN);
	snprintf(want, sizeof want, "transfer closed with %zu bytes remaining",
	    LONG_LEN - ((head + LONG_LEN) / 5 - head));
	set_mode(M_CUT);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 30000, 0, NULL);
	assert_int_equal(r.g.failed, 1);
	assert_non_null(strstr(r.g.error, want));
	rig_close(&r);
}

static void
test_timeout_then_recover(void **state)
{
	struct rig r;

	set_mode(M_SILENT);
	rig_open(&r);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 200, 0, NULL);
	assert_int_equal(r.g.failed, 1);
	assert_non_null(strstr(r.g.error, "timed out after 200 milliseconds"));
	set_mode(M_KEEP);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.status, 200);
	rig_close(&r);
}

static void
test_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	struct rig r;
	int fd, port;

	/* A port nobody listens on: bound, then closed. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	rig_open(&r);
	fetch(r.c, r.p, &r.g, port, "/metrics", 2000, 0, NULL);
	assert_int_equal(r.g.failed, 1);
	assert_int_equal(r.g.status, 0);
	assert_non_null(strstr(r.g.error, "Failed to connect to 127.0.0.1:"));
	assert_non_null(strstr(r.g.error, "Connection refused"));
	rig_close(&r);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_cancel_in_flight(void **state)
{
	struct http_request_opts o;
	struct http_request *req;
	struct timeval tv = { 0, 100 * 1000 };
	struct event *ev;
	struct rig r;
	char url[128];

	set_mode(M_SILENT);
	rig_open(&r);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", srv.port);
	memset(&o, 0, sizeof o);
	o.url = url;
	o.timeout_ms = 5000;
	o.pool = r.p;
	r.g.done = 0;
	req = http_request_start(r.c, &o, got_cb, &r.g);
	ev = evtimer_new(r.base, stop_cb, r.base);
	evtimer_add(ev, &tv);
	event_base_dispatch(r.base);
	assert_int_equal(http_client_active(r.c), 1);
	http_request_cancel(req);
	assert_int_equal(http_client_active(r.c), 0);
	evtimer_add(ev, &tv);
	event_base_dispatch(r.base);
	assert_int_equal(r.g.done, 0);
	event_free(ev);
	/* The pool still works: the half-read connection was dropped. */
	set_mode(M_KEEP);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, NULL);
	assert_int_equal(r.g.failed, 0);
	rig_close(&r);
}

static void
test_redirect_goes_to_curl(void **state)
{
	struct config_http h;
	struct rig r;

	set_mode(M_REDIRECT);
	rig_open(&r);
	memset(&h, 0, sizeof h);
	h.follow_redirects = 1;
	fetch(r.c, r.p, &r.g, srv.port, "/old", 2000, 0, &h);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.status, 200);
	assert_string_equal(r.g.body.data, "moved\n");
	/* Not followed when the job says so. */
	h.follow_redirects = 0;
	http_pool_free(r.p);
	r.p = http_pool_new();
	fetch(r.c, r.p, &r.g, srv.port, "/old", 2000, 0, &h);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.status, 302);
	rig_close(&r);
}

static void	assert_head(const char *, int);

static void
test_put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_body_limit_and_auth(void **state)
{
	char dir[] = "/tmp/promlet-auth-XXXXXX", user[64], pass[64];
	struct config_http h;
	struct rig r;
	int i;

	set_mode(M_BIG);
	rig_open(&r);
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 10, NULL);
	assert_int_equal(r.g.failed, 1);
	assert_int_equal(r.g.too_large, 1);
	memset(&h, 0, sizeof h);
	h.basic_auth_username = "user";
	h.basic_auth_password = "pass";
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, &h);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.body.len, 100);
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.last,
	    "\r\nAuthorization: Basic dXNlcjpwYXNz\r\n"));
	pthread_mutex_unlock(&srv.mu);
	memset(&h, 0, sizeof h);
	h.authorization_type = "Bearer";
	h.authorization_credentials = "t0ken";
	fetch(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, &h);
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.last, "\r\nAuthorization: Bearer t0ken\r\n"));
	pthread_mutex_unlock(&srv.mu);

	/*
	 * username_file, password_file and credentials_file, read at each
	 * request on both paths (0 native, 1 curl); one that cannot be read
	 * fails the request with its name, as in Prometheus, instead of
	 * sending empty credentials.
	 */
	assert_non_null(mkdtemp(dir));
	snprintf(user, sizeof user, "%s/user", dir);
	snprintf(pass, sizeof pass, "%s/pass", dir);
	for (i = 0; i < 2; i++) {
		struct http_pool *p = i == 0 ? r.p : NULL;

		test_put_file(user, "ann\n");
		test_put_file(pass, " pw\n");
		memset(&h, 0, sizeof h);
		h.follow_redirects = 1;
		h.basic_auth_username = "";
		h.basic_auth_username_file = user;
		h.basic_auth_password_file = pass;
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 0);
		/* base64("ann:pw") */
		assert_head("\r\nAuthorization: Basic YW5uOnB3\r\n", 1);
		test_put_file(user, "bob");
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		/* base64("bob:pw") */
		assert_head("\r\nAuthorization: Basic Ym9iOnB3\r\n", 1);
		unlink(pass);
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 1);
		assert_non_null(strstr(r.g.error, "unable to read basic auth "
		    "password file "));
		assert_non_null(strstr(r.g.error, pass));
		unlink(user);
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 1);
		assert_non_null(strstr(r.g.error, "unable to read basic auth "
		    "username file "));
		memset(&h, 0, sizeof h);
		h.follow_redirects = 1;
		h.authorization_type = "Bearer";
		h.authorization_credentials_file = pass;
		test_put_file(pass, "t0k\n");
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 0);
		assert_head("\r\nAuthorization: Bearer t0k\r\n", 1);
		/* Only one Authorization line. */
		pthread_mutex_lock(&srv.mu);
		assert_null(strstr(strstr(srv.last, "Authorization") + 1,
		    "Authorization"));
		pthread_mutex_unlock(&srv.mu);
		test_put_file(pass, "t0k\r\nHost: evil");
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 1);
		assert_non_null(strstr(r.g.error, "authorization credentials "
		    "file "));
		unlink(pass);
		http_pool_free(r.p);
		r.p = http_pool_new();
	}
	unlink(user);
	unlink(pass);
	rmdir(dir);
	rig_close(&r);
}

/* The last request's head holds line, or does not (want 0). */
static void
assert_head(const char *line, int want)
{
	pthread_mutex_lock(&srv.mu);
	if ((strstr(srv.last, line) != NULL) != want)
		fail_msg("%s %s in:\n%s", line, want ? "missing" : "present",
		    srv.last);
	pthread_mutex_unlock(&srv.mu);
}

/*
 * http_headers on both paths: each value, secret and file as a line of
 * its own, files read at each request and trimmed, an empty value not
 * sent, an unreadable file failing the request with its name.
 */
static void
test_http_headers(void **state)
{
	char dir[] = "/tmp/promlet-hdr-XXXXXX", path[64], missing[80];
	char *values[] = { "one", "" }, *secrets[] = { "s3cret" };
	char *files[1] = { path };
	struct config_header hd[2];
	struct config_http h;
	struct rig r;
	int pass;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/key", dir);
	snprintf(missing, sizeof missing, "%s/none", dir);
	set_mode(M_BIG);
	rig_open(&r);
	memset(&h, 0, sizeof h);
	memset(hd, 0, sizeof hd);
	h.follow_redirects = 1;
	h.headers = hd;
	h.nheaders = 2;
	hd[0].name = "X-Multi";
	hd[0].values = values;
	hd[0].nvalues = 2;
	hd[0].secrets = secrets;
	hd[0].nsecrets = 1;
	hd[1].name = "X-File";
	hd[1].files = files;
	hd[1].nfiles = 1;
	/* Pass 0 on the native path (a pool), pass 1 through curl. */
	for (pass = 0; pass < 2; pass++) {
		struct http_pool *p = pass == 0 ? r.p : NULL;

		f = fopen(path, "w");
		fputs("  key-A\n\n", f);
		fclose(f);
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 0);
		assert_head("\r\nX-Multi: one\r\n", 1);
		assert_head("\r\nX-Multi: s3cret\r\n", 1);
		assert_head("\r\nX-Multi: \r\n", 0);
		assert_head("\r\nX-File: key-A\r\n", 1);
		/* The caller's own lines are still there. */
		assert_head("\r\nAccept: text/plain\r\n", 1);
		/* Rotated: the next request sends the new content. */
		f = fopen(path, "w");
		fputs("key-B", f);
		fclose(f);
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_head("\r\nX-File: key-B\r\n", 1);
		/* Gone: the request fails, from the loop, naming it. */
		files[0] = missing;
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 1);
		assert_non_null(strstr(r.g.error, "unable to read headers "
		    "file "));
		assert_non_null(strstr(r.g.error, missing));
		files[0] = path;
		/* A file cannot smuggle in another header. */
		f = fopen(path, "w");
		fputs("a\r\nHost: evil", f);
		fclose(f);
		fetch(r.c, p, &r.g, srv.port, "/metrics", 2000, 0, &h);
		assert_int_equal(r.g.failed, 1);
		assert_non_null(strstr(r.g.error, "control character"));
		/* The server serves one connection at a time: close ours. */
		http_pool_free(r.p);
		r.p = http_pool_new();
	}
	/* A request failed that way can be cancelled before it ends. */
	files[0] = missing;
	fetch_start(r.c, r.p, &r.g, srv.port, "/metrics", 2000, 0, &h);
	assert_int_equal(http_client_active(r.c), 1);
	http_client_free(r.c);
	r.c = http_client_create(r.base);
	assert_int_equal(r.g.done, 0);
	rig_close(&r);
	unlink(path);
	rmdir(dir);
}

/* A remote-write shaped POST through the pool. */
static void
post(struct rig *r, const char *path, const char *body, size_t len)
{
	static const char *hdrs[] = { "Content-Encoding: snappy",
	    "Content-Type: application/x-protobuf", NULL };
	struct http_request_opts o;
	struct config_http h;
	char url[128];

	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
	memset(&h, 0, sizeof h);
	h.follow_redirects = 1;
	memset(&o, 0, sizeof o);
	o.method = "POST";
	o.url = url;
	o.headers = hdrs;
	o.body = body;
	o.body_len = len;
	o.timeout_ms = 5000;
	o.max_body = 1024;
	o.http = &h;
	o.pool = r->p;
	r->g.done = 0;
	assert_non_null(http_request_start(r->c, &o, got_cb, &r->g));
	event_base_dispatch(r->base);
	assert_int_equal(r->g.done, 1);
}

static void
assert_server_body(const char *body, size_t len)
{
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.body_len, len);
	assert_memory_equal(srv.body, body, len);
	pthread_mutex_unlock(&srv.mu);
}

/*
 * POSTs take the native path too: the body (binary, larger than a socket
 * buffer, so sent in parts) arrives whole, the connection is kept, the
 * answer's status, body and Retry-After come back; a 307 goes to curl,
 * which posts the same body to the new place.
 */
static void
test_post(void **state)
{
	size_t len = 300000, i;
	char *body = malloc(len);
	struct rig r;
	int accepts;

	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)(i * 7 + i / 251);
	set_mode(M_POST);
	rig_open(&r);
	accepts = srv_count(&srv.accepts);
	post(&r, "/api/v1/write", body, len);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.status, 429);
	assert_string_equal(r.g.retry_after, "7");
	assert_string_equal(r.g.body.data, "slow\n");
	assert_server_body(body, len);
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.last, "POST /api/v1/write HTTP/1.1\r\n"));
	assert_non_null(strstr(srv.last, "\r\nContent-Length: 300000\r\n"));
	assert_non_null(strstr(srv.last, "\r\nContent-Encoding: snappy\r\n"));
	pthread_mutex_unlock(&srv.mu);
	post(&r, "/api/v1/write", body + 1, len - 1);
	assert_server_body(body + 1, len - 1);
	assert_int_equal(srv_count(&srv.accepts), accepts + 1);

	set_mode(M_REDIRECT);
	post(&r, "/old", body, 1000);
	assert_int_equal(r.g.failed, 0);
	assert_int_equal(r.g.status, 200);
	assert_string_equal(r.g.body.data, "moved\n");
	assert_server_body(body, 1000);
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.last, "POST /new HTTP/1.1\r\n"));
	pthread_mutex_unlock(&srv.mu);
	rig_close(&r);
	free(body);
}


/* ---- oauth2 ------------------------------------------------------------ */

struct oa_rig {
	struct rig		 r;
	struct config_oauth2	 oa;
	struct config_http	 h;
	char			*scopes[2];
	struct config_kv	 param;
	char			 url[128];
};

static void
oa_open(struct oa_rig *t, int expires_in, int refuse_basic, int status)
{
	memset(t, 0, sizeof *t);
	rig_open(&t->r);
	snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d/token", srv.port);
	t->scopes[0] = "a";
	t->scopes[1] = "b";
	t->param.name = "audience";
	t->param.value = "x y";
	t->oa.client_id = "c i";
	t->oa.client_secret = "s:e";
	t->oa.scopes = t->scopes;
	t->oa.nscopes = 2;
	t->oa.token_url = t->url;
	t->oa.endpoint_params.v = &t->param;
	t->oa.endpoint_params.n = 1;
	t->oa.http.follow_redirects = 1;
	t->oa.key = t->url;
	t->h.follow_redirects = 1;
	t->h.oauth2 = &t->oa;
	pthread_mutex_lock(&srv.mu);
	srv.tokens = srv.issued = srv.revoked = 0;
	srv.token_req[0] = '\0';
	srv.expires_in = expires_in;
	srv.refuse_basic = refuse_basic;
	srv.token_status = status;
	pthread_mutex_unlock(&srv.mu);
	set_mode(M_OAUTH2);
}

static void
assert_token_req(const char *s, int yes)
{
	pthread_mutex_lock(&srv.mu);
	if (yes && strstr(srv.token_req, s) == NULL)
		fail_msg("token request lacks \"%s\":\n%s", s, srv.token_req);
	if (!yes && strstr(srv.token_req, s) != NULL)
		fail_msg("token request has \"%s\":\n%s", s, srv.token_req);
	pthread_mutex_unlock(&srv.mu);
}

static void
assert_last_has(const char *s)
{
	pthread_mutex_lock(&srv.mu);
	if (strstr(srv.last, s) == NULL)
		fail_msg("request lacks \"%s\":\n%s", s, srv.last);
	pthread_mutex_unlock(&srv.mu);
}

/*
 * The first request waits for a token fetched with the client's
 * credentials in a Basic header (each part form-encoded) and the form of
 * Go's clientcredentials; it then carries "Bearer" (the answer's
 * "bearer", named as Go names it). The next uses the same token.
 */
static void
test_oauth2_token(void **state)
{
	struct oa_rig t;

	oa_open(&t, 3600, 0, 0);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.failed, 0);
	assert_int_equal(t.r.g.status, 200);
	assert_int_equal(srv_count(&srv.tokens), 1);
	assert_token_req("POST /token HTTP/1.1\r\n", 1);
	assert_token_req("\r\nAuthorization: Basic YyUyMGk6cyUzQWU=\r\n", 1);
	assert_token_req("\r\nContent-Type: application/x-www-form-urlencoded"
	    "\r\n", 1);
	assert_token_req("\r\n\r\ngrant_type=client_credentials&scope=a%20b&"
	    "audience=x%20y", 1);
	assert_token_req("client_secret", 0);
	assert_last_has("GET /metrics HTTP/1.1\r\n");
	assert_last_has("\r\nAuthorization: Bearer tok-1\r\n");
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 200);
	assert_int_equal(srv_count(&srv.tokens), 1);
	assert_last_has("\r\nAuthorization: Bearer tok-1\r\n");
	rig_close(&t.r);
}

/*
 * An endpoint that refuses the Basic header gets the credentials in the
 * form right after, and from then on only there. A token whose lifetime
 * is over is fetched again before the request goes.
 */
static void
test_oauth2_style_params(void **state)
{
	struct oa_rig t;

	oa_open(&t, 1, 1, 0);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 200);
	assert_int_equal(srv_count(&srv.tokens), 2);
	assert_token_req("Authorization: Basic", 0);
	assert_token_req("&client_id=c%20i&client_secret=s%3Ae", 1);
	assert_last_has("\r\nAuthorization: Bearer tok-1\r\n");
	usleep(1100 * 1000);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 200);
	assert_int_equal(srv_count(&srv.tokens), 3);
	assert_token_req("Authorization: Basic", 0);
	assert_last_has("\r\nAuthorization: Bearer tok-2\r\n");
	rig_close(&t.r);
}

/*
 * A refused token request (after the second try, with the credentials in
 * the form, as Go's detection makes it) fails the request waiting for it,
 * with the endpoint's reason; a request right after fails the same way
 * without another token request.
 */
static void
test_oauth2_failure(void **state)
{
	struct oa_rig t;
	char want[256];

	oa_open(&t, 3600, 0, 500);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.failed, 1);
	assert_int_equal(t.r.g.status, 0);
	snprintf(want, sizeof want, "oauth2: cannot fetch a token from "
	    "http://127.0.0.1:%d/token: HTTP 500: invalid_client: refused",
	    srv.port);
	assert_string_equal(t.r.g.error, want);
	assert_int_equal(srv_count(&srv.tokens), 2);
	assert_token_req("&client_id=c%20i&client_secret=s%3Ae", 1);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.failed, 1);
	assert_string_equal(t.r.g.error, want);
	assert_int_equal(srv_count(&srv.tokens), 2);
	rig_close(&t.r);
}

/*
 * A 401 for a request that carried the token drops it, so the next
 * request gets a new one; but not while the token is young (a quarter of
 * its life here), when the 401 has another reason.
 */
static void
test_oauth2_rejected(void **state)
{
	struct oa_rig t;

	oa_open(&t, 8, 0, 0);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 200);
	pthread_mutex_lock(&srv.mu);
	srv.revoked = 1;
	pthread_mutex_unlock(&srv.mu);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 401);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 401);
	assert_int_equal(srv_count(&srv.tokens), 1);
	usleep(2100 * 1000);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 401);
	assert_int_equal(srv_count(&srv.tokens), 1);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 5000, 0, &t.h);
	assert_int_equal(t.r.g.status, 200);
	assert_int_equal(srv_count(&srv.tokens), 2);
	assert_last_has("\r\nAuthorization: Bearer tok-2\r\n");
	rig_close(&t.r);
}

static void
never_cb(const struct http_response *resp, void *arg)
{
	fail_msg("a cancelled request's callback ran");
}

/*
 * A request's timeout runs while it waits for a token. A waiting request
 * can be cancelled, and the client freed with a token request in flight.
 */
static void
test_oauth2_wait_timeout_cancel(void **state)
{
	struct http_request_opts o;
	struct http_request *req;
	struct oa_rig t;
	char url[128];

	oa_open(&t, 3600, 0, 0);
	set_mode(M_SILENT);
	fetch(t.r.c, t.r.p, &t.r.g, srv.port, "/metrics", 300, 0, &t.h);
	assert_int_equal(t.r.g.failed, 1);
	assert_string_equal(t.r.g.error,
	    "timed out waiting for an oauth2 token");
	snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", srv.port);
	memset(&o, 0, sizeof o);
	o.url = url;
	o.timeout_ms = 5000;
	o.http = &t.h;
	req = http_request_start(t.r.c, &o, never_cb, NULL);
	assert_non_null(req);
	http_request_cancel(req);
	req = http_request_start(t.r.c, &o, never_cb, NULL);
	assert_non_null(req);
	rig_close(&t.r);
	set_mode(M_KEEP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_bodies_reused),
		cmocka_unit_test(test_body_taken_when_bytes_come),
		cmocka_unit_test(test_server_closed_kept_connection),
		cmocka_unit_test(test_gzip_chunked_in_pieces),
		cmocka_unit_test(test_long_bodies_in_pieces),
		cmocka_unit_test(test_timeout_then_recover),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_cancel_in_flight),
		cmocka_unit_test(test_redirect_goes_to_curl),
		cmocka_unit_test(test_body_limit_and_auth),
		cmocka_unit_test(test_http_headers),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_oauth2_token),
		cmocka_unit_test(test_oauth2_style_params),
		cmocka_unit_test(test_oauth2_failure),
		cmocka_unit_test(test_oauth2_rejected),
		cmocka_unit_test(test_oauth2_wait_timeout_cancel),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
