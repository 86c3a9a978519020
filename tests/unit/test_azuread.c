/*
 * Unit tests for Azure AD authentication: the pure parts (clouds, URLs,
 * token answers, timing rules, key files, client assertions) and the
 * asynchronous flow against tests/helpers/fake_azure.py.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "azuread.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "xmalloc.h"

#define S	1000LL
#define MIN	(60 * S)
#define NOW	1700000000000LL		/* a fixed "now" in Unix ms */

/* ---- helpers ----------------------------------------------------------- */

static char *
test_tmpdir(void)
{
	char *d = xstrdup("/tmp/test_azuread.XXXXXX");

	if (mkdtemp(d) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return d;
}

static void
test_rmtree(const char *dir)
{
	char *cmd;

	xasprintf(&cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static char *
test_write(const char *dir, const char *name, const char *data, size_t len,
    mode_t mode)
{
	char *path;
	int fd;

	xasprintf(&path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* ---- clouds, URLs, forms ----------------------------------------------- */

static void
test_cloud_scopes(void **state)
{
	const struct azuread_cloud *c;
	char *s;

	(void)state;
	c = azuread_cloud_find(NULL);
	assert_non_null(c);
	assert_string_equal(c->name, "AzurePublic");
	assert_string_equal(c->scope, "https://monitor.azure.com//.default");
	assert_string_equal(c->authority, "https://login.microsoftonline.com/");
	assert_ptr_equal(azuread_cloud_find(""), c);
	assert_ptr_equal(azuread_cloud_find("AzurePublic"), c);

	c = azuread_cloud_find("AzureChina");
	assert_string_equal(c->scope, "https://monitor.azure.cn//.default");
	assert_string_equal(c->authority,
	    "https://login.partner.microsoftonline.cn/");
	c = azuread_cloud_find("AzureGovernment");
	assert_string_equal(c->scope, "https://monitor.azure.us//.default");
	assert_string_equal(c->authority, "https://login.microsoftonline.us/");
	assert_null(azuread_cloud_find("azurepublic"));
	assert_null(azuread_cloud_find("AzureGermany"));

	/* Managed identity: resource = scope minus "/.default". */
	s = azuread_scope_resource("https://monitor.azure.com//.default");
	assert_string_equal(s, "https://monitor.azure.com/");
	free(s);
	s = azuread_scope_resource("https://monitor.azure.us//.default");
	assert_string_equal(s, "https://monitor.azure.us/");
	free(s);
	s = azuread_scope_resource("api://custom");
	assert_string_equal(s, "api://custom");
	free(s);
	s = azuread_scope_resource("/.default");
	assert_string_equal(s, "/.default");
	free(s);
}

static void
test_urls(void **state)
{
	char *s;
	struct buf b = BUF_INIT;

	(void)state;
	s = azuread_imds_url(NULL, "https://monitor.azure.com/", NULL);
	assert_string_equal(s, "http://169.254.169.254/metadata/identity/"
	    "oauth2/token?api-version=2018-02-01&resource="
	    "https%3A%2F%2Fmonitor.azure.com%2F");
	free(s);
	s = azuread_imds_url("http://127.0.0.1:8080//",
	    "https://monitor.azure.com/",
	    "00000000-1111-2222-3333-444444444444");
	assert_string_equal(s, "http://127.0.0.1:8080/metadata/identity/"
	    "oauth2/token?api-version=2018-02-01&resource="
	    "https%3A%2F%2Fmonitor.azure.com%2F"
	    "&client_id=00000000-1111-2222-3333-444444444444");
	free(s);

	s = azuread_arc_url(NULL, "https://monitor.azure.com/", NULL);
	assert_string_equal(s, "http://127.0.0.1:40342/metadata/identity/"
	    "oauth2/token?api-version=2020-06-01&resource="
	    "https%3A%2F%2Fmonitor.azure.com%2F");
	free(s);
	s = azuread_arc_url("http://localhost:40342/metadata/identity/"
	    "oauth2/token", "r", "c");
	assert_string_equal(s, "http://localhost:40342/metadata/identity/"
	    "oauth2/token?api-version=2020-06-01&resource=r&client_id=c");
	free(s);

	s = azuread_authority_url("https://login.microsoftonline.com/");
	assert_string_equal(s, "https://login.microsoftonline.com/");
	free(s);
	s = azuread_authority_url("login.microsoftonline.us");
	assert_string_equal(s, "https://login.microsoftonline.us/");
	free(s);
	s = azuread_authority_url("http://127.0.0.1:9/");
	assert_string_equal(s, "http://127.0.0.1:9/");
	free(s);
	s = azuread_token_url("https://login.microsoftonline.com/",
	    "contoso.onmicrosoft.com");
	assert_string_equal(s, "https://login.microsoftonline.com/"
	    "contoso.onmicrosoft.com/oauth2/v2.0/token");
	free(s);
	s = azuread_token_url("https://h/", "a/../b");
	assert_string_equal(s, "https://h/a%2F..%2Fb/oauth2/v2.0/token");
	free(s);

	azuread_urlencode(&b, "a b+c&d=e~f_g.h-i/\xc3\xa9");
	assert_string_equal(b.data, "a%20b%2Bc%26d%3De~f_g.h-i%2F%C3%A9");
	buf_free(&b);
}

static void
test_form(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	azuread_form(&b, "cid", "https://monitor.azure.com//.default",
	    "s3cr=t&x", NULL);
	assert_string_equal(b.data, "grant_type=client_credentials"
	    "&client_id=cid&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default"
	    "&client_secret=s3cr%3Dt%26x");
	buf_reset(&b);
	azuread_form(&b, "cid", "api://x/.default", NULL, "aaa.bbb.ccc");
	assert_string_equal(b.data, "grant_type=client_credentials"
	    "&client_id=cid&scope=api%3A%2F%2Fx%2F.default"
	    "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
	    "client-assertion-type%3Ajwt-bearer"
	    "&client_assertion=aaa.bbb.ccc");
	buf_free(&b);
}

/* ---- token answers ----------------------------------------------------- */

static int
test_parse(const char *json, struct azuread_token *t, char **cause)
{
	*cause = NULL;
	return azuread_token_parse(json, strlen(json), NOW, t, cause);
}

static void
test_token_parse_ok(void **state)
{
	struct azuread_token t;
	char *cause, json[512];

	(void)state;
	/* IMDS: every value a string. */
	snprintf(json, sizeof json, "{\"access_token\":\"eyJ0.a.b\","
	    "\"refresh_token\":\"\",\"expires_in\":\"86399\",\"expires_on\":"
	    "\"%lld\",\"not_before\":\"1\",\"resource\":"
	    "\"https://monitor.azure.com/\",\"token_type\":\"Bearer\"}",
	    (NOW / S) + 86399);
	assert_int_equal(test_parse(json, &t, &cause), 0);
	assert_string_equal(t.access_token, "eyJ0.a.b");
	assert_true(t.expires_ms == NOW + 86399 * S);
	assert_true(t.refresh_ms == 0);
	assert_null(t.client_id);
	azuread_token_clear(&t);
	assert_null(t.access_token);

	/* Entra: numbers, refresh_in. */
	assert_int_equal(test_parse("{\"token_type\":\"Bearer\",\"expires_in\":"
	    "3599,\"ext_expires_in\":3599,\"refresh_in\":1800,"
	    "\"access_token\":\"tok\"}", &t, &cause), 0);
	assert_true(t.expires_ms == NOW + 3599 * S);
	assert_true(t.refresh_ms == NOW + 1800 * S);
	azuread_token_clear(&t);

	/* expires_on alone (App Service style), numeric string. */
	snprintf(json, sizeof json, "{\"access_token\":\"x\",\"expires_on\":"
	    "\"%lld\",\"client_id\":\"abc\"}", NOW / S + 600);
	assert_int_equal(test_parse(json, &t, &cause), 0);
	assert_true(t.expires_ms == NOW + 600 * S);
	assert_string_equal(t.client_id, "abc");
	azuread_token_clear(&t);

	/* Both: the earlier wins (IMDS may hand out a cached token). */
	snprintf(json, sizeof json, "{\"access_token\":\"x\",\"expires_in\":"
	    "\"86399\",\"expires_on\":%lld}", NOW / S + 3600);
	assert_int_equal(test_parse(json, &t, &cause), 0);
	assert_true(t.expires_ms == NOW + 3600 * S);
	azuread_token_clear(&t);

	/* expires_on in the past with expires_in: clock skew, trust _in. */
	snprintf(json, sizeof json, "{\"access_token\":\"x\",\"expires_in\":"
	    "120,\"expires_on\":%lld}", NOW / S - 7200);
	assert_int_equal(test_parse(json, &t, &cause), 0);
	assert_true(t.expires_ms == NOW + 120 * S);
	azuread_token_clear(&t);

	/* refresh_in beyond expiry is ignored; a real number is fine. */
	assert_int_equal(test_parse("{\"access_token\":\"x\",\"expires_in\":"
	    "60.0,\"refresh_in\":\"600\",\"token_type\":\"bearer\"}", &t,
	    &cause), 0);
	assert_true(t.expires_ms == NOW + 60 * S);
	assert_true(t.refresh_ms == 0);
	azuread_token_clear(&t);
}

/*
 * The generic OAuth 2.0 reading (oauth2.c): token_type kept and named as
 * Go's oauth2 names it; no expiry, or expires_in 0, is a token that never
 * expires; Azure's reading still refuses both.
 */
static void
test_token_parse_generic(void **state)
{
	static const struct {
		const char	*json;
		const char	*type;
		long long	 expires_s;	/* after NOW; -1: never */
	} ok[] = {
		{ "{\"access_token\":\"a\",\"token_type\":\"bearer\","
		    "\"expires_in\":60}", "Bearer", 60 },
		{ "{\"access_token\":\"a\",\"token_type\":\"MAC\"}", "MAC",
		    -1 },
		{ "{\"access_token\":\"a\",\"token_type\":\"basic\","
		    "\"expires_in\":0}", "Basic", -1 },
		{ "{\"access_token\":\"a\",\"token_type\":\"DPoP\","
		    "\"expires_in\":\"30\"}", "DPoP", 30 },
		{ "{\"access_token\":\"a\"}", "Bearer", -1 },
		{ "{\"access_token\":\"a\",\"token_type\":\"\"}", "Bearer",
		    -1 },
	};
	static const char *bad[] = {
		"{\"access_token\":\"a\",\"token_type\":\"Bear er\"}",
		"{\"access_token\":\"a b\"}",
		"{\"access_token\":\"a\",\"expires_in\":-5}",
		"{\"token_type\":\"bearer\"}",
		/* The epoch is long past, not "never". */
		"{\"access_token\":\"a\",\"expires_on\":\"0\"}",
	};
	struct azuread_token t;
	char *cause;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cause = NULL;
		if (azuread_token_parse_opt(ok[i].json, strlen(ok[i].json),
		    NOW, AZUREAD_TOKEN_ANY_TYPE | AZUREAD_TOKEN_NO_EXPIRY, &t,
		    &cause) != 0)
			fail_msg("%s: %s", ok[i].json, cause);
		assert_string_equal(t.token_type, ok[i].type);
		assert_string_equal(t.access_token, "a");
		if (ok[i].expires_s == -1)
			assert_true(t.expires_ms == 0);
		else
			assert_true(t.expires_ms == NOW + ok[i].expires_s * S);
		azuread_token_clear(&t);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		if (azuread_token_parse_opt(bad[i], strlen(bad[i]), NOW,
		    AZUREAD_TOKEN_ANY_TYPE | AZUREAD_TOKEN_NO_EXPIRY, &t,
		    &cause) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(cause);
		free(cause);
	}
	/* Azure's reading: Bearer only, an expiry required. */
	assert_int_equal(test_parse("{\"access_token\":\"a\",\"token_type\":"
	    "\"MAC\",\"expires_in\":60}", &t, &cause), -1);
	free(cause);
	assert_int_equal(test_parse("{\"access_token\":\"a\"}", &t, &cause),
	    -1);
	free(cause);
	assert_int_equal(test_parse("{\"access_token\":\"a\",\"expires_on\":"
	    "\"0\"}", &t, &cause), -1);
	assert_string_equal(cause, "token is already expired (check the "
	    "clock)");
	free(cause);
}

static void
test_token_parse_bad(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{\"access_token\":\"x\"",
		"{\"expires_in\":3600}",
		"{\"access_token\":\"\",\"expires_in\":3600}",
		"{\"access_token\":5,\"expires_in\":3600}",
		"{\"access_token\":\"x\"}",
		"{\"access_token\":\"x\",\"expires_in\":\"soon\"}",
		"{\"access_token\":\"x\",\"expires_in\":\"12abc\"}",
		"{\"access_token\":\"x\",\"expires_in\":0}",
		"{\"access_token\":\"x\",\"expires_in\":-5}",
		"{\"access_token\":\"x\",\"expires_in\":true}",
		"{\"access_token\":\"x\",\"expires_on\":\"1000\"}",
		"{\"access_token\":\"x y\",\"expires_in\":3600}",
		"{\"access_token\":\"x\\r\\nX-Evil: 1\",\"expires_in\":3600}",
		"{\"access_token\":\"x\",\"expires_in\":3600,"
		    "\"token_type\":\"pop\"}",
	};
	struct azuread_token t;
	char *cause;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (test_parse(bad[i], &t, &cause) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(cause);
		assert_null(t.access_token);
		/* The token value never shows up in the message. */
		assert_null(strstr(cause, "x y"));
		free(cause);
	}
}

/*
 * A form-encoded answer, as Go's oauth2 reads one: the first value of a
 * key counts, '+' is a space, %-escapes are decoded, only access_token,
 * token_type and expires_in are read, and a bad escape or a ';' fails
 * the whole answer.
 */
static void
test_token_parse_form(void **state)
{
	static const struct {
		const char	*form;
		const char	*token;
		const char	*type;
		long long	 expires_s;	/* after NOW; -1: never */
	} ok[] = {
		{ "access_token=gho_16C7e42F292c6912E7710c83&scope=repo&"
		    "token_type=bearer", "gho_16C7e42F292c6912E7710c83",
		    "Bearer", -1 },
		{ "token_type=mac&expires_in=60&access_token=a%2Fb%3D%3D",
		    "a/b==", "MAC", 60 },
		{ "access_token=x&access_token=y&expires_in=30&expires_in=99",
		    "x", "Bearer", 30 },
		/* Atoi fails: no expiry; expires_on is not read from a form. */
		{ "access_token=x&expires_in=soon&expires_on=1", "x",
		    "Bearer", -1 },
		{ "&&access_token=x&=z&empty", "x", "Bearer", -1 },
		{ "access_token=x&token_type=Bear%65r+", NULL, NULL, 0 },
	};
	static const char *bad[] = {
		"access_token=x;token_type=bearer",
		"access_token=x%2",
		"access_token=x&junk=%zz",
		"access_token=a%00b",
		"access_token=%ff",
		"token_type=bearer&expires_in=60",
		"access_token=&token_type=bearer",
		"access_token=x&expires_in=-5",
	};
	struct azuread_token t;
	char *cause;
	size_t i;
	int flags = AZUREAD_TOKEN_ANY_TYPE | AZUREAD_TOKEN_NO_EXPIRY |
	    AZUREAD_TOKEN_FORM;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cause = NULL;
		if (ok[i].token == NULL) {
			/* "Bearer " with its space: not a header value. */
			assert_int_equal(azuread_token_parse_opt(ok[i].form,
			    strlen(ok[i].form), NOW, flags, &t, &cause), -1);
			assert_string_equal(cause,
			    "token_type has invalid characters");
			free(cause);
			continue;
		}
		if (azuread_token_parse_opt(ok[i].form, strlen(ok[i].form),
		    NOW, flags, &t, &cause) != 0)
			fail_msg("%s: %s", ok[i].form, cause);
		assert_string_equal(t.access_token, ok[i].token);
		assert_string_equal(t.token_type, ok[i].type);
		if (ok[i].expires_s == -1)
			assert_true(t.expires_ms == 0);
		else
			assert_true(t.expires_ms == NOW + ok[i].expires_s * S);
		assert_null(t.client_id);
		azuread_token_clear(&t);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		if (azuread_token_parse_opt(bad[i], strlen(bad[i]), NOW,
		    flags, &t, &cause) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(cause);
		free(cause);
	}
	/* The same bytes without the flag are not JSON. */
	assert_int_equal(azuread_token_parse_opt(ok[0].form,
	    strlen(ok[0].form), NOW, flags & ~AZUREAD_TOKEN_FORM, &t, &cause),
	    -1);
	free(cause);

	assert_true(azuread_form_type("application/x-www-form-urlencoded"));
	assert_true(azuread_form_type(
	    " Application/X-WWW-Form-Urlencoded ; charset=utf-8"));
	assert_true(azuread_form_type("text/plain;charset=utf-8"));
	assert_false(azuread_form_type("application/json"));
	assert_false(azuread_form_type("text/plainer"));
	assert_false(azuread_form_type("text/html"));
	assert_false(azuread_form_type(""));
	assert_false(azuread_form_type(NULL));
}

static void
test_error_summary(void **state)
{
	static const char entra[] = "{\"error\":\"invalid_client\","
	    "\"error_description\":\"AADSTS7000215: Invalid client secret "
	    "provided.\\r\\nTrace ID: 1\\r\\nCorrelation ID: 2\","
	    "\"error_codes\":[7000215],\"timestamp\":\"x\"}";
	static const char imds[] = "{\"error\":\"invalid_request\","
	    "\"error_description\":\"Identity not found\"}";
	char *s, *t;

	(void)state;
	s = azuread_error_summary(401, entra, strlen(entra));
	assert_string_equal(s, "HTTP 401: invalid_client: "
	    "AADSTS7000215: Invalid client secret provided.");
	free(s);
	s = azuread_error_summary(400, "{\"error\":\"invalid_grant\","
	    "\"error_codes\":[700024]}", 48);
	assert_string_equal(s, "HTTP 400: invalid_grant (AADSTS700024)");
	free(s);
	s = azuread_error_summary(410, "<html>gone</html>", 17);
	assert_string_equal(s, "HTTP 410");
	free(s);
	s = azuread_error_summary(400, imds, strlen(imds));
	assert_string_equal(s, "HTTP 400: invalid_request: Identity not found");
	free(s);
	s = azuread_error_summary(0, NULL, 0);
	assert_string_equal(s, "no response");
	free(s);
	s = azuread_error_summary_opt(401, "error=bad_verification_code&"
	    "error_description=The+code+passed+is+incorrect.%0Aretry", 83,
	    AZUREAD_TOKEN_FORM);
	assert_string_equal(s, "HTTP 401: bad_verification_code: "
	    "The code passed is incorrect.");
	free(s);
	/* Read as JSON, a form says nothing. */
	s = azuread_error_summary(401, "error=x", 7);
	assert_string_equal(s, "HTTP 401");
	free(s);

	t = azuread_scrub("bad secret abc in abc!", "abc");
	assert_string_equal(t, "bad secret <redacted> in <redacted>!");
	free(t);
	t = azuread_scrub("nothing", NULL);
	assert_string_equal(t, "nothing");
	free(t);
	t = azuread_scrub("nothing", "");
	assert_string_equal(t, "nothing");
	free(t);
}

/* ---- timing ------------------------------------------------------------ */

static void
test_refresh_time(void **state)
{
	(void)state;
	/* 24 h managed identity token: half-life. */
	assert_true(azuread_refresh_at(NOW, NOW + 86400 * S, 0) ==
	    NOW + 43200 * S);
	/* 1 h client credential token: 5 minutes before expiry. */
	assert_true(azuread_refresh_at(NOW, NOW + 3600 * S, 0) ==
	    NOW + 3300 * S);
	/* Exactly 2 h is not "more than 2 h": 5 minutes before. */
	assert_true(azuread_refresh_at(NOW, NOW + 7200 * S, 0) ==
	    NOW + 6900 * S);
	/* Short tokens: never before half-way. */
	assert_true(azuread_refresh_at(NOW, NOW + 20 * S, 0) == NOW + 10 * S);
	assert_true(azuread_refresh_at(NOW, NOW + 8 * MIN, 0) ==
	    NOW + 4 * MIN);
	/* refresh_in wins when earlier, is ignored when later. */
	assert_true(azuread_refresh_at(NOW, NOW + 3600 * S, NOW + 1800 * S) ==
	    NOW + 1800 * S);
	assert_true(azuread_refresh_at(NOW, NOW + 3600 * S, NOW + 3500 * S) ==
	    NOW + 3300 * S);
	assert_true(azuread_refresh_at(NOW, NOW - 1, 0) == NOW);

	/* Safety margin before expiry for sending. */
	assert_true(azuread_usable_until(NOW, NOW + 3600 * S) ==
	    NOW + 3540 * S);
	assert_true(azuread_usable_until(NOW, NOW + 20 * S) == NOW + 15 * S);
	/* A refresh always comes before the token stops being usable. */
	assert_true(azuread_refresh_at(NOW, NOW + 20 * S, 0) <
	    azuread_usable_until(NOW, NOW + 20 * S));
	assert_true(azuread_refresh_at(NOW, NOW + 86400 * S, 0) <
	    azuread_usable_until(NOW, NOW + 86400 * S));
}

static void
test_retry_schedule(void **state)
{
	static const long transient_mi[] = { 0, 404, 408, 410, 429, 500, 503,
	    599 };
	static const long permanent[] = { 400, 401, 403, 405 };
	int64_t d;
	unsigned i;

	(void)state;
	/* IMDS documented schedule: 0, 2, 6, 14, 30 s, capped at 60 s. */
	assert_true(azuread_imds_retry_ms(0) == 0);
	assert_true(azuread_imds_retry_ms(1) == 2 * S);
	assert_true(azuread_imds_retry_ms(2) == 6 * S);
	assert_true(azuread_imds_retry_ms(3) == 14 * S);
	assert_true(azuread_imds_retry_ms(4) == 30 * S);
	assert_true(azuread_imds_retry_ms(5) == 60 * S);
	assert_true(azuread_imds_retry_ms(50) == 60 * S);
	/* A 410 means "back within 70 s": the retries span that. */
	for (d = 0, i = 1; i <= 5; i++)
		d += azuread_imds_retry_ms(i);
	assert_true(d >= 70 * S);

	for (i = 0; i < sizeof transient_mi / sizeof transient_mi[0]; i++) {
		assert_true(azuread_transient(transient_mi[i], 1));
		assert_true(azuread_retry_ms(3, transient_mi[i], 1, 0) ==
		    14 * S);
	}
	for (i = 0; i < sizeof permanent / sizeof permanent[0]; i++) {
		assert_false(azuread_transient(permanent[i], 1));
		assert_false(azuread_transient(permanent[i], 0));
	}
	/* 404/410 are IMDS maintenance, not Entra's. */
	assert_false(azuread_transient(404, 0));
	assert_false(azuread_transient(410, 0));
	assert_true(azuread_transient(503, 0));

	/* Entra transient: 1 s doubling to 60 s. */
	assert_true(azuread_retry_ms(1, 503, 0, 0) == 1 * S);
	assert_true(azuread_retry_ms(2, 503, 0, 0) == 2 * S);
	assert_true(azuread_retry_ms(6, 0, 0, 0) == 32 * S);
	assert_true(azuread_retry_ms(7, 429, 0, 0) == 60 * S);
	assert_true(azuread_retry_ms(1000, 429, 0, 0) == 60 * S);
	/* Retry-After honoured, capped at 5 minutes. */
	assert_true(azuread_retry_ms(1, 429, 0, 20 * S) == 20 * S);
	assert_true(azuread_retry_ms(1, 429, 1, 3600 * S) == 5 * MIN);
	/* Bad credentials: 30 s doubling to 5 minutes. */
	assert_true(azuread_retry_ms(1, 401, 0, 0) == 30 * S);
	assert_true(azuread_retry_ms(2, 400, 1, 0) == 60 * S);
	assert_true(azuread_retry_ms(4, 400, 0, 0) == 240 * S);
	assert_true(azuread_retry_ms(5, 400, 0, 0) == 5 * MIN);
	assert_true(azuread_retry_ms(99, 403, 0, 0) == 5 * MIN);
}

/* ---- files ------------------------------------------------------------- */

static void
test_arc_key_path(void **state)
{
	static const char *bad[] = {
		"Bearer realm=/var/opt/azcmagent/tokens/a.key",
		"Basic realm=",
		"Basic realm=/var/opt/azcmagent/a.key",
		"Basic realm=/var/opt/azcmagent/tokens/sub/a.key",
		"Basic realm=/var/opt/azcmagent/tokens/../a.key",
		"Basic realm=/var/opt/azcmagent/tokensx/a.key",
		"Basic realm=/var/opt/azcmagent/tokens/a.txt",
		"Basic realm=/var/opt/azcmagent/tokens/a.key.bak",
		"Basic realm=/var/opt/azcmagent/tokens/.key",
		"Basic realm=var/opt/azcmagent/tokens/a.key",
		"Basic realm=/etc/shadow",
		"Basic realm=/var/opt/azcmagent/tokens/a=b.key",
		"Basic realm=\"/var/opt/azcmagent/tokens/a.key",
	};
	char *path, *cause;
	size_t i;

	(void)state;
	assert_int_equal(azuread_arc_key_path("Basic realm=/var/opt/azcmagent/"
	    "tokens/0d8e4e4c-1f0e.key", AZUREAD_ARC_TOKEN_DIR, &path, &cause),
	    0);
	assert_string_equal(path,
	    "/var/opt/azcmagent/tokens/0d8e4e4c-1f0e.key");
	free(path);
	/* Quoted realm, trailing slash on the expected directory. */
	assert_int_equal(azuread_arc_key_path("basic realm=\"/t/k.key\"",
	    "/t/", &path, &cause), 0);
	assert_string_equal(path, "/t/k.key");
	free(path);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		if (azuread_arc_key_path(bad[i], AZUREAD_ARC_TOKEN_DIR, &path,
		    &cause) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_null(path);
		assert_non_null(cause);
		free(cause);
	}
	assert_int_equal(azuread_arc_key_path(NULL, AZUREAD_ARC_TOKEN_DIR,
	    &path, &cause), -1);
	assert_non_null(strstr(cause, "WWW-Authenticate"));
	free(cause);
}

static void
test_arc_read_key(void **state)
{
	char big[AZUREAD_ARC_KEY_MAX + 1], *dir, *p, *key, *cause, *link;
	int fds[2], status;
	pid_t pid;
	ssize_t n;
	char msg[512];

	(void)state;
	dir = test_tmpdir();
	p = test_write(dir, "good.key", "c2VjcmV0a2V5\n", 13, 0640);
	assert_int_equal(azuread_arc_read_key(p, &key, &cause), 0);
	assert_string_equal(key, "c2VjcmV0a2V5");
	xfree_secret(key);

	/* Not through a symlink. */
	xasprintf(&link, "%s/link.key", dir);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(azuread_arc_read_key(link, &key, &cause), -1);
	free(cause);
	free(link);
	free(p);

	/* 4096 bytes is fine, 4097 is not. */
	memset(big, 'k', sizeof big);
	p = test_write(dir, "max.key", big, AZUREAD_ARC_KEY_MAX, 0600);
	assert_int_equal(azuread_arc_read_key(p, &key, &cause), 0);
	assert_int_equal(strlen(key), AZUREAD_ARC_KEY_MAX);
	xfree_secret(key);
	free(p);
	p = test_write(dir, "big.key", big, sizeof big, 0600);
	assert_int_equal(azuread_arc_read_key(p, &key, &cause), -1);
	assert_non_null(strstr(cause, "4096"));
	free(cause);
	free(p);

	p = test_write(dir, "empty.key", "", 0, 0600);
	assert_int_equal(azuread_arc_read_key(p, &key, &cause), -1);
	free(cause);
	free(p);

	/*
	 * Unreadable: the cause must name the himds group. Root reads
	 * anything, so check from a child running as nobody.
	 */
	p = test_write(dir, "locked.key", "secret", 6, 0600);
	if (geteuid() == 0) {
		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			close(fds[0]);
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
			cause = NULL;
			if (azuread_arc_read_key(p, &key, &cause) != -1)
				_exit(3);
			n = write(fds[1], cause, strlen(cause));
			_exit(n > 0 ? 0 : 4);
		}
		close(fds[1]);
		n = read(fds[0], msg, sizeof msg - 1);
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_true(n > 0);
		msg[n] = '\0';
		assert_non_null(strstr(msg, "himds group"));
		assert_null(strstr(msg, "secret"));
	} else {
		assert_int_equal(chmod(p, 0), 0);
		assert_int_equal(azuread_arc_read_key(p, &key, &cause), -1);
		assert_non_null(strstr(cause, "himds group"));
		free(cause);
	}
	free(p);
	test_rmtree(dir);
	free(dir);
}

static void
test_read_secret_file(void **state)
{
	char *dir, *p, *q, *data, *cause, *target;
	size_t len;
	int world;

	(void)state;
	dir = test_tmpdir();
	p = test_write(dir, "secret", "hunter2 \r\n", 10, 0600);
	world = -1;
	assert_int_equal(azuread_read_secret_file(p, 100, 1, &data, &len,
	    &world, &cause), 0);
	assert_string_equal(data, "hunter2");
	assert_int_equal(len, 7);
	assert_int_equal(world, 0);
	xfree_secret(data);
	assert_int_equal(azuread_read_secret_file(p, 100, 0, &data, &len,
	    NULL, &cause), 0);
	assert_int_equal(len, 10);
	xfree_secret(data);
	/* Size limit. */
	assert_int_equal(azuread_read_secret_file(p, 9, 1, &data, &len, NULL,
	    &cause), -1);
	free(cause);
	free(p);

	p = test_write(dir, "open", "x", 1, 0644);
	assert_int_equal(azuread_read_secret_file(p, 100, 1, &data, &len,
	    &world, &cause), 0);
	assert_int_equal(world, 1);
	xfree_secret(data);
	free(p);

	/* A Kubernetes-style mount: file -> ..data/file. */
	xasprintf(&q, "%s/..data", dir);
	assert_int_equal(mkdir(q, 0755), 0);
	free(q);
	target = test_write(dir, "..data/token", "jwt.jwt.jwt", 11, 0600);
	xasprintf(&q, "%s/token", dir);
	assert_int_equal(symlink("..data/token", q), 0);
	assert_int_equal(azuread_read_secret_file(q, 100, 1, &data, &len,
	    NULL, &cause), 0);
	assert_string_equal(data, "jwt.jwt.jwt");
	xfree_secret(data);
	free(q);
	free(target);

	/* Not a regular file; missing file. */
	xasprintf(&q, "%s/fifo", dir);
	assert_int_equal(mkfifo(q, 0600), 0);
	assert_int_equal(azuread_read_secret_file(q, 100, 1, &data, &len,
	    NULL, &cause), -1);
	assert_non_null(strstr(cause, "regular"));
	free(cause);
	free(q);
	xasprintf(&q, "%s/missing", dir);
	assert_int_equal(azuread_read_secret_file(q, 100, 1, &data, &len,
	    NULL, &cause), -1);
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	free(q);
	test_rmtree(dir);
	free(dir);
}

/* ---- JWT --------------------------------------------------------------- */

static void
test_base64url(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} v[] = {
		{ "", 0, "" }, { "f", 1, "Zg" }, { "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" }, { "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" }, { "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xff", 2, "-_8" }, { "\xff\xff\xfe", 3, "___-" },
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		buf_reset(&b);
		buf_puts(&b, "");
		azuread_base64url(&b, v[i].in, v[i].len);
		assert_string_equal(b.data, v[i].out);
	}
	buf_free(&b);
}

/* Decode base64url (no padding) with OpenSSL's standard decoder. */
static unsigned char *
test_b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out;
	char *std;
	size_t i, m;
	int r;

	m = (n + 3) / 4 * 4;
	std = xcalloc(1, m + 1);
	for (i = 0; i < n; i++)
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (; i < m; i++)
		std[i] = '=';
	out = xmalloc(m + 1);
	r = EVP_DecodeBlock(out, (unsigned char *)std, (int)m);
	assert_true(r >= 0);
	*outlen = (size_t)r - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
	out[*outlen] = '\0';
	free(std);
	return out;
}

/* A fresh RSA key and self-signed certificate as one PEM. */
static char *
test_make_pem(int bits, int ec, size_t *len, X509 **certp)
{
	EVP_PKEY *key;
	X509 *x;
	X509_NAME *name;
	BIO *bio;
	char *data, *pem;
	long n;

	key = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen((unsigned)bits);
	assert_non_null(key);
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"promlet-test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	bio = BIO_new(BIO_s_mem());
	/* Certificate first: the loader must not care about order. */
	PEM_write_bio_X509(bio, x);
	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &data);
	pem = xmalloc((size_t)n + 1);
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	EVP_PKEY_free(key);
	if (certp != NULL)
		*certp = x;
	else
		X509_free(x);
	return pem;
}

static void
test_jwt_assertion(void **state)
{
	struct azuread_cert *c;
	X509 *x;
	EVP_PKEY *pub;
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx;
	unsigned char dig[32], *hdr, *claims, *sig;
	unsigned int diglen;
	struct buf tp = BUF_INIT;
	size_t len, hlen, clen, slen;
	char *pem, *jwt, *cause = NULL, *dot1, *dot2;
	json_t *h, *cl;
	const char *aud = "https://login.microsoftonline.com/tenant-1/"
	    "oauth2/v2.0/token";

	(void)state;
	pem = test_make_pem(2048, 0, &len, &x);
	c = azuread_cert_load(pem, len, &cause);
	if (c == NULL)
		fail_msg("load: %s", cause);
	/* x5t#S256 = base64url(SHA-256(DER)), computed independently. */
	assert_int_equal(X509_digest(x, EVP_sha256(), dig, &diglen), 1);
	azuread_base64url(&tp, dig, diglen);
	assert_string_equal(azuread_cert_thumbprint(c), tp.data);

	jwt = azuread_jwt_assertion(c, "client-1", aud, 1700000000, 0, &cause);
	assert_non_null(jwt);
	dot1 = strchr(jwt, '.');
	assert_non_null(dot1);
	dot2 = strchr(dot1 + 1, '.');
	assert_non_null(dot2);
	assert_null(strchr(dot2 + 1, '.'));
	assert_null(strchr(jwt, '='));

	hdr = test_b64url_decode(jwt, (size_t)(dot1 - jwt), &hlen);
	h = json_loadb((char *)hdr, hlen, 0, NULL);
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "alg")),
	    "PS256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")),
	    "JWT");
	assert_string_equal(json_string_value(json_object_get(h,
	    "x5t#S256")), tp.data);
	json_decref(h);

	claims = test_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1),
	    &clen);
	cl = json_loadb((char *)claims, clen, 0, NULL);
	assert_non_null(cl);
	assert_string_equal(json_string_value(json_object_get(cl, "aud")), aud);
	assert_string_equal(json_string_value(json_object_get(cl, "iss")),
	    "client-1");
	assert_string_equal(json_string_value(json_object_get(cl, "sub")),
	    "client-1");
	assert_int_equal(json_integer_value(json_object_get(cl, "nbf")),
	    1700000000);
	assert_int_equal(json_integer_value(json_object_get(cl, "iat")),
	    1700000000);
	assert_int_equal(json_integer_value(json_object_get(cl, "exp")),
	    1700000600);
	assert_int_equal(json_string_length(json_object_get(cl, "jti")), 36);
	assert_int_equal(json_string_value(json_object_get(cl, "jti"))[14],
	    '4');
	json_decref(cl);

	/* Verify RSASSA-PSS SHA-256 with the certificate's public key. */
	sig = test_b64url_decode(dot2 + 1, strlen(dot2 + 1), &slen);
	assert_int_equal(slen, 256);
	pub = X509_get_pubkey(x);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    pub), 1);
	EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
	assert_int_equal(EVP_DigestVerify(md, sig, slen,
	    (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
	EVP_MD_CTX_free(md);
	/* A changed claim breaks it. */
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    pub), 1);
	EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
	jwt[dot1 - jwt + 3] ^= 1;
	assert_int_not_equal(EVP_DigestVerify(md, sig, slen,
	    (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);

	free(hdr);
	free(claims);
	free(sig);
	free(jwt);
	/* With x5c: the chain as standard base64 DER, leaf first. */
	jwt = azuread_jwt_assertion(c, "client-1", aud, 1700000000, 1, &cause);
	dot1 = strchr(jwt, '.');
	hdr = test_b64url_decode(jwt, (size_t)(dot1 - jwt), &hlen);
	h = json_loadb((char *)hdr, hlen, 0, NULL);
	assert_non_null(h);
	assert_int_equal(json_array_size(json_object_get(h, "x5c")), 1);
	{
		unsigned char *der = NULL;
		int dn = i2d_X509(x, &der);
		unsigned char *b64 = xmalloc((size_t)dn * 2 + 4);

		EVP_EncodeBlock(b64, der, dn);
		assert_string_equal(json_string_value(json_array_get(
		    json_object_get(h, "x5c"), 0)), (char *)b64);
		free(b64);
		OPENSSL_free(der);
	}
	json_decref(h);
	free(hdr);
	free(jwt);

	/* Two assertions never share a jti. */
	jwt = azuread_jwt_assertion(c, "client-1", aud, 1700000000, 0, &cause);
	dot1 = azuread_jwt_assertion(c, "client-1", aud, 1700000000, 0, &cause);
	assert_string_not_equal(jwt, dot1);
	free(jwt);
	free(dot1);
	buf_free(&tp);
	azuread_cert_free(c);
	X509_free(x);
	free(pem);
}

static void
test_cert_load_bad(void **state)
{
	char *pem, *pem2, *mixed, *cause = NULL, *k, *certend;
	struct azuread_cert *c;
	size_t len, len2;
	BIO *bio;
	EVP_PKEY *key;

	(void)state;
	assert_null(azuread_cert_load("", 0, &cause));
	assert_non_null(cause);
	free(cause);

	/* EC keys cannot sign PS256. */
	pem = test_make_pem(0, 1, &len, NULL);
	assert_null(azuread_cert_load(pem, len, &cause));
	assert_non_null(strstr(cause, "RSA"));
	free(cause);
	free(pem);

	/* Certificate of one key, private key of another. */
	pem = test_make_pem(1024, 0, &len, NULL);
	pem2 = test_make_pem(1024, 0, &len2, NULL);
	k = strstr(pem2, "-----BEGIN PRIVATE KEY");
	certend = strstr(pem, "-----BEGIN PRIVATE KEY");
	assert_non_null(k);
	assert_non_null(certend);
	xasprintf(&mixed, "%.*s%s", (int)(certend - pem), pem, k);
	assert_null(azuread_cert_load(mixed, strlen(mixed), &cause));
	assert_non_null(strstr(cause, "does not match"));
	free(cause);
	free(mixed);

	/* Key only. */
	assert_null(azuread_cert_load(k, strlen(k), &cause));
	assert_non_null(strstr(cause, "no certificate"));
	free(cause);

	/* Encrypted key: refused, and no passphrase prompt. */
	bio = BIO_new_mem_buf(k, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(key);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, key, EVP_aes_128_cbc(),
	    (unsigned char *)"pw", 2, NULL, NULL);
	{
		char *data, *enc;
		long n = BIO_get_mem_data(bio, &data);

		xasprintf(&enc, "%.*s%.*s", (int)(certend - pem), pem,
		    (int)n, data);
		c = azuread_cert_load(enc, strlen(enc), &cause);
		assert_null(c);
		assert_non_null(strstr(cause, "encrypted"));
		free(cause);
		free(enc);
	}
	BIO_free(bio);
	EVP_PKEY_free(key);
	free(pem);
	free(pem2);
}

/* ---- the asynchronous flow, against tests/helpers/fake_azure.py -------- */

#define PY		"/usr/bin/python3"
#define FAKE		TOP_SRCDIR "/tests/helpers/fake_azure.py"
#define CLIENT_ID	"00000000-0000-0000-0000-000000000001"

struct test_fake {
	pid_t	 pid;
	int	 port;
	char	*dir;
	char	*url;	/* http://127.0.0.1:port */
};

struct test_flow {
	struct event_base	*base;
	struct http_client	*http;
	struct azuread		*az;
	struct event		*poll;
	struct event		*deadline;
	int			(*cond)(struct test_flow *);
	int			 ready;		/* ready callbacks seen */
	int			 gap;		/* NULL after a first token */
	int			 had_token;
	char			*first;		/* first Authorization seen */
};

/* The fake of the running test, killed by the teardown if a test fails. */
static pid_t	test_fake_pid = -1;

static int
test_fake_teardown(void **state)
{
	(void)state;
	if (test_fake_pid > 0) {
		kill(test_fake_pid, SIGTERM);
		waitpid(test_fake_pid, NULL, 0);
	}
	test_fake_pid = -1;
	return 0;
}

static void
test_fake_start(struct test_fake *f, const char *const *extra)
{
	const char *argv[40];
	char *portfile, buf[32];
	size_t n = 0;
	int i, fd;
	ssize_t r;

	if (access(PY, X_OK) != 0 || access(FAKE, R_OK) != 0)
		skip();
	f->dir = test_tmpdir();
	xasprintf(&portfile, "%s/port", f->dir);
	argv[n++] = PY;
	argv[n++] = FAKE;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	for (; extra != NULL && *extra != NULL && n < 38; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	f->pid = fork();
	assert_true(f->pid != -1);
	if (f->pid != 0)
		test_fake_pid = f->pid;
	if (f->pid == 0) {
		/* Keep the test runner's pipes free of a stray child. */
		fd = open("/dev/null", O_WRONLY);
		if (fd != -1) {
			dup2(fd, 1);
			if (getenv("TEST_AZUREAD_VERBOSE") == NULL)
				dup2(fd, 2);
		}
		execv(PY, (char * const *)argv);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((fd = open(portfile, O_RDONLY)) != -1)
			break;
		usleep(50000);
	}
	if (fd == -1)
		fail_msg("fake_azure.py did not start");
	r = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_true(r > 0);
	buf[r] = '\0';
	f->port = atoi(buf);
	xasprintf(&f->url, "http://127.0.0.1:%d", f->port);
	free(portfile);
}

static void
test_fake_stop(struct test_fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		test_fake_pid = -1;
	}
	if (f->dir != NULL) {
		test_rmtree(f->dir);
		free(f->dir);
	}
	free(f->url);
	memset(f, 0, sizeof *f);
}

/* A blocking HTTP/1.0 exchange with the fake's control endpoint. */
static json_t *
test_fake_call(struct test_fake *f, const char *method, const char *path,
    const char *body)
{
	struct sockaddr_in sin;
	struct buf b = BUF_INIT;
	char chunk[4096], *req, *p;
	ssize_t n;
	json_t *j;
	int s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s != -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof sin), 0);
	if (body == NULL)
		body = "";
	xasprintf(&req, "%s %s HTTP/1.0\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", method, path, strlen(body), body);
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	while ((n = read(s, chunk, sizeof chunk)) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(s);
	buf_puts(&b, "");
	p = strstr(b.data, "\r\n\r\n");
	assert_non_null(p);
	j = json_loads(p + 4, 0, NULL);
	buf_free(&b);
	assert_non_null(j);
	return j;
}

static void
test_fake_set(struct test_fake *f, const char *json)
{
	json_decref(test_fake_call(f, "POST", "/control/set", json));
}

/* Requests the fake recorded under key (imds, arc, entra, ingest). */
static size_t
test_fake_count(struct test_fake *f, const char *key, long status)
{
	json_t *st, *v;
	size_t i, n = 0;

	st = test_fake_call(f, "GET", "/control/state", NULL);
	json_array_foreach(json_object_get(st, key), i, v) {
		if (status == -1 || json_integer_value(json_object_get(v,
		    "status")) == status)
			n++;
	}
	json_decref(st);
	return n;
}

static void
test_flow_ready_cb(void *arg)
{
	struct test_flow *t = arg;

	/* Never from inside an azuread call: always a token by now. */
	assert_non_null(azuread_authorization(t->az));
	t->ready++;
}

static void
test_flow_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct test_flow *t = arg;
	const char *a;

	if (t->az != NULL) {
		a = azuread_authorization(t->az);
		if (a != NULL) {
			t->had_token = 1;
			if (t->first == NULL)
				t->first = xstrdup(a);
		} else if (t->had_token)
			t->gap = 1;
	}
	if (t->cond != NULL && t->cond(t))
		event_base_loopbreak(t->base);
}

