/*
 * prometheus.yml subset: YAML tree to struct config.
 *
 * Each section is described by a table of keys (name, kind, offset in the
 * struct being filled); config_map() walks a mapping against one or more
 * tables, so unknown keys are caught in one place and every value is read
 * by the same typed helpers, which all report "file:line:col: key: msg".
 * Sections that need cross-field checks keep a small parse struct around
 * the output (the nodes to point errors at, values that Prometheus maps
 * onto other fields such as bearer_token) and finish in a *_finish()
 * function that applies defaults in Prometheus's order.
 *
 * Values that are unset while parsing hold a sentinel (CONFIG_UNSET for
 * int, CONFIG_UNSET_I64, CONFIG_UNSET_U64, NULL for strings) so that an
 * explicit 0 (or -1) can be told from an absent key, as Prometheus's
 * checks require.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"
#include "labels.h"
#include "relabel.h"
#include "xmalloc.h"
#include "yaml.h"

#define CONFIG_MAX_FILE_SIZE	(16 * 1024 * 1024)
#define CONFIG_UNSET		(-1)
#define CONFIG_UNSET_I64	INT64_MIN
#define CONFIG_UNSET_U64	UINT64_MAX

#define CONFIG_MS_SECOND	1000LL
#define CONFIG_MS_MINUTE	(60 * CONFIG_MS_SECOND)
#define CONFIG_MS_HOUR		(60 * CONFIG_MS_MINUTE)
#define CONFIG_MS_DAY		(24 * CONFIG_MS_HOUR)
#define CONFIG_MS_WEEK		(7 * CONFIG_MS_DAY)
#define CONFIG_MS_YEAR		(365 * CONFIG_MS_DAY)

#define CONFIG_DEFAULT_WI_TOKEN_FILE \
	"/var/run/secrets/azure/tokens/azure-identity-token"

struct config_ctx {
	const char	*file;
	char		*dir;		/* for relative paths; NULL = cwd */
	char		*cause;
	uint64_t	 sum;		/* the main file's, for files_sum */
};

static int	config_error(struct config_ctx *, const struct ynode *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/*
 * Record the first error as "file:line:col: key: message". Always returns
 * -1 so callers can "return config_error(...)".
 */
static int
config_error(struct config_ctx *ctx, const struct ynode *n, const char *key,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (ctx->cause != NULL)
		return -1;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n == NULL)
		xasprintf(&ctx->cause, "%s: %s: %s", ctx->file, key, msg);
	else
		xasprintf(&ctx->cause, "%s:%u:%u: %s: %s", ctx->file, n->line,
		    n->column, key, msg);
	free(msg);
	return -1;
}

/* An explicit null ("", "~", "null") reads as the key's default. */
static int
config_null(const struct ynode *n)
{
	return n->type == YNODE_SCALAR && (n->flags & YNODE_NULL);
}

/*
 * A key that takes a list: 1 when n is one, 0 when it is null (an empty
 * list, as Prometheus reads it), -1 with the error recorded otherwise.
 */
static int
config_list(struct config_ctx *ctx, const struct ynode *n, const char *key)
{
	if (config_null(n))
		return 0;
	if (n->type != YNODE_SEQ)
		return config_error(ctx, n, key, "expected a list, got %s",
		    yaml_tree_kind(n));
	return 1;
}

/* The later of two nodes in the file, for conflicts between keys. */
static const struct ynode *
config_later(const struct ynode *a, const struct ynode *b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	if (a->line > b->line || (a->line == b->line && a->column > b->column))
		return a;
	return b;
}

/*
 * Quote like Go's %q, so messages match Prometheus's: printable ASCII and
 * valid UTF-8 as is, the rest escaped.
 */
static void
config_quote(struct buf *b, const char *s, size_t len)
{
	size_t i, n;

	buf_putc(b, '"');
	for (i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)s[i];
		n = 1;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c >= 0x20 && c < 0x7f)
			buf_putc(b, (char)c);
		else if (c >= 0x80) {
			n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (i + n <= len && n > 1 &&
			    labels_valid_utf8((struct lstr){ s + i, n }))
				buf_append(b, s + i, n);
			else {
				n = 1;
				buf_printf(b, "\\x%02x", c);
			}
		} else
			buf_printf(b, "\\x%02x", c);
	}
	buf_putc(b, '"');
}

/* config_quote into a static-lifetime-free string; caller frees. */
static char *
config_quoted(const char *s)
{
	struct buf b = BUF_INIT;

	config_quote(&b, s, strlen(s));
	return buf_steal(&b);
}

static int
config_env_name_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
config_env_name_char(int c)
{
	return config_env_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Environment expansion: ${NAME} (NAME an identifier starting with a
 * letter or underscore) is replaced by the variable's value, "$$" by one
 * dollar; any other "$" is left alone, so "$1", "$foo" and "${1}" survive.
 */
static int
config_expand(struct config_ctx *ctx, const char *key, const struct ynode *n,
    const char *in, char **out)
{
	struct buf b = BUF_INIT;
	const char *p, *end, *val;
	char *name;

	if (strchr(in, '$') == NULL) {
		*out = xstrdup(in);
		return 0;
	}
	for (p = in; *p != '\0'; p++) {
		if (*p != '$') {
			buf_putc(&b, *p);
			continue;
		}
		if (p[1] == '$') {
			buf_putc(&b, '$');
			p++;
			continue;
		}
		if (p[1] != '{' ||
		    !config_env_name_start((unsigned char)p[2])) {
			buf_putc(&b, '$');
			continue;
		}
		for (end = p + 3; config_env_name_char((unsigned char)*end);
		    end++)
			;
		if (*end != '}') {
			buf_putc(&b, '$');
			continue;
		}
		name = xstrndup(p + 2, (size_t)(end - p - 2));
		if ((val = getenv(name)) == NULL) {
			config_error(ctx, n, key, "environment variable %s is "
			    "not set (write $$ for a literal $)", name);
			free(name);
			buf_free(&b);
			return -1;
		}
		free(name);
		buf_puts(&b, val);
		p = end;
	}
	*out = b.data == NULL ? xstrdup("") : buf_steal(&b);
	return 0;
}

/*
 * The text of a scalar, expanded unless raw; *out is NULL for a null
 * scalar, else allocated.
 */
static int
config_text(struct config_ctx *ctx, const char *key, const struct ynode *n,
    int raw, char **out)
{
	*out = NULL;
	if (n->type != YNODE_SCALAR)
		return config_error(ctx, n, key, "expected a value, got %s",
		    yaml_tree_kind(n));
	if (n->flags & YNODE_NULL)
		return 0;
	if (strlen(n->value) != n->len)
		return config_error(ctx, n, key, "value contains a NUL byte");
	if (raw || (n->flags & YNODE_BINARY)) {
		*out = xstrdup(n->value);
		return 0;
	}
	return config_expand(ctx, key, n, n->value, out);
}

/* A string value; null leaves *dst NULL (unset). */
static int
config_str(struct config_ctx *ctx, const char *key, const struct ynode *n,
    char **dst)
{
	char *s;

	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/* Path s (owned, may be NULL) made absolute against the config's directory. */
static char *
config_abs_path(const struct config_ctx *ctx, char *s)
{
	char *abs;

	if (s == NULL || *s == '\0' || *s == '/' || ctx->dir == NULL)
		return s;
	xasprintf(&abs, "%s/%s", ctx->dir, s);
	free(s);
	return abs;
}

/* A file path, made absolute against the config file's directory. */
static int
config_path(struct config_ctx *ctx, const char *key, const struct ynode *n,
    char **dst)
{
	char *s;

	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	free(*dst);
	*dst = config_abs_path(ctx, s);
	return 0;
}

/*
 * A quoted scalar where a boolean or number is expected is an error, as in
 * Prometheus, unless it holds ${...}: flow style ({a: ${X}}) needs quotes.
 */
static int
config_quoted_scalar(const struct ynode *n)
{
	return n->type == YNODE_SCALAR && (n->flags & YNODE_QUOTED) &&
	    strstr(n->value, "${") == NULL;
}

/* YAML 1.1 booleans, as gopkg.in/yaml.v2 (Prometheus) accepts them. */
static int
config_bool(struct config_ctx *ctx, const char *key, const struct ynode *n,
    int *dst)
{
	static const char *yes[] = { "true", "True", "TRUE", "yes", "Yes",
	    "YES", "on", "On", "ON", "y", "Y" };
	static const char *no[] = { "false", "False", "FALSE", "no", "No",
	    "NO", "off", "Off", "OFF", "n", "N" };
	char *s;
	size_t i;
	int rc = -1;

	if (config_null(n))
		return 0;
	if (config_quoted_scalar(n))
		return config_error(ctx, n, key, "expected true or false, "
		    "got a quoted string");
	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcmp(s, yes[i]) == 0)
			*dst = 1, rc = 0;
		else if (strcmp(s, no[i]) == 0)
			*dst = 0, rc = 0;
	}
	if (rc == -1)
		config_error(ctx, n, key, "expected true or false, got \"%s\"",
		    s);
	free(s);
	return rc;
}

/* A decimal integer; plain scalars only (a quoted one is a string). */
static int
config_int(struct config_ctx *ctx, const char *key, const struct ynode *n,
    int is_signed, int64_t *sv, uint64_t *uv, int *isnull)
{
	unsigned long long u;
	char *s, *end;
	int neg = 0, rc = -1;
	const char *p;

	*isnull = 0;
	if (config_null(n)) {
		*isnull = 1;
		return 0;
	}
	if (config_quoted_scalar(n))
		return config_error(ctx, n, key, "expected an integer, got a "
		    "quoted string");
	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	p = s;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		goto bad;
	errno = 0;
	u = strtoull(p, &end, 10);
	if (*end != '\0')
		goto bad;
	if (errno == ERANGE || (is_signed && u > (unsigned long long)INT64_MAX))
		goto range;
	if (!is_signed && neg && u != 0) {
		config_error(ctx, n, key, "must not be negative, got %s", s);
		goto out;
	}
	if (is_signed)
		*sv = neg ? -(int64_t)u : (int64_t)u;
	else
		*uv = (uint64_t)u;
	rc = 0;
	goto out;
bad:
	config_error(ctx, n, key, "expected an integer, got \"%s\"", s);
	goto out;
range:
	config_error(ctx, n, key, "integer out of range: %s", s);
out:
	free(s);
	return rc;
}

static int
config_u64(struct config_ctx *ctx, const char *key, const struct ynode *n,
    uint64_t *dst)
{
	int isnull;

	return config_int(ctx, key, n, 0, NULL, dst, &isnull);
}

static int
config_i64(struct config_ctx *ctx, const char *key, const struct ynode *n,
    int64_t *dst)
{
	int isnull;

	return config_int(ctx, key, n, 1, dst, NULL, &isnull);
}

/*
 * Prometheus durations (model.ParseDuration): units y w d h m s ms, each at
 * most once and in that order, or a bare "0".
 */
int
config_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char	*unit;
		int64_t		 mult;
	} units[] = {
		{ "y", CONFIG_MS_YEAR }, { "w", CONFIG_MS_WEEK },
		{ "d", CONFIG_MS_DAY }, { "h", CONFIG_MS_HOUR },
		{ "m", CONFIG_MS_MINUTE }, { "s", CONFIG_MS_SECOND },
		{ "ms", 1 },
	};
	const char *p = s;
	size_t next = 0, i, ulen;
	uint64_t total = 0, v;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = 0;
		while (isdigit((unsigned char)*p)) {
			if (v > (uint64_t)INT64_MAX / 10)
				return -1;
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		ulen = 0;
		while (p[ulen] != '\0' && !isdigit((unsigned char)p[ulen]))
			ulen++;
		for (i = next; i < sizeof units / sizeof units[0]; i++) {
			if (strlen(units[i].unit) == ulen &&
			    strncmp(p, units[i].unit, ulen) == 0)
				break;
		}
		if (i == sizeof units / sizeof units[0])
			return -1;
		if (v != 0 && (uint64_t)units[i].mult > (uint64_t)INT64_MAX / v)
			return -1;
		v *= (uint64_t)units[i].mult;
		if (total > (uint64_t)INT64_MAX - v)
			return -1;
		total += v;
		next = i + 1;
		p += ulen;
	}
	*ms = (int64_t)total;
	return 0;
}

/* model.Duration.String(): largest units first; y and w only if exact. */
static void
config_format_duration(struct buf *b, int64_t ms)
{
	static const struct {
		const char	*unit;
		int64_t		 mult;
		int		 exact;
	} units[] = {
		{ "y", CONFIG_MS_YEAR, 1 }, { "w", CONFIG_MS_WEEK, 1 },
		{ "d", CONFIG_MS_DAY, 0 }, { "h", CONFIG_MS_HOUR, 0 },
		{ "m", CONFIG_MS_MINUTE, 0 }, { "s", CONFIG_MS_SECOND, 0 },
		{ "ms", 1, 0 },
	};
	size_t i;

	if (ms <= 0) {
		buf_puts(b, "0s");
		return;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (units[i].exact && ms % units[i].mult != 0)
			continue;
		if (ms / units[i].mult > 0) {
			buf_printf(b, "%" PRId64 "%s", ms / units[i].mult,
			    units[i].unit);
			ms %= units[i].mult;
		}
	}
}

static int
config_duration(struct config_ctx *ctx, const char *key, const struct ynode *n,
    int64_t *dst)
{
	char *s;
	int rc = 0;

	if (config_null(n))
		return 0;
	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	if (s == NULL || *s == '\0')
		rc = config_error(ctx, n, key, "empty duration string");
	else if (config_parse_duration(s, dst) == -1)
		rc = config_error(ctx, n, key, "not a valid duration string: "
		    "\"%s\" (use units ms, s, m, h, d, w, y as in 1m30s)", s);
	free(s);
	return rc;
}

/*
 * Sizes as alecthomas/units ParseBase2Bytes: one or more <number><unit>,
 * units B, KB..EB and KiB..EiB all powers of 1024; "0" alone is allowed.
 */
int
config_parse_size(const char *s, uint64_t *bytes)
{
	static const char *units[] = { "B", "K", "M", "G", "T", "P", "E" };
	const char *p = s;
	long double total = 0, v, frac, scale;
	size_t ulen, i;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*bytes = 0;
		return 0;
	}
	if (*p == '+')
		p++;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		v = 0;
		while (isdigit((unsigned char)*p))
			v = v * 10 + (*p++ - '0');
		if (*p == '.') {
			p++;
			for (frac = 0.1L; isdigit((unsigned char)*p);
			    frac /= 10)
				v += frac * (*p++ - '0');
		}
		for (ulen = 0; p[ulen] != '\0' && p[ulen] != '.' &&
		    !isdigit((unsigned char)p[ulen]); ulen++)
			;
		scale = 1;
		for (i = 0; i < sizeof units / sizeof units[0]; i++) {
			if (i == 0 ? (ulen == 1 && *p == 'B') :
			    (p[0] == units[i][0] && ((ulen == 2 &&
			    p[1] == 'B') || (ulen == 3 && p[1] == 'i' &&
			    p[2] == 'B'))))
				break;
			scale *= 1024;
		}
		if (i == sizeof units / sizeof units[0])
			return -1;
		total += v * scale;
		p += ulen;
	}
	if (total >= 18446744073709551615.0L)
		return -1;
	*bytes = (uint64_t)total;
	return 0;
}

static void
config_format_size(struct buf *b, uint64_t v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	size_t i = 0;

	while (v != 0 && v % 1024 == 0 && i + 1 < sizeof units /
	    sizeof units[0]) {
		v /= 1024;
		i++;
	}
	buf_printf(b, "%" PRIu64 "%s", v, units[i]);
}

static int
config_size(struct config_ctx *ctx, const char *key, const struct ynode *n,
    uint64_t *dst)
{
	const char *p;
	char *s, *unit;
	int rc = 0;

	if (config_null(n))
		return 0;
	if (config_text(ctx, key, n, 0, &s) == -1)
		return -1;
	if (config_parse_size(s, dst) == -1) {
		/* Name the unit as units.ParseBase2Bytes does. */
		for (p = s; *p != '\0' && (isdigit((unsigned char)*p) ||
		    *p == '.' || *p == '+' || *p == '-'); p++)
			;
		unit = xstrdup(p);
		unit[strcspn(unit, "0123456789.")] = '\0';
		rc = config_error(ctx, n, key, "units: unknown unit %s in %s "
		    "(use B, KB, MB, GB, TB as in 10MB)", unit, s);
		free(unit);
	}
	free(s);
	return rc;
}

/* A list of strings; null is an empty list. */
static int
config_str_list(struct config_ctx *ctx, const char *key, const struct ynode *n,
    char ***v, size_t *nv)
{
	size_t i;
	char *s;
	int seq;

	if ((seq = config_list(ctx, n, key)) != 1)
		return seq;
	for (i = 0; i < n->n; i++) {
		if (config_text(ctx, key, n->v[i], 0, &s) == -1)
			return -1;
		if (s == NULL)
			s = xstrdup("");
		*v = xreallocarray(*v, *nv + 1, sizeof **v);
		(*v)[(*nv)++] = s;
	}
	return 0;
}

static void
config_str_list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
config_kvs_add(struct config_kvs *kvs, char *name, char *value)
{
	kvs->v = xreallocarray(kvs->v, kvs->n + 1, sizeof *kvs->v);
	kvs->v[kvs->n].name = name;
	kvs->v[kvs->n].value = value;
	kvs->n++;
}

static void
config_kvs_free(struct config_kvs *kvs)
{
	size_t i;

	for (i = 0; i < kvs->n; i++) {
		free(kvs->v[i].name);
		free(kvs->v[i].value);
	}
	free(kvs->v);
	kvs->v = NULL;
	kvs->n = 0;
}

