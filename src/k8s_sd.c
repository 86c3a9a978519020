/*
 * Kubernetes service discovery: list + watch against the API server on
 * the event loop, objects kept trimmed in jansson objects, targets built
 * by k8s_sd_meta.c.
 *
 * Ownership: a k8s_sd (one per job) owns one k8s_sd_disc per
 * kubernetes_sd_configs entry, which owns its watches; each watch owns
 * its store, its in-flight request and its retry timer. Configs are
 * borrowed (main rebuilds discovery on every config apply).
 *
 * Watch bodies are streamed through http.c's on_data callback, which
 * runs inside curl: event handling there only edits the store and arms
 * the flush timer. Handing targets to the scrape manager (which may
 * start and cancel requests) happens from that timer, never from curl.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "k8s_sd.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "scrape.h"
#include "xmalloc.h"

#define K8S_SD_SA_DIR	"/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_SD_PAGE		500
#define K8S_SD_LIST_TIMEOUT_MS	(60 * 1000)
#define K8S_SD_MAX_BODY		(256ULL * 1024 * 1024)
#define K8S_SD_MAX_LINE		(64U * 1024 * 1024)
#define K8S_SD_BACKOFF_MIN_MS	1000
#define K8S_SD_BACKOFF_MAX_MS	(30 * 1000)
/* Events come in bursts (a rollout, a relist): coalesce them. */
#define K8S_SD_FLUSH_MS		200
/* Watches end on the server after timeoutSeconds, spread like client-go
 * spreads them so a DaemonSet's members do not reconnect in step. */
#define K8S_SD_WATCH_MIN_S	300
/* A watch that ends sooner than this without events counts as a failure,
 * so a server that closes at once cannot make us spin. */
#define K8S_SD_WATCH_SHORT_MS	1000

struct k8s_sd_disc;

struct k8s_sd_watch {
	struct k8s_sd_disc	*disc;
	enum k8s_sd_kind	 kind;
	char			*ns;	/* NULL = all namespaces */
	char			*label;	/* selectors, NULL = none */
	char			*field;
	json_t			*store;	/* key -> trimmed object */
	json_t			*pending; /* list pages so far */
	char			*rv;	/* where to watch from */
	char			*cont;	/* list continue token */
	struct http_request	*req;
	struct event		*timer;
	struct buf		 line;	/* partial watch event */
	size_t			 scanned; /* bytes known to have no \n */
	int64_t			 backoff_ms;
	int64_t			 started_ms;
	int64_t			 listed_ms;
	uint64_t		 events;
	int			 synced;	/* listed at least once */
	int			 need_list;
	int			 expired;	/* 410 in the stream */
	int			 broken;	/* bad event in the stream */
};

struct k8s_sd_disc {
	struct k8s_sd			*sd;
	const struct config_k8s_sd	*cfg;
	char				*source;
	char				*base_url;
	struct config_http		 incluster;
	const struct config_http	*http;
	struct k8s_sd_watch		**w;
	size_t				  nw;
	struct event			*flush;
	uint64_t			  last_hash;
	int				  flushed;
};

struct k8s_sd {
	struct event_base	*base;
	struct http_client	*http;
	struct scrape_manager	*sm;
	char			*job;
	struct k8s_sd_disc	**d;
	size_t			  nd;
};

static void	k8s_sd_watch_list(struct k8s_sd_watch *);
static void	k8s_sd_watch_watch(struct k8s_sd_watch *);

static int64_t
k8s_sd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms scaled by a random factor in [0.75, 1.25). */
static int64_t
k8s_sd_jitter(int64_t ms)
{
	static uint64_t state;
	struct timespec ts;
	uint64_t seed[2];

	if (state == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed[0] = (uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 20);
		seed[1] = (uint64_t)getpid();
		state = hash_bytes(seed, sizeof seed, 0x6b387300ULL) | 1;
	}
	state = state * 6364136223846793005ULL + 1442695040888963407ULL;
	return ms * 3 / 4 + (int64_t)((state >> 33) % ((uint64_t)ms / 2 + 1));
}

