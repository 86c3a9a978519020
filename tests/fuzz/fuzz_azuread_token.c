/*
 * libFuzzer target for what an identity endpoint sends back, all of it
 * peer-controlled: token answers (azuread_token_parse, and its generic
 * OAuth 2.0 reading for oauth2.c), error answers
 * (azuread_error_summary), the Arc challenge header naming a key file
 * (azuread_arc_key_path) and the scrubbing that keeps secrets out of
 * messages (azuread_scrub).
 *
 * Invariants: a parsed token has a non-empty access token and an expiry
 * after the time it was received (or none, in the generic reading, whose
 * token_type is a non-empty header word); an error summary is a short single line;
 * an Arc key path never leaves the key directory and ends in ".key"; a
 * scrubbed message no longer contains the secret.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azuread.h"
#include "log.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_AZ_MAX	(64 * 1024)
#define FUZZ_AZ_NOW	1700000000000LL
#define FUZZ_AZ_DIR	"/var/opt/azcmagent/tokens"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
	return 0;
}

/* The generic OAuth 2.0 reading (oauth2.c), of JSON or of a form. */
static void
fuzz_az_generic(const char *s, size_t len, int form)
{
	struct azuread_token tok;
	char *cause = NULL;

	if (azuread_token_parse_opt(s, len, FUZZ_AZ_NOW,
	    AZUREAD_TOKEN_ANY_TYPE | AZUREAD_TOKEN_NO_EXPIRY | form, &tok,
	    &cause) == 0) {
		FUZZ_CHECK(cause == NULL);
		FUZZ_CHECK(tok.access_token != NULL &&
		    tok.access_token[0] != '\0' &&
		    strpbrk(tok.access_token, " \t\r\n") == NULL);
		FUZZ_CHECK(tok.expires_ms == 0 || tok.expires_ms > FUZZ_AZ_NOW);
		FUZZ_CHECK(tok.token_type != NULL &&
		    tok.token_type[0] != '\0' &&
		    strpbrk(tok.token_type, " \t\r\n") == NULL);
	} else
		FUZZ_CHECK(cause != NULL && cause[0] != '\0');
	free(cause);
	azuread_token_clear(&tok);
}

static void
fuzz_az_token(const char *s, size_t len)
{
	struct azuread_token tok;
	char *cause = NULL;

	memset(&tok, 0, sizeof tok);
	if (azuread_token_parse(s, len, FUZZ_AZ_NOW, &tok, &cause) == 0) {
		FUZZ_CHECK(cause == NULL);
		FUZZ_CHECK(tok.access_token != NULL &&
		    tok.access_token[0] != '\0');
		FUZZ_CHECK(tok.expires_ms > FUZZ_AZ_NOW);
		/* A token must fit in an HTTP header line. */
		FUZZ_CHECK(strchr(tok.access_token, '\n') == NULL &&
		    strchr(tok.access_token, '\r') == NULL);
		(void)azuread_refresh_at(FUZZ_AZ_NOW, tok.expires_ms,
		    tok.refresh_ms);
		(void)azuread_usable_until(FUZZ_AZ_NOW, tok.expires_ms);
	} else
		FUZZ_CHECK(cause != NULL && cause[0] != '\0');
	free(cause);
	azuread_token_clear(&tok);

	fuzz_az_generic(s, len, 0);
	fuzz_az_generic(s, len, AZUREAD_TOKEN_FORM);
}

static void
fuzz_az_summary(const char *s, size_t len)
{
	static const long statuses[] = { 0, 400, 401, 404, 410, 429, 500 };
	char *sum;
	int form;

	for (form = 0; form <= AZUREAD_TOKEN_FORM; form += AZUREAD_TOKEN_FORM) {
		sum = azuread_error_summary_opt(statuses[len % 7], s, len,
		    form);
		FUZZ_CHECK(sum != NULL && strchr(sum, '\n') == NULL);
		free(sum);
	}
}

static void
fuzz_az_arc(const char *s)
{
	char *path = NULL, *cause = NULL;
	size_t n, d = strlen(FUZZ_AZ_DIR);

	if (azuread_arc_key_path(s, FUZZ_AZ_DIR, &path, &cause) == 0) {
		FUZZ_CHECK(path != NULL);
		n = strlen(path);
		FUZZ_CHECK(strncmp(path, FUZZ_AZ_DIR "/", d + 1) == 0);
		FUZZ_CHECK(strchr(path + d + 1, '/') == NULL);
		FUZZ_CHECK(n > d + 1 + 4 &&
		    strcmp(path + n - 4, ".key") == 0);
	} else
		FUZZ_CHECK(cause != NULL);
	free(path);
	free(cause);
}

/* "secret\0message": the scrubbed message must not show the secret. */
static void
fuzz_az_scrub(const char *s, size_t len)
{
	const char *msg;
	char *out;
	size_t slen = strlen(s);

	/* The marker itself may spell a secret made of its letters. */
	if (slen == 0 || slen == len || strpbrk(s, "<redacte>") != NULL)
		return;
	msg = s + slen + 1;
	out = azuread_scrub(msg, s);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(strstr(out, s) == NULL);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > FUZZ_AZ_MAX)
		return 0;
	/* Exact size for the length-taking parsers, NUL for the others. */
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_az_token(s, size);
	fuzz_az_summary(s, size);
	fuzz_az_arc(s);
	fuzz_az_scrub(s, size);
	free(s);
	return 0;
}
