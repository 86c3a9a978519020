/*
 * Asynchronous HTTP on the libevent loop with libcurl's multi_socket API.
 *
 * curl tells us which sockets to watch (http_socket_cb) and when to call
 * it back on a timeout (http_timer_cb); we translate both into libevent
 * events and feed readiness back with curl_multi_socket_action(). Finished
 * transfers are collected in http_check_done() and reported to their
 * owners. One multi handle serves every scrape, remote write and token
 * request, so connections and DNS results are shared and kept alive.
 *
 * Scrapes of plain-HTTP targets named by IP address take a path of their
 * own (http_native_*): one kept connection per target pool, the request
 * written with one send, the response read with as few recvs as it takes
 * into a shared scratch buffer and decoded by http1.c. curl spends about
 * twenty system calls and as much CPU as the parser on a scrape of a
 * 77 kB page; this path spends three or four. Everything else (TLS,
 * proxies, host names, redirects, remote write, tokens) stays with curl.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "http1.h"
#include "log.h"
#include "loop.h"
#include "oauth2.h"
#include "xmalloc.h"

/* The native path's part of a request. */
struct http_native {
	struct http1_response		 h1;
	struct buf			 out;	/* the request's bytes */
	size_t				 out_off;
	struct event			*timer;	/* timeout; deferred end */
	const char			*fail;	/* deferred error */
	int64_t				 start_us;
	int64_t				 timeout_ms;
	int				 retried;
	int				 follow;	/* follow_redirects */
	int				 post;
	size_t				 body_off;	/* in out, a POST's body */
	size_t				 alen;	/* of the URL's authority */
	/* Kept to hand the request to curl when a redirect comes. */
	char				*url;
	char				**headers;
	int				 accept_gzip;
	const struct config_http	*http;
	char				 errbuf[256];
};

/*
 * A request waiting for its oauth2 token: a copy of what it was started
 * with, and its timeout, which keeps running while it waits.
 */
struct http_park {
	struct oauth2_waiter		 w;
	struct http_request		*r;
	struct oauth2_source		*src;
	struct http_request_opts	 o;
	char				*method;
	char				*url;
	char				**headers;
	void				*body;
	struct event			*timer;
	int64_t				 start_ms;
};

struct http_request {
	struct http_client		*client;
	CURL				*easy;
	struct http_native		*native;	/* or NULL: curl */
	struct http_park		*park;		/* or NULL */
	/* The token source of the Authorization sent, or NULL. */
	struct oauth2_source		*oauth2;
	unsigned			 oauth2_gen;
	struct http_pool		*pool;
	struct curl_slist		*headers;
	struct curl_slist		*proxy_headers;
	struct curl_slist		*connect_to;	/* server_name */
	struct buf			 body;
	uint64_t			 max_body;
	int				 too_large;
	int				(*on_data)(const char *, size_t,
					    void *);
	http_done_cb			 cb;
	void				*arg;
	/* Failed before it started (an http_headers file): ends from
	 * the loop, never inside http_request_start. */
	struct event			*fail_ev;
	char				*fail_error;
	char				 errbuf[CURL_ERROR_SIZE];
	TAILQ_ENTRY(http_request)	 entry;
};

TAILQ_HEAD(http_requests, http_request);

/*
 * Finished easy handles are reset and kept for the next request: making
 * one costs more than a scrape of a small page spends in curl otherwise.
 * curl_easy_reset() keeps only caches (DNS, TLS sessions), never options.
 */
#define HTTP_IDLE_MAX	64
/* Response bodies kept for reuse (http_spare_put), and their bytes. */
#define HTTP_SPARE_MAX		16
#define HTTP_SPARE_BYTES	(4u << 20)

/*
 * One recv of the native path reads this much at most. Shared by every
 * connection: the parser consumes all of it before the loop moves on.
 */
#define HTTP_SCRATCH	(256 * 1024)

/* A secret file (http_headers, credentials) holds a header value. */
#define HTTP_SECRET_FILE_MAX	16384

struct http_client {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct http_requests	 requests;
	size_t			 active;
	CURL			*idle[HTTP_IDLE_MAX];
	size_t			 nidle;
	char			*scratch;
	struct buf		 spare[HTTP_SPARE_MAX];	/* bodies to reuse */
	size_t			 nspare;
	size_t			 spare_bytes;
	struct oauth2_cache	*oauth2;	/* made on first use */
};

/* A pool's one native connection; fd -1 when there is none. */
struct http_conn {
	int			 fd;
	struct event		*rev;	/* EV_READ, persistent while open */
	struct event		*wev;	/* connect and partial sends */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int			 connecting;
	int			 used;	/* has carried a whole response */
	struct http_request	*req;	/* in flight, or NULL when idle */
};

struct http_pool {
	CURLSH			*share;
	struct http_conn	 conn;
	size_t			 last_len;	/* of the previous body */
	int			 curl_only;	/* the target redirected */
};

int	http_native_enabled = 1;

/* Per-socket state curl hands back to us through curl_multi_assign(). */
struct http_socket {
	struct http_client	*client;
	curl_socket_t		 fd;
	struct event		*ev;
};

static int	http_curl_ready;

static void	http_check_done(struct http_client *);

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, action, &running);
	http_check_done(c);
}

static void
http_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(c);
}

/*
 * curl asks for a timer; never call back into curl from here (curl's
 * documentation forbids it), just arm the libevent timer.
 */
static int
http_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_client *c = arg;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	loop_timer_add_ms(c->timer, timeout_ms);
	return 0;
}

static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct http_client *c = arg;
	struct http_socket *s = sockp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->client = c;
		s->fd = fd;
		curl_multi_assign(c->multi, fd, s);
	} else
		event_free(s->ev);
	s->ev = event_new(c->base, fd, kind, http_event_cb, c);
	event_add(s->ev, NULL);
	return 0;
}