/* The Status message an API error carries, or the transport error. */
static char *
k8s_sd_error_text(const struct http_response *resp)
{
	const char *msg = NULL;
	json_t *st = NULL;
	char *out;

	if (resp->error != NULL)
		return xstrdup(resp->error);
	if (resp->body != NULL && resp->body->len != 0) {
		st = json_loadb(resp->body->data, resp->body->len, 0, NULL);
		msg = json_string_value(json_object_get(st, "message"));
	}
	xasprintf(&out, "HTTP %ld%s%s", resp->status, msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
	json_decref(st);
	return out;
}

/* ---- targets ----------------------------------------------------------- */

static json_t *
k8s_sd_disc_lookup_cb(enum k8s_sd_kind kind, const char *key, void *arg)
{
	struct k8s_sd_disc *d = arg;
	json_t *o;
	size_t i;

	for (i = 0; i < d->nw; i++) {
		if (d->w[i]->kind != kind)
			continue;
		if ((o = json_object_get(d->w[i]->store, key)) != NULL)
			return o;
	}
	return NULL;
}

static void
k8s_sd_flush(struct k8s_sd_disc *d)
{
	struct k8s_sd *sd = d->sd;
	struct k8s_sd_groups g;
	enum k8s_sd_kind kind = k8s_sd_role_kind(d->cfg->role);
	const char *key;
	json_t *obj;
	uint64_t h;
	size_t i;

	/* Wait for every store: a target built before its pod or service
	 * is known would change labels (and identity) a moment later. */
	for (i = 0; i < d->nw; i++)
		if (!d->w[i]->synced)
			return;
	k8s_sd_groups_init(&g);
	for (i = 0; i < d->nw; i++) {
		if (d->w[i]->kind != kind)
			continue;
		json_object_foreach(d->w[i]->store, key, obj)
			k8s_sd_build(d->cfg->role, d->cfg->attach_metadata_node,
			    obj, k8s_sd_disc_lookup_cb, d, &g);
	}
	h = k8s_sd_groups_hash(&g);
	if (!d->flushed || h != d->last_hash) {
		log_debug("kubernetes_sd: targets updated", "job=%s source=%s "
		    "targets=%zu", sd->job, d->source, g.n);
		scrape_manager_set_targets(sd->sm, sd->job, d->source, g.v,
		    g.n);
		d->last_hash = h;
		d->flushed = 1;
	}
	k8s_sd_groups_free(&g);
}

static void
k8s_sd_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	k8s_sd_flush(arg);
}

static void
k8s_sd_dirty(struct k8s_sd_disc *d, int now)
{
	if (now) {
		event_del(d->flush);
		loop_timer_add_ms(d->flush, 0);
	} else if (!evtimer_pending(d->flush, NULL))
		loop_timer_add_ms(d->flush, K8S_SD_FLUSH_MS);
}

/* ---- list and watch ---------------------------------------------------- */

static void
k8s_sd_watch_url(struct k8s_sd_watch *w, struct buf *b, int watch)
{
	int64_t timeout;

	buf_puts(b, w->disc->base_url);
	k8s_sd_collection_path(b, w->kind, w->ns);
	if (watch) {
		timeout = k8s_sd_jitter(K8S_SD_WATCH_MIN_S * 4 / 3 * 1000) /
		    1000;
		buf_printf(b, "?watch=1&allowWatchBookmarks=true"
		    "&timeoutSeconds=%lld&resourceVersion=",
		    (long long)timeout);
		k8s_sd_query_escape(b, w->rv);
	} else {
		buf_printf(b, "?limit=%d", K8S_SD_PAGE);
		if (w->cont != NULL) {
			buf_puts(b, "&continue=");
			k8s_sd_query_escape(b, w->cont);
		}
	}
	if (w->label != NULL) {
		buf_puts(b, "&labelSelector=");
		k8s_sd_query_escape(b, w->label);
	}
	if (w->field != NULL) {
		buf_puts(b, "&fieldSelector=");
		k8s_sd_query_escape(b, w->field);
	}
}

