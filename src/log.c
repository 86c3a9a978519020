/*
 * Logging. Formats a message plus key=value pairs into one line and writes
 * it with a single write(2), so lines from threads never interleave.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static enum log_level	log_level = LOG_INFO;
static enum log_format	log_format = LOG_FORMAT_LOGFMT;

static const char *log_level_names[] = { "debug", "info", "warn", "error" };

int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof log_level_names / sizeof log_level_names[0]; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void
log_setup(enum log_level level, enum log_format format)
{
	log_level = level;
	log_format = format;
}

int
log_enabled(enum log_level level)
{
	return level >= log_level;
}

/* Quote a value for logfmt when it is empty or has space, '=' or '"'. */
static void
log_put_logfmt_value(struct buf *b, const char *s, size_t n)
{
	size_t i;
	int quote = (n == 0);

	for (i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c >= 0x7f)
			quote = 1;
	}
	if (!quote) {
		buf_append(b, s, n);
		return;
	}
	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (c < ' ' || c == 0x7f)
				buf_printf(b, "\\x%02x", c);
			else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void
log_put_pair(struct buf *b, const char *k, size_t kn, const char *v, size_t vn)
{
	if (log_format == LOG_FORMAT_JSON) {
		buf_putc(b, ',');
		buf_put_json_string(b, k, kn);
		buf_putc(b, ':');
		buf_put_json_string(b, v, vn);
	} else {
		buf_putc(b, ' ');
		buf_append(b, k, kn);
		buf_putc(b, '=');
		log_put_logfmt_value(b, v, vn);
	}
}

/*
 * The conversions below re-use pieces of the caller's format, which the
 * format attribute on log_msg() already checked against the arguments.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/*
 * Expand fmt one conversion at a time so each value can be escaped on its
 * own: the whole value of a pair is formatted, then quoted as a unit.
 */
static void
log_format_pairs(struct buf *out, const char *fmt, va_list ap)
{
	struct buf val = BUF_INIT;
	const char *p = fmt, *key;
	size_t keylen;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		key = p;
		while (*p != '\0' && *p != '=' && *p != ' ')
			p++;
		keylen = (size_t)(p - key);
		if (*p == '=')
			p++;
		buf_reset(&val);
		while (*p != '\0' && *p != ' ') {
			char spec[32];
			size_t sn = 0;

			if (*p != '%') {
				buf_putc(&val, *p++);
				continue;
			}
			if (p[1] == '%') {
				buf_putc(&val, '%');
				p += 2;
				continue;
			}
			spec[sn++] = *p++;
			while (*p != '\0' && strchr("0123456789.*-+#lhzjt", *p) &&
			    sn < sizeof spec - 2)
				spec[sn++] = *p++;
			if (*p == '\0')
				break;
			spec[sn++] = *p;
			spec[sn] = '\0';
			switch (*p++) {
			case 's':
				if (strchr(spec, '*') != NULL) {
					int prec = va_arg(ap, int);
					buf_printf(&val, spec, prec,
					    va_arg(ap, const char *));
				} else {
					const char *s = va_arg(ap, const char *);
					buf_printf(&val, spec, s == NULL ? "" : s);
				}
				break;
			case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
				if (strstr(spec, "ll") != NULL || strchr(spec, 'j'))
					buf_printf(&val, spec, va_arg(ap, long long));
				else if (strchr(spec, 'l') || strchr(spec, 'z') ||
				    strchr(spec, 't'))
					buf_printf(&val, spec, va_arg(ap, long));
				else
					buf_printf(&val, spec, va_arg(ap, int));
				break;
			case 'f': case 'g': case 'e': case 'G': case 'E':
				buf_printf(&val, spec, va_arg(ap, double));
				break;
			case 'c':
				buf_putc(&val, (char)va_arg(ap, int));
				break;
			case 'p':
				buf_printf(&val, "%p", va_arg(ap, void *));
				break;
			default:
				buf_append(&val, spec, sn);
			}
		}
		if (keylen != 0)
			log_put_pair(out, key, keylen, val.data == NULL ? "" :
			    val.data, val.len);
	}
	buf_free(&val);
}
#pragma GCC diagnostic pop

void
log_vmsg(enum log_level level, const char *msg, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	struct timeval tv;
	struct tm tm;
	char ts[64];

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000);
	if (log_format == LOG_FORMAT_JSON) {
		buf_puts(&b, "{\"ts\":\"");
		buf_puts(&b, ts);
		buf_printf(&b, "\",\"level\":\"%s\",\"msg\":",
		    log_level_names[level]);
		buf_put_json_string(&b, msg, strlen(msg));
	} else {
		buf_printf(&b, "ts=%s level=%s msg=", ts, log_level_names[level]);
		log_put_logfmt_value(&b, msg, strlen(msg));
	}
	if (fmt != NULL)
		log_format_pairs(&b, fmt, ap);
	buf_puts(&b, log_format == LOG_FORMAT_JSON ? "}\n" : "\n");
	(void)!write(STDERR_FILENO, b.data, b.len);
	buf_free(&b);
}

void
log_msg(enum log_level level, const char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, msg, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, msg, fmt, ap);
	va_end(ap);
	exit(1);
}