static int
config_kv_cmp(const void *a, const void *b)
{
	const struct config_kv *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Label name/value checks with Prometheus's wording. */
static int
config_check_label_name(struct config_ctx *ctx, const char *key,
    const struct ynode *n, const char *name, size_t len)
{
	struct buf b = BUF_INIT;
	int rc;

	if (labels_valid_label_name((struct lstr){ name, len }))
		return 0;
	config_quote(&b, name, len);
	rc = config_error(ctx, n, key, "%s is not a valid label name", b.data);
	buf_free(&b);
	return rc;
}

static int
config_check_label_value(struct config_ctx *ctx, const char *key,
    const struct ynode *n, const char *value)
{
	struct buf b = BUF_INIT;
	int rc;

	if (labels_valid_utf8((struct lstr){ value, strlen(value) }))
		return 0;
	config_quote(&b, value, strlen(value));
	rc = config_error(ctx, n, key, "%s is not a valid label value",
	    b.data);
	buf_free(&b);
	return rc;
}

/*
 * A mapping of label names to values. Names are validated as label names
 * when labels is set; values are expanded.
 */
static int
config_kv_map(struct config_ctx *ctx, const char *key, const struct ynode *n,
    struct config_kvs *kvs, int labels)
{
	const struct ynode *k, *v;
	char *name, *value;
	size_t i;

	if (config_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return config_error(ctx, n, key, "expected a mapping, got %s",
		    yaml_tree_kind(n));
	for (i = 0; i < n->n; i++) {
		k = YNODE_KEY(n, i);
		v = YNODE_VAL(n, i);
		if (labels && config_check_label_name(ctx, key, k, k->value,
		    k->len) == -1)
			return -1;
		if (!labels && (strlen(k->value) != k->len || k->len == 0))
			return config_error(ctx, k, key, "invalid name");
		if (config_text(ctx, k->value, v, 0, &value) == -1)
			return -1;
		if (value == NULL)
			value = xstrdup("");
		if (labels && config_check_label_value(ctx, k->value, v,
		    value) == -1) {
			free(value);
			return -1;
		}
		name = xstrdup(k->value);
		config_kvs_add(kvs, name, value);
	}
	return 0;
}

/* A UUID in its canonical 8-4-4-4-12 hexadecimal form. */
static int
config_is_uuid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
config_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/*
 * A copy of a URL fit for messages: the password of "user:pass@" becomes
 * <secret> (all of the userinfo when there is no scheme to go by).
 */
char *
config_redact_url(const char *url)
{
	const char *scheme, *start, *end, *at, *colon;
	struct buf b = BUF_INIT;

	scheme = strstr(url, "://");
	start = scheme == NULL ? url : scheme + 3;
	end = start + strcspn(start, "/?#");
	at = memchr(start, '@', (size_t)(end - start));
	if (at == NULL)
		return xstrdup(url);
	colon = memchr(start, ':', (size_t)(at - start));
	if (scheme == NULL)
		colon = NULL;
	if (scheme != NULL && colon == NULL)
		return xstrdup(url);
	buf_append(&b, url, (size_t)((colon != NULL ? colon + 1 : start) -
	    url));
	buf_puts(&b, "<secret>");
	buf_puts(&b, at);
	return buf_steal(&b);
}

/* An http:// or https:// URL with a host. */
static int
config_check_http_url(const char *s)
{
	const char *host;

	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return -1;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return -1;
	return 0;
}

/* Edit distance for "did you mean"; keys are short. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			tmp = row[j];
			row[j] = cur;
			prev = tmp;
		}
	}
	return row[lb];
}

/* ---- Key tables ------------------------------------------------------ */

enum config_ftype {
	CF_STR,		/* char *, expanded */
	CF_PATH,	/* char *, expanded, made absolute */
	CF_BOOL,	/* int */
	CF_DURATION,	/* int64_t ms */
	CF_U64,		/* uint64_t */
	CF_I64,		/* int64_t */
	CF_SIZE,	/* uint64_t bytes */
	CF_FN,		/* custom parser */
	CF_IGN_BOOL,	/* accepted, checked, no effect in promlet */
	CF_IGN_DURATION,
	CF_IGN_STR,
	CF_IGN_U64,
	CF_IGN_I64,
	CF_UNSUPPORTED,	/* a Prometheus key promlet refuses */
};

/* Gets the key node (its value is the key) and the value node. */
typedef int (*config_field_fn)(struct config_ctx *, const struct ynode *,
    const struct ynode *, void *);

struct config_field {
	const char		*name;
	enum config_ftype	 type;
	size_t			 off;
	config_field_fn		 fn;
	const char		*why;	/* CF_UNSUPPORTED */
};

#define CF(n, t, s, m)	{ n, t, offsetof(s, m), NULL, NULL }
#define CFN(n, f)	{ n, CF_FN, 0, f, NULL }
#define CIGN(n, t)	{ n, t, 0, NULL, NULL }
#define CNOT(n, why)	{ n, CF_UNSUPPORTED, 0, NULL, why }
#define CEND		{ NULL, CF_STR, 0, NULL, NULL }

/* Every table is shorter than this; at[] records where each key was. */
#define CONFIG_MAX_FIELDS	64

struct config_layer {
	const struct config_field	*fields;
	void				*obj;
	const struct ynode		**at;	/* key nodes, or NULL */
};

/* The key node for name in a layer that was walked, or NULL. */
static const struct ynode *
config_at(const struct config_layer *l, const char *name)
{
	size_t i;

	if (l->at == NULL)
		return NULL;
	for (i = 0; l->fields[i].name != NULL; i++) {
		if (strcmp(l->fields[i].name, name) == 0)
			return l->at[i];
	}
	return NULL;
}

static const struct config_field *
config_field_find(const struct config_layer *layers, size_t nlayers,
    const char *name, void **obj, const struct ynode ***at)
{
	const struct config_field *f;
	size_t i;

	for (i = 0; i < nlayers; i++) {
		for (f = layers[i].fields; f->name != NULL; f++) {
			if (strcmp(f->name, name) == 0) {
				*obj = layers[i].obj;
				*at = layers[i].at == NULL ||
				    f - layers[i].fields >= CONFIG_MAX_FIELDS ?
				    NULL : &layers[i].at[f - layers[i].fields];
				return f;
			}
		}
	}
	return NULL;
}

static int
config_unknown_key(struct config_ctx *ctx, const struct ynode *k,
    const char *section, const struct config_layer *layers, size_t nlayers)
{
	const struct config_field *f, *best = NULL;
	size_t i, d, bestd = SIZE_MAX, len = strlen(k->value);

	if (len > 11 && strcmp(k->value + len - 11, "_sd_configs") == 0)
		return config_error(ctx, k, k->value, "not supported by "
		    "promlet (service discovery available: static_configs, "
		    "file_sd_configs, http_sd_configs, kubernetes_sd_configs)");
	for (i = 0; i < nlayers; i++) {
		for (f = layers[i].fields; f->name != NULL; f++) {
			d = config_distance(k->value, f->name);
			if (d < bestd) {
				bestd = d;
				best = f;
			}
		}
	}
	if (best != NULL && bestd <= 2 && bestd < len)
		return config_error(ctx, k, k->value, "unknown key in %s "
		    "(did you mean %s?)", section, best->name);
	return config_error(ctx, k, k->value, "unknown key in %s", section);
}

/*
 * Walk the pairs of mapping m against the tables in layers. A null value
 * for the whole mapping is an empty mapping.
 */
static int
config_map(struct config_ctx *ctx, const char *section, const struct ynode *m,
    const struct config_layer *layers, size_t nlayers)
{
	const struct config_field *f;
	const struct ynode *k, *v, **at;
	const char *key;
	void *obj, *dst;
	char *s = NULL;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	int b = 0, rc;
	size_t i;

	if (config_null(m))
		return 0;
	if (m->type != YNODE_MAP)
		return config_error(ctx, m, section, "expected a mapping, got "
		    "%s", yaml_tree_kind(m));
	for (i = 0; i < m->n; i++) {
		k = YNODE_KEY(m, i);
		v = YNODE_VAL(m, i);
		key = k->value;
		f = config_field_find(layers, nlayers, key, &obj, &at);
		if (f == NULL)
			return config_unknown_key(ctx, k, section, layers,
			    nlayers);
		if (at != NULL)
			*at = k;
		dst = (char *)obj + f->off;
		switch (f->type) {
		case CF_STR:
			rc = config_str(ctx, key, v, dst);
			break;
		case CF_PATH:
			rc = config_path(ctx, key, v, dst);
			break;
		case CF_BOOL:
			rc = config_bool(ctx, key, v, dst);
			break;
		case CF_DURATION:
			rc = config_duration(ctx, key, v, dst);
			break;
		case CF_U64:
			rc = config_u64(ctx, key, v, dst);
			break;
		case CF_I64:
			rc = config_i64(ctx, key, v, dst);
			break;
		case CF_SIZE:
			rc = config_size(ctx, key, v, dst);
			break;
		case CF_FN:
			rc = f->fn(ctx, k, v, obj);
			break;
		case CF_IGN_BOOL:
			rc = config_bool(ctx, key, v, &b);
			break;
		case CF_IGN_DURATION:
			rc = config_duration(ctx, key, v, &i64);
			break;
		case CF_IGN_STR:
			rc = config_str(ctx, key, v, &s);
			free(s);
			s = NULL;
			break;
		case CF_IGN_U64:
			rc = config_u64(ctx, key, v, &u64);
			break;
		case CF_IGN_I64:
			rc = config_i64(ctx, key, v, &i64);
			break;
		case CF_UNSUPPORTED:
		default:
			rc = config_error(ctx, k, key, "not supported by "
			    "promlet%s%s", f->why != NULL ? ": " : "",
			    f->why != NULL ? f->why : "");
			break;
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* A set of names with O(1) lookups, for uniqueness over many jobs. */
struct config_names {
	const char	**v;
	size_t		  cap;
	size_t		  n;
};

static void
config_names_free(struct config_names *set)
{
	free(set->v);
	memset(set, 0, sizeof *set);
}

/* Returns 0 if added, -1 if the name was already there. */
static int
config_names_add(struct config_names *set, const char *name)
{
	const char **old;
	size_t i, oldcap, mask;

	if (2 * (set->n + 1) > set->cap) {
		old = set->v;
		oldcap = set->cap;
		set->cap = set->cap == 0 ? 16 : set->cap * 2;
		set->v = xcalloc(set->cap, sizeof *set->v);
		set->n = 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i] != NULL)
				config_names_add(set, old[i]);
		}
		free(old);
	}
	mask = set->cap - 1;
	i = hash_bytes(name, strlen(name), 0) & mask;
	while (set->v[i] != NULL) {
		if (strcmp(set->v[i], name) == 0)
			return -1;
		i = (i + 1) & mask;
	}
	set->v[i] = name;
	set->n++;
	return 0;
}

/* ---- HTTP client settings ------------------------------------------- */

struct config_http_parse {
	struct config_http	*h;
	char			*bearer_token;
	char			*bearer_token_file;
	char			*proxy_url;
	char			*no_proxy;
	int			 proxy_from_environment;
	int			 follow_redirects;
	int			 enable_http2;
	int			 basic_auth;	/* present and not null */
	int			 authorization;
	const struct ynode	*at[CONFIG_MAX_FIELDS];
};

static void	config_http_free(struct config_http *);
static int	config_header_name_ok(const char *);
static int	config_header_value_ok(const char *);
static int	config_proxy_check(struct config_ctx *,
		    const struct config_layer *, const char *, const char *,
		    int, const struct config_kvs *);
static int	config_tls_check(struct config_ctx *, const struct ynode *,
		    const struct config_tls *);

static const struct config_field config_basic_auth_fields[] = {
	CF("username", CF_STR, struct config_http, basic_auth_username),
	CF("password", CF_STR, struct config_http, basic_auth_password),
	CF("password_file", CF_PATH, struct config_http,
	    basic_auth_password_file),
	CF("username_file", CF_PATH, struct config_http,
	    basic_auth_username_file),
	CNOT("username_ref", NULL),
	CNOT("password_ref", NULL),
	CEND
};

static const struct config_field config_authorization_fields[] = {
	CF("type", CF_STR, struct config_http, authorization_type),
	CF("credentials", CF_STR, struct config_http,
	    authorization_credentials),
	CF("credentials_file", CF_PATH, struct config_http,
	    authorization_credentials_file),
	CNOT("credentials_ref", NULL),
	CEND
};

static int
config_tls_version_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	static const char *versions[] = { "TLS10", "TLS11", "TLS12", "TLS13" };
	struct config_tls *tls = obj;
	char **dst;
	size_t i;

	dst = strcmp(k->value, "min_version") == 0 ? &tls->min_version :
	    &tls->max_version;
	if (config_str(ctx, k->value, v, dst) == -1)
		return -1;
	if (*dst == NULL || **dst == '\0') {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	for (i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		if (strcmp(*dst, versions[i]) == 0)
			return 0;
	}
	return config_error(ctx, v, k->value, "unknown TLS version: %s "
	    "(one of TLS10, TLS11, TLS12, TLS13)", *dst);
}

static const struct config_field config_tls_fields[] = {
	CF("ca_file", CF_PATH, struct config_tls, ca_file),
	CF("cert_file", CF_PATH, struct config_tls, cert_file),
	CF("key_file", CF_PATH, struct config_tls, key_file),
	CF("server_name", CF_STR, struct config_tls, server_name),
	CF("insecure_skip_verify", CF_BOOL, struct config_tls,
	    insecure_skip_verify),
	CFN("min_version", config_tls_version_cb),
	CFN("max_version", config_tls_version_cb),
	CF("ca", CF_STR, struct config_tls, ca),
	CF("cert", CF_STR, struct config_tls, cert),
	CF("key", CF_STR, struct config_tls, key),
	CNOT("ca_ref", NULL),
	CNOT("cert_ref", NULL),
	CNOT("key_ref", NULL),
	CEND
};

static int
config_http_basic_auth_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;
	struct config_layer l = { config_basic_auth_fields, hp->h, NULL };

	if (config_null(v))
		return 0;
	hp->basic_auth = 1;
	if (config_map(ctx, k->value, v, &l, 1) == -1)
		return -1;
	/* Presence is what configures basic auth: mark it. */
	if (hp->h->basic_auth_username == NULL)
		hp->h->basic_auth_username = xstrdup("");
	return 0;
}

static int
config_http_authorization_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;
	struct config_layer l = { config_authorization_fields, hp->h, NULL };

	if (config_null(v))
		return 0;
	hp->authorization = 1;
	return config_map(ctx, k->value, v, &l, 1);
}

static int
config_http_tls_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;
	struct config_layer l = { config_tls_fields, &hp->h->tls, NULL };

	return config_map(ctx, k->value, v, &l, 1);
}

/* ---- oauth2 ---------------------------------------------------------- */

/* What the oauth2 block holds for its token request's proxy. */
struct config_oauth2_parse {
	struct config_http	*http;		/* the token request's */
	char			*proxy_url;
	char			*no_proxy;
	int			 proxy_from_environment;
	const struct ynode	*at[CONFIG_MAX_FIELDS];
	const struct ynode	*oat[CONFIG_MAX_FIELDS];	/* oauth2's */
};

static int
config_oauth2_scopes_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_oauth2 *oa = obj;

	return config_str_list(ctx, k->value, v, &oa->scopes, &oa->nscopes);
}

static int
config_oauth2_params_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_oauth2 *oa = obj;
	struct config_kvs *p = &oa->endpoint_params;

	if (config_kv_map(ctx, k->value, v, p, 0) == -1)
		return -1;
	if (p->n > 1)
		qsort(p->v, p->n, sizeof *p->v, config_kv_cmp);
	return 0;
}

static int
config_oauth2_tls_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_oauth2 *oa = obj;
	struct config_layer l = { config_tls_fields, &oa->http.tls, NULL };

	return config_map(ctx, k->value, v, &l, 1);
}

static const struct config_field config_oauth2_fields[] = {
	CF("client_id", CF_STR, struct config_oauth2, client_id),
	CF("client_secret", CF_STR, struct config_oauth2, client_secret),
	CF("client_secret_file", CF_PATH, struct config_oauth2,
	    client_secret_file),
	CNOT("client_secret_ref", NULL),
	CFN("scopes", config_oauth2_scopes_cb),
	CF("token_url", CF_STR, struct config_oauth2, token_url),
	CFN("endpoint_params", config_oauth2_params_cb),
	CFN("tls_config", config_oauth2_tls_cb),
	CEND
};

/*
 * proxy_connect_header: {Name: [secret, ...]}, into kvs (a pair per
 * value). Go's client writes the map as it is: names are not changed.
 */
/*
 * A mapping keyed by header names (http_headers, proxy_connect_header):
 * 1 when v is one and every name is an HTTP token, 0 when v is null, -1
 * after an error.
 */
static int
config_header_map_check(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v)
{
	const struct ynode *name;
	size_t i;

	if (config_null(v))
		return 0;
	if (v->type != YNODE_MAP)
		return config_error(ctx, v, k->value, "expected a mapping, "
		    "got %s", yaml_tree_kind(v));
	for (i = 0; i < v->n; i++) {
		name = YNODE_KEY(v, i);
		if (!config_header_name_ok(name->value))
			return config_error(ctx, name, k->value, "invalid "
			    "header name \"%s\"", name->value);
	}
	return 1;
}

static int
config_proxy_header_map(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, struct config_kvs *kvs)
{
	const struct ynode *name, *list;
	char **vals = NULL;
	size_t i, j, n;
	int rc;

	if ((rc = config_header_map_check(ctx, k, v)) != 1)
		return rc;
	for (i = 0; i < v->n; i++) {
		name = YNODE_KEY(v, i);
		list = YNODE_VAL(v, i);
		n = 0;
		if (config_str_list(ctx, name->value, list, &vals, &n) == -1) {
			config_str_list_free(vals, n);
			return -1;
		}
		for (j = 0; j < n; j++) {
			if (!config_header_value_ok(vals[j])) {
				config_str_list_free(vals, n);
				return config_error(ctx, list->v[j],
				    name->value, "a value holds a control "
				    "character");
			}
		}
		for (j = 0; j < n; j++)
			config_kvs_add(kvs, xstrdup(name->value), vals[j]);
		free(vals);
		vals = NULL;
	}
	return 0;
}

static int
config_oauth2_proxy_header_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_oauth2_parse *op = obj;

	return config_proxy_header_map(ctx, k, v,
	    &op->http->proxy_connect_header);
}

static const struct config_field config_oauth2_proxy_fields[] = {
	CF("proxy_url", CF_STR, struct config_oauth2_parse, proxy_url),
	CF("no_proxy", CF_STR, struct config_oauth2_parse, no_proxy),
	CF("proxy_from_environment", CF_BOOL, struct config_oauth2_parse,
	    proxy_from_environment),
	CFN("proxy_connect_header", config_oauth2_proxy_header_cb),
	CEND
};

void
config_oauth2_free(struct config_oauth2 *oa)
{
	if (oa == NULL)
		return;
	/* Token sources keep copies for the process's life: wipe them. */
	xfree_secret(oa->client_secret);
	free(oa->client_id);
	free(oa->client_secret_file);
	config_str_list_free(oa->scopes, oa->nscopes);
	free(oa->token_url);
	config_kvs_free(&oa->endpoint_params);
	config_http_free(&oa->http);
	xfree_secret(oa->key);
	free(oa);
}

static char *
config_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct config_oauth2 *
config_oauth2_dup(const struct config_oauth2 *oa)
{
	struct config_oauth2 *d = xcalloc(1, sizeof *d);
	const struct config_http *h = &oa->http;
	const struct config_tls *t = &h->tls;
	size_t i;

	d->client_id = config_strdup_or_null(oa->client_id);
	d->client_secret = config_strdup_or_null(oa->client_secret);
	d->client_secret_file = config_strdup_or_null(oa->client_secret_file);
	for (i = 0; i < oa->nscopes; i++) {
		d->scopes = xreallocarray(d->scopes, i + 1, sizeof *d->scopes);
		d->scopes[d->nscopes++] = xstrdup(oa->scopes[i]);
	}
	d->token_url = config_strdup_or_null(oa->token_url);
	for (i = 0; i < oa->endpoint_params.n; i++)
		config_kvs_add(&d->endpoint_params,
		    xstrdup(oa->endpoint_params.v[i].name),
		    xstrdup(oa->endpoint_params.v[i].value));
	d->http.tls.ca_file = config_strdup_or_null(t->ca_file);
	d->http.tls.cert_file = config_strdup_or_null(t->cert_file);
	d->http.tls.key_file = config_strdup_or_null(t->key_file);
	d->http.tls.ca = config_strdup_or_null(t->ca);
	d->http.tls.cert = config_strdup_or_null(t->cert);
	d->http.tls.key = config_strdup_or_null(t->key);
	d->http.tls.server_name = config_strdup_or_null(t->server_name);
	d->http.tls.insecure_skip_verify = t->insecure_skip_verify;
	d->http.tls.min_version = config_strdup_or_null(t->min_version);
	d->http.tls.max_version = config_strdup_or_null(t->max_version);
	d->http.proxy_url = config_strdup_or_null(h->proxy_url);
	d->http.no_proxy = config_strdup_or_null(h->no_proxy);
	d->http.proxy_from_environment = h->proxy_from_environment;
	for (i = 0; i < h->proxy_connect_header.n; i++)
		config_kvs_add(&d->http.proxy_connect_header,
		    xstrdup(h->proxy_connect_header.v[i].name),
		    xstrdup(h->proxy_connect_header.v[i].value));
	d->http.follow_redirects = h->follow_redirects;
	d->http.enable_http2 = h->enable_http2;
	d->key = config_strdup_or_null(oa->key);
	return d;
}

/* Each setting as name=length:value, so no value can forge another. */
static void
config_oauth2_key_put(struct buf *b, const char *name, const char *v)
{
	if (v != NULL)
		buf_printf(b, "%s=%zu:%s\n", name, strlen(v), v);
}

static char *
config_oauth2_key(const struct config_oauth2 *oa)
{
	const struct config_http *h = &oa->http;
	const struct config_tls *t = &h->tls;
	struct buf b = BUF_INIT;
	size_t i;

	config_oauth2_key_put(&b, "id", oa->client_id);
	config_oauth2_key_put(&b, "secret", oa->client_secret);
	config_oauth2_key_put(&b, "secret_file", oa->client_secret_file);
	for (i = 0; i < oa->nscopes; i++)
		config_oauth2_key_put(&b, "scope", oa->scopes[i]);
	config_oauth2_key_put(&b, "url", oa->token_url);
	for (i = 0; i < oa->endpoint_params.n; i++) {
		config_oauth2_key_put(&b, "pn", oa->endpoint_params.v[i].name);
		config_oauth2_key_put(&b, "pv", oa->endpoint_params.v[i].value);
	}
	config_oauth2_key_put(&b, "ca", t->ca_file);
	config_oauth2_key_put(&b, "cert", t->cert_file);
	config_oauth2_key_put(&b, "key", t->key_file);
	config_oauth2_key_put(&b, "ca_pem", t->ca);
	config_oauth2_key_put(&b, "cert_pem", t->cert);
	config_oauth2_key_put(&b, "key_pem", t->key);
	config_oauth2_key_put(&b, "sni", t->server_name);
	config_oauth2_key_put(&b, "min", t->min_version);
	config_oauth2_key_put(&b, "max", t->max_version);
	config_oauth2_key_put(&b, "proxy", h->proxy_url);
	config_oauth2_key_put(&b, "no_proxy", h->no_proxy);
	buf_printf(&b, "flags=%d%d\n", t->insecure_skip_verify,
	    h->proxy_from_environment);
	return buf_steal(&b);
}

/*
 * The oauth2 block alone: its TLS and proxy settings. How it combines
 * with the other auth settings is config_http_finish's.
 */
static int
config_http_oauth2_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;
	struct config_oauth2_parse op;
	struct config_oauth2 *oa;
	struct config_layer l[2];
	int rc = -1;

	if (config_null(v))
		return 0;
	memset(&op, 0, sizeof op);
	op.proxy_from_environment = CONFIG_UNSET;
	config_oauth2_free(hp->h->oauth2);
	oa = hp->h->oauth2 = xcalloc(1, sizeof *oa);
	op.http = &oa->http;
	l[0] = (struct config_layer){ config_oauth2_fields, oa, op.oat };
	l[1] = (struct config_layer){ config_oauth2_proxy_fields, &op, op.at };
	if (config_map(ctx, k->value, v, l, 2) == -1 ||
	    config_proxy_check(ctx, &l[1], op.proxy_url, op.no_proxy,
	    op.proxy_from_environment, &oa->http.proxy_connect_header) == -1 ||
	    config_tls_check(ctx, config_at(&l[0], "tls_config"),
	    &oa->http.tls) == -1)
		goto out;
	if (!config_empty(op.proxy_url)) {
		oa->http.proxy_url = op.proxy_url;
		op.proxy_url = NULL;
	}
	if (!config_empty(op.no_proxy)) {
		oa->http.no_proxy = op.no_proxy;
		op.no_proxy = NULL;
	}
	oa->http.proxy_from_environment = op.proxy_from_environment == 1;
	/* Go's token client: redirects followed, HTTP/1.1 with a TLS config. */
	oa->http.follow_redirects = 1;
	rc = 0;
out:
	free(op.proxy_url);
	free(op.no_proxy);
	return rc;
}

static int
config_http_proxy_header_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;

	return config_proxy_header_map(ctx, k, v,
	    &hp->h->proxy_connect_header);
}

/* ---- http_headers ---------------------------------------------------- */

/*
 * Headers Prometheus's HTTP client refuses in http_headers (prometheus/
 * common headers.go): set by the client or another setting, or changing
 * the connection.
 */
static const char *config_http_reserved_headers[] = {
	"Authorization", "Host", "Content-Encoding", "Content-Length",
	"Content-Type", "User-Agent", "Connection", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate",
	"Accept-Encoding", "X-Prometheus-Remote-Write-Version",
	"X-Prometheus-Remote-Read-Version",
	"X-Prometheus-Scrape-Timeout-Seconds", "X-Amz-Date",
	"X-Amz-Security-Token", "X-Amz-Content-Sha256"
};

