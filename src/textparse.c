/*
 * Text exposition parser: Prometheus text 0.0.4 and OpenMetrics 1.0.
 *
 * Each grammar is walked a line at a time over the body: names and quoted
 * strings are scanned 16 bytes at a time (SSE2; 8 with plain integer
 * arithmetic elsewhere), the rest through a character class table, and
 * memchr() finds the ends of comments. Everything Prometheus's lexers
 * check is checked here as the line is read, so that the cached scrape
 * path, which never decodes labels, still rejects exactly the pages
 * Prometheus rejects. textparse_labels() then re-reads the already
 * validated label text of one series when the caller needs the label set.
 *
 * Deliberate differences from Prometheus, all about broken pages: a NUL
 * byte at the start of a text-format line fails the page and one in a
 * "#comment" is part of it (Prometheus silently stops reading at either),
 * and a name that appears twice in one series fails it even when one of
 * the values is empty.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "labels.h"
#include "textparse.h"
#include "xmalloc.h"

#define TP_MSTART	0x01	/* [a-zA-Z_:] starts a metric name */
#define TP_MNAME	0x02	/* [a-zA-Z0-9_:] */
#define TP_LSTART	0x04	/* [a-zA-Z_] starts a label name */
#define TP_LNAME	0x08	/* [a-zA-Z0-9_] */
#define TP_BLANK	0x10	/* [ \t] */
#define TP_VSTOP	0x20	/* ends a text-format value: { blank \n NUL */
#define TP_QSPECIAL	0x40	/* needs a look in a quoted string */
#define TP_DIGIT	0x80

#define TP_ALPHA	(TP_MSTART | TP_MNAME | TP_LSTART | TP_LNAME)

static const unsigned char textparse_cc[256] = {
	[0] = TP_VSTOP | TP_QSPECIAL,
	['\t'] = TP_BLANK | TP_VSTOP,
	['\n'] = TP_VSTOP | TP_QSPECIAL,
	[' '] = TP_BLANK | TP_VSTOP,
	['"'] = TP_QSPECIAL,
	['\\'] = TP_QSPECIAL,
	['{'] = TP_VSTOP,
	['0' ... '9'] = TP_MNAME | TP_LNAME | TP_DIGIT,
	[':'] = TP_MSTART | TP_MNAME,
	['A' ... 'Z'] = TP_ALPHA,
	['_'] = TP_ALPHA,
	['a' ... 'z'] = TP_ALPHA,
	[0x80 ... 0xff] = TP_QSPECIAL,
};

#define TP_CC(c)	(textparse_cc[(unsigned char)(c)])

/* What a quoted string may hold, and what was seen in it. */
#define TP_QS_NL	0x01	/* raw newlines allowed */
#define TP_QS_NUL	0x02	/* NUL bytes allowed */
#define TP_QS_ESC	0x04	/* seen: a backslash escape */
#define TP_QS_HIGH	0x08	/* seen: bytes >= 0x80 (check UTF-8) */

/* Label list flavours. */
#define TP_L_OM		0x01	/* no blanks, a comma between pairs */
#define TP_L_EXEMPLAR	0x02	/* no metric name, no NUL or newline */

static const double textparse_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static pthread_once_t	textparse_locale_once = PTHREAD_ONCE_INIT;
static locale_t		textparse_c_locale;

