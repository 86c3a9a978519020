/*
 * Azure AD (Microsoft Entra ID) bearer tokens for remote_write to Azure
 * Monitor managed Prometheus.
 *
 * One struct azuread per remote_write endpoint: every shard of the
 * endpoint shares its token. The token is fetched at creation and then
 * refreshed in the background on the libevent loop, well before it
 * expires; a failed refresh keeps the old token while it is still valid
 * and retries with backoff. Nothing here blocks the loop: token requests
 * go through the asynchronous HTTP client (http.h).
 *
 * Where a token comes from (config method -> wire):
 *
 *   managed_identity --+-- IMDS (Azure VM, VMSS, AKS node)
 *                      |     GET http://169.254.169.254/metadata/identity/
 *                      |         oauth2/token?api-version=2018-02-01
 *                      |         &resource=<scope minus /.default>
 *                      |         [&client_id=<uuid>]        Metadata: true
 *                      |
 *                      +-- Azure Arc HIMDS (IDENTITY_ENDPOINT + IMDS_ENDPOINT
 *                            in the environment, or /opt/azcmagent/bin/himds)
 *                            GET {IDENTITY_ENDPOINT}?api-version=2020-06-01
 *                                &resource=...                Metadata: true
 *                            <- 401  WWW-Authenticate: Basic realm=<key file>
 *                            GET (same)  Authorization: Basic <key file bytes>
 *
 *   oauth, certificate, workload_identity:
 *        POST {authority host}{tenant}/oauth2/v2.0/token
 *        grant_type=client_credentials&client_id=..&scope=<scope>
 *        &client_secret=..                                       (oauth)
 *        &client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
 *         jwt-bearer&client_assertion=<JWT>   (certificate: signed here;
 *                                 workload identity: the federated token file)
 *
 * Every answer is JSON with access_token plus expires_in and/or expires_on
 * (numbers or numeric strings) and maybe refresh_in.
 *
 * Environment (the Azure SDKs' names): AZURE_AUTHORITY_HOST overrides the
 * cloud's login host; AZURE_POD_IDENTITY_AUTHORITY_HOST the IMDS base URL;
 * IDENTITY_ENDPOINT/IMDS_ENDPOINT select Azure Arc; AZURE_CLIENT_ID,
 * AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE fill workload identity
 * defaults. Test only: PROMLET_AZURE_ARC_TOKEN_DIR replaces the directory
 * an Arc key file must be in.
 *
 * Secrets (client secret, assertions, Arc keys, tokens) never reach a log
 * line, an error message or a metric; they are wiped when freed.
 */
#ifndef PROMLET_AZUREAD_H
#define PROMLET_AZUREAD_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct event_base;
struct http_client;
struct config_azuread;
struct azuread;

/*
 * Returns NULL and an allocated message in *cause when the settings cannot
 * work (missing tenant, unreadable secret file, certificate that does not
 * parse). endpoint_name labels logs and metrics.
 */
struct azuread	*azuread_create(struct event_base *, struct http_client *,
		    const struct config_azuread *, const char *endpoint_name,
		    char **cause);
void		 azuread_free(struct azuread *);
/*
 * The "Bearer <token>" header value while a valid token (not expired, with
 * a safety margin) exists; NULL otherwise (a fetch is then in progress or
 * scheduled). Never blocks. The pointer is valid until the next call into
 * this module.
 */
const char	*azuread_authorization(struct azuread *);
/* The receiver answered 401: drop the cached token and fetch a new one now. */
void		 azuread_invalidate(struct azuread *);
/*
 * The receiver answered 403: log (at most once a minute) that the identity
 * needs the Monitoring Metrics Publisher role on the DCR, and count it.
 */
void		 azuread_forbidden(struct azuread *);
/*
 * Called (from the loop, never synchronously) whenever a new token becomes
 * available, so a sender waiting for a token can resume.
 */
void		 azuread_set_ready_cb(struct azuread *, void (*)(void *),
		    void *);