/* Go's CanonicalMIMEHeaderKey of a valid name: "x-foo-id" is "X-Foo-Id". */
static char *
config_header_canonical(const char *name)
{
	char *s = xstrdup(name), *p;
	int upper = 1;

	for (p = s; *p != '\0'; p++) {
		if (upper && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (!upper && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		upper = *p == '-';
	}
	return s;
}

static void
config_header_free(struct config_header *h)
{
	size_t i;

	for (i = 0; i < h->nsecrets; i++)
		explicit_bzero(h->secrets[i], strlen(h->secrets[i]));
	free(h->name);
	config_str_list_free(h->values, h->nvalues);
	config_str_list_free(h->secrets, h->nsecrets);
	config_str_list_free(h->files, h->nfiles);
}

/* values, secrets, files: lists of strings; files relative to the config. */
static int
config_header_list_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_header *h = obj;
	char ***list;
	size_t *n, i, first;
	int files = strcmp(k->value, "files") == 0;

	if (files) {
		list = &h->files;
		n = &h->nfiles;
	} else if (strcmp(k->value, "secrets") == 0) {
		list = &h->secrets;
		n = &h->nsecrets;
	} else {
		list = &h->values;
		n = &h->nvalues;
	}
	first = *n;
	if (config_str_list(ctx, k->value, v, list, n) == -1)
		return -1;
	for (i = first; i < *n; i++) {
		if (files)
			(*list)[i] = config_abs_path(ctx, (*list)[i]);
		else if (!config_header_value_ok((*list)[i]))
			/* Go's client would fail every request with it. */
			return config_error(ctx, v->v[i - first], k->value,
			    "header %s: a value holds a control character",
			    h->name);
	}
	return 0;
}

static const struct config_field config_header_fields[] = {
	CFN("values", config_header_list_cb),
	CFN("secrets", config_header_list_cb),
	CFN("files", config_header_list_cb),
	CEND
};

static int
config_http_headers_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_http_parse *hp = obj;
	struct config_http *h = hp->h;
	struct config_header *e;
	struct config_layer l;
	const struct ynode *name;
	char *canon;
	size_t i, j;
	int rc;

	if ((rc = config_header_map_check(ctx, k, v)) != 1)
		return rc;
	for (i = 0; i < v->n; i++) {
		name = YNODE_KEY(v, i);
		canon = config_header_canonical(name->value);
		for (j = 0; j < sizeof config_http_reserved_headers /
		    sizeof config_http_reserved_headers[0]; j++) {
			if (strcmp(canon, config_http_reserved_headers[j]) ==
			    0) {
				config_error(ctx, name, k->value, "setting "
				    "header \"%s\" is not allowed", canon);
				free(canon);
				return -1;
			}
		}
		h->headers = xreallocarray(h->headers, h->nheaders + 1,
		    sizeof *h->headers);
		e = &h->headers[h->nheaders++];
		memset(e, 0, sizeof *e);
		e->name = canon;
		l = (struct config_layer){ config_header_fields, e, NULL };
		if (config_map(ctx, name->value, YNODE_VAL(v, i), &l, 1) == -1)
			return -1;
	}
	return 0;
}

static const struct config_field config_http_fields[] = {
	CFN("basic_auth", config_http_basic_auth_cb),
	CFN("authorization", config_http_authorization_cb),
	CF("bearer_token", CF_STR, struct config_http_parse, bearer_token),
	CF("bearer_token_file", CF_PATH, struct config_http_parse,
	    bearer_token_file),
	CFN("tls_config", config_http_tls_cb),
	CF("proxy_url", CF_STR, struct config_http_parse, proxy_url),
	CF("no_proxy", CF_STR, struct config_http_parse, no_proxy),
	CF("proxy_from_environment", CF_BOOL, struct config_http_parse,
	    proxy_from_environment),
	CF("follow_redirects", CF_BOOL, struct config_http_parse,
	    follow_redirects),
	CF("enable_http2", CF_BOOL, struct config_http_parse, enable_http2),
	CFN("oauth2", config_http_oauth2_cb),
	CFN("proxy_connect_header", config_http_proxy_header_cb),
	CFN("http_headers", config_http_headers_cb),
	CEND
};

static void
config_http_parse_init(struct config_http_parse *hp, struct config_http *h)
{
	memset(hp, 0, sizeof *hp);
	hp->h = h;
	hp->proxy_from_environment = CONFIG_UNSET;
	hp->follow_redirects = CONFIG_UNSET;
	hp->enable_http2 = CONFIG_UNSET;
}

static void
config_http_parse_clear(struct config_http_parse *hp)
{
	free(hp->bearer_token);
	free(hp->bearer_token_file);
	free(hp->proxy_url);
	free(hp->no_proxy);
	hp->bearer_token = hp->bearer_token_file = NULL;
	hp->proxy_url = hp->no_proxy = NULL;
}

static void
config_http_free(struct config_http *h)
{
	size_t i;

	free(h->basic_auth_username);
	free(h->basic_auth_password);
	free(h->basic_auth_password_file);
	free(h->basic_auth_username_file);
	free(h->authorization_type);
	free(h->authorization_credentials);
	free(h->authorization_credentials_file);
	free(h->tls.ca_file);
	free(h->tls.cert_file);
	free(h->tls.key_file);
	free(h->tls.ca);
	free(h->tls.cert);
	xfree_secret(h->tls.key);
	free(h->tls.server_name);
	free(h->tls.min_version);
	free(h->tls.max_version);
	free(h->proxy_url);
	free(h->no_proxy);
	config_oauth2_free(h->oauth2);
	h->oauth2 = NULL;
	for (i = 0; i < h->nheaders; i++)
		config_header_free(&h->headers[i]);
	free(h->headers);
	h->headers = NULL;
	h->nheaders = 0;
	for (i = 0; i < h->proxy_connect_header.n; i++)
		explicit_bzero(h->proxy_connect_header.v[i].value,
		    strlen(h->proxy_connect_header.v[i].value));
	config_kvs_free(&h->proxy_connect_header);
}

/* proxy_url: scheme://host[:port] with a scheme curl can proxy through. */
static int
config_check_proxy_url(const char *s)
{
	static const char *schemes[] = { "http://", "https://", "socks4://",
	    "socks4a://", "socks5://", "socks5h://" };
	size_t i, n;

	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(s, schemes[i], n) == 0)
			return s[n] == '\0' || s[n] == '/' ? -1 : 0;
	}
	return -1;
}

/* Proxy settings in a layer that has the proxy keys (Prometheus's order). */
static int
config_proxy_check(struct config_ctx *ctx, const struct config_layer *l,
    const char *proxy_url, const char *no_proxy, int from_env,
    const struct config_kvs *connect_header)
{
	const struct ynode *at;
	char *t;

	if (connect_header->n != 0 && from_env != 1 &&
	    config_empty(proxy_url)) {
		at = config_at(l, "proxy_connect_header");
		return config_error(ctx, at, at->value, "if "
		    "proxy_connect_header is configured, proxy_url or "
		    "proxy_from_environment must also be configured");
	}

	if (from_env == 1 && !config_empty(proxy_url)) {
		at = config_at(l, "proxy_from_environment");
		return config_error(ctx, at, at->value, "if "
		    "proxy_from_environment is configured, proxy_url must not "
		    "be configured");
	}
	if (from_env == 1 && !config_empty(no_proxy)) {
		at = config_at(l, "proxy_from_environment");
		return config_error(ctx, at, at->value, "if "
		    "proxy_from_environment is configured, no_proxy must not "
		    "be configured");
	}
	if (config_empty(proxy_url) && !config_empty(no_proxy)) {
		at = config_at(l, "no_proxy");
		return config_error(ctx, at, at->value, "if no_proxy is "
		    "configured, proxy_url must also be configured");
	}
	if (!config_empty(proxy_url) &&
	    config_check_proxy_url(proxy_url) == -1) {
		at = config_at(l, "proxy_url");
		t = config_redact_url(proxy_url);
		config_error(ctx, at, at->value, "invalid proxy URL \"%s\" "
		    "(expected scheme://host:port with scheme http, https, "
		    "socks4, socks4a, socks5 or socks5h)", t);
		free(t);
		return -1;
	}
	return 0;
}

/*
 * Inline PEM, checked as Go's client checks it when it is made: a CA
 * needs at least one certificate; a client certificate and key must
 * parse and, both inline, belong together (files are read at connect).
 */
static const char *
config_tls_pem_check(const struct config_tls *t)
{
	const char *why = NULL;
	X509 *x = NULL, *c = NULL;
	EVP_PKEY *k = NULL;
	BIO *bio;
	int n = 0;

	/*
	 * Not even ERR_clear_error() without PEM to read: it initialises
	 * libcrypto, which touched 1.5 MiB of its pages at every start.
	 */
	if (config_empty(t->ca) && config_empty(t->cert) &&
	    config_empty(t->key))
		return NULL;
	if (!config_empty(t->ca)) {
		bio = BIO_new_mem_buf(t->ca, -1);
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			X509_free(x);
			n++;
		}
		BIO_free(bio);
		if (n == 0)
			why = "unable to use inline CA cert";
	}
	if (why == NULL && !config_empty(t->cert)) {
		bio = BIO_new_mem_buf(t->cert, -1);
		c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (c == NULL)
			why = "tls: failed to find any PEM data in certificate "
			    "input";
	}
	if (why == NULL && !config_empty(t->key)) {
		bio = BIO_new_mem_buf(t->key, -1);
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
		BIO_free(bio);
		if (k == NULL)
			why = strstr(t->key, "-----BEGIN ") == NULL ?
			    "tls: failed to find any PEM data in key input" :
			    "tls: failed to parse private key";
	}
	if (why == NULL && c != NULL && k != NULL &&
	    X509_check_private_key(c, k) != 1)
		why = "tls: private key does not match public key";
	X509_free(c);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return why;
}

static int
config_tls_check(struct config_ctx *ctx, const struct ynode *at,
    const struct config_tls *t)
{
	int cert = !config_empty(t->cert) || !config_empty(t->cert_file);
	int key = !config_empty(t->key) || !config_empty(t->key_file);
	const char *why;

	if (!config_empty(t->ca) && !config_empty(t->ca_file))
		return config_error(ctx, at, "tls_config", "at most one of "
		    "ca, ca_file & ca_ref must be configured");
	if (!config_empty(t->cert) && !config_empty(t->cert_file))
		return config_error(ctx, at, "tls_config", "at most one of "
		    "cert, cert_file & cert_ref must be configured");
	if (!config_empty(t->key) && !config_empty(t->key_file))
		return config_error(ctx, at, "tls_config", "at most one of "
		    "key and key_file must be configured");
	if (cert && !key)
		return config_error(ctx, at, "tls_config", "exactly one of "
		    "key or key_file must be configured when a client "
		    "certificate is configured");
	if (!cert && key)
		return config_error(ctx, at, "tls_config", "exactly one of "
		    "cert or cert_file must be configured when a client key "
		    "is configured");
	if ((why = config_tls_pem_check(t)) != NULL)
		return config_error(ctx, at, "tls_config", "%s", why);
	/* TLS10 < TLS11 < TLS12 < TLS13, as strings too. */
	if (t->min_version != NULL && t->max_version != NULL &&
	    strcmp(t->max_version, t->min_version) < 0)
		return config_error(ctx, at, "tls_config", "tls_config."
		    "max_version must be greater than or equal to "
		    "tls_config.min_version if both are specified");
	return 0;
}

/* The oauth2 block's own requirements, after the auth conflicts. */
static int
config_oauth2_finish(struct config_ctx *ctx, const struct config_layer *l,
    struct config_oauth2 *oa)
{
	const struct ynode *at = config_at(l, "oauth2");
	char *u;

	if (config_empty(oa->client_id))
		return config_error(ctx, at, "oauth2", "oauth2 client_id must "
		    "be configured");
	if (config_empty(oa->token_url))
		return config_error(ctx, at, "oauth2", "oauth2 token_url must "
		    "be configured");
	if (!config_empty(oa->client_secret) &&
	    !config_empty(oa->client_secret_file))
		return config_error(ctx, at, "oauth2", "at most one of oauth2 "
		    "client_secret, client_secret_file & client_secret_ref "
		    "must be configured");
	/* Prometheus fails each request instead; the URL is known now. */
	if (config_check_http_url(oa->token_url) == -1) {
		u = config_redact_url(oa->token_url);
		config_error(ctx, at, "oauth2", "invalid oauth2 token_url "
		    "\"%s\" (expected an http:// or https:// URL with a "
		    "host)", u);
		free(u);
		return -1;
	}
	/* Go's client refuses to let endpoint_params replace scope. */
	if (oa->nscopes > 0) {
		size_t i;

		for (i = 0; i < oa->endpoint_params.n; i++)
			if (strcmp(oa->endpoint_params.v[i].name,
			    "scope") == 0)
				return config_error(ctx, at, "oauth2",
				    "oauth2 endpoint_params cannot replace "
				    "\"scope\", which scopes sets");
	}
	oa->key = config_oauth2_key(oa);
	return 0;
}

/*
 * HTTPClientConfig.Validate in Prometheus's order, then the mapping of
 * bearer_token(_file) onto authorization and the defaults.
 */
static int
config_http_finish(struct config_ctx *ctx, struct config_http_parse *hp,
    int default_http2)
{
	struct config_layer l = { config_http_fields, hp, hp->at };
	struct config_http *h = hp->h;
	const struct ynode *at;
	const char *bt = hp->bearer_token, *btf = hp->bearer_token_file;
	int has_bt = !config_empty(bt), has_btf = !config_empty(btf);
	int oauth2 = h->oauth2 != NULL;
	size_t len;
	char *t;

	if (has_bt && has_btf) {
		at = config_later(config_at(&l, "bearer_token"),
		    config_at(&l, "bearer_token_file"));
		return config_error(ctx, at, at->value, "at most one of "
		    "bearer_token & bearer_token_file must be configured");
	}
	if ((hp->basic_auth || oauth2) && (has_bt || has_btf)) {
		at = config_later(config_at(&l, hp->basic_auth ? "basic_auth" :
		    "oauth2"), config_at(&l,
		    has_bt ? "bearer_token" : "bearer_token_file"));
		return config_error(ctx, at, at->value, "at most one of "
		    "basic_auth, oauth2, bearer_token & bearer_token_file must "
		    "be configured");
	}
	if (hp->basic_auth && !config_empty(h->basic_auth_username) &&
	    !config_empty(h->basic_auth_username_file)) {
		at = config_at(&l, "basic_auth");
		return config_error(ctx, at, at->value, "at most one of "
		    "basic_auth username, username_file & username_ref must "
		    "be configured");
	}
	if (hp->basic_auth && !config_empty(h->basic_auth_password) &&
	    !config_empty(h->basic_auth_password_file)) {
		at = config_at(&l, "basic_auth");
		return config_error(ctx, at, at->value, "at most one of "
		    "basic_auth password, password_file & password_ref must "
		    "be configured");
	}
	if (hp->authorization) {
		at = config_at(&l, "authorization");
		if (has_bt || has_btf)
			return config_error(ctx, at, at->value,
			    "authorization is not compatible with bearer_token "
			    "& bearer_token_file");
		if (!config_empty(h->authorization_credentials) &&
		    !config_empty(h->authorization_credentials_file))
			return config_error(ctx, at, at->value,
			    "at most one of authorization credentials & "
			    "credentials_file must be configured");
		t = h->authorization_type;
		if (t != NULL) {
			while (isspace((unsigned char)*t))
				memmove(t, t + 1, strlen(t));
			len = strlen(t);
			while (len > 0 && isspace((unsigned char)t[len - 1]))
				t[--len] = '\0';
		}
		if (config_empty(t)) {
			free(h->authorization_type);
			h->authorization_type = xstrdup("Bearer");
		} else if (t != NULL && strcasecmp(t, "basic") == 0)
			return config_error(ctx, at, at->value,
			    "authorization type cannot be set to \"basic\", "
			    "use \"basic_auth\" instead");
		if (hp->basic_auth || oauth2) {
			at = config_later(at, config_at(&l, hp->basic_auth ?
			    "basic_auth" : "oauth2"));
			return config_error(ctx, at, at->value,
			    "at most one of basic_auth, oauth2 & authorization "
			    "must be configured");
		}
	} else if (has_bt || has_btf) {
		h->authorization_type = xstrdup("Bearer");
		if (has_bt) {
			h->authorization_credentials = hp->bearer_token;
			hp->bearer_token = NULL;
		} else {
			h->authorization_credentials_file =
			    hp->bearer_token_file;
			hp->bearer_token_file = NULL;
		}
	}

	if (config_proxy_check(ctx, &l, hp->proxy_url, hp->no_proxy,
	    hp->proxy_from_environment, &h->proxy_connect_header) == -1 ||
	    config_tls_check(ctx, config_at(&l, "tls_config"), &h->tls) == -1)
		return -1;
	if (oauth2 && hp->basic_auth) {
		at = config_later(config_at(&l, "basic_auth"),
		    config_at(&l, "oauth2"));
		return config_error(ctx, at, at->value, "at most one of "
		    "basic_auth, oauth2 & authorization must be configured");
	}
	if (oauth2 && config_oauth2_finish(ctx, &l, h->oauth2) == -1)
		return -1;

	if (!config_empty(hp->proxy_url)) {
		h->proxy_url = hp->proxy_url;
		hp->proxy_url = NULL;
	}
	if (!config_empty(hp->no_proxy)) {
		h->no_proxy = hp->no_proxy;
		hp->no_proxy = NULL;
	}
	h->proxy_from_environment = hp->proxy_from_environment == 1;
	h->follow_redirects = hp->follow_redirects != 0;
	h->enable_http2 = hp->enable_http2 == CONFIG_UNSET ? default_http2 :
	    hp->enable_http2;
	config_http_parse_clear(hp);
	return 0;
}

/* Whether any HTTP client setting differs from the defaults. */
static int
config_http_is_custom(const struct config_http *h, int default_http2)
{
	const struct config_tls *t = &h->tls;

	return h->basic_auth_username != NULL ||
	    h->authorization_type != NULL || h->oauth2 != NULL ||
	    t->ca_file != NULL || t->ca != NULL || t->cert != NULL ||
	    t->cert_file != NULL || t->key_file != NULL ||
	    t->server_name != NULL || t->insecure_skip_verify ||
	    t->min_version != NULL || t->max_version != NULL ||
	    h->proxy_url != NULL || h->no_proxy != NULL ||
	    h->proxy_from_environment || !h->follow_redirects ||
	    h->enable_http2 != default_http2 || h->nheaders != 0 ||
	    h->proxy_connect_header.n != 0;
}

/* ---- Relabel rules --------------------------------------------------- */

struct config_relabel_parse {
	struct relabel_rule	*r;
	char			*action;
	int			 action_set;
};

static int
config_relabel_source_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_relabel_parse *rp = obj;
	struct relabel_rule *r = rp->r;
	size_t i;

	if (config_str_list(ctx, k->value, v, &r->source_labels,
	    &r->nsource) == -1)
		return -1;
	for (i = 0; i < r->nsource; i++) {
		if (config_check_label_name(ctx, k->value, v->v[i],
		    r->source_labels[i], strlen(r->source_labels[i])) == -1)
			return -1;
	}
	return 0;
}

static int
config_relabel_str_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_relabel_parse *rp = obj;
	struct relabel_rule *r = rp->r;
	char **dst, *s;
	int raw = 0;

	if (strcmp(k->value, "separator") == 0)
		dst = &r->separator;
	else if (strcmp(k->value, "regex") == 0)
		dst = &r->regex;
	else if (strcmp(k->value, "target_label") == 0)
		dst = &r->target_label, raw = 1;
	else
		dst = &r->replacement, raw = 1;
	/* replacement and target_label keep their $ for the relabeler. */
	if (config_text(ctx, k->value, v, raw, &s) == -1)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static int
config_relabel_modulus_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_relabel_parse *rp = obj;

	return config_u64(ctx, k->value, v, &rp->r->modulus);
}

static const struct config_field config_relabel_fields[] = {
	CFN("source_labels", config_relabel_source_cb),
	CFN("separator", config_relabel_str_cb),
	CFN("regex", config_relabel_str_cb),
	CFN("modulus", config_relabel_modulus_cb),
	CFN("target_label", config_relabel_str_cb),
	CFN("replacement", config_relabel_str_cb),
	CF("action", CF_STR, struct config_relabel_parse, action),
	CEND
};

/*
 * A list of relabel rules. nullmsg is Prometheus's message for a null
 * entry. Rules are validated by relabel_rule_compile(), errors point at
 * the rule.
 */
static int
config_relabel_rules(struct config_ctx *ctx, const char *key,
    const struct ynode *n, struct relabel_rules *rules, const char *nullmsg)
{
	struct config_relabel_parse rp;
	struct config_layer l;
	const struct ynode *item;
	char name[64], *cause = NULL;
	size_t i;
	int rc, seq;

	if ((seq = config_list(ctx, n, key)) != 1)
		return seq;
	for (i = 0; i < n->n; i++) {
		item = n->v[i];
		snprintf(name, sizeof name, "%s[%zu]", key, i);
		if (config_null(item))
			return config_error(ctx, item, name, "%s", nullmsg);
		memset(&rp, 0, sizeof rp);
		rp.r = relabel_rule_create();
		l.fields = config_relabel_fields;
		l.obj = &rp;
		l.at = NULL;
		rc = config_map(ctx, name, item, &l, 1);
		if (rc == 0 && rp.action != NULL) {
			if (*rp.action == '\0')
				rc = config_error(ctx, item, name,
				    "relabel action cannot be empty");
			else if (relabel_action_parse(rp.action,
			    &rp.r->action) == -1)
				rc = config_error(ctx, item, name,
				    "unknown relabel action \"%s\"", rp.action);
		} else if (rc == 0 && yaml_tree_map_get(item, "action") != NULL)
			rc = config_error(ctx, item, name,
			    "relabel action cannot be empty");
		if (rc == 0 && relabel_rule_compile(rp.r, &cause) != 0) {
			rc = config_error(ctx, item, name, "%s",
			    cause != NULL ? cause : "invalid relabel rule");
			free(cause);
		}
		free(rp.action);
		if (rc == -1) {
			relabel_rule_free(rp.r);
			return -1;
		}
		relabel_rules_add(rules, rp.r);
	}
	return 0;
}

/* ---- static_configs, file_sd_configs ---------------------------------- */

static int
config_static_targets_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_static *st = obj;
	struct buf b = BUF_INIT;
	size_t i, first = st->ntargets;
	int rc;

	if (config_str_list(ctx, k->value, v, &st->targets,
	    &st->ntargets) == -1)
		return -1;
	for (i = first; i < st->ntargets; i++) {
		if (strchr(st->targets[i], '/') == NULL)
			continue;
		config_quote(&b, st->targets[i], strlen(st->targets[i]));
		rc = config_error(ctx, v->v[i - first], k->value,
		    "%s is not a valid hostname", b.data);
		buf_free(&b);
		return rc;
	}
	return 0;
}

static int
config_static_labels_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_static *st = obj;

	if (config_kv_map(ctx, k->value, v, &st->labels, 1) == -1)
		return -1;
	if (st->labels.n > 1)
		qsort(st->labels.v, st->labels.n, sizeof *st->labels.v,
		    config_kv_cmp);
	return 0;
}

static const struct config_field config_static_fields[] = {
	CFN("targets", config_static_targets_cb),
	CFN("labels", config_static_labels_cb),
	CEND
};

static void
config_static_free(struct config_static *st)
{
	config_str_list_free(st->targets, st->ntargets);
	config_kvs_free(&st->labels);
}

static int
config_static_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;
	struct config_static *st;
	struct config_layer l;
	char name[64];
	size_t i;
	int seq;

	if ((seq = config_list(ctx, v, k->value)) != 1)
		return seq;
	for (i = 0; i < v->n; i++) {
		snprintf(name, sizeof name, "%s[%zu]", k->value, i);
		if (config_null(v->v[i]))
			return config_error(ctx, v->v[i], name,
			    "empty or null section in static_configs");
		sc->static_configs = xreallocarray(sc->static_configs,
		    sc->nstatic + 1, sizeof *sc->static_configs);
		st = &sc->static_configs[sc->nstatic++];
		memset(st, 0, sizeof *st);
		l.fields = config_static_fields;
		l.obj = st;
		l.at = NULL;
		if (config_map(ctx, name, v->v[i], &l, 1) == -1)
			return -1;
	}
	return 0;
}

