/*
 * The pure half of Azure AD authentication: per-cloud constants, request
 * URLs and forms, token answers, and the timing rules (when to refresh,
 * how long a token may still be sent, how long to wait after a failure).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azuread.h"
#include "buf.h"
#include "xmalloc.h"

/*
 * Scopes as Prometheus spells them: the resource is
 * "https://monitor.azure.com/" (trailing slash), so its v2 scope has a
 * double slash before ".default". China uses the modern Entra host;
 * login.chinacloudapi.cn is its legacy alias.
 */
static const struct azuread_cloud azuread_clouds[] = {
	{ "AzurePublic", "https://monitor.azure.com//.default",
	    "https://login.microsoftonline.com/" },
	{ "AzureChina", "https://monitor.azure.cn//.default",
	    "https://login.partner.microsoftonline.cn/" },
	{ "AzureGovernment", "https://monitor.azure.us//.default",
	    "https://login.microsoftonline.us/" },
};

#define AZUREAD_IMDS_BASE	"http://169.254.169.254"
#define AZUREAD_IMDS_PATH	"/metadata/identity/oauth2/token"
#define AZUREAD_IMDS_API	"2018-02-01"
#define AZUREAD_ARC_DEFAULT	"http://127.0.0.1:40342" AZUREAD_IMDS_PATH
#define AZUREAD_ARC_API		"2020-06-01"

#define AZUREAD_SEC		1000LL
#define AZUREAD_MIN		(60 * AZUREAD_SEC)

const struct azuread_cloud *
azuread_cloud_find(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0')
		return &azuread_clouds[0];
	for (i = 0; i < sizeof azuread_clouds / sizeof azuread_clouds[0]; i++) {
		if (strcmp(azuread_clouds[i].name, name) == 0)
			return &azuread_clouds[i];
	}
	return NULL;
}

char *
azuread_scope_resource(const char *scope)
{
	static const char suffix[] = "/.default";
	size_t n = strlen(scope), sn = sizeof suffix - 1;

	if (n > sn && strcmp(scope + n - sn, suffix) == 0)
		return xstrndup(scope, n - sn);
	return xstrdup(scope);
}

char *
azuread_authority_url(const char *host)
{
	char *s;
	size_t n = strlen(host);
	int slash = n > 0 && host[n - 1] == '/';

	if (strncmp(host, "https://", 8) == 0 ||
	    strncmp(host, "http://", 7) == 0)
		xasprintf(&s, "%s%s", host, slash ? "" : "/");
	else
		xasprintf(&s, "https://%s%s", host, slash ? "" : "/");
	return s;
}

char *
azuread_token_url(const char *authority, const char *tenant)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, authority);
	azuread_urlencode(&b, tenant);
	buf_puts(&b, "/oauth2/v2.0/token");
	return buf_steal(&b);
}

void
azuread_urlencode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			buf_putc(b, (char)c);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		}
	}
}

char *
azuread_imds_url(const char *base, const char *resource,
    const char *client_id)
{
	struct buf b = BUF_INIT;
	size_t n;

	if (base == NULL || *base == '\0')
		base = AZUREAD_IMDS_BASE;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_append(&b, base, n);
	buf_puts(&b, AZUREAD_IMDS_PATH "?api-version=" AZUREAD_IMDS_API
	    "&resource=");
	azuread_urlencode(&b, resource);
	if (client_id != NULL && *client_id != '\0') {
		buf_puts(&b, "&client_id=");
		azuread_urlencode(&b, client_id);
	}
	return buf_steal(&b);
}

char *
azuread_arc_url(const char *endpoint, const char *resource,
    const char *client_id)
{
	struct buf b = BUF_INIT;

	if (endpoint == NULL || *endpoint == '\0')
		endpoint = AZUREAD_ARC_DEFAULT;
	buf_puts(&b, endpoint);
	buf_putc(&b, strchr(endpoint, '?') != NULL ? '&' : '?');
	buf_puts(&b, "api-version=" AZUREAD_ARC_API "&resource=");
	azuread_urlencode(&b, resource);
	if (client_id != NULL && *client_id != '\0') {
		buf_puts(&b, "&client_id=");
		azuread_urlencode(&b, client_id);
	}
	return buf_steal(&b);
}