static void
textparse_locale_init(void)
{
	textparse_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Describe the byte at s for an error message. */
static const char *
textparse_got(const char *s, const char *end, char *out, size_t len)
{
	unsigned char c;

	if (s >= end)
		return "end of input";
	c = (unsigned char)*s;
	if (c == '\n')
		snprintf(out, len, "\"\\n\"");
	else if (c < 0x20 || c >= 0x7f)
		snprintf(out, len, "\"\\x%02x\"", c);
	else
		snprintf(out, len, "\"%c\"", c);
	return out;
}

static enum textparse_entry
textparse_fail(struct textparse *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "line:col: message" for the byte at `at`; the page is done. */
static enum textparse_entry
textparse_fail(struct textparse *p, const char *at, const char *fmt, ...)
{
	const char *s = p->buf, *nl, *ls = p->buf;
	char msg[200];
	unsigned line = 1;
	va_list ap;

	while (s < at && (nl = memchr(s, '\n', at - s)) != NULL) {
		line++;
		s = ls = nl + 1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->err_line = line;
	p->err_col = (unsigned)(at - ls) + 1;
	snprintf(p->err, sizeof p->err, "%u:%u: %s", p->err_line, p->err_col,
	    msg);
	p->failed = 1;
	p->kind = TEXTPARSE_ERROR;
	return TEXTPARSE_ERROR;
}

/*
 * A number in Go's strconv.ParseFloat syntax less hex floats and digit
 * underscores, which is what Prometheus accepts: [+-]digits[.digits]
 * [e[+-]digits], [+-]inf, [+-]infinity and nan in any case. Overflow is an
 * error and underflow gives zero, as in Go. Short decimals take the exact
 * fast path (a mantissa below 2^53 times an exact power of ten); the rest
 * goes through strtod in the C locale.
 */
static int
textparse_float(const char *s, size_t n, double *out)
{
	const char *p = s, *e = s + n, *ip, *fp = NULL;
	size_t nint, nfrac = 0;
	uint64_t m = 0, bits;
	int neg = 0, nd = 0, dexp, esign, x;
	char tmp[64], *copy;
	double v;

	if (n == 0)
		return -1;
	/*
	 * Most values are [-]digits[.digits]: read them in one pass. Within
	 * 19 digits, a mantissa up to 2^53 and 22 decimals this is the exact
	 * case below; anything else takes the long way from the start.
	 */
	for (neg = *p == '-', p += neg; p < e; p++) {
		if ((unsigned)(*p - '0') < 10) {
			m = m * 10 + (uint64_t)(*p - '0');
			nd++;
			nfrac += fp != NULL;
		} else if (*p == '.' && fp == NULL)
			fp = p;
		else
			break;
	}
	if (p == e && nd > 0 && nd <= 19 && m <= (1ULL << 53) && nfrac <= 22) {
		v = nfrac != 0 ? (double)m / textparse_pow10[nfrac] : (double)m;
		*out = neg ? -v : v;
		return 0;
	}
	p = s;
	m = 0;
	nd = 0;
	nfrac = 0;
	fp = NULL;
	neg = 0;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (p < e && !(TP_CC(*p) & TP_DIGIT) && *p != '.') {
		n = (size_t)(e - p);
		if ((n == 3 && strncasecmp(p, "inf", 3) == 0) ||
		    (n == 8 && strncasecmp(p, "infinity", 8) == 0)) {
			*out = neg ? -INFINITY : INFINITY;
			return 0;
		}
		if (p == s && n == 3 && strncasecmp(p, "nan", 3) == 0) {
			bits = NORMAL_NAN_BITS;
			memcpy(out, &bits, sizeof *out);
			return 0;
		}
		return -1;
	}
	for (ip = p; p < e && (TP_CC(*p) & TP_DIGIT); p++)
		;
	nint = (size_t)(p - ip);
	if (p < e && *p == '.') {
		for (fp = ++p; p < e && (TP_CC(*p) & TP_DIGIT); p++)
			;
		nfrac = (size_t)(p - fp);
	}
	if (nint == 0 && nfrac == 0)
		return -1;
	dexp = 0;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		esign = 1;
		if (p < e && (*p == '+' || *p == '-')) {
			esign = *p == '-' ? -1 : 1;
			p++;
		}
		if (p == e || !(TP_CC(*p) & TP_DIGIT))
			return -1;
		for (x = 0; p < e && (TP_CC(*p) & TP_DIGIT); p++) {
			if (x < 100000)
				x = x * 10 + (*p - '0');
		}
		dexp = esign * x;
	}
	if (p != e)
		return -1;

	/*
	 * Up to 19 significant digits fit the mantissa; below 2^53 with a
	 * power of ten up to 22 the result is one correctly rounded
	 * operation. Leading zeros only move the exponent.
	 */
	for (p = ip; p < ip + nint && nd <= 19; p++) {
		if (m != 0 || *p != '0') {
			m = m * 10 + (uint64_t)(*p - '0');
			nd++;
		}
	}
	for (p = fp; nfrac != 0 && p < fp + nfrac && nd <= 19; p++) {
		if (m != 0 || *p != '0') {
			m = m * 10 + (uint64_t)(*p - '0');
			nd++;
		}
	}
	dexp -= (int)nfrac;
	if (nd <= 19) {
		if (m == 0) {
			*out = neg ? -0.0 : 0.0;
			return 0;
		}
		if (m <= (1ULL << 53) && dexp >= -22 && dexp <= 22) {
			v = (double)m;
			if (dexp > 0)
				v *= textparse_pow10[dexp];
			else if (dexp < 0)
				v /= textparse_pow10[-dexp];
			*out = neg ? -v : v;
			return 0;
		}
	}

	pthread_once(&textparse_locale_once, textparse_locale_init);
	copy = n < sizeof tmp ? tmp : xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	errno = 0;
	if (textparse_c_locale != (locale_t)0)
		v = strtod_l(copy, NULL, textparse_c_locale);
	else
		v = strtod(copy, NULL);
	x = errno;
	if (copy != tmp)
		free(copy);
	if (x == ERANGE && isinf(v))
		return -1;
	*out = v;
	return 0;
}

/* OpenMetrics seconds to milliseconds, truncating like Go's int64(). */
static int64_t
textparse_seconds_to_ms(double s)
{
	double ms = s * 1000.0;

	if (ms >= 9223372036854775807.0)
		return INT64_MAX;
	if (ms <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)ms;
}

/*
 * Fast mode: a line that starts before the page's last newline is read
 * without bounds checks, since every scan stops at a newline at the
 * latest (lim == NULL below). The one way past that newline is a quoted
 * string holding a raw newline (text format); the line is then read again
 * in checked mode (lim == end of page).
 */
#define TP_INLINE	static inline __attribute__((always_inline))
#define TP_AT(s, lim)	((lim) == NULL || (s) < (lim))
#define TP_RESTART	(-2)	/* read this line again, checked */
#define TP_SKIP		(-3)	/* a line that is not an entry */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TP_SWAR		1
#define TP_ONES		0x0101010101010101ULL
#define TP_HIGHS	0x8080808080808080ULL
#define TP_ZERO(x)	(((x) - TP_ONES) & ~(x) & TP_HIGHS)
#endif

/* The first byte at or after s that a quoted string must look at. */
TP_INLINE const char *
textparse_qscan(const char *s, const char *end)
{
#ifdef __SSE2__
	__m128i x;
	unsigned m;

	/* Sixteen bytes at a time: " \ \n NUL or a high bit. */
	while (end - s >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)s);
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
		    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
		    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
		    _mm_cmpeq_epi8(x, _mm_setzero_si128())))) |
		    (unsigned)_mm_movemask_epi8(x);
		if (m != 0)
			return s + __builtin_ctz(m);
		s += 16;
	}
#elif defined(TP_SWAR)
	uint64_t x, m;

	/*
	 * Eight bytes at a time: a zero-byte test for each of " \ \n NUL
	 * plus the high bits. The lowest flag marks the first match.
	 */
	while (end - s >= 8) {
		memcpy(&x, s, 8);
		m = (x & TP_HIGHS) | TP_ZERO(x) |
		    TP_ZERO(x ^ (TP_ONES * '"')) |
		    TP_ZERO(x ^ (TP_ONES * '\\')) |
		    TP_ZERO(x ^ (TP_ONES * '\n'));
		if (m != 0)
			return s + (__builtin_ctzll(m) >> 3);
		s += 8;
	}
#endif
	while (s < end && !(TP_CC(*s) & TP_QSPECIAL))
		s++;
	return s;
}

#ifdef TP_SWAR
/* High bit set in each byte of x that is zero (exact, unlike TP_ZERO). */
#define TP_LOWS		0x7f7f7f7f7f7f7f7fULL
#define TP_ZEROX(x)	(~((((x) & TP_LOWS) + TP_LOWS) | (x) | TP_LOWS))
/* High bit set in each byte of x (< 0x80) within [lo, hi]. */
#define TP_RANGE(x, lo, hi) \
	((((x) | TP_HIGHS) - TP_ONES * (lo)) & \
	((TP_ONES * ((hi) | 0x80)) - ((x) & TP_LOWS)) & TP_HIGHS)
#endif

/*
 * Skip name characters: [a-zA-Z0-9_:] (metric names) or [a-zA-Z0-9_]
 * (label names), eight at a time where the page has eight more bytes.
 */