/*
 * Prometheus's file SD name pattern,
 * ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$: a glob only in the
 * last path element, and a known extension.
 */
static int
config_file_sd_name_ok(const char *s)
{
	static const char *exts[] = { ".json", ".yml", ".yaml", ".JSON",
	    ".YML", ".YAML" };
	const char *star;
	size_t i, len = strlen(s), elen;

	if ((star = strchr(s, '*')) != NULL && strchr(star, '/') != NULL)
		return 0;
	for (i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		elen = strlen(exts[i]);
		if (len >= elen && strcmp(s + len - elen, exts[i]) == 0)
			return 1;
	}
	return 0;
}

static int
config_file_sd_files_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_file_sd *fsd = obj;
	struct buf b = BUF_INIT;
	size_t i, first = fsd->nfiles;
	int rc;

	if (config_str_list(ctx, k->value, v, &fsd->files, &fsd->nfiles) == -1)
		return -1;
	for (i = first; i < fsd->nfiles; i++) {
		if (!config_file_sd_name_ok(fsd->files[i])) {
			config_quote(&b, fsd->files[i], strlen(fsd->files[i]));
			rc = config_error(ctx, v->v[i - first], k->value,
			    "path name %s is not valid for file discovery "
			    "(a .json, .yml or .yaml file; * only in the "
			    "last path element)", b.data);
			buf_free(&b);
			return rc;
		}
		fsd->files[i] = config_abs_path(ctx, fsd->files[i]);
	}
	return 0;
}

static const struct config_field config_file_sd_fields[] = {
	CFN("files", config_file_sd_files_cb),
	CF("refresh_interval", CF_DURATION, struct config_file_sd,
	    refresh_interval_ms),
	CEND
};

static int
config_file_sd_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;
	struct config_file_sd *fsd;
	struct config_layer l;
	char name[64];
	size_t i;
	int seq;

	if ((seq = config_list(ctx, v, k->value)) != 1)
		return seq;
	for (i = 0; i < v->n; i++) {
		snprintf(name, sizeof name, "%s[%zu]", k->value, i);
		sc->file_sd = xreallocarray(sc->file_sd, sc->nfile_sd + 1,
		    sizeof *sc->file_sd);
		fsd = &sc->file_sd[sc->nfile_sd++];
		memset(fsd, 0, sizeof *fsd);
		fsd->refresh_interval_ms = CONFIG_UNSET_I64;
		l.fields = config_file_sd_fields;
		l.obj = fsd;
		l.at = NULL;
		if (config_map(ctx, name, v->v[i], &l, 1) == -1)
			return -1;
		if (fsd->nfiles == 0)
			return config_error(ctx, v->v[i], name, "file service "
			    "discovery config must contain at least one path "
			    "name");
		if (fsd->refresh_interval_ms == CONFIG_UNSET_I64)
			fsd->refresh_interval_ms = 5 * CONFIG_MS_MINUTE;
	}
	return 0;
}

/* ---- http_sd_configs ---------------------------------------------------- */

static const struct config_field config_http_sd_fields[] = {
	CF("url", CF_STR, struct config_http_sd, url),
	CF("refresh_interval", CF_DURATION, struct config_http_sd,
	    refresh_interval_ms),
	CEND
};

static void
config_http_sd_free(struct config_http_sd *sd)
{
	free(sd->url);
	config_http_free(&sd->http);
}

/* SDConfig.UnmarshalYAML's checks in its order, then promlet's own. */
static int
config_http_sd_finish(struct config_ctx *ctx, struct config_http_sd *sd,
    struct config_http_parse *hp, const struct config_layer *l,
    const struct ynode *item, const char *name)
{
	const struct ynode *at;
	const char *host, *end, *p;
	char *q;

	if (config_empty(sd->url))
		return config_error(ctx, item, name, "URL is missing");
	at = config_at(l, "url");
	/* Go's url.Parse refuses these; curl would fail on every refresh. */
	for (p = sd->url; *p != '\0' && (unsigned char)*p > ' ' &&
	    *p != 0x7f; p++)
		;
	if (*p != '\0') {
		q = config_redact_url(sd->url);
		config_error(ctx, at, "url", "invalid URL \"%s\"", q);
		free(q);
		return -1;
	}
	if (strncasecmp(sd->url, "http://", 7) == 0)
		host = sd->url + 7;
	else if (strncasecmp(sd->url, "https://", 8) == 0)
		host = sd->url + 8;
	else
		return config_error(ctx, at, "url", "URL scheme must be "
		    "'http' or 'https'");
	end = host + strcspn(host, "/?#");
	if ((p = memchr(host, '@', (size_t)(end - host))) != NULL)
		host = p + 1;
	if (host == end)
		return config_error(ctx, at, "url", "host is missing in URL");
	if (config_http_finish(ctx, hp, 1) == -1)
		return -1;
	if (sd->refresh_interval_ms == CONFIG_UNSET_I64)
		sd->refresh_interval_ms = CONFIG_MS_MINUTE;
	else if (sd->refresh_interval_ms <= 0)
		/* Prometheus's ticker would panic on it. */
		return config_error(ctx, config_at(l, "refresh_interval"),
		    "refresh_interval", "must be greater than 0");
	return 0;
}

static int
config_http_sd_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;
	const struct ynode *at[CONFIG_MAX_FIELDS];
	struct config_http_parse hp;
	struct config_http_sd *sd;
	struct config_layer l[2];
	char name[64];
	size_t i;
	int rc, seq;

	if ((seq = config_list(ctx, v, k->value)) != 1)
		return seq;
	for (i = 0; i < v->n; i++) {
		snprintf(name, sizeof name, "%s[%zu]", k->value, i);
		sc->http_sd = xreallocarray(sc->http_sd, sc->nhttp_sd + 1,
		    sizeof *sc->http_sd);
		sd = &sc->http_sd[sc->nhttp_sd++];
		memset(sd, 0, sizeof *sd);
		sd->line = v->v[i]->line;
		sd->refresh_interval_ms = CONFIG_UNSET_I64;
		config_http_parse_init(&hp, &sd->http);
		memset(at, 0, sizeof at);
		l[0] = (struct config_layer){ config_http_sd_fields, sd, at };
		l[1] = (struct config_layer){ config_http_fields, &hp, hp.at };
		rc = config_map(ctx, name, v->v[i], l, 2);
		if (rc == 0)
			rc = config_http_sd_finish(ctx, sd, &hp, &l[0],
			    v->v[i], name);
		config_http_parse_clear(&hp);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* ---- kubernetes_sd_configs -------------------------------------------- */

static const char *config_k8s_roles[] = {
	"pod", "node", "endpoints", "endpointslice", "service"
};

const char *
config_k8s_role_name(enum config_k8s_role role)
{
	if ((size_t)role >= sizeof config_k8s_roles /
	    sizeof config_k8s_roles[0])
		return "unknown";
	return config_k8s_roles[role];
}

/* Parse a role; "ingress" is known to Prometheus, returned as -2. */
static int
config_k8s_role_parse(const char *s, enum config_k8s_role *role)
{
	size_t i;

	for (i = 0; i < sizeof config_k8s_roles / sizeof config_k8s_roles[0];
	    i++) {
		if (strcmp(s, config_k8s_roles[i]) == 0) {
			*role = (enum config_k8s_role)i;
			return 0;
		}
	}
	return strcmp(s, "ingress") == 0 ? -2 : -1;
}

struct config_k8s_sel_parse {
	char			*role;
	char			*label;
	char			*field;
	const struct ynode	*node;
};

struct config_k8s_parse {
	struct config_k8s_sd		*sd;
	struct config_http_parse	 http;
	char				*role;
	char				*kubeconfig;
	int				 own_namespace;
	struct config_k8s_sel_parse	*sel;
	size_t				 nsel;
	const struct ynode		*at[CONFIG_MAX_FIELDS];
	const struct ynode		*at_ns[CONFIG_MAX_FIELDS];
};

static int
config_k8s_names_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_k8s_parse *kp = obj;

	return config_str_list(ctx, k->value, v, &kp->sd->namespaces,
	    &kp->sd->nnamespaces);
}

static const struct config_field config_k8s_ns_fields[] = {
	CFN("names", config_k8s_names_cb),
	CF("own_namespace", CF_BOOL, struct config_k8s_parse, own_namespace),
	CEND
};

static int
config_k8s_namespaces_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_k8s_parse *kp = obj;
	struct config_layer l = { config_k8s_ns_fields, kp, kp->at_ns };

	return config_map(ctx, k->value, v, &l, 1);
}

static const struct config_field config_k8s_sel_fields[] = {
	CF("role", CF_STR, struct config_k8s_sel_parse, role),
	CF("label", CF_STR, struct config_k8s_sel_parse, label),
	CF("field", CF_STR, struct config_k8s_sel_parse, field),
	CEND
};

static int
config_k8s_selectors_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_k8s_parse *kp = obj;
	struct config_k8s_sel_parse *sp;
	struct config_layer l;
	enum config_k8s_role role;
	char name[64];
	size_t i;
	int seq;

	if ((seq = config_list(ctx, v, k->value)) != 1)
		return seq;
	for (i = 0; i < v->n; i++) {
		snprintf(name, sizeof name, "%s[%zu]", k->value, i);
		kp->sel = xreallocarray(kp->sel, kp->nsel + 1,
		    sizeof *kp->sel);
		sp = &kp->sel[kp->nsel++];
		memset(sp, 0, sizeof *sp);
		sp->node = v->v[i];
		l.fields = config_k8s_sel_fields;
		l.obj = sp;
		l.at = NULL;
		if (config_map(ctx, name, v->v[i], &l, 1) == -1)
			return -1;
		if (sp->role == NULL)
			sp->role = xstrdup("");
		if (config_k8s_role_parse(sp->role, &role) == -1)
			return config_error(ctx, v->v[i], name, "unknown "
			    "Kubernetes SD role \"%s\"", sp->role);
	}
	return 0;
}

static int
config_k8s_attach_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	static const struct config_field fields[] = {
		CF("node", CF_BOOL, struct config_k8s_sd, attach_metadata_node),
		CEND
	};
	struct config_k8s_parse *kp = obj;
	struct config_layer l = { fields, kp->sd, NULL };

	return config_map(ctx, k->value, v, &l, 1);
}

static const struct config_field config_k8s_fields[] = {
	CF("role", CF_STR, struct config_k8s_parse, role),
	CF("kubeconfig_file", CF_PATH, struct config_k8s_parse, kubeconfig),
	CFN("namespaces", config_k8s_namespaces_cb),
	CFN("selectors", config_k8s_selectors_cb),
	CFN("attach_metadata", config_k8s_attach_cb),
	CEND
};

static const struct config_field config_k8s_sd_fields[] = {
	CF("api_server", CF_STR, struct config_k8s_sd, api_server),
	CEND
};

/* A Kubernetes name: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63. */
static int
config_k8s_name_ok(const char *s, size_t len, int empty_ok)
{
	size_t i;

	if (len == 0)
		return empty_ok;
	if (len > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return 0;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	}
	return 1;
}

/* A label key: [prefix/]name, the prefix a DNS subdomain. */
static int
config_k8s_key_ok(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	size_t i, plen;

	if (slash == NULL)
		return config_k8s_name_ok(s, len, 0);
	plen = (size_t)(slash - s);
	if (plen == 0 || plen > 253)
		return 0;
	for (i = 0; i < plen; i++) {
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.')
			return 0;
	}
	return config_k8s_name_ok(slash + 1, len - plen - 1, 0);
}

static void
config_trim(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/*
 * One label selector requirement: key, !key, key=v, key==v, key!=v,
 * key in (a,b), key notin (a,b), key>N, key<N.
 */
static const char *
config_k8s_requirement(const char *s, size_t len)
{
	static const char *badop =
	    "expected an operator (=, ==, !=, in, notin, <, >)";
	const char *op, *end, *val, *p, *v;
	size_t vlen, n;
	int set = 0;

	config_trim(&s, &len);
	if (len == 0)
		return "empty requirement";
	end = s + len;
	if (*s == '!') {
		s++, len--;
		config_trim(&s, &len);
		return config_k8s_key_ok(s, len) ? NULL : "invalid label key";
	}
	for (op = s; op < end && !isspace((unsigned char)*op) &&
	    strchr("=!<>(", *op) == NULL; op++)
		;
	if (!config_k8s_key_ok(s, (size_t)(op - s)))
		return "invalid label key";
	while (op < end && isspace((unsigned char)*op))
		op++;
	if (op == end)
		return NULL;	/* the key exists */
	if (end - op >= 2 && (strncmp(op, "==", 2) == 0 ||
	    strncmp(op, "!=", 2) == 0))
		val = op + 2;
	else if (*op == '=' || *op == '<' || *op == '>')
		val = op + 1;
	else if (end - op >= 5 && strncmp(op, "notin", 5) == 0)
		val = op + 5, set = 1;
	else if (end - op >= 2 && strncmp(op, "in", 2) == 0)
		val = op + 2, set = 1;
	else
		return badop;
	vlen = (size_t)(end - val);
	if (set && (vlen == 0 || (!isspace((unsigned char)*val) &&
	    *val != '(')))
		return badop;
	config_trim(&val, &vlen);
	if (set) {
		if (vlen < 2 || val[0] != '(' || val[vlen - 1] != ')')
			return "expected a parenthesised list of values";
		val++;
		vlen -= 2;
		for (;;) {
			p = memchr(val, ',', vlen);
			n = p == NULL ? vlen : (size_t)(p - val);
			v = val;
			config_trim(&v, &n);
			if (!config_k8s_name_ok(v, n, 1))
				return "invalid label value";
			if (p == NULL)
				return NULL;
			vlen -= (size_t)(p - val) + 1;
			val = p + 1;
		}
	}
	if (*op == '<' || *op == '>') {
		if (vlen == 0)
			return "expected an integer after < or >";
		for (p = val; p < val + vlen; p++) {
			if (!isdigit((unsigned char)*p))
				return "expected an integer after < or >";
		}
		return NULL;
	}
	return config_k8s_name_ok(val, vlen, 1) ? NULL : "invalid label value";
}

/* A label selector: requirements separated by commas outside (). */
static const char *
config_k8s_label_selector(const char *s)
{
	const char *p, *start = s, *why;
	size_t len = strlen(s);
	int depth = 0;

	config_trim(&start, &len);
	if (len == 0)
		return NULL;
	for (p = s;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			return "unbalanced parentheses";
		if ((*p == ',' && depth == 0) || *p == '\0') {
			why = config_k8s_requirement(start,
			    (size_t)(p - start));
			if (why != NULL)
				return why;
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return depth != 0 ? "unbalanced parentheses" : NULL;
}

/*
 * Field selectors: key=value, key==value, key!=value, comma-separated.
 * -1: a term without an operator, in *bad; -2: a '\' escaping the end.
 */
static int
config_k8s_field_selector(const char *s, char **bad)
{
	const char *p = s, *start = s;
	int esc = 0, op = 0;

	*bad = NULL;
	if (*s == '\0')
		return 0;
	for (;; p++) {
		if (esc && *p == '\0')
			return -2;
		if (esc) {
			esc = 0;
			continue;
		}
		if (*p == '\\') {
			esc = 1;
			continue;
		}
		if (*p == '=' || (*p == '!' && p[1] == '='))
			op = 1;
		if (*p == ',' || *p == '\0') {
			if (!op) {
				*bad = xstrndup(start, (size_t)(p - start));
				return -1;
			}
			if (*p == '\0')
				return 0;
			op = 0;
			start = p + 1;
		}
	}
}

static void
config_k8s_free(struct config_k8s_sd *sd)
{
	size_t i;

	free(sd->api_server);
	config_str_list_free(sd->namespaces, sd->nnamespaces);
	for (i = 0; i < sd->nselectors; i++) {
		free(sd->selectors[i].label);
		free(sd->selectors[i].field);
	}
	free(sd->selectors);
	config_http_free(&sd->http);
}

static void
config_k8s_parse_clear(struct config_k8s_parse *kp)
{
	size_t i;

	free(kp->role);
	free(kp->kubeconfig);
	for (i = 0; i < kp->nsel; i++) {
		free(kp->sel[i].role);
		free(kp->sel[i].label);
		free(kp->sel[i].field);
	}
	free(kp->sel);
	config_http_parse_clear(&kp->http);
}

/* SDConfig.UnmarshalYAML's checks in its order, then promlet's limits. */
static int
config_k8s_finish(struct config_ctx *ctx, struct config_k8s_parse *kp,
    const struct ynode *item, const char *name)
{
	static const char *allowed[] = {
		"pod, node",			/* pod */
		"node",				/* node */
		"pod, service, endpoints",	/* endpoints */
		"pod, service, endpointslice",	/* endpointslice */
		"service",			/* service */
	};
	struct config_layer l = { config_k8s_fields, kp, kp->at };
	struct config_layer lns = { config_k8s_ns_fields, kp, kp->at_ns };
	struct config_k8s_sd *sd = kp->sd;
	struct config_k8s_sel_parse *sp;
	const struct ynode *at;
	enum config_k8s_role role = 0, srole = 0;
	const char *why, *list;
	char *bad, *q;
	size_t i, j, len;
	int r, rc, ingress = 0, custom;

	at = config_at(&l, "role");
	if (kp->role == NULL)
		return config_error(ctx, item, name, "role missing (one of: "
		    "pod, service, endpoints, endpointslice, node, ingress)");
	if ((r = config_k8s_role_parse(kp->role, &role)) == -1)
		return config_error(ctx, at, "role", "unknown Kubernetes SD "
		    "role \"%s\"", kp->role);
	ingress = r == -2;
	if (config_http_finish(ctx, &kp->http, 1) == -1)
		return -1;
	custom = config_http_is_custom(&sd->http, 1);
	if (!config_empty(sd->api_server) && !config_empty(kp->kubeconfig))
		return config_error(ctx, config_at(&l, "kubeconfig_file"),
		    "kubeconfig_file", "cannot use 'kubeconfig_file' and "
		    "'api_server' simultaneously");
	if (!config_empty(kp->kubeconfig) && custom)
		return config_error(ctx, config_at(&l, "kubeconfig_file"),
		    "kubeconfig_file", "cannot use a custom HTTP client "
		    "configuration together with 'kubeconfig_file'");
	if (config_empty(sd->api_server) && config_empty(kp->kubeconfig) &&
	    custom)
		return config_error(ctx, item, name, "to use custom HTTP "
		    "client configuration please provide the 'api_server' URL "
		    "explicitly");
	if (!config_empty(sd->api_server) && kp->own_namespace == 1)
		return config_error(ctx, config_at(&lns, "own_namespace"),
		    "own_namespace", "cannot use 'api_server' and "
		    "'namespaces.own_namespace' simultaneously");
	if (!config_empty(kp->kubeconfig) && kp->own_namespace == 1)
		return config_error(ctx, config_at(&lns, "own_namespace"),
		    "own_namespace", "cannot use 'kubeconfig_file' and "
		    "'namespaces.own_namespace' simultaneously");
	for (i = 0; i < kp->nsel; i++) {
		sp = &kp->sel[i];
		for (j = 0; j < i; j++) {
			if (strcmp(kp->sel[j].role, sp->role) == 0)
				return config_error(ctx, sp->node, "selectors",
				    "duplicated selector role: %s", sp->role);
		}
		list = ingress ? "ingress" : allowed[role];
		len = strlen(sp->role);
		for (why = list; (why = strstr(why, sp->role)) != NULL;
		    why += len) {
			if ((why == list || why[-1] == ' ') &&
			    (why[len] == '\0' || why[len] == ','))
				break;
		}
		if (why == NULL)
			return config_error(ctx, sp->node, "selectors",
			    "%s role supports only %s selectors", kp->role,
			    list);
		if (sp->field != NULL &&
		    (rc = config_k8s_field_selector(sp->field, &bad)) != 0) {
			if (rc == -2)
				return config_error(ctx, sp->node, "field",
				    "invalid selector: '%s'; it ends in an "
				    "escaping '\\'", sp->field);
			config_error(ctx, sp->node, "field", "invalid "
			    "selector: '%s'; can't understand '%s'", sp->field,
			    bad);
			free(bad);
			return -1;
		}
		if (sp->label != NULL &&
		    (why = config_k8s_label_selector(sp->label)) != NULL) {
			q = config_quoted(sp->label);
			config_error(ctx, sp->node, "label", "invalid label "
			    "selector %s: %s", q, why);
			free(q);
			return -1;
		}
	}

	/* What promlet adds: the Prometheus features it does not have. */
	if (ingress)
		return config_error(ctx, at, "role", "role ingress is not "
		    "supported by promlet (supported: pod, node, endpoints, "
		    "endpointslice, service)");
	if (!config_empty(kp->kubeconfig))
		return config_error(ctx, config_at(&l, "kubeconfig_file"),
		    "kubeconfig_file", "not supported by promlet: set "
		    "api_server with tls_config and authorization, or run in "
		    "the cluster with the service account");
	if (sd->api_server != NULL && *sd->api_server == '\0') {
		free(sd->api_server);
		sd->api_server = NULL;
	}
	if (sd->api_server != NULL &&
	    config_check_http_url(sd->api_server) == -1) {
		q = config_redact_url(sd->api_server);
		config_error(ctx, item, "api_server", "invalid URL \"%s\": "
		    "expected http:// or https:// and a host", q);
		free(q);
		return -1;
	}
	sd->role = role;
	sd->own_namespace = kp->own_namespace == 1;
	if (sd->attach_metadata_node == CONFIG_UNSET)
		sd->attach_metadata_node = 0;
	for (i = 0; i < kp->nsel; i++) {
		sp = &kp->sel[i];
		(void)config_k8s_role_parse(sp->role, &srole);
		sd->selectors = xreallocarray(sd->selectors, sd->nselectors + 1,
		    sizeof *sd->selectors);
		sd->selectors[sd->nselectors].role = srole;
		sd->selectors[sd->nselectors].label = sp->label;
		sd->selectors[sd->nselectors].field = sp->field;
		sd->nselectors++;
		sp->label = sp->field = NULL;
	}
	return 0;
}

static int
config_k8s_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;
	struct config_k8s_parse kp;
	struct config_k8s_sd *sd;
	struct config_layer l[3];
	char name[64];
	size_t i;
	int rc, seq;

	if ((seq = config_list(ctx, v, k->value)) != 1)
		return seq;
	for (i = 0; i < v->n; i++) {
		snprintf(name, sizeof name, "%s[%zu]", k->value, i);
		sc->k8s_sd = xreallocarray(sc->k8s_sd, sc->nk8s_sd + 1,
		    sizeof *sc->k8s_sd);
		sd = &sc->k8s_sd[sc->nk8s_sd++];
		memset(sd, 0, sizeof *sd);
		sd->line = v->v[i]->line;
		sd->attach_metadata_node = CONFIG_UNSET;
		memset(&kp, 0, sizeof kp);
		kp.sd = sd;
		kp.own_namespace = CONFIG_UNSET;
		config_http_parse_init(&kp.http, &sd->http);
		l[0] = (struct config_layer){ config_k8s_sd_fields, sd, NULL };
		l[1] = (struct config_layer){ config_k8s_fields, &kp, kp.at };
		l[2] = (struct config_layer){ config_http_fields, &kp.http,
		    kp.http.at };
		rc = config_map(ctx, name, v->v[i], l, 3);
		if (rc == 0)
			rc = config_k8s_finish(ctx, &kp, v->v[i], name);
		config_k8s_parse_clear(&kp);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* ---- scrape protocols, name validation -------------------------------- */

/* Sorted, as Prometheus prints them in its error. */
static const char *config_protocols[] = {
	"OpenMetricsText0.0.1", "OpenMetricsText1.0.0", "PrometheusProto",
	"PrometheusText0.0.4", "PrometheusText1.0.0"
};
#define CONFIG_PROTOCOLS_LIST "[OpenMetricsText0.0.1 OpenMetricsText1.0.0 " \
	"PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"

/* Prometheus 3's DefaultScrapeProtocols, in preference order. */
static const char *config_default_protocols[] = {
	"OpenMetricsText1.0.0", "OpenMetricsText0.0.1",
	"PrometheusText1.0.0", "PrometheusText0.0.4"
};

static int
config_protocol_known(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof config_protocols / sizeof config_protocols[0];
	    i++) {
		if (strcmp(s, config_protocols[i]) == 0)
			return 1;
	}
	return 0;
}

/* validateAcceptScrapeProtocols; suffix names the job or "global config". */
static int
config_check_protocols(struct config_ctx *ctx, const struct ynode *at,
    char **v, size_t n, const char *suffix)
{
	struct buf got = BUF_INIT;
	size_t i, j;
	int text = 0;

	if (n == 0)
		return config_error(ctx, at, "scrape_protocols",
		    "scrape_protocols cannot be empty");
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (strcasecmp(v[i], v[j]) != 0)
				continue;
			for (j = 0; j < n; j++)
				buf_printf(&got, "%s%s", j ? " " : "", v[j]);
			config_error(ctx, at, "scrape_protocols", "duplicated "
			    "protocol in scrape_protocols, got [%s] for %s",
			    got.data, suffix);
			buf_free(&got);
			return -1;
		}
		if (!config_protocol_known(v[i]))
			return config_error(ctx, at, "scrape_protocols",
			    "scrape_protocols: unknown scrape protocol %s, "
			    "supported: " CONFIG_PROTOCOLS_LIST " for %s", v[i],
			    suffix);
		if (strcmp(v[i], "PrometheusProto") != 0)
			text = 1;
	}
	if (!text)
		return config_error(ctx, at, "scrape_protocols", "promlet "
		    "scrapes text formats only: add PrometheusText0.0.4 or "
		    "OpenMetricsText1.0.0 (for %s)", suffix);
	return 0;
}

static void
config_protocols_copy(char ***dst, size_t *ndst, char *const *src, size_t n)
{
	size_t i;

	*dst = xreallocarray(NULL, n, sizeof **dst);
	for (i = 0; i < n; i++)
		(*dst)[i] = xstrdup(src[i]);
	*ndst = n;
}

/*
 * metric_name_validation_scheme / metric_name_escaping_scheme: promlet
 * keeps the legacy character set, so only what is consistent with it is
 * accepted.
 */
static int
config_check_schemes(struct config_ctx *ctx, const struct ynode *vat,
    const char *vscheme, const struct ynode *eat, const char *escheme)
{
	static const char *escapes[] = { "underscores", "dots", "values",
	    "allow-utf-8" };
	size_t i;

	if (vscheme != NULL && *vscheme != '\0' &&
	    strcmp(vscheme, "legacy") != 0) {
		if (strcmp(vscheme, "utf8") == 0)
			return config_error(ctx, vat,
			    "metric_name_validation_scheme", "promlet supports "
			    "only \"legacy\" metric and label names");
		return config_error(ctx, vat, "metric_name_validation_scheme",
		    "unrecognized ValidationScheme: \"%s\"", vscheme);
	}
	if (escheme == NULL || *escheme == '\0')
		return 0;
	for (i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
		if (strcmp(escheme, escapes[i]) == 0)
			break;
	}
	if (i == sizeof escapes / sizeof escapes[0])
		return config_error(ctx, eat, "metric_name_escaping_scheme",
		    "unknown metric_name_escaping_scheme \"%s\" (one of "
		    "underscores, dots, values, allow-utf-8)", escheme);
	if (strcmp(escheme, "allow-utf-8") == 0)
		return config_error(ctx, eat, "metric_name_escaping_scheme",
		    "utf8 metric names requested but validation scheme is not "
		    "set to UTF8");
	return 0;
}

struct config_strs {
	char	**v;
	size_t	  n;
};

static int
config_protocols_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_strs *list = obj;

	return config_str_list(ctx, k->value, v, &list->v, &list->n);
}

