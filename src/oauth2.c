/*
 * OAuth 2.0 client credentials token sources, on the event loop (see
 * oauth2.h for the wire format and the rules).
 *
 * A source is idle, or fetching (one request in flight, maybe the second
 * try of the auto-detected credential style). Fetches start from the
 * kick event, never inside the caller's stack, so a waiter's callback
 * always runs from the loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azuread.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "oauth2.h"
#include "xmalloc.h"

#define OAUTH2_TIMEOUT_MS	30000
#define OAUTH2_MAX_BODY		(1024 * 1024)
#define OAUTH2_SECRET_MAX	(64 * 1024)
/* After a failed fetch, requests fail at once for this long. */
#define OAUTH2_RETRY_MS		1000
/* A source nobody asked for in this long is dropped. */
#define OAUTH2_IDLE_MS		(60 * 60 * 1000)
/* A 401 for a token this young (at most) is not the token's fault. */
#define OAUTH2_REJECT_GUARD_MS	(60 * 1000)

enum oauth2_style {
	OAUTH2_STYLE_UNKNOWN = 0,	/* header first, then params */
	OAUTH2_STYLE_HEADER,
	OAUTH2_STYLE_PARAMS,
};

TAILQ_HEAD(oauth2_waiters, oauth2_waiter);

struct oauth2_source {
	struct oauth2_cache	*cache;
	struct config_oauth2	*cfg;		/* own copy */
	char			*secret;	/* as last read; wiped */
	char			*header;	/* "Authorization: ..." */
	int64_t			 usable_until;	/* 0: never expires */
	int64_t			 refresh_at;	/* 0: never */
	int64_t			 failed_at;
	int64_t			 used_at;
	int64_t			 got_at;	/* of the token */
	int64_t			 guard_ms;	/* see oauth2_rejected */
	unsigned		 gen;		/* of the token */
	unsigned		 holds;		/* requests in flight with it */
	char			*error;		/* the last failure */
	enum oauth2_style	 style;
	int			 trying_params;	/* this fetch is the 2nd try */
	unsigned		 round;		/* of oauth2_notify */
	struct http_request	*req;
	struct event		*kick;
	struct oauth2_waiters	 waiters;
	struct oauth2_source	*next;
};

struct oauth2_cache {
	struct event_base	*base;
	struct http_client	*http;
	struct oauth2_source	*sources;
	uint64_t		 fetched;	/* a token came */
	uint64_t		 failed;	/* a fetch ended without one */
};

void
oauth2_form(struct buf *b, const struct config_oauth2 *oa,
    const char *secret, int in_params)
{
	const struct config_kvs *ps = &oa->endpoint_params;
	const char *grant = "client_credentials";
	size_t i;

	/* Go lets endpoint_params replace grant_type, and no other. */
	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, "grant_type") == 0)
			grant = ps->v[i].value;
	buf_puts(b, "grant_type=");
	azuread_urlencode(b, grant);
	if (oa->nscopes > 0) {
		buf_puts(b, "&scope=");
		for (i = 0; i < oa->nscopes; i++) {
			if (i > 0)
				buf_puts(b, "%20");
			azuread_urlencode(b, oa->scopes[i]);
		}
	}
	for (i = 0; i < ps->n; i++) {
		if (strcmp(ps->v[i].name, "grant_type") == 0 ||
		    (in_params && (strcmp(ps->v[i].name, "client_id") == 0 ||
		    strcmp(ps->v[i].name, "client_secret") == 0)))
			continue;
		buf_putc(b, '&');
		azuread_urlencode(b, ps->v[i].name);
		buf_putc(b, '=');
		azuread_urlencode(b, ps->v[i].value);
	}
	if (in_params) {
		buf_puts(b, "&client_id=");
		azuread_urlencode(b, oa->client_id);
		if (secret != NULL && *secret != '\0') {
			buf_puts(b, "&client_secret=");
			azuread_urlencode(b, secret);
		}
	}
}

void
oauth2_basic(struct buf *b, const char *client_id, const char *secret)
{
	struct buf pair = BUF_INIT;

	/* Room up front: a grown buffer would leave a copy unwiped. */
	buf_reserve(&pair, 3 * (strlen(client_id) + strlen(secret)) + 2);
	azuread_urlencode(&pair, client_id);
	buf_putc(&pair, ':');
	azuread_urlencode(&pair, secret);
	buf_puts(b, "Authorization: Basic ");
	buf_put_base64(b, pair.data, pair.len);
	explicit_bzero(pair.data, pair.cap);
	buf_free(&pair);
}

