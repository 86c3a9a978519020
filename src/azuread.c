/*
 * Azure AD token source for one remote_write endpoint, on the event loop.
 *
 * States: no token -> fetching -> valid (refresh timer armed) -> fetching
 * again at the refresh time while the old token is still sent -> valid.
 * A failed fetch arms the same timer with a backoff instead; the old token
 * stays in use until azuread_usable_until() says it is too close to its
 * expiry. At most one request is in flight; the ready callback fires from
 * a deferred event after every new token.
 */
#include <sys/stat.h>

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "azuread.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define AZUREAD_TIMEOUT_MS	20000
#define AZUREAD_MAX_BODY	(64 * 1024)
#define AZUREAD_SECRET_MAX	(64 * 1024)
#define AZUREAD_PEM_MAX		(256 * 1024)
/* A 401 for a token this young is not the token's fault. */
#define AZUREAD_INVALIDATE_GUARD_MS	2000
#define AZUREAD_FORBIDDEN_LOG_MS	60000
#define AZUREAD_HIMDS_PATH	"/opt/azcmagent/bin/himds"
#define AZUREAD_WORKLOAD_TOKEN \
	"/var/run/secrets/azure/tokens/azure-identity-token"

enum azuread_source {
	AZUREAD_SOURCE_IMDS,
	AZUREAD_SOURCE_ARC,
	AZUREAD_SOURCE_SECRET,
	AZUREAD_SOURCE_CERTIFICATE,
	AZUREAD_SOURCE_WORKLOAD,
};

static const char *azuread_source_names[] = {
	"imds", "arc", "client_secret", "certificate", "workload_identity"
};

struct azuread {
	struct event_base	*base;
	struct http_client	*http;
	char			*name;
	enum azuread_source	 source;
	char			*url;		/* MI URL, or the token URL */
	char			*scope;		/* v2 scope, or MI resource */
	char			*client_id;
	char			*client_secret;	/* secret */
	char			*secret_file;
	char			*cert_file;
	char			*key_file;	/* NULL: key in cert_file */
	int			 x5c;
	char			*token_file;
	char			*arc_dir;
	int			 warned_mode;

	struct http_request	*req;
	int			 arc_answer;	/* request carries the key */
	char			*req_secret;	/* what the request carries */
	struct event		*timer;
	int			 backing_off;
	unsigned		 failures;

	struct event		*ready_ev;
	void			(*ready_cb)(void *);
	void			*ready_arg;

	char			*authorization;	/* "Bearer <token>", secret */
	int64_t			 acquired_ms;
	int64_t			 expires_ms;
	int64_t			 usable_ms;
	int64_t			 refresh_ms;

	uint64_t		 n_success;
	uint64_t		 n_failure;
	uint64_t		 n_forbidden;
	uint64_t		 n_invalidated;
	char			*last_error;
	int64_t			 last_error_ms;
	int64_t			 forbidden_logged_ms;
};

static void	azuread_fetch(struct azuread *);
static void	azuread_done_cb(const struct http_response *, void *);

static int
azuread_managed(const struct azuread *az)
{
	return az->source == AZUREAD_SOURCE_IMDS ||
	    az->source == AZUREAD_SOURCE_ARC;
}

static void
azuread_drop_token(struct azuread *az)
{
	xfree_secret(az->authorization);
	az->authorization = NULL;
	az->expires_ms = az->usable_ms = az->refresh_ms = 0;
}

static void
azuread_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct azuread *az = arg;

	az->backing_off = 0;
	if (az->req == NULL)
		azuread_fetch(az);
}

static void
azuread_ready_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct azuread *az = arg;

	if (az->ready_cb != NULL && az->authorization != NULL)
		az->ready_cb(az->ready_arg);
}

/* Integer seconds only: IMDS and Entra send no HTTP dates here. */
static int64_t
azuread_retry_after_ms(const char *s)
{
	long long v = 0;

	if (s == NULL)
		return 0;
	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9' && v < 100000; s++)
		v = v * 10 + (*s - '0');
	return v * 1000;
}