/* ---- global ------------------------------------------------------------ */

struct config_global_parse {
	struct config		*cfg;
	int64_t			 scrape_interval_ms;
	int64_t			 scrape_timeout_ms;
	struct config_strs	 protocols;
	uint64_t		 body_size_limit;
	uint64_t		 sample_limit;
	uint64_t		 target_limit;
	uint64_t		 label_limit;
	uint64_t		 label_name_length_limit;
	uint64_t		 label_value_length_limit;
	uint64_t		 keep_dropped_targets;
	int			 extra_scrape_metrics;
	char			*vscheme;
	char			*escheme;
	const struct ynode	*vscheme_at;
	const struct ynode	*escheme_at;
	const struct ynode	*at[CONFIG_MAX_FIELDS];
};

static int
config_external_labels_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_global_parse *gp = obj;
	struct config_kvs *kvs = &gp->cfg->external_labels;
	size_t i;

	if (config_kv_map(ctx, k->value, v, kvs, 1) == -1)
		return -1;
	for (i = 0; i < kvs->n; i++) {
		if (*kvs->v[i].value == '\0')
			return config_error(ctx, YNODE_VAL(v, i),
			    kvs->v[i].name, "external label value is empty");
	}
	if (kvs->n > 1)
		qsort(kvs->v, kvs->n, sizeof *kvs->v, config_kv_cmp);
	return 0;
}

static int
config_global_protocols_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_global_parse *gp = obj;

	return config_protocols_cb(ctx, k, v, &gp->protocols);
}

#define CG(n, t, m)	CF(n, t, struct config_global_parse, m)
static const struct config_field config_global_fields[] = {
	CG("scrape_interval", CF_DURATION, scrape_interval_ms),
	CG("scrape_timeout", CF_DURATION, scrape_timeout_ms),
	CFN("scrape_protocols", config_global_protocols_cb),
	CFN("external_labels", config_external_labels_cb),
	CG("body_size_limit", CF_SIZE, body_size_limit),
	CG("sample_limit", CF_U64, sample_limit),
	CG("target_limit", CF_U64, target_limit),
	CG("label_limit", CF_U64, label_limit),
	CG("label_name_length_limit", CF_U64, label_name_length_limit),
	CG("label_value_length_limit", CF_U64, label_value_length_limit),
	CG("keep_dropped_targets", CF_U64, keep_dropped_targets),
	CG("extra_scrape_metrics", CF_BOOL, extra_scrape_metrics),
	CG("metric_name_validation_scheme", CF_STR, vscheme),
	CG("metric_name_escaping_scheme", CF_STR, escheme),
	/* Rule evaluation and querying: an agent has neither. */
	CIGN("evaluation_interval", CF_IGN_DURATION),
	CIGN("rule_query_offset", CF_IGN_DURATION),
	CIGN("query_log_file", CF_IGN_STR),
	/* Native histograms need the protobuf format promlet lacks. */
	CIGN("scrape_native_histograms", CF_IGN_BOOL),
	CIGN("always_scrape_classic_histograms", CF_IGN_BOOL),
	CIGN("convert_classic_histograms_to_nhcb", CF_IGN_BOOL),
	CNOT("scrape_failure_log_file", "failed scrapes are logged and "
	    "visible in the targets API"),
	CEND
};
#undef CG

static void
config_global_init(struct config_global_parse *gp, struct config *cfg)
{
	memset(gp, 0, sizeof *gp);
	gp->cfg = cfg;
	gp->scrape_interval_ms = CONFIG_UNSET_I64;
	gp->scrape_timeout_ms = CONFIG_UNSET_I64;
	gp->extra_scrape_metrics = CONFIG_UNSET;
}

static void
config_global_clear(struct config_global_parse *gp)
{
	config_str_list_free(gp->protocols.v, gp->protocols.n);
	free(gp->vscheme);
	free(gp->escheme);
	gp->protocols.v = NULL;
	gp->protocols.n = 0;
	gp->vscheme = gp->escheme = NULL;
}

static int
config_global(struct config_ctx *ctx, const struct ynode *n,
    struct config_global_parse *gp)
{
	struct config_layer l = { config_global_fields, gp, gp->at };
	struct config *cfg = gp->cfg;

	if (n != NULL && config_map(ctx, "global", n, &l, 1) == -1)
		return -1;
	if (gp->scrape_interval_ms == CONFIG_UNSET_I64 ||
	    gp->scrape_interval_ms == 0)
		gp->scrape_interval_ms = CONFIG_MS_MINUTE;
	if (gp->scrape_timeout_ms != CONFIG_UNSET_I64 &&
	    gp->scrape_timeout_ms > gp->scrape_interval_ms)
		return config_error(ctx, config_at(&l, "scrape_timeout"),
		    "scrape_timeout", "global scrape timeout greater than "
		    "scrape interval");
	if (gp->scrape_timeout_ms == CONFIG_UNSET_I64 ||
	    gp->scrape_timeout_ms == 0)
		gp->scrape_timeout_ms = 10 * CONFIG_MS_SECOND <
		    gp->scrape_interval_ms ? 10 * CONFIG_MS_SECOND :
		    gp->scrape_interval_ms;
	cfg->scrape_interval_ms = gp->scrape_interval_ms;
	cfg->scrape_timeout_ms = gp->scrape_timeout_ms;
	if (config_at(&l, "scrape_protocols") != NULL) {
		if (config_check_protocols(ctx, config_at(&l,
		    "scrape_protocols"), gp->protocols.v, gp->protocols.n,
		    "global config") == -1)
			return -1;
		config_protocols_copy(&cfg->scrape_protocols,
		    &cfg->nscrape_protocols, gp->protocols.v, gp->protocols.n);
	} else
		config_protocols_copy(&cfg->scrape_protocols,
		    &cfg->nscrape_protocols, (char **)config_default_protocols,
		    sizeof config_default_protocols /
		    sizeof config_default_protocols[0]);
	gp->vscheme_at = config_at(&l, "metric_name_validation_scheme");
	gp->escheme_at = config_at(&l, "metric_name_escaping_scheme");
	if (config_check_schemes(ctx, gp->vscheme_at, gp->vscheme,
	    gp->escheme_at, gp->escheme) == -1)
		return -1;
	if (gp->extra_scrape_metrics == CONFIG_UNSET)
		gp->extra_scrape_metrics = 0;
	return 0;
}

/* ---- scrape_configs ------------------------------------------------------ */

struct config_scrape_parse {
	struct config_scrape		*sc;
	struct config_http_parse	 http;
	struct config_strs		 protocols;
	char				*vscheme;
	char				*escheme;
	const struct ynode		*at[CONFIG_MAX_FIELDS];
	const struct ynode		*at2[CONFIG_MAX_FIELDS];
};

static int
config_params_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;
	const struct ynode *pk, *pv;
	char *s;
	size_t i, j;

	if (config_null(v))
		return 0;
	if (v->type != YNODE_MAP)
		return config_error(ctx, v, k->value, "expected a mapping of "
		    "parameter names to lists of values, got %s",
		    yaml_tree_kind(v));
	for (i = 0; i < v->n; i++) {
		pk = YNODE_KEY(v, i);
		pv = YNODE_VAL(v, i);
		if (pk->len == 0 || strlen(pk->value) != pk->len)
			return config_error(ctx, pk, k->value,
			    "invalid parameter name");
		if (config_null(pv))
			continue;
		if (pv->type != YNODE_SEQ)
			return config_error(ctx, pv, pk->value, "expected a "
			    "list of values, got %s", yaml_tree_kind(pv));
		for (j = 0; j < pv->n; j++) {
			if (config_text(ctx, pk->value, pv->v[j], 0, &s) == -1)
				return -1;
			config_kvs_add(&sc->params, xstrdup(pk->value),
			    s == NULL ? xstrdup("") : s);
		}
	}
	return 0;
}

static int
config_relabel_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;

	return config_relabel_rules(ctx, k->value, v, &sc->relabel,
	    "empty or null target relabeling rule in scrape config");
}

static int
config_metric_relabel_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape *sc = obj;

	return config_relabel_rules(ctx, k->value, v, &sc->metric_relabel,
	    "empty or null metric relabeling rule in scrape config");
}

static int
config_scrape_protocols_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_scrape_parse *sp = obj;

	return config_protocols_cb(ctx, k, v, &sp->protocols);
}

#define CS(n, t, m)	CF(n, t, struct config_scrape, m)
static const struct config_field config_scrape_fields[] = {
	CS("job_name", CF_STR, job_name),
	CS("scrape_interval", CF_DURATION, scrape_interval_ms),
	CS("scrape_timeout", CF_DURATION, scrape_timeout_ms),
	CS("metrics_path", CF_STR, metrics_path),
	CS("scheme", CF_STR, scheme),
	CFN("params", config_params_cb),
	CS("honor_labels", CF_BOOL, honor_labels),
	CS("honor_timestamps", CF_BOOL, honor_timestamps),
	CS("track_timestamps_staleness", CF_BOOL, track_timestamps_staleness),
	CS("enable_compression", CF_BOOL, enable_compression),
	CS("extra_scrape_metrics", CF_BOOL, extra_scrape_metrics),
	CFN("static_configs", config_static_cb),
	CFN("file_sd_configs", config_file_sd_cb),
	CFN("kubernetes_sd_configs", config_k8s_cb),
	CFN("http_sd_configs", config_http_sd_cb),
	CS("sample_limit", CF_U64, sample_limit),
	CS("target_limit", CF_U64, target_limit),
	CS("label_limit", CF_U64, label_limit),
	CS("label_name_length_limit", CF_U64, label_name_length_limit),
	CS("label_value_length_limit", CF_U64, label_value_length_limit),
	CS("keep_dropped_targets", CF_U64, keep_dropped_targets),
	CS("body_size_limit", CF_SIZE, body_size_limit),
	CFN("relabel_configs", config_relabel_cb),
	CFN("metric_relabel_configs", config_metric_relabel_cb),
	CS("fallback_scrape_protocol", CF_STR, fallback_scrape_protocol),
	CIGN("scrape_native_histograms", CF_IGN_BOOL),
	CIGN("always_scrape_classic_histograms", CF_IGN_BOOL),
	CIGN("scrape_classic_histograms", CF_IGN_BOOL),
	CIGN("convert_classic_histograms_to_nhcb", CF_IGN_BOOL),
	CIGN("native_histogram_bucket_limit", CF_IGN_U64),
	CIGN("native_histogram_min_bucket_factor", CF_IGN_STR),
	CNOT("scrape_failure_log_file", "failed scrapes are logged and "
	    "visible in the targets API"),
	CEND
};
#undef CS

static const struct config_field config_scrape_extra_fields[] = {
	CFN("scrape_protocols", config_scrape_protocols_cb),
	CF("metric_name_validation_scheme", CF_STR,
	    struct config_scrape_parse, vscheme),
	CF("metric_name_escaping_scheme", CF_STR, struct config_scrape_parse,
	    escheme),
	CEND
};

static void
config_scrape_free(struct config_scrape *sc)
{
	size_t i;

	free(sc->job_name);
	free(sc->file);
	free(sc->metrics_path);
	free(sc->scheme);
	config_kvs_free(&sc->params);
	for (i = 0; i < sc->nstatic; i++)
		config_static_free(&sc->static_configs[i]);
	free(sc->static_configs);
	for (i = 0; i < sc->nfile_sd; i++)
		config_str_list_free(sc->file_sd[i].files,
		    sc->file_sd[i].nfiles);
	free(sc->file_sd);
	for (i = 0; i < sc->nk8s_sd; i++)
		config_k8s_free(&sc->k8s_sd[i]);
	free(sc->k8s_sd);
	for (i = 0; i < sc->nhttp_sd; i++)
		config_http_sd_free(&sc->http_sd[i]);
	free(sc->http_sd);
	config_http_free(&sc->http);
	relabel_rules_free(&sc->relabel);
	relabel_rules_free(&sc->metric_relabel);
	config_str_list_free(sc->scrape_protocols, sc->nscrape_protocols);
	free(sc->fallback_scrape_protocol);
}

static void
config_scrape_init(struct config_scrape *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->scrape_interval_ms = CONFIG_UNSET_I64;
	sc->scrape_timeout_ms = CONFIG_UNSET_I64;
	sc->honor_labels = CONFIG_UNSET;
	sc->honor_timestamps = CONFIG_UNSET;
	sc->track_timestamps_staleness = CONFIG_UNSET;
	sc->enable_compression = CONFIG_UNSET;
	sc->extra_scrape_metrics = CONFIG_UNSET;
}

static void
config_default_u64(uint64_t *v, uint64_t global)
{
	if (*v == 0 && global != 0)
		*v = global;
}

static void
config_default_int(int *v, int def)
{
	if (*v == CONFIG_UNSET)
		*v = def;
}

static void
config_default_str(char **v, const char *def)
{
	if (*v == NULL || **v == '\0') {
		free(*v);
		*v = xstrdup(def);
	}
}

/*
 * ScrapeConfig checks in Prometheus's order: those of UnmarshalYAML
 * (job_name, HTTP client), then Validate against the global defaults.
 */
static int
config_scrape_finish(struct config_ctx *ctx, struct config_scrape_parse *sp,
    const struct config_global_parse *gp, const struct ynode *item,
    const char *name)
{
	struct config_layer l = { config_scrape_fields, sp->sc, sp->at };
	struct config_layer l2 = { config_scrape_extra_fields, sp, sp->at2 };
	struct config_scrape *sc = sp->sc;
	const struct ynode *at, *vat, *eat;
	char suffix[512], *q;

	if (config_empty(sc->job_name)) {
		at = config_at(&l, "job_name");
		return config_error(ctx, at != NULL ? at : item,
		    at != NULL ? "job_name" : name, "job_name is empty");
	}
	if (config_http_finish(ctx, &sp->http, 1) == -1)
		return -1;
	q = config_quoted(sc->job_name);
	snprintf(suffix, sizeof suffix, "scrape config with job name %s", q);
	free(q);

	if (sc->scrape_interval_ms == CONFIG_UNSET_I64 ||
	    sc->scrape_interval_ms == 0)
		sc->scrape_interval_ms = gp->scrape_interval_ms;
	if (sc->scrape_timeout_ms != CONFIG_UNSET_I64 &&
	    sc->scrape_timeout_ms > sc->scrape_interval_ms) {
		at = config_at(&l, "scrape_timeout");
		return config_error(ctx, at, "scrape_timeout", "scrape timeout "
		    "greater than scrape interval for %s", suffix);
	}
	if (sc->scrape_timeout_ms == CONFIG_UNSET_I64 ||
	    sc->scrape_timeout_ms == 0)
		sc->scrape_timeout_ms = gp->scrape_timeout_ms >
		    sc->scrape_interval_ms ? sc->scrape_interval_ms :
		    gp->scrape_timeout_ms;
	config_default_u64(&sc->body_size_limit, gp->body_size_limit);
	config_default_u64(&sc->sample_limit, gp->sample_limit);
	config_default_u64(&sc->target_limit, gp->target_limit);
	config_default_u64(&sc->label_limit, gp->label_limit);
	config_default_u64(&sc->label_name_length_limit,
	    gp->label_name_length_limit);
	config_default_u64(&sc->label_value_length_limit,
	    gp->label_value_length_limit);
	config_default_u64(&sc->keep_dropped_targets,
	    gp->keep_dropped_targets);

	if ((at = config_at(&l2, "scrape_protocols")) != NULL) {
		if (config_check_protocols(ctx, at, sp->protocols.v,
		    sp->protocols.n, suffix) == -1)
			return -1;
		config_protocols_copy(&sc->scrape_protocols,
		    &sc->nscrape_protocols, sp->protocols.v, sp->protocols.n);
	} else
		config_protocols_copy(&sc->scrape_protocols,
		    &sc->nscrape_protocols, gp->cfg->scrape_protocols,
		    gp->cfg->nscrape_protocols);
	if (sc->fallback_scrape_protocol != NULL &&
	    *sc->fallback_scrape_protocol != '\0') {
		at = config_at(&l, "fallback_scrape_protocol");
		if (!config_protocol_known(sc->fallback_scrape_protocol))
			return config_error(ctx, at, "fallback_scrape_protocol",
			    "invalid fallback_scrape_protocol for %s: unknown "
			    "scrape protocol %s, supported: "
			    CONFIG_PROTOCOLS_LIST, suffix,
			    sc->fallback_scrape_protocol);
		if (strcmp(sc->fallback_scrape_protocol,
		    "PrometheusProto") == 0)
			return config_error(ctx, at, "fallback_scrape_protocol",
			    "promlet scrapes text formats only");
	} else {
		free(sc->fallback_scrape_protocol);
		sc->fallback_scrape_protocol = NULL;
	}
	vat = config_at(&l2, "metric_name_validation_scheme");
	eat = config_at(&l2, "metric_name_escaping_scheme");
	if (config_check_schemes(ctx, vat != NULL ? vat : gp->vscheme_at,
	    vat != NULL ? sp->vscheme : gp->vscheme,
	    eat != NULL ? eat : gp->escheme_at,
	    eat != NULL ? sp->escheme : gp->escheme) == -1)
		return -1;

	config_default_str(&sc->metrics_path, "/metrics");
	config_default_str(&sc->scheme, "http");
	if (strcmp(sc->scheme, "http") != 0 &&
	    strcmp(sc->scheme, "https") != 0)
		return config_error(ctx, config_at(&l, "scheme"), "scheme",
		    "unsupported scheme \"%s\" (http or https)", sc->scheme);
	config_default_int(&sc->honor_labels, 0);
	config_default_int(&sc->honor_timestamps, 1);
	config_default_int(&sc->track_timestamps_staleness, 0);
	config_default_int(&sc->enable_compression, 1);
	config_default_int(&sc->extra_scrape_metrics,
	    gp->extra_scrape_metrics);
	return 0;
}