struct http_client *
http_client_create(struct event_base *base)
{
	struct http_client *c;

	c = xcalloc(1, sizeof *c);
	c->base = base;
	TAILQ_INIT(&c->requests);
	c->timer = evtimer_new(base, http_timeout_cb, c);
	return c;
}

/*
 * curl (and the TLS library it starts) is set up on the first request
 * that needs it: a process that scrapes and sends plain HTTP by address
 * never does, and saves the 2 MiB of RSS curl_global_init() touches.
 */
static void
http_curl_init(struct http_client *c)
{
	if (!http_curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			fatalx("curl_global_init failed", NULL);
		http_curl_ready = 1;
	}
	if (c->multi != NULL)
		return;
	if ((c->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed", NULL);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Keep enough idle connections for every target and shard. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1024L);
}

static void	http_native_free(struct http_request *);

/*
 * Response bodies are kept for the next requests, newest first. A page
 * was allocated and freed every scrape, and with a few targets every few
 * seconds the heap grew by their pages and shrank again each time: brk,
 * page faults and zeroed pages were a tenth of promlet's CPU at 10
 * targets. The bound keeps a burst of big pages from staying.
 */
static void
http_spare_put(struct http_client *c, struct buf *b)
{
	if (b->cap == 0 || c->nspare == HTTP_SPARE_MAX ||
	    c->spare_bytes + b->cap > HTTP_SPARE_BYTES) {
		buf_free(b);
		return;
	}
	buf_reset(b);
	c->spare_bytes += b->cap;
	c->spare[c->nspare++] = *b;
	buf_init(b);
}

/*
 * A request takes its body when the first bytes of its response come,
 * not when it starts. A step's scrapes start together, but their pages
 * are mostly read and parsed one after another, so they then pass the
 * same buffer on, still in the cache, instead of each writing its own
 * one that idle since the last burst has left cold.
 */
static void
http_body_take(struct http_request *r)
{
	struct http_client *c = r->client;
	struct buf *b = &r->body;

	if (b->cap != 0)
		return;
	if (c->nspare > 0) {
		*b = c->spare[--c->nspare];
		c->spare_bytes -= b->cap;
	}
	/* Room for a page as big as the last: no growing copies. */
	if (r->pool != NULL && r->pool->last_len != 0)
		buf_reserve(b, r->pool->last_len + r->pool->last_len / 8);
}

/* Header lines (NULL-terminated) may hold credentials: wipe, then free. */
static void
http_lines_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		xfree_secret(v[i]);
	free(v);
}

static void
http_park_free(struct http_park *p)
{
	oauth2_unwait(&p->w);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p->method);
	free(p->url);
	http_lines_free(p->headers);
	free(p->body);
	p->r->park = NULL;
	free(p);
}

static void
http_request_free(struct http_request *r)
{
	struct http_client *c = r->client;

	TAILQ_REMOVE(&c->requests, r, entry);
	c->active--;
	if (r->fail_ev != NULL)
		event_free(r->fail_ev);
	free(r->fail_error);
	if (r->park != NULL)
		http_park_free(r->park);
	if (r->oauth2 != NULL)
		oauth2_release(r->oauth2);
	if (r->native != NULL)
		http_native_free(r);
	if (r->easy != NULL) {
		curl_multi_remove_handle(c->multi, r->easy);
		/* curl_easy_reset() keeps a share: detach it, or the pool
		 * could never be freed. */
		if (r->pool != NULL)
			curl_easy_setopt(r->easy, CURLOPT_SHARE, NULL);
		if (c->nidle < HTTP_IDLE_MAX) {
			curl_easy_reset(r->easy);
			c->idle[c->nidle++] = r->easy;
		} else
			curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->proxy_headers);
	curl_slist_free_all(r->connect_to);
	http_spare_put(c, &r->body);
	free(r);
}

void
http_client_free(struct http_client *c)
{
	struct http_request *r;

	if (c == NULL)
		return;
	/* Its token requests are requests of this client: the sources go
	 * first, once no request refers to one. */
	TAILQ_FOREACH(r, &c->requests, entry)
		r->oauth2 = NULL;
	oauth2_cache_free(c->oauth2);
	/* http_request_free() unlinks r before freeing it. */
	while ((r = TAILQ_FIRST(&c->requests)) != NULL)
		http_request_free(r); /* NOLINT(clang-analyzer-unix.Malloc) */
	while (c->nidle > 0)
		curl_easy_cleanup(c->idle[--c->nidle]);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	event_free(c->timer);
	free(c->scratch);
	while (c->nspare > 0)
		buf_free(&c->spare[--c->nspare]);
	free(c);
}

size_t
http_client_active(const struct http_client *c)
{
	return c->active;
}

void
http_client_write_metrics(const struct http_client *c, struct buf *b)
{
	oauth2_cache_write_metrics(c->oauth2, b);
}

static size_t
http_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_request *r = arg;
	size_t len = size * n;
	long status = 0;

	if (r->on_data != NULL) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			return r->on_data(data, len, r->arg) == 0 ? len : 0;
	}
	/* Checked on decoded bytes, so a gzip bomb stops here too. */
	if (r->max_body != 0 && r->body.len + len > r->max_body) {
		r->too_large = 1;
		return 0;
	}
	http_body_take(r);
	buf_append(&r->body, data, len);
	return len;
}

static const char *
http_header_value(CURL *easy, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return h->value;
}

/* The callback, once the token source has heard of a 401. */
static void
http_report(struct http_request *r, const struct http_response *resp)
{
	if (r->oauth2 != NULL && resp->status == 401)
		oauth2_rejected(r->oauth2, r->oauth2_gen);
	if (r->cb != NULL)
		r->cb(resp, r->arg);
}

