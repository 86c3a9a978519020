/*
 * Pull parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0.
 *
 * The parser walks the body buffer in place and never allocates. Each call
 * to textparse_next() returns the kind of the next entry; accessors then
 * describe it. Slices returned point into the body (or into the scratch
 * buffer the caller passes) and are valid until the next call.
 *
 * Semantics follow Prometheus's scrape parsers: one invalid line fails the
 * whole page (TEXTPARSE_ERROR, with line/column and a message), NaN values
 * other than the stale marker bit pattern are kept, a scraped NaN never
 * carries the stale marker bits, and empty label values mean "absent".
 *
 * The two grammars, as Prometheus's lexers accept them:
 *
 *	text 0.0.4   [blanks] name [blanks] ["{" labels "}"] [blanks] value
 *	             [blanks [digits]] [blanks] "\n"
 *	             blanks = [ \t]+ anywhere between tokens; a missing comma
 *	             between label pairs and a trailing comma are accepted;
 *	             "# HELP|TYPE name text", any other "#" line is a comment.
 *	OpenMetrics  name ["{" labels "}"] " " value [" " seconds]
 *	             [" # {" labels "} " value [" " seconds]] "\n"
 *	             exactly one space between tokens, none inside braces;
 *	             "# HELP|TYPE|UNIT name text", "# EOF" last, no comments.
 *
 * In both, "{" may start the line when the metric name is given inside the
 * braces as a quoted string ({"my.metric",a="1"}); label names may be
 * quoted too. Such names are accepted by textparse_labels() only when
 * textparse_set_utf8_names() allows them or they are valid legacy names,
 * as Prometheus does under metric_name_validation_scheme legacy / utf8.
 *
 * OpenMetrics "_created" series of counters, summaries and histograms are
 * skipped (not returned) unless textparse_set_keep_created() says so, as
 * Prometheus does when it ingests start timestamps; exemplars are
 * validated, then only their value and timestamp are kept.
 */
#ifndef PROMLET_TEXTPARSE_H
#define PROMLET_TEXTPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

struct buf;

enum textparse_format {
	TEXTPARSE_PROMTEXT = 0,
	TEXTPARSE_OPENMETRICS,
};

enum textparse_entry {
	TEXTPARSE_ERROR = -1,
	TEXTPARSE_EOF = 0,
	TEXTPARSE_SERIES,
	TEXTPARSE_HELP,
	TEXTPARSE_TYPE,
	TEXTPARSE_UNIT,
	TEXTPARSE_COMMENT,
};

enum metric_type {
	METRIC_TYPE_UNKNOWN = 0,
	METRIC_TYPE_COUNTER,
	METRIC_TYPE_GAUGE,
	METRIC_TYPE_HISTOGRAM,
	METRIC_TYPE_GAUGEHISTOGRAM,
	METRIC_TYPE_SUMMARY,
	METRIC_TYPE_INFO,
	METRIC_TYPE_STATESET,
};

/* The stale marker: a NaN that scraped values must never carry. */
#define STALE_NAN_BITS	0x7ff0000000000002ULL
/* What every scraped NaN becomes (Prometheus's value.NormalNaN). */
#define NORMAL_NAN_BITS	0x7ff8000000000001ULL

struct textparse {
	/* Private: callers only read through the accessors below. */
	const char		*buf;
	size_t			 len;
	size_t			 pos;		/* start of the next line */
	size_t			 fast_end;	/* after the last newline */
	enum textparse_format	 format;
	int			 eof_seen;	/* OpenMetrics "# EOF" read */
	int			 failed;
	int			 utf8_names;
	int			 keep_created;

	/* The current entry. */
	enum textparse_entry	 kind;
	struct lstr		 series;	/* name{...} as written */
	struct lstr		 name;		/* raw, without quotes */
	struct lstr		 labels_text;	/* inside the braces */
	struct lstr		 text;		/* HELP/UNIT text or comment */
	int			 name_quoted;
	enum metric_type	 type;
	double			 value;
	int64_t			 ts_ms;
	int			 has_ts;
	int			 has_exemplar;
	double			 exemplar_value;
	int64_t			 exemplar_ts_ms;
	int			 exemplar_has_ts;

	const char		*peek;		/* textparse_peek_series() */

	/* Family state: the last TYPE line applies to following series. */
	struct lstr		 family;
	enum metric_type	 family_type;

	char			 err[256];
	unsigned		 err_line;
	unsigned		 err_col;
};

void	textparse_init(struct textparse *, const char *, size_t,
	    enum textparse_format);
/*
 * Accept quoted metric and label names that are not legacy names (any
 * valid UTF-8), as Prometheus 3 does by default. Off after init: promlet
 * keeps legacy names unless configured otherwise.
 */
void	textparse_set_utf8_names(struct textparse *, int);
/*
 * OpenMetrics: return "_created" lines of counters, summaries and
 * histograms as samples instead of skipping them. Prometheus's scrape
 * loop keeps them unless start-timestamp ingestion is enabled; promlet
 * skips them by default (they are start times, not values).
 */
void	textparse_set_keep_created(struct textparse *, int);
/* Pick the format from an HTTP Content-Type header value (may be NULL). */
enum textparse_format textparse_format_for(const char *content_type);
enum textparse_entry textparse_next(struct textparse *);
/*
 * The scrape loop's shortcut for pages it has seen (text format only).
 * textparse_peek_series() looks at the next line without validating it:
 * 1 when it is a sample line, with *series its series text as
 * textparse_series() would give it. If that text is one textparse_next()
 * accepted before (the scrape cache knows it), textparse_next_known()
 * reads just the value and timestamp, and returns what textparse_next()
 * would; textparse_labels() is then not available for the entry.
 * Otherwise call textparse_next(), which reads the line in full.
 */
int		textparse_peek_series(struct textparse *, struct lstr *series);
enum textparse_entry textparse_next_known(struct textparse *);

/* TEXTPARSE_SERIES: the raw name{labels} text, the scrape-cache key. */
struct lstr	textparse_series(const struct textparse *);
double		textparse_value(const struct textparse *);
/* Returns 1 and sets *ms when the sample had a timestamp. */
int		textparse_timestamp(const struct textparse *, int64_t *);
/* The metric type that applies to the current series, from TYPE lines. */
enum metric_type textparse_type(const struct textparse *);
/*
 * Decode the current series' labels (including __name__) into a sorted
 * set. Escaped values are unescaped into scratch, which is reset first.
 * Returns -1 with a message in p->err for duplicate or invalid names.
 * Labels with empty values are left out (they mean "absent").
 */
int		textparse_labels(struct textparse *, struct labels *,
		    struct buf *scratch);
/*
 * OpenMetrics: returns 1 when the current series had an exemplar and
 * sets its value and, when present, its timestamp (*has_ts).
 */
int		textparse_exemplar(const struct textparse *, double *,
		    int64_t *, int *has_ts);

/* TEXTPARSE_HELP/TYPE/UNIT: the metric family and its text or type. */
struct lstr	textparse_family(const struct textparse *);
/* HELP/UNIT text as written (escapes kept); a comment's whole line. */
struct lstr	textparse_text(const struct textparse *);
/* HELP text with escapes decoded into scratch (reset first). */
struct lstr	textparse_help(const struct textparse *, struct buf *scratch);

/* TEXTPARSE_ERROR: "line:col: message". */
const char	*textparse_error(const struct textparse *);

#endif