static void
config_scrape_parse_clear(struct config_scrape_parse *sp)
{
	config_http_parse_clear(&sp->http);
	config_str_list_free(sp->protocols.v, sp->protocols.n);
	free(sp->vscheme);
	free(sp->escheme);
}

/*
 * Prometheus's messages: within the config, the name alone; in a
 * scrape_config_files file, also where the name was first found.
 */
static int
config_scrape_duplicate(struct config_ctx *ctx, const struct ynode *at,
    const struct config *cfg, const struct config_scrape *dup)
{
	const struct config_scrape *first = cfg->scrape;
	char *q, *where;
	int rc;

	while (strcmp(first->job_name, dup->job_name) != 0)
		first++;
	q = config_quoted(dup->job_name);
	if (dup->file == NULL) {
		rc = config_error(ctx, at, "job_name", "found multiple "
		    "scrape configs with job name %s", q);
		free(q);
		return rc;
	}
	where = first->file != NULL ? config_quoted(first->file) :
	    xstrdup("main config file");
	rc = config_error(ctx, at, "job_name", "found multiple scrape configs "
	    "with job name %s, first found in %s", q, where);
	free(where);
	free(q);
	return rc;
}

/* file: the scrape_config_files file n is in, NULL for the config. */
static int
config_scrape_configs(struct config_ctx *ctx, const struct ynode *n,
    struct config_global_parse *gp, struct config_names *names,
    const char *file)
{
	struct config *cfg = gp->cfg;
	struct config_scrape_parse sp;
	struct config_layer l[3];
	struct config_scrape *sc;
	const struct ynode *item;
	char name[64];
	size_t i;
	int rc = 0, seq;

	if ((seq = config_list(ctx, n, "scrape_configs")) != 1)
		return seq;
	cfg->scrape = xreallocarray(cfg->scrape, cfg->nscrape + n->n + 1,
	    sizeof *cfg->scrape);
	for (i = 0; i < n->n && rc == 0; i++) {
		item = n->v[i];
		snprintf(name, sizeof name, "scrape_configs[%zu]", i);
		if (config_null(item)) {
			rc = config_error(ctx, item, name,
			    "empty or null scrape config section");
			break;
		}
		sc = &cfg->scrape[cfg->nscrape++];
		config_scrape_init(sc);
		sc->line = item->line;
		sc->file = file != NULL ? xstrdup(file) : NULL;
		memset(&sp, 0, sizeof sp);
		sp.sc = sc;
		config_http_parse_init(&sp.http, &sc->http);
		l[0] = (struct config_layer){ config_scrape_fields, sc, sp.at };
		l[1] = (struct config_layer){ config_scrape_extra_fields, &sp,
		    sp.at2 };
		l[2] = (struct config_layer){ config_http_fields, &sp.http,
		    sp.http.at };
		rc = config_map(ctx, name, item, l, 3);
		if (rc == 0)
			rc = config_scrape_finish(ctx, &sp, gp, item, name);
		if (rc == 0 && config_names_add(names, sc->job_name) == -1)
			rc = config_scrape_duplicate(ctx, config_at(&l[0],
			    "job_name"), cfg, sc);
		config_scrape_parse_clear(&sp);
	}
	return rc;
}

/* ---- azuread --------------------------------------------------------- */

struct config_az_parse {
	struct config_azuread	*az;
	const struct ynode	*mi;		/* method key nodes */
	const struct ynode	*oauth;
	const struct ynode	*cert;
	const struct ynode	*wi;
	char			*cert_path;	/* certificate_path */
	char			*cert_file;	/* certificate_file alias */
	const struct ynode	*at[CONFIG_MAX_FIELDS];
	const struct ynode	*at_method[CONFIG_MAX_FIELDS];
};

#define CA(n, t, m)	CF(n, t, struct config_azuread, m)
static const struct config_field config_az_mi_fields[] = {
	CA("client_id", CF_STR, client_id),
	CEND
};

static const struct config_field config_az_oauth_fields[] = {
	CA("client_id", CF_STR, client_id),
	CA("client_secret", CF_STR, client_secret),
	CA("client_secret_file", CF_PATH, client_secret_file),
	CA("tenant_id", CF_STR, tenant_id),
	CEND
};

static const struct config_field config_az_wi_fields[] = {
	CA("client_id", CF_STR, client_id),
	CA("tenant_id", CF_STR, tenant_id),
	CA("token_file_path", CF_PATH, token_file_path),
	CEND
};
#undef CA

static const struct config_field config_az_cert_fields[] = {
	CF("client_id", CF_STR, struct config_azuread, client_id),
	CF("tenant_id", CF_STR, struct config_azuread, tenant_id),
	CF("certificate_key_path", CF_PATH, struct config_azuread,
	    certificate_key_file),
	CF("send_certificate_chain", CF_BOOL, struct config_azuread,
	    send_certificate_chain),
	CNOT("certificate_password", "PKCS#12 files are not supported: use "
	    "a PEM certificate and key"),
	CEND
};

static const struct config_field config_az_cert_path_fields[] = {
	CF("certificate_path", CF_PATH, struct config_az_parse, cert_path),
	CF("certificate_file", CF_PATH, struct config_az_parse, cert_file),
	CEND
};

static int
config_az_method_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_az_parse *ap = obj;
	struct config_layer l[2];
	size_t nl = 1;

	l[0].obj = ap->az;
	l[0].at = ap->at_method;
	if (strcmp(k->value, "managed_identity") == 0) {
		ap->mi = k;
		l[0].fields = config_az_mi_fields;
	} else if (strcmp(k->value, "oauth") == 0) {
		ap->oauth = k;
		l[0].fields = config_az_oauth_fields;
	} else if (strcmp(k->value, "workload_identity") == 0) {
		ap->wi = k;
		l[0].fields = config_az_wi_fields;
	} else {
		ap->cert = k;
		l[0].fields = config_az_cert_fields;
		l[1] = (struct config_layer){ config_az_cert_path_fields, ap,
		    NULL };
		nl = 2;
	}
	/* Each method block is walked alone: positions are per block. */
	memset(ap->at_method, 0, sizeof ap->at_method);
	return config_map(ctx, k->value, v, l, nl);
}

static const struct config_field config_az_fields[] = {
	CF("cloud", CF_STR, struct config_azuread, cloud),
	CF("scope", CF_STR, struct config_azuread, scope),
	CEND
};

static const struct config_field config_az_method_fields[] = {
	CFN("managed_identity", config_az_method_cb),
	CFN("oauth", config_az_method_cb),
	CFN("certificate", config_az_method_cb),
	CFN("workload_identity", config_az_method_cb),
	CNOT("sdk", "the Azure SDK credential chain is not available in "
	    "promlet; use managed_identity, oauth, certificate or "
	    "workload_identity"),
	CEND
};

static void
config_azuread_free(struct config_azuread *az)
{
	free(az->cloud);
	free(az->client_id);
	free(az->tenant_id);
	free(az->client_secret);
	free(az->client_secret_file);
	free(az->certificate_file);
	free(az->token_file_path);
	free(az->scope);
	free(az->certificate_key_file);
}

/* A file promlet will need to read when it fetches a token. */
static int
config_check_readable(struct config_ctx *ctx, const struct ynode *at,
    const char *key, const char *path)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return config_error(ctx, at, key, "cannot read %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		rc = config_error(ctx, at, key, "cannot read %s: %s", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = config_error(ctx, at, key, "%s is not a regular file",
		    path);
	close(fd);
	return rc;
}

/* Entra tenant: a GUID or a verified domain name. */
static int
config_tenant_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return 0;
	}
	return 1;
}

static const struct ynode *
config_az_at(struct config_az_parse *ap, const struct ynode *method,
    const struct config_field *fields, const char *key)
{
	struct config_layer l = { fields, ap->az, ap->at_method };
	const struct ynode *at = config_at(&l, key);

	return at != NULL ? at : method;
}

/*
 * AzureADConfig.Validate in Prometheus's order and wording, plus what
 * promlet adds: client_secret_file, certificate_file, environment defaults
 * for workload identity and readable secret files at load time.
 */
static int
config_az_validate(struct config_ctx *ctx, struct config_az_parse *ap,
    const struct ynode *k)
{
	static const char *clouds[] = { "AzurePublic", "AzureChina",
	    "AzureGovernment" };
	struct config_azuread *az = ap->az;
	struct config_layer l = { config_az_fields, az, ap->at };
	const struct ynode *m, *at;
	const char *p, *env;
	size_t i;
	int n;

	if (config_empty(az->cloud)) {
		free(az->cloud);
		az->cloud = xstrdup("AzurePublic");
	}
	for (i = 0; i < sizeof clouds / sizeof clouds[0]; i++) {
		if (strcmp(az->cloud, clouds[i]) == 0)
			break;
	}
	if (i == sizeof clouds / sizeof clouds[0])
		return config_error(ctx, config_at(&l, "cloud"), "cloud",
		    "must provide a cloud in the Azure AD config (AzurePublic, "
		    "AzureChina or AzureGovernment), got \"%s\"", az->cloud);
	n = (ap->mi != NULL) + (ap->oauth != NULL) + (ap->cert != NULL) +
	    (ap->wi != NULL);
	if (n == 0)
		return config_error(ctx, k, "azuread", "must provide an Azure "
		    "Managed Identity, Azure Workload Identity, Azure OAuth, "
		    "Azure Certificate or Azure SDK in the Azure AD config");
	if (n > 1) {
		at = config_later(config_later(ap->mi, ap->oauth),
		    config_later(ap->cert, ap->wi));
		return config_error(ctx, at, at->value, "cannot provide "
		    "multiple authentication methods in the Azure AD config");
	}

	if ((m = ap->mi) != NULL) {
		az->method = AZUREAD_MANAGED_IDENTITY;
		if (config_empty(az->client_id)) {
			/* System-assigned identity. */
			free(az->client_id);
			az->client_id = NULL;
		} else if (!config_is_uuid(az->client_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_mi_fields, "client_id"), "client_id",
			    "the provided Azure Managed Identity client_id is "
			    "invalid");
	} else if ((m = ap->wi) != NULL) {
		az->method = AZUREAD_WORKLOAD_IDENTITY;
		/* What the AKS workload identity webhook injects. */
		if (config_empty(az->client_id) &&
		    (env = getenv("AZURE_CLIENT_ID")) != NULL) {
			free(az->client_id);
			az->client_id = xstrdup(env);
		}
		if (config_empty(az->tenant_id) &&
		    (env = getenv("AZURE_TENANT_ID")) != NULL) {
			free(az->tenant_id);
			az->tenant_id = xstrdup(env);
		}
		if (config_empty(az->token_file_path)) {
			free(az->token_file_path);
			env = getenv("AZURE_FEDERATED_TOKEN_FILE");
			az->token_file_path = xstrdup(config_empty(env) ?
			    CONFIG_DEFAULT_WI_TOKEN_FILE : env);
		}
		if (config_empty(az->client_id))
			return config_error(ctx, m, "workload_identity",
			    "must provide an Azure Workload Identity client_id "
			    "in the Azure AD config (or set AZURE_CLIENT_ID)");
		if (config_empty(az->tenant_id))
			return config_error(ctx, m, "workload_identity",
			    "must provide an Azure Workload Identity tenant_id "
			    "in the Azure AD config (or set AZURE_TENANT_ID)");
		if (!config_is_uuid(az->client_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_wi_fields, "client_id"), "client_id",
			    "the provided Azure Workload Identity client_id is "
			    "invalid");
		if (!config_is_uuid(az->tenant_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_wi_fields, "tenant_id"), "tenant_id",
			    "the provided Azure Workload Identity tenant_id is "
			    "invalid");
		if (config_check_readable(ctx, config_az_at(ap, m,
		    config_az_wi_fields, "token_file_path"), "token_file_path",
		    az->token_file_path) == -1)
			return -1;
	} else if ((m = ap->oauth) != NULL) {
		az->method = AZUREAD_OAUTH;
		if (config_empty(az->client_id))
			return config_error(ctx, m, "oauth", "must provide an "
			    "Azure OAuth client_id in the Azure AD config");
		if (config_empty(az->client_secret) &&
		    config_empty(az->client_secret_file))
			return config_error(ctx, m, "oauth", "must provide an "
			    "Azure OAuth client_secret in the Azure AD config "
			    "(or client_secret_file)");
		if (!config_empty(az->client_secret) &&
		    !config_empty(az->client_secret_file))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_oauth_fields, "client_secret_file"),
			    "client_secret_file", "at most one of "
			    "client_secret & client_secret_file must be "
			    "configured");
		if (config_empty(az->tenant_id))
			return config_error(ctx, m, "oauth", "must provide an "
			    "Azure OAuth tenant_id in the Azure AD config");
		if (!config_is_uuid(az->client_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_oauth_fields, "client_id"), "client_id",
			    "the provided Azure OAuth client_id is invalid");
		if (!config_tenant_ok(az->tenant_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_oauth_fields, "tenant_id"), "tenant_id",
			    "the provided Azure OAuth tenant_id is invalid");
		if (!config_empty(az->client_secret_file) &&
		    config_check_readable(ctx, config_az_at(ap, m,
		    config_az_oauth_fields, "client_secret_file"),
		    "client_secret_file", az->client_secret_file) == -1)
			return -1;
	} else {
		m = ap->cert;
		az->method = AZUREAD_CERTIFICATE;
		if (ap->cert_path != NULL && ap->cert_file != NULL)
			return config_error(ctx, m, "certificate", "at most "
			    "one of certificate_path & certificate_file must "
			    "be configured");
		az->certificate_file = ap->cert_path != NULL ? ap->cert_path :
		    ap->cert_file;
		ap->cert_path = ap->cert_file = NULL;
		if (config_empty(az->client_id))
			return config_error(ctx, m, "certificate", "must "
			    "provide an Azure Certificate client_id in the "
			    "Azure AD config");
		if (config_empty(az->tenant_id))
			return config_error(ctx, m, "certificate", "must "
			    "provide an Azure Certificate tenant_id in the "
			    "Azure AD config");
		if (config_empty(az->certificate_file))
			return config_error(ctx, m, "certificate", "must "
			    "provide an Azure Certificate certificate_path in "
			    "the Azure AD config");
		if (!config_is_uuid(az->client_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_cert_fields, "client_id"), "client_id",
			    "the provided Azure Certificate client_id is "
			    "invalid");
		if (!config_tenant_ok(az->tenant_id))
			return config_error(ctx, config_az_at(ap, m,
			    config_az_cert_fields, "tenant_id"), "tenant_id",
			    "the provided Azure Certificate tenant_id is "
			    "invalid");
		if (config_check_readable(ctx, m, "certificate_path",
		    az->certificate_file) == -1)
			return -1;
		if (!config_empty(az->certificate_key_file) &&
		    config_check_readable(ctx, config_az_at(ap, m,
		    config_az_cert_fields, "certificate_key_path"),
		    "certificate_key_path", az->certificate_key_file) == -1)
			return -1;
	}
	if (az->scope != NULL && *az->scope == '\0') {
		free(az->scope);
		az->scope = NULL;
	}
	if (az->scope != NULL) {
		for (p = az->scope; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) && strchr("_ \t\n\f\r"
			    ":/.-", *p) == NULL)
				return config_error(ctx, config_at(&l, "scope"),
				    "scope", "the provided scope contains "
				    "invalid characters");
		}
	}
	return 0;
}

static int
config_azuread_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_azuread *az = obj;
	struct config_az_parse ap;
	struct config_layer l[2];
	int rc;

	memset(&ap, 0, sizeof ap);
	ap.az = az;
	l[0] = (struct config_layer){ config_az_fields, az, ap.at };
	l[1] = (struct config_layer){ config_az_method_fields, &ap, NULL };
	rc = config_map(ctx, "azuread", v, l, 2);
	if (rc == 0)
		rc = config_az_validate(ctx, &ap, k);
	free(ap.cert_path);
	free(ap.cert_file);
	return rc;
}

/* ---- remote_write ------------------------------------------------------ */

struct config_rw_parse {
	struct config_remote_write	*rw;
	struct config_http_parse	 http;
	char				*protobuf_message;
	int				 send_exemplars;
	const struct ynode		*azuread;
	const struct ynode		*at[CONFIG_MAX_FIELDS];
	const struct ynode		*at2[CONFIG_MAX_FIELDS];
	const struct ynode		*at_queue[CONFIG_MAX_FIELDS];
	const struct ynode		*at_meta[CONFIG_MAX_FIELDS];
};

#define CQ(n, t, m)	CF(n, t, struct config_queue, m)
static const struct config_field config_queue_fields[] = {
	CQ("capacity", CF_I64, capacity),
	CQ("max_shards", CF_I64, max_shards),
	CQ("min_shards", CF_I64, min_shards),
	CQ("max_samples_per_send", CF_I64, max_samples_per_send),
	CQ("batch_send_deadline", CF_DURATION, batch_send_deadline_ms),
	CQ("min_backoff", CF_DURATION, min_backoff_ms),
	CQ("max_backoff", CF_DURATION, max_backoff_ms),
	CQ("retry_on_http_429", CF_BOOL, retry_on_http_429),
	CQ("sample_age_limit", CF_DURATION, sample_age_limit_ms),
	CEND
};
#undef CQ

#define CR(n, t, m)	CF(n, t, struct config_remote_write, m)
static const struct config_field config_meta_fields[] = {
	CR("send", CF_BOOL, metadata_send),
	CR("send_interval", CF_DURATION, metadata_send_interval_ms),
	CR("max_samples_per_send", CF_I64, metadata_max_samples_per_send),
	CEND
};

static int
config_rw_headers_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_remote_write *rw = obj;

	return config_kv_map(ctx, k->value, v, &rw->headers, 0);
}

static int
config_rw_relabel_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_remote_write *rw = obj;

	return config_relabel_rules(ctx, k->value, v, &rw->write_relabel,
	    "empty or null relabeling rule in remote write config");
}

static int
config_rw_queue_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_rw_parse *rp = obj;
	struct config_layer l = { config_queue_fields, &rp->rw->queue,
	    rp->at_queue };

	return config_map(ctx, k->value, v, &l, 1);
}

static int
config_rw_meta_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_rw_parse *rp = obj;
	struct config_layer l = { config_meta_fields, rp->rw, rp->at_meta };

	return config_map(ctx, k->value, v, &l, 1);
}

static int
config_rw_azuread_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_rw_parse *rp = obj;

	rp->azuread = k;
	return config_azuread_cb(ctx, k, v, &rp->rw->azuread);
}

static const struct config_field config_rw_fields[] = {
	CR("url", CF_STR, url),
	CR("name", CF_STR, name),
	CR("remote_timeout", CF_DURATION, remote_timeout_ms),
	CFN("headers", config_rw_headers_cb),
	CFN("write_relabel_configs", config_rw_relabel_cb),
	CR("max_label_count", CF_U64, max_label_count),
	CR("max_label_name_length", CF_U64, max_label_name_length),
	CR("max_label_value_length", CF_U64, max_label_value_length),
	CEND
};
#undef CR

static const struct config_field config_rw_extra_fields[] = {
	CFN("queue_config", config_rw_queue_cb),
	CFN("metadata_config", config_rw_meta_cb),
	CFN("azuread", config_rw_azuread_cb),
	CF("protobuf_message", CF_STR, struct config_rw_parse,
	    protobuf_message),
	CF("send_exemplars", CF_BOOL, struct config_rw_parse, send_exemplars),
	CIGN("send_native_histograms", CF_IGN_BOOL),
	CIGN("round_robin_dns", CF_IGN_BOOL),
	CNOT("sigv4", "use azuread, oauth2, authorization or basic_auth"),
	CNOT("google_iam", "use azuread, oauth2, authorization or basic_auth"),
	CEND
};

static void
config_rw_free(struct config_remote_write *rw)
{
	free(rw->url);
	free(rw->name);
	config_kvs_free(&rw->headers);
	relabel_rules_free(&rw->write_relabel);
	config_http_free(&rw->http);
	config_azuread_free(&rw->azuread);
}

static void
config_rw_init(struct config_remote_write *rw)
{
	struct config_queue *q = &rw->queue;

	memset(rw, 0, sizeof *rw);
	rw->remote_timeout_ms = CONFIG_UNSET_I64;
	q->capacity = q->min_shards = q->max_shards = CONFIG_UNSET_I64;
	q->max_samples_per_send = CONFIG_UNSET_I64;
	q->batch_send_deadline_ms = q->min_backoff_ms = CONFIG_UNSET_I64;
	q->max_backoff_ms = q->sample_age_limit_ms = CONFIG_UNSET_I64;
	q->retry_on_http_429 = CONFIG_UNSET;
	rw->metadata_send = CONFIG_UNSET;
	rw->metadata_send_interval_ms = CONFIG_UNSET_I64;
	rw->metadata_max_samples_per_send = CONFIG_UNSET_I64;
	rw->max_label_count = CONFIG_UNSET_U64;
	rw->max_label_name_length = CONFIG_UNSET_U64;
	rw->max_label_value_length = CONFIG_UNSET_U64;
}

static void
config_default_i64(int64_t *v, int64_t def)
{
	if (*v == CONFIG_UNSET_I64)
		*v = def;
}

/* An HTTP token (RFC 9110): what a header name may hold. */
static int
config_header_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	}
	return 1;
}

/* No CR, LF or other controls: they would split the request. */
static int
config_header_value_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	}
	return 1;
}

/* Headers Prometheus sets itself (config.go reservedHeaders). */
static const char *config_reserved_headers[] = {
	"host", "content-encoding", "content-length", "content-type",
	"user-agent", "connection", "keep-alive", "proxy-authenticate",
	"proxy-authorization", "www-authenticate", "accept-encoding",
	"x-prometheus-remote-write-version",
	"x-prometheus-remote-read-version", "x-amz-date",
	"x-amz-security-token", "x-amz-content-sha256"
};