static void
azuread_fail(struct azuread *az, long status, int64_t retry_after_ms,
    const char *msg)
{
	char *clean, *tmp;
	int64_t delay, now = loop_now_ms();

	clean = azuread_scrub(msg, az->req_secret);
	tmp = azuread_scrub(clean, az->client_secret);
	free(clean);
	clean = tmp;
	az->failures++;
	az->n_failure++;
	free(az->last_error);
	az->last_error = clean;
	az->last_error_ms = now;
	delay = azuread_retry_ms(az->failures, status, azuread_managed(az),
	    retry_after_ms);
	log_warn("azure AD token request failed", "remote_name=%s source=%s "
	    "err=%s attempt=%u retry_in_ms=%lld token_valid=%s", az->name,
	    azuread_source_names[az->source], clean, az->failures,
	    (long long)delay, az->authorization != NULL &&
	    now < az->usable_ms ? "yes" : "no");
	az->backing_off = 1;
	loop_timer_add_ms(az->timer, delay);
}

static void
azuread_succeed(struct azuread *az, struct azuread_token *t, int64_t now)
{
	int first = az->n_success == 0;

	azuread_drop_token(az);
	xasprintf(&az->authorization, "Bearer %s", t->access_token);
	az->acquired_ms = now;
	az->expires_ms = t->expires_ms;
	az->usable_ms = azuread_usable_until(now, t->expires_ms);
	az->refresh_ms = azuread_refresh_at(now, t->expires_ms,
	    t->refresh_ms);
	az->failures = 0;
	az->backing_off = 0;
	az->n_success++;
	if (first || log_enabled(LOG_DEBUG)) {
		log_msg(first ? LOG_INFO : LOG_DEBUG, "azure AD token acquired",
		    "remote_name=%s source=%s expires_in_s=%lld "
		    "refresh_in_s=%lld", az->name,
		    azuread_source_names[az->source],
		    (long long)((t->expires_ms - now) / 1000),
		    (long long)((az->refresh_ms - now) / 1000));
	}
	loop_timer_add_ms(az->timer, az->refresh_ms - now);
	event_active(az->ready_ev, 0, 0);
}

static const char *
azuread_challenge(const struct http_response *resp)
{
#ifdef HTTP_RESPONSE_WWW_AUTHENTICATE
	return resp->www_authenticate;
#else
	return NULL;
#endif
}

/* The Arc agent challenged us: answer with the key file it named. */
static void
azuread_arc_challenged(struct azuread *az, const struct http_response *resp)
{
	struct http_request_opts o;
	const char *hdrs[3], *challenge;
	char *path, *key, *hdr, *cause = NULL;

#ifndef HTTP_RESPONSE_WWW_AUTHENTICATE
	azuread_fail(az, 401, 0, "Azure Arc needs the WWW-Authenticate "
	    "header, which this build's HTTP client does not expose");
	return;
#endif
	challenge = azuread_challenge(resp);
	if (azuread_arc_key_path(challenge, az->arc_dir, &path, &cause) != 0 ||
	    azuread_arc_read_key(path, &key, &cause) != 0) {
		if (cause != NULL && strstr(cause, "himds group") != NULL)
			log_error("cannot read the Azure Arc key file",
			    "remote_name=%s err=%s", az->name, cause);
		azuread_fail(az, 401, 0, cause);
		free(cause);
		free(path);
		return;
	}
	free(path);
	xasprintf(&hdr, "Authorization: Basic %s", key);
	hdrs[0] = "Metadata: true";
	hdrs[1] = hdr;
	hdrs[2] = NULL;
	memset(&o, 0, sizeof o);
	o.url = az->url;
	o.headers = hdrs;
	o.timeout_ms = AZUREAD_TIMEOUT_MS;
	o.max_body = AZUREAD_MAX_BODY;
	o.no_proxy = 1;
	az->arc_answer = 1;
	az->req_secret = key;
	az->req = http_request_start(az->http, &o, azuread_done_cb, az);
	xfree_secret(hdr);
}