void
azuread_form(struct buf *b, const char *client_id, const char *scope,
    const char *secret, const char *assertion)
{
	buf_puts(b, "grant_type=client_credentials&client_id=");
	azuread_urlencode(b, client_id);
	buf_puts(b, "&scope=");
	azuread_urlencode(b, scope);
	if (secret != NULL) {
		buf_puts(b, "&client_secret=");
		azuread_urlencode(b, secret);
	} else {
		buf_puts(b, "&client_assertion_type=");
		azuread_urlencode(b,
		    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		buf_puts(b, "&client_assertion=");
		azuread_urlencode(b, assertion);
	}
}

/*
 * A number of seconds given as a JSON integer, real or decimal string
 * (IMDS sends strings, Entra numbers). Returns 0 if absent, -1 if invalid.
 */
static int
azuread_json_seconds(json_t *obj, const char *key, long long *out)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	char *end;
	long long n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 1;
	}
	if (json_is_real(v)) {
		if (json_real_value(v) > 1e15 || json_real_value(v) < -1e15)
			return -1;
		*out = (long long)json_real_value(v);
		return 1;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -1;
	*out = n;
	return 1;
}

void
azuread_token_clear(struct azuread_token *t)
{
	xfree_secret(t->access_token);
	free(t->client_id);
	free(t->token_type);
	memset(t, 0, sizeof *t);
}

int
azuread_token_parse(const char *data, size_t len, int64_t now_ms,
    struct azuread_token *t, char **cause)
{
	return azuread_token_parse_opt(data, len, now_ms, 0, t, cause);
}

/* Go's oauth2 Token.Type(): the usual names in their usual case. */
static char *
azuread_token_type(const char *s)
{
	static const char *known[] = { "Bearer", "MAC", "Basic" };
	size_t i;

	if (*s == '\0')
		return xstrdup("Bearer");
	for (i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcasecmp(s, known[i]) == 0)
			return xstrdup(known[i]);
	return xstrdup(s);
}

/* It goes into a header line as is. */
static int
azuread_token_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

int
azuread_form_type(const char *content_type)
{
	size_t n;

	if (content_type == NULL)
		return 0;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	n = strcspn(content_type, ";");
	while (n > 0 && (content_type[n - 1] == ' ' ||
	    content_type[n - 1] == '\t'))
		n--;
	return (n == 33 && strncasecmp(content_type,
	    "application/x-www-form-urlencoded", n) == 0) ||
	    (n == 10 && strncasecmp(content_type, "text/plain", n) == 0);
}

static int
azuread_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Go's QueryUnescape of s[0..n) into b (cleared first). */
static int
azuread_unescape(struct buf *b, const char *s, size_t n)
{
	size_t i;
	int hi, lo;

	buf_reset(b);
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			buf_putc(b, ' ');
		else if (s[i] != '%')
			buf_putc(b, s[i]);
		else if (i + 2 < n && (hi = azuread_hexval(s[i + 1])) >= 0 &&
		    (lo = azuread_hexval(s[i + 2])) >= 0) {
			buf_putc(b, (char)(hi << 4 | lo));
			i += 2;
		} else
			return -1;
	}
	return 0;
}

/* The token passed through these. */
static void
azuread_form_buf_free(struct buf *k, struct buf *v)
{
	if (v->data != NULL)
		explicit_bzero(v->data, v->cap);
	buf_free(v);
	buf_free(k);
}

/*
 * A form-encoded answer (what Go's oauth2 reads when the Content-Type is
 * application/x-www-form-urlencoded or text/plain) as a JSON object of
 * strings, the first value of each key, as url.ParseQuery and Get read
 * it. Like Go, any malformed pair fails the whole answer.
 */
static json_t *
azuread_form_object(const char *data, size_t len, char **cause)
{
	json_t *obj = json_object();
	struct buf k = BUF_INIT, v = BUF_INIT;
	const char *p = data, *end = data + len, *amp, *eq;
	json_t *s;

	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (memchr(p, ';', (size_t)(amp - p)) != NULL) {
			*cause = xstrdup("token answer form has a ';' "
			    "separator");
			goto fail;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if (eq > p) {
			if (azuread_unescape(&k, p, (size_t)(eq - p)) != 0 ||
			    azuread_unescape(&v, eq < amp ? eq + 1 : eq,
			    eq < amp ? (size_t)(amp - eq - 1) : 0) != 0) {
				*cause = xstrdup("token answer form has an "
				    "invalid %-escape");
				goto fail;
			}
			if (memchr(k.data, '\0', k.len) != NULL ||
			    (v.len > 0 &&
			    memchr(v.data, '\0', v.len) != NULL)) {
				*cause = xstrdup("token answer form has a "
				    "NUL byte");
				goto fail;
			}
			buf_putc(&k, '\0');
			if (json_object_get(obj, k.data) == NULL) {
				s = json_stringn(v.data != NULL ? v.data : "",
				    v.len);
				if (s == NULL) {
					*cause = xstrdup("token answer form "
					    "is not UTF-8");
					goto fail;
				}
				json_object_set_new(obj, k.data, s);
			}
		}
		p = amp + 1;
	}
	azuread_form_buf_free(&k, &v);
	return obj;
fail:
	azuread_form_buf_free(&k, &v);
	json_decref(obj);
	return NULL;
}