/*
 * Self-metrics in Prometheus text format: token fetches by result, token
 * expiry timestamp, last error. _all writes each family once for several
 * endpoints (the text format forbids repeating HELP/TYPE).
 */
void		 azuread_write_metrics(struct azuread *, struct buf *);
void		 azuread_write_metrics_all(struct azuread * const *, size_t,
		    struct buf *);

/* ---- Pure parts (azuread_token.c, azuread_file.c, azuread_jwt.c) ---- */

struct azuread_cloud {
	const char	*name;		/* as in the config: AzurePublic */
	const char	*scope;		/* v2 scope, "/.default" */
	const char	*authority;	/* https://login.microsoftonline.com/ */
};

/* NULL or "" is AzurePublic; NULL for an unknown name. */
const struct azuread_cloud *azuread_cloud_find(const char *);
/* Managed identity wants a v1 resource: the scope without "/.default". */
char		*azuread_scope_resource(const char *);
/* An authority host as a URL ending in "/" ("https://" added if bare). */
char		*azuread_authority_url(const char *);
/* {authority}{tenant}/oauth2/v2.0/token */
char		*azuread_token_url(const char *authority, const char *tenant);
/* The IMDS token URL; base NULL = http://169.254.169.254. */
char		*azuread_imds_url(const char *base, const char *resource,
		    const char *client_id);
/* The Arc token URL from IDENTITY_ENDPOINT (NULL = the local default). */
char		*azuread_arc_url(const char *endpoint, const char *resource,
		    const char *client_id);
/* Percent-encode everything but RFC 3986 unreserved characters. */
void		 azuread_urlencode(struct buf *, const char *);
/* The client_credentials form; exactly one of secret and assertion. */
void		 azuread_form(struct buf *, const char *client_id,
		    const char *scope, const char *secret,
		    const char *assertion);

struct azuread_token {
	char	*access_token;
	int64_t	 expires_ms;	/* wall clock, Unix ms */
	int64_t	 refresh_ms;	/* from refresh_in; 0 when not given */
	char	*client_id;	/* identity echoed by MI endpoints, or NULL */
	char	*token_type;	/* with AZUREAD_TOKEN_ANY_TYPE only */
};

/*
 * Parse a token answer received at now_ms. The expiry is the earlier of
 * now + expires_in and expires_on (an expires_on already in the past is
 * taken as clock skew and ignored when expires_in is there).
 */
int		 azuread_token_parse(const char *, size_t, int64_t now_ms,
		    struct azuread_token *, char **cause);
/*
 * The same for any OAuth 2.0 token endpoint (oauth2.c). ANY_TYPE: keep
 * token_type, named as Go's oauth2 names it (bearer -> Bearer; none ->
 * Bearer), instead of requiring Bearer. NO_EXPIRY: an answer without
 * expires_in or expires_on is a token that never expires (expires_ms 0).
 */
#define AZUREAD_TOKEN_ANY_TYPE	0x1
#define AZUREAD_TOKEN_NO_EXPIRY	0x2
/*
 * FORM: the answer is form-encoded (RFC 6749 allows nothing but JSON, but
 * Go's oauth2, and so Prometheus, also reads a form when the Content-Type
 * says so; GitHub's endpoint answers that way). Of a form only
 * access_token, token_type and expires_in count, as in Go; an expires_in
 * that is not a whole number is none.
 */
#define AZUREAD_TOKEN_FORM	0x4
/* A Content-Type for which Go's oauth2 reads the answer as a form. */
int		 azuread_form_type(const char *content_type);
int		 azuread_token_parse_opt(const char *, size_t, int64_t now_ms,
		    int flags, struct azuread_token *, char **cause);
/* Frees and wipes. */
void		 azuread_token_clear(struct azuread_token *);
/*
 * A short, secret-free description of an error answer: the OAuth "error"
 * code, the AADSTS code and the first line of error_description.
 */
char		*azuread_error_summary(long status, const char *, size_t);
/* flags: AZUREAD_TOKEN_FORM or 0. */
char		*azuread_error_summary_opt(long status, const char *, size_t,
		    int flags);