static void
k8s_sd_watch_retry(struct k8s_sd_watch *w)
{
	int64_t delay = k8s_sd_jitter(w->backoff_ms);

	w->backoff_ms *= 2;
	if (w->backoff_ms > K8S_SD_BACKOFF_MAX_MS)
		w->backoff_ms = K8S_SD_BACKOFF_MAX_MS;
	loop_timer_add_ms(w->timer, delay);
}

static void
k8s_sd_watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_sd_watch *w = arg;

	if (w->need_list || w->rv == NULL)
		k8s_sd_watch_list(w);
	else
		k8s_sd_watch_watch(w);
}

static const char *
k8s_sd_watch_ns(const struct k8s_sd_watch *w)
{
	return w->ns != NULL ? w->ns : "";
}

static void
k8s_sd_list_fail(struct k8s_sd_watch *w, const char *err)
{
	log_warn("kubernetes_sd: list failed, retrying", "job=%s resource=%s "
	    "namespace=%s err=%s", w->disc->sd->job, k8s_sd_kind_name(w->kind),
	    k8s_sd_watch_ns(w), err);
	json_decref(w->pending);
	w->pending = NULL;
	free(w->cont);
	w->cont = NULL;
	k8s_sd_watch_retry(w);
}

static void
k8s_sd_list_done_cb(const struct http_response *resp, void *arg)
{
	struct k8s_sd_watch *w = arg;
	json_error_t jerr;
	json_t *root, *items, *item;
	const char *cont, *rv;
	char *key, *err;
	size_t i;

	w->req = NULL;
	if (resp->status == 410 && w->cont != NULL) {
		/* The snapshot the pages came from is gone: start over. */
		log_info("kubernetes_sd: list continuation expired, listing "
		    "again", "job=%s resource=%s", w->disc->sd->job,
		    k8s_sd_kind_name(w->kind));
		json_decref(w->pending);
		w->pending = NULL;
		free(w->cont);
		w->cont = NULL;
		k8s_sd_watch_list(w);
		return;
	}
	if (resp->curl_code != 0 || resp->status != 200) {
		err = k8s_sd_error_text(resp);
		k8s_sd_list_fail(w, err);
		free(err);
		return;
	}
	root = json_loadb(resp->body->data == NULL ? "" : resp->body->data,
	    resp->body->len, 0, &jerr);
	items = json_object_get(root, "items");
	if (root == NULL || (!json_is_array(items) && !json_is_null(items) &&
	    items != NULL)) {
		k8s_sd_list_fail(w, root == NULL ? jerr.text :
		    "no items in the list");
		json_decref(root);
		return;
	}
	if (w->pending == NULL)
		w->pending = json_object();
	json_array_foreach(items, i, item) {
		if ((key = k8s_sd_key(w->kind, item)) == NULL)
			continue;
		json_object_set_new(w->pending, key, k8s_sd_trim(w->kind,
		    item));
		free(key);
	}
	cont = json_string_value(json_object_get(json_object_get(root,
	    "metadata"), "continue"));
	rv = json_string_value(json_object_get(json_object_get(root,
	    "metadata"), "resourceVersion"));
	free(w->cont);
	w->cont = NULL;
	if (cont != NULL && *cont != '\0') {
		w->cont = xstrdup(cont);
		json_decref(root);
		k8s_sd_watch_list(w);
		return;
	}
	json_decref(w->store);
	w->store = w->pending;
	w->pending = NULL;
	free(w->rv);
	w->rv = rv != NULL && *rv != '\0' ? xstrdup(rv) : NULL;
	json_decref(root);
	log_debug("kubernetes_sd: listed", "job=%s resource=%s namespace=%s "
	    "objects=%zu resource_version=%s", w->disc->sd->job,
	    k8s_sd_kind_name(w->kind), k8s_sd_watch_ns(w),
	    json_object_size(w->store), w->rv != NULL ? w->rv : "");
	w->need_list = 0;
	w->backoff_ms = K8S_SD_BACKOFF_MIN_MS;
	w->listed_ms = k8s_sd_now_ms();
	k8s_sd_dirty(w->disc, !w->synced);
	w->synced = 1;
	if (w->rv == NULL) {
		/* Nothing to watch from; list again later. */
		w->need_list = 1;
		k8s_sd_watch_retry(w);
		return;
	}
	k8s_sd_watch_watch(w);
}