static void
azuread_done_cb(const struct http_response *resp, void *arg)
{
	struct azuread *az = arg;
	struct azuread_token t;
	char *cause = NULL, *msg;
	const char *body = resp->body != NULL ? resp->body->data : NULL;
	size_t len = resp->body != NULL ? resp->body->len : 0;
	int64_t now = loop_now_ms();
	int answered = az->arc_answer;

	az->req = NULL;
	az->arc_answer = 0;
	if (resp->status == 200 && body != NULL) {
		if (azuread_token_parse(body, len, now, &t, &cause) != 0) {
			azuread_fail(az, 502, 0, cause);
			free(cause);
		} else if (az->source == AZUREAD_SOURCE_ARC &&
		    az->client_id != NULL && (t.client_id == NULL ||
		    strcasecmp(t.client_id, az->client_id) != 0)) {
			/* Old agents ignore client_id and hand out the
			 * machine's own identity: refuse it. */
			azuread_fail(az, 400, 0, "the Azure Arc agent did not "
			    "confirm the requested client_id; omit client_id "
			    "to use the machine's system-assigned identity");
			azuread_token_clear(&t);
		} else {
			azuread_succeed(az, &t, now);
			azuread_token_clear(&t);
		}
	} else if (az->source == AZUREAD_SOURCE_ARC && !answered &&
	    resp->status == 401) {
		xfree_secret(az->req_secret);
		az->req_secret = NULL;
		azuread_arc_challenged(az, resp);
		return;
	} else if (resp->status == 0) {
		xasprintf(&msg, "no response: %s",
		    resp->error != NULL ? resp->error : "unknown error");
		azuread_fail(az, 0, 0, msg);
		free(msg);
	} else {
		msg = azuread_error_summary(resp->status, body, len);
		azuread_fail(az, resp->status,
		    azuread_retry_after_ms(resp->retry_after), msg);
		free(msg);
	}
	xfree_secret(az->req_secret);
	az->req_secret = NULL;
}

/* Read a secret file, warning once when everyone may read it. */
static char *
azuread_read(struct azuread *az, const char *path, size_t max, int strip,
    size_t *len, char **cause)
{
	char *data;
	int world = 0;

	if (azuread_read_secret_file(path, max, strip, &data, len, &world,
	    cause) != 0)
		return NULL;
	if (world && !az->warned_mode) {
		log_warn("secret file is readable by all users",
		    "remote_name=%s file=%s hint=%s", az->name, path,
		    "chmod o-r the file");
		az->warned_mode = 1;
	}
	return data;
}

/* The certificate and its key, from one PEM file or two. */
static struct azuread_cert *
azuread_load_cert(struct azuread *az, char **cause)
{
	struct azuread_cert *cert;
	struct buf pem = BUF_INIT;
	const char *bad = az->cert_file;
	char *data, *err = NULL;
	size_t len;

	if ((data = azuread_read(az, az->cert_file, AZUREAD_PEM_MAX, 0,
	    &len, cause)) == NULL)
		return NULL;
	buf_append(&pem, data, len);
	explicit_bzero(data, len);
	free(data);
	if (az->key_file != NULL) {
		if ((data = azuread_read(az, az->key_file, AZUREAD_PEM_MAX, 0,
		    &len, cause)) == NULL) {
			explicit_bzero(pem.data, pem.len);
			buf_free(&pem);
			return NULL;
		}
		buf_putc(&pem, '\n');
		buf_append(&pem, data, len);
		explicit_bzero(data, len);
		free(data);
		bad = az->key_file;
	}
	cert = azuread_cert_load(pem.data, pem.len, &err);
	explicit_bzero(pem.data, pem.len);
	buf_free(&pem);
	if (cert == NULL) {
		if (strstr(err, "certificate") != NULL)
			bad = az->cert_file;
		xasprintf(cause, "%s: %s", bad, err);
		free(err);
	}
	return cert;
}