static void
test_flow_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct test_flow *t = arg;

	event_base_loopbreak(t->base);
}

static void
test_flow_init(struct test_flow *t)
{
	struct timeval tv = { 0, 20000 };

	memset(t, 0, sizeof *t);
	t->base = event_base_new();
	t->http = http_client_create(t->base);
	t->poll = event_new(t->base, -1, EV_PERSIST, test_flow_poll_cb, t);
	t->deadline = evtimer_new(t->base, test_flow_deadline_cb, t);
	event_add(t->poll, &tv);
}

/* Run the loop until cond holds; fail after limit_ms. */
static void
test_flow_run(struct test_flow *t, int (*cond)(struct test_flow *),
    int limit_ms, const char *what)
{
	struct timeval tv;

	t->cond = cond;
	if (cond(t))
		return;
	tv.tv_sec = limit_ms / 1000;
	tv.tv_usec = (limit_ms % 1000) * 1000;
	evtimer_add(t->deadline, &tv);
	event_base_dispatch(t->base);
	evtimer_del(t->deadline);
	if (!cond(t))
		fail_msg("timed out waiting for %s", what);
}

/* Run the loop for ms, whatever happens. */
static void
test_flow_sleep(struct test_flow *t, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	t->cond = NULL;
	evtimer_add(t->deadline, &tv);
	event_base_dispatch(t->base);
	evtimer_del(t->deadline);
}