static void
k8s_sd_watch_list(struct k8s_sd_watch *w)
{
	struct k8s_sd *sd = w->disc->sd;
	struct http_request_opts o;
	struct buf url = BUF_INIT;
	const char *headers[] = { "Accept: application/json", NULL };

	w->need_list = 1;
	k8s_sd_watch_url(w, &url, 0);
	memset(&o, 0, sizeof o);
	o.url = url.data;
	o.headers = headers;
	o.timeout_ms = K8S_SD_LIST_TIMEOUT_MS;
	o.max_body = K8S_SD_MAX_BODY;
	o.accept_gzip = 1;
	o.http = w->disc->http;
	w->req = http_request_start(sd->http, &o, k8s_sd_list_done_cb, w);
	buf_free(&url);
}

/* One watch event line. Returns -1 to end the stream. */
static int
k8s_sd_watch_event(struct k8s_sd_watch *w, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev, *obj;
	const char *type, *rv, *msg;
	char *key;
	int code;

	if ((ev = json_loadb(line, len, 0, &jerr)) == NULL) {
		log_warn("kubernetes_sd: bad watch event", "job=%s resource=%s "
		    "err=%s", w->disc->sd->job, k8s_sd_kind_name(w->kind),
		    jerr.text);
		w->broken = 1;
		return -1;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (type == NULL || !json_is_object(obj)) {
		log_warn("kubernetes_sd: bad watch event", "job=%s resource=%s "
		    "err=%s", w->disc->sd->job, k8s_sd_kind_name(w->kind),
		    "no type or object");
		json_decref(ev);
		w->broken = 1;
		return -1;
	}
	if (strcmp(type, "ERROR") == 0) {
		code = (int)json_integer_value(json_object_get(obj, "code"));
		msg = json_string_value(json_object_get(obj, "message"));
		if (code == 410)
			w->expired = 1;
		else {
			log_warn("kubernetes_sd: watch error", "job=%s "
			    "resource=%s code=%d err=%s", w->disc->sd->job,
			    k8s_sd_kind_name(w->kind), code, msg != NULL ?
			    msg : "");
			w->broken = 1;
		}
		json_decref(ev);
		return -1;
	}
	rv = json_string_value(json_object_get(json_object_get(obj,
	    "metadata"), "resourceVersion"));
	if (rv != NULL && *rv != '\0') {
		free(w->rv);
		w->rv = xstrdup(rv);
	}
	w->events++;
	if (strcmp(type, "BOOKMARK") == 0 ||
	    (key = k8s_sd_key(w->kind, obj)) == NULL) {
		json_decref(ev);
		return 0;
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		json_object_set_new(w->store, key, k8s_sd_trim(w->kind, obj));
		k8s_sd_dirty(w->disc, 0);
	} else if (strcmp(type, "DELETED") == 0) {
		json_object_del(w->store, key);
		k8s_sd_dirty(w->disc, 0);
	}
	free(key);
	json_decref(ev);
	return 0;
}

static int
k8s_sd_watch_data_cb(const char *data, size_t len, void *arg)
{
	struct k8s_sd_watch *w = arg;
	struct buf *b = &w->line;
	char *nl;
	size_t start = 0, end;

	buf_append(b, data, len);
	while ((nl = memchr(b->data + w->scanned, '\n', b->len -
	    w->scanned)) != NULL) {
		end = (size_t)(nl - b->data);
		if (end > start && k8s_sd_watch_event(w, b->data + start,
		    end - start) == -1)
			return -1;
		start = w->scanned = end + 1;
	}
	if (start != 0) {
		memmove(b->data, b->data + start, b->len - start);
		b->len -= start;
		b->data[b->len] = '\0';
	}
	w->scanned = b->len;
	if (b->len > K8S_SD_MAX_LINE) {
		log_warn("kubernetes_sd: watch event too large", "job=%s "
		    "resource=%s bytes=%zu", w->disc->sd->job,
		    k8s_sd_kind_name(w->kind), b->len);
		w->broken = 1;
		return -1;
	}
	return 0;
}

static void
k8s_sd_watch_done_cb(const struct http_response *resp, void *arg)
{
	struct k8s_sd_watch *w = arg;
	int64_t now = k8s_sd_now_ms();
	char *err;
	int ok;

	w->req = NULL;
	buf_reset(&w->line);
	w->scanned = 0;
	if (w->expired || resp->status == 410) {
		/* Our resourceVersion is too old: list again. A server that
		 * answers so right after a list gets the backoff. */
		log_info("kubernetes_sd: watch expired, listing again",
		    "job=%s resource=%s namespace=%s", w->disc->sd->job,
		    k8s_sd_kind_name(w->kind), k8s_sd_watch_ns(w));
		w->need_list = 1;
		if (now - w->listed_ms < K8S_SD_WATCH_SHORT_MS)
			k8s_sd_watch_retry(w);
		else
			k8s_sd_watch_list(w);
		return;
	}
	ok = !w->broken && resp->status >= 200 && resp->status < 300 &&
	    (resp->curl_code == CURLE_OK ||
	    resp->curl_code == CURLE_OPERATION_TIMEDOUT);
	if (ok && (w->events != 0 ||
	    now - w->started_ms >= K8S_SD_WATCH_SHORT_MS)) {
		/* The server ended the watch (timeoutSeconds): resume. */
		w->backoff_ms = K8S_SD_BACKOFF_MIN_MS;
		k8s_sd_watch_watch(w);
		return;
	}
	/* After an event we could not use, the store may have missed a
	 * change: start again from a list. */
	if (w->broken)
		w->need_list = 1;
	else if (!ok) {
		err = k8s_sd_error_text(resp);
		log_warn("kubernetes_sd: watch failed, retrying", "job=%s "
		    "resource=%s namespace=%s err=%s", w->disc->sd->job,
		    k8s_sd_kind_name(w->kind), k8s_sd_watch_ns(w), err);
		free(err);
	}
	k8s_sd_watch_retry(w);
}

static void
k8s_sd_watch_watch(struct k8s_sd_watch *w)
{
	struct k8s_sd *sd = w->disc->sd;
	struct http_request_opts o;
	struct buf url = BUF_INIT;
	const char *headers[] = { "Accept: application/json", NULL };

	k8s_sd_watch_url(w, &url, 1);
	memset(&o, 0, sizeof o);
	o.url = url.data;
	o.headers = headers;
	/* The server ends the watch; this only catches a dead peer. */
	o.timeout_ms = (int64_t)(K8S_SD_WATCH_MIN_S * 2 + 60) * 1000;
	o.max_body = 1 << 20;	/* for error bodies; events are streamed */
	o.accept_gzip = 1;
	o.http = w->disc->http;
	o.on_data = k8s_sd_watch_data_cb;
	w->started_ms = k8s_sd_now_ms();
	w->events = 0;
	w->expired = w->broken = 0;
	buf_reset(&w->line);
	w->scanned = 0;
	w->req = http_request_start(sd->http, &o, k8s_sd_watch_done_cb, w);
	buf_free(&url);
}

/* ---- setup ------------------------------------------------------------- */

static void
k8s_sd_watch_free(struct k8s_sd_watch *w)
{
	if (w == NULL)
		return;
	http_request_cancel(w->req);
	if (w->timer != NULL)
		event_free(w->timer);
	json_decref(w->store);
	json_decref(w->pending);
	buf_free(&w->line);
	free(w->rv);
	free(w->cont);
	free(w->ns);
	free(w->label);
	free(w->field);
	free(w);
}

static void
k8s_sd_add_watch(struct k8s_sd_disc *d, enum k8s_sd_kind kind,
    const char *ns, const char *label, const char *field)
{
	struct k8s_sd_watch *w;

	w = xcalloc(1, sizeof *w);
	w->disc = d;
	w->kind = kind;
	w->ns = ns != NULL ? xstrdup(ns) : NULL;
	w->label = label != NULL && *label != '\0' ? xstrdup(label) : NULL;
	w->field = field != NULL && *field != '\0' ? xstrdup(field) : NULL;
	w->store = json_object();
	w->backoff_ms = K8S_SD_BACKOFF_MIN_MS;
	w->need_list = 1;
	buf_init(&w->line);
	w->timer = evtimer_new(d->sd->base, k8s_sd_watch_timer_cb, w);
	d->w = xreallocarray(d->w, d->nw + 1, sizeof *d->w);
	d->w[d->nw++] = w;
}

static const struct config_k8s_selector *
k8s_sd_selector(const struct config_k8s_sd *cfg, enum config_k8s_role role)
{
	size_t i;

	for (i = 0; i < cfg->nselectors; i++)
		if (cfg->selectors[i].role == role)
			return &cfg->selectors[i];
	return NULL;
}

/* A small file read once at start (the service account namespace). */
static char *
k8s_sd_read_small(const char *path)
{
	char tmp[256];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	n = read(fd, tmp, sizeof tmp - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
		n--;
	tmp[n] = '\0';
	return n == 0 ? NULL : xstrdup(tmp);
}

/* Where the API is and how to authenticate; -1 when neither is known. */
static int
k8s_sd_disc_endpoint(struct k8s_sd_disc *d)
{
	const char *host, *port;
	size_t len;

	if (d->cfg->api_server != NULL) {
		d->base_url = xstrdup(d->cfg->api_server);
		len = strlen(d->base_url);
		while (len > 0 && d->base_url[len - 1] == '/')
			d->base_url[--len] = '\0';
		d->http = &d->cfg->http;
		return 0;
	}
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
		log_error("kubernetes_sd: not running in a cluster "
		    "(KUBERNETES_SERVICE_HOST/PORT unset) and no api_server "
		    "set; no targets from this config", "job=%s", d->sd->job);
		return -1;
	}
	xasprintf(&d->base_url, strchr(host, ':') != NULL ?
	    "https://[%s]:%s" : "https://%s:%s", host, port);
	/* The token file is read again for every request, so a rotated
	 * token is used from the next (re)connect on. */
	d->incluster.authorization_type = xstrdup("Bearer");
	d->incluster.authorization_credentials_file = xstrdup(K8S_SD_SA_DIR
	    "/token");
	d->incluster.tls.ca_file = xstrdup(K8S_SD_SA_DIR "/ca.crt");
	d->incluster.follow_redirects = 1;
	d->http = &d->incluster;
	return 0;
}

static void
k8s_sd_disc_free(struct k8s_sd_disc *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nw; i++)
		k8s_sd_watch_free(d->w[i]);
	free(d->w);
	if (d->flush != NULL)
		event_free(d->flush);
	free(d->incluster.authorization_type);
	free(d->incluster.authorization_credentials_file);
	free(d->incluster.tls.ca_file);
	free(d->base_url);
	free(d->source);
	free(d);
}