/* ---- sources ---------------------------------------------------------- */

static void
oauth2_drop_token(struct oauth2_source *s)
{
	xfree_secret(s->header);
	s->header = NULL;
	s->usable_until = s->refresh_at = 0;
}

/*
 * Hand the waiters the header or the error; each leaves the list first.
 * Only those that began waiting before this round: a callback may start
 * a request that waits in turn (a retry), and that one is the next
 * round's, not a loop here.
 */
static void
oauth2_notify(struct oauth2_source *s, const char *header, const char *error)
{
	struct oauth2_waiter *w;
	unsigned round = s->round++;

	while ((w = TAILQ_FIRST(&s->waiters)) != NULL && w->round == round) {
		TAILQ_REMOVE(&s->waiters, w, entry);
		w->src = NULL;
		w->cb(w, header, s->gen, error);
	}
}

static void
oauth2_failed(struct oauth2_source *s, char *error)
{
	char *url;

	s->failed_at = loop_now_ms();
	s->cache->failed++;
	if (s->error == NULL || strcmp(s->error, error) != 0) {
		url = config_redact_url(s->cfg->token_url);
		log_warn("oauth2 token request failed", "token_url=%s "
		    "client_id=%s err=%s", url, s->cfg->client_id, error);
		free(url);
	}
	free(s->error);
	s->error = error;
	oauth2_notify(s, NULL, s->error);
}

static void	oauth2_fetch(struct oauth2_source *);

static void
oauth2_done_cb(const struct http_response *resp, void *arg)
{
	struct oauth2_source *s = arg;
	struct azuread_token t;
	const char *body = resp->body != NULL ? resp->body->data : NULL;
	size_t len = resp->body != NULL ? resp->body->len : 0;
	int64_t now = loop_now_ms();
	char *cause = NULL, *sum, *url, *msg;
	struct buf h = BUF_INIT;
	int form = azuread_form_type(resp->content_type) ?
	    AZUREAD_TOKEN_FORM : 0;

	s->req = NULL;
	if (resp->status / 100 != 2) {
		/* Go's auto-detection: a refused header, then the form. */
		if (resp->status != 0 && s->style == OAUTH2_STYLE_UNKNOWN &&
		    !s->trying_params) {
			s->trying_params = 1;
			oauth2_fetch(s);
			return;
		}
		s->trying_params = 0;
		sum = resp->status == 0 ? xstrdup(resp->error != NULL ?
		    resp->error : "no response") :
		    azuread_error_summary_opt(resp->status, body, len, form);
		/* Some endpoints echo the request: never the secret. */
		msg = azuread_scrub(sum, s->secret);
		free(sum);
		url = config_redact_url(s->cfg->token_url);
		xasprintf(&sum, "oauth2: cannot fetch a token from %s: %s",
		    url, msg);
		free(url);
		free(msg);
		oauth2_failed(s, sum);
		return;
	}
	if (azuread_token_parse_opt(body, len, now, AZUREAD_TOKEN_ANY_TYPE |
	    AZUREAD_TOKEN_NO_EXPIRY | form, &t, &cause) != 0) {
		s->trying_params = 0;
		url = config_redact_url(s->cfg->token_url);
		xasprintf(&msg, "oauth2: bad token answer from %s: %s", url,
		    cause);
		free(url);
		free(cause);
		oauth2_failed(s, msg);
		return;
	}
	if (s->style == OAUTH2_STYLE_UNKNOWN)
		s->style = s->trying_params ? OAUTH2_STYLE_PARAMS :
		    OAUTH2_STYLE_HEADER;
	s->trying_params = 0;
	s->cache->fetched++;
	oauth2_drop_token(s);
	buf_reserve(&h, 32 + strlen(t.token_type) + strlen(t.access_token));
	buf_printf(&h, "Authorization: %s %s", t.token_type, t.access_token);
	s->header = buf_steal(&h);
	s->gen++;
	s->got_at = now;
	s->guard_ms = OAUTH2_REJECT_GUARD_MS;
	if (t.expires_ms != 0) {
		s->usable_until = azuread_usable_until(now, t.expires_ms);
		s->refresh_at = azuread_refresh_at(now, t.expires_ms, 0);
		if ((t.expires_ms - now) / 4 < s->guard_ms)
			s->guard_ms = (t.expires_ms - now) / 4;
	}
	azuread_token_clear(&t);
	if (s->error != NULL) {
		url = config_redact_url(s->cfg->token_url);
		log_info("oauth2 token request succeeded again",
		    "token_url=%s client_id=%s", url, s->cfg->client_id);
		free(url);
		free(s->error);
		s->error = NULL;
	}
	oauth2_notify(s, s->header, NULL);
}