TP_INLINE const char *
textparse_name_scan(const char *s, const char *end, const char *lim,
    int metric)
{
	unsigned char cls = metric ? TP_MNAME : TP_LNAME;
#ifdef __SSE2__
	__m128i x, y, ok;
	unsigned m;

	/* Signed compares: bytes >= 0x80 are negative and match nothing. */
	while (end - s >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)s);
		y = _mm_or_si128(x, _mm_set1_epi8(0x20));
		ok = _mm_and_si128(_mm_cmpgt_epi8(y, _mm_set1_epi8('a' - 1)),
		    _mm_cmplt_epi8(y, _mm_set1_epi8('z' + 1)));
		ok = _mm_or_si128(ok, _mm_and_si128(
		    _mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
		    _mm_cmplt_epi8(x, _mm_set1_epi8(metric ? ':' + 1 :
		    '9' + 1))));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
		m = (unsigned)_mm_movemask_epi8(ok);
		if (m != 0xffff)
			return s + __builtin_ctz(~m);
		s += 16;
	}
#elif defined(TP_SWAR)
	uint64_t x, ok;

	while (end - s >= 8) {
		memcpy(&x, s, 8);
		ok = TP_RANGE(x | (TP_ONES * 0x20), 'a', 'z') |
		    TP_RANGE(x, '0', metric ? ':' : '9') |
		    TP_ZEROX(x ^ (TP_ONES * '_'));
		ok &= ~x & TP_HIGHS;
		if (ok != TP_HIGHS)
			return s + (__builtin_ctzll(~ok & TP_HIGHS) >> 3);
		s += 8;
	}
#endif
	while (TP_AT(s, lim) && s < end && (TP_CC(*s) & cls))
		s++;
	return s;
}

/* True when no byte of s is >= 0x80. */
static int
textparse_ascii(const char *s, size_t n)
{
	uint64_t x, acc = 0;
	unsigned char c = 0;
#ifdef __SSE2__
	__m128i v = _mm_setzero_si128();

	for (; n >= 16; s += 16, n -= 16)
		v = _mm_or_si128(v, _mm_loadu_si128((const __m128i *)
		    (const void *)s));
	if (_mm_movemask_epi8(v) != 0)
		return 0;
#endif
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&x, s, 8);
		acc |= x;
	}
	while (n-- > 0)
		c |= (unsigned char)*s++;
	return ((acc & 0x8080808080808080ULL) | (c & 0x80)) == 0;
}

/*
 * Scan a quoted string from its opening quote. Returns the position after
 * the closing quote, or NULL with *bad at the offending byte (*bad NULL:
 * restart the line checked). `allow` says whether raw newlines and NULs
 * may appear; a backslash escapes any byte but a newline (only \\ \" \n
 * are decoded later; others stay as they are).
 */
#define TP_QS_FAST	0x10	/* a raw newline means TP_RESTART */

TP_INLINE const char *
textparse_qstring(const char *s, const char *end, int allow, int *seen,
    const char **bad)
{
	for (s++;;) {
		s = textparse_qscan(s, end);
		if (s >= end) {
			*bad = end;
			return NULL;
		}
		switch (*s) {
		case '"':
			return s + 1;
		case '\\':
			if (s + 1 >= end || s[1] == '\n' ||
			    (s[1] == '\0' && !(allow & TP_QS_NUL))) {
				*bad = s + 1;
				return NULL;
			}
			if ((unsigned char)s[1] >= 0x80)
				*seen |= TP_QS_HIGH;
			*seen |= TP_QS_ESC;
			s += 2;
			break;
		case '\n':
			if (!(allow & TP_QS_NL)) {
				*bad = s;
				return NULL;
			}
			if (allow & TP_QS_FAST) {
				*bad = NULL;
				return NULL;
			}
			s++;
			break;
		case '\0':
			if (!(allow & TP_QS_NUL)) {
				*bad = s;
				return NULL;
			}
			s++;
			break;
		default:
			*seen |= TP_QS_HIGH;
			s++;
			break;
		}
	}
}

TP_INLINE const char *
textparse_skip_blanks(const char *s, const char *lim)
{
	while (TP_AT(s, lim) && (TP_CC(*s) & TP_BLANK))
		s++;
	return s;
}

/*
 * Read "{...}" from the brace. A quoted string followed by "," or "}" is
 * the metric name (recorded in p->name). Returns the position after "}",
 * or NULL: failed (p->failed) or restart.
 */
TP_INLINE const char *
textparse_scan_labels(struct textparse *p, const char *s, const char *lim,
    int mode)
{
	const char *end = p->buf + p->len, *bad, *ns, *ne, *vs;
	int om = mode & TP_L_OM, quoted, seen, allow;
	char got[16];

	for (s++;;) {
		if (!om)
			s = textparse_skip_blanks(s, lim);
		if (!TP_AT(s, lim)) {
			textparse_fail(p, s, "expected label name, got %s",
			    textparse_got(s, end, got, sizeof got));
			return NULL;
		}
		if (*s == '}')
			return s + 1;
		ns = s;
		if (TP_CC(*s) & TP_LSTART) {
			s = textparse_name_scan(s + 1, end, lim, 0);
			quoted = 0;
		} else if (*s == '"') {
			seen = 0;
			allow = (mode & TP_L_EXEMPLAR) ? 0 : TP_QS_NL;
			if (lim == NULL)
				allow |= TP_QS_FAST;
			if ((s = textparse_qstring(s, end, allow, &seen,
			    &bad)) == NULL) {
				if (bad != NULL)
					textparse_fail(p, bad,
					    "invalid quoted name");
				return NULL;
			}
			quoted = 1;
		} else {
			textparse_fail(p, s, "expected label name, got %s",
			    textparse_got(s, end, got, sizeof got));
			return NULL;
		}
		ne = s;
		if (!om)
			s = textparse_skip_blanks(s, lim);
		if (quoted && TP_AT(s, lim) && (*s == ',' || *s == '}') &&
		    !(mode & TP_L_EXEMPLAR)) {
			if (p->name.p != NULL) {
				textparse_fail(p, ns,
				    "metric name already set");
				return NULL;
			}
			p->name.p = ns + 1;
			p->name.len = (size_t)(ne - ns) - 2;
			p->name_quoted = 1;
			if (*s == ',')
				s++;
			continue;
		}
		if (!TP_AT(s, lim) || *s != '=') {
			textparse_fail(p, s, "expected equal, got %s",
			    textparse_got(s, end, got, sizeof got));
			return NULL;
		}
		s++;
		if (!om)
			s = textparse_skip_blanks(s, lim);
		if (!TP_AT(s, lim) || *s != '"') {
			textparse_fail(p, s, "expected label value, got %s",
			    textparse_got(s, end, got, sizeof got));
			return NULL;
		}
		vs = s;
		seen = 0;
		if (!om)
			allow = TP_QS_NL | TP_QS_NUL;
		else
			allow = (mode & TP_L_EXEMPLAR) ? 0 : TP_QS_NUL;
		if (lim == NULL)
			allow |= TP_QS_FAST;
		if ((s = textparse_qstring(s, end, allow, &seen,
		    &bad)) == NULL) {
			if (bad != NULL)
				textparse_fail(p, bad, "invalid label value, "
				    "got %s", textparse_got(bad, end, got,
				    sizeof got));
			return NULL;
		}
		if ((seen & TP_QS_HIGH) && !labels_valid_utf8((struct lstr){
		    vs + 1, (size_t)(s - vs) - 2 })) {
			textparse_fail(p, vs, "invalid UTF-8 label value");
			return NULL;
		}
		if (!om) {
			/* A missing comma is accepted, as Prometheus does. */
			s = textparse_skip_blanks(s, lim);
			if (TP_AT(s, lim) && *s == ',')
				s++;
			continue;
		}
		if (TP_AT(s, lim) && *s == ',') {
			s++;
			continue;
		}
		if (TP_AT(s, lim) && *s == '}')
			continue;
		textparse_fail(p, s, "expected comma or brace close, got %s",
		    textparse_got(s, end, got, sizeof got));
		return NULL;
	}
}