int
azuread_token_parse_opt(const char *data, size_t len, int64_t now_ms,
    int flags, struct azuread_token *t, char **cause)
{
	json_t *root, *v;
	json_error_t jerr;
	long long in = 0, on = 0, refresh = 0;
	int have_in, have_on, have_refresh, never = 0;
	int64_t expires = 0;
	const char *s;

	memset(t, 0, sizeof *t);
	if (flags & AZUREAD_TOKEN_FORM) {
		if ((root = azuread_form_object(data, len, cause)) == NULL)
			return -1;
		/*
		 * Go reads only these from a form; an expires_in that is not
		 * a whole number (Atoi) is none.
		 */
		json_object_del(root, "expires_on");
		json_object_del(root, "refresh_in");
		json_object_del(root, "client_id");
		if (azuread_json_seconds(root, "expires_in", &in) != 1)
			json_object_del(root, "expires_in");
	} else if ((root = json_loadb(data, len, 0, &jerr)) == NULL ||
	    !json_is_object(root)) {
		/* jerr.text quotes no input, so no token leaks through it. */
		xasprintf(cause, "token answer is not a JSON object%s%s",
		    root == NULL ? ": " : "", root == NULL ? jerr.text : "");
		json_decref(root);
		return -1;
	}
	v = json_object_get(root, "access_token");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		*cause = xstrdup("token answer has no access_token");
		goto fail;
	}
	if (!azuread_token_chars_ok(json_string_value(v))) {
		*cause = xstrdup("access_token has invalid characters");
		goto fail;
	}
	v = json_object_get(root, "token_type");
	if (flags & AZUREAD_TOKEN_ANY_TYPE) {
		s = json_is_string(v) ? json_string_value(v) : "";
		if (!azuread_token_chars_ok(s)) {
			*cause = xstrdup("token_type has invalid characters");
			goto fail;
		}
	} else if (json_is_string(v) &&
	    strcasecmp(json_string_value(v), "Bearer") != 0) {
		xasprintf(cause, "token_type is \"%.32s\", not Bearer",
		    json_string_value(v));
		goto fail;
	}
	if ((have_in = azuread_json_seconds(root, "expires_in", &in)) == -1 ||
	    (have_on = azuread_json_seconds(root, "expires_on", &on)) == -1 ||
	    (have_refresh = azuread_json_seconds(root, "refresh_in",
	    &refresh)) == -1) {
		*cause = xstrdup("token answer has a malformed expires_in, "
		    "expires_on or refresh_in");
		goto fail;
	}
	/* Go's oauth2 reads expires_in 0 as no expiry. */
	if (have_in && in == 0 && (flags & AZUREAD_TOKEN_NO_EXPIRY))
		have_in = 0;
	if (have_in && (in <= 0 || in > 10LL * 365 * 86400)) {
		xasprintf(cause, "expires_in %lld is out of range", in);
		goto fail;
	}
	if (have_on && (on < 0 || on > 100000000000LL)) {
		xasprintf(cause, "expires_on %lld is out of range", on);
		goto fail;
	}
	if (have_in) {
		expires = now_ms + in * AZUREAD_SEC;
		if (have_on && on * AZUREAD_SEC > now_ms &&
		    on * AZUREAD_SEC < expires)
			expires = on * AZUREAD_SEC;
	} else if (have_on)
		expires = on * AZUREAD_SEC;
	else if (flags & AZUREAD_TOKEN_NO_EXPIRY)
		never = 1;
	else {
		*cause = xstrdup("token answer has neither expires_in nor "
		    "expires_on");
		goto fail;
	}
	if (!never && expires <= now_ms) {
		*cause = xstrdup("token is already expired (check the clock)");
		goto fail;
	}
	if (have_refresh && refresh > 0 &&
	    now_ms + refresh * AZUREAD_SEC < expires)
		t->refresh_ms = now_ms + refresh * AZUREAD_SEC;
	t->expires_ms = expires;
	t->access_token = xstrdup(json_string_value(json_object_get(root,
	    "access_token")));
	v = json_object_get(root, "client_id");
	if (json_is_string(v))
		t->client_id = xstrdup(json_string_value(v));
	if (flags & AZUREAD_TOKEN_ANY_TYPE) {
		v = json_object_get(root, "token_type");
		t->token_type = azuread_token_type(json_is_string(v) ?
		    json_string_value(v) : "");
	}
	json_decref(root);
	return 0;

fail:
	json_decref(root);
	return -1;
}

/* Append s up to the first line break, at most max bytes, printable only. */
static void
azuread_put_line(struct buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0' && s[i] != '\r' && s[i] != '\n' && i < max;
	    i++) {
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			buf_putc(b, ' ');
		else
			buf_putc(b, s[i]);
	}
}