/* A copy of msg with every occurrence of secret replaced by <redacted>. */
char		*azuread_scrub(const char *msg, const char *secret);

/*
 * When to fetch the next token: refresh_in when given; half-way for tokens
 * living more than 2 hours; otherwise 5 minutes before expiry, but never
 * earlier than half-way (short-lived tokens).
 */
int64_t		 azuread_refresh_at(int64_t now_ms, int64_t expires_ms,
		    int64_t refresh_ms);
/* Until when a token may be sent: expiry minus min(60 s, lifetime / 4). */
int64_t		 azuread_usable_until(int64_t now_ms, int64_t expires_ms);
/*
 * Whether a failed token request is worth retrying soon: transport errors
 * (status 0), 408, 429, 5xx, and for managed identity also 404 and 410.
 */
int		 azuread_transient(long status, int managed_identity);
/*
 * IMDS's documented schedule (exponential, delta 2 s, max 60 s): 2, 6, 14,
 * 30, 60 s for retries 1..5, then 60 s. Covers the 70 s of a 410.
 */
int64_t		 azuread_imds_retry_ms(unsigned retry);
/*
 * The delay before retry number `retry` (1 = first) after a failure:
 * managed identity transient -> the IMDS schedule; Entra transient -> 1 s
 * doubling to 60 s; anything else (bad request, bad credentials) -> 30 s
 * doubling to 5 min. retry_after_ms (from Retry-After, 0 if none) is
 * honoured up to 5 min.
 */
int64_t		 azuread_retry_ms(unsigned retry, long status,
		    int managed_identity, int64_t retry_after_ms);

/* Default directory of Arc key files on Linux. */
#define AZUREAD_ARC_TOKEN_DIR	"/var/opt/azcmagent/tokens"
#define AZUREAD_ARC_KEY_MAX	4096

/*
 * The key file named by an Arc challenge ("Basic realm=<path>"): the path
 * must be directly in dir and end in ".key".
 */
int		 azuread_arc_key_path(const char *challenge, const char *dir,
		    char **path, char **cause);
/*
 * Read an Arc key file: a regular file (no symlink) of at most 4096 bytes.
 * An unreadable file gets a cause telling to join the himds group.
 */
int		 azuread_arc_read_key(const char *path, char **key,
		    char **cause);
/*
 * Read a small secret file (client secret, federated token, certificate):
 * opened with O_NOFOLLOW; a symlink (Kubernetes mounts are made of them)
 * is resolved once and its target opened the same way. Must be a regular
 * file of at most max bytes. *world_readable is set when others can read
 * it. With strip, trailing whitespace is removed.
 */
int		 azuread_read_secret_file(const char *path, size_t max,
		    int strip, char **out, size_t *outlen,
		    int *world_readable, char **cause);

/*
 * A certificate and its RSA private key loaded from PEM text (the blocks
 * in any order; certificates after the first are its chain).
 */
struct azuread_cert;

struct azuread_cert *azuread_cert_load(const char *pem, size_t len,
		    char **cause);
void		 azuread_cert_free(struct azuread_cert *);
/* base64url of the SHA-256 of the certificate's DER: the x5t#S256 value. */
const char	*azuread_cert_thumbprint(const struct azuread_cert *);
/*
 * A client assertion: header {"alg":"PS256","typ":"JWT","x5t#S256":..}
 * (plus "x5c": the PEM's certificates, leaf first, when x5c is set),
 * claims aud (the token URL), iss = sub = client_id, jti (random UUID),
 * nbf = iat = now, exp = now + 10 minutes; signed RSASSA-PSS SHA-256.
 */
char		*azuread_jwt_assertion(const struct azuread_cert *,
		    const char *client_id, const char *aud, int64_t now_s,
		    int x5c, char **cause);
/* base64url without padding (RFC 7515). */
void		 azuread_base64url(struct buf *, const void *, size_t);

#endif