static int
textparse_word(const char *s, const char *end, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(end - s) >= n && memcmp(s, w, n) == 0;
}

static int
textparse_type_word(struct lstr t, int om, enum metric_type *type)
{
#define TP_WORD(w)	w, sizeof(w) - 1
	static const struct {
		const char		*word;
		size_t			 len;
		enum metric_type	 type;
		int			 om;	/* 1 = OpenMetrics only */
	} words[] = {
		{ TP_WORD("counter"), METRIC_TYPE_COUNTER, -1 },
		{ TP_WORD("gauge"), METRIC_TYPE_GAUGE, -1 },
		{ TP_WORD("histogram"), METRIC_TYPE_HISTOGRAM, -1 },
		{ TP_WORD("summary"), METRIC_TYPE_SUMMARY, -1 },
		{ TP_WORD("untyped"), METRIC_TYPE_UNKNOWN, 0 },
		{ TP_WORD("unknown"), METRIC_TYPE_UNKNOWN, 1 },
		{ TP_WORD("gaugehistogram"), METRIC_TYPE_GAUGEHISTOGRAM, 1 },
		{ TP_WORD("info"), METRIC_TYPE_INFO, 1 },
		{ TP_WORD("stateset"), METRIC_TYPE_STATESET, 1 },
	};
#undef TP_WORD
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (words[i].om != -1 && words[i].om != om)
			continue;
		if (t.len == words[i].len &&
		    memcmp(t.p, words[i].word, t.len) == 0) {
			*type = words[i].type;
			return 0;
		}
	}
	return -1;
}

/*
 * The metric name after HELP/TYPE/UNIT: plain or quoted. Sets p->name and
 * returns the position after it, or NULL with *restart clear when there
 * is none.
 */
static const char *
textparse_meta_name(struct textparse *p, const char *s, const char *lim,
    int *restart)
{
	const char *t, *bad, *end = p->buf + p->len;
	int seen = 0;

	*restart = 0;
	p->name_quoted = 0;
	if (TP_AT(s, lim) && *s == '"') {
		if ((t = textparse_qstring(s, end, TP_QS_NL |
		    (lim == NULL ? TP_QS_FAST : 0), &seen, &bad)) == NULL) {
			*restart = bad == NULL;
			return NULL;
		}
		p->name.p = s + 1;
		p->name.len = (size_t)(t - s) - 2;
		p->name_quoted = 1;
		return t;
	}
	if (!TP_AT(s, lim) || !(TP_CC(*s) & TP_MSTART))
		return NULL;
	t = textparse_name_scan(s + 1, end, lim, 1);
	p->name.p = s;
	p->name.len = (size_t)(t - s);
	return t;
}

/* Check and record a HELP/TYPE/UNIT entry whose text was found. */
static enum textparse_entry
textparse_meta_done(struct textparse *p, enum textparse_entry kind,
    const char *textp)
{
	enum metric_type type;
	struct lstr u = p->text, m = p->name;

	switch (kind) {
	case TEXTPARSE_TYPE:
		if (textparse_type_word(p->text,
		    p->format == TEXTPARSE_OPENMETRICS, &type) == -1)
			return textparse_fail(p, textp,
			    "invalid metric type \"%.*s\"",
			    (int)(p->text.len > 64 ? 64 : p->text.len),
			    p->text.p);
		p->type = type;
		p->family = p->name;
		p->family_type = type;
		break;
	case TEXTPARSE_HELP:
		if (!textparse_ascii(p->text.p, p->text.len) &&
		    !labels_valid_utf8(p->text))
			return textparse_fail(p, textp,
			    "help text is not valid UTF-8");
		break;
	case TEXTPARSE_UNIT:
		/* A unit must be the name's last "_"-separated part. */
		if (u.len != 0 && (m.len < u.len + 1 ||
		    memcmp(m.p + m.len - u.len, u.p, u.len) != 0 ||
		    m.p[m.len - u.len - 1] != '_'))
			return textparse_fail(p, textp,
			    "unit \"%.*s\" is not a suffix of metric \"%.*s\"",
			    (int)(u.len > 64 ? 64 : u.len), u.p,
			    (int)(m.len > 64 ? 64 : m.len), m.p);
		break;
	default:
		break;
	}
	p->kind = kind;
	return kind;
}

/* Text format: a "#" line, s at the "#". */
static enum textparse_entry
textparse_prom_comment(struct textparse *p, const char *s)
{
	const char *b = p->buf, *end = b + p->len, *t, *nl, *r, *lim;
	enum textparse_entry kind;
	char got[16];
	int restart;

	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl == NULL)
		nl = end;
	t = s + 1;
	if (t < nl && (TP_CC(*t) & TP_BLANK)) {
		t = textparse_skip_blanks(t, nl);
		if (nl - t >= 5 && (TP_CC(t[4]) & TP_BLANK) &&
		    (memcmp(t, "HELP", 4) == 0 || memcmp(t, "TYPE", 4) == 0)) {
			kind = *t == 'H' ? TEXTPARSE_HELP : TEXTPARSE_TYPE;
			t = textparse_skip_blanks(t + 5, nl);
			/* A quoted name may span lines: search on from it. */
			lim = nl < end ? NULL : end;
			r = textparse_meta_name(p, t, lim, &restart);
			if (r == NULL && restart)
				r = textparse_meta_name(p, t, end, &restart);
			if (r == NULL)
				return textparse_fail(p, t,
				    "expected metric name after %s, got %s",
				    kind == TEXTPARSE_HELP ? "HELP" : "TYPE",
				    textparse_got(t, end, got, sizeof got));
			if (r > nl && (nl = memchr(r, '\n',
			    (size_t)(end - r))) == NULL)
				nl = end;
			/*
			 * The text is the rest of the line less the one byte
			 * that separates it; blanks alone are no text.
			 */
			t = textparse_skip_blanks(r, nl);
			if (t == nl)
				p->text = (struct lstr){ nl, 0 };
			else
				p->text = (struct lstr){ r + 1,
				    (size_t)(nl - r) - 1 };
			p->pos = nl < end ? (size_t)(nl - b) + 1 : p->len;
			return textparse_meta_done(p, kind, p->text.p);
		}
	}
	p->text = (struct lstr){ s, (size_t)(nl - s) };
	p->pos = nl < end ? (size_t)(nl - b) + 1 : p->len;
	p->kind = TEXTPARSE_COMMENT;
	return TEXTPARSE_COMMENT;
}