static int
config_rw_finish(struct config_ctx *ctx, struct config_rw_parse *rp,
    const struct ynode *item, const char *name)
{
	struct config_layer l = { config_rw_fields, rp->rw, rp->at };
	struct config_layer l2 = { config_rw_extra_fields, rp, rp->at2 };
	struct config_layer lq = { config_queue_fields, &rp->rw->queue,
	    rp->at_queue };
	struct config_layer lm = { config_meta_fields, rp->rw, rp->at_meta };
	struct config_remote_write *rw = rp->rw;
	struct config_queue *q = &rw->queue;
	const struct ynode *at, *hv;
	struct buf list = BUF_INIT;
	const char *auth[4];
	size_t i, j, nauth = 0;

	if (config_empty(rw->url)) {
		at = config_at(&l, "url");
		return config_error(ctx, at != NULL ? at : item,
		    at != NULL ? "url" : name, "url for remote_write is empty");
	}
	at = config_at(&l, "headers");
	for (i = 0; i < rw->headers.n; i++) {
		const char *h = rw->headers.v[i].name;
		hv = at != NULL ? YNODE_KEY(yaml_tree_map_get(item,
		    "headers"), i) : item;
		if (strcasecmp(h, "authorization") == 0)
			return config_error(ctx, hv, h, "authorization header "
			    "must be changed via the basic_auth, "
			    "authorization, oauth2, sigv4, azuread or "
			    "google_iam parameter");
		for (j = 0; j < sizeof config_reserved_headers /
		    sizeof config_reserved_headers[0]; j++) {
			if (strcasecmp(h, config_reserved_headers[j]) == 0)
				return config_error(ctx, hv, h, "%s is a "
				    "reserved header. It must not be changed",
				    h);
		}
		if (!config_header_name_ok(h))
			return config_error(ctx, hv, h, "invalid header name");
		if (!config_header_value_ok(rw->headers.v[i].value))
			return config_error(ctx, hv, h, "header value contains "
			    "a control character");
	}
	if (!config_empty(rp->protobuf_message) &&
	    strcmp(rp->protobuf_message, "prometheus.WriteRequest") != 0) {
		at = config_at(&l2, "protobuf_message");
		if (strcmp(rp->protobuf_message,
		    "io.prometheus.write.v2.Request") == 0)
			return config_error(ctx, at, "protobuf_message",
			    "promlet sends remote write 1.0 only "
			    "(prometheus.WriteRequest)");
		return config_error(ctx, at, "protobuf_message", "invalid "
		    "protobuf_message value: unknown type for remote write "
		    "protobuf message %s, supported: prometheus.WriteRequest, "
		    "io.prometheus.write.v2.Request", rp->protobuf_message);
	}
	if (config_http_finish(ctx, &rp->http, 0) == -1)
		return -1;
	if (rw->http.basic_auth_username != NULL)
		auth[nauth++] = "basic_auth";
	if (rw->http.authorization_type != NULL)
		auth[nauth++] = "authorization";
	if (rw->http.oauth2 != NULL)
		auth[nauth++] = "oauth2";
	if (rp->azuread != NULL)
		auth[nauth++] = "azuread";
	if (nauth > 1) {
		for (i = 0; i < nauth; i++)
			buf_printf(&list, "%s%s", i ? " " : "", auth[i]);
		at = rp->azuread != NULL ? rp->azuread : item;
		config_error(ctx, at, at == item ? name : "azuread", "at most "
		    "one of basic_auth, authorization, oauth2, sigv4, azuread "
		    "or google_iam must be configured. Currently configured: "
		    "[%s]", list.data);
		buf_free(&list);
		return -1;
	}

	config_default_i64(&q->capacity, 10000);
	config_default_i64(&q->max_shards, 50);
	config_default_i64(&q->min_shards, 1);
	config_default_i64(&q->max_samples_per_send, 2000);
	config_default_i64(&q->batch_send_deadline_ms, 5 * CONFIG_MS_SECOND);
	config_default_i64(&q->min_backoff_ms, 30);
	config_default_i64(&q->max_backoff_ms, 5 * CONFIG_MS_SECOND);
	config_default_i64(&q->sample_age_limit_ms, 0);
	/* Azure Monitor throttles with 429: retry unless told otherwise. */
	config_default_int(&q->retry_on_http_429, 1);
	if (q->max_shards <= 0)
		return config_error(ctx, config_at(&lq, "max_shards"),
		    "max_shards", "remote write queue max_shards must be "
		    "positive");
	if (q->min_shards <= 0)
		return config_error(ctx, config_at(&lq, "min_shards"),
		    "min_shards", "remote write queue min_shards must be "
		    "positive");
	if (q->min_shards > q->max_shards)
		return config_error(ctx, config_at(&lq, "min_shards"),
		    "min_shards", "remote write queue min_shards must not be "
		    "greater than max_shards");
	if (q->max_samples_per_send <= 0)
		return config_error(ctx, config_at(&lq, "max_samples_per_send"),
		    "max_samples_per_send", "remote write queue "
		    "max_samples_per_send must be positive");
	if (q->capacity <= 0)
		return config_error(ctx, config_at(&lq, "capacity"),
		    "capacity", "remote write queue capacity must be positive");
	if (q->max_backoff_ms < q->min_backoff_ms)
		return config_error(ctx, config_at(&lq, "max_backoff"),
		    "max_backoff", "remote write queue max_backoff must not be "
		    "less than min_backoff");

	config_default_int(&rw->metadata_send, 1);
	config_default_i64(&rw->metadata_send_interval_ms, CONFIG_MS_MINUTE);
	config_default_i64(&rw->metadata_max_samples_per_send, 2000);
	/* Prometheus's ticker would panic on 0; refuse it here. */
	if (rw->metadata_send_interval_ms <= 0)
		return config_error(ctx, config_at(&lm, "send_interval"),
		    "send_interval", "metadata send_interval must be positive");
	if (rw->metadata_max_samples_per_send <= 0)
		return config_error(ctx, config_at(&lm,
		    "max_samples_per_send"), "max_samples_per_send",
		    "metadata max_samples_per_send must be positive");
	config_default_i64(&rw->remote_timeout_ms, 30 * CONFIG_MS_SECOND);
	if (rw->max_label_count == CONFIG_UNSET_U64)
		rw->max_label_count = 63;
	if (rw->max_label_name_length == CONFIG_UNSET_U64)
		rw->max_label_name_length = 511;
	if (rw->max_label_value_length == CONFIG_UNSET_U64)
		rw->max_label_value_length = 1023;
	if (rp->send_exemplars == 1)
		return config_error(ctx, config_at(&l2, "send_exemplars"),
		    "send_exemplars", "not supported by promlet: it does not "
		    "collect exemplars");
	return 0;
}

static int
config_remote_writes(struct config_ctx *ctx, const struct ynode *n,
    struct config *cfg)
{
	struct config_rw_parse rp;
	struct config_names names;
	struct config_layer l[3];
	struct config_remote_write *rw;
	const struct ynode *item, **url_at;
	char name[64], *q;
	uint64_t h;
	size_t i;
	int rc = 0, seq;

	if ((seq = config_list(ctx, n, "remote_write")) != 1)
		return seq;
	memset(&names, 0, sizeof names);
	cfg->remote_write = xcalloc(n->n == 0 ? 1 : n->n,
	    sizeof *cfg->remote_write);
	url_at = xcalloc(n->n == 0 ? 1 : n->n, sizeof *url_at);
	for (i = 0; i < n->n && rc == 0; i++) {
		item = n->v[i];
		snprintf(name, sizeof name, "remote_write[%zu]", i);
		if (config_null(item)) {
			rc = config_error(ctx, item, name,
			    "empty or null remote write config section");
			break;
		}
		rw = &cfg->remote_write[cfg->nremote_write++];
		config_rw_init(rw);
		rw->line = item->line;
		memset(&rp, 0, sizeof rp);
		rp.rw = rw;
		rp.send_exemplars = CONFIG_UNSET;
		config_http_parse_init(&rp.http, &rw->http);
		l[0] = (struct config_layer){ config_rw_fields, rw, rp.at };
		l[1] = (struct config_layer){ config_rw_extra_fields, &rp,
		    rp.at2 };
		l[2] = (struct config_layer){ config_http_fields, &rp.http,
		    rp.http.at };
		rc = config_map(ctx, name, item, l, 3);
		if (rc == 0)
			rc = config_rw_finish(ctx, &rp, item, name);
		url_at[i] = config_at(&l[0], "url");
		if (rc == 0 && !config_empty(rw->name) &&
		    config_names_add(&names, rw->name) == -1) {
			q = config_quoted(rw->name);
			rc = config_error(ctx, config_at(&l[0], "name"), "name",
			    "found multiple remote write configs with job name "
			    "%s", q);
			free(q);
		}
		config_http_parse_clear(&rp.http);
		free(rp.protobuf_message);
	}

	/* Unnamed endpoints are named after their config, as Prometheus. */
	for (i = 0; i < cfg->nremote_write && rc == 0; i++) {
		rw = &cfg->remote_write[i];
		if (!config_empty(rw->name))
			continue;
		free(rw->name);
		rw->name = NULL;
		h = config_remote_write_hash(rw);
		xasprintf(&rw->name, "%06" PRIx64, h >> 40);
		if (config_names_add(&names, rw->name) == -1) {
			q = config_redact_url(rw->url);
			rc = config_error(ctx, n->v[i], "remote_write",
			    "duplicate remote write configs are not allowed, "
			    "found duplicate for URL: %s", q);
			free(q);
		}
	}
	/*
	 * Prometheus takes any URL and fails at send time; promlet says so
	 * now. Checked last so Prometheus's own errors come first.
	 */
	for (i = 0; i < cfg->nremote_write && rc == 0; i++) {
		rw = &cfg->remote_write[i];
		if (config_check_http_url(rw->url) == -1) {
			q = config_redact_url(rw->url);
			rc = config_error(ctx, url_at[i], "url", "invalid URL "
			    "\"%s\": expected http:// or https:// and a host",
			    q);
			free(q);
		}
	}
	free(url_at);
	config_names_free(&names);
	return rc;
}

/* ---- top level --------------------------------------------------------- */

/* runtime tunes Go's garbage collector: checked, nothing to tune here. */
static const struct config_field config_runtime_fields[] = {
	CIGN("gogc", CF_IGN_I64),
	CEND
};

static int
config_runtime_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_layer l = { config_runtime_fields, obj, NULL };

	if (config_null(v))
		return 0;
	return config_map(ctx, k->value, v, &l, 1);
}

struct config_top {
	const struct ynode	*global;
	const struct ynode	*scrape;
	const struct ynode	*rw;
	const struct ynode	*files;	/* scrape_config_files */
};

static int
config_top_cb(struct config_ctx *ctx, const struct ynode *k,
    const struct ynode *v, void *obj)
{
	struct config_top *top = obj;

	(void)ctx;
	if (strcmp(k->value, "global") == 0)
		top->global = v;
	else if (strcmp(k->value, "scrape_configs") == 0)
		top->scrape = v;
	else if (strcmp(k->value, "scrape_config_files") == 0)
		top->files = v;
	else
		top->rw = v;
	return 0;
}

static const struct config_field config_top_fields[] = {
	CFN("global", config_top_cb),
	CFN("scrape_configs", config_top_cb),
	CFN("remote_write", config_top_cb),
	CFN("scrape_config_files", config_top_cb),
	CNOT("rule_files", "promlet is an agent and evaluates no recording "
	    "or alerting rules"),
	CNOT("alerting", "promlet is an agent and sends no alerts"),
	CNOT("remote_read", "promlet keeps no queryable storage"),
	CNOT("storage", "the write-ahead log is set with "
	    "--storage.agent.path"),
	CNOT("tracing", NULL),
	CNOT("otlp", "promlet does not receive OTLP"),
	CFN("runtime", config_runtime_cb),
	CEND
};

/* What a scrape_config_files file may hold. */
static const struct config_field config_files_top_fields[] = {
	CFN("scrape_configs", config_top_cb),
	CEND
};

static int	config_read_file(const char *, struct buf *, int, char **);
static uint64_t	config_sum_bytes(const char *, const struct buf *, uint64_t);

/* config_files_checksum: the seed, and what goes in before each glob. */
#define CONFIG_SUM_SEED		0x636f6e6669670000ULL
#define CONFIG_SUM_GLOB		"\0glob"
static char	*config_dirname(const char *);

/* One matched file: its scrape configs, paths in them relative to it. */
static int
config_scrape_file(struct config_ctx *ctx, const char *path,
    struct config_global_parse *gp, struct config_names *names)
{
	struct config_ctx fctx;
	struct yaml_tree *tree = NULL;
	struct config_layer l;
	struct config_top top;
	struct buf b = BUF_INIT;
	int rc = -1;

	memset(&fctx, 0, sizeof fctx);
	fctx.file = path;
	fctx.dir = config_dirname(path);
	if (config_read_file(path, &b, 1, &fctx.cause) == -1)
		goto out;
	gp->cfg->files_sum = config_sum_bytes(path, &b, gp->cfg->files_sum);
	if ((tree = yaml_tree_load(path, b.data == NULL ? "" : b.data, b.len,
	    &fctx.cause)) == NULL)
		goto out;
	memset(&top, 0, sizeof top);
	l = (struct config_layer){ config_files_top_fields, &top, NULL };
	if (tree->root != NULL && config_map(&fctx, "the top level",
	    tree->root, &l, 1) == -1)
		goto out;
	rc = top.scrape == NULL ? 0 : config_scrape_configs(&fctx, top.scrape,
	    gp, names, path);
out:
	if (rc == -1) {
		free(ctx->cause);
		ctx->cause = fctx.cause;
		fctx.cause = NULL;
	}
	free(fctx.cause);
	free(fctx.dir);
	yaml_tree_free(tree);
	buf_free(&b);
	return rc;
}

/*
 * scrape_config_files: globs (a * only in the last path element, as
 * Prometheus checks them), relative to the config's directory. Matches
 * load in glob order after the config's own jobs; none is fine.
 */
static int
config_scrape_files(struct config_ctx *ctx, const struct ynode *n,
    struct config_global_parse *gp, struct config_names *names)
{
	const char *star;
	char **pats = NULL, *pat, *q;
	size_t npats = 0, i, m;
	glob_t gl;
	int rc = 0, g;

	/* A bad item leaves the ones before it in pats. */
	if (config_str_list(ctx, "scrape_config_files", n, &pats,
	    &npats) == -1) {
		config_str_list_free(pats, npats);
		return -1;
	}
	for (i = 0; i < npats && rc == 0; i++) {
		if ((star = strchr(pats[i], '*')) != NULL &&
		    strchr(star, '/') != NULL) {
			q = config_quoted(pats[i]);
			rc = config_error(ctx, n->v[i], "scrape_config_files",
			    "invalid scrape config file path %s", q);
			free(q);
			break;
		}
		if (pats[i][0] != '/' && ctx->dir != NULL)
			xasprintf(&pat, "%s/%s", ctx->dir, pats[i]);
		else
			pat = xstrdup(pats[i]);
		gp->cfg->include_globs = xreallocarray(gp->cfg->include_globs,
		    gp->cfg->ninclude_globs + 1,
		    sizeof *gp->cfg->include_globs);
		gp->cfg->include_globs[gp->cfg->ninclude_globs++] =
		    xstrdup(pat);
		gp->cfg->files_sum = hash_bytes(CONFIG_SUM_GLOB,
		    sizeof CONFIG_SUM_GLOB - 1, gp->cfg->files_sum);
		memset(&gl, 0, sizeof gl);
		if ((g = glob(pat, 0, NULL, &gl)) != 0 && g != GLOB_NOMATCH) {
			q = config_quoted(pats[i]);
			rc = config_error(ctx, n->v[i], "scrape_config_files",
			    "error retrieving scrape config files for %s", q);
			free(q);
		}
		for (m = 0; g == 0 && m < gl.gl_pathc && rc == 0; m++)
			rc = config_scrape_file(ctx, gl.gl_pathv[m], gp, names);
		globfree(&gl);
		free(pat);
	}
	config_str_list_free(pats, npats);
	return rc;
}

static struct config *
config_parse(struct config_ctx *ctx, const char *name, const char *yaml,
    size_t len)
{
	struct config_global_parse gp;
	struct config_names names;
	struct yaml_tree *tree;
	struct config_layer l;
	struct config_top top;
	struct config *cfg;
	int rc = -1;

	memset(&names, 0, sizeof names);
	cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(name);
	cfg->files_sum = ctx->sum;
	config_global_init(&gp, cfg);
	if ((tree = yaml_tree_load(name, yaml, len, &ctx->cause)) == NULL)
		goto out;
	memset(&top, 0, sizeof top);
	l = (struct config_layer){ config_top_fields, &top, NULL };
	if (tree->root != NULL && config_map(ctx, "the top level", tree->root,
	    &l, 1) == -1)
		goto out;
	/* global first: the jobs take their defaults from it. */
	if (config_global(ctx, top.global, &gp) == -1)
		goto out;
	if (top.scrape != NULL && config_scrape_configs(ctx, top.scrape,
	    &gp, &names, NULL) == -1)
		goto out;
	if (top.files != NULL && config_scrape_files(ctx, top.files, &gp,
	    &names) == -1)
		goto out;
	if (top.rw != NULL && config_remote_writes(ctx, top.rw, cfg) == -1)
		goto out;
	rc = 0;
out:
	config_names_free(&names);
	config_global_clear(&gp);
	yaml_tree_free(tree);
	if (rc == -1) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static char *
config_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return NULL;
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static struct config *
config_load_sum(const char *name, const char *yaml, size_t len,
    uint64_t sum, char **cause)
{
	struct config_ctx ctx;
	struct config *cfg;

	memset(&ctx, 0, sizeof ctx);
	ctx.sum = sum;
	ctx.file = name;
	ctx.dir = config_dirname(name);
	if ((cfg = config_parse(&ctx, name, yaml, len)) == NULL) {
		*cause = ctx.cause != NULL ? ctx.cause :
		    xstrdup("invalid configuration");
		ctx.cause = NULL;
	}
	free(ctx.cause);
	free(ctx.dir);
	return cfg;
}

struct config *
config_load_string(const char *name, const char *yaml, size_t len,
    char **cause)
{
	return config_load_sum(name, yaml, len, 0, cause);
}

/*
 * A config file's bytes, with a cap: the size of a pipe or /proc file is
 * unknown. A file a glob matched (included) must be a regular file, and
 * is opened without blocking: a FIFO there would stall every reload.
 * Returns 0, or 1 for a file read that is not a regular one.
 */
static int
config_read_file(const char *path, struct buf *b, int included,
    char **cause)
{
	const char *why = NULL;
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    (included ? O_NONBLOCK : 0))) == -1) {
		xasprintf(cause, "%s: cannot open config file: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = "is a directory";
	else if (included && !S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why != NULL) {
		xasprintf(cause, "%s: cannot read config file: %s", path, why);
		close(fd);
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(cause, "%s: cannot read config file: %s",
			    path, strerror(errno));
			break;
		}
		if (n == 0) {
			close(fd);
			return S_ISREG(st.st_mode) ? 0 : 1;
		}
		if (b->len + (size_t)n > CONFIG_MAX_FILE_SIZE) {
			xasprintf(cause, "%s: config file larger than %d MiB",
			    path, CONFIG_MAX_FILE_SIZE / (1024 * 1024));
			break;
		}
		buf_append(b, chunk, (size_t)n);
	}
	close(fd);
	return -1;
}

/*
 * One file into the checksum: its name, then its bytes, or for b NULL
 * (it cannot be read as a matched file is) a mark of its own.
 */
static uint64_t
config_sum_bytes(const char *path, const struct buf *b, uint64_t h)
{
	h = hash_bytes(path, strlen(path) + 1, h);
	if (b == NULL)
		return hash_bytes("\0!", 2, h);
	return hash_bytes(b->data != NULL ? b->data : "", b->len, h);
}

/* One file into the checksum: its name, then its bytes or the error. */
static uint64_t
config_checksum_file(const char *path, uint64_t h)
{
	struct buf b = BUF_INIT;
	char *cause = NULL;

	/* As a matched file is read: never a FIFO that would block. */
	if (config_read_file(path, &b, 1, &cause) == -1) {
		h = config_sum_bytes(path, NULL, h);
		free(cause);
	} else
		h = config_sum_bytes(path, &b, h);
	buf_free(&b);
	return h;
}

uint64_t
config_files_checksum(const struct config *cfg, const char *path)
{
	uint64_t h = config_checksum_file(path, CONFIG_SUM_SEED);
	glob_t gl;
	size_t i, m;

	for (i = 0; cfg != NULL && i < cfg->ninclude_globs; i++) {
		memset(&gl, 0, sizeof gl);
		h = hash_bytes(CONFIG_SUM_GLOB, sizeof CONFIG_SUM_GLOB - 1, h);
		if (glob(cfg->include_globs[i], 0, NULL, &gl) == 0) {
			for (m = 0; m < gl.gl_pathc; m++)
				h = config_checksum_file(gl.gl_pathv[m], h);
		}
		globfree(&gl);
	}
	return h;
}

struct config *
config_load(const char *path, char **cause)
{
	struct config *cfg;
	struct buf b = BUF_INIT;
	int rc;

	if ((rc = config_read_file(path, &b, 0, cause)) == -1) {
		buf_free(&b);
		return NULL;
	}
	/* A pipe as the config is read, but summed as unreadable. */
	cfg = config_load_sum(path, b.data == NULL ? "" : b.data, b.len,
	    config_sum_bytes(path, rc == 0 ? &b : NULL, CONFIG_SUM_SEED),
	    cause);
	buf_free(&b);
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	config_kvs_free(&cfg->external_labels);
	for (i = 0; i < cfg->nscrape; i++)
		config_scrape_free(&cfg->scrape[i]);
	free(cfg->scrape);
	for (i = 0; i < cfg->nremote_write; i++)
		config_rw_free(&cfg->remote_write[i]);
	free(cfg->remote_write);
	config_str_list_free(cfg->scrape_protocols, cfg->nscrape_protocols);
	config_str_list_free(cfg->include_globs, cfg->ninclude_globs);
	free(cfg);
}

/* ---- dump and hashes --------------------------------------------------- */

struct config_out {
	struct buf	*b;
	int		 redact;
	int		 item;	/* next key starts a list item "- " */
};

static void
config_out_key(struct config_out *o, int indent, const char *key)
{
	if (o->item) {
		buf_printf(o->b, "%*s- ", indent - 2, "");
		o->item = 0;
	} else
		buf_printf(o->b, "%*s", indent, "");
	buf_printf(o->b, "%s:", key);
}

/*
 * Bytes that are not UTF-8 (only !!binary can bring them in) as !!binary
 * again: a quoted "\xff" would read back as U+00FF.
 */