static void
test_flow_done(struct test_flow *t)
{
	azuread_free(t->az);
	event_free(t->poll);
	event_free(t->deadline);
	http_client_free(t->http);
	event_base_free(t->base);
	free(t->first);
}

static int
test_has_token(struct test_flow *t)
{
	return azuread_authorization(t->az) != NULL;
}

static void
test_clear_env(void)
{
	static const char *vars[] = { "IDENTITY_ENDPOINT", "IMDS_ENDPOINT",
	    "IDENTITY_HEADER", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
	    "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
	    "AZURE_FEDERATED_TOKEN_FILE", "PROMLET_AZURE_ARC_TOKEN_DIR" };
	size_t i;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static char *
test_metrics(struct azuread *az)
{
	struct buf b = BUF_INIT;

	azuread_write_metrics(az, &b);
	buf_puts(&b, "");
	return buf_steal(&b);
}

static void
test_flow_imds(void **state)
{
	static const char *const args[] = { "--imds-client-id",
	    "11111111-2222-3333-4444-555555555555", "--imds-fail", "410",
	    NULL };
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *m;
	struct timespec t0, t1;
	double secs;

	(void)state;
	test_clear_env();
	test_fake_start(&f, args);
	setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f.url, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_MANAGED_IDENTITY;
	cfg.client_id = (char *)"11111111-2222-3333-4444-555555555555";
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "imds-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	azuread_set_ready_cb(t.az, test_flow_ready_cb, &t);
	/* Never blocks: nothing yet. */
	assert_null(azuread_authorization(t.az));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_flow_run(&t, test_has_token, 10000, "an IMDS token");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The 410 was retried after IMDS's first back-off of 2 s. */
	assert_true(secs >= 1.9);
	assert_true(secs < 6);
	test_flow_sleep(&t, 50);
	assert_int_equal(t.ready, 1);
	assert_int_equal(strncmp(azuread_authorization(t.az),
	    "Bearer fake.imds.", 17), 0);
	assert_int_equal(test_fake_count(&f, "imds", 410), 1);
	assert_int_equal(test_fake_count(&f, "imds", -1), 2);

	m = test_metrics(t.az);
	assert_non_null(strstr(m, "promlet_azuread_token_requests_total{"
	    "remote_name=\"imds-test\",source=\"imds\",result=\"success\"} 1"));
	assert_non_null(strstr(m, "result=\"failure\"} 1"));
	assert_non_null(strstr(m, "error=\"HTTP 410: service_unavailable"));
	assert_non_null(strstr(m, "promlet_azuread_token_valid{remote_name="
	    "\"imds-test\",source=\"imds\"} 1"));
	assert_null(strstr(m, "fake.imds"));
	free(m);

	/* 401 from the receiver: a fresh token, once, not for a young one. */
	azuread_invalidate(t.az);
	assert_non_null(azuread_authorization(t.az));
	test_flow_sleep(&t, 2100);
	azuread_invalidate(t.az);
	assert_null(azuread_authorization(t.az));
	test_flow_run(&t, test_has_token, 5000, "a token after 401");
	assert_int_equal(test_fake_count(&f, "imds", 0), 2);
	assert_string_not_equal(azuread_authorization(t.az), t.first);
	test_flow_sleep(&t, 50);
	assert_int_equal(t.ready, 2);

	test_flow_done(&t);
	test_fake_stop(&f);
	test_clear_env();
}

static int
test_two_secret_tokens(struct test_flow *t)
{
	const char *a = azuread_authorization(t->az);

	return a != NULL && t->first != NULL && strcmp(a, t->first) != 0;
}

static void
test_flow_secret_refresh(void **state)
{
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *secret, *fileopt, *m;
	const char *args[8];

	(void)state;
	test_clear_env();
	/* The fake reads the same file: a rotation changes both ends. */
	f.dir = test_tmpdir();
	secret = test_write(f.dir, "secret", "first-secret\n", 13, 0600);
	xasprintf(&fileopt, "%s", secret);
	args[0] = "--client-secret-file";
	args[1] = fileopt;
	args[2] = "--expires-in";
	args[3] = "4";
	args[4] = NULL;
	{
		char *keep = f.dir;

		test_fake_start(&f, args);
		test_rmtree(f.dir);
		free(f.dir);
		f.dir = keep;
	}
	setenv("AZURE_AUTHORITY_HOST", f.url, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_OAUTH;
	cfg.client_id = (char *)CLIENT_ID;
	cfg.tenant_id = (char *)"tenant-1";
	cfg.client_secret_file = secret;
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "secret-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	azuread_set_ready_cb(t.az, test_flow_ready_cb, &t);
	test_flow_run(&t, test_has_token, 5000, "a token");
	assert_int_equal(strncmp(t.first, "Bearer fake.secret.", 19), 0);

	/* Rotate the secret: the next request must read the new one. */
	free(test_write(f.dir, "secret", "second-secret", 13, 0600));
	/* 4 s token: refreshed at half-life, with no gap in between. */
	test_flow_run(&t, test_two_secret_tokens, 4000, "a refreshed token");
	assert_false(t.gap);
	assert_int_equal(test_fake_count(&f, "entra", -1), 2);
	test_flow_sleep(&t, 50);
	assert_int_equal(t.ready, 2);
	m = test_metrics(t.az);
	assert_non_null(strstr(m, "result=\"success\"} 2"));
	assert_non_null(strstr(m, "result=\"failure\"} 0"));
	assert_null(strstr(m, "last_error_info{"));
	free(m);

	test_flow_done(&t);
	free(fileopt);
	free(secret);
	test_fake_stop(&f);
	test_clear_env();
}

static int
test_has_failure(struct test_flow *t)
{
	char *m = test_metrics(t->az);
	int r = strstr(m, "result=\"failure\"} 0") == NULL;

	free(m);
	return r;
}

static void
test_flow_refresh_failure(void **state)
{
	static const char *const args[] = { "--client-secret",
	    "Sup3r-s3cret-value", "--expires-in", "3", "--echo-secret", NULL };
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *m;
	const char *a;

	(void)state;
	test_clear_env();
	test_fake_start(&f, args);
	setenv("AZURE_AUTHORITY_HOST", f.url, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_OAUTH;
	cfg.client_id = (char *)CLIENT_ID;
	cfg.tenant_id = (char *)"tenant-1";
	cfg.client_secret = (char *)"Sup3r-s3cret-value";
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "fail-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	test_flow_run(&t, test_has_token, 5000, "a token");
	/* Entra goes down: the refresh at 1.5 s fails. */
	test_fake_set(&f, "{\"token_fail\":[503,503,503,503,503]}");
	test_flow_run(&t, test_has_failure, 3000, "a failed refresh");
	/* The old token (3 s, usable for 2.25 s) is still sent... */
	a = azuread_authorization(t.az);
	assert_non_null(a);
	assert_string_equal(a, t.first);
	/* ...but never once too close to its expiry. */
	test_flow_sleep(&t, 1000);
	assert_null(azuread_authorization(t.az));
	assert_true(t.gap);
	/* Back up: the backoff retry gets a new token. */
	test_fake_set(&f, "{\"token_fail\":[]}");
	test_flow_run(&t, test_has_token, 8000, "a token after recovery");
	assert_string_not_equal(azuread_authorization(t.az), t.first);

	/* A server echoing the secret in its error: scrubbed. */
	test_fake_set(&f, "{\"client_secret\":\"other\"}");
	azuread_free(t.az);
	t.az = azuread_create(t.base, t.http, &cfg, "fail-test", &cause);
	test_flow_run(&t, test_has_failure, 5000, "a rejected secret");
	m = test_metrics(t.az);
	assert_non_null(strstr(m, "invalid_client: AADSTS7000215"));
	assert_non_null(strstr(m, "<redacted>"));
	assert_null(strstr(m, "Sup3r-s3cret-value"));
	free(m);

	test_flow_done(&t);
	test_fake_stop(&f);
	test_clear_env();
}

static void
test_flow_certificate(void **state)
{
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *pem, *dir, *pemfile, *certfile;
	const char *args[6];
	X509 *x;
	BIO *bio;
	char *data;
	long n;
	size_t len;

	(void)state;
	if (system(PY " -c 'import cryptography' 2>/dev/null") != 0)
		skip();
	test_clear_env();
	dir = test_tmpdir();
	pem = test_make_pem(2048, 0, &len, &x);
	pemfile = test_write(dir, "client.pem", pem, len, 0600);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	n = BIO_get_mem_data(bio, &data);
	certfile = test_write(dir, "cert.pem", data, (size_t)n, 0644);
	BIO_free(bio);
	X509_free(x);
	args[0] = "--cert";
	args[1] = certfile;
	args[2] = "--tenant";
	args[3] = "contoso.example";
	args[4] = NULL;
	test_fake_start(&f, args);
	setenv("AZURE_AUTHORITY_HOST", f.url, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_CERTIFICATE;
	cfg.client_id = (char *)CLIENT_ID;
	cfg.tenant_id = (char *)"contoso.example";
	cfg.certificate_file = pemfile;
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "cert-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	test_flow_run(&t, test_has_token, 5000, "a token");
	assert_int_equal(strncmp(t.first, "Bearer fake.certificate.", 24), 0);
	/* A second assertion (new jti) is accepted too. */
	test_flow_sleep(&t, 2100);
	azuread_invalidate(t.az);
	test_flow_run(&t, test_has_token, 5000, "a second token");
	assert_int_equal(test_fake_count(&f, "entra", 0), 2);
	azuread_free(t.az);

	/* Key in its own file (certificate_key_path). */
	{
		char *k = strstr(pem, "-----BEGIN PRIVATE KEY");

		assert_non_null(k);
		free(test_write(dir, "key.pem", k, strlen(k), 0600));
		xasprintf(&cfg.certificate_key_file, "%s/key.pem", dir);
		cfg.certificate_file = certfile;
		cfg.send_certificate_chain = 1;
	}
	t.az = azuread_create(t.base, t.http, &cfg, "cert-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	test_flow_run(&t, test_has_token, 5000, "a token, separate key");
	assert_int_equal(test_fake_count(&f, "entra", 0), 3);
	free(cfg.certificate_key_file);
	cfg.certificate_key_file = NULL;
	test_flow_done(&t);
	test_fake_stop(&f);

	/* A file that is not a certificate fails at creation. */
	free(test_write(dir, "bad.pem", "-----BEGIN nothing", 18, 0600));
	free(pemfile);
	xasprintf(&pemfile, "%s/bad.pem", dir);
	cfg.certificate_file = pemfile;
	test_flow_init(&t);
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	assert_non_null(strstr(cause, "bad.pem"));
	free(cause);
	test_flow_done(&t);

	free(pem);
	free(pemfile);
	free(certfile);
	test_rmtree(dir);
	free(dir);
	test_clear_env();
}

static void
test_flow_workload(void **state)
{
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *dir, *tokfile;
	const char *args[6];

	(void)state;
	test_clear_env();
	dir = test_tmpdir();
	tokfile = test_write(dir, "azure-identity-token", "fed.token.one",
	    13, 0600);
	args[0] = "--federated-token-file";
	args[1] = tokfile;
	args[2] = NULL;
	test_fake_start(&f, args);
	/* Everything from the webhook's environment. */
	setenv("AZURE_AUTHORITY_HOST", f.url, 1);
	setenv("AZURE_CLIENT_ID", CLIENT_ID, 1);
	setenv("AZURE_TENANT_ID", "tenant-1", 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", tokfile, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_WORKLOAD_IDENTITY;
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "wi-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	test_flow_run(&t, test_has_token, 5000, "a token");
	assert_int_equal(strncmp(t.first, "Bearer fake.workload.", 21), 0);
	/* Kubernetes rotated the projected token: it is read again. */
	free(test_write(dir, "azure-identity-token", "fed.token.two", 13,
	    0600));
	test_flow_sleep(&t, 2100);
	azuread_invalidate(t.az);
	test_flow_run(&t, test_has_token, 5000, "a second token");
	assert_string_not_equal(azuread_authorization(t.az), t.first);
	assert_int_equal(test_fake_count(&f, "entra", 0), 2);
	test_flow_done(&t);
	test_fake_stop(&f);

	/* No client id anywhere: refused at creation. */
	unsetenv("AZURE_CLIENT_ID");
	test_flow_init(&t);
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	assert_non_null(strstr(cause, "client_id"));
	free(cause);
	test_flow_done(&t);

	free(tokfile);
	test_rmtree(dir);
	free(dir);
	test_clear_env();
}

static void
test_flow_arc(void **state)
{
	struct config_azuread cfg;
	struct test_fake f;
	struct test_flow t;
	char *cause = NULL, *dir, *ie, *m;
	const char *args[6];

	(void)state;
#ifndef HTTP_RESPONSE_WWW_AUTHENTICATE
	/* http.h does not expose WWW-Authenticate yet. */
	skip();
#endif
	test_clear_env();
	dir = test_tmpdir();
	args[0] = "--arc-key-dir";
	args[1] = dir;
	args[2] = NULL;
	test_fake_start(&f, args);
	xasprintf(&ie, "%s/arc/metadata/identity/oauth2/token", f.url);
	setenv("IDENTITY_ENDPOINT", ie, 1);
	setenv("IMDS_ENDPOINT", f.url, 1);
	setenv("PROMLET_AZURE_ARC_TOKEN_DIR", dir, 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_MANAGED_IDENTITY;
	test_flow_init(&t);
	t.az = azuread_create(t.base, t.http, &cfg, "arc-test", &cause);
	if (t.az == NULL)
		fail_msg("create: %s", cause);
	test_flow_run(&t, test_has_token, 5000, "an Arc token");
	assert_int_equal(strncmp(t.first, "Bearer fake.arc.", 16), 0);
	assert_int_equal(test_fake_count(&f, "arc", -1), 2);
	azuread_free(t.az);

	/* A challenge naming a file elsewhere is refused. */
	test_fake_set(&f, "{\"arc_realm\":\"/etc/passwd.key\"}");
	t.az = azuread_create(t.base, t.http, &cfg, "arc-test", &cause);
	test_flow_run(&t, test_has_failure, 5000, "a refused challenge");
	m = test_metrics(t.az);
	assert_non_null(strstr(m, "is not in"));
	free(m);
	assert_null(azuread_authorization(t.az));

	test_flow_done(&t);
	test_fake_stop(&f);
	free(ie);
	test_rmtree(dir);
	free(dir);
	test_clear_env();
}

static void
test_flow_create_errors(void **state)
{
	struct config_azuread cfg;
	struct test_flow t;
	char *cause = NULL;

	(void)state;
	test_clear_env();
	test_flow_init(&t);
	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_MANAGED_IDENTITY;
	cfg.cloud = (char *)"AzureMoon";
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	assert_non_null(strstr(cause, "AzureMoon"));
	free(cause);

	memset(&cfg, 0, sizeof cfg);
	cfg.method = AZUREAD_OAUTH;
	cfg.client_id = (char *)CLIENT_ID;
	cfg.client_secret = (char *)"do-not-print-me";
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	assert_non_null(strstr(cause, "tenant_id"));
	assert_null(strstr(cause, "do-not-print-me"));
	free(cause);

	cfg.tenant_id = (char *)"t";
	cfg.client_secret = NULL;
	cfg.client_secret_file = (char *)"/nonexistent/secret";
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	assert_non_null(strstr(cause, "/nonexistent/secret"));
	free(cause);

	memset(&cfg, 0, sizeof cfg);
	assert_null(azuread_create(t.base, t.http, &cfg, "x", &cause));
	free(cause);

	/* Managed identity needs nothing: the scope comes from the cloud. */
	cfg.method = AZUREAD_MANAGED_IDENTITY;
	cfg.cloud = (char *)"AzureGovernment";
	setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9", 1);
	t.az = azuread_create(t.base, t.http, &cfg, "x", &cause);
	assert_non_null(t.az);
	test_flow_done(&t);
	test_clear_env();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cloud_scopes),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_token_parse_ok),
		cmocka_unit_test(test_token_parse_bad),
		cmocka_unit_test(test_token_parse_generic),
		cmocka_unit_test(test_token_parse_form),
		cmocka_unit_test(test_error_summary),
		cmocka_unit_test(test_refresh_time),
		cmocka_unit_test(test_retry_schedule),
		cmocka_unit_test(test_arc_key_path),
		cmocka_unit_test(test_arc_read_key),
		cmocka_unit_test(test_read_secret_file),
		cmocka_unit_test(test_base64url),
		cmocka_unit_test(test_jwt_assertion),
		cmocka_unit_test(test_cert_load_bad),
		cmocka_unit_test(test_flow_create_errors),
		cmocka_unit_test_teardown(test_flow_imds,
		    test_fake_teardown),
		cmocka_unit_test_teardown(test_flow_secret_refresh,
		    test_fake_teardown),
		cmocka_unit_test_teardown(test_flow_refresh_failure,
		    test_fake_teardown),
		cmocka_unit_test_teardown(test_flow_certificate,
		    test_fake_teardown),
		cmocka_unit_test_teardown(test_flow_workload,
		    test_fake_teardown),
		cmocka_unit_test_teardown(test_flow_arc,
		    test_fake_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