/* Text format: the value, timestamp and end of a line, s after the series. */
TP_INLINE int
textparse_prom_sample(struct textparse *p, const char *s, const char *lim)
{
	const char *b = p->buf, *end = b + p->len, *t;
	uint64_t ts;
	char got[16];

	for (t = s; TP_AT(t, lim) && !(TP_CC(*t) & TP_VSTOP); t++)
		;
	if (t == s)
		return textparse_fail(p, s,
		    "expected value after metric, got %s",
		    textparse_got(s, end, got, sizeof got));
	if (textparse_float(s, (size_t)(t - s), &p->value) == -1)
		return textparse_fail(p, s, "invalid value \"%.*s\"",
		    (int)(t - s > 64 ? 64 : t - s), s);
	s = textparse_skip_blanks(t, lim);
	p->has_ts = 0;
	if (TP_AT(s, lim) && *s != '\n') {
		if (!(TP_CC(*s) & TP_DIGIT))
			return textparse_fail(p, s,
			    "expected timestamp or new record, got %s",
			    textparse_got(s, end, got, sizeof got));
		for (t = s, ts = 0; TP_AT(t, lim) && (TP_CC(*t) & TP_DIGIT);
		    t++) {
			if (ts > ((uint64_t)INT64_MAX - (uint64_t)(*t - '0')) /
			    10)
				return textparse_fail(p, s,
				    "timestamp out of range");
			ts = ts * 10 + (uint64_t)(*t - '0');
		}
		p->ts_ms = (int64_t)ts;
		p->has_ts = 1;
		s = textparse_skip_blanks(t, lim);
		if (TP_AT(s, lim) && *s != '\n')
			return textparse_fail(p, s,
			    "expected next entry after timestamp, got %s",
			    textparse_got(s, end, got, sizeof got));
	}
	p->pos = TP_AT(s, lim) ? (size_t)(s - b) + 1 : p->len;
	p->has_exemplar = 0;
	p->kind = TEXTPARSE_SERIES;
	return TEXTPARSE_SERIES;
}

/*
 * Both formats: the series of a sample line, *sp at the name or "{":
 * name, labels and the series text. The text format allows blanks after
 * the name and after "}", OpenMetrics does not. Leaves *sp where the
 * value part starts and returns TEXTPARSE_SERIES, or TEXTPARSE_ERROR or
 * TP_RESTART.
 */
TP_INLINE int
textparse_series_part(struct textparse *p, const char **sp, const char *lim,
    int om)
{
	const char *s = *sp, *start = s, *t;

	p->name.p = NULL;
	p->name.len = 0;
	p->name_quoted = 0;
	p->labels_text.p = NULL;
	p->labels_text.len = 0;
	if (*s != '{') {
		t = textparse_name_scan(s + 1, p->buf + p->len, lim, 1);
		p->name.p = s;
		p->name.len = (size_t)(t - s);
		s = om ? t : textparse_skip_blanks(t, lim);
	}
	p->series.p = start;
	p->series.len = p->name.len;
	if (TP_AT(s, lim) && *s == '{') {
		if ((t = textparse_scan_labels(p, s, lim, om ? TP_L_OM : 0)) ==
		    NULL)
			return p->failed ? TEXTPARSE_ERROR : TP_RESTART;
		p->labels_text.p = s + 1;
		p->labels_text.len = (size_t)(t - s) - 2;
		p->series.len = (size_t)(t - start);
		s = om ? t : textparse_skip_blanks(t, lim);
	}
	if (p->name.p == NULL)
		return textparse_fail(p, start, "metric name not set");
	*sp = s;
	return TEXTPARSE_SERIES;
}

/* Text format: a sample line, s at the name or "{". */
TP_INLINE int
textparse_prom_series(struct textparse *p, const char *s, const char *lim)
{
	int ret;

	if ((ret = textparse_series_part(p, &s, lim, 0)) != TEXTPARSE_SERIES)
		return ret;
	return textparse_prom_sample(p, s, lim);
}

static int
textparse_prom_series_fast(struct textparse *p, const char *s)
{
	return textparse_prom_series(p, s, NULL);
}

static int
textparse_prom_series_checked(struct textparse *p, const char *s)
{
	return textparse_prom_series(p, s, p->buf + p->len);
}

static enum textparse_entry
textparse_next_prom(struct textparse *p)
{
	const char *b = p->buf, *end = b + p->len, *s;
	char got[16];
	int r;

	for (;;) {
		s = textparse_skip_blanks(b + p->pos, end);
		if (s >= end) {
			p->pos = p->len;
			p->kind = TEXTPARSE_EOF;
			return TEXTPARSE_EOF;
		}
		if (*s == '\n') {
			p->pos = (size_t)(s - b) + 1;
			continue;
		}
		if (*s == '#')
			return textparse_prom_comment(p, s);
		if (*s == '{' || (TP_CC(*s) & TP_MSTART)) {
			if ((size_t)(s - b) >= p->fast_end ||
			    (r = textparse_prom_series_fast(p, s)) ==
			    TP_RESTART)
				r = textparse_prom_series_checked(p, s);
			return r;
		}
		return textparse_fail(p, s,
		    "expected a valid start token, got %s",
		    textparse_got(s, end, got, sizeof got));
	}
}

/* OpenMetrics: " # {" starts an exemplar. */
TP_INLINE int
textparse_om_exemplar_start(const char *s, const char *lim)
{
	if (lim != NULL && lim - s < 4)
		return 0;
	return s[0] == ' ' && s[1] == '#' && s[2] == ' ' && s[3] == '{';
}