static struct k8s_sd_disc *
k8s_sd_disc_create(struct k8s_sd *sd, const struct config_k8s_sd *cfg,
    size_t index)
{
	const struct config_k8s_selector *sel, *nsel;
	struct k8s_sd_disc *d;
	char **ns = NULL, *own = NULL, *node = NULL, *nfield = NULL, *api;
	size_t nns = 0, i, k;
	enum config_k8s_role role = cfg->role;

	d = xcalloc(1, sizeof *d);
	d->sd = sd;
	d->cfg = cfg;
	xasprintf(&d->source, "kubernetes/%zu", index);
	d->flush = evtimer_new(sd->base, k8s_sd_flush_cb, d);
	if (k8s_sd_disc_endpoint(d) == -1)
		return d;

	ns = xcalloc(cfg->nnamespaces + 2, sizeof *ns);
	for (i = 0; i < cfg->nnamespaces; i++)
		ns[nns++] = cfg->namespaces[i];
	if (cfg->own_namespace) {
		if ((own = k8s_sd_read_small(K8S_SD_SA_DIR "/namespace")) ==
		    NULL)
			log_error("kubernetes_sd: cannot read the pod's "
			    "namespace for own_namespace", "job=%s file=%s",
			    sd->job, K8S_SD_SA_DIR "/namespace");
		else
			ns[nns++] = own;
	}
	if (nns == 0)
		ns[nns++] = NULL;	/* all namespaces */

	/* What each role watches, with that resource's selectors. */
	for (k = 0; k < nns; k++) {
		switch (role) {
		case CONFIG_K8S_NODE:
			break;
		case CONFIG_K8S_POD:
			sel = k8s_sd_selector(cfg, CONFIG_K8S_POD);
			k8s_sd_add_watch(d, K8S_SD_PODS, ns[k], sel ?
			    sel->label : NULL, sel ? sel->field : NULL);
			break;
		case CONFIG_K8S_SERVICE:
			sel = k8s_sd_selector(cfg, CONFIG_K8S_SERVICE);
			k8s_sd_add_watch(d, K8S_SD_SERVICES, ns[k], sel ?
			    sel->label : NULL, sel ? sel->field : NULL);
			break;
		case CONFIG_K8S_ENDPOINTS:
		case CONFIG_K8S_ENDPOINTSLICE:
			sel = k8s_sd_selector(cfg, role);
			k8s_sd_add_watch(d, k8s_sd_role_kind(role), ns[k],
			    sel ? sel->label : NULL, sel ? sel->field : NULL);
			sel = k8s_sd_selector(cfg, CONFIG_K8S_SERVICE);
			k8s_sd_add_watch(d, K8S_SD_SERVICES, ns[k], sel ?
			    sel->label : NULL, sel ? sel->field : NULL);
			sel = k8s_sd_selector(cfg, CONFIG_K8S_POD);
			k8s_sd_add_watch(d, K8S_SD_PODS, ns[k], sel ?
			    sel->label : NULL, sel ? sel->field : NULL);
			break;
		}
	}
	if (role == CONFIG_K8S_NODE || cfg->attach_metadata_node) {
		nsel = k8s_sd_selector(cfg, CONFIG_K8S_NODE);
		sel = k8s_sd_selector(cfg, CONFIG_K8S_POD);
		/* Pods of one node need that node only, not the cluster's. */
		if (role == CONFIG_K8S_POD && nsel == NULL && sel != NULL &&
		    (node = k8s_sd_selector_node(sel->field)) != NULL)
			xasprintf(&nfield, "metadata.name=%s", node);
		k8s_sd_add_watch(d, K8S_SD_NODES, NULL, nsel ? nsel->label :
		    NULL, nfield != NULL ? nfield : nsel ? nsel->field : NULL);
	}
	free(node);
	free(nfield);
	free(own);
	free(ns);
	for (i = 0; i < d->nw; i++)
		k8s_sd_watch_list(d->w[i]);
	api = config_redact_url(d->base_url);
	log_info("kubernetes_sd: started", "job=%s role=%s api=%s watches=%zu",
	    sd->job, config_k8s_role_name(role), api, d->nw);
	free(api);
	return d;
}

struct k8s_sd *
k8s_sd_create(struct event_base *base, struct http_client *http,
    struct scrape_manager *sm, const char *job,
    const struct config_k8s_sd *cfg, size_t n)
{
	struct k8s_sd *sd;
	size_t i;

	sd = xcalloc(1, sizeof *sd);
	sd->base = base;
	sd->http = http;
	sd->sm = sm;
	sd->job = xstrdup(job);
	sd->d = xcalloc(n + 1, sizeof *sd->d);
	for (i = 0; i < n; i++)
		sd->d[sd->nd++] = k8s_sd_disc_create(sd, &cfg[i], i);
	return sd;
}

void
k8s_sd_free(struct k8s_sd *sd)
{
	size_t i;

	if (sd == NULL)
		return;
	for (i = 0; i < sd->nd; i++)
		k8s_sd_disc_free(sd->d[i]);
	free(sd->d);
	free(sd->job);
	free(sd);
}