static void
config_out_binary(struct buf *b, const unsigned char *p, size_t len)
{
	buf_puts(b, "!!binary \"");
	buf_put_base64(b, p, len);
	buf_putc(b, '"');
}

/* A YAML double-quoted scalar: always valid, whatever the bytes. */
static void
config_out_qstr(struct buf *b, const char *s)
{
	size_t i, n, len = strlen(s);
	unsigned char c;

	if (!labels_valid_utf8((struct lstr){ s, len })) {
		config_out_binary(b, (const unsigned char *)s, len);
		return;
	}
	buf_putc(b, '"');
	for (i = 0; i < len; i += n) {
		c = (unsigned char)s[i];
		n = 1;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c >= 0x20 && c < 0x7f)
			buf_putc(b, (char)c);
		else if (c >= 0x80) {
			/* Valid UTF-8 (checked); YAML wants C1 controls,
			 * the BOM and U+FFFE/U+FFFF escaped, and U+2028 and
			 * U+2029 too: libyaml reads them as line breaks and
			 * folds them, with the spaces before them, away. */
			const unsigned char *u;

			u = (const unsigned char *)s + i;
			n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (c == 0xc2 && u[1] < 0xa0)
				buf_printf(b, "\\x%02x", u[1]);
			else if (c == 0xef && u[1] == 0xbb && u[2] == 0xbf)
				buf_puts(b, "\\uFEFF");
			else if (c == 0xe2 && u[1] == 0x80 &&
			    (u[2] == 0xa8 || u[2] == 0xa9))
				buf_puts(b, u[2] == 0xa8 ? "\\L" : "\\P");
			else if (c == 0xef && u[1] == 0xbf && u[2] >= 0xbe)
				buf_printf(b, "\\uFFF%c",
				    u[2] == 0xbe ? 'E' : 'F');
			else
				buf_append(b, s + i, n);
		} else
			buf_printf(b, "\\x%02x", c);
	}
	buf_putc(b, '"');
}

static void
config_out_str(struct config_out *o, int indent, const char *key,
    const char *s)
{
	if (s == NULL)
		return;
	config_out_key(o, indent, key);
	buf_putc(o->b, ' ');
	config_out_qstr(o->b, s);
	buf_putc(o->b, '\n');
}

static void
config_out_secret(struct config_out *o, int indent, const char *key,
    const char *s)
{
	if (s == NULL)
		return;
	config_out_str(o, indent, key, o->redact && *s != '\0' ? "<secret>" :
	    s);
}

/* A URL with any password in its userinfo redacted. */
static void
config_out_url(struct config_out *o, int indent, const char *key,
    const char *url)
{
	char *safe;

	if (url == NULL)
		return;
	if (!o->redact) {
		config_out_str(o, indent, key, url);
		return;
	}
	safe = config_redact_url(url);
	config_out_str(o, indent, key, safe);
	free(safe);
}

static void
config_out_raw(struct config_out *o, int indent, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
config_out_raw(struct config_out *o, int indent, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	config_out_key(o, indent, key);
	buf_putc(o->b, ' ');
	va_start(ap, fmt);
	buf_vprintf(o->b, fmt, ap);
	va_end(ap);
	buf_putc(o->b, '\n');
}

static void
config_out_bool(struct config_out *o, int indent, const char *key, int v)
{
	config_out_raw(o, indent, key, "%s", v ? "true" : "false");
}

static void
config_out_duration(struct config_out *o, int indent, const char *key,
    int64_t ms)
{
	config_out_key(o, indent, key);
	buf_putc(o->b, ' ');
	config_format_duration(o->b, ms);
	buf_putc(o->b, '\n');
}

static void
config_out_list(struct config_out *o, int indent, const char *key,
    char *const *v, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	config_out_key(o, indent, key);
	buf_putc(o->b, '\n');
	for (i = 0; i < n; i++) {
		buf_printf(o->b, "%*s- ", indent, "");
		config_out_qstr(o->b, v[i]);
		buf_putc(o->b, '\n');
	}
}

static void
config_out_kvs(struct config_out *o, int indent, const char *key,
    const struct config_kvs *kvs, int secret)
{
	size_t i;

	if (kvs->n == 0)
		return;
	config_out_key(o, indent, key);
	buf_putc(o->b, '\n');
	for (i = 0; i < kvs->n; i++) {
		buf_printf(o->b, "%*s", indent + 2, "");
		config_out_qstr(o->b, kvs->v[i].name);
		buf_puts(o->b, ": ");
		config_out_qstr(o->b, secret && o->redact ? "<secret>" :
		    kvs->v[i].value);
		buf_putc(o->b, '\n');
	}
}

static void
config_out_tls(struct config_out *o, int indent, const struct config_tls *t)
{
	if (t->ca_file == NULL && t->cert_file == NULL && t->key_file == NULL &&
	    t->ca == NULL && t->cert == NULL && t->key == NULL &&
	    t->server_name == NULL && !t->insecure_skip_verify &&
	    t->min_version == NULL && t->max_version == NULL)
		return;
	config_out_key(o, indent, "tls_config");
	buf_putc(o->b, '\n');
	config_out_str(o, indent + 2, "ca", t->ca);
	config_out_str(o, indent + 2, "ca_file", t->ca_file);
	config_out_str(o, indent + 2, "cert", t->cert);
	config_out_str(o, indent + 2, "cert_file", t->cert_file);
	config_out_secret(o, indent + 2, "key", t->key);
	config_out_str(o, indent + 2, "key_file", t->key_file);
	config_out_str(o, indent + 2, "server_name", t->server_name);
	config_out_bool(o, indent + 2, "insecure_skip_verify",
	    t->insecure_skip_verify);
	config_out_str(o, indent + 2, "min_version", t->min_version);
	config_out_str(o, indent + 2, "max_version", t->max_version);
}

/* A name's values are next to each other: they came from one list. */
static void
config_out_proxy_header(struct config_out *o, int indent,
    const struct config_kvs *kvs)
{
	size_t i;

	if (kvs->n == 0)
		return;
	config_out_key(o, indent, "proxy_connect_header");
	buf_putc(o->b, '\n');
	for (i = 0; i < kvs->n; i++) {
		if (i == 0 || strcmp(kvs->v[i].name, kvs->v[i - 1].name) != 0) {
			buf_printf(o->b, "%*s", indent + 2, "");
			config_out_qstr(o->b, kvs->v[i].name);
			buf_puts(o->b, ":\n");
		}
		buf_printf(o->b, "%*s- ", indent + 2, "");
		config_out_qstr(o->b, o->redact && *kvs->v[i].value != '\0' ?
		    "<secret>" : kvs->v[i].value);
		buf_putc(o->b, '\n');
	}
}

static void
config_out_proxy(struct config_out *o, int indent, const struct config_http *h)
{
	config_out_url(o, indent, "proxy_url", h->proxy_url);
	config_out_str(o, indent, "no_proxy", h->no_proxy);
	if (h->proxy_from_environment)
		config_out_bool(o, indent, "proxy_from_environment", 1);
	config_out_proxy_header(o, indent, &h->proxy_connect_header);
}

static void
config_out_headers(struct config_out *o, int indent,
    const struct config_http *h)
{
	static char redacted[] = "<secret>";
	const struct config_header *e;
	char **masked;
	size_t i, j;

	if (h->nheaders == 0)
		return;
	config_out_key(o, indent, "http_headers");
	buf_putc(o->b, '\n');
	for (i = 0; i < h->nheaders; i++) {
		e = &h->headers[i];
		/* A token may start with a YAML indicator (#, &, !, ...). */
		buf_printf(o->b, "%*s", indent + 2, "");
		config_out_qstr(o->b, e->name);
		buf_puts(o->b, ":\n");
		config_out_list(o, indent + 4, "values", e->values, e->nvalues);
		masked = e->secrets;
		if (o->redact && e->nsecrets != 0) {
			masked = xcalloc(e->nsecrets, sizeof *masked);
			for (j = 0; j < e->nsecrets; j++)
				masked[j] = redacted;
		}
		config_out_list(o, indent + 4, "secrets", masked, e->nsecrets);
		if (masked != e->secrets)
			free(masked);
		config_out_list(o, indent + 4, "files", e->files, e->nfiles);
	}
}

static void
config_out_oauth2(struct config_out *o, int indent,
    const struct config_oauth2 *oa)
{
	config_out_key(o, indent, "oauth2");
	buf_putc(o->b, '\n');
	config_out_str(o, indent + 2, "client_id", oa->client_id);
	config_out_secret(o, indent + 2, "client_secret", oa->client_secret);
	config_out_str(o, indent + 2, "client_secret_file",
	    oa->client_secret_file);
	config_out_list(o, indent + 2, "scopes", oa->scopes, oa->nscopes);
	config_out_url(o, indent + 2, "token_url", oa->token_url);
	config_out_kvs(o, indent + 2, "endpoint_params", &oa->endpoint_params,
	    0);
	config_out_tls(o, indent + 2, &oa->http.tls);
	config_out_proxy(o, indent + 2, &oa->http);
}

static void
config_out_http(struct config_out *o, int indent, const struct config_http *h)
{
	if (h->basic_auth_username != NULL) {
		config_out_key(o, indent, "basic_auth");
		buf_putc(o->b, '\n');
		config_out_str(o, indent + 2, "username",
		    h->basic_auth_username);
		config_out_str(o, indent + 2, "username_file",
		    h->basic_auth_username_file);
		config_out_secret(o, indent + 2, "password",
		    h->basic_auth_password);
		config_out_str(o, indent + 2, "password_file",
		    h->basic_auth_password_file);
	}
	if (h->authorization_type != NULL) {
		config_out_key(o, indent, "authorization");
		buf_putc(o->b, '\n');
		config_out_str(o, indent + 2, "type", h->authorization_type);
		config_out_secret(o, indent + 2, "credentials",
		    h->authorization_credentials);
		config_out_str(o, indent + 2, "credentials_file",
		    h->authorization_credentials_file);
	}
	if (h->oauth2 != NULL)
		config_out_oauth2(o, indent, h->oauth2);
	config_out_tls(o, indent, &h->tls);
	config_out_proxy(o, indent, h);
	config_out_bool(o, indent, "follow_redirects", h->follow_redirects);
	config_out_bool(o, indent, "enable_http2", h->enable_http2);
	config_out_headers(o, indent, h);
}

static void
config_out_relabel(struct config_out *o, int indent, const char *key,
    const struct relabel_rules *rules)
{
	const struct relabel_rule *r;
	size_t i;

	if (rules->n == 0)
		return;
	config_out_key(o, indent, key);
	buf_putc(o->b, '\n');
	for (i = 0; i < rules->n; i++) {
		r = rules->v[i];
		o->item = 1;
		if (r->nsource != 0)
			config_out_list(o, indent + 2, "source_labels",
			    r->source_labels, r->nsource);
		config_out_str(o, indent + 2, "separator", r->separator);
		config_out_str(o, indent + 2, "regex", r->regex);
		if (r->modulus != 0)
			config_out_raw(o, indent + 2, "modulus", "%" PRIu64,
			    r->modulus);
		config_out_str(o, indent + 2, "target_label", r->target_label);
		config_out_str(o, indent + 2, "replacement", r->replacement);
		config_out_raw(o, indent + 2, "action", "%s",
		    relabel_action_name(r->action));
	}
}

static void
config_out_size(struct config_out *o, int indent, const char *key,
    uint64_t v)
{
	config_out_key(o, indent, key);
	buf_putc(o->b, ' ');
	config_format_size(o->b, v);
	buf_putc(o->b, '\n');
}

static void
config_out_scrape(struct config_out *o, const struct config_scrape *sc)
{
	const struct config_k8s_sd *sd;
	size_t i, j;
	int in = 4;

	o->item = 1;
	config_out_str(o, in, "job_name", sc->job_name);
	config_out_duration(o, in, "scrape_interval", sc->scrape_interval_ms);
	config_out_duration(o, in, "scrape_timeout", sc->scrape_timeout_ms);
	config_out_list(o, in, "scrape_protocols", sc->scrape_protocols,
	    sc->nscrape_protocols);
	config_out_str(o, in, "fallback_scrape_protocol",
	    sc->fallback_scrape_protocol);
	config_out_str(o, in, "metrics_path", sc->metrics_path);
	config_out_str(o, in, "scheme", sc->scheme);
	if (sc->params.n != 0) {
		config_out_key(o, in, "params");
		buf_putc(o->b, '\n');
		for (i = 0; i < sc->params.n; i++) {
			buf_printf(o->b, "%*s", in + 2, "");
			config_out_qstr(o->b, sc->params.v[i].name);
			buf_puts(o->b, ": [");
			config_out_qstr(o->b, sc->params.v[i].value);
			buf_puts(o->b, "]\n");
		}
	}
	config_out_bool(o, in, "honor_labels", sc->honor_labels);
	config_out_bool(o, in, "honor_timestamps", sc->honor_timestamps);
	config_out_bool(o, in, "track_timestamps_staleness",
	    sc->track_timestamps_staleness);
	config_out_bool(o, in, "enable_compression", sc->enable_compression);
	config_out_bool(o, in, "extra_scrape_metrics",
	    sc->extra_scrape_metrics);
	config_out_raw(o, in, "sample_limit", "%" PRIu64, sc->sample_limit);
	config_out_raw(o, in, "target_limit", "%" PRIu64, sc->target_limit);
	config_out_raw(o, in, "label_limit", "%" PRIu64, sc->label_limit);
	config_out_raw(o, in, "label_name_length_limit", "%" PRIu64,
	    sc->label_name_length_limit);
	config_out_raw(o, in, "label_value_length_limit", "%" PRIu64,
	    sc->label_value_length_limit);
	config_out_raw(o, in, "keep_dropped_targets", "%" PRIu64,
	    sc->keep_dropped_targets);
	config_out_size(o, in, "body_size_limit", sc->body_size_limit);
	config_out_http(o, in, &sc->http);
	if (sc->nstatic != 0) {
		config_out_key(o, in, "static_configs");
		buf_putc(o->b, '\n');
		for (i = 0; i < sc->nstatic; i++) {
			o->item = 1;
			config_out_list(o, in + 4, "targets",
			    sc->static_configs[i].targets,
			    sc->static_configs[i].ntargets);
			if (o->item)
				config_out_raw(o, in + 4, "targets", "[]");
			config_out_kvs(o, in + 4, "labels",
			    &sc->static_configs[i].labels, 0);
		}
	}
	if (sc->nfile_sd != 0) {
		config_out_key(o, in, "file_sd_configs");
		buf_putc(o->b, '\n');
		for (i = 0; i < sc->nfile_sd; i++) {
			o->item = 1;
			config_out_list(o, in + 4, "files",
			    sc->file_sd[i].files, sc->file_sd[i].nfiles);
			config_out_duration(o, in + 4, "refresh_interval",
			    sc->file_sd[i].refresh_interval_ms);
		}
	}
	if (sc->nk8s_sd != 0) {
		config_out_key(o, in, "kubernetes_sd_configs");
		buf_putc(o->b, '\n');
		for (i = 0; i < sc->nk8s_sd; i++) {
			sd = &sc->k8s_sd[i];
			o->item = 1;
			config_out_raw(o, in + 4, "role", "%s",
			    config_k8s_role_name(sd->role));
			config_out_url(o, in + 4, "api_server", sd->api_server);
			if (sd->nnamespaces != 0 || sd->own_namespace) {
				config_out_key(o, in + 4, "namespaces");
				buf_putc(o->b, '\n');
				config_out_bool(o, in + 6, "own_namespace",
				    sd->own_namespace);
				config_out_list(o, in + 6, "names",
				    sd->namespaces, sd->nnamespaces);
			}
			if (sd->nselectors != 0) {
				config_out_key(o, in + 4, "selectors");
				buf_putc(o->b, '\n');
			}
			for (j = 0; j < sd->nselectors; j++) {
				o->item = 1;
				config_out_raw(o, in + 8, "role", "%s",
				    config_k8s_role_name(
				    sd->selectors[j].role));
				config_out_str(o, in + 8, "label",
				    sd->selectors[j].label);
				config_out_str(o, in + 8, "field",
				    sd->selectors[j].field);
			}
			if (sd->attach_metadata_node) {
				config_out_key(o, in + 4, "attach_metadata");
				buf_putc(o->b, '\n');
				config_out_bool(o, in + 6, "node", 1);
			}
			config_out_http(o, in + 4, &sd->http);
		}
	}
	if (sc->nhttp_sd != 0) {
		config_out_key(o, in, "http_sd_configs");
		buf_putc(o->b, '\n');
		for (i = 0; i < sc->nhttp_sd; i++) {
			o->item = 1;
			config_out_url(o, in + 4, "url", sc->http_sd[i].url);
			config_out_duration(o, in + 4, "refresh_interval",
			    sc->http_sd[i].refresh_interval_ms);
			config_out_http(o, in + 4, &sc->http_sd[i].http);
		}
	}
	config_out_relabel(o, in, "relabel_configs", &sc->relabel);
	config_out_relabel(o, in, "metric_relabel_configs",
	    &sc->metric_relabel);
}

static const char *
config_azuread_method_name(enum config_azuread_method m)
{
	switch (m) {
	case AZUREAD_MANAGED_IDENTITY:
		return "managed_identity";
	case AZUREAD_OAUTH:
		return "oauth";
	case AZUREAD_CERTIFICATE:
		return "certificate";
	case AZUREAD_WORKLOAD_IDENTITY:
		return "workload_identity";
	default:
		return NULL;
	}
}

static void
config_out_rw(struct config_out *o, const struct config_remote_write *rw,
    int with_name)
{
	const struct config_azuread *az = &rw->azuread;
	const struct config_queue *q = &rw->queue;
	const char *method;
	int in = 4;

	o->item = 1;
	config_out_url(o, in, "url", rw->url);
	if (with_name)
		config_out_str(o, in, "name", rw->name);
	config_out_duration(o, in, "remote_timeout", rw->remote_timeout_ms);
	config_out_kvs(o, in, "headers", &rw->headers, 1);
	config_out_relabel(o, in, "write_relabel_configs", &rw->write_relabel);
	config_out_key(o, in, "queue_config");
	buf_putc(o->b, '\n');
	config_out_raw(o, in + 2, "capacity", "%" PRId64, q->capacity);
	config_out_raw(o, in + 2, "max_shards", "%" PRId64, q->max_shards);
	config_out_raw(o, in + 2, "min_shards", "%" PRId64, q->min_shards);
	config_out_raw(o, in + 2, "max_samples_per_send", "%" PRId64,
	    q->max_samples_per_send);
	config_out_duration(o, in + 2, "batch_send_deadline",
	    q->batch_send_deadline_ms);
	config_out_duration(o, in + 2, "min_backoff", q->min_backoff_ms);
	config_out_duration(o, in + 2, "max_backoff", q->max_backoff_ms);
	config_out_bool(o, in + 2, "retry_on_http_429", q->retry_on_http_429);
	config_out_duration(o, in + 2, "sample_age_limit",
	    q->sample_age_limit_ms);
	config_out_key(o, in, "metadata_config");
	buf_putc(o->b, '\n');
	config_out_bool(o, in + 2, "send", rw->metadata_send);
	config_out_duration(o, in + 2, "send_interval",
	    rw->metadata_send_interval_ms);
	config_out_raw(o, in + 2, "max_samples_per_send", "%" PRId64,
	    rw->metadata_max_samples_per_send);
	config_out_raw(o, in, "max_label_count", "%" PRIu64,
	    rw->max_label_count);
	config_out_raw(o, in, "max_label_name_length", "%" PRIu64,
	    rw->max_label_name_length);
	config_out_raw(o, in, "max_label_value_length", "%" PRIu64,
	    rw->max_label_value_length);
	config_out_http(o, in, &rw->http);
	if ((method = config_azuread_method_name(az->method)) == NULL)
		return;
	config_out_key(o, in, "azuread");
	buf_putc(o->b, '\n');
	config_out_str(o, in + 2, "cloud", az->cloud);
	config_out_str(o, in + 2, "scope", az->scope);
	config_out_key(o, in + 2, method);
	if (az->method == AZUREAD_MANAGED_IDENTITY && az->client_id == NULL) {
		buf_puts(o->b, " {}\n");
		return;
	}
	buf_putc(o->b, '\n');
	config_out_str(o, in + 4, "client_id", az->client_id);
	config_out_str(o, in + 4, "tenant_id", az->tenant_id);
	config_out_secret(o, in + 4, "client_secret", az->client_secret);
	config_out_str(o, in + 4, "client_secret_file", az->client_secret_file);
	config_out_str(o, in + 4, "certificate_path", az->certificate_file);
	config_out_str(o, in + 4, "certificate_key_path",
	    az->certificate_key_file);
	if (az->method == AZUREAD_CERTIFICATE)
		config_out_bool(o, in + 4, "send_certificate_chain",
		    az->send_certificate_chain);
	config_out_str(o, in + 4, "token_file_path", az->token_file_path);
}

void
config_dump(const struct config *cfg, struct buf *b)
{
	struct config_out o = { b, 1, 0 };
	size_t i;

	buf_puts(b, "global:\n");
	config_out_duration(&o, 2, "scrape_interval", cfg->scrape_interval_ms);
	config_out_duration(&o, 2, "scrape_timeout", cfg->scrape_timeout_ms);
	config_out_list(&o, 2, "scrape_protocols", cfg->scrape_protocols,
	    cfg->nscrape_protocols);
	config_out_kvs(&o, 2, "external_labels", &cfg->external_labels, 0);
	if (cfg->nscrape != 0)
		buf_puts(b, "scrape_configs:\n");
	for (i = 0; i < cfg->nscrape; i++)
		config_out_scrape(&o, &cfg->scrape[i]);
	if (cfg->nremote_write != 0)
		buf_puts(b, "remote_write:\n");
	for (i = 0; i < cfg->nremote_write; i++)
		config_out_rw(&o, &cfg->remote_write[i], 1);
}

/*
 * The hashes cover the effective config, secrets included (a rotated
 * password is a change), printed the same way as config_dump().
 */
uint64_t
config_scrape_hash(const struct config_scrape *sc)
{
	struct buf b = BUF_INIT;
	struct config_out o = { &b, 0, 0 };
	uint64_t h;

	config_out_scrape(&o, sc);
	h = hash_bytes(b.data, b.len, 0x7363726170650000ULL);
	buf_free(&b);
	return h;
}

uint64_t
config_remote_write_hash(const struct config_remote_write *rw)
{
	struct buf b = BUF_INIT;
	struct config_out o = { &b, 0, 0 };
	uint64_t h;

	config_out_rw(&o, rw, rw->name != NULL);
	h = hash_bytes(b.data, b.len, 0x72656d6f74650000ULL);
	buf_free(&b);
	return h;
}