/* OpenMetrics: a token after one space, up to a space or newline. */
TP_INLINE const char *
textparse_om_token(const char *s, const char *lim)
{
	if (!TP_AT(s, lim) || *s != ' ')
		return NULL;
	for (s++; TP_AT(s, lim) && *s != ' ' && *s != '\n' && *s != '\0'; s++)
		;
	return s;
}

/*
 * OpenMetrics: "# {labels} value [ts]" to the end of the line, s at the
 * brace. Returns the position of the newline, or NULL (failed).
 */
TP_INLINE const char *
textparse_om_exemplar(struct textparse *p, const char *s, const char *lim)
{
	const char *end = p->buf + p->len, *t;
	double ts;
	char got[16];

	if ((t = textparse_scan_labels(p, s, lim,
	    TP_L_OM | TP_L_EXEMPLAR)) == NULL)
		return NULL;
	s = t;
	if ((t = textparse_om_token(s, lim)) == NULL || t == s + 1) {
		textparse_fail(p, s, "expected value after exemplar labels, "
		    "got %s", textparse_got(s, end, got, sizeof got));
		return NULL;
	}
	if (textparse_float(s + 1, (size_t)(t - s) - 1,
	    &p->exemplar_value) == -1) {
		textparse_fail(p, s + 1, "invalid exemplar value \"%.*s\"",
		    (int)(t - s - 1 > 64 ? 64 : t - s - 1), s + 1);
		return NULL;
	}
	s = t;
	p->has_exemplar = 1;
	p->exemplar_has_ts = 0;
	if (!TP_AT(s, lim)) {
		textparse_fail(p, s, "data does not end with # EOF");
		return NULL;
	}
	if (*s == '\n')
		return s;
	if ((t = textparse_om_token(s, lim)) == NULL || t == s + 1) {
		textparse_fail(p, s, "expected timestamp or new record, got %s",
		    textparse_got(s, end, got, sizeof got));
		return NULL;
	}
	if (textparse_float(s + 1, (size_t)(t - s) - 1, &ts) == -1 ||
	    isnan(ts) || isinf(ts)) {
		textparse_fail(p, s + 1, "invalid exemplar timestamp \"%.*s\"",
		    (int)(t - s - 1 > 64 ? 64 : t - s - 1), s + 1);
		return NULL;
	}
	p->exemplar_ts_ms = textparse_seconds_to_ms(ts);
	p->exemplar_has_ts = 1;
	s = t;
	if (!TP_AT(s, lim) || *s != '\n') {
		textparse_fail(p, s, !TP_AT(s, lim) ?
		    "data does not end with # EOF" :
		    "expected next entry after exemplar timestamp");
		return NULL;
	}
	return s;
}

/*
 * OpenMetrics: a sample line. Returns TEXTPARSE_SERIES, TP_SKIP for a
 * _created line, TEXTPARSE_ERROR or TP_RESTART.
 */
TP_INLINE int
textparse_om_series(struct textparse *p, const char *s, const char *lim)
{
	const char *b = p->buf, *end = b + p->len, *t;
	enum metric_type ft = p->family_type;
	double ts;
	char got[16];
	int ret;

	if ((ret = textparse_series_part(p, &s, lim, 1)) != TEXTPARSE_SERIES)
		return ret;
	if ((t = textparse_om_token(s, lim)) == NULL || t == s + 1)
		return textparse_fail(p, s,
		    "expected value after metric, got %s",
		    textparse_got(s, end, got, sizeof got));
	if (textparse_float(s + 1, (size_t)(t - s) - 1, &p->value) == -1)
		return textparse_fail(p, s + 1, "invalid value \"%.*s\"",
		    (int)(t - s - 1 > 64 ? 64 : t - s - 1), s + 1);
	s = t;
	p->has_ts = 0;
	p->has_exemplar = 0;
	if (TP_AT(s, lim) && *s != '\n' &&
	    !textparse_om_exemplar_start(s, lim)) {
		if ((t = textparse_om_token(s, lim)) == NULL || t == s + 1)
			return textparse_fail(p, s,
			    "expected timestamp or new record, got %s",
			    textparse_got(s, end, got, sizeof got));
		if (textparse_float(s + 1, (size_t)(t - s) - 1, &ts) == -1 ||
		    isnan(ts) || isinf(ts))
			return textparse_fail(p, s + 1,
			    "invalid timestamp \"%.*s\"",
			    (int)(t - s - 1 > 64 ? 64 : t - s - 1), s + 1);
		p->ts_ms = textparse_seconds_to_ms(ts);
		p->has_ts = 1;
		s = t;
		if (TP_AT(s, lim) && *s != '\n' &&
		    !textparse_om_exemplar_start(s, lim))
			return textparse_fail(p, s,
			    "expected next entry after timestamp, got %s",
			    textparse_got(s, end, got, sizeof got));
	}
	if (TP_AT(s, lim) && *s == ' ' &&
	    (s = textparse_om_exemplar(p, s + 3, lim)) == NULL)
		return TEXTPARSE_ERROR;
	if (!TP_AT(s, lim))
		return textparse_fail(p, s, "data does not end with # EOF");
	p->pos = (size_t)(s - b) + 1;
	/* Created timestamps are not samples (Prometheus skips them too). */
	if (!p->keep_created && (ft == METRIC_TYPE_COUNTER ||
	    ft == METRIC_TYPE_SUMMARY || ft == METRIC_TYPE_HISTOGRAM) &&
	    p->name.len >= 8 &&
	    memcmp(p->name.p + p->name.len - 8, "_created", 8) == 0)
		return TP_SKIP;
	p->kind = TEXTPARSE_SERIES;
	return TEXTPARSE_SERIES;
}

static int
textparse_om_series_fast(struct textparse *p, const char *s)
{
	return textparse_om_series(p, s, NULL);
}

static int
textparse_om_series_checked(struct textparse *p, const char *s)
{
	return textparse_om_series(p, s, p->buf + p->len);
}