/* The client_credentials body, built fresh for every request. */
static int
azuread_build_form(struct azuread *az, struct buf *body, char **cause)
{
	struct azuread_cert *cert;
	char *data, *assertion;
	size_t len;

	switch (az->source) {
	case AZUREAD_SOURCE_SECRET:
		if (az->secret_file != NULL) {
			data = azuread_read(az, az->secret_file,
			    AZUREAD_SECRET_MAX, 1, &len, cause);
			if (data == NULL)
				return -1;
			if (len == 0) {
				xasprintf(cause, "%s: empty", az->secret_file);
				xfree_secret(data);
				return -1;
			}
		} else
			data = xstrdup(az->client_secret);
		azuread_form(body, az->client_id, az->scope, data, NULL);
		az->req_secret = data;
		return 0;
	case AZUREAD_SOURCE_CERTIFICATE:
		/* Re-read: a renewed certificate takes effect at once. */
		if ((cert = azuread_load_cert(az, cause)) == NULL)
			return -1;
		assertion = azuread_jwt_assertion(cert, az->client_id, az->url,
		    loop_now_ms() / 1000, az->x5c, cause);
		azuread_cert_free(cert);
		if (assertion == NULL)
			return -1;
		azuread_form(body, az->client_id, az->scope, NULL, assertion);
		az->req_secret = assertion;
		return 0;
	case AZUREAD_SOURCE_WORKLOAD:
		/* Kubernetes rotates it: never reuse an old copy. */
		data = azuread_read(az, az->token_file, AZUREAD_SECRET_MAX, 1,
		    &len, cause);
		if (data == NULL)
			return -1;
		if (len == 0) {
			xasprintf(cause, "%s: empty", az->token_file);
			xfree_secret(data);
			return -1;
		}
		azuread_form(body, az->client_id, az->scope, NULL, data);
		az->req_secret = data;
		return 0;
	default:
		break;
	}
	*cause = xstrdup("internal error: not a client credential");
	return -1;
}

static void
azuread_fetch(struct azuread *az)
{
	struct http_request_opts o;
	struct buf body = BUF_INIT;
	const char *hdrs[2];
	char *cause = NULL;

	memset(&o, 0, sizeof o);
	o.url = az->url;
	o.timeout_ms = AZUREAD_TIMEOUT_MS;
	o.max_body = AZUREAD_MAX_BODY;
	az->arc_answer = 0;
	if (azuread_managed(az)) {
		/* IMDS refuses proxied requests; HIMDS is local. */
		hdrs[0] = "Metadata: true";
		hdrs[1] = NULL;
		o.headers = hdrs;
		o.no_proxy = 1;
	} else {
		if (azuread_build_form(az, &body, &cause) != 0) {
			azuread_fail(az, 400, 0, cause);
			free(cause);
			return;
		}
		hdrs[0] = "Content-Type: application/x-www-form-urlencoded";
		hdrs[1] = NULL;
		o.headers = hdrs;
		o.method = "POST";
		o.body = body.data;
		o.body_len = body.len;
	}
	log_debug("azure AD token request", "remote_name=%s source=%s",
	    az->name, azuread_source_names[az->source]);
	az->req = http_request_start(az->http, &o, azuread_done_cb, az);
	if (body.data != NULL)
		explicit_bzero(body.data, body.len);
	buf_free(&body);
}

