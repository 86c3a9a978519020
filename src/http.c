/*
 * Asynchronous HTTP on the libevent loop with libcurl's multi_socket API.
 *
 * curl tells us which sockets to watch (http_socket_cb) and when to call
 * it back on a timeout (http_timer_cb); we translate both into libevent
 * events and feed readiness back with curl_multi_socket_action(). Finished
 * transfers are collected in http_check_done() and reported to their
 * owners. One multi handle serves every scrape, remote write and token
 * request, so connections and DNS results are shared and kept alive.
 */
#include <sys/queue.h>

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

struct http_request {
	struct http_client		*client;
	CURL				*easy;
	struct http_pool		*pool;
	struct curl_slist		*headers;
	struct buf			 body;
	uint64_t			 max_body;
	int				 too_large;
	int				(*on_data)(const char *, size_t,
					    void *);
	http_done_cb			 cb;
	void				*arg;
	char				 errbuf[CURL_ERROR_SIZE];
	char				*userpwd;
	TAILQ_ENTRY(http_request)	 entry;
};

TAILQ_HEAD(http_requests, http_request);

/*
 * Finished easy handles are reset and kept for the next request: making
 * one costs more than a scrape of a small page spends in curl otherwise.
 * curl_easy_reset() keeps only caches (DNS, TLS sessions), never options.
 */
#define HTTP_IDLE_MAX	64

struct http_client {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct http_requests	 requests;
	size_t			 active;
	CURL			*idle[HTTP_IDLE_MAX];
	size_t			 nidle;
};

struct http_pool {
	CURLSH			*share;
};

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
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
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

	if (!http_curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			fatalx("curl_global_init failed", NULL);
		http_curl_ready = 1;
	}
	c = xcalloc(1, sizeof *c);
	c->base = base;
	TAILQ_INIT(&c->requests);
	if ((c->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed", NULL);
	c->timer = evtimer_new(base, http_timeout_cb, c);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Keep enough idle connections for every target and shard. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1024L);
	return c;
}

static void
http_request_free(struct http_request *r)
{
	struct http_client *c = r->client;

	TAILQ_REMOVE(&c->requests, r, entry);
	c->active--;
	curl_multi_remove_handle(c->multi, r->easy);
	/* curl_easy_reset() keeps a share: detach it, or the pool could
	 * never be freed. */
	if (r->pool != NULL)
		curl_easy_setopt(r->easy, CURLOPT_SHARE, NULL);
	if (c->nidle < HTTP_IDLE_MAX) {
		curl_easy_reset(r->easy);
		c->idle[c->nidle++] = r->easy;
	} else
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_free(&r->body);
	if (r->userpwd != NULL) {
		explicit_bzero(r->userpwd, strlen(r->userpwd));
		free(r->userpwd);
	}
	free(r);
}

void
http_client_free(struct http_client *c)
{
	struct http_request *r;

	if (c == NULL)
		return;
	/* http_request_free() unlinks r before freeing it. */
	while ((r = TAILQ_FIRST(&c->requests)) != NULL)
		http_request_free(r); /* NOLINT(clang-analyzer-unix.Malloc) */
	while (c->nidle > 0)
		curl_easy_cleanup(c->idle[--c->nidle]);
	curl_multi_cleanup(c->multi);
	event_free(c->timer);
	free(c);
}

size_t
http_client_active(const struct http_client *c)
{
	return c->active;
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
		if (r->cb != NULL)
			r->cb(&resp, r->arg);
		http_request_free(r);
	}
}

/* Read a small secret file (password_file, credentials_file) fresh each
 * time, so rotated credentials take effect without a reload. */
static char *
http_read_secret(const char *path)
{
	char tmp[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("cannot read secret file", "file=%s err=%s", path,
		    strerror(errno));
		return NULL;
	}
	n = read(fd, tmp, sizeof tmp - 1);
	close(fd);
	if (n < 0)
		return NULL;
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
		n--;
	tmp[n] = '\0';
	return xstrdup(tmp);
}

static void
http_apply_config(struct http_request *r, const struct config_http *h)
{
	CURL *e = r->easy;
	const struct config_tls *t = &h->tls;
	char *secret, *hdr;
	const char *cred;

	if (h->basic_auth_username != NULL) {
		secret = NULL;
		if (h->basic_auth_password_file != NULL)
			secret = http_read_secret(h->basic_auth_password_file);
		xasprintf(&r->userpwd, "%s:%s", h->basic_auth_username,
		    secret != NULL ? secret : h->basic_auth_password != NULL ?
		    h->basic_auth_password : "");
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERPWD, r->userpwd);
		free(secret);
	}
	if (h->authorization_credentials != NULL ||
	    h->authorization_credentials_file != NULL) {
		secret = NULL;
		if (h->authorization_credentials_file != NULL)
			secret = http_read_secret(
			    h->authorization_credentials_file);
		cred = secret != NULL ? secret : h->authorization_credentials;
		if (cred != NULL) {
			xasprintf(&hdr, "Authorization: %s %s",
			    h->authorization_type != NULL ?
			    h->authorization_type : "Bearer", cred);
			r->headers = curl_slist_append(r->headers, hdr);
			explicit_bzero(hdr, strlen(hdr));
			free(hdr);
		}
		if (secret != NULL) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
		}
	}
	if (t->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
	if (t->cert_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
	if (t->key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
	if (t->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->min_version != NULL) {
		long v = CURL_SSLVERSION_TLSv1_2;
		if (strcmp(t->min_version, "TLS10") == 0)
			v = CURL_SSLVERSION_TLSv1_0;
		else if (strcmp(t->min_version, "TLS11") == 0)
			v = CURL_SSLVERSION_TLSv1_1;
		else if (strcmp(t->min_version, "TLS13") == 0)
			v = CURL_SSLVERSION_TLSv1_3;
		curl_easy_setopt(e, CURLOPT_SSLVERSION, v);
	}
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

struct http_request *
http_request_start(struct http_client *c, const struct http_request_opts *o,
    http_done_cb cb, void *arg)
{
	struct http_request *r;
	const char * const *h;
	CURL *e;

	r = xcalloc(1, sizeof *r);
	r->client = c;
	r->cb = cb;
	r->arg = arg;
	r->max_body = o->max_body;
	r->on_data = o->on_data;
	buf_init(&r->body);
	if (c->nidle > 0)
		e = r->easy = c->idle[--c->nidle];
	else if ((e = r->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed", NULL);
	if (o->pool != NULL) {
		r->pool = o->pool;
		curl_easy_setopt(e, CURLOPT_SHARE, o->pool->share);
	}
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
	if (o->http != NULL)
		http_apply_config(r, o->http);
	else
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	for (h = o->headers; h != NULL && *h != NULL; h++)
		r->headers = curl_slist_append(r->headers, *h);
	if (r->headers != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

	TAILQ_INSERT_TAIL(&c->requests, r, entry);
	c->active++;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		fatalx("curl_multi_add_handle failed", NULL);
	return r;
}

struct http_pool *
http_pool_new(void)
{
	struct http_pool *p = xcalloc(1, sizeof *p);

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
	return p;
}

void
http_pool_free(struct http_pool *p)
{
	if (p == NULL)
		return;
	if (curl_share_cleanup(p->share) != CURLSHE_OK)
		log_error("curl share still in use; leaking it", NULL);
	free(p);
}

void
http_request_cancel(struct http_request *r)
{
	if (r != NULL)
		http_request_free(r);
}