/* OpenMetrics: "# HELP|TYPE|UNIT name text" or "# EOF". */
static enum textparse_entry
textparse_om_meta(struct textparse *p, const char *s)
{
	const char *b = p->buf, *end = b + p->len, *t, *nl;
	enum textparse_entry kind;
	const char *kw;
	char got[16];
	int restart;

	t = s + 2;
	if (textparse_word(t, end, "HELP "))
		kind = TEXTPARSE_HELP, kw = "HELP";
	else if (textparse_word(t, end, "TYPE "))
		kind = TEXTPARSE_TYPE, kw = "TYPE";
	else if (textparse_word(t, end, "UNIT "))
		kind = TEXTPARSE_UNIT, kw = "UNIT";
	else if (textparse_word(t, end, "EOF")) {
		t += 3;
		if (t < end && *t == '\n')
			t++;
		if (t != end)
			return textparse_fail(p, t,
			    "unexpected data after # EOF");
		p->eof_seen = 1;
		p->pos = p->len;
		p->kind = TEXTPARSE_EOF;
		return TEXTPARSE_EOF;
	} else
		return textparse_fail(p, s, "expected a valid start token, "
		    "got \"# %.*s\"", (int)(end - t > 4 ? 4 : end - t), t);
	t += 5;
	if ((s = textparse_meta_name(p, t, end, &restart)) == NULL)
		return textparse_fail(p, t, "expected metric name after %s, "
		    "got %s", kw, textparse_got(t, end, got, sizeof got));
	if (s >= end || *s != ' ' ||
	    (nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return textparse_fail(p, s, "expected text in %s", kw);
	p->text.p = s + 1;
	p->text.len = (size_t)(nl - s) - 1;
	p->pos = (size_t)(nl - b) + 1;
	return textparse_meta_done(p, kind, p->text.p);
}

static enum textparse_entry
textparse_next_om(struct textparse *p)
{
	const char *b = p->buf, *end = b + p->len, *s;
	char got[16];
	int r;

	for (;;) {
		if (p->eof_seen) {
			p->kind = TEXTPARSE_EOF;
			return TEXTPARSE_EOF;
		}
		s = b + p->pos;
		if (s >= end)
			return textparse_fail(p, s,
			    "data does not end with # EOF");
		if (*s == '#') {
			if (end - s >= 2 && s[1] == ' ')
				return textparse_om_meta(p, s);
		} else if (*s == '{' || (TP_CC(*s) & TP_MSTART)) {
			if ((size_t)(s - b) >= p->fast_end ||
			    (r = textparse_om_series_fast(p, s)) ==
			    TP_RESTART)
				r = textparse_om_series_checked(p, s);
			if (r == TP_SKIP)
				continue;
			return r;
		}
		return textparse_fail(p, s, "expected a valid start token, "
		    "got %s", textparse_got(s, end, got, sizeof got));
	}
}

void
textparse_init(struct textparse *p, const char *buf, size_t len,
    enum textparse_format format)
{
	const char *nl;

	memset(p, 0, sizeof *p);
	p->buf = buf == NULL ? "" : buf;
	p->len = buf == NULL ? 0 : len;
	p->format = format;
	if (p->len != 0 && (nl = memrchr(p->buf, '\n', p->len)) != NULL)
		p->fast_end = (size_t)(nl - p->buf) + 1;
}

void
textparse_set_utf8_names(struct textparse *p, int on)
{
	p->utf8_names = on;
}

void
textparse_set_keep_created(struct textparse *p, int on)
{
	p->keep_created = on;
}

enum textparse_format
textparse_format_for(const char *ct)
{
	static const char om[] = "application/openmetrics-text";
	size_t n = sizeof om - 1;

	if (ct == NULL)
		return TEXTPARSE_PROMTEXT;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, om, n) == 0 && (ct[n] == '\0' || ct[n] == ';' ||
	    ct[n] == ' ' || ct[n] == '\t'))
		return TEXTPARSE_OPENMETRICS;
	return TEXTPARSE_PROMTEXT;
}

enum textparse_entry
textparse_next(struct textparse *p)
{
	p->peek = NULL;
	if (p->failed)
		return TEXTPARSE_ERROR;
	if (p->format == TEXTPARSE_OPENMETRICS)
		return textparse_next_om(p);
	return textparse_next_prom(p);
}

/*
 * The series text of a line ends at its last brace: neither a value nor a
 * timestamp can hold one. A line without braces is a bare name up to the
 * first blank. Anything odder (a quote or an opening brace after the last
 * closing one, the page's last line without a newline) is left to
 * textparse_next(). The text found is trusted only when the cache knows
 * it, that is when textparse_next() once read exactly these bytes as a
 * whole series: it would read them the same way again, and the rest of
 * the line goes through the same code either way.
 */
int
textparse_peek_series(struct textparse *p, struct lstr *series)
{
	const char *b = p->buf, *end = b + p->len, *s, *nl, *q;

	p->peek = NULL;
	if (p->format != TEXTPARSE_PROMTEXT || p->failed)
		return 0;
	for (s = b + p->pos; s < end && (TP_CC(*s) & TP_BLANK); s++)
		;
	if (s >= end || (size_t)(s - b) >= p->fast_end || *s == '#' ||
	    *s == '\n')
		return 0;
	nl = memchr(s, '\n', (size_t)(end - s));
	for (q = nl; q > s && q[-1] != '}' && q[-1] != '"' && q[-1] != '{';
	    q--)
		;
	if (q == s) {
		while (q < nl && !(TP_CC(*q) & TP_BLANK))
			q++;
		if (q == nl)
			return 0;
	} else if (q[-1] != '}')
		return 0;
	series->p = s;
	series->len = (size_t)(q - s);
	p->peek = q;
	return 1;
}

enum textparse_entry
textparse_next_known(struct textparse *p)
{
	const char *s = p->peek, *start;

	if (s == NULL)
		return textparse_next(p);
	p->peek = NULL;
	for (start = p->buf + p->pos; TP_CC(*start) & TP_BLANK; start++)
		;
	p->series.p = start;
	p->series.len = (size_t)(s - start);
	p->name.p = NULL;
	p->name.len = 0;
	p->labels_text.p = NULL;
	p->labels_text.len = 0;
	/* Before the page's last newline: fast mode reads no further. */
	return (enum textparse_entry)textparse_prom_sample(p,
	    textparse_skip_blanks(s, NULL), NULL);
}

struct lstr
textparse_series(const struct textparse *p)
{
	return p->series;
}

double
textparse_value(const struct textparse *p)
{
	return p->value;
}

int
textparse_timestamp(const struct textparse *p, int64_t *ms)
{
	if (!p->has_ts)
		return 0;
	*ms = p->ts_ms;
	return 1;
}

int
textparse_exemplar(const struct textparse *p, double *v, int64_t *ms,
    int *has_ts)
{
	if (!p->has_exemplar)
		return 0;
	*v = p->exemplar_value;
	*has_ts = p->exemplar_has_ts;
	if (p->exemplar_has_ts)
		*ms = p->exemplar_ts_ms;
	return 1;
}