static const char *
azuread_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Pick the managed identity endpoint the way the Azure SDKs do. */
static void
azuread_setup_managed(struct azuread *az, const char *client_id)
{
	const char *ie = azuread_env("IDENTITY_ENDPOINT");
	const char *dir;

	dir = azuread_env("PROMLET_AZURE_ARC_TOKEN_DIR");
	az->arc_dir = xstrdup(dir != NULL ? dir : AZUREAD_ARC_TOKEN_DIR);
	if (ie != NULL && azuread_env("IMDS_ENDPOINT") != NULL &&
	    azuread_env("IDENTITY_HEADER") == NULL) {
		az->source = AZUREAD_SOURCE_ARC;
		az->url = azuread_arc_url(ie, az->scope, client_id);
	} else if (ie == NULL && access(AZUREAD_HIMDS_PATH, F_OK) == 0) {
		/* Services often lack the agent's environment. */
		az->source = AZUREAD_SOURCE_ARC;
		az->url = azuread_arc_url(NULL, az->scope, client_id);
	} else {
		az->source = AZUREAD_SOURCE_IMDS;
		az->url = azuread_imds_url(
		    azuread_env("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
		    az->scope, client_id);
	}
}

struct azuread *
azuread_create(struct event_base *base, struct http_client *http,
    const struct config_azuread *cfg, const char *endpoint_name,
    char **cause)
{
	const struct azuread_cloud *cloud;
	struct azuread_cert *cert;
	struct azuread *az;
	const char *tenant = NULL, *client_id, *host;
	char *authority, *data, *err = NULL;
	size_t len;

	*cause = NULL;
	if ((cloud = azuread_cloud_find(cfg->cloud)) == NULL) {
		xasprintf(cause, "azuread: unknown cloud \"%s\" (AzurePublic, "
		    "AzureChina or AzureGovernment)", cfg->cloud);
		return NULL;
	}
	az = xcalloc(1, sizeof *az);
	az->base = base;
	az->http = http;
	az->name = xstrdup(endpoint_name != NULL ? endpoint_name : "");
	client_id = cfg->client_id != NULL && *cfg->client_id != '\0' ?
	    cfg->client_id : NULL;
	switch (cfg->method) {
	case AZUREAD_MANAGED_IDENTITY:
		az->scope = azuread_scope_resource(cfg->scope != NULL ?
		    cfg->scope : cloud->scope);
		if (client_id != NULL)
			az->client_id = xstrdup(client_id);
		azuread_setup_managed(az, client_id);
		break;
	case AZUREAD_OAUTH:
		az->source = AZUREAD_SOURCE_SECRET;
		tenant = cfg->tenant_id;
		if (cfg->client_secret_file != NULL) {
			az->secret_file = xstrdup(cfg->client_secret_file);
			data = azuread_read(az, az->secret_file,
			    AZUREAD_SECRET_MAX, 1, &len, &err);
			if (data == NULL)
				goto fail;
			xfree_secret(data);
		} else if (cfg->client_secret != NULL &&
		    *cfg->client_secret != '\0')
			az->client_secret = xstrdup(cfg->client_secret);
		else {
			err = xstrdup("oauth needs client_secret or "
			    "client_secret_file");
			goto fail;
		}
		break;
	case AZUREAD_CERTIFICATE:
		az->source = AZUREAD_SOURCE_CERTIFICATE;
		tenant = cfg->tenant_id;
		if (cfg->certificate_file == NULL) {
			err = xstrdup("certificate needs certificate_path");
			goto fail;
		}
		az->cert_file = xstrdup(cfg->certificate_file);
		if (cfg->certificate_key_file != NULL &&
		    *cfg->certificate_key_file != '\0')
			az->key_file = xstrdup(cfg->certificate_key_file);
		az->x5c = cfg->send_certificate_chain;
		if ((cert = azuread_load_cert(az, &err)) == NULL)
			goto fail;
		azuread_cert_free(cert);
		break;
	case AZUREAD_WORKLOAD_IDENTITY:
		az->source = AZUREAD_SOURCE_WORKLOAD;
		if (client_id == NULL)
			client_id = azuread_env("AZURE_CLIENT_ID");
		tenant = cfg->tenant_id != NULL && *cfg->tenant_id != '\0' ?
		    cfg->tenant_id : azuread_env("AZURE_TENANT_ID");
		if (cfg->token_file_path != NULL && *cfg->token_file_path)
			az->token_file = xstrdup(cfg->token_file_path);
		else if (azuread_env("AZURE_FEDERATED_TOKEN_FILE") != NULL)
			az->token_file = xstrdup(
			    azuread_env("AZURE_FEDERATED_TOKEN_FILE"));
		else
			az->token_file = xstrdup(AZUREAD_WORKLOAD_TOKEN);
		if (access(az->token_file, R_OK) != 0) {
			log_warn("federated token file not readable yet",
			    "remote_name=%s file=%s err=%s", az->name,
			    az->token_file, strerror(errno));
		}
		break;
	default:
		err = xstrdup("no method (managed_identity, oauth, "
		    "certificate or workload_identity)");
		goto fail;
	}
	if (!azuread_managed(az)) {
		if (client_id == NULL) {
			err = xstrdup(az->source == AZUREAD_SOURCE_WORKLOAD ?
			    "workload_identity needs client_id (or "
			    "AZURE_CLIENT_ID)" : "client_id is missing");
			goto fail;
		}
		if (tenant == NULL || *tenant == '\0') {
			err = xstrdup(az->source == AZUREAD_SOURCE_WORKLOAD ?
			    "workload_identity needs tenant_id (or "
			    "AZURE_TENANT_ID)" : "tenant_id is missing");
			goto fail;
		}
		az->client_id = xstrdup(client_id);
		az->scope = xstrdup(cfg->scope != NULL ? cfg->scope :
		    cloud->scope);
		host = azuread_env("AZURE_AUTHORITY_HOST");
		authority = azuread_authority_url(host != NULL ? host :
		    cloud->authority);
		az->url = azuread_token_url(authority, tenant);
		free(authority);
	}
	az->timer = evtimer_new(base, azuread_timer_cb, az);
	az->ready_ev = event_new(base, -1, 0, azuread_ready_ev_cb, az);
	log_info("azure AD authentication enabled", "remote_name=%s source=%s "
	    "cloud=%s client_id=%s", az->name,
	    azuread_source_names[az->source], cloud->name,
	    az->client_id != NULL ? az->client_id : "system-assigned");
	loop_timer_add_ms(az->timer, 0);
	return az;

fail:
	xasprintf(cause, "azuread: %s", err);
	free(err);
	azuread_free(az);
	return NULL;
}

void
azuread_free(struct azuread *az)
{
	if (az == NULL)
		return;
	if (az->req != NULL)
		http_request_cancel(az->req);
	if (az->timer != NULL)
		event_free(az->timer);
	if (az->ready_ev != NULL)
		event_free(az->ready_ev);
	azuread_drop_token(az);
	xfree_secret(az->req_secret);
	xfree_secret(az->client_secret);
	free(az->name);
	free(az->url);
	free(az->scope);
	free(az->client_id);
	free(az->secret_file);
	free(az->cert_file);
	free(az->key_file);
	free(az->token_file);
	free(az->arc_dir);
	free(az->last_error);
	free(az);
}

const char *
azuread_authorization(struct azuread *az)
{
	int64_t now = loop_now_ms();

	if (az->authorization != NULL) {
		if (now < az->usable_ms)
			return az->authorization;
		log_debug("azure AD token too close to expiry",
		    "remote_name=%s", az->name);
		azuread_drop_token(az);
	}
	/* Unless a failure asked us to wait, fetch now (also covers a
	 * wall clock that jumped past the refresh time). */
	if (az->req == NULL && !az->backing_off)
		loop_timer_add_ms(az->timer, 0);
	return NULL;
}

void
azuread_invalidate(struct azuread *az)
{
	int64_t now = loop_now_ms();

	if (az->authorization == NULL)
		return;
	if (now - az->acquired_ms < AZUREAD_INVALIDATE_GUARD_MS) {
		log_debug("receiver rejected a fresh azure AD token, kept",
		    "remote_name=%s", az->name);
		return;
	}
	az->n_invalidated++;
	log_info("receiver rejected the azure AD token; fetching a new one",
	    "remote_name=%s source=%s", az->name,
	    azuread_source_names[az->source]);
	azuread_drop_token(az);
	if (az->req == NULL && !az->backing_off)
		loop_timer_add_ms(az->timer, 0);
}

void
azuread_forbidden(struct azuread *az)
{
	int64_t now = loop_now_ms();

	az->n_forbidden++;
	if (az->forbidden_logged_ms != 0 &&
	    now - az->forbidden_logged_ms < AZUREAD_FORBIDDEN_LOG_MS)
		return;
	az->forbidden_logged_ms = now;
	log_warn("remote write forbidden (403)", "remote_name=%s source=%s "
	    "client_id=%s hint=%s", az->name, azuread_source_names[az->source],
	    az->client_id != NULL ? az->client_id : "system-assigned",
	    "assign the role Monitoring Metrics Publisher to this identity "
	    "on the data collection rule; a new role assignment can take up "
	    "to 30 minutes to apply");
}

void
azuread_set_ready_cb(struct azuread *az, void (*cb)(void *), void *arg)
{
	az->ready_cb = cb;
	az->ready_arg = arg;
}

/* A label value in the text format: escape backslash, quote, newline. */
static void
azuread_label_value(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			buf_putc(b, '\\');
			buf_putc(b, *s);
		} else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *s);
	}
}