/* client_secret_file's current content (an inline secret is copied
 * once, when the source is made). */
static int
oauth2_read_secret(const struct config_oauth2 *oa, char **out, char **cause)
{
	size_t len;
	int wr;

	*out = NULL;
	return azuread_read_secret_file(oa->client_secret_file,
	    OAUTH2_SECRET_MAX, 1, out, &len, &wr, cause) != 0 ? -1 : 0;
}

static void
oauth2_fetch(struct oauth2_source *s)
{
	struct http_request_opts o;
	struct buf body = BUF_INIT, basic = BUF_INIT;
	const char *headers[4];
	char *cause = NULL, *msg;
	int params;

	if (s->cfg->client_secret_file != NULL) {
		xfree_secret(s->secret);
		if (oauth2_read_secret(s->cfg, &s->secret, &cause) != 0) {
			xasprintf(&msg, "oauth2: cannot read client_secret_file: "
			    "%s", cause);
			free(cause);
			s->trying_params = 0;
			oauth2_failed(s, msg);
			return;
		}
	}
	params = s->style == OAUTH2_STYLE_PARAMS || s->trying_params;
	buf_reserve(&body, 1024);
	oauth2_form(&body, s->cfg, s->secret, params);
	headers[0] = "Content-Type: application/x-www-form-urlencoded";
	headers[1] = "Accept: application/json";
	headers[2] = NULL;
	if (!params) {
		buf_reserve(&basic, 64 + 4 * (strlen(s->cfg->client_id) +
		    strlen(s->secret)));
		oauth2_basic(&basic, s->cfg->client_id, s->secret);
		headers[2] = basic.data;
	}
	headers[3] = NULL;
	memset(&o, 0, sizeof o);
	o.method = "POST";
	o.url = s->cfg->token_url;
	o.headers = headers;
	o.body = body.data;
	o.body_len = body.len;
	o.timeout_ms = OAUTH2_TIMEOUT_MS;
	o.max_body = OAUTH2_MAX_BODY;
	o.http = &s->cfg->http;
	s->req = http_request_start(s->cache->http, &o, oauth2_done_cb, s);
	explicit_bzero(body.data, body.cap);
	buf_free(&body);
	if (basic.data != NULL)
		explicit_bzero(basic.data, basic.cap);
	buf_free(&basic);
}

static void
oauth2_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth2_source *s = arg;

	(void)fd;
	(void)what;
	if (s->req != NULL)
		return;
	/* Waiters after a recent failure get it at once: no storm. */
	if (!TAILQ_EMPTY(&s->waiters) && s->error != NULL &&
	    loop_now_ms() - s->failed_at < OAUTH2_RETRY_MS) {
		oauth2_notify(s, NULL, s->error);
		return;
	}
	oauth2_fetch(s);
}

static void
oauth2_source_free(struct oauth2_source *s)
{
	struct oauth2_waiter *w;

	if (s->req != NULL)
		http_request_cancel(s->req);
	while ((w = TAILQ_FIRST(&s->waiters)) != NULL) {
		TAILQ_REMOVE(&s->waiters, w, entry);
		w->src = NULL;
	}
	event_free(s->kick);
	oauth2_drop_token(s);
	xfree_secret(s->secret);
	free(s->error);
	config_oauth2_free(s->cfg);
	free(s);
}

struct oauth2_cache *
oauth2_cache_new(struct event_base *base, struct http_client *http)
{
	struct oauth2_cache *c;

	c = xcalloc(1, sizeof *c);
	c->base = base;
	c->http = http;
	return c;
}

