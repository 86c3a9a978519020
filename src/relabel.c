/*
 * Relabeling: Prometheus's relabel_config semantics over sorted label sets.
 *
 * Regexes are RE2 syntax and PCRE2 matches them. PCRE2 accepts much that
 * RE2 rejects (backreferences, lookaround, possessive quantifiers, verbs)
 * and spells a few things differently (\v is a class, \s includes VT, \12
 * may be a backreference, {,n} may be a quantifier), so compilation first
 * walks the pattern with RE2's grammar: that gives RE2's errors, and the
 * walk re-emits every literal and class member as an unambiguous \x{...}.
 * The result is wrapped as \A(?s:...)\z, Prometheus's ^(?s:...)$.
 *
 * Two common shapes never reach PCRE2: "(.*)" (the default) matches any
 * value with $0 = $1 = the value, and a top-level alternation of plain
 * literals ("up|scrape_duration_seconds") is compared bytewise.
 *
 * Templates (replacement, target_label) are parsed once at compile time
 * into text and group references with Go's regexp.Expand rules, so
 * applying a rule never re-reads the template.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/*
 * hashmod uses the low-level MD5 functions: deprecated in OpenSSL 3, but
 * EVP there creates (mallocs) a provider context for every digest. EVP
 * remains for libcrypto built without deprecated APIs.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/opensslconf.h>
#include <openssl/opensslv.h>
#if defined(OPENSSL_NO_DEPRECATED_3_0) || defined(RELABEL_MD5_EVP)
#define RELABEL_USE_EVP 1
#include <openssl/evp.h>
#else
#include <openssl/md5.h>
#endif

#include "arena.h"
#include "buf.h"
#include "labels.h"
#include "relabel.h"
#include "xmalloc.h"

#define RELABEL_DEFAULT_SEPARATOR	";"
#define RELABEL_DEFAULT_REGEX		"(.*)"
#define RELABEL_DEFAULT_REPLACEMENT	"$1"

/* Go's regexp/syntax limits: repeat counts and nesting depth. */
#define RELABEL_MAX_REPEAT	1000
#define RELABEL_MAX_NEST	1000

static const char *relabel_action_names[] = {
	"replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
	"labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
};

enum relabel_re_kind {
	RELABEL_RE_ANY = 0,	/* "(.*)" or ".*": every value matches */
	RELABEL_RE_LITERAL,	/* a|b|c of plain literals */
	RELABEL_RE_PCRE,
};

/*
 * A parsed template. Segments are either text (bytes in text, "$$"
 * already turned into "$") or a group reference: the candidate group
 * numbers in groups[off..off+len), of which the first that took part in
 * the match is used (a name may label several groups, as in Go).
 */
struct relabel_seg {
	size_t	 off;
	size_t	 len;
	int	 group;
};

struct relabel_tmpl {
	struct relabel_seg	*v;
	size_t			 n;
	char			*text;
	uint32_t		*groups;
	size_t			 ngroups;
	int			 dollar;	/* the template has a '$' */
};

struct relabel_lit {
	size_t	off;
	size_t	len;
};

struct relabel_compiled {
	enum relabel_re_kind	 kind;
	uint32_t		 npairs;	/* capture groups + 1 */
	pcre2_code		*code;
	pcre2_match_data	*md;
	int			 jit;
	char			*prefix;	/* every match has it */
	size_t			 prelen;
	char			*suffix;	/* ... and ends with it */
	size_t			 suflen;

	char			*lits;		/* RE_LITERAL */
	struct lstr		*litv;		/* sorted, into lits */
	size_t			 nlit;

	struct lstr		*src;		/* source label names */
	struct lstr		 target;	/* target_label as written */
	struct relabel_tmpl	 ttarget;
	struct relabel_tmpl	 trepl;
	int			 fixed;		/* constant result */

	struct buf		 join;		/* joined sources */
#ifdef RELABEL_USE_EVP
	EVP_MD			*md5;
	EVP_MD_CTX		*md5ctx;
#endif
	locale_t		 loc;		/* C.UTF-8 */
};

/* ------------------------------------------------------------------ */
/* Rules and rule lists.                                              */
/* ------------------------------------------------------------------ */

struct relabel_rule *
relabel_rule_create(void)
{
	struct relabel_rule *r;

	r = xcalloc(1, sizeof *r);
	r->separator = xstrdup(RELABEL_DEFAULT_SEPARATOR);
	r->regex = xstrdup(RELABEL_DEFAULT_REGEX);
	r->replacement = xstrdup(RELABEL_DEFAULT_REPLACEMENT);
	r->action = RELABEL_REPLACE;
	return r;
}

static void
relabel_tmpl_free(struct relabel_tmpl *t)
{
	free(t->v);
	free(t->text);
	free(t->groups);
	memset(t, 0, sizeof *t);
}

static void
relabel_compiled_free(struct relabel_compiled *c)
{
	if (c == NULL)
		return;
	pcre2_match_data_free(c->md);
	pcre2_code_free(c->code);
	free(c->prefix);
	free(c->suffix);
	free(c->lits);
	free(c->litv);
	free(c->src);
	relabel_tmpl_free(&c->ttarget);
	relabel_tmpl_free(&c->trepl);
	buf_free(&c->join);
#ifdef RELABEL_USE_EVP
	EVP_MD_CTX_free(c->md5ctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MD_free(c->md5);
#endif
#endif
	if (c->loc != (locale_t)0)
		freelocale(c->loc);
	free(c);
}

void
relabel_rule_free(struct relabel_rule *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->source_labels != NULL) {
		for (i = 0; i < r->nsource; i++)
			free(r->source_labels[i]);
		free(r->source_labels);
	}
	free(r->separator);
	free(r->regex);
	free(r->target_label);
	free(r->replacement);
	relabel_compiled_free(r->compiled);
	free(r);
}

int
relabel_action_parse(const char *s, enum relabel_action *out)
{
	size_t i;

	for (i = 0; i < sizeof relabel_action_names /
	    sizeof relabel_action_names[0]; i++) {
		if (strcasecmp(s, relabel_action_names[i]) == 0) {
			*out = (enum relabel_action)i;
			return 0;
		}
	}
	return -1;
}

const char *
relabel_action_name(enum relabel_action a)
{
	if ((size_t)a >= sizeof relabel_action_names /
	    sizeof relabel_action_names[0])
		return "unknown";
	return relabel_action_names[a];
}

int
relabel_rule_set_action(struct relabel_rule *r, const char *s, char **cause)
{
	if (s == NULL || *s == '\0') {
		*cause = xstrdup("relabel action cannot be empty");
		return -1;
	}
	if (relabel_action_parse(s, &r->action) != 0) {
		xasprintf(cause, "unknown relabel action \"%s\"", s);
		return -1;
	}
	return 0;
}

void
relabel_rules_add(struct relabel_rules *rs, struct relabel_rule *r)
{
	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof *rs->v);
	rs->v[rs->n++] = r;
}

void
relabel_rules_free(struct relabel_rules *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		relabel_rule_free(rs->v[i]);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers.                                                     */
/* ------------------------------------------------------------------ */

static int
relabel_is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static int
relabel_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Decode one strict UTF-8 sequence (no overlongs or surrogates). Returns
 * its length, or 0 and U+FFFD when invalid.
 */
static size_t
relabel_utf8_decode(const char *s, size_t n, uint32_t *out)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t len, i;

	*out = 0xfffd;
	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*out = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*out = cp;
	return len;
}

static size_t
relabel_utf8_len(uint32_t cp)
{
	if (cp < 0x80)
		return 1;
	if (cp < 0x800)
		return 2;
	if (cp < 0x10000)
		return 3;
	return 4;
}

