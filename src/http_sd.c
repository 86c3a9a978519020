/*
 * HTTP-based service discovery. One timer per http_sd_configs entry; the
 * request goes through the shared asynchronous client, so the loop never
 * waits on the endpoint, and a refresh is not started while the previous
 * one is still in flight.
 */
#include <ctype.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "file_sd.h"
#include "http.h"
#include "http_sd.h"
#include "log.h"
#include "loop.h"
#include "scrape.h"
#include "xmalloc.h"

/* Far above any real list of targets, short of letting a bad endpoint
 * make promlet hold gigabytes. */
#define HTTP_SD_MAX_BODY	(64ULL * 1024 * 1024)

struct http_sd_src {
	struct http_sd			*sd;
	const struct config_http_sd	*cfg;
	struct event			*timer;
	struct http_request		*req;
	/* "http_sd/<index>" */
	char				*source;
	/* For logs and __meta_url: the password as <secret>. */
	char				*url;
	/* X-Prometheus-Refresh-Interval-Seconds. */
	char				 interval[32];
	int				 failing;
};

struct http_sd {
	struct http_client	*http;
	struct scrape_manager	*sm;
	const char		*job;
	struct http_sd_src	*src;
	size_t			 nsrc;
};

/* Counted across reloads, which rebuild every discovery. */
static uint64_t http_sd_failures;

int
http_sd_content_type_ok(const char *ct)
{
	static const char type[] = "application/json";
	size_t n;

	if (ct == NULL)
		return 0;
	while (isspace((unsigned char)*ct))
		ct++;
	n = strlen(ct);
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	if (n < sizeof type - 1 || strncasecmp(ct, type, sizeof type - 1) != 0)
		return 0;
	ct += sizeof type - 1;
	n -= sizeof type - 1;
	if (n == 0)
		return 1;
	if (*ct != ';')
		return 0;
	for (ct++, n--; n > 0 && isspace((unsigned char)*ct); ct++, n--)
		;
	return (n == 13 && strncasecmp(ct, "charset=utf-8", 13) == 0) ||
	    (n == 15 && strncasecmp(ct, "charset=\"utf-8\"", 15) == 0);
}

/* Seconds as Go's FormatFloat(s, 'f', -1) prints them: "60", "0.25". */
static void
http_sd_seconds(char *out, size_t len, int64_t ms)
{
	int n;

	n = snprintf(out, len, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

/* Why a response cannot be used, or NULL with the groups in *g, *n. */
static char *
http_sd_read(const struct http_response *resp, struct target_group **g,
    size_t *n)
{
	char *cause = NULL;

	if (resp->curl_code != 0 || resp->error != NULL)
		xasprintf(&cause, "%s", resp->error != NULL ? resp->error :
		    "request failed");
	else if (resp->body_too_large)
		xasprintf(&cause, "response larger than %llu bytes",
		    (unsigned long long)HTTP_SD_MAX_BODY);
	else if (resp->status != 200)
		xasprintf(&cause, "server returned HTTP status %ld",
		    resp->status);
	else if (!http_sd_content_type_ok(resp->content_type))
		xasprintf(&cause, "unsupported content type \"%s\"",
		    resp->content_type != NULL ? resp->content_type : "");
	else if (resp->body == NULL || resp->body->len == 0)
		xasprintf(&cause, "empty response");
	else if (file_sd_parse_json("response", resp->body->data,
	    resp->body->len, g, n, &cause) == 0)
		return NULL;
	return cause;
}

static void
http_sd_done_cb(const struct http_response *resp, void *arg)
{
	struct http_sd_src *s = arg;
	struct http_sd *sd = s->sd;
	struct target_group *g = NULL;
	char *cause;
	size_t n = 0;

	s->req = NULL;
	if ((cause = http_sd_read(resp, &g, &n)) != NULL) {
		http_sd_failures++;
		s->failing = 1;
		log_warn("http_sd: refresh failed, keeping the previous "
		    "targets", "job=%s url=%s err=%s", sd->job, s->url, cause);
		free(cause);
		return;
	}
	file_sd_groups_label(g, n, "__meta_url", s->url);
	scrape_manager_set_targets(sd->sm, sd->job, s->source, g, n);
	file_sd_groups_free(g, n);
	if (s->failing)
		log_info("http_sd: refresh recovered", "job=%s url=%s "
		    "groups=%zu", sd->job, s->url, n);
	else
		log_debug("http_sd: refreshed", "job=%s url=%s groups=%zu",
		    sd->job, s->url, n);
	s->failing = 0;
}

static void
http_sd_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sd_src *s = arg;
	struct http_request_opts o;
	char hdr[80];
	const char *headers[] = { "Accept: application/json", hdr, NULL };

	(void)fd;
	(void)what;
	loop_timer_add_ms(s->timer, s->cfg->refresh_interval_ms);
	if (s->req != NULL)
		return;
	snprintf(hdr, sizeof hdr, "X-Prometheus-Refresh-Interval-Seconds: %s",
	    s->interval);
	memset(&o, 0, sizeof o);
	o.url = s->cfg->url;
	o.headers = headers;
	o.timeout_ms = s->cfg->refresh_interval_ms;
	o.max_body = HTTP_SD_MAX_BODY;
	o.accept_gzip = 1;
	o.http = &s->cfg->http;
	s->req = http_request_start(s->sd->http, &o, http_sd_done_cb, s);
}

struct http_sd *
http_sd_create(struct event_base *base, struct http_client *http,
    struct scrape_manager *sm, const char *job,
    const struct config_http_sd *cfg, size_t n)
{
	struct http_sd_src *s;
	struct http_sd *sd;
	size_t i;

	sd = xcalloc(1, sizeof *sd);
	sd->http = http;
	sd->sm = sm;
	sd->job = job;
	sd->src = xcalloc(n + 1, sizeof *sd->src);
	for (i = 0; i < n; i++) {
		s = &sd->src[sd->nsrc++];
		s->sd = sd;
		s->cfg = &cfg[i];
		xasprintf(&s->source, "http_sd/%zu", i);
		s->url = config_redact_url(cfg[i].url);
		http_sd_seconds(s->interval, sizeof s->interval,
		    cfg[i].refresh_interval_ms);
		s->timer = evtimer_new(base, http_sd_timer_cb, s);
		loop_timer_add_ms(s->timer, 0);
	}
	return sd;
}

void
http_sd_free(struct http_sd *sd)
{
	struct http_sd_src *s;
	size_t i;

	if (sd == NULL)
		return;
	for (i = 0; i < sd->nsrc; i++) {
		s = &sd->src[i];
		if (s->req != NULL)
			http_request_cancel(s->req);
		event_free(s->timer);
		free(s->source);
		free(s->url);
	}
	free(sd->src);
	free(sd);
}

void
http_sd_write_metrics(struct buf *b)
{
	buf_printf(b, "# HELP promlet_sd_http_failures_total Failed "
	    "http_sd_configs refreshes.\n"
	    "# TYPE promlet_sd_http_failures_total counter\n"
	    "promlet_sd_http_failures_total %" PRIu64 "\n", http_sd_failures);
}