static void
http_check_done(struct http_client *c)
{
	struct http_response resp;
	struct http_request *r;
	CURLMsg *msg;
	char *ct;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
		memset(&resp, 0, sizeof resp);
		resp.curl_code = msg->data.result;
		if (resp.curl_code != CURLE_OK) {
			resp.error = r->errbuf[0] != '\0' ? r->errbuf :
			    curl_easy_strerror(msg->data.result);
		}
		resp.body_too_large = r->too_large ||
		    resp.curl_code == CURLE_FILESIZE_EXCEEDED;
		if (resp.body_too_large)
			resp.error = "body size limit exceeded";
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
		curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME,
		    &resp.total_seconds);
		ct = NULL;
		curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
		resp.content_type = ct;
		resp.retry_after = http_header_value(r->easy, "Retry-After");
		resp.www_authenticate = http_header_value(r->easy,
		    "WWW-Authenticate");
		resp.body = &r->body;
		http_report(r, &resp);
		http_request_free(r);
	}
}

static char	*http_secret_file(const char *, const char *, char **);

/*
 * The job's Authorization header line (no CR LF) into out: 1, or 0 when
 * it has none. Secret files are read fresh each time, so rotated
 * credentials take effect without a reload; one that cannot be read
 * fails the request (-1, *err says which and why), as in Prometheus,
 * rather than sending empty credentials that a receiver would answer
 * with a 401 and so drop the batch. Both paths send the line as one of
 * the request's headers, so a redirect to another host drops it (curl,
 * as Go, never forwards it).
 */
static int
http_auth_header(struct buf *out, const struct config_http *h, char **err)
{
	char *secret = NULL, *user = NULL, *pair;
	const char *cred;
	size_t start = out->len;

	if (h->basic_auth_username != NULL) {
		if (h->basic_auth_username_file != NULL &&
		    (user = http_secret_file(h->basic_auth_username_file,
		    "basic auth username file", err)) == NULL)
			return -1;
		if (h->basic_auth_password_file != NULL &&
		    (secret = http_secret_file(h->basic_auth_password_file,
		    "basic auth password file", err)) == NULL) {
			xfree_secret(user);
			return -1;
		}
		xasprintf(&pair, "%s:%s", user != NULL ? user :
		    h->basic_auth_username, secret != NULL ? secret :
		    h->basic_auth_password != NULL ? h->basic_auth_password :
		    "");
		buf_puts(out, "Authorization: Basic ");
		buf_put_base64(out, pair, strlen(pair));
		xfree_secret(pair);
		xfree_secret(user);
	} else if (h->authorization_credentials != NULL ||
	    h->authorization_credentials_file != NULL) {
		if (h->authorization_credentials_file != NULL &&
		    (secret = http_secret_file(
		    h->authorization_credentials_file,
		    "authorization credentials file", err)) == NULL)
			return -1;
		cred = secret != NULL ? secret : h->authorization_credentials;
		buf_printf(out, "Authorization: %s %s",
		    h->authorization_type != NULL ? h->authorization_type :
		    "Bearer", cred);
	}
	xfree_secret(secret);
	return out->len != start;
}

/* Whether a request with h carries an Authorization line of h's. */
static int
http_has_auth(const struct config_http *h)
{
	return h->basic_auth_username != NULL ||
	    h->authorization_credentials != NULL ||
	    h->authorization_credentials_file != NULL;
}

/* min_version and max_version as one CURLOPT_SSLVERSION value. */
static long
http_tls_versions(const struct config_tls *t)
{
	static const struct {
		const char	*name;
		long		 min;
		long		 max;
	} v[] = {
		{ "TLS10", CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_0 },
		{ "TLS11", CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_MAX_TLSv1_1 },
		{ "TLS12", CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_2 },
		{ "TLS13", CURL_SSLVERSION_TLSv1_3, CURL_SSLVERSION_MAX_TLSv1_3 },
	};
	long out = CURL_SSLVERSION_TLSv1_2;	/* Go's client default */
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (t->min_version != NULL &&
		    strcmp(t->min_version, v[i].name) == 0)
			out = v[i].min;
	}
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (t->max_version != NULL &&
		    strcmp(t->max_version, v[i].name) == 0)
			out |= v[i].max;
	}
	return out;
}

/* Inline PEM counts when it is not empty, as in Go. */
#define HTTP_SET(s)	((s) != NULL && *(s) != '\0')

/* PEM from the config, copied by curl (which frees its copies unwiped,
 * as it does the Authorization line's). */
static void
http_blob(CURL *e, CURLoption opt, const char *pem)
{
	struct curl_blob b;

	b.data = (void *)(uintptr_t)pem;
	b.len = strlen(pem);
	b.flags = CURL_BLOB_COPY;
	curl_easy_setopt(e, opt, &b);
}

