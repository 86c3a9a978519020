/* HTTP endpoints for operators and Prometheus scraping promlet itself. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "web.h"
#include "xmalloc.h"

struct web {
	struct evhttp		*http;
	struct web_handlers	 h;
	char			*prefix;
};

static void
web_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const struct buf *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	if (body != NULL && body->len != 0)
		evbuffer_add(out, body->data, body->len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
web_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, text);
	web_reply(req, code, reason, "text/plain; charset=utf-8", &b);
	buf_free(&b);
}

/* /-/reload and /-/quit: enabled, and asked with POST or PUT; else the
 * refusal is answered here, with Prometheus's words. */
static int
web_lifecycle_ok(struct web *w, struct evhttp_request *req,
    enum evhttp_cmd_type cmd)
{
	if (!w->h.lifecycle) {
		web_text(req, 403, "Forbidden", "Lifecycle API is not enabled "
		    "(--web.enable-lifecycle).\n");
		return 0;
	}
	if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_PUT) {
		web_text(req, 405, "Method Not Allowed",
		    "Only POST or PUT requests allowed\n");
		return 0;
	}
	return 1;
}

static void
web_request_cb(struct evhttp_request *req, void *arg)
{
	struct web *w = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct buf b = BUF_INIT;
	char path[256], *cause = NULL;
	size_t n, plen;

	n = strcspn(uri, "?");
	if (n >= sizeof path)
		n = sizeof path - 1;
	memcpy(path, uri, n);
	path[n] = '\0';
	/* Under a route prefix only: /p/metrics is /metrics, /metrics is
	 * not found, as in Prometheus. */
	plen = strlen(w->prefix);
	if (plen > 0) {
		if (strncmp(path, w->prefix, plen) != 0 ||
		    (path[plen] != '/' && path[plen] != '\0'))
			path[0] = '\0';
		else if (path[plen] == '\0')
			memcpy(path, "/", 2);
		else
			memmove(path, path + plen, strlen(path + plen) + 1);
	}

	if (strcmp(path, "/metrics") == 0) {
		w->h.metrics(&b, w->h.arg);
		web_reply(req, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", &b);
	} else if (strcmp(path, "/-/healthy") == 0) {
		web_text(req, 200, "OK", "promlet is Healthy.\n");
	} else if (strcmp(path, "/-/ready") == 0) {
		if (w->h.ready(w->h.arg))
			web_text(req, 200, "OK", "promlet is Ready.\n");
		else
			web_text(req, 503, "Service Unavailable",
			    "Service Unavailable\n");
	} else if (strcmp(path, "/-/reload") == 0) {
		if (!web_lifecycle_ok(w, req, cmd)) {
			/* answered */
		} else if (w->h.reload(&cause, w->h.arg) == -1) {
			buf_printf(&b, "failed to reload config: %s\n", cause);
			web_reply(req, 500, "Internal Server Error",
			    "text/plain; charset=utf-8", &b);
			free(cause);
		} else
			web_text(req, 200, "OK", "");
	} else if (strcmp(path, "/-/quit") == 0) {
		if (web_lifecycle_ok(w, req, cmd)) {
			web_text(req, 200, "OK",
			    "Requesting termination... Goodbye!\n");
			w->h.quit(w->h.arg);
		}
	} else if (strcmp(path, "/api/v1/status/config") == 0) {
		struct buf yaml = BUF_INIT;
		size_t i;

		w->h.config(&yaml, w->h.arg);
		buf_puts(&b, "{\"status\":\"success\",\"data\":{\"yaml\":\"");
		for (i = 0; i < yaml.len; i++) {
			unsigned char c = (unsigned char)yaml.data[i];
			if (c == '"' || c == '\\')
				buf_putc(&b, '\\'), buf_putc(&b, (char)c);
			else if (c == '\n')
				buf_puts(&b, "\\n");
			else if (c < 0x20)
				buf_printf(&b, "\\u%04x", c);
			else
				buf_putc(&b, (char)c);
		}
		buf_puts(&b, "\"}}");
		buf_free(&yaml);
		web_reply(req, 200, "OK", "application/json", &b);
	} else if (strcmp(path, "/api/v1/targets") == 0) {
		w->h.targets(&b, w->h.arg);
		web_reply(req, 200, "OK", "application/json", &b);
	} else if (strcmp(path, "/") == 0) {
		web_text(req, 200, "OK", "promlet: see /metrics, /-/healthy, "
		    "/-/ready, /api/v1/targets, /api/v1/status/config\n");
	} else
		web_text(req, 404, "Not Found", "404 page not found\n");
	buf_free(&b);
}

struct web *
web_create(struct event_base *base, const char *listen,
    const struct web_handlers *h, char **cause)
{
	struct web *w;
	char *host, *colon;
	long port;

	w = xcalloc(1, sizeof *w);
	w->h = *h;
	w->prefix = xstrdup(h->route_prefix != NULL ? h->route_prefix : "");
	w->h.route_prefix = w->prefix;
	host = xstrdup(listen);
	if ((colon = strrchr(host, ':')) == NULL) {
		xasprintf(cause, "--web.listen-address: \"%s\" is not "
		    "host:port", listen);
		goto fail;
	}
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535) {
		xasprintf(cause, "--web.listen-address: bad port in \"%s\"",
		    listen);
		goto fail;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	w->http = evhttp_new(base);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(w->http, 64 * 1024);
	evhttp_set_max_headers_size(w->http, 64 * 1024);
	evhttp_set_timeout(w->http, 30);
	evhttp_set_gencb(w->http, web_request_cb, w);
	if (evhttp_bind_socket(w->http, host[0] == '\0' ? "0.0.0.0" : host,
	    (unsigned short)port) != 0) {
		xasprintf(cause, "cannot listen on %s (address in use or not "
		    "local)", listen);
		goto fail;
	}
	free(host);
	return w;
fail:
	free(host);
	web_free(w);
	return NULL;
}

void
web_free(struct web *w)
{
	if (w == NULL)
		return;
	if (w->http != NULL)
		evhttp_free(w->http);
	free(w->prefix);
	free(w);
}