static size_t
relabel_utf8_encode(uint32_t cp, char *out)
{
	unsigned char *p = (unsigned char *)out;

	if (cp < 0x80) {
		p[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (unsigned char)(0xc0 | (cp >> 6));
		p[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (unsigned char)(0xe0 | (cp >> 12));
		p[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (unsigned char)(0xf0 | (cp >> 18));
	p[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string quoted as Go's %q does, for error messages. */
static void
relabel_quote(struct buf *b, const char *s)
{
	size_t i, n = strlen(s), k;
	uint32_t cp;

	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			continue;
		case '\\':
			buf_puts(b, "\\\\");
			continue;
		case '\a':
			buf_puts(b, "\\a");
			continue;
		case '\b':
			buf_puts(b, "\\b");
			continue;
		case '\f':
			buf_puts(b, "\\f");
			continue;
		case '\n':
			buf_puts(b, "\\n");
			continue;
		case '\r':
			buf_puts(b, "\\r");
			continue;
		case '\t':
			buf_puts(b, "\\t");
			continue;
		case '\v':
			buf_puts(b, "\\v");
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\x%02x", c);
			continue;
		}
		if (c < 0x80) {
			buf_putc(b, (char)c);
			continue;
		}
		if ((k = relabel_utf8_decode(s + i, n - i, &cp)) == 0) {
			buf_printf(b, "\\x%02x", c);
			continue;
		}
		buf_append(b, s + i, k);
		i += k - 1;
	}
	buf_putc(b, '"');
}

/* ------------------------------------------------------------------ */
/* RE2 syntax to PCRE2.                                               */
/* ------------------------------------------------------------------ */

enum relabel_xl_prev {
	RELABEL_XL_NONE = 0,	/* start, after '(' or '|' */
	RELABEL_XL_ATOM,
	RELABEL_XL_FLAGS,	/* after (?i): Go repeats the item before it */
};

struct relabel_xl {
	const char	*s;
	size_t		 n;
	size_t		 p;
	struct buf	 out;
	char		*err;

	uint32_t	 ncap;
	char		**names;	/* [group]: name or NULL, 1..ncap */
	size_t		 namescap;

	int		 literal;	/* still plain top-level literals */
	struct buf	 lit;
	struct relabel_lit *litv;
	size_t		 nlit;
	size_t		 litcap;

	/*
	 * Literal text every match must start and end with, to reject most
	 * values before PCRE2 runs. Void with a top-level '|' or (?i).
	 */
	struct buf	 pre;
	int		 pre_open;
	struct buf	 suf;
	int		 suf_dollar;	/* suf is followed by '$' only */
	int		 suf_in_pre;	/* suf overlaps pre */
	size_t		 last_lit;	/* bytes of the last literal */
	int		 last_in_pre;
	int		 void_affixes;
};

static void
relabel_xl_free(struct relabel_xl *xl)
{
	uint32_t i;

	buf_free(&xl->out);
	buf_free(&xl->lit);
	buf_free(&xl->pre);
	buf_free(&xl->suf);
	free(xl->err);
	if (xl->names != NULL) {
		for (i = 0; i <= xl->ncap; i++)
			free(xl->names[i]);
		free(xl->names);
	}
	free(xl->litv);
}

/* Go's regexp error text, plus an optional hint for PCRE-only syntax. */
static int
relabel_xl_fail(struct relabel_xl *xl, const char *code, const char *expr,
    size_t len, const char *hint)
{
	if (xl->err != NULL)
		return -1;
	xasprintf(&xl->err, "error parsing regexp: %s: `%.*s`%s%s%s", code,
	    (int)len, expr, hint != NULL ? " (" : "",
	    hint != NULL ? hint : "", hint != NULL ? ")" : "");
	return -1;
}

static void
relabel_xl_lit_end(struct relabel_xl *xl)
{
	size_t start = 0;

	if (xl->nlit != 0)
		start = xl->litv[xl->nlit - 1].off + xl->litv[xl->nlit - 1].len;
	if (xl->nlit == xl->litcap) {
		xl->litcap = xl->litcap == 0 ? 4 : xl->litcap * 2;
		xl->litv = xreallocarray(xl->litv, xl->litcap,
		    sizeof *xl->litv);
	}
	xl->litv[xl->nlit].off = start;
	xl->litv[xl->nlit].len = xl->lit.len - start;
	xl->nlit++;
}

/* Emit one code point as a literal, inside a class or not. */
static void
relabel_xl_emit_cp(struct buf *b, uint32_t cp)
{
	if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
	    (cp >= '0' && cp <= '9'))
		buf_putc(b, (char)cp);
	else
		buf_printf(b, "\\x{%x}", (unsigned)cp);
}

/* Any item that is not a literal character. */
static void
relabel_xl_token(struct relabel_xl *xl)
{
	xl->literal = 0;
	xl->pre_open = 0;
	buf_reset(&xl->suf);
	xl->suf_dollar = 0;
	xl->last_lit = 0;
}

/* A literal outside a class. Surrogates exist in Go but match nothing. */
static void
relabel_xl_literal(struct relabel_xl *xl, uint32_t cp)
{
	char u[4];
	size_t k;

	if (cp >= 0xd800 && cp <= 0xdfff) {
		buf_puts(&xl->out, "[^\\x{0}-\\x{10ffff}]");
		relabel_xl_token(xl);
		return;
	}
	relabel_xl_emit_cp(&xl->out, cp);
	k = relabel_utf8_encode(cp, u);
	if (xl->literal)
		buf_append(&xl->lit, u, k);
	xl->last_in_pre = xl->pre_open;
	if (xl->pre_open)
		buf_append(&xl->pre, u, k);
	if (xl->suf_dollar) {
		buf_reset(&xl->suf);
		xl->suf_dollar = 0;
	}
	if (xl->suf.len == 0)
		xl->suf_in_pre = xl->last_in_pre;
	buf_append(&xl->suf, u, k);
	xl->last_lit = k;
}

/*
 * Go's parseEscape: the escapes that stand for one character, valid both
 * inside and outside classes. xl->p is at the backslash.
 */
static int
relabel_xl_escape(struct relabel_xl *xl, uint32_t *out)
{
	const char *s = xl->s, *start = xl->s + xl->p;
	size_t p = xl->p + 1, n = xl->n, k;
	uint32_t c, v;
	int i;

	*out = 0xfffd;
	if (p >= n)
		return relabel_xl_fail(xl,
		    "trailing backslash at end of expression", "", 0, NULL);
	if ((k = relabel_utf8_decode(s + p, n - p, &c)) == 0)
		k = 1;
	p += k;
	switch (c) {
	case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		if (p >= n || s[p] < '0' || s[p] > '7')
			return relabel_xl_fail(xl, "invalid escape sequence",
			    start, 2, "backreferences are not supported");
		/* FALLTHROUGH */
	case '0':
		v = c - '0';
		for (i = 1; i < 3; i++) {
			if (p >= n || s[p] < '0' || s[p] > '7')
				break;
			v = v * 8 + (uint32_t)(s[p] - '0');
			p++;
		}
		*out = v;
		xl->p = p;
		return 0;
	case 'x':
		if (p >= n)
			break;
		if (s[p] == '{') {
			size_t q = p + 1, nd = 0;

			v = 0;
			while (q < n && s[q] != '}') {
				int h;

				if (s[q] >= '0' && s[q] <= '9')
					h = s[q] - '0';
				else if (s[q] >= 'a' && s[q] <= 'f')
					h = s[q] - 'a' + 10;
				else if (s[q] >= 'A' && s[q] <= 'F')
					h = s[q] - 'A' + 10;
				else
					break;
				v = v * 16 + (uint32_t)h;
				if (v > 0x10ffff)
					break;
				nd++;
				q++;
			}
			if (q >= n || s[q] != '}' || nd == 0 || v > 0x10ffff)
				return relabel_xl_fail(xl,
				    "invalid escape sequence", start,
				    (q < n ? q + 1 : n) - xl->p, NULL);
			*out = v;
			xl->p = q + 1;
			return 0;
		}
		v = 0;
		for (i = 0; i < 2; i++) {
			int h;

			if (p >= n)
				break;
			if (s[p] >= '0' && s[p] <= '9')
				h = s[p] - '0';
			else if (s[p] >= 'a' && s[p] <= 'f')
				h = s[p] - 'a' + 10;
			else if (s[p] >= 'A' && s[p] <= 'F')
				h = s[p] - 'A' + 10;
			else
				break;
			v = v * 16 + (uint32_t)h;
			p++;
		}
		if (i != 2)
			return relabel_xl_fail(xl, "invalid escape sequence",
			    start, p - xl->p, NULL);
		*out = v;
		xl->p = p;
		return 0;
	case 'a':
		*out = 7;
		xl->p = p;
		return 0;
	case 'f':
		*out = 12;
		xl->p = p;
		return 0;
	case 'n':
		*out = 10;
		xl->p = p;
		return 0;
	case 'r':
		*out = 13;
		xl->p = p;
		return 0;
	case 't':
		*out = 9;
		xl->p = p;
		return 0;
	case 'v':
		*out = 11;
		xl->p = p;
		return 0;
	default:
		if (c < 0x80 && !relabel_is_word((unsigned char)c)) {
			*out = c;
			xl->p = p;
			return 0;
		}
		if (c == '_') {
			*out = c;
			xl->p = p;
			return 0;
		}
		break;
	}
	switch (c) {
	case '8': case '9': case 'g': case 'k':
		return relabel_xl_fail(xl, "invalid escape sequence", start,
		    p - xl->p, "backreferences are not supported");
	case 'K':
		return relabel_xl_fail(xl, "invalid escape sequence", start,
		    p - xl->p, "\\K is not supported");
	case 'Z':
		return relabel_xl_fail(xl, "invalid escape sequence", start,
		    p - xl->p, "use \\z");
	default:
		return relabel_xl_fail(xl, "invalid escape sequence", start,
		    p - xl->p, NULL);
	}
}

/* Does PCRE2 know the Unicode property? Asked once per use, at load. */
static int
relabel_xl_property_known(const char *name, size_t len)
{
	pcre2_code *re;
	char *pat;
	PCRE2_SIZE off;
	int err;

	xasprintf(&pat, "\\p{%.*s}", (int)len, name);
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
	    &err, &off, NULL);
	free(pat);
	pcre2_code_free(re);
	return re != NULL;
}

/* \pL, \p{Greek}, \P{^Lu}: xl->p at the backslash. */
static int
relabel_xl_unicode_class(struct relabel_xl *xl, struct buf *b)
{
	const char *s = xl->s, *start = s + xl->p, *name;
	size_t p = xl->p + 2, n = xl->n, len, i, q;
	int negate = s[xl->p + 1] == 'P';
	uint32_t c;

	if (p >= n)
		return relabel_xl_fail(xl, "invalid character class range",
		    start, 2, NULL);
	if (s[p] != '{') {
		if ((len = relabel_utf8_decode(s + p, n - p, &c)) == 0)
			len = 1;
		name = s + p;
		p += len;
	} else {
		for (q = p; q < n && s[q] != '}'; q++)
			;
		if (q >= n)
			return relabel_xl_fail(xl,
			    "invalid character class range", start,
			    n - xl->p, NULL);
		name = s + p + 1;
		len = q - p - 1;
		p = q + 1;
	}
	if (len > 0 && name[0] == '^') {
		negate = !negate;
		name++;
		len--;
	}
	/*
	 * Go knows "Any", the general categories and the scripts, all
	 * capitalised words; PCRE2 checks that the name exists (it is more
	 * lenient about case than RE2 past the first letter).
	 */
	if (len == 0 || name[0] < 'A' || name[0] > 'Z')
		goto bad;
	for (i = 1; i < len; i++) {
		if (!relabel_is_word((unsigned char)name[i]))
			goto bad;
	}
	if (!relabel_xl_property_known(name, len))
		goto bad;
	buf_printf(b, "\\%c{%.*s}", negate ? 'P' : 'p', (int)len, name);
	xl->p = p;
	return 0;
bad:
	return relabel_xl_fail(xl, "invalid character class range", start,
	    p - xl->p, NULL);
}

/*
 * \d \D \s \S \w \W. RE2's \s is [\t\n\f\r ], without PCRE2's \v (VT);
 * inside a class the complement is spelled out so it works negated too.
 */
static int
relabel_xl_perl_class(char c, int in_class, struct buf *b)
{
	switch (c) {
	case 'd':
	case 'D':
	case 'w':
	case 'W':
		buf_putc(b, '\\');
		buf_putc(b, c);
		return 1;
	case 's':
		buf_puts(b, in_class ? "\\x{9}\\x{a}\\x{c}\\x{d}\\x{20}" :
		    "[\\x{9}\\x{a}\\x{c}\\x{d}\\x{20}]");
		return 1;
	case 'S':
		buf_puts(b, in_class ?
		    "\\x{0}-\\x{8}\\x{b}\\x{e}-\\x{1f}\\x{21}-\\x{10ffff}" :
		    "[^\\x{9}\\x{a}\\x{c}\\x{d}\\x{20}]");
		return 1;
	}
	return 0;
}

/* A class member range, leaving out surrogates (PCRE2 forbids them). */
static void
relabel_xl_class_range(struct buf *b, uint32_t lo, uint32_t hi)
{
	if (lo <= 0xdfff && hi >= 0xd800) {
		if (lo < 0xd800)
			relabel_xl_class_range(b, lo, 0xd7ff);
		if (hi > 0xdfff)
			relabel_xl_class_range(b, 0xe000, hi);
		return;
	}
	relabel_xl_emit_cp(b, lo);
	if (hi != lo) {
		buf_putc(b, '-');
		relabel_xl_emit_cp(b, hi);
	}
}

/* Go's parseClassChar. */
static int
relabel_xl_class_char(struct relabel_xl *xl, size_t cstart, uint32_t *out)
{
	size_t k;

	if (xl->p >= xl->n)
		return relabel_xl_fail(xl, "missing closing ]",
		    xl->s + cstart, xl->n - cstart, NULL);
	if (xl->s[xl->p] == '\\')
		return relabel_xl_escape(xl, out);
	k = relabel_utf8_decode(xl->s + xl->p, xl->n - xl->p, out);
	xl->p += k != 0 ? k : 1;
	return 0;
}

static const char *relabel_posix_classes[] = {
	"alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
	"lower", "print", "punct", "space", "upper", "word", "xdigit",
};

/* A bracket class; xl->p at '['. */
static int
relabel_xl_class(struct relabel_xl *xl)
{
	const char *s = xl->s;
	size_t cstart = xl->p, n = xl->n, i, q, len;
	struct buf body = BUF_INIT;
	uint32_t lo, hi;
	int negate = 0, first = 1, found;

	xl->p++;
	if (xl->p < n && s[xl->p] == '^') {
		negate = 1;
		xl->p++;
	}
	while (xl->p >= n || s[xl->p] != ']' || first) {
		if (xl->p >= n) {
			relabel_xl_fail(xl, "missing closing ]", s + cstart,
			    n - cstart, NULL);
			goto fail;
		}
		first = 0;
		if (s[xl->p] == '[' && xl->p + 1 < n && s[xl->p + 1] == ':') {
			for (q = xl->p + 2; q + 1 < n; q++) {
				if (s[q] == ':' && s[q + 1] == ']')
					break;
			}
			if (q + 1 < n) {
				const char *name = s + xl->p + 2;
				int neg = 0;

				len = q - (xl->p + 2);
				if (len > 0 && name[0] == '^') {
					neg = 1;
					name++;
					len--;
				}
				found = 0;
				for (i = 0; i < sizeof relabel_posix_classes /
				    sizeof relabel_posix_classes[0]; i++) {
					if (strlen(relabel_posix_classes[i]) ==
					    len && memcmp(name,
					    relabel_posix_classes[i], len) == 0)
						found = 1;
				}
				if (!found) {
					relabel_xl_fail(xl,
					    "invalid character class range",
					    s + xl->p, q + 2 - xl->p, NULL);
					goto fail;
				}
				buf_printf(&body, "[:%s%.*s:]", neg ? "^" : "",
				    (int)len, name);
				xl->p = q + 2;
				continue;
			}
		}
		if (s[xl->p] == '\\' && xl->p + 1 < n &&
		    (s[xl->p + 1] == 'p' || s[xl->p + 1] == 'P')) {
			if (relabel_xl_unicode_class(xl, &body) != 0)
				goto fail;
			continue;
		}
		if (s[xl->p] == '\\' && xl->p + 1 < n &&
		    relabel_xl_perl_class(s[xl->p + 1], 1, &body)) {
			xl->p += 2;
			continue;
		}
		len = xl->p;
		if (relabel_xl_class_char(xl, cstart, &lo) != 0)
			goto fail;
		hi = lo;
		if (xl->p + 1 < n && s[xl->p] == '-' && s[xl->p + 1] != ']') {
			xl->p++;
			if (relabel_xl_class_char(xl, cstart, &hi) != 0)
				goto fail;
			if (hi < lo) {
				relabel_xl_fail(xl,
				    "invalid character class range", s + len,
				    xl->p - len, NULL);
				goto fail;
			}
		}
		if (lo >= 0xd800 && hi <= 0xdfff)
			continue;	/* matches nothing in Go either */
		relabel_xl_class_range(&body, lo, hi);
	}
	xl->p++;
	if (body.len == 0) {
		/* Only surrogates: nothing, or anything when negated. */
		buf_puts(&xl->out, negate ? "[\\x{0}-\\x{10ffff}]" :
		    "[^\\x{0}-\\x{10ffff}]");
	} else {
		buf_puts(&xl->out, negate ? "[^" : "[");
		buf_append(&xl->out, body.data, body.len);
		buf_putc(&xl->out, ']');
	}
	buf_free(&body);
	return 0;
fail:
	buf_free(&body);
	return -1;
}

/* Go's parseInt for repeat counts: no leading zeros, -1 when too big. */
static int
relabel_xl_int(const char *s, size_t n, size_t *p, long *out)
{
	size_t q = *p;
	long v = 0;

	if (q >= n || !relabel_is_digit((unsigned char)s[q]))
		return 0;
	if (q + 1 < n && s[q] == '0' &&
	    relabel_is_digit((unsigned char)s[q + 1]))
		return 0;
	for (; q < n && relabel_is_digit((unsigned char)s[q]); q++) {
		if (v >= 100000000)
			v = -1;
		if (v >= 0)
			v = v * 10 + (s[q] - '0');
	}
	*p = q;
	*out = v;
	return 1;
}

/* {n}, {n,} or {n,m}; returns 0 when '{' is a literal. */
static int
relabel_xl_repeat(const char *s, size_t n, size_t p, long *min, long *max,
    size_t *end)
{
	if (p >= n || s[p] != '{')
		return 0;
	p++;
	if (!relabel_xl_int(s, n, &p, min))
		return 0;
	if (p >= n)
		return 0;
	if (s[p] != ',')
		*max = *min;
	else {
		p++;
		if (p >= n)
			return 0;
		if (s[p] == '}')
			*max = -1;
		else if (!relabel_xl_int(s, n, &p, max))
			return 0;
		else if (*max < 0)
			*min = -1;
	}
	if (p >= n || s[p] != '}')
		return 0;
	*end = p + 1;
	return 1;
}

/* Make room for group xl->ncap and record its name (NULL: unnamed). */
static void
relabel_xl_add_name(struct relabel_xl *xl, const char *name, size_t len)
{
	size_t want = (size_t)xl->ncap + 1;

	if (want > xl->namescap) {
		size_t old = xl->namescap;

		xl->namescap = want < 8 ? 8 : want * 2;
		xl->names = xreallocarray(xl->names, xl->namescap,
		    sizeof *xl->names);
		memset(xl->names + old, 0,
		    (xl->namescap - old) * sizeof *xl->names);
	}
	if (name != NULL)
		xl->names[xl->ncap] = xstrndup(name, len);
}

/*
 * "(?" constructs: named captures, flag groups and the non-capturing
 * group. Everything else is PCRE syntax RE2 rejects. Returns 1 for a
 * group opened, 0 for flags only, -1 on error.
 */
static int
relabel_xl_perl(struct relabel_xl *xl)
{
	const char *s = xl->s, *t = xl->s + xl->p;
	size_t p = xl->p, n = xl->n, rest = n - p, q, nstart, i;
	int sign = 1, saw = 0;
	char c;

	if (rest > 3 && (t[2] == '<' || (rest > 4 && t[2] == 'P' &&
	    t[3] == '<'))) {
		if (t[2] == '<' && (t[3] == '=' || t[3] == '!'))
			return relabel_xl_fail(xl,
			    "invalid or unsupported Perl syntax", t, 4,
			    "lookbehind is not supported");
		nstart = p + (t[2] == '<' ? 3 : 4);
		for (q = nstart; q < n && s[q] != '>'; q++)
			;
		if (q >= n)
			return relabel_xl_fail(xl, "invalid named capture", t,
			    rest, NULL);
		if (q == nstart)
			goto badname;
		for (i = nstart; i < q; i++) {
			if (!relabel_is_word((unsigned char)s[i]))
				goto badname;
		}
		xl->ncap++;
		relabel_xl_add_name(xl, s + nstart, q - nstart);
		buf_putc(&xl->out, '(');
		xl->p = q + 1;
		return 1;
badname:
		return relabel_xl_fail(xl, "invalid named capture", t,
		    q + 1 - p, NULL);
	}

	for (q = p + 2; q < n; q++) {
		c = s[q];
		switch (c) {
		case 'i':
			xl->void_affixes = 1;	/* case-folded literals */
			saw = 1;
			continue;
		case 'm':
		case 's':
		case 'U':
			saw = 1;
			continue;
		case '-':
			if (sign < 0)
				goto bad;
			sign = -1;
			saw = 0;
			continue;
		case ':':
		case ')':
			if (sign < 0 && !saw)
				goto bad;
			if (c == ':') {
				buf_append(&xl->out, t, q + 1 - p);
				xl->p = q + 1;
				return 1;
			}
			/* "(?)" is a no-op in Go and an error in PCRE2. */
			if (q > p + 2)
				buf_append(&xl->out, t, q + 1 - p);
			xl->p = q + 1;
			return 0;
		default:
			goto bad;
		}
	}
bad:
	if (q >= n)
		return relabel_xl_fail(xl, "invalid or unsupported Perl syntax",
		    t, rest, NULL);
	{
		const char *hint = NULL;

		if (q == p + 2) {
			switch (s[q]) {
			case '=':
			case '!':
				hint = "lookahead is not supported";
				break;
			case '>':
				hint = "atomic groups are not supported";
				break;
			case '#':
				hint = "comments are not supported";
				break;
			case '(':
				hint = "conditionals are not supported";
				break;
			case 'C':
				hint = "callouts are not supported";
				break;
			case 'R': case '0': case '1': case '2': case '3':
			case '4': case '5': case '6': case '7': case '8':
			case '9': case '+': case '&':
				hint = "recursion is not supported";
				break;
			case 'P':
				if (q + 1 < n && s[q + 1] == '=')
					hint = "backreferences are not "
					    "supported";
				else if (q + 1 < n && s[q + 1] == '>')
					hint = "recursion is not supported";
				break;
			case '|':
				hint = "branch reset is not supported";
				break;
			case '\'':
				hint = "use (?P<name>re) or (?<name>re)";
				break;
			}
		}
		return relabel_xl_fail(xl, "invalid or unsupported Perl syntax",
		    t, q + 1 - p, hint);
	}
}

/*
 * Translate xl->s. On success xl->out holds the PCRE2 body (without the
 * \A(?s:...)\z wrapper) and, when xl->literal, xl->litv the alternatives.
 */
static int
relabel_xl_run(struct relabel_xl *xl)
{
	const char *s = xl->s;
	size_t n = xl->n, rstart = 0, q, k;
	enum relabel_xl_prev prev = RELABEL_XL_NONE;
	int depth = 0, repeated = 0, r;
	long min, max;
	uint32_t cp;

	if (!labels_valid_utf8((struct lstr){ s, n }))
		return relabel_xl_fail(xl, "invalid UTF-8", s, n, NULL);
	xl->literal = 1;
	xl->pre_open = 1;
	relabel_xl_add_name(xl, NULL, 0);
	while (xl->p < n) {
		int was_repeat = repeated;
		char c = s[xl->p];

		repeated = 0;
		switch (c) {
		case '(':
			if (++depth > RELABEL_MAX_NEST)
				return relabel_xl_fail(xl,
				    "expression nests too deeply", s, n, NULL);
			relabel_xl_token(xl);
			if (xl->p + 1 < n && s[xl->p + 1] == '?') {
				if ((r = relabel_xl_perl(xl)) < 0)
					return -1;
				if (r == 0) {
					depth--;
					if (prev != RELABEL_XL_NONE)
						prev = RELABEL_XL_FLAGS;
					repeated = was_repeat;
				} else
					prev = RELABEL_XL_NONE;
				continue;
			}
			if (xl->p + 1 < n && s[xl->p + 1] == '*')
				return relabel_xl_fail(xl,
				    "missing argument to repetition operator",
				    "*", 1, "PCRE verbs are not supported");
			xl->ncap++;
			relabel_xl_add_name(xl, NULL, 0);
			buf_putc(&xl->out, '(');
			xl->p++;
			prev = RELABEL_XL_NONE;
			continue;
		case '|':
			if (depth == 0 && xl->literal)
				relabel_xl_lit_end(xl);
			if (depth == 0)
				xl->void_affixes = 1;
			buf_putc(&xl->out, '|');
			xl->p++;
			prev = RELABEL_XL_NONE;
			continue;
		case ')':
			if (depth == 0)
				return relabel_xl_fail(xl, "unexpected )", s, n,
				    NULL);
			depth--;
			relabel_xl_token(xl);
			buf_putc(&xl->out, ')');
			xl->p++;
			prev = RELABEL_XL_ATOM;
			continue;
		case '^':
			/* Grouped: RE2 lets empty-width assertions repeat. */
			buf_puts(&xl->out, "(?:^)");
			if (xl->p == 0) {
				/* Leading: \A whatever the flags. */
				xl->literal = 0;
				xl->last_lit = 0;
			} else
				relabel_xl_token(xl);
			xl->p++;
			prev = RELABEL_XL_ATOM;
			continue;
		case '$':
			buf_puts(&xl->out, "(?:$)");
			if (depth == 0) {
				/* Only text after it would break the suffix. */
				xl->literal = 0;
				xl->pre_open = 0;
				xl->last_lit = 0;
				xl->suf_dollar = 1;
			} else
				relabel_xl_token(xl);
			xl->p++;
			prev = RELABEL_XL_ATOM;
			continue;
		case '.':
			buf_putc(&xl->out, '.');
			relabel_xl_token(xl);
			xl->p++;
			prev = RELABEL_XL_ATOM;
			continue;
		case '[':
			relabel_xl_token(xl);
			if (relabel_xl_class(xl) != 0)
				return -1;
			prev = RELABEL_XL_ATOM;
			continue;
		case '*':
		case '+':
		case '?':
		case '{':
			q = xl->p;
			if (c == '{') {
				if (!relabel_xl_repeat(s, n, xl->p, &min, &max,
				    &q)) {
					/* Not a repeat: a literal '{'. */
					relabel_xl_literal(xl, '{');
					xl->p++;
					prev = RELABEL_XL_ATOM;
					continue;
				}
				if (min < 0 || min > RELABEL_MAX_REPEAT ||
				    max > RELABEL_MAX_REPEAT ||
				    (max >= 0 && min > max))
					return relabel_xl_fail(xl,
					    "invalid repeat count", s + xl->p,
					    q - xl->p, NULL);
			} else
				q = xl->p + 1;
			if (q < n && s[q] == '?')
				q++;
			if (was_repeat)
				return relabel_xl_fail(xl,
				    "invalid nested repetition operator",
				    s + rstart, q - rstart,
				    "possessive and stacked quantifiers are "
				    "not supported");
			if (prev == RELABEL_XL_NONE)
				return relabel_xl_fail(xl,
				    "missing argument to repetition operator",
				    s + xl->p, q - xl->p, NULL);
			if (prev == RELABEL_XL_FLAGS)
				return relabel_xl_fail(xl,
				    "missing argument to repetition operator",
				    s + xl->p, q - xl->p,
				    "a repetition may not follow a flag group");
			if (c == '{') {
				if (max == min)
					buf_printf(&xl->out, "{%ld}", min);
				else if (max < 0)
					buf_printf(&xl->out, "{%ld,}", min);
				else
					buf_printf(&xl->out, "{%ld,%ld}", min,
					    max);
				if (s[q - 1] == '?')
					buf_putc(&xl->out, '?');
			} else
				buf_append(&xl->out, s + xl->p, q - xl->p);
			/* The repeated literal is optional or repeated. */
			if (xl->last_lit != 0 && xl->last_in_pre)
				xl->pre.len -= xl->last_lit;
			relabel_xl_token(xl);
			rstart = xl->p;
			xl->p = q;
			repeated = 1;
			continue;
		case '\\':
			break;
		default:
			if ((k = relabel_utf8_decode(s + xl->p, n - xl->p,
			    &cp)) == 0)
				k = 1;	/* cannot happen: validated */
			relabel_xl_literal(xl, cp);
			xl->p += k;
			prev = RELABEL_XL_ATOM;
			continue;
		}

		/* Backslash. */
		if (xl->p + 1 >= n)
			return relabel_xl_fail(xl,
			    "trailing backslash at end of expression", "", 0,
			    NULL);
		c = s[xl->p + 1];
		switch (c) {
		case 'A':
		case 'z':
		case 'b':
		case 'B':
			buf_printf(&xl->out, "(?:\\%c)", c);
			relabel_xl_token(xl);
			xl->p += 2;
			prev = RELABEL_XL_ATOM;
			continue;
		case 'C':
			return relabel_xl_fail(xl, "invalid escape sequence",
			    "\\C", 2, "\\C is not supported");
		case 'Q':
			q = xl->p + 2;
			for (k = q; k + 1 < n; k++) {
				if (s[k] == '\\' && s[k + 1] == 'E')
					break;
			}
			if (k + 1 >= n)
				k = n;
			while (q < k) {
				size_t m;

				if ((m = relabel_utf8_decode(s + q, k - q,
				    &cp)) == 0)
					m = 1;
				relabel_xl_literal(xl, cp);
				prev = RELABEL_XL_ATOM;
				q += m;
			}
			xl->p = k < n ? k + 2 : n;
			continue;
		case 'p':
		case 'P':
			relabel_xl_token(xl);
			if (relabel_xl_unicode_class(xl, &xl->out) != 0)
				return -1;
			prev = RELABEL_XL_ATOM;
			continue;
		}
		if (relabel_xl_perl_class(c, 0, &xl->out)) {
			relabel_xl_token(xl);
			xl->p += 2;
			prev = RELABEL_XL_ATOM;
			continue;
		}
		if (relabel_xl_escape(xl, &cp) != 0)
			return -1;
		relabel_xl_literal(xl, cp);
		prev = RELABEL_XL_ATOM;
	}
	if (depth != 0)
		return relabel_xl_fail(xl, "missing closing )", s, n, NULL);
	if (xl->literal)
		relabel_xl_lit_end(xl);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Templates ($1, ${1}, $name, ${name}, $$) with Go's Expand rules.   */
/* ------------------------------------------------------------------ */

static void
relabel_tmpl_push(struct relabel_tmpl *t, size_t off, size_t len, int group)
{
	if (!group && len == 0)
		return;
	if (!group && t->n != 0 && !t->v[t->n - 1].group &&
	    t->v[t->n - 1].off + t->v[t->n - 1].len == off) {
		t->v[t->n - 1].len += len;
		return;
	}
	t->v = xreallocarray(t->v, t->n + 1, sizeof *t->v);
	t->v[t->n].off = off;
	t->v[t->n].len = len;
	t->v[t->n].group = group;
	t->n++;
}

/*
 * The length of the non-ASCII letter or digit (Unicode L or Nd, as Go's
 * unicode.IsLetter/IsDigit) at s, or 0. Only templates with non-ASCII
 * text after a '$' get here, at config load.
 */
static size_t
relabel_tmpl_wide_name_char(const char *s, size_t n, pcre2_code **re)
{
	pcre2_match_data *md;
	uint32_t cp;
	size_t k;
	int rc, err;
	PCRE2_SIZE off;

	if ((k = relabel_utf8_decode(s, n, &cp)) == 0)
		return 0;
	if (*re == NULL) {
		*re = pcre2_compile((PCRE2_SPTR)"\\A[\\p{L}\\p{Nd}]\\z",
		    PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
		if (*re == NULL)
			return 0;
	}
	md = pcre2_match_data_create(1, NULL);
	rc = pcre2_match(*re, (PCRE2_SPTR)s, k, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc > 0 ? k : 0;
}

static void
relabel_tmpl_parse(struct relabel_tmpl *t, const char *tmpl,
    char *const *names, uint32_t ncap)
{
	struct buf text = BUF_INIT;
	size_t n = strlen(tmpl), i = 0, j, k, e, end, m;
	pcre2_code *wide = NULL;
	long num;
	uint32_t g;
	int brace;

	memset(t, 0, sizeof *t);
	t->dollar = strchr(tmpl, '$') != NULL;
	while (i < n) {
		const char *d = memchr(tmpl + i, '$', n - i);

		if (d == NULL) {
			relabel_tmpl_push(t, text.len, n - i, 0);
			buf_append(&text, tmpl + i, n - i);
			break;
		}
		j = (size_t)(d - tmpl);
		relabel_tmpl_push(t, text.len, j - i, 0);
		buf_append(&text, tmpl + i, j - i);
		i = j + 1;
		if (i < n && tmpl[i] == '$') {
			relabel_tmpl_push(t, text.len, 1, 0);
			buf_putc(&text, '$');
			i++;
			continue;
		}
		brace = i < n && tmpl[i] == '{';
		k = i + (brace ? 1 : 0);
		for (e = k; e < n;) {
			if (relabel_is_word((unsigned char)tmpl[e]))
				e++;
			else if ((unsigned char)tmpl[e] >= 0x80 &&
			    (m = relabel_tmpl_wide_name_char(tmpl + e, n - e,
			    &wide)) != 0)
				e += m;
			else
				break;
		}
		if (e == k || (brace && (e >= n || tmpl[e] != '}'))) {
			/* Malformed: the '$' is text. */
			relabel_tmpl_push(t, text.len, 1, 0);
			buf_putc(&text, '$');
			continue;
		}
		end = brace ? e + 1 : e;

		/* Go: digits only, below 1e8 before each step, no 0 prefix. */
		num = 0;
		for (m = k; m < e; m++) {
			if (!relabel_is_digit((unsigned char)tmpl[m]) ||
			    num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (tmpl[m] - '0');
		}
		if (tmpl[k] == '0' && e - k > 1)
			num = -1;

		relabel_tmpl_push(t, t->ngroups, 0, 1);
		if (num >= 0) {
			t->groups = xreallocarray(t->groups, t->ngroups + 1,
			    sizeof *t->groups);
			t->groups[t->ngroups++] = (uint32_t)num;
			t->v[t->n - 1].len = 1;
		} else {
			for (g = 1; g <= ncap; g++) {
				if (names[g] == NULL ||
				    strlen(names[g]) != e - k ||
				    memcmp(names[g], tmpl + k, e - k) != 0)
					continue;
				t->groups = xreallocarray(t->groups,
				    t->ngroups + 1, sizeof *t->groups);
				t->groups[t->ngroups++] = g;
				t->v[t->n - 1].len++;
			}
		}
		i = end;
	}
	pcre2_code_free(wide);
	t->text = buf_steal(&text);
}

/* ------------------------------------------------------------------ */
/* Validation (Prometheus's Config.Validate, legacy label names).     */
/* ------------------------------------------------------------------ */

/*
 * Prometheus's legacy check for a target_label with '$':
 * ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$, i.e. a letter, '_' or a
 * group reference first, then word characters and references.
 */
static int
relabel_valid_template_name(const char *s)
{
	size_t i = 0, j, n = strlen(s);
	int first = 1;

	if (n == 0)
		return 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '$') {
			i++;
			if (i < n && s[i] == '{') {
				for (j = i + 1; j < n &&
				    relabel_is_word((unsigned char)s[j]); j++)
					;
				if (j == i + 1 || j >= n || s[j] != '}')
					return 0;
				i = j + 1;
			} else {
				for (j = i; j < n &&
				    relabel_is_word((unsigned char)s[j]); j++)
					;
				if (j == i)
					return 0;
				i = j;
			}
		} else if (relabel_is_word(c) &&
		    (!first || !relabel_is_digit(c)))
			i++;
		else
			return 0;
		first = 0;
	}
	return 1;
}

static int
relabel_valid_name(const char *s)
{
	return labels_valid_label_name((struct lstr){ s, strlen(s) });
}

static int
relabel_fail_quoted(char **cause, const char *value, const char *what,
    enum relabel_action a)
{
	struct buf b = BUF_INIT;

	relabel_quote(&b, value);
	buf_printf(&b, " is invalid '%s' for %s action", what,
	    relabel_action_name(a));
	*cause = buf_steal(&b);
	return -1;
}

static int
relabel_rule_validate(const struct relabel_rule *r, char **cause)
{
	enum relabel_action a = r->action;
	const char *name = relabel_action_name(a);
	const char *target = r->target_label != NULL ? r->target_label : "";
	int need_target, plain_target;

	need_target = a == RELABEL_REPLACE || a == RELABEL_HASHMOD ||
	    a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE ||
	    a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
	plain_target = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE ||
	    a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;

	if ((size_t)a >= sizeof relabel_action_names /
	    sizeof relabel_action_names[0]) {
		*cause = xstrdup("relabel action cannot be empty");
		return -1;
	}
	if (a == RELABEL_HASHMOD && r->modulus == 0) {
		*cause = xstrdup("relabel configuration for hashmod requires "
		    "non-zero modulus");
		return -1;
	}
	if (need_target && *target == '\0') {
		xasprintf(cause, "relabel configuration for %s action "
		    "requires 'target_label' value", name);
		return -1;
	}
	if (a == RELABEL_REPLACE) {
		if (strchr(target, '$') == NULL ? !relabel_valid_name(target) :
		    !relabel_valid_template_name(target))
			return relabel_fail_quoted(cause, target,
			    "target_label", a);
	}
	if (plain_target && !relabel_valid_name(target))
		return relabel_fail_quoted(cause, target, "target_label", a);
	if (plain_target &&
	    strcmp(r->replacement, RELABEL_DEFAULT_REPLACEMENT) != 0) {
		xasprintf(cause, "'replacement' can not be set for %s action",
		    name);
		return -1;
	}
	if (a == RELABEL_LABELMAP &&
	    !relabel_valid_template_name(r->replacement))
		return relabel_fail_quoted(cause, r->replacement,
		    "replacement", a);
	if (a == RELABEL_HASHMOD && !relabel_valid_name(target))
		return relabel_fail_quoted(cause, target, "target_label", a);
	if ((a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL) &&
	    (strcmp(r->regex, RELABEL_DEFAULT_REGEX) != 0 ||
	    r->modulus != 0 ||
	    strcmp(r->separator, RELABEL_DEFAULT_SEPARATOR) != 0 ||
	    strcmp(r->replacement, RELABEL_DEFAULT_REPLACEMENT) != 0)) {
		xasprintf(cause, "%s action requires only 'source_labels' and "
		    "`target_label`, and no other fields", name);
		return -1;
	}
	if ((a == RELABEL_LABELDROP || a == RELABEL_LABELKEEP) &&
	    (r->nsource != 0 || *target != '\0' || r->modulus != 0 ||
	    strcmp(r->separator, RELABEL_DEFAULT_SEPARATOR) != 0 ||
	    strcmp(r->replacement, RELABEL_DEFAULT_REPLACEMENT) != 0)) {
		xasprintf(cause, "%s action requires only 'regex', and no "
		    "other fields", name);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Compilation.                                                       */
/* ------------------------------------------------------------------ */

/* Shorter first, then bytewise: cheap to compare against a value. */
static int
relabel_lit_cmp(const void *a, const void *b)
{
	const struct lstr *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->len == 0 ? 0 : memcmp(x->p, y->p, x->len);
}

static int
relabel_compile_regex(struct relabel_compiled *c, const char *regex,
    struct relabel_xl *xl, char **cause)
{
	pcre2_compile_context *cctx;
	struct buf pat = BUF_INIT;
	uint32_t opts;
	PCRE2_SIZE off;
	PCRE2_UCHAR msg[256];
	size_t i;
	int err;

	xl->s = regex;
	xl->n = strlen(regex);
	if (relabel_xl_run(xl) != 0) {
		*cause = xl->err;
		xl->err = NULL;
		return -1;
	}
	c->npairs = xl->ncap + 1;
	if (strcmp(regex, "(.*)") == 0 || strcmp(regex, ".*") == 0) {
		c->kind = RELABEL_RE_ANY;
		return 0;
	}
	if (xl->literal) {
		/* No groups: the order of alternatives cannot matter. */
		c->kind = RELABEL_RE_LITERAL;
		c->lits = xmemdup(xl->lit.data != NULL ? xl->lit.data : "",
		    xl->lit.len + 1);
		c->litv = xreallocarray(NULL, xl->nlit, sizeof *c->litv);
		for (i = 0; i < xl->nlit; i++) {
			c->litv[i].p = c->lits + xl->litv[i].off;
			c->litv[i].len = xl->litv[i].len;
		}
		c->nlit = xl->nlit;
		qsort(c->litv, c->nlit, sizeof *c->litv, relabel_lit_cmp);
		return 0;
	}

	c->kind = RELABEL_RE_PCRE;
	buf_puts(&pat, "\\A(?s:");
	buf_append(&pat, xl->out.data, xl->out.len);
	buf_puts(&pat, ")\\z");

	/*
	 * RE2's '$' outside (?m) is only the end of text, and its (?m)^
	 * also matches after a final newline. Newlines are LF only.
	 */
	opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C |
	    PCRE2_ALT_CIRCUMFLEX;
	cctx = pcre2_compile_context_create(NULL);
	pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
	pcre2_set_parens_nest_limit(cctx, RELABEL_MAX_NEST + 2);
	c->code = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, opts, &err,
	    &off, cctx);
	pcre2_compile_context_free(cctx);
	buf_free(&pat);
	if (c->code == NULL) {
		pcre2_get_error_message(err, msg, sizeof msg);
		xasprintf(cause, "error parsing regexp: %s: `%s`",
		    (const char *)msg, regex);
		return -1;
	}
	/* Without JIT (unsupported CPU, W^X policy) the interpreter runs. */
	c->jit = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE) == 0;
	c->md = pcre2_match_data_create_from_pattern(c->code, NULL);
	if (!xl->void_affixes && xl->pre.len != 0) {
		c->prefix = xmemdup(xl->pre.data, xl->pre.len);
		c->prelen = xl->pre.len;
	}
	/* "^abc$": the same text is prefix and suffix; one check is enough. */
	if (!xl->void_affixes && xl->suf.len != 0 && !xl->suf_in_pre) {
		c->suffix = xmemdup(xl->suf.data, xl->suf.len);
		c->suflen = xl->suf.len;
	}
	return 0;
}

int
relabel_rule_compile(struct relabel_rule *r, char **cause)
{
	struct relabel_compiled *c;
	struct relabel_xl xl;
	size_t i;

	*cause = NULL;
	relabel_compiled_free(r->compiled);
	r->compiled = NULL;
	if (r->separator == NULL)
		r->separator = xstrdup("");
	if (r->regex == NULL)
		r->regex = xstrdup("");
	if (r->replacement == NULL)
		r->replacement = xstrdup("");

	c = xcalloc(1, sizeof *c);
	memset(&xl, 0, sizeof xl);
	/* Prometheus parses names and regex before it validates the rule. */
	for (i = 0; i < r->nsource; i++) {
		if (!relabel_valid_name(r->source_labels[i])) {
			struct buf b = BUF_INIT;

			relabel_quote(&b, r->source_labels[i]);
			buf_puts(&b, " is not a valid label name");
			*cause = buf_steal(&b);
			goto fail;
		}
	}
	if (relabel_compile_regex(c, r->regex, &xl, cause) != 0 ||
	    relabel_rule_validate(r, cause) != 0)
		goto fail;

	if (r->nsource != 0) {
		c->src = xreallocarray(NULL, r->nsource, sizeof *c->src);
		for (i = 0; i < r->nsource; i++) {
			c->src[i].p = r->source_labels[i];
			c->src[i].len = strlen(r->source_labels[i]);
		}
	}
	if (r->target_label != NULL) {
		c->target.p = r->target_label;
		c->target.len = strlen(r->target_label);
	}
	relabel_tmpl_parse(&c->trepl, r->replacement, xl.names, xl.ncap);
	relabel_tmpl_parse(&c->ttarget, r->target_label != NULL ?
	    r->target_label : "", xl.names, xl.ncap);
	c->fixed = r->action == RELABEL_REPLACE && c->kind == RELABEL_RE_ANY &&
	    !c->trepl.dollar && !c->ttarget.dollar;

#ifdef RELABEL_USE_EVP
	if (r->action == RELABEL_HASHMOD) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		c->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
#else
		c->md5 = (EVP_MD *)EVP_md5();
#endif
		c->md5ctx = EVP_MD_CTX_new();
		if (c->md5 == NULL || c->md5ctx == NULL) {
			*cause = xstrdup("hashmod needs MD5, which libcrypto "
			    "does not provide here (FIPS mode?)");
			goto fail;
		}
	}
#endif
	if (r->action == RELABEL_LOWERCASE || r->action == RELABEL_UPPERCASE) {
		/* Without a UTF-8 locale only ASCII letters change case. */
		c->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	relabel_xl_free(&xl);
	r->compiled = c;
	return 0;
fail:
	relabel_xl_free(&xl);
	relabel_compiled_free(c);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Applying rules.                                                    */
/* ------------------------------------------------------------------ */

static struct lstr
relabel_copy(struct arena *a, const char *p, size_t len)
{
	return (struct lstr){ arena_strndup(a, p, len), len };
}

/*
 * The source values joined with the separator. A single source is used
 * in place (*stable: it lives as long as the label set); several are
 * joined into the rule's scratch buffer.
 */
static struct lstr
relabel_join(const struct relabel_rule *r, struct relabel_compiled *c,
    const struct labels *ls, int *stable)
{
	const struct lstr *v;
	size_t i, seplen;

	*stable = 1;
	if (r->nsource == 0)
		return (struct lstr){ "", 0 };
	if (r->nsource == 1) {
		v = labels_get(ls, c->src[0]);
		return v != NULL ? *v : (struct lstr){ "", 0 };
	}
	*stable = 0;
	seplen = strlen(r->separator);
	buf_reset(&c->join);
	for (i = 0; i < r->nsource; i++) {
		if (i != 0)
			buf_append(&c->join, r->separator, seplen);
		if ((v = labels_get(ls, c->src[i])) != NULL)
			buf_append(&c->join, v->p, v->len);
	}
	if (c->join.len == 0)
		return (struct lstr){ "", 0 };
	return (struct lstr){ c->join.data, c->join.len };
}

/*
 * Is p UTF-8? Label values nearly always are ASCII, which is checked a
 * word at a time (PCRE2's own check goes byte by byte).
 */
static int
relabel_utf8_ok(const char *p, size_t n)
{
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		if ((w & 0x8080808080808080ULL) != 0)
			break;
	}
	for (; i < n; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return labels_valid_utf8((struct lstr){ p + i, n - i });
	}
	return 1;
}

/*
 * Match a whole value. Returns the number of valid ovector pairs, 0 when
 * there is no match.
 */
static uint32_t
relabel_match(struct relabel_compiled *c, struct lstr v, PCRE2_SIZE *local,
    const PCRE2_SIZE **ov)
{
	const char *p = v.p != NULL ? v.p : "";
	size_t lo, hi, mid;
	int rc, cmp;

	switch (c->kind) {
	case RELABEL_RE_ANY:
		local[0] = local[2] = 0;
		local[1] = local[3] = v.len;
		*ov = local;
		return c->npairs;
	case RELABEL_RE_LITERAL:
		lo = 0;
		hi = c->nlit;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			cmp = relabel_lit_cmp(&c->litv[mid],
			    &(struct lstr){ p, v.len });
			if (cmp == 0) {
				local[0] = 0;
				local[1] = v.len;
				*ov = local;
				return 1;
			}
			if (cmp < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return 0;
	case RELABEL_RE_PCRE:
		break;
	}
	if (v.len < c->prelen + c->suflen ||
	    (c->prelen != 0 && memcmp(p, c->prefix, c->prelen) != 0) ||
	    (c->suflen != 0 && memcmp(p + v.len - c->suflen, c->suffix,
	    c->suflen) != 0))
		return 0;
	/*
	 * A subject that is not UTF-8 cannot match. (PCRE2_MATCH_INVALID_UTF
	 * would let PCRE2 match around bad bytes, but the JIT of 10.42 then
	 * fails \W, \D and \S on non-ASCII characters.)
	 */
	if (!relabel_utf8_ok(p, v.len))
		return 0;
	if (c->jit)
		rc = pcre2_jit_match(c->code, (PCRE2_SPTR)p, v.len, 0, 0,
		    c->md, NULL);
	else
		rc = pcre2_match(c->code, (PCRE2_SPTR)p, v.len, 0,
		    PCRE2_NO_UTF_CHECK, c->md, NULL);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(c->code, (PCRE2_SPTR)p, v.len, 0,
		    PCRE2_NO_JIT | PCRE2_NO_UTF_CHECK, c->md, NULL);
	/* Match and depth limit errors count as no match. */
	if (rc <= 0)
		return 0;
	*ov = pcre2_get_ovector_pointer(c->md);
	return (uint32_t)rc;
}

static struct lstr
relabel_group(const struct relabel_tmpl *t, const struct relabel_seg *sg,
    struct lstr subj, const PCRE2_SIZE *ov, uint32_t npairs)
{
	size_t i;
	uint32_t g;

	for (i = 0; i < sg->len; i++) {
		g = t->groups[sg->off + i];
		if (g < npairs && ov[2 * g] != PCRE2_UNSET)
			return (struct lstr){ subj.p + ov[2 * g],
			    ov[2 * g + 1] - ov[2 * g] };
	}
	return (struct lstr){ "", 0 };
}

/*
 * Expand a template against a match. The result is in the arena, or a
 * slice of subj when the template is a single reference and subj is
 * stable.
 */
static struct lstr
relabel_expand(const struct relabel_tmpl *t, struct lstr subj, int stable,
    const PCRE2_SIZE *ov, uint32_t npairs, struct arena *a)
{
	struct lstr g;
	size_t i, len = 0;
	char *out, *p;

	if (t->n == 1 && t->v[0].group) {
		g = relabel_group(t, &t->v[0], subj, ov, npairs);
		if (stable || g.len == 0)
			return g;
		return relabel_copy(a, g.p, g.len);
	}
	for (i = 0; i < t->n; i++) {
		if (t->v[i].group)
			len += relabel_group(t, &t->v[i], subj, ov, npairs).len;
		else
			len += t->v[i].len;
	}
	if (len == 0)
		return (struct lstr){ "", 0 };
	p = out = arena_alloc(a, len + 1);
	for (i = 0; i < t->n; i++) {
		if (t->v[i].group) {
			g = relabel_group(t, &t->v[i], subj, ov, npairs);
			if (g.len != 0)
				memcpy(p, g.p, g.len);
			p += g.len;
		} else {
			memcpy(p, t->text + t->v[i].off, t->v[i].len);
			p += t->v[i].len;
		}
	}
	*p = '\0';
	return (struct lstr){ out, len };
}

static uint32_t
relabel_case_cp(const struct relabel_compiled *c, uint32_t cp, int upper)
{
	if (cp < 0x80) {
		if (upper && cp >= 'a' && cp <= 'z')
			return cp - 'a' + 'A';
		if (!upper && cp >= 'A' && cp <= 'Z')
			return cp - 'A' + 'a';
		return cp;
	}
	if (c->loc == (locale_t)0)
		return cp;
	cp = upper ? (uint32_t)towupper_l((wint_t)cp, c->loc) :
	    (uint32_t)towlower_l((wint_t)cp, c->loc);
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	return cp;
}

/*
 * Go's strings.ToLower/ToUpper: simple per-rune case mapping; bytes that
 * are not UTF-8 become U+FFFD, but only when the string is not all ASCII.
 */
static struct lstr
relabel_case(const struct relabel_compiled *c, struct lstr v, int upper,
    struct arena *a)
{
	size_t i, k, len = 0;
	uint32_t cp;
	char *out, *p;
	int ascii = 1;

	for (i = 0; i < v.len; i++) {
		if ((unsigned char)v.p[i] >= 0x80) {
			ascii = 0;
			break;
		}
	}
	if (v.len == 0)
		return (struct lstr){ "", 0 };
	if (ascii) {
		out = arena_alloc(a, v.len + 1);
		for (i = 0; i < v.len; i++)
			out[i] = (char)relabel_case_cp(c,
			    (unsigned char)v.p[i], upper);
		out[v.len] = '\0';
		return (struct lstr){ out, v.len };
	}
	for (i = 0; i < v.len; i += k) {
		if ((k = relabel_utf8_decode(v.p + i, v.len - i, &cp)) == 0) {
			k = 1;
			cp = 0xfffd;
		}
		len += relabel_utf8_len(relabel_case_cp(c, cp, upper));
	}
	p = out = arena_alloc(a, len + 1);
	for (i = 0; i < v.len; i += k) {
		if ((k = relabel_utf8_decode(v.p + i, v.len - i, &cp)) == 0) {
			k = 1;
			cp = 0xfffd;
		}
		p += relabel_utf8_encode(relabel_case_cp(c, cp, upper), p);
	}
	*p = '\0';
	return (struct lstr){ out, len };
}

static void
relabel_hashmod(const struct relabel_rule *r, struct relabel_compiled *c,
    struct labels *ls, struct lstr v, struct arena *a)
{
	unsigned char d[64];
	unsigned int i;
	uint64_t h = 0;
	char num[24];
	int len;
#ifdef RELABEL_USE_EVP
	unsigned int dlen = 0;

	if (EVP_DigestInit_ex(c->md5ctx, c->md5, NULL) != 1 ||
	    EVP_DigestUpdate(c->md5ctx, v.p, v.len) != 1 ||
	    EVP_DigestFinal_ex(c->md5ctx, d, &dlen) != 1 || dlen != 16)
		return;
#else
	MD5_CTX m;

	MD5_Init(&m);
	MD5_Update(&m, v.p, v.len);
	MD5_Final(d, &m);
#endif
	/* Bytes 8..15 as big-endian, as Prometheus has always done. */
	for (i = 8; i < 16; i++)
		h = (h << 8) | d[i];
	h %= r->modulus;
	len = snprintf(num, sizeof num, "%llu", (unsigned long long)h);
	labels_set(ls, relabel_copy(a, c->target.p, c->target.len),
	    relabel_copy(a, num, (size_t)len));
}

static void
relabel_labelmap(struct relabel_compiled *c, struct labels *ls,
    struct arena *a)
{
	struct label *set = NULL;
	const PCRE2_SIZE *ov;
	PCRE2_SIZE local[4];
	uint32_t np;
	size_t i, nset = 0;

	/*
	 * Prometheus maps a snapshot of the set: new names are computed
	 * from the labels as they were, then set in order.
	 */
	for (i = 0; i < ls->n; i++) {
		if ((np = relabel_match(c, ls->v[i].name, local, &ov)) == 0)
			continue;
		if (set == NULL)
			set = arena_alloc(a, (ls->n - i) * sizeof *set);
		set[nset].name = relabel_expand(&c->trepl, ls->v[i].name, 1, ov,
		    np, a);
		set[nset].value = ls->v[i].value;
		nset++;
	}
	for (i = 0; i < nset; i++)
		labels_set(ls, set[i].name, set[i].value);
}

static void
relabel_labelfilter(struct relabel_compiled *c, struct labels *ls, int drop)
{
	const PCRE2_SIZE *ov;
	PCRE2_SIZE local[4];
	size_t i, j = 0;
	int m;

	for (i = 0; i < ls->n; i++) {
		m = relabel_match(c, ls->v[i].name, local, &ov) != 0;
		if (m == drop)
			continue;
		ls->v[j++] = ls->v[i];
	}
	ls->n = j;
}

static void
relabel_replace(struct relabel_compiled *c, struct labels *ls,
    struct lstr val, int stable, struct arena *a)
{
	const PCRE2_SIZE *ov;
	PCRE2_SIZE local[4];
	struct lstr name, value;
	uint32_t np;

	if ((np = relabel_match(c, val, local, &ov)) == 0)
		return;
	if (!c->ttarget.dollar)
		name = relabel_copy(a, c->target.p, c->target.len);
	else {
		name = relabel_expand(&c->ttarget, val, stable, ov, np, a);
		if (!labels_valid_label_name(name))
			return;
	}
	value = relabel_expand(&c->trepl, val, stable, ov, np, a);
	if (value.len == 0)
		labels_del(ls, name);
	else
		labels_set(ls, name, value);
}

/* Returns 1 to keep the set, 0 to drop it. */
static int
relabel_rule_apply(const struct relabel_rule *r, struct labels *ls,
    struct arena *a)
{
	struct relabel_compiled *c = r->compiled;
	const PCRE2_SIZE *ov;
	PCRE2_SIZE local[4];
	const struct lstr *t;
	struct lstr val;
	int stable;

	if (c == NULL)
		return 1;
	if (c->fixed) {
		/* "(.*)" matches anything and nothing depends on it. */
		if (r->replacement[0] == '\0')
			labels_del(ls, c->target);
		else
			labels_set(ls, relabel_copy(a, c->target.p,
			    c->target.len), relabel_copy(a, c->trepl.text,
			    strlen(c->trepl.text)));
		return 1;
	}
	switch (r->action) {
	case RELABEL_LABELMAP:
		relabel_labelmap(c, ls, a);
		return 1;
	case RELABEL_LABELDROP:
	case RELABEL_LABELKEEP:
		relabel_labelfilter(c, ls, r->action == RELABEL_LABELDROP);
		return 1;
	default:
		break;
	}

	val = relabel_join(r, c, ls, &stable);
	switch (r->action) {
	case RELABEL_KEEP:
		return relabel_match(c, val, local, &ov) != 0;
	case RELABEL_DROP:
		return relabel_match(c, val, local, &ov) == 0;
	case RELABEL_KEEPEQUAL:
	case RELABEL_DROPEQUAL:
		t = labels_get(ls, c->target);
		return lstr_eq(t != NULL ? *t : (struct lstr){ "", 0 }, val) ==
		    (r->action == RELABEL_KEEPEQUAL);
	case RELABEL_REPLACE:
		relabel_replace(c, ls, val, stable, a);
		return 1;
	case RELABEL_HASHMOD:
		relabel_hashmod(r, c, ls, val, a);
		return 1;
	case RELABEL_LOWERCASE:
	case RELABEL_UPPERCASE:
		labels_set(ls, relabel_copy(a, c->target.p, c->target.len),
		    relabel_case(c, val, r->action == RELABEL_UPPERCASE, a));
		return 1;
	default:
		return 1;
	}
}

int
relabel_apply(const struct relabel_rules *rules, struct labels *ls,
    struct arena *a)
{
	size_t i;

	if (rules == NULL)
		return 1;
	for (i = 0; i < rules->n; i++) {
		if (!relabel_rule_apply(rules->v[i], ls, a))
			return 0;
	}
	return 1;
}