void
oauth2_cache_free(struct oauth2_cache *c)
{
	struct oauth2_source *s;

	if (c == NULL)
		return;
	while ((s = c->sources) != NULL) {
		c->sources = s->next;
		oauth2_source_free(s);
	}
	free(c);
}

void
oauth2_cache_write_metrics(const struct oauth2_cache *c, struct buf *b)
{
	buf_printf(b, "# HELP promlet_oauth2_token_requests_total Token "
	    "requests to oauth2 token endpoints, by result.\n"
	    "# TYPE promlet_oauth2_token_requests_total counter\n"
	    "promlet_oauth2_token_requests_total{result=\"success\"} %llu\n"
	    "promlet_oauth2_token_requests_total{result=\"failure\"} %llu\n",
	    (unsigned long long)(c != NULL ? c->fetched : 0),
	    (unsigned long long)(c != NULL ? c->failed : 0));
}

struct oauth2_source *
oauth2_source_get(struct oauth2_cache *c, const struct config_oauth2 *oa)
{
	struct oauth2_source *s, **sp;
	int64_t now = loop_now_ms();

	for (sp = &c->sources; (s = *sp) != NULL;) {
		if (strcmp(s->cfg->key, oa->key) == 0)
			return s;
		/* Settings a reload dropped. */
		if (s->req == NULL && TAILQ_EMPTY(&s->waiters) &&
		    s->holds == 0 &&
		    now - s->used_at > OAUTH2_IDLE_MS) {
			*sp = s->next;
			oauth2_source_free(s);
			continue;
		}
		sp = &s->next;
	}
	s = xcalloc(1, sizeof *s);
	s->cache = c;
	s->cfg = config_oauth2_dup(oa);
	TAILQ_INIT(&s->waiters);
	s->kick = evtimer_new(c->base, oauth2_kick_cb, s);
	if (s->cfg->client_secret_file == NULL)
		s->secret = xstrdup(s->cfg->client_secret != NULL ?
		    s->cfg->client_secret : "");
	s->used_at = now;
	s->next = c->sources;
	c->sources = s;
	return s;
}

const char *
oauth2_header(struct oauth2_source *s, const struct config_oauth2 *oa,
    unsigned *gen)
{
	int64_t now = loop_now_ms();
	char *secret = NULL, *cause = NULL;

	s->used_at = now;
	/* As Prometheus: a secret file is read for every request. */
	if (oa->client_secret_file != NULL) {
		if (oauth2_read_secret(oa, &secret, &cause) != 0) {
			free(cause);
		} else if (s->secret == NULL || strcmp(secret, s->secret) != 0) {
			oauth2_drop_token(s);
			xfree_secret(s->secret);
			s->secret = secret;
			secret = NULL;
		}
		xfree_secret(secret);
	}
	if (s->header == NULL ||
	    (s->usable_until != 0 && now >= s->usable_until))
		return NULL;
	if (s->refresh_at != 0 && now >= s->refresh_at && s->req == NULL &&
	    now - s->failed_at >= OAUTH2_RETRY_MS &&
	    !evtimer_pending(s->kick, NULL))
		loop_timer_add_ms(s->kick, 0);
	*gen = s->gen;
	return s->header;
}

void
oauth2_rejected(struct oauth2_source *s, unsigned gen)
{
	char *url;

	if (gen != s->gen || s->header == NULL ||
	    loop_now_ms() - s->got_at < s->guard_ms)
		return;
	oauth2_drop_token(s);
	url = config_redact_url(s->cfg->token_url);
	log_info("receiver rejected the oauth2 token; fetching a new one",
	    "token_url=%s client_id=%s", url, s->cfg->client_id);
	free(url);
}

void
oauth2_hold(struct oauth2_source *s)
{
	s->holds++;
}

void
oauth2_release(struct oauth2_source *s)
{
	s->holds--;
}

void
oauth2_wait(struct oauth2_source *s, struct oauth2_waiter *w)
{
	s->used_at = loop_now_ms();
	w->src = s;
	w->round = s->round;
	TAILQ_INSERT_TAIL(&s->waiters, w, entry);
	if (s->req == NULL && !evtimer_pending(s->kick, NULL))
		loop_timer_add_ms(s->kick, 0);
}

void
oauth2_unwait(struct oauth2_waiter *w)
{
	if (w->src == NULL)
		return;
	TAILQ_REMOVE(&w->src->waiters, w, entry);
	w->src = NULL;
}