char *
azuread_error_summary(long status, const char *data, size_t len)
{
	return azuread_error_summary_opt(status, data, len, 0);
}

char *
azuread_error_summary_opt(long status, const char *data, size_t len,
    int flags)
{
	struct buf b = BUF_INIT;
	json_t *root, *v, *d;
	json_int_t code;
	char *cause = NULL;

	if (status == 0)
		buf_puts(&b, "no response");
	else
		buf_printf(&b, "HTTP %ld", status);
	if (data == NULL)
		root = NULL;
	else if (flags & AZUREAD_TOKEN_FORM) {
		root = azuread_form_object(data, len, &cause);
		free(cause);
	} else
		root = json_loadb(data, len, 0, NULL);
	if (root != NULL && json_is_object(root)) {
		v = json_object_get(root, "error");
		if (json_is_string(v)) {
			buf_puts(&b, ": ");
			azuread_put_line(&b, json_string_value(v), 64);
		}
		v = json_array_get(json_object_get(root, "error_codes"), 0);
		d = json_object_get(root, "error_description");
		/* Entra descriptions start with the code already. */
		if (json_is_integer(v) && !(json_is_string(d) &&
		    strncmp(json_string_value(d), "AADSTS", 6) == 0)) {
			code = json_integer_value(v);
			buf_printf(&b, " (AADSTS%lld)", (long long)code);
		}
		if (json_is_string(d) && json_string_length(d) > 0) {
			buf_puts(&b, ": ");
			azuread_put_line(&b, json_string_value(d), 240);
		}
	}
	json_decref(root);
	return buf_steal(&b);
}

char *
azuread_scrub(const char *msg, const char *secret)
{
	struct buf b = BUF_INIT;
	const char *p;
	size_t n;

	if (secret == NULL || *secret == '\0')
		return xstrdup(msg);
	n = strlen(secret);
	while ((p = strstr(msg, secret)) != NULL) {
		buf_append(&b, msg, (size_t)(p - msg));
		buf_puts(&b, "<redacted>");
		msg = p + n;
	}
	buf_puts(&b, msg);
	return buf_steal(&b);
}

int64_t
azuread_refresh_at(int64_t now_ms, int64_t expires_ms, int64_t refresh_ms)
{
	int64_t life = expires_ms - now_ms, half, t;

	if (life <= 0)
		return now_ms;
	half = now_ms + life / 2;
	t = expires_ms - 5 * AZUREAD_MIN;
	if (life > 120 * AZUREAD_MIN || t < half)
		t = half;
	if (refresh_ms > now_ms && refresh_ms < t)
		t = refresh_ms;
	return t;
}

int64_t
azuread_usable_until(int64_t now_ms, int64_t expires_ms)
{
	int64_t life = expires_ms - now_ms, margin;

	if (life <= 0)
		return expires_ms;
	margin = life / 4;
	if (margin > AZUREAD_MIN)
		margin = AZUREAD_MIN;
	return expires_ms - margin;
}

int
azuread_transient(long status, int managed_identity)
{
	if (status == 0 || status == 408 || status == 429 ||
	    (status >= 500 && status <= 599))
		return 1;
	/* IMDS answers these while it is being updated. */
	if (managed_identity && (status == 404 || status == 410))
		return 1;
	return 0;
}

int64_t
azuread_imds_retry_ms(unsigned retry)
{
	int64_t d;

	if (retry == 0)
		return 0;
	if (retry > 5)
		return 60 * AZUREAD_SEC;
	/* delta 2 s: 2 * (2^n - 1) = 2, 6, 14, 30, (62 ->) 60 */
	d = 2 * (((int64_t)1 << retry) - 1) * AZUREAD_SEC;
	return d > 60 * AZUREAD_SEC ? 60 * AZUREAD_SEC : d;
}

int64_t
azuread_retry_ms(unsigned retry, long status, int managed_identity,
    int64_t retry_after_ms)
{
	int64_t d, cap;
	unsigned shift;

	if (retry == 0)
		retry = 1;
	shift = retry - 1 > 20 ? 20 : retry - 1;
	if (azuread_transient(status, managed_identity)) {
		cap = 60 * AZUREAD_SEC;
		if (managed_identity)
			d = azuread_imds_retry_ms(retry);
		else
			d = AZUREAD_SEC << shift;
	} else {
		/* A configuration or credential problem: it will not go away
		 * in seconds, but may when someone fixes it. */
		cap = 5 * AZUREAD_MIN;
		d = (30 * AZUREAD_SEC) << shift;
	}
	if (d > cap)
		d = cap;
	if (retry_after_ms > d)
		d = retry_after_ms > 5 * AZUREAD_MIN ? 5 * AZUREAD_MIN :
		    retry_after_ms;
	return d;
}
