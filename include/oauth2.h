/*
 * OAuth 2.0 client credentials tokens for the oauth2 setting of any HTTP
 * client config (scrape jobs, remote_write, http_sd, kubernetes_sd), got
 * the way Prometheus's HTTP client gets them (Go's clientcredentials):
 *
 *   POST {token_url}
 *   Content-Type: application/x-www-form-urlencoded
 *   Authorization: Basic base64(enc(client_id) ":" enc(secret))   (a)
 *
 *   grant_type=client_credentials[&scope=<scopes joined by " ">]
 *   [&<endpoint_params>][&client_id=..&client_secret=..]           (b)
 *
 *   <- 200 {"access_token":"..","token_type":"Bearer","expires_in":3600}
 *   or, with Content-Type application/x-www-form-urlencoded or text/plain
 *   (as Go reads it too):
 *   <- 200 access_token=..&token_type=bearer&expires_in=3600
 *
 * The client's credentials go as (a) first. If the endpoint answers that
 * with an error, the request is made once more as (b), and whichever
 * worked is kept for the next token (Go's AuthStyleAutoDetect). Requests
 * then carry "Authorization: <token_type> <access_token>".
 *
 * One source per distinct setting (config_oauth2.key) in an HTTP client:
 * jobs with equal settings share a token, and a reload that keeps the
 * setting keeps the token. The first request fetches a token and waits
 * for it; a token nearing its expiry is fetched again in the background
 * while the old one is still sent. A failed fetch fails the requests
 * waiting for it with the reason (a scrape's error, a send's retry);
 * another is not tried within a second. client_secret_file is read at
 * each request, as Prometheus does: a changed secret drops the token, and
 * so does a 401 for a request that carried it (oauth2_rejected).
 *
 * Secrets and tokens never reach a log line or an error; they are wiped
 * when freed.
 */
#ifndef PROMLET_OAUTH2_H
#define PROMLET_OAUTH2_H

#include <sys/queue.h>

struct buf;
struct event_base;
struct http_client;
struct config_oauth2;
struct oauth2_cache;
struct oauth2_source;

/* A request waiting for a token; owned by the caller. */
struct oauth2_waiter {
	/*
	 * From the loop, once: header is the Authorization line (valid
	 * during the call) and gen names its token, or header is NULL and
	 * error says why there is none.
	 */
	void			(*cb)(struct oauth2_waiter *,
				    const char *header, unsigned gen,
				    const char *error);
	struct oauth2_source	*src;	/* NULL when not waiting */
	unsigned		 round;	/* the source's, when it began */
	TAILQ_ENTRY(oauth2_waiter) entry;
};

struct oauth2_cache *oauth2_cache_new(struct event_base *,
		    struct http_client *);
/* Cancels token requests; waiters are dropped without a call. */
void		 oauth2_cache_free(struct oauth2_cache *);
/* The source for this setting, made on first use. */
struct oauth2_source *oauth2_source_get(struct oauth2_cache *,
		    const struct config_oauth2 *);
/*
 * The Authorization line while the source has a usable token, else NULL:
 * then oauth2_wait. The pointer is valid until the loop runs again; *gen
 * names the token, for oauth2_rejected.
 */
const char	*oauth2_header(struct oauth2_source *,
		    const struct config_oauth2 *, unsigned *gen);
/*
 * A request sent with token gen was answered 401: the token is dropped
 * (the next request fetches one) unless it is no longer the source's, or
 * too young for its age to be the reason (a minute, or a quarter of its
 * life if shorter), so a 401 for another reason costs at most one token
 * request a minute.
 */
void		 oauth2_rejected(struct oauth2_source *, unsigned gen);
/* A request in flight with the source's token keeps the source alive. */
void		 oauth2_hold(struct oauth2_source *);
void		 oauth2_release(struct oauth2_source *);
void		 oauth2_wait(struct oauth2_source *, struct oauth2_waiter *);
void		 oauth2_unwait(struct oauth2_waiter *);

/*
 * promlet_oauth2_token_requests_total{result}: fetches that got a token
 * (the second try of the credentials style included) or did not, over
 * every source; zeros for a NULL cache, so the family is always there.
 */
void		 oauth2_cache_write_metrics(const struct oauth2_cache *,
		    struct buf *);

/* ---- Pure parts ---- */

/* The token request's form; in_params adds client_id and client_secret. */
void		 oauth2_form(struct buf *, const struct config_oauth2 *,
		    const char *secret, int in_params);
/* "Authorization: Basic ..." for the client's id and secret. */
void		 oauth2_basic(struct buf *, const char *client_id,
		    const char *secret);

#endif