/* Does the series name belong to the family of the last TYPE line? */
enum metric_type
textparse_type(const struct textparse *p)
{
	static const char *const suffixes[METRIC_TYPE_STATESET + 1][5] = {
		[METRIC_TYPE_COUNTER] = { "_total", "_created" },
		[METRIC_TYPE_HISTOGRAM] = { "_bucket", "_count", "_sum",
		    "_created" },
		[METRIC_TYPE_GAUGEHISTOGRAM] = { "_bucket", "_gcount",
		    "_gsum" },
		[METRIC_TYPE_SUMMARY] = { "_count", "_sum", "_created" },
		[METRIC_TYPE_INFO] = { "_info" },
	};
	struct lstr n = p->name, f = p->family, rest;
	enum metric_type t = p->family_type;
	size_t i;

	if (p->kind == TEXTPARSE_TYPE)
		return p->type;
	if (p->kind != TEXTPARSE_SERIES || f.len == 0 || n.len < f.len ||
	    memcmp(n.p, f.p, f.len) != 0)
		return METRIC_TYPE_UNKNOWN;
	if (n.len == f.len)
		return t;
	rest = (struct lstr){ n.p + f.len, n.len - f.len };
	for (i = 0; i < 5 && suffixes[t][i] != NULL; i++) {
		if (lstr_eqs(rest, suffixes[t][i]))
			return t;
	}
	return METRIC_TYPE_UNKNOWN;
}

/*
 * Decode escapes into scratch, which has room reserved: \\ \" and \n (and
 * \" only when quote is set), anything else after a backslash stays.
 */
static struct lstr
textparse_unescape(struct lstr in, struct buf *scratch, int quote)
{
	char *out = scratch->data + scratch->len, *o = out;
	size_t i;

	for (i = 0; i < in.len; i++) {
		if (in.p[i] == '\\' && i + 1 < in.len) {
			if (in.p[i + 1] == '\\' ||
			    (quote && in.p[i + 1] == '"')) {
				*o++ = in.p[++i];
				continue;
			}
			if (in.p[i + 1] == 'n') {
				*o++ = '\n';
				i++;
				continue;
			}
		}
		*o++ = in.p[i];
	}
	scratch->len += (size_t)(o - out);
	scratch->data[scratch->len] = '\0';
	return (struct lstr){ out, (size_t)(o - out) };
}

static int
textparse_name_ok(const struct textparse *p, struct lstr n, int metric)
{
	if (n.len == 0)
		return 0;
	if (p->utf8_names)
		return labels_valid_utf8(n);
	return metric ? labels_valid_metric_name(n) :
	    labels_valid_label_name(n);
}

int
textparse_labels(struct textparse *p, struct labels *ls, struct buf *scratch)
{
	const char *s, *end, *ns, *bad;
	struct lstr name, value;
	size_t i, j;
	int seen;
	long dup;

	labels_reset(ls);
	buf_reset(scratch);
	/* Decoded text is never longer: pointers into scratch stay put. */
	buf_reserve(scratch, p->series.len + 1);

	name = p->name;
	if (p->name_quoted) {
		if (memchr(name.p, '\\', name.len) != NULL)
			name = textparse_unescape(name, scratch, 1);
		if (!textparse_name_ok(p, name, 1)) {
			textparse_fail(p, p->series.p, "invalid metric name "
			    "\"%.*s\"", (int)(name.len > 64 ? 64 : name.len),
			    name.p);
			return -1;
		}
	}
	labels_push(ls, LSTR(LABELS_METRIC_NAME), name);

	s = end = p->labels_text.p;
	if (s != NULL)
		end = s + p->labels_text.len;
	while (s < end) {
		while (s < end && (TP_CC(*s) & TP_BLANK || *s == ','))
			s++;
		if (s >= end)
			break;
		ns = s;
		seen = 0;
		if (*s == '"') {
			s = textparse_qstring(s, end, TP_QS_NL, &seen, &bad);
			name = (struct lstr){ ns + 1, (size_t)(s - ns) - 2 };
			s = textparse_skip_blanks(s, end);
			if (s >= end || *s == ',')
				continue;	/* the metric name */
			if (seen & TP_QS_ESC)
				name = textparse_unescape(name, scratch, 1);
			if (!textparse_name_ok(p, name, 0)) {
				textparse_fail(p, ns, "invalid label name "
				    "\"%.*s\"", (int)(name.len > 64 ? 64 :
				    name.len), name.p);
				return -1;
			}
		} else {
			while (s < end && (TP_CC(*s) & TP_LNAME))
				s++;
			name = (struct lstr){ ns, (size_t)(s - ns) };
		}
		s = textparse_skip_blanks(s, end);
		s = textparse_skip_blanks(s + 1, end);	/* "=" */
		ns = s;
		seen = 0;
		s = textparse_qstring(s, end, TP_QS_NL | TP_QS_NUL, &seen,
		    &bad);
		value = (struct lstr){ ns + 1, (size_t)(s - ns) - 2 };
		if (seen & TP_QS_ESC)
			value = textparse_unescape(value, scratch, 1);
		labels_push(ls, name, value);
	}

	labels_sort(ls);
	if ((dup = labels_find_dup(ls)) != -1) {
		name = ls->v[dup].name;
		textparse_fail(p, p->series.p, "label name \"%.*s\" is not "
		    "unique", (int)(name.len > 64 ? 64 : name.len), name.p);
		return -1;
	}
	/* Empty values mean the label is absent. */
	for (i = j = 0; i < ls->n; i++) {
		if (ls->v[i].value.len == 0) {
			if (lstr_eqs(ls->v[i].name, LABELS_METRIC_NAME)) {
				textparse_fail(p, p->series.p,
				    "metric name is empty");
				return -1;
			}
			continue;
		}
		ls->v[j++] = ls->v[i];
	}
	ls->n = j;
	return 0;
}

struct lstr
textparse_family(const struct textparse *p)
{
	return p->name;
}

struct lstr
textparse_text(const struct textparse *p)
{
	return p->text;
}

struct lstr
textparse_help(const struct textparse *p, struct buf *scratch)
{
	buf_reset(scratch);
	buf_reserve(scratch, p->text.len + 1);
	if (p->kind != TEXTPARSE_HELP || p->text.len == 0 ||
	    memchr(p->text.p, '\\', p->text.len) == NULL)
		return p->text;
	/* OpenMetrics escapes HELP like label values; text 0.0.4 has no \". */
	return textparse_unescape(p->text, scratch,
	    p->format == TEXTPARSE_OPENMETRICS);
}

const char *
textparse_error(const struct textparse *p)
{
	return p->err[0] == '\0' ? "no error" : p->err;
}
