/*
 * Certificate credentials: load a PEM certificate with its RSA key and
 * sign the JWT client assertion Entra ID accepts in place of a secret.
 *
 *   base64url(header) "." base64url(claims) "." base64url(signature)
 *
 *   header  {"alg":"PS256","typ":"JWT","x5t#S256":"<b64url sha256(DER)>"}
 *   claims  {"aud":"<token URL>","iss":"<client id>","sub":"<client id>",
 *            "jti":"<uuid>","nbf":now,"iat":now,"exp":now+600}
 *
 * PS256 (RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt) with x5t#S256
 * is what Entra documents today; the older RS256 with a SHA-1 x5t is only
 * kept by the SDKs for ADFS.
 */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azuread.h"
#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#define AZUREAD_JWT_LIFETIME	600

struct azuread_cert {
	EVP_PKEY	*key;
	X509		*cert;
	char		*thumbprint;
	char		**chain;	/* base64 DER, leaf first (x5c) */
	size_t		 nchain;
};

void
azuread_base64url(struct buf *b, const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	uint32_t v;
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
		buf_putc(b, tab[v & 63]);
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		buf_putc(b, tab[v >> 18 & 63]);
		buf_putc(b, tab[v >> 12 & 63]);
		buf_putc(b, tab[v >> 6 & 63]);
	}
}

/* Never prompt on a terminal for a passphrase: a daemon has none. */
static int
azuread_jwt_nopass_cb(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

void
azuread_cert_free(struct azuread_cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->thumbprint);
	for (i = 0; i < c->nchain; i++)
		free(c->chain[i]);
	free(c->chain);
	free(c);
}

/* x5c entries are standard base64 (RFC 7515 4.1.6), not base64url. */
static void
azuread_cert_add_chain(struct azuread_cert *c, X509 *x)
{
	unsigned char *der = NULL;
	char *b64;
	int n;

	if ((n = i2d_X509(x, &der)) <= 0)
		fatalx("i2d_X509 failed", NULL);
	b64 = xmalloc(((size_t)n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	OPENSSL_free(der);
	c->chain = xreallocarray(c->chain, c->nchain + 1, sizeof *c->chain);
	c->chain[c->nchain++] = b64;
}

struct azuread_cert *
azuread_cert_load(const char *pem, size_t len, char **cause)
{
	struct azuread_cert *c;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	struct buf b = BUF_INIT;
	X509 *x;
	BIO *bio;

	c = xcalloc(1, sizeof *c);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("BIO_new_mem_buf failed", NULL);
	/* PEM_read_bio_* skip blocks of other types, so order is free. */
	c->key = PEM_read_bio_PrivateKey(bio, NULL, azuread_jwt_nopass_cb,
	    NULL);
	BIO_free(bio);
	if (c->key == NULL) {
		*cause = xstrdup("no unencrypted private key in the PEM "
		    "(encrypted keys are not supported)");
		goto fail;
	}
	if (EVP_PKEY_base_id(c->key) != EVP_PKEY_RSA) {
		*cause = xstrdup("the private key is not RSA (Entra client "
		    "assertions are signed with RSA)");
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("BIO_new_mem_buf failed", NULL);
	c->cert = PEM_read_bio_X509(bio, NULL, azuread_jwt_nopass_cb, NULL);
	if (c->cert == NULL) {
		BIO_free(bio);
		*cause = xstrdup("no certificate in the PEM");
		goto fail;
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		BIO_free(bio);
		*cause = xstrdup("the first certificate does not match the "
		    "private key");
		goto fail;
	}
	/* The whole chain, for x5c (subject name and issuer auth). */
	azuread_cert_add_chain(c, c->cert);
	while ((x = PEM_read_bio_X509(bio, NULL, azuread_jwt_nopass_cb,
	    NULL)) != NULL) {
		azuread_cert_add_chain(c, x);
		X509_free(x);
	}
	BIO_free(bio);
	if (X509_digest(c->cert, EVP_sha256(), md, &mdlen) != 1)
		fatalx("X509_digest failed", NULL);
	azuread_base64url(&b, md, mdlen);
	c->thumbprint = buf_steal(&b);
	ERR_clear_error();
	return c;

fail:
	ERR_clear_error();
	azuread_cert_free(c);
	return NULL;
}

const char *
azuread_cert_thumbprint(const struct azuread_cert *c)
{
	return c->thumbprint;
}

static void
azuread_jwt_part(struct buf *b, json_t *obj)
{
	char *s;

	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		fatalx("json_dumps failed", NULL);
	azuread_base64url(b, s, strlen(s));
	free(s);
}

static void
azuread_jwt_uuid(char *out, size_t len)
{
	unsigned char u[16];

	if (RAND_bytes(u, sizeof u) != 1)
		fatalx("RAND_bytes failed", NULL);
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

char *
azuread_jwt_assertion(const struct azuread_cert *c, const char *client_id,
    const char *aud, int64_t now_s, int x5c, char **cause)
{
	struct buf b = BUF_INIT;
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx;
	unsigned char *sig;
	size_t siglen, i;
	json_t *obj, *chain;
	char jti[37];

	obj = json_pack("{s:s, s:s, s:s}", "alg", "PS256", "typ", "JWT",
	    "x5t#S256", c->thumbprint);
	if (x5c) {
		chain = json_array();
		for (i = 0; i < c->nchain; i++)
			json_array_append_new(chain, json_string(c->chain[i]));
		json_object_set_new(obj, "x5c", chain);
	}
	azuread_jwt_part(&b, obj);
	json_decref(obj);
	buf_putc(&b, '.');
	azuread_jwt_uuid(jti, sizeof jti);
	obj = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud,
	    "iss", client_id, "sub", client_id, "jti", jti,
	    "nbf", (json_int_t)now_s, "iat", (json_int_t)now_s,
	    "exp", (json_int_t)(now_s + AZUREAD_JWT_LIFETIME));
	if (obj == NULL) {
		/* json_pack refuses strings that are not UTF-8. */
		*cause = xstrdup("client_id or tenant is not valid UTF-8");
		buf_free(&b);
		return NULL;
	}
	azuread_jwt_part(&b, obj);
	json_decref(obj);

	if ((md = EVP_MD_CTX_new()) == NULL)
		fatalx("EVP_MD_CTX_new failed", NULL);
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL,
	    c->key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (unsigned char *)b.data,
	    b.len) != 1)
		goto fail;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (unsigned char *)b.data,
	    b.len) != 1) {
		free(sig);
		goto fail;
	}
	EVP_MD_CTX_free(md);
	buf_putc(&b, '.');
	azuread_base64url(&b, sig, siglen);
	free(sig);
	return buf_steal(&b);

fail:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	buf_free(&b);
	*cause = xstrdup("signing the client assertion failed");
	return NULL;
}
