/*
 * Structured logging to stderr in logfmt (default) or JSON.
 *
 *	log_info("scrape failed", "target=%s err=%s", url, cause);
 *
 * writes
 *
 *	ts=2026-11-25T06:00:00.123Z level=info msg="scrape failed"
 *	    target=http://a:9100/metrics err="connection refused"
 *
 * The second argument is a printf format made of space-separated key=value
 * pairs; each %s value is quoted and escaped when logfmt needs it, so
 * callers never quote by hand. Keys are stable: alerting and log queries
 * depend on them. Secrets must never be passed here.
 */
#ifndef PROMLET_LOG_H
#define PROMLET_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_format {
	LOG_FORMAT_LOGFMT = 0,
	LOG_FORMAT_JSON,
};

int	 log_parse_level(const char *, enum log_level *);
int	 log_parse_format(const char *, enum log_format *);
void	 log_setup(enum log_level, enum log_format);
int	 log_enabled(enum log_level);
void	 log_msg(enum log_level, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 log_vmsg(enum log_level, const char *, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));
void	 fatalx(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/* Check the level first so disabled debug logs cost no formatting. */
#define log_debug(...)	do { if (log_enabled(LOG_DEBUG)) \
	log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)

#endif