static void
http_apply_config(struct http_request *r, const struct config_http *h)
{
	CURL *e = r->easy;
	const struct config_tls *t = &h->tls;

	if (t->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
	else if (HTTP_SET(t->ca))
		http_blob(e, CURLOPT_CAINFO_BLOB, t->ca);
	/* As Go's RootCAs: the CA given replaces the system's, not adds. */
	if (t->ca_file != NULL || HTTP_SET(t->ca))
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (t->cert_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
	else if (HTTP_SET(t->cert))
		http_blob(e, CURLOPT_SSLCERT_BLOB, t->cert);
	if (t->key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
	else if (HTTP_SET(t->key))
		http_blob(e, CURLOPT_SSLKEY_BLOB, t->key);
	if (t->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->min_version != NULL || t->max_version != NULL)
		curl_easy_setopt(e, CURLOPT_SSLVERSION, http_tls_versions(t));
	/* Like Prometheus: *_proxy variables apply only when asked for. */
	if (h->proxy_url != NULL) {
		curl_easy_setopt(e, CURLOPT_PROXY, h->proxy_url);
		if (h->no_proxy != NULL)
			curl_easy_setopt(e, CURLOPT_NOPROXY, h->no_proxy);
	} else if (!h->proxy_from_environment)
		curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION,
	    (long)(h->follow_redirects != 0));
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, h->enable_http2 ?
	    (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
}

/*
 * proxy_connect_header goes in the CONNECT that tunnels an https://
 * request through the proxy, as with Go's ProxyConnectHeader; a plain
 * http:// request through a proxy has no CONNECT, and does not carry it.
 */
static void
http_proxy_connect_header(struct http_request *r, const struct config_http *h)
{
	const struct config_kvs *kvs = &h->proxy_connect_header;
	char *line;
	size_t i;

	if (kvs->n == 0)
		return;
	for (i = 0; i < kvs->n; i++) {
		xasprintf(&line, "%s: %s", kvs->v[i].name, kvs->v[i].value);
		r->proxy_headers = curl_slist_append(r->proxy_headers, line);
		xfree_secret(line);
	}
	curl_easy_setopt(r->easy, CURLOPT_PROXYHEADER, r->proxy_headers);
	/* The request's own headers stay off the proxy's CONNECT. */
	curl_easy_setopt(r->easy, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
}

static void	http_pool_share(struct http_pool *);

/*
 * tls_config.server_name: the name the TLS handshake sends (SNI) and
 * checks the certificate against, instead of the URL's host, which stays
 * the Host header and the address connected to (Go's ServerName). curl
 * has no option for it, so the request is made to https://NAME:PORT/...
 * with CONNECT_TO sending it to the URL's host, and a Host header with
 * the URL's authority. NULL (and nothing set) for a URL that is not
 * https:// or whose authority does not parse.
 */
static char *
http_server_name_url(struct http_request *r, const char *url,
    const char *name)
{
	const char *auth, *at, *end, *host, *hend, *port = "443";
	struct buf u = BUF_INIT, ct = BUF_INIT, hh = BUF_INIT;
	size_t plen = 3;

	if (strncasecmp(url, "https://", 8) != 0)
		return NULL;
	auth = url + 8;
	end = auth + strcspn(auth, "/?#");
	/* user:password@ stays in the URL; the Host header has none. */
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	host = at;
	if (*host == '[') {
		if ((hend = memchr(host, ']', (size_t)(end - host))) == NULL)
			return NULL;
		hend++;
	} else {
		hend = memchr(host, ':', (size_t)(end - host));
		if (hend == NULL)
			hend = end;
	}
	if (hend == host)
		return NULL;
	if (hend < end && *hend == ':') {
		port = hend + 1;
		plen = (size_t)(end - port);
	} else if (hend != end)
		return NULL;
	buf_puts(&u, "https://");
	buf_append(&u, auth, (size_t)(host - auth));
	buf_printf(&u, "%s:%.*s%s", name, (int)plen, port, end);
	buf_printf(&ct, "%s:%.*s:%.*s:%.*s", name, (int)plen, port,
	    (int)(hend - host), host, (int)plen, port);
	r->connect_to = curl_slist_append(NULL, ct.data);
	buf_printf(&hh, "Host: %.*s", (int)(end - host), host);
	r->headers = curl_slist_append(r->headers, hh.data);
	buf_free(&ct);
	buf_free(&hh);
	return buf_steal(&u);
}

/* Hand r to curl; r is already on the client's list. */
static void
http_curl_start(struct http_request *r, const struct http_request_opts *o)
{
	struct http_client *c = r->client;
	const char * const *h;
	char *url;
	CURL *e;

	http_curl_init(c);
	if (c->nidle > 0)
		e = r->easy = c->idle[--c->nidle];
	else if ((e = r->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed", NULL);
	if (o->pool != NULL) {
		r->pool = o->pool;
		http_pool_share(o->pool);
		curl_easy_setopt(e, CURLOPT_SHARE, o->pool->share);
	}
	if (o->http != NULL && o->http->tls.server_name != NULL &&
	    (url = http_server_name_url(r, o->url,
	    o->http->tls.server_name)) != NULL) {
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
		free(url);
	} else
		curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "promlet/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (o->timeout_ms > 0) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)(o->timeout_ms < 10000 ? o->timeout_ms : 10000));
	}
	if (o->max_body != 0)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)o->max_body);
	if (o->accept_gzip)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	if (o->no_proxy)
		curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (o->method != NULL && strcmp(o->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
		    o->body != NULL ? o->body : "");
		/*
		 * A followed 301/302/303 must post the body again: curl's
		 * default turns the request into a GET, which a receiver
		 * answers with 4xx and the batch is dropped.
		 */
		curl_easy_setopt(e, CURLOPT_POSTREDIR,
		    (long)CURL_REDIR_POST_ALL);
		/* Receivers answer at once; 100-continue only adds a trip. */
		r->headers = curl_slist_append(r->headers, "Expect:");
	} else if (o->method != NULL && strcmp(o->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
	if (o->http != NULL) {
		http_apply_config(r, o->http);
		if (strncasecmp(o->url, "https://", 8) == 0)
			http_proxy_connect_header(r, o->http);
	} else
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	for (h = o->headers; h != NULL && *h != NULL; h++)
		r->headers = curl_slist_append(r->headers, *h);
	if (r->headers != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		fatalx("curl_multi_add_handle failed", NULL);
}

static int	http_native_start(struct http_request *,
		    const struct http_request_opts *);

static void
http_start(struct http_request *r, const struct http_request_opts *o)
{
	if (http_native_start(r, o) == -1)
		http_curl_start(r, o);
}

/* Start r with the token gen of src in an Authorization line. */
static void
http_start_auth(struct http_request *r, const struct http_request_opts *o,
    struct oauth2_source *src, const char *auth, unsigned gen)
{
	struct http_request_opts oo = *o;
	const char **h;
	size_t n = 0;

	r->oauth2 = src;
	r->oauth2_gen = gen;
	oauth2_hold(src);

	while (o->headers != NULL && o->headers[n] != NULL)
		n++;
	h = xcalloc(n + 2, sizeof *h);
	if (n > 0)
		memcpy(h, o->headers, n * sizeof *h);
	h[n] = auth;
	oo.headers = h;
	http_start(r, &oo);
	free(h);
}

/* End r now, from the loop, with a transport error and no response. */
static void
http_fail(struct http_request *r, const char *error)
{
	struct http_response resp;

	memset(&resp, 0, sizeof resp);
	resp.curl_code = CURLE_LOGIN_DENIED;
	resp.error = error;
	resp.body = &r->body;
	http_report(r, &resp);
	http_request_free(r);
}

static void
http_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_request *r = arg;

	(void)fd;
	(void)what;
	http_fail(r, r->fail_error);
}

/*
 * A secret file's content (what: "headers file", "basic auth password
 * file", ...), trimmed of white space as Go's TrimSpace does (ASCII), or
 * NULL with the reason in *err, in Prometheus's words.
 */
static char *
http_secret_file(const char *path, const char *what, char **err)
{
	char tmp[HTTP_SECRET_FILE_MAX + 1], *p, *e, *out;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(err, "unable to read %s %s: %s", what, path,
		    strerror(errno));
		return NULL;
	}
	while (len < sizeof tmp && (n = read(fd, tmp + len,
	    sizeof tmp - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xasprintf(err, "unable to read %s %s: %s", what, path,
			    strerror(errno));
			close(fd);
			explicit_bzero(tmp, len);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > HTTP_SECRET_FILE_MAX) {
		xasprintf(err, "%s %s is larger than %d bytes", what, path,
		    HTTP_SECRET_FILE_MAX);
		explicit_bzero(tmp, len);
		return NULL;
	}
	p = tmp;
	e = tmp + len;
	while (p < e && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
		p++;
	while (e > p && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
		e--;
	for (out = p; out < e; out++) {
		/* Another line inside the request would be an injection. */
		if (((unsigned char)*out < 0x20 && *out != '\t') ||
		    *out == 0x7f) {
			xasprintf(err, "%s %s holds a control character",
			    what, path);
			explicit_bzero(tmp, len);
			return NULL;
		}
	}
	out = xstrndup(p, (size_t)(e - p));
	explicit_bzero(tmp, len);
	return out;
}

/*
 * The job's Authorization line, the caller's header lines, then
 * http_headers's, as Go's client adds them: per header its values,
 * secrets, then each file read now. An empty value is not sent (curl
 * would take "Name:" as "remove Name"). NULL when a file cannot be read:
 * *err says which and why.
 */
static char **
http_config_headers(const struct config_http *h, const char * const *base,
    char **err)
{
	const struct config_header *e;
	struct buf auth = BUF_INIT;
	char **v, *val, *fval;
	size_t n = 0, k = 0, i, j, nv;
	int rc;

	/* Room up front: a grown buffer would leave a copy unwiped. */
	buf_reserve(&auth, 512);
	if ((rc = http_auth_header(&auth, h, err)) == -1) {
		buf_free(&auth);
		return NULL;
	}
	while (base != NULL && base[n] != NULL)
		n++;
	n += (size_t)rc;
	for (i = 0; i < h->nheaders; i++)
		n += h->headers[i].nvalues + h->headers[i].nsecrets +
		    h->headers[i].nfiles;
	v = xcalloc(n + 1, sizeof *v);
	if (rc == 1)
		v[k++] = xstrdup(auth.data);
	explicit_bzero(auth.data, auth.cap);
	buf_free(&auth);
	for (i = 0; base != NULL && base[i] != NULL; i++)
		v[k++] = xstrdup(base[i]);
	for (i = 0; i < h->nheaders; i++) {
		e = &h->headers[i];
		nv = e->nvalues + e->nsecrets + e->nfiles;
		for (j = 0; j < nv; j++) {
			fval = NULL;
			if (j < e->nvalues)
				val = e->values[j];
			else if (j < e->nvalues + e->nsecrets)
				val = e->secrets[j - e->nvalues];
			else {
				fval = http_secret_file(e->files[j -
				    e->nvalues - e->nsecrets], "headers file",
				    err);
				if (fval == NULL) {
					http_lines_free(v);
					return NULL;
				}
				val = fval;
			}
			if (*val != '\0')
				xasprintf(&v[k++], "%s: %s", e->name, val);
			xfree_secret(fval);
		}
	}
	return v;
}

static void
http_park_ready(struct oauth2_waiter *w, const char *auth, unsigned gen,
    const char *error)
{
	struct http_park *p = (struct http_park *)w;
	struct http_request *r = p->r;
	int64_t left;

	if (auth == NULL) {
		http_fail(r, error);
		return;
	}
	if (p->o.timeout_ms > 0) {
		left = p->o.timeout_ms - (loop_now_ms() - p->start_ms);
		if (left <= 0) {
			http_fail(r, "timed out waiting for an oauth2 token");
			return;
		}
		p->o.timeout_ms = left;
	}
	/* Started from the park's copies, so they go after. */
	r->park = NULL;
	http_start_auth(r, &p->o, p->src, auth, gen);
	http_park_free(p);
}

static void
http_park_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_park *p = arg;

	(void)fd;
	(void)what;
	http_fail(p->r, "timed out waiting for an oauth2 token");
}

/*
 * A request whose config has oauth2: sent at once with the token while
 * one is usable, else parked (opts copied) until the source has one.
 */
static void
http_oauth2_start(struct http_request *r, const struct http_request_opts *o)
{
	struct http_client *c = r->client;
	struct oauth2_source *src;
	struct http_park *p;
	const char *auth;
	size_t n = 0, i;
	unsigned gen;

	if (c->oauth2 == NULL)
		c->oauth2 = oauth2_cache_new(c->base, c);
	src = oauth2_source_get(c->oauth2, o->http->oauth2);
	if ((auth = oauth2_header(src, o->http->oauth2, &gen)) != NULL) {
		http_start_auth(r, o, src, auth, gen);
		return;
	}
	r->park = p = xcalloc(1, sizeof *p);
	p->r = r;
	p->src = src;
	p->o = *o;
	p->start_ms = loop_now_ms();
	if (o->method != NULL)
		p->o.method = p->method = xstrdup(o->method);
	p->o.url = p->url = xstrdup(o->url);
	while (o->headers != NULL && o->headers[n] != NULL)
		n++;
	p->headers = xcalloc(n + 1, sizeof *p->headers);
	for (i = 0; i < n; i++)
		p->headers[i] = xstrdup(o->headers[i]);
	p->o.headers = (const char * const *)p->headers;
	if (o->body_len > 0) {
		p->body = xmalloc(o->body_len);
		memcpy(p->body, o->body, o->body_len);
	}
	p->o.body = p->body;
	p->timer = evtimer_new(c->base, http_park_timer_cb, p);
	if (o->timeout_ms > 0)
		loop_timer_add_ms(p->timer, o->timeout_ms);
	p->w.cb = http_park_ready;
	oauth2_wait(src, &p->w);
}

struct http_request *
http_request_start(struct http_client *c, const struct http_request_opts *o,
    http_done_cb cb, void *arg)
{
	struct http_request_opts oo = *o;
	struct http_request *r;
	char **lines = NULL;

	r = xcalloc(1, sizeof *r);
	r->client = c;
	r->cb = cb;
	r->arg = arg;
	r->max_body = o->max_body;
	r->on_data = o->on_data;
	TAILQ_INSERT_TAIL(&c->requests, r, entry);
	c->active++;
	if (o->http != NULL && (o->http->nheaders != 0 ||
	    http_has_auth(o->http))) {
		lines = http_config_headers(o->http, o->headers,
		    &r->fail_error);
		if (lines == NULL) {
			r->fail_ev = evtimer_new(c->base, http_fail_cb, r);
			loop_timer_add_ms(r->fail_ev, 0);
			return r;
		}
		oo.headers = (const char * const *)lines;
	}
	/* Every path copies the lines it sends. */
	if (o->http != NULL && o->http->oauth2 != NULL)
		http_oauth2_start(r, &oo);
	else
		http_start(r, &oo);
	http_lines_free(lines);
	return r;
}

/* ---- the native path: plain HTTP/1.1 to an IP address ---- */

static int64_t
http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
http_conn_close(struct http_conn *conn)
{
	if (conn->fd == -1)
		return;
	event_free(conn->rev);
	event_free(conn->wev);
	close(conn->fd);
	conn->fd = -1;
	conn->rev = conn->wev = NULL;
	conn->connecting = conn->used = 0;
	conn->req = NULL;
}

/*
 * http://A.B.C.D[:port]/path or http://[v6][:port]/path, nothing curl
 * would have to interpret (user info, fragments, bytes to escape, zone
 * ids): the authority, the path and the peer's address, or -1.
 */
static int
http_native_url(const char *url, struct sockaddr_storage *ss,
    socklen_t *sl, const char **auth, size_t *alen, const char **path)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *a, *end, *host, *port = NULL, *q;
	char hbuf[INET6_ADDRSTRLEN];
	size_t hlen;
	long pn = 80;

	if (strncasecmp(url, "http://", 7) != 0)
		return -1;
	a = url + 7;
	end = a + strcspn(a, "/?#");
	if (end == a || memchr(a, '@', (size_t)(end - a)) != NULL)
		return -1;
	for (q = end; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f ||
		    *q == '#')
			return -1;
	if (*a == '[') {
		host = a + 1;
		if ((q = memchr(a, ']', (size_t)(end - a))) == NULL)
			return -1;
		hlen = (size_t)(q - host);
		if (q + 1 < end) {
			if (q[1] != ':')
				return -1;
			port = q + 2;
		}
	} else {
		host = a;
		q = memchr(a, ':', (size_t)(end - a));
		hlen = (size_t)((q != NULL ? q : end) - a);
		if (q != NULL)
			port = q + 1;
	}
	if (hlen == 0 || hlen >= sizeof hbuf)
		return -1;
	memcpy(hbuf, host, hlen);
	hbuf[hlen] = '\0';
	if (port != NULL && port < end) {
		for (pn = 0, q = port; q < end; q++)
			if (*q < '0' || *q > '9' || (pn = pn * 10 + *q - '0') >
			    65535)
				return -1;
		if (pn == 0)
			return -1;
	}
	memset(ss, 0, sizeof *ss);
	if (*a != '[' && inet_pton(AF_INET, hbuf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		*sl = sizeof *sin;
	} else if (*a == '[' && inet_pton(AF_INET6, hbuf,
	    &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		*sl = sizeof *sin6;
	} else
		return -1;
	*auth = a;
	*alen = (size_t)(end - a);
	*path = end;
	return 0;
}

static void	http_native_connect(struct http_request *);
static void	http_native_send(struct http_request *);

/*
 * End r with an error from the loop, never from the caller's stack: the
 * connection is closed now (its state is unknown), the callback runs
 * from the request's timer event.
 */
static void
http_native_fail(struct http_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
http_native_fail(struct http_request *r, const char *fmt, ...)
{
	struct http_native *n = r->native;
	struct http_conn *conn = &r->pool->conn;
	va_list ap;

	if (n->fail != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(n->errbuf, sizeof n->errbuf, fmt, ap);
	va_end(ap);
	n->fail = n->errbuf;
	if (conn->req == r)
		http_conn_close(conn);
	evtimer_del(n->timer);
	event_active(n->timer, EV_TIMEOUT, 1);
}

static void
http_native_report(struct http_request *r, int error)
{
	struct http_native *n = r->native;
	struct http_response resp;

	memset(&resp, 0, sizeof resp);
	resp.status = n->h1.status;
	resp.content_type = n->h1.content_type;
	resp.retry_after = n->h1.retry_after;
	resp.body = &r->body;
	resp.total_seconds = (double)(http_now_us() - n->start_us) / 1e6;
	if (error) {
		resp.curl_code = n->h1.too_large ? CURLE_FILESIZE_EXCEEDED :
		    CURLE_RECV_ERROR;
		resp.error = n->fail;
		resp.body_too_large = n->h1.too_large;
	}
	/* The pool is done with r: the callback may even free it. */
	r->pool = NULL;
	http_report(r, &resp);
	http_request_free(r);
}

static void
http_native_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_request *r = arg;
	struct http_native *n = r->native;

	if (n->fail == NULL)
		http_native_fail(r, "Operation timed out after %lld "
		    "milliseconds with %zu bytes received",
		    (long long)n->timeout_ms, r->body.len);
	else
		http_native_report(r, 1);
}

/* A reused connection the peer had closed: once more on a new one. */
static int
http_native_retry(struct http_request *r)
{
	struct http_native *n = r->native;
	struct http_conn *conn = &r->pool->conn;

	if (!conn->used || n->retried || http1_response_started(&n->h1))
		return -1;
	n->retried = 1;
	http_conn_close(conn);
	http1_response_clean(&n->h1);
	http1_response_init(&n->h1, &r->body, r->max_body);
	n->out_off = 0;
	http_native_connect(r);
	return 0;
}

/* A redirect to follow: curl knows how (and where to stop). */
static void
http_native_to_curl(struct http_request *r)
{
	struct http_native *n = r->native;
	struct http_request_opts o;
	int64_t left;

	left = n->timeout_ms - (http_now_us() - n->start_us) / 1000;
	memset(&o, 0, sizeof o);
	o.url = n->url;
	o.headers = (const char * const *)n->headers;
	if (n->post) {
		o.method = "POST";
		o.body = n->out.data + n->body_off;
		o.body_len = n->out.len - n->body_off;
	}
	o.timeout_ms = left > 0 ? left : 1;
	o.max_body = r->max_body;
	o.accept_gzip = n->accept_gzip;
	o.http = n->http;
	o.pool = r->pool;
	r->pool->curl_only = 1;
	http_conn_close(&r->pool->conn);
	buf_reset(&r->body);
	http_curl_start(r, &o);
	http_native_free(r);
}

static void
http_native_done(struct http_request *r, int keep)
{
	struct http_native *n = r->native;
	struct http_conn *conn = &r->pool->conn;
	long st = n->h1.status;

	if (keep) {
		conn->req = NULL;
		conn->used = 1;
	} else
		http_conn_close(conn);
	if (n->follow && (st == 301 || st == 302 || st == 303 || st == 307 ||
	    st == 308)) {
		http_native_to_curl(r);
		return;
	}
	r->pool->last_len = r->body.len;
	evtimer_del(n->timer);
	http_native_report(r, 0);
}

static void
http_native_connect_failed(struct http_request *r, int err)
{
	http_native_fail(r, "Failed to connect to %.*s: %s",
	    (int)r->native->alen, r->native->url + 7, strerror(err));
}

/* The non-blocking connect finished: 0, or r has failed. */
static int
http_native_connected(struct http_request *r)
{
	struct http_conn *conn = &r->pool->conn;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		http_native_connect_failed(r, err);
		return -1;
	}
	conn->connecting = 0;
	return 0;
}

static void
http_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_pool *p = arg;
	struct http_conn *conn = &p->conn;
	struct http_request *r = conn->req;
	struct http_native *n;
	char *scratch;
	size_t used;
	ssize_t k;
	int ret, round;

	/* Idle: the peer closed, or sent what nobody asked for. */
	if (r == NULL) {
		http_conn_close(conn);
		return;
	}
	n = r->native;
	if (conn->connecting && http_native_connected(r) == -1)
		return;
	if (r->client->scratch == NULL)
		r->client->scratch = xmalloc(HTTP_SCRATCH);
	scratch = r->client->scratch;
	/* A short read has most likely drained the socket. */
	for (round = 0; round < 16; round++) {
		k = recv(fd, scratch, HTTP_SCRATCH, 0);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k == -1 || k == 0) {
			if (http_native_retry(r) == 0)
				return;
			if (k == -1) {
				http_native_fail(r, "Recv failure: %s",
				    strerror(errno));
				return;
			}
			if (http1_response_eof(&n->h1) == HTTP1_DONE)
				http_native_done(r, 0);
			else
				http_native_fail(r, "%s", n->h1.error);
			return;
		}
		http_body_take(r);
		ret = http1_response_feed(&n->h1, scratch, (size_t)k, &used);
		if (ret == HTTP1_ERROR) {
			http_native_fail(r, "%s", n->h1.error);
			return;
		}
		if (ret == HTTP1_DONE) {
			http_native_done(r, used == (size_t)k &&
			    n->h1.keep_alive);
			return;
		}
		if ((size_t)k < HTTP_SCRATCH)
			return;
	}
}

static void
http_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_pool *p = arg;
	struct http_request *r = p->conn.req;

	if (r == NULL)
		return;
	if (p->conn.connecting && http_native_connected(r) == -1)
		return;
	http_native_send(r);
}

static void
http_native_send(struct http_request *r)
{
	struct http_native *n = r->native;
	struct http_conn *conn = &r->pool->conn;
	ssize_t k;

	while (n->out_off < n->out.len) {
		k = send(conn->fd, n->out.data + n->out_off,
		    n->out.len - n->out_off, MSG_NOSIGNAL);
		if (k > 0) {
			n->out_off += (size_t)k;
			continue;
		}
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(conn->wev, NULL);
			return;
		}
		if (http_native_retry(r) == 0)
			return;
		http_native_fail(r, "Send failure: %s",
		    k == -1 ? strerror(errno) : "nothing sent");
		return;
	}
}

static void
http_native_connect(struct http_request *r)
{
	struct http_pool *p = r->pool;
	struct http_conn *conn = &p->conn;
	int fd, one = 1;

	fd = socket(conn->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		http_native_fail(r, "Failed to create a socket: %s",
		    strerror(errno));
		return;
	}
	/* As curl: the request is one small write, never delay it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	conn->fd = fd;
	conn->rev = event_new(r->client->base, fd, EV_READ | EV_PERSIST,
	    http_conn_read_cb, p);
	conn->wev = event_new(r->client->base, fd, EV_WRITE,
	    http_conn_write_cb, p);
	event_add(conn->rev, NULL);
	conn->req = r;
	conn->used = 0;
	if (connect(fd, (struct sockaddr *)&conn->addr, conn->addrlen) == 0) {
		http_native_send(r);
		return;
	}
	if (errno == EINPROGRESS) {
		conn->connecting = 1;
		event_add(conn->wev, NULL);
		return;
	}
	http_native_connect_failed(r, errno);
}

/*
 * Take r on the native path when it can be: a GET or POST of a plain-HTTP
 * URL with an IP address, from a pool (a scrape target, a remote-write
 * shard), no proxy. -1: use curl.
 */
static int
http_native_start(struct http_request *r, const struct http_request_opts *o)
{
	struct http_pool *p = o->pool;
	struct http_conn *conn;
	struct http_native *n;
	struct sockaddr_storage ss;
	const char *auth, *path;
	const char * const *h;
	const char *colon;
	socklen_t sl;
	size_t alen, i, nh;
	int accept = 0, post;

	post = o->method != NULL && strcmp(o->method, "POST") == 0;
	if (!http_native_enabled || p == NULL || p->curl_only ||
	    o->on_data != NULL || (o->body_len != 0 && !post) ||
	    (o->method != NULL && !post && strcmp(o->method, "GET") != 0) ||
	    (o->http != NULL && (o->http->proxy_url != NULL ||
	    o->http->proxy_from_environment)) ||
	    http_native_url(o->url, &ss, &sl, &auth, &alen, &path) == -1)
		return -1;
	conn = &p->conn;
	r->pool = p;
	r->native = n = xcalloc(1, sizeof *n);
	http1_response_init(&n->h1, &r->body, r->max_body);
	n->start_us = http_now_us();
	n->timeout_ms = o->timeout_ms;
	n->follow = o->http == NULL || o->http->follow_redirects;
	n->post = post;
	n->url = xstrdup(o->url);
	n->alen = alen;
	n->accept_gzip = o->accept_gzip;
	n->http = o->http;
	for (nh = 0, h = o->headers; h != NULL && *h != NULL; h++)
		nh++;
	n->headers = xcalloc(nh + 1, sizeof *n->headers);
	for (i = 0; i < nh; i++)
		n->headers[i] = xstrdup(o->headers[i]);

	/* Pieces, not a format: this runs for every scrape. */
	buf_puts(&n->out, post ? "POST " : "GET ");
	if (*path != '/')
		buf_putc(&n->out, '/');
	buf_puts(&n->out, path);
	buf_puts(&n->out, " HTTP/1.1\r\nHost: ");
	buf_append(&n->out, auth, alen);
	buf_puts(&n->out, "\r\nUser-Agent: promlet/" PACKAGE_VERSION "\r\n");
	if (post)
		buf_printf(&n->out, "Content-Length: %zu\r\n", o->body_len);
	if (o->accept_gzip)
		buf_puts(&n->out, "Accept-Encoding: gzip\r\n");
	for (i = 0; i < nh; i++) {
		/* "Name:" with no value removes a header, for curl. */
		colon = strchr(n->headers[i], ':');
		if (colon != NULL && colon[1] == '\0')
			continue;
		if (strncasecmp(n->headers[i], "Accept:", 7) == 0)
			accept = 1;
		buf_puts(&n->out, n->headers[i]);
		buf_puts(&n->out, "\r\n");
	}
	if (!accept)
		buf_puts(&n->out, "Accept: */*\r\n");
	buf_puts(&n->out, "\r\n");
	/* The body goes out with the head: one send for both. */
	n->body_off = n->out.len;
	if (post && o->body_len != 0)
		buf_append(&n->out, o->body, o->body_len);
	n->timer = evtimer_new(r->client->base, http_native_timer_cb, r);
	if (o->timeout_ms > 0)
		loop_timer_add_ms(n->timer, o->timeout_ms);
	if (conn->fd != -1 && (conn->req != NULL || conn->connecting ||
	    conn->addrlen != sl || memcmp(&conn->addr, &ss, sl) != 0))
		http_conn_close(conn);
	if (conn->fd != -1) {
		conn->req = r;
		http_native_send(r);
		return 0;
	}
	conn->addr = ss;
	conn->addrlen = sl;
	http_native_connect(r);
	return 0;
}

static void
http_native_free(struct http_request *r)
{
	struct http_native *n = r->native;

	/* Cancelled in flight: what is left of the response is garbage. */
	if (r->pool != NULL && r->pool->conn.req == r)
		http_conn_close(&r->pool->conn);
	http1_response_clean(&n->h1);
	event_free(n->timer);
	/*
	 * Credentials are in the head and the headers, never in a POST's
	 * body (samples): zeroing a whole batch cost a percent of the CPU.
	 */
	if (n->out.data != NULL)
		explicit_bzero(n->out.data, n->body_off);
	buf_free(&n->out);
	http_lines_free(n->headers);
	free(n->url);
	free(n);
	r->native = NULL;
}

struct http_pool *
http_pool_new(void)
{
	struct http_pool *p = xcalloc(1, sizeof *p);

	p->conn.fd = -1;
	return p;
}

/* curl's part of a pool, made when curl first serves it. */
static void
http_pool_share(struct http_pool *p)
{
	if (p->share != NULL)
		return;
	if ((p->share = curl_share_init()) == NULL)
		fatalx("curl_share_init failed", NULL);
	/*
	 * The DNS cache too: curl prunes it on every request by walking all
	 * of it, so in one shared cache that is a walk over every target's
	 * host per scrape. One loop thread: no lock functions needed.
	 */
	if (curl_share_setopt(p->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) != CURLSHE_OK)
		fatalx("curl cannot share connections", NULL);
}

void
http_pool_free(struct http_pool *p)
{
	if (p == NULL)
		return;
	http_conn_close(&p->conn);
	if (p->share != NULL && curl_share_cleanup(p->share) != CURLSHE_OK)
		log_error("curl share still in use; leaking it", NULL);
	free(p);
}

void
http_request_cancel(struct http_request *r)
{
	if (r != NULL)
		http_request_free(r);
}
