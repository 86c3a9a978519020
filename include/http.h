/*
 * Asynchronous HTTP client: libcurl's multi interface driven by the
 * libevent loop (socket and timer callbacks, as curl's hiperfifo example).
 *
 * http_request_start() never calls the callback synchronously: completion
 * is always reported from the loop. The client owns each request from
 * start to callback; the response passed to the callback is valid only
 * during the call. DNS runs in curl's threaded resolver, so nothing here
 * blocks the loop.
 */
#ifndef PROMLET_HTTP_H
#define PROMLET_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct event_base;
struct http_client;
struct http_pool;
struct http_request;
struct config_http;

struct http_response {
	long		 status;	/* 0 when no response */
	int		 curl_code;	/* CURLE_*; 0 on transport success */
	const char	*error;		/* transport error text, or NULL */
	struct buf	*body;
	const char	*content_type;	/* may be NULL */
	const char	*retry_after;	/* raw header value, may be NULL */
	const char	*www_authenticate; /* raw header value, may be NULL */
	double		 total_seconds;
	int		 body_too_large;
};

/* Lets callers (azuread.c) test for the field at compile time. */
#define HTTP_RESPONSE_WWW_AUTHENTICATE 1

typedef void (*http_done_cb)(const struct http_response *, void *);

struct http_request_opts {
	const char		*method;	/* NULL = GET, or "POST" */
	const char		*url;
	const char * const	*headers;	/* "Name: value", NULL-terminated */
	const void		*body;		/* copied */
	size_t			 body_len;
	int64_t			 timeout_ms;
	uint64_t		 max_body;	/* 0 = unlimited */
	int			 accept_gzip;
	int			 no_proxy;	/* ignore *_proxy env (IMDS) */
	const struct config_http *http;	/* TLS, auth, proxy; may be NULL */
	/*
	 * Streaming (watches): when set, a 2xx body goes to on_data, with
	 * the callback's arg, as it arrives instead of into resp->body;
	 * other bodies are kept as usual. Returning -1 aborts the transfer
	 * (the done callback then sees an error). It runs inside curl, so
	 * it must not start or cancel requests.
	 */
	int			(*on_data)(const char *, size_t, void *);
	/* Keep the connection in this pool rather than the client's. */
	struct http_pool	*pool;
};

struct http_client *http_client_create(struct event_base *);
/* Aborts pending requests without calling their callbacks. */
void		 http_client_free(struct http_client *);
struct http_request *http_request_start(struct http_client *,
		    const struct http_request_opts *, http_done_cb, void *);
/* Cancel: the callback is not called. */
void		 http_request_cancel(struct http_request *);
size_t		 http_client_active(const struct http_client *);
/* The client's own metrics: its oauth2 token requests. */
void		 http_client_write_metrics(const struct http_client *,
		    struct buf *);

/*
 * A connection pool and DNS cache of its own, for one scrape target. Once
 * a second, on the next request, curl 7.88 walks its whole connection
 * cache and polls every idle connection for liveness, and on every
 * request it walks its whole DNS cache to prune it; with one shared cache
 * both were walks over every target (a fifth of promlet's CPU at 1,000
 * targets). A pool per target makes them one entry long.
 * Free it only after the target's request is done or cancelled.
 */
struct http_pool *http_pool_new(void);
/*
 * 0 sends every request through curl (--scrape.http-client=curl); else
 * scrapes of plain-HTTP targets by IP address use http.c's own HTTP/1.1
 * client.
 */
extern int	 http_native_enabled;
void		 http_pool_free(struct http_pool *);

#endif