static void
azuread_labels(struct buf *b, const struct azuread *az)
{
	buf_puts(b, "{remote_name=\"");
	azuread_label_value(b, az->name);
	buf_printf(b, "\",source=\"%s\"", azuread_source_names[az->source]);
}

enum {
	AZUREAD_M_REQUESTS,
	AZUREAD_M_EXPIRY,
	AZUREAD_M_VALID,
	AZUREAD_M_ERROR_TIME,
	AZUREAD_M_ERROR_INFO,
	AZUREAD_M_INVALIDATED,
	AZUREAD_M_FORBIDDEN,
	AZUREAD_M_COUNT
};

static const char *azuread_metric_headers[AZUREAD_M_COUNT][3] = {
	{ "promlet_azuread_token_requests_total", "counter",
	    "Azure AD token requests by result." },
	{ "promlet_azuread_token_expiry_timestamp_seconds", "gauge",
	    "When the current token expires (0: no token)." },
	{ "promlet_azuread_token_valid", "gauge",
	    "1 while a token that may be sent is held." },
	{ "promlet_azuread_last_error_timestamp_seconds", "gauge",
	    "When the last token request failed (0: never)." },
	{ "promlet_azuread_last_error_info", "gauge",
	    "The last token request error, in the error label." },
	{ "promlet_azuread_token_invalidations_total", "counter",
	    "Tokens dropped because the receiver answered 401." },
	{ "promlet_azuread_forbidden_total", "counter",
	    "403 answers from the receiver (missing role assignment)." },
};

static void
azuread_metric(struct buf *b, const struct azuread *az, int m)
{
	const char *name = azuread_metric_headers[m][0];
	int64_t now = loop_now_ms();

	switch (m) {
	case AZUREAD_M_REQUESTS:
		buf_puts(b, name);
		azuread_labels(b, az);
		buf_printf(b, ",result=\"success\"} %llu\n",
		    (unsigned long long)az->n_success);
		buf_puts(b, name);
		azuread_labels(b, az);
		buf_printf(b, ",result=\"failure\"} %llu\n",
		    (unsigned long long)az->n_failure);
		return;
	case AZUREAD_M_ERROR_INFO:
		if (az->last_error == NULL)
			return;
		buf_puts(b, name);
		azuread_labels(b, az);
		buf_puts(b, ",error=\"");
		azuread_label_value(b, az->last_error);
		buf_puts(b, "\"} 1\n");
		return;
	}
	buf_puts(b, name);
	azuread_labels(b, az);
	switch (m) {
	case AZUREAD_M_EXPIRY:
		buf_printf(b, "} %.3f\n", az->authorization != NULL ?
		    (double)az->expires_ms / 1000 : 0.0);
		break;
	case AZUREAD_M_VALID:
		buf_printf(b, "} %d\n", az->authorization != NULL &&
		    now < az->usable_ms);
		break;
	case AZUREAD_M_ERROR_TIME:
		buf_printf(b, "} %.3f\n", (double)az->last_error_ms / 1000);
		break;
	case AZUREAD_M_INVALIDATED:
		buf_printf(b, "} %llu\n",
		    (unsigned long long)az->n_invalidated);
		break;
	case AZUREAD_M_FORBIDDEN:
		buf_printf(b, "} %llu\n", (unsigned long long)az->n_forbidden);
		break;
	}
}

void
azuread_write_metrics_all(struct azuread * const *v, size_t n,
    struct buf *b)
{
	size_t i;
	int m;

	if (n == 0)
		return;
	for (m = 0; m < AZUREAD_M_COUNT; m++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    azuread_metric_headers[m][0], azuread_metric_headers[m][2],
		    azuread_metric_headers[m][0], azuread_metric_headers[m][1]);
		for (i = 0; i < n; i++) {
			if (v[i] != NULL)
				azuread_metric(b, v[i], m);
		}
	}
}

void
azuread_write_metrics(struct azuread *az, struct buf *b)
{
	azuread_write_metrics_all(&az, 1, b);
}
