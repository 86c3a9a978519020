/*
 * The scrape loop.
 *
 * Ownership: the manager owns pools; a pool owns its targets and the
 * target groups each discovery source gave it; a target owns its scrape
 * cache (which holds its series refs), its label strings and its
 * in-flight request. Configs are borrowed: main keeps a config alive until
 * scrape_manager_apply() has switched to the next one.
 *
 * Everything runs on the loop thread. The only disk work is wal_commit(),
 * a write(2) into the page cache; fsync happens on the WAL's own thread.
 */
#include <sys/random.h>

#include "compat.h"

#include <event2/event.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "relabel.h"
#include "scrape.h"
#include "scrape_cache.h"
#include "scrape_meta.h"
#include "series.h"
#include "textparse.h"
#include "wal.h"
#include "xmalloc.h"

/*
 * The series every scrape adds about itself, in this order; the last
 * three only with extra_scrape_metrics (or --enable-feature=
 * extra-scrape-metrics), as Prometheus.
 */
enum scrape_report {
	SCRAPE_REPORT_UP = 0,
	SCRAPE_REPORT_DURATION,
	SCRAPE_REPORT_SAMPLES,
	SCRAPE_REPORT_POST_RELABEL,
	SCRAPE_REPORT_SERIES_ADDED,
	SCRAPE_REPORT_BASIC,
	SCRAPE_REPORT_TIMEOUT = SCRAPE_REPORT_BASIC,
	SCRAPE_REPORT_SAMPLE_LIMIT,
	SCRAPE_REPORT_BODY_SIZE,
	SCRAPE_REPORT_COUNT
};

static const char *scrape_report_names[SCRAPE_REPORT_COUNT] = {
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling",
	"scrape_series_added",
	"scrape_timeout_seconds",
	"scrape_sample_limit",
	"scrape_body_size_bytes",
};

#define SCRAPE_ACCEPT "application/openmetrics-text;version=1.0.0," \
	"application/openmetrics-text;version=0.0.1;q=0.75," \
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

struct scrape_pool;
struct scrape_slot;

struct scrape_target {
	struct scrape_pool		*pool;
	struct arena			 strings;	/* label strings */
	struct labels			 labels;	/* final target labels */
	struct labels			 discovered;	/* before relabeling */
	char				*url;
	uint64_t			 hash;
	int				 keep;		/* mark for sync */
	int				 dropped;	/* by relabeling */

	int64_t				 next_ms;	/* scheduled start */
	struct scrape_slot		*slot;		/* while scheduled */
	TAILQ_ENTRY(scrape_target)	 slot_entry;
	struct http_pool		*conns;
	struct http_request		*req;
	int64_t				 start_ms;	/* the samples' time */
	struct scrape_cache		*cache;
	series_ref			 report[SCRAPE_REPORT_COUNT];
	size_t				 nreport;	/* in use */
	/* The last page's size, -1 over body_size_limit, 0 on failure. */
	double				 body_size;
	int				 report_written;
	struct scrape_meta		 meta;		/* of the last good page */
	int64_t				 meta_read_ms;	/* that page's start */

	/* Status for /api/v1/targets and logs. */
	int				 health;	/* -1 unknown, 0 down, 1 up */
	int				 limited;	/* by the pool's target_limit */
	char				*last_error;
	int64_t				 last_scrape_ms;
	double				 last_duration;
	uint64_t			 last_samples;
	uint64_t			 scrapes;
	uint64_t			 failures;
	uint64_t			 late;

	TAILQ_ENTRY(scrape_target)	 entry;
};

TAILQ_HEAD(scrape_targets, scrape_target);

/*
 * The scheduled targets of one interval whose starts fall at one offset
 * in it, whatever their job: one step. They share one timer, which
 * starts every target due (scrape_slot_cb) in one wake-up. A timer per
 * target cost, at 10,000 targets, a walk of every target at each step to
 * find the others due and a heap of 10,000 timers to add to and delete
 * from: a sixth of promlet's CPU.
 */
struct scrape_slot {
	struct scrape_manager		*sm;
	int64_t				 iv;
	int64_t				 off;		/* next_ms % iv */
	struct event			*timer;
	int64_t				 due;		/* while the timer is pending */
	struct scrape_targets		 targets;	/* by slot_entry */
	TAILQ_ENTRY(scrape_slot)	 entry;
};

TAILQ_HEAD(scrape_slots, scrape_slot);

struct scrape_source {
	char				*name;
	struct target_group		*groups;
	size_t				 ngroups;
	struct arena			 strings;
	TAILQ_ENTRY(scrape_source)	 entry;
};

TAILQ_HEAD(scrape_sources, scrape_source);

struct scrape_pool {
	struct scrape_manager		*sm;
	const struct config_scrape	*sc;
	char				*job;
	char				*accept;	/* "Accept: ..." */
	/* Formatting a float per scrape showed in profiles: made once. */
	char				 timeout_hdr[64];
	uint64_t			 hash;
	int				 keep;
	struct scrape_targets		 targets;
	/*
	 * What relabeling dropped at the last sync, for /api/v1/targets:
	 * discovered labels only, at most keep_dropped_targets of them
	 * (0: all, as Prometheus), and how many there were in all.
	 */
	struct scrape_targets		 dropped;
	size_t				 ndropped;
	/*
	 * Set while the pool has more targets than its target_limit: every
	 * target then fails each scrape with it, without a request, as in
	 * Prometheus.
	 */
	char				*limit_error;
	unsigned			 steps;		/* scrape_steps() */
	struct scrape_sources		 sources;
	TAILQ_ENTRY(scrape_pool)	 entry;
};

TAILQ_HEAD(scrape_pools, scrape_pool);

struct scrape_manager {
	struct event_base	*base;
	struct http_client	*http;
	struct series_table	*series;
	struct wal		*wal;
	scrape_commit_cb	 commit_cb;
	void			*commit_arg;
	const struct config	*cfg;
	struct scrape_pools	 pools;
	struct scrape_slots	 slots;
	int			 stopped;
	uint64_t		 default_body_limit;
	int			 extra_metrics;	/* for every job */
	uint64_t		 cache_seed;	/* scrape caches' key hash */
	uint64_t		 phase_seed;	/* host and external labels */

	/* Scratch reused by every scrape so steady state does not allocate. */
	struct buf		 scratch;
	struct labels		 ls;
	struct arena		 arena;
	struct wal_sample	*samples;
	size_t			 nsamples;
	size_t			 samples_cap;
	/*
	 * Metadata is read from a target's page at most once this often:
	 * the shortest send_interval of the endpoints sending it, or never
	 * (0). It is sent once a minute by default, and reading it from
	 * every page cost about 500 instructions a family (node_exporter
	 * has a family every 2.5 samples).
	 */
	int64_t			 meta_every_ms;
	struct scrape_meta_read	 meta_read;
	const struct scrape_meta **meta_lists;
	size_t			 meta_lists_cap;

	/* Self-metrics. */
	uint64_t		 scrapes_total;
	uint64_t		 scrape_failures_total;
	uint64_t		 samples_total;
	uint64_t		 stale_total;
	uint64_t		 late_total;
	uint64_t		 sample_limit_exceeded;
	uint64_t		 label_limit_exceeded;
	uint64_t		 body_limit_exceeded;
	uint64_t		 target_limit_exceeded;
	uint64_t		 wal_errors;
};

static void	scrape_target_schedule(struct scrape_target *);
static void	scrape_target_stop(struct scrape_target *, int64_t);

/*
 * A target leaving may leave its slot's timer set for a start nobody has
 * now: that wake-up starts nothing and sets the timer again.
 */
static void
scrape_slot_leave(struct scrape_target *t)
{
	struct scrape_slot *s = t->slot;

	if (s == NULL)
		return;
	TAILQ_REMOVE(&s->targets, t, slot_entry);
	t->slot = NULL;
	if (TAILQ_EMPTY(&s->targets)) {
		TAILQ_REMOVE(&s->sm->slots, s, entry);
		event_free(s->timer);
		free(s);
	}
}

static void
scrape_slot_arm(struct scrape_slot *s, int64_t when, int64_t now)
{
	loop_timer_add_ms(s->timer, when - now);
	s->due = when;
}

static void
scrape_sample_push(struct scrape_manager *sm, series_ref ref, int64_t t,
    double v)
{
	if (sm->nsamples == sm->samples_cap) {
		sm->samples_cap = sm->samples_cap == 0 ? 1024 :
		    sm->samples_cap * 2;
		sm->samples = xreallocarray(sm->samples, sm->samples_cap,
		    sizeof *sm->samples);
	}
	sm->samples[sm->nsamples].ref = ref;
	sm->samples[sm->nsamples].t_ms = t;
	sm->samples[sm->nsamples].v = v;
	sm->nsamples++;
}

/* The job's body_size_limit, else --scrape.max-body-size. */
static uint64_t
scrape_body_limit(const struct scrape_target *t)
{
	return t->pool->sc->body_size_limit != 0 ?
	    t->pool->sc->body_size_limit : t->pool->sm->default_body_limit;
}

static double
scrape_stale_nan(void)
{
	uint64_t bits = STALE_NAN_BITS;
	double v;

	memcpy(&v, &bits, sizeof v);
	return v;
}

/*
 * Intern a label set, logging a series record to the WAL when the ref is
 * new. The caller receives a hold on the ref.
 */
static series_ref
scrape_intern(struct scrape_manager *sm, const struct labels *ls,
    int *created)
{
	series_ref ref;
	int c = 0;

	ref = series_get_or_add(sm->series, ls, labels_hash(ls), &c);
	if (c && wal_log_series(sm->wal, ref, ls) == -1)
		sm->wal_errors++;
	if (created != NULL)
		*created = c;
	return ref;
}

/* ------------------------------------------------------------------ */
/* Targets from discovery: relabel into final labels and a URL.       */

static struct lstr
scrape_lstr(const char *s)
{
	return (struct lstr){ s, strlen(s) };
}

static void
scrape_format_duration(char *out, size_t len, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(out, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, len, "%lldms", (long long)ms);
}

/*
 * Build a target from one address of a group. One that relabel_configs
 * drop, or whose address is unusable, comes back with dropped set and
 * only its discovered labels, for droppedTargets.
 */
static struct scrape_target *
scrape_target_create(struct scrape_pool *pool, const struct target_group *g,
    const char *addr)
{
	const struct config_scrape *sc = pool->sc;
	struct scrape_target *t;
	struct labels ls = LABELS_INIT;
	struct buf url = BUF_INIT;
	const struct lstr *v;
	char dur[32];
	size_t i;
	int first;

	t = xcalloc(1, sizeof *t);
	t->pool = pool;
	t->health = -1;
	labels_init(&t->labels);
	labels_init(&t->discovered);

	/* Group labels first; the defaults below only fill what is unset. */
	for (i = 0; i < g->labels.n; i++)
		labels_set(&ls, g->labels.v[i].name, g->labels.v[i].value);
	labels_set(&ls, LSTR("__address__"),
	    scrape_lstr(arena_strndup(&t->strings, addr, strlen(addr))));
	if (labels_get(&ls, LSTR("job")) == NULL)
		labels_set(&ls, LSTR("job"), scrape_lstr(sc->job_name));
	if (labels_get(&ls, LSTR("__scheme__")) == NULL)
		labels_set(&ls, LSTR("__scheme__"), scrape_lstr(sc->scheme));
	if (labels_get(&ls, LSTR("__metrics_path__")) == NULL)
		labels_set(&ls, LSTR("__metrics_path__"),
		    scrape_lstr(sc->metrics_path));
	scrape_format_duration(dur, sizeof dur, sc->scrape_interval_ms);
	labels_set(&ls, LSTR("__scrape_interval__"),
	    scrape_lstr(arena_strndup(&t->strings, dur, strlen(dur))));
	scrape_format_duration(dur, sizeof dur, sc->scrape_timeout_ms);
	labels_set(&ls, LSTR("__scrape_timeout__"),
	    scrape_lstr(arena_strndup(&t->strings, dur, strlen(dur))));
	for (i = 0; i < sc->params.n; i++) {
		char *name;

		xasprintf(&name, "__param_%s", sc->params.v[i].name);
		/* The first value of a repeated param is the one relabeled. */
		if (labels_get(&ls, scrape_lstr(name)) == NULL)
			labels_set(&ls, scrape_lstr(arena_strndup(&t->strings,
			    name, strlen(name))),
			    scrape_lstr(sc->params.v[i].value));
		free(name);
	}
	/*
	 * Own every string: defaults above point into the config, which a
	 * reload frees while an unchanged target lives on.
	 */
	for (i = 0; i < ls.n; i++) {
		ls.v[i].name.p = arena_strndup(&t->strings, ls.v[i].name.p,
		    ls.v[i].name.len);
		ls.v[i].value.p = arena_strndup(&t->strings, ls.v[i].value.p,
		    ls.v[i].value.len);
	}
	labels_copy(&t->discovered, &ls);

	if (!relabel_apply(&sc->relabel, &ls, &t->strings))
		goto drop;
	if ((v = labels_get(&ls, LSTR("__address__"))) == NULL ||
	    v->len == 0)
		goto drop;
	if (labels_get(&ls, LSTR("instance")) == NULL)
		labels_set(&ls, LSTR("instance"), *v);

	/* URL: scheme://address/path?params */
	v = labels_get(&ls, LSTR("__scheme__"));
	buf_append(&url, v != NULL ? v->p : "http", v != NULL ? v->len : 4);
	buf_puts(&url, "://");
	v = labels_get(&ls, LSTR("__address__"));
	buf_append(&url, v->p, v->len);
	v = labels_get(&ls, LSTR("__metrics_path__"));
	if (v != NULL && (v->len == 0 || v->p[0] != '/'))
		buf_putc(&url, '/');
	if (v != NULL)
		buf_append(&url, v->p, v->len);
	first = 1;
	for (i = 0; i < ls.n; i++) {
		struct lstr n = ls.v[i].name;
		size_t k;

		if (n.len <= 8 || memcmp(n.p, "__param_", 8) != 0)
			continue;
		buf_putc(&url, first ? '?' : '&');
		first = 0;
		buf_append(&url, n.p + 8, n.len - 8);
		buf_putc(&url, '=');
		buf_append(&url, ls.v[i].value.p, ls.v[i].value.len);
		/* Repeated params keep their extra values from the config. */
		for (k = 0; k < sc->params.n; k++) {
			struct lstr pn = scrape_lstr(sc->params.v[k].name);
			if (lstr_eq(pn, (struct lstr){ n.p + 8, n.len - 8 }) &&
			    !lstr_eqs(ls.v[i].value, sc->params.v[k].value)) {
				buf_putc(&url, '&');
				buf_append(&url, pn.p, pn.len);
				buf_putc(&url, '=');
				buf_puts(&url, sc->params.v[k].value);
			}
		}
	}
	t->url = buf_steal(&url);

	/* Final labels: drop the __meta and __ internal labels. */
	for (i = 0; i < ls.n; i++) {
		if (ls.v[i].name.len >= 2 && ls.v[i].name.p[0] == '_' &&
		    ls.v[i].name.p[1] == '_')
			continue;
		labels_push(&t->labels, ls.v[i].name, ls.v[i].value);
	}
	t->hash = hash_bytes(t->url, strlen(t->url), labels_hash(&t->labels));
	labels_free(&ls);
	return t;
drop:
	/* Kept for droppedTargets: the discovered labels and their strings. */
	labels_free(&ls);
	buf_free(&url);
	labels_free(&t->labels);
	t->dropped = 1;
	return t;
}

static void
scrape_target_free(struct scrape_target *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->req != NULL)
		http_request_cancel(t->req);
	http_pool_free(t->conns);
	scrape_slot_leave(t);
	scrape_cache_free(t->cache);
	for (i = 0; i < t->nreport; i++) {
		if (t->report[i] != SERIES_REF_NONE)
			series_release(t->pool->sm->series, t->report[i]);
	}
	labels_free(&t->labels);
	labels_free(&t->discovered);
	arena_free(&t->strings);
	free(t->url);
	free(t->last_error);
	scrape_meta_free(&t->meta);
	free(t);
}

/* ------------------------------------------------------------------ */
/* One scrape.                                                        */

static void
scrape_set_error(struct scrape_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
scrape_set_error(struct scrape_target *t, const char *fmt, ...)
{
	va_list ap;

	free(t->last_error);
	t->last_error = NULL;
	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(&t->last_error, fmt, ap);
	va_end(ap);
}

/*
 * Merge target labels into a scraped set. With honor_labels the page
 * wins; otherwise a clashing scraped label is kept as exported_<name>.
 */
static void
scrape_merge_target_labels(struct scrape_manager *sm, struct scrape_target *t,
    struct labels *ls)
{
	const struct lstr *have;
	size_t i;

	for (i = 0; i < t->labels.n; i++) {
		struct lstr name = t->labels.v[i].name;

		have = labels_get(ls, name);
		if (have != NULL && t->pool->sc->honor_labels)
			continue;
		if (have != NULL) {
			struct lstr old = *have, ename = name;
			char *e;

			/* exported_job may itself be taken: prefix again. */
			do {
				e = arena_alloc(&sm->arena, ename.len + 10);
				memcpy(e, "exported_", 9);
				memcpy(e + 9, ename.p, ename.len);
				e[9 + ename.len] = '\0';
				ename = (struct lstr){ e, ename.len + 9 };
			} while (labels_get(ls, ename) != NULL);
			labels_set(ls, ename, old);
		}
		labels_set(ls, name, t->labels.v[i].value);
	}
}

/* Enforce label_limit and the name/value length limits. */
static int
scrape_check_label_limits(struct scrape_target *t, const struct labels *ls)
{
	const struct config_scrape *sc = t->pool->sc;
	size_t i;

	if (sc->label_limit != 0 && ls->n > sc->label_limit) {
		scrape_set_error(t, "label_limit exceeded (metric has %zu "
		    "labels, limit: %llu)", ls->n,
		    (unsigned long long)sc->label_limit);
		return -1;
	}
	for (i = 0; i < ls->n; i++) {
		if (sc->label_name_length_limit != 0 &&
		    ls->v[i].name.len > sc->label_name_length_limit) {
			scrape_set_error(t, "label_name_length_limit exceeded "
			    "(label %.*s, limit: %llu)",
			    (int)ls->v[i].name.len, ls->v[i].name.p,
			    (unsigned long long)sc->label_name_length_limit);
			return -1;
		}
		if (sc->label_value_length_limit != 0 &&
		    ls->v[i].value.len > sc->label_value_length_limit) {
			scrape_set_error(t, "label_value_length_limit exceeded "
			    "(label %.*s, limit: %llu)",
			    (int)ls->v[i].name.len, ls->v[i].name.p,
			    (unsigned long long)sc->label_value_length_limit);
			return -1;
		}
	}
	return 0;
}

struct scrape_stale_ctx {
	struct scrape_manager	*sm;
	int64_t			 t;
	size_t			 n;
};

static void
scrape_stale_cb(series_ref ref, void *arg)
{
	struct scrape_stale_ctx *c = arg;

	scrape_sample_push(c->sm, ref, c->t, scrape_stale_nan());
	c->n++;
}

/* The page format: from Content-Type, else fallback_scrape_protocol. */
static enum textparse_format
scrape_format(const struct config_scrape *sc, const char *ct)
{
	int known = ct != NULL && (strncmp(ct, "text/plain", 10) == 0 ||
	    strncmp(ct, "application/openmetrics-text", 28) == 0);

	if (!known && sc->fallback_scrape_protocol != NULL &&
	    strncmp(sc->fallback_scrape_protocol, "OpenMetricsText", 15) == 0)
		return TEXTPARSE_OPENMETRICS;
	return textparse_format_for(ct);
}

/*
 * Parse a page into sm->samples. Returns the number of samples scraped,
 * or -1 with t->last_error set; on failure nothing parsed is kept (the
 * caller truncates sm->samples), but series created on the way stay in
 * the table and the cache, which is harmless: they are simply unused.
 */
static long
scrape_parse_page(struct scrape_target *t, const struct http_response *resp,
    uint64_t *post_relabel, uint64_t *added)
{
	struct scrape_manager *sm = t->pool->sm;
	const struct config_scrape *sc = t->pool->sc;
	struct scrape_cache_entry *e;
	struct textparse p;
	enum textparse_entry kind;
	struct lstr raw;
	int64_t ts;
	long scraped = 0;
	int created;
	series_ref ref;

	textparse_init(&p, resp->body->data == NULL ? "" : resp->body->data,
	    resp->body->len, scrape_format(sc, resp->content_type));
	*post_relabel = *added = 0;
	for (;;) {
		/* A series the cache knows: only its value needs reading. */
		if (textparse_peek_series(&p, &raw) &&
		    (e = scrape_cache_get(t->cache, raw)) != NULL)
			kind = textparse_next_known(&p);
		else {
			e = NULL;
			kind = textparse_next(&p);
		}
		if (kind == TEXTPARSE_EOF)
			break;
		if (kind == TEXTPARSE_ERROR) {
			scrape_set_error(t, "parse error: %s",
			    textparse_error(&p));
			return -1;
		}
		if (kind != TEXTPARSE_SERIES) {
			if (sm->meta_read.m != NULL)
				scrape_meta_line(&sm->meta_read, &p, kind);
			continue;
		}
		scraped++;
		raw = textparse_series(&p);
		if (e == NULL && (e = scrape_cache_get(t->cache, raw)) ==
		    NULL) {
			if (textparse_labels(&p, &sm->ls, &sm->scratch) == -1) {
				scrape_set_error(t, "parse error: %s",
				    textparse_error(&p));
				return -1;
			}
			scrape_merge_target_labels(sm, t, &sm->ls);
			if (!relabel_apply(&sc->metric_relabel, &sm->ls,
			    &sm->arena) || labels_get(&sm->ls,
			    LSTR(LABELS_METRIC_NAME)) == NULL) {
				e = scrape_cache_put(t->cache, raw,
				    SERIES_REF_NONE, 1);
				scrape_cache_seen(t->cache, e);
				continue;
			}
			if (scrape_check_label_limits(t, &sm->ls) == -1) {
				sm->label_limit_exceeded++;
				return -1;
			}
			ref = scrape_intern(sm, &sm->ls, &created);
			if (created)
				(*added)++;
			e = scrape_cache_put(t->cache, raw, ref, 0);
		}
		scrape_cache_seen(t->cache, e);
		if (e->dropped)
			continue;
		/*
		 * A series may gain or lose its own timestamp between scrapes.
		 * One with its own gets no stale marker when it goes, unless
		 * track_timestamps_staleness asks for one (Prometheus's rule).
		 */
		e->explicit_ts = sc->honor_timestamps &&
		    !sc->track_timestamps_staleness &&
		    textparse_timestamp(&p, &ts);
		(*post_relabel)++;
		if (sc->sample_limit != 0 && *post_relabel > sc->sample_limit) {
			scrape_set_error(t, "sample_limit exceeded (limit: %llu)",
			    (unsigned long long)sc->sample_limit);
			sm->sample_limit_exceeded++;
			return -1;
		}
		if (!sc->honor_timestamps || !textparse_timestamp(&p, &ts))
			ts = t->start_ms;
		scrape_sample_push(sm, e->ref, ts, textparse_value(&p));
	}
	return scraped;
}

/* The report series: labels are the target labels plus __name__. */
static void
scrape_report_refs(struct scrape_target *t)
{
	struct scrape_manager *sm = t->pool->sm;
	size_t i;

	if (t->nreport != 0)
		return;
	t->nreport = t->pool->sc->extra_scrape_metrics ||
	    sm->extra_metrics ? SCRAPE_REPORT_COUNT : SCRAPE_REPORT_BASIC;
	for (i = 0; i < t->nreport; i++) {
		labels_copy(&sm->ls, &t->labels);
		labels_set(&sm->ls, LSTR(LABELS_METRIC_NAME),
		    scrape_lstr(scrape_report_names[i]));
		t->report[i] = scrape_intern(sm, &sm->ls, NULL);
	}
}

static void
scrape_commit(struct scrape_manager *sm)
{
	if (sm->nsamples != 0 &&
	    wal_log_samples(sm->wal, sm->samples, sm->nsamples) == -1)
		sm->wal_errors++;
	if (wal_commit(sm->wal) == -1)
		sm->wal_errors++;
	sm->samples_total += sm->nsamples;
	sm->nsamples = 0;
	if (sm->commit_cb != NULL)
		sm->commit_cb(sm->commit_arg);
}

/*
 * Account a finished scrape, then write its report series. A failed one
 * (t->last_error says why) stale-marks everything the last page had.
 */
static void
scrape_target_finish(struct scrape_target *t, int ok, double dur, long scraped,
    uint64_t post, uint64_t added)
{
	struct scrape_manager *sm = t->pool->sm;
	struct scrape_stale_ctx sc = { sm, t->start_ms, 0 };
	double vals[SCRAPE_REPORT_COUNT];
	size_t i;

	if (ok) {
		scrape_cache_end(t->cache, scrape_stale_cb, &sc);
		if (t->health != 1 && t->last_error != NULL && !t->limited)
			log_info("scrape recovered", "job=%s target=%s",
			    t->pool->job, t->url);
		scrape_set_error(t, NULL);
	} else {
		sm->nsamples = 0;
		scraped = 0;
		post = added = 0;
		scrape_cache_all_stale(t->cache, scrape_stale_cb, &sc);
		t->failures++;
		sm->scrape_failures_total++;
		/*
		 * The pool logs a target_limit once, not each target; a
		 * target failing on its own after one is news again.
		 */
		if ((t->health != 0 || t->limited) &&
		    t->pool->limit_error == NULL)
			log_warn("scrape failed", "job=%s target=%s err=%s",
			    t->pool->job, t->url, t->last_error);
	}
	t->limited = 0;
	sm->stale_total += sc.n;
	t->health = ok;
	t->last_scrape_ms = t->start_ms;
	t->last_duration = dur;
	t->last_samples = (uint64_t)scraped;
	t->scrapes++;
	sm->scrapes_total++;

	scrape_report_refs(t);
	vals[SCRAPE_REPORT_UP] = ok;
	vals[SCRAPE_REPORT_DURATION] = dur;
	vals[SCRAPE_REPORT_SAMPLES] = (double)scraped;
	vals[SCRAPE_REPORT_POST_RELABEL] = (double)post;
	vals[SCRAPE_REPORT_SERIES_ADDED] = (double)added;
	vals[SCRAPE_REPORT_TIMEOUT] =
	    (double)t->pool->sc->scrape_timeout_ms / 1000.0;
	vals[SCRAPE_REPORT_SAMPLE_LIMIT] = (double)t->pool->sc->sample_limit;
	vals[SCRAPE_REPORT_BODY_SIZE] = ok ? t->body_size :
	    t->body_size < 0 ? -1 : 0;
	for (i = 0; i < t->nreport; i++)
		scrape_sample_push(sm, t->report[i], t->start_ms, vals[i]);
	t->report_written = 1;
	scrape_commit(sm);
}

static void
scrape_done_cb(const struct http_response *resp, void *arg)
{
	struct scrape_target *t = arg;
	struct scrape_manager *sm = t->pool->sm;
	uint64_t post = 0, added = 0;
	double dur;
	long scraped = 0;
	int ok = 0, meta;

	t->req = NULL;
	/* The request's own monotonic time: a loopback scrape can take
	 * well under the millisecond the samples' time counts in. */
	dur = resp->total_seconds;
	sm->nsamples = 0;
	arena_reset(&sm->arena);
	scrape_cache_begin(t->cache);
	/* The client always hands over a body, empty on failure. */
	t->body_size = resp->body_too_large ? -1 : (double)resp->body->len;
	if (resp->curl_code != 0) {
		if (resp->body_too_large) {
			sm->body_limit_exceeded++;
			scrape_set_error(t, "body size limit exceeded (limit: "
			    "%llu bytes%s)",
			    (unsigned long long)scrape_body_limit(t),
			    t->pool->sc->body_size_limit != 0 ? "" :
			    ", --scrape.max-body-size");
		} else
			scrape_set_error(t, "%s", resp->error);
	} else if (resp->status < 200 || resp->status > 299)
		scrape_set_error(t, "server returned HTTP status %ld",
		    resp->status);
	else {
		meta = sm->meta_every_ms > 0 &&
		    t->start_ms - t->meta_read_ms >= sm->meta_every_ms;
		if (meta)
			scrape_meta_begin(&sm->meta_read, &t->meta);
		scraped = scrape_parse_page(t, resp, &post, &added);
		ok = scraped >= 0;
		if (meta && ok) {
			scrape_meta_end(&sm->meta_read);
			t->meta_read_ms = t->start_ms;
		} else if (meta)
			scrape_meta_abort(&sm->meta_read);
	}
	scrape_target_finish(t, ok, dur, scraped, post, added);
}

static void
scrape_target_fire(struct scrape_target *t)
{
	const struct config_scrape *sc = t->pool->sc;
	struct scrape_manager *sm = t->pool->sm;
	struct http_request_opts o;
	const char *headers[3];

	/*
	 * A scrape still running when the next is due: skip one round. Its
	 * start time stays: up and scrape_duration_seconds are stamped with
	 * it when it ends.
	 */
	if (t->req != NULL) {
		t->late++;
		sm->late_total++;
		scrape_target_schedule(t);
		return;
	}
	t->start_ms = loop_now_ms();
	if (t->start_ms - t->next_ms > sc->scrape_interval_ms / 10 &&
	    t->scrapes != 0) {
		t->late++;
		sm->late_total++;
	}
	if (t->pool->limit_error != NULL) {
		sm->nsamples = 0;
		arena_reset(&sm->arena);
		scrape_cache_begin(t->cache);
		scrape_set_error(t, "%s", t->pool->limit_error);
		sm->target_limit_exceeded++;
		scrape_target_finish(t, 0, 0, 0, 0, 0);
		t->limited = 1;
		scrape_target_schedule(t);
		return;
	}
	headers[0] = t->pool->accept;
	headers[1] = t->pool->timeout_hdr;
	headers[2] = NULL;
	memset(&o, 0, sizeof o);
	o.url = t->url;
	o.headers = headers;
	o.timeout_ms = sc->scrape_timeout_ms;
	o.max_body = scrape_body_limit(t);
	o.accept_gzip = sc->enable_compression;
	o.http = &sc->http;
	o.pool = t->conns;
	t->req = http_request_start(sm->http, &o, scrape_done_cb, t);
	scrape_target_schedule(t);
}

/*
 * Start the slot's targets due now, and wake next for the first start
 * after. Firing moves a target's start on by whole intervals (more than
 * one if the loop was starved), so it stays in the slot; the others'
 * starts are whole intervals away too.
 */
static void
scrape_slot_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scrape_slot *s = arg;
	struct scrape_target *t, *next;
	int64_t due = s->due, first = INT64_MAX;

	/* The timer fired, so it is no longer pending until a start sets it. */
	TAILQ_FOREACH_SAFE(t, &s->targets, slot_entry, next) {
		if (t->next_ms <= due)
			scrape_target_fire(t);
		if (t->next_ms < first)
			first = t->next_ms;
	}
	if (first != INT64_MAX &&
	    (!evtimer_pending(s->timer, NULL) || first < s->due))
		scrape_slot_arm(s, first, loop_now_ms());
}

/*
 * Next start: the same phase in every interval, so the spacing between
 * scrapes stays exact. A target's phase is one of SCRAPE_PHASES steps of
 * the interval, chosen by its hash and the phase seed: targets spread
 * over the interval as Prometheus spreads them, but those of one step
 * start together, in one wake-up of the loop, and their pages are parsed
 * back to back while the parser's and the series' tables are still in
 * cache. At 100 targets every 5 s that is 0.37-0.42 µs of CPU a sample
 * with a phase per target and 0.29-0.32 with five targets a step
 * (docs/performance.md). Ten a step: at 10 targets every 5 s one burst
 * instead of two is one WAL fdatasync instead of two, which on a VM's
 * disk costs about as much CPU as scraping a page.
 *
 * An interval with too few targets for SCRAPE_STEP_TARGETS on each of
 * the 20 steps uses fewer, evenly spaced ones (scrape_steps()): ten
 * targets every 5 s on twenty steps are ten wake-ups, each finding every
 * cache cold. Steps nest: those in use are every g-th of the twenty,
 * counted from one the seed picks, and a target takes the last of them
 * at or before its own fine step. The count is over all jobs of the
 * interval (scrape_restep()), so small jobs of one interval share steps.
 */
#define SCRAPE_PHASES		20
#define SCRAPE_STEP_TARGETS	10

unsigned
scrape_steps(size_t ntargets, unsigned cur)
{
	unsigned d;

	for (d = SCRAPE_PHASES; d > 1; d--) {
		if (SCRAPE_PHASES % d == 0 &&
		    ntargets >= (size_t)d * SCRAPE_STEP_TARGETS)
			break;
	}
	/* Fewer steps only once half of what these need is gone: a target
	 * coming and going at a boundary must not move the others. */
	if (d < cur && ntargets * 2 >= (size_t)cur * SCRAPE_STEP_TARGETS)
		return cur;
	return d;
}

/* The target's hash under the seed: its fine step, or its offset. */
static uint64_t
scrape_target_spread(const struct scrape_target *t)
{
	return hash_bytes(&t->hash, sizeof t->hash, t->pool->sm->phase_seed);
}

/* The step, 0 to SCRAPE_PHASES - 1, the target starts on. */
static int64_t
scrape_target_phase(const struct scrape_target *t)
{
	uint64_t seed = t->pool->sm->phase_seed, h = scrape_target_spread(t);
	unsigned g = SCRAPE_PHASES / t->pool->steps;
	unsigned first = (unsigned)(seed % SCRAPE_PHASES);
	unsigned f = (unsigned)((h + SCRAPE_PHASES - first) % SCRAPE_PHASES);

	return (int64_t)((first + f - f % g) % SCRAPE_PHASES);
}

/* File the target under the offset of its next start, and wake for it. */
static void
scrape_target_arm(struct scrape_target *t, int64_t now)
{
	struct scrape_manager *sm = t->pool->sm;
	int64_t iv = t->pool->sc->scrape_interval_ms, off = t->next_ms % iv;
	struct scrape_slot *s = t->slot;

	/* The common case: the next start is one interval on. */
	if (s == NULL || s->iv != iv || s->off != off) {
		scrape_slot_leave(t);
		TAILQ_FOREACH(s, &sm->slots, entry) {
			if (s->iv == iv && s->off == off)
				break;
		}
		if (s == NULL) {
			s = xcalloc(1, sizeof *s);
			s->sm = sm;
			s->iv = iv;
			s->off = off;
			s->timer = evtimer_new(sm->base, scrape_slot_cb, s);
			TAILQ_INIT(&s->targets);
			TAILQ_INSERT_TAIL(&sm->slots, s, entry);
		}
		TAILQ_INSERT_TAIL(&s->targets, t, slot_entry);
		t->slot = s;
	}
	if (!evtimer_pending(s->timer, NULL) || t->next_ms < s->due)
		scrape_slot_arm(s, t->next_ms, now);
}

static void
scrape_target_schedule(struct scrape_target *t)
{
	int64_t iv = t->pool->sc->scrape_interval_ms, now, offset, next;
	int64_t step = iv / SCRAPE_PHASES;

	now = loop_now_ms();
	if (t->next_ms == 0) {
		if (step > 0)
			offset = scrape_target_phase(t) * step;
		else
			offset = (int64_t)(scrape_target_spread(t) %
			    (uint64_t)iv);
		next = now - now % iv + offset;
		if (next <= now)
			next += iv;
	} else {
		next = t->next_ms + iv;
		if (next <= now)	/* starved: skip missed rounds */
			next += ((now - next) / iv + 1) * iv;
	}
	t->next_ms = next;
	scrape_target_arm(t, now);
}

/*
 * The step count changed: put a running target on its new step, at the
 * first start there at or after the one planned, so that no scrape comes
 * sooner than an interval after the last. A target not yet started (jobs
 * applied one after another at start-up) takes the first after now, as a
 * new one would, not a first scrape up to an interval late.
 */
static void
scrape_target_rephase(struct scrape_target *t, int64_t now)
{
	int64_t iv = t->pool->sc->scrape_interval_ms, next, from;
	int64_t step = iv / SCRAPE_PHASES;

	if (step == 0 || t->slot == NULL || t->next_ms == 0)
		return;
	from = t->start_ms == 0 ? now + 1 : t->next_ms;
	next = from - from % iv + scrape_target_phase(t) * step;
	if (next < from)
		next += iv;
	if (next == t->next_ms)
		return;
	t->next_ms = next;
	scrape_target_arm(t, now);
}

static void
scrape_target_start(struct scrape_target *t)
{
	struct scrape_manager *sm = t->pool->sm;

	t->cache = scrape_cache_create(sm->series, sm->cache_seed);
	t->conns = http_pool_new();
	scrape_target_schedule(t);
}

/* Stop scraping; stale-mark everything the target produced last. */
static void
scrape_target_stop(struct scrape_target *t, int64_t now)
{
	struct scrape_manager *sm = t->pool->sm;
	struct scrape_stale_ctx sc = { sm, now, 0 };
	size_t i;

	/*
	 * After the last scrape's samples even when it ended in this very
	 * millisecond: a second sample at one timestamp is a duplicate that
	 * receivers refuse, and with it the request that carries it.
	 */
	if (sc.t <= t->last_scrape_ms)
		sc.t = t->last_scrape_ms + 1;
	scrape_slot_leave(t);
	if (t->req != NULL) {
		http_request_cancel(t->req);
		t->req = NULL;
	}
	if (t->cache != NULL)
		scrape_cache_all_stale(t->cache, scrape_stale_cb, &sc);
	if (t->report_written) {
		for (i = 0; i < t->nreport; i++)
			scrape_stale_cb(t->report[i], &sc);
		t->report_written = 0;
	}
	sm->stale_total += sc.n;
}

/* ------------------------------------------------------------------ */
/* Pools and target sync.                                             */

/*
 * The Accept header from scrape_protocols, most preferred first, with
 * falling q values as Prometheus sends them. The protobuf format is
 * skipped: promlet does not parse it, and a target offered it would
 * answer with it.
 */
static char *
scrape_accept_header(const struct config *cfg, const struct config_scrape *sc)
{
	static const struct {
		const char *name;
		const char *mime;
	} known[] = {
		{ "OpenMetricsText1.0.0", "application/openmetrics-text;"
		    "version=1.0.0" },
		{ "OpenMetricsText0.0.1", "application/openmetrics-text;"
		    "version=0.0.1" },
		{ "PrometheusText1.0.0", "text/plain;version=1.0.0" },
		{ "PrometheusText0.0.4", "text/plain;version=0.0.4" },
	};
	char **protos = sc->scrape_protocols;
	size_t n = sc->nscrape_protocols, i, k, used = 0;
	struct buf b = BUF_INIT;

	if (n == 0 && cfg != NULL) {
		protos = cfg->scrape_protocols;
		n = cfg->nscrape_protocols;
	}
	if (n == 0)
		return xstrdup("Accept: " SCRAPE_ACCEPT);
	buf_puts(&b, "Accept: ");
	for (i = 0; i < n; i++) {
		for (k = 0; k < sizeof known / sizeof known[0]; k++) {
			if (strcmp(protos[i], known[k].name) != 0)
				continue;
			if (used != 0)
				buf_putc(&b, ',');
			buf_puts(&b, known[k].mime);
			if (used != 0)
				buf_printf(&b, ";q=0.%zu", 9 - (used < 8 ?
				    used : 8));
			used++;
		}
	}
	if (used == 0)
		buf_puts(&b, "text/plain;version=0.0.4");
	buf_puts(&b, ",*/*;q=0.1");
	return buf_steal(&b);
}

static void
scrape_pool_timeout_hdr(struct scrape_pool *pool)
{
	snprintf(pool->timeout_hdr, sizeof pool->timeout_hdr,
	    "X-Prometheus-Scrape-Timeout-Seconds: %g",
	    (double)pool->sc->scrape_timeout_ms / 1000.0);
}

static struct scrape_pool *
scrape_pool_find(struct scrape_manager *sm, const char *job)
{
	struct scrape_pool *p;

	TAILQ_FOREACH(p, &sm->pools, entry) {
		if (strcmp(p->job, job) == 0)
			return p;
	}
	return NULL;
}

static void
scrape_source_free(struct scrape_source *s)
{
	size_t i, k;

	for (i = 0; i < s->ngroups; i++) {
		for (k = 0; k < s->groups[i].ntargets; k++)
			free(s->groups[i].targets[k]);
		free(s->groups[i].targets);
		labels_free(&s->groups[i].labels);
	}
	free(s->groups);
	arena_free(&s->strings);
	free(s->name);
	free(s);
}

/*
 * Steps are counted over every job of an interval, as the timer starts
 * every target due at a step whatever its job: thirty jobs of one target
 * every 30 s are two steps of fifteen, not one burst of thirty.
 */
static void
scrape_restep(struct scrape_manager *sm, int64_t iv, int64_t now)
{
	struct scrape_pool *p;
	struct scrape_target *t;
	size_t n = 0;
	unsigned cur = 0, steps;

	TAILQ_FOREACH(p, &sm->pools, entry) {
		if (p->sc->scrape_interval_ms != iv)
			continue;
		cur = p->steps > cur ? p->steps : cur;
		TAILQ_FOREACH(t, &p->targets, entry)
			n++;
	}
	steps = scrape_steps(n, cur);
	TAILQ_FOREACH(p, &sm->pools, entry) {
		if (p->sc->scrape_interval_ms != iv || p->steps == steps)
			continue;
		p->steps = steps;
		TAILQ_FOREACH(t, &p->targets, entry)
			scrape_target_rephase(t, now);
	}
}

/*
 * A sync's index of target identities: the running target of each, and
 * whether the sources have listed it yet. Walking the pool for each
 * listed target was quadratic, 10^8 comparisons on the loop for 10,000
 * file_sd targets at every change of a file.
 */
struct scrape_ident {
	uint64_t		 hash;
	struct scrape_target	*old;		/* running, or NULL */
	int			 used;
	int			 listed;
};

struct scrape_idents {
	struct scrape_ident	*v;
	size_t			 mask;
};

static void
scrape_idents_init(struct scrape_idents *ids, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	ids->v = xcalloc(cap, sizeof *ids->v);
	ids->mask = cap - 1;
}

/* The entry of an identity, made if new. Never full: twice the size. */
static struct scrape_ident *
scrape_idents_get(struct scrape_idents *ids, uint64_t hash)
{
	size_t i = (size_t)hash & ids->mask;

	while (ids->v[i].used && ids->v[i].hash != hash)
		i = (i + 1) & ids->mask;
	ids->v[i].used = 1;
	ids->v[i].hash = hash;
	return &ids->v[i];
}

/*
 * target_limit counts the targets left after relabeling, duplicates
 * merged. Over it, the whole job fails until discovery or a reload
 * brings it back under: scraping an arbitrary subset would hide which
 * targets are missing.
 */
static void
scrape_pool_check_limit(struct scrape_pool *pool)
{
	struct scrape_target *t;
	uint64_t limit = pool->sc->target_limit;
	size_t n = 0;

	TAILQ_FOREACH(t, &pool->targets, entry)
		n++;
	if (limit != 0 && n > limit) {
		if (pool->limit_error == NULL)
			log_warn("target_limit exceeded: scrapes fail until "
			    "the targets are within it", "job=%s targets=%zu "
			    "limit=%llu", pool->job, n,
			    (unsigned long long)limit);
		free(pool->limit_error);
		xasprintf(&pool->limit_error, "target_limit exceeded (number "
		    "of targets: %zu, limit: %llu)", n,
		    (unsigned long long)limit);
	} else if (pool->limit_error != NULL) {
		log_info("targets within target_limit again", "job=%s "
		    "targets=%zu limit=%llu", pool->job, n,
		    (unsigned long long)limit);
		free(pool->limit_error);
		pool->limit_error = NULL;
	}
}

static void
scrape_targets_free(struct scrape_targets *list)
{
	struct scrape_target *t;

	while ((t = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, t, entry);
		scrape_target_free(t);
	}
}

static void
scrape_pool_drop(struct scrape_pool *pool, struct scrape_target *t)
{
	uint64_t keep = pool->sc->keep_dropped_targets;

	if (keep == 0 || pool->ndropped < keep)
		TAILQ_INSERT_TAIL(&pool->dropped, t, entry);
	else
		scrape_target_free(t);
	pool->ndropped++;
}

/* Rebuild a pool's targets from its sources, keeping unchanged ones. */
static void
scrape_pool_sync(struct scrape_pool *pool)
{
	struct scrape_manager *sm = pool->sm;
	struct scrape_targets fresh;
	struct scrape_target *t, *old, *next;
	struct scrape_source *s;
	struct scrape_idents ids;
	struct scrape_ident *id;
	int64_t now = loop_now_ms();
	size_t i, k, n = 0, started = 0;

	TAILQ_INIT(&fresh);
	scrape_targets_free(&pool->dropped);
	pool->ndropped = 0;
	TAILQ_FOREACH(old, &pool->targets, entry) {
		old->keep = 0;
		n++;
	}
	TAILQ_FOREACH(s, &pool->sources, entry) {
		for (i = 0; i < s->ngroups; i++)
			n += s->groups[i].ntargets;
	}
	scrape_idents_init(&ids, n);
	TAILQ_FOREACH(old, &pool->targets, entry)
		scrape_idents_get(&ids, old->hash)->old = old;
	TAILQ_FOREACH(s, &pool->sources, entry) {
		for (i = 0; i < s->ngroups; i++) {
			for (k = 0; k < s->groups[i].ntargets; k++) {
				t = scrape_target_create(pool, &s->groups[i],
				    s->groups[i].targets[k]);
				if (t->dropped) {
					scrape_pool_drop(pool, t);
					continue;
				}
				/*
				 * Listed before with the same labels, and kept
				 * or started then: one target, not two.
				 */
				id = scrape_idents_get(&ids, t->hash);
				if (id->listed) {
					scrape_target_free(t);
					continue;
				}
				id->listed = 1;
				/* Same identity as a running target: keep it. */
				old = id->old;
				if (old != NULL) {
					/* Keep the running target but take the
					 * fresh discovered labels (meta labels
					 * may change without changing identity). */
					struct arena a = old->strings;
					struct labels l = old->labels;
					struct labels dl = old->discovered;

					old->strings = t->strings;
					old->labels = t->labels;
					old->discovered = t->discovered;
					t->strings = a;
					t->labels = l;
					t->discovered = dl;
					old->keep = 1;
					scrape_target_free(t);
					continue;
				}
				TAILQ_INSERT_TAIL(&fresh, t, entry);
			}
		}
	}
	free(ids.v);
	TAILQ_FOREACH_SAFE(old, &pool->targets, entry, next) {
		if (old->keep)
			continue;
		TAILQ_REMOVE(&pool->targets, old, entry);
		scrape_target_stop(old, now);
		scrape_target_free(old);
	}
	TAILQ_CONCAT(&pool->targets, &fresh, entry);
	scrape_pool_check_limit(pool);
	scrape_restep(sm, pool->sc->scrape_interval_ms, now);
	/* Started only now, on the step count that includes them. */
	TAILQ_FOREACH(t, &pool->targets, entry) {
		if (t->cache == NULL) {
			scrape_target_start(t);
			started++;
		}
	}
	if (sm->nsamples != 0)
		scrape_commit(sm);
	log_debug("targets synced", "job=%s started=%zu steps=%u", pool->job,
	    started, pool->steps);
}

void
scrape_manager_set_targets(struct scrape_manager *sm, const char *job,
    const char *source, const struct target_group *groups, size_t n)
{
	struct scrape_pool *pool;
	struct scrape_source *s;
	size_t i, k;

	if (sm->stopped || (pool = scrape_pool_find(sm, job)) == NULL)
		return;
	TAILQ_FOREACH(s, &pool->sources, entry) {
		if (strcmp(s->name, source) == 0)
			break;
	}
	if (s != NULL) {
		TAILQ_REMOVE(&pool->sources, s, entry);
		scrape_source_free(s);
	}
	if (n == 0) {
		scrape_pool_sync(pool);
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->name = xstrdup(source);
	s->groups = xcalloc(n == 0 ? 1 : n, sizeof *s->groups);
	s->ngroups = n;
	for (i = 0; i < n; i++) {
		struct target_group *g = &s->groups[i];

		g->ntargets = groups[i].ntargets;
		g->targets = xcalloc(g->ntargets == 0 ? 1 : g->ntargets,
		    sizeof *g->targets);
		for (k = 0; k < g->ntargets; k++)
			g->targets[k] = xstrdup(groups[i].targets[k]);
		labels_init(&g->labels);
		for (k = 0; k < groups[i].labels.n; k++) {
			struct lstr nm = groups[i].labels.v[k].name;
			struct lstr v = groups[i].labels.v[k].value;

			labels_set(&g->labels, (struct lstr){
			    arena_strndup(&s->strings, nm.p, nm.len), nm.len },
			    (struct lstr){ arena_strndup(&s->strings, v.p,
			    v.len), v.len });
		}
		g->source = s->name;
	}
	TAILQ_INSERT_TAIL(&pool->sources, s, entry);
	scrape_pool_sync(pool);
}

/* The static_configs of a job as one discovery source. */
static void
scrape_pool_static(struct scrape_manager *sm, struct scrape_pool *pool)
{
	const struct config_scrape *sc = pool->sc;
	struct target_group *groups;
	size_t i, k;

	groups = xcalloc(sc->nstatic == 0 ? 1 : sc->nstatic, sizeof *groups);
	for (i = 0; i < sc->nstatic; i++) {
		groups[i].targets = sc->static_configs[i].targets;
		groups[i].ntargets = sc->static_configs[i].ntargets;
		labels_init(&groups[i].labels);
		for (k = 0; k < sc->static_configs[i].labels.n; k++)
			labels_set(&groups[i].labels,
			    scrape_lstr(sc->static_configs[i].labels.v[k].name),
			    scrape_lstr(
			    sc->static_configs[i].labels.v[k].value));
	}
	scrape_manager_set_targets(sm, pool->job, "static", groups,
	    sc->nstatic);
	for (i = 0; i < sc->nstatic; i++)
		labels_free(&groups[i].labels);
	free(groups);
}

static void
scrape_pool_free(struct scrape_pool *pool)
{
	struct scrape_source *s;

	scrape_targets_free(&pool->targets);
	scrape_targets_free(&pool->dropped);
	while ((s = TAILQ_FIRST(&pool->sources)) != NULL) {
		TAILQ_REMOVE(&pool->sources, s, entry);
		scrape_source_free(s);
	}
	free(pool->job);
	free(pool->accept);
	free(pool->limit_error);
	free(pool);
}

void
scrape_manager_set_default_body_limit(struct scrape_manager *sm,
    uint64_t limit)
{
	sm->default_body_limit = limit;
}

void
scrape_manager_set_extra_metrics(struct scrape_manager *sm, int on)
{
	sm->extra_metrics = on;
}

struct scrape_manager *
scrape_manager_create(struct event_base *base, struct http_client *http,
    struct series_table *series, struct wal *wal, scrape_commit_cb cb,
    void *arg)
{
	struct scrape_manager *sm;

	sm = xcalloc(1, sizeof *sm);
	sm->base = base;
	sm->http = http;
	sm->series = series;
	sm->wal = wal;
	sm->commit_cb = cb;
	sm->commit_arg = arg;
	/* Without entropy, the clock: the seed need only be unguessable. */
	if (getrandom(&sm->cache_seed, sizeof sm->cache_seed, GRND_NONBLOCK) !=
	    (ssize_t)sizeof sm->cache_seed)
		sm->cache_seed = (uint64_t)loop_now_ms() * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)(uintptr_t)sm;
	TAILQ_INIT(&sm->pools);
	TAILQ_INIT(&sm->slots);
	buf_init(&sm->scratch);
	labels_init(&sm->ls);
	return sm;
}

/*
 * As in Prometheus, the host name and the external labels move every
 * target's phase: two replicas of an HA pair scraping the same targets
 * do not scrape them at the same moment. The seed is stable across
 * restarts, so a target keeps its step.
 */
static uint64_t
scrape_phase_seed(const struct config *cfg)
{
	char host[256];
	uint64_t h;
	size_t i;

	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	h = hash_bytes(host, strlen(host), 0);
	for (i = 0; i < cfg->external_labels.n; i++) {
		const struct config_kv *kv = &cfg->external_labels.v[i];

		h = hash_bytes(kv->name, strlen(kv->name), h);
		h = hash_bytes(kv->value, strlen(kv->value), h ^ 0xff);
	}
	return h;
}

void
scrape_manager_apply(struct scrape_manager *sm, const struct config *cfg)
{
	struct scrape_pool *pool, *next;
	struct scrape_target *t;
	int64_t now = loop_now_ms();
	size_t i;

	sm->cfg = cfg;
	sm->phase_seed = scrape_phase_seed(cfg);
	sm->meta_every_ms = 0;
	for (i = 0; i < cfg->nremote_write; i++) {
		const struct config_remote_write *rw = &cfg->remote_write[i];

		if (rw->metadata_send && (sm->meta_every_ms == 0 ||
		    rw->metadata_send_interval_ms < sm->meta_every_ms))
			sm->meta_every_ms = rw->metadata_send_interval_ms;
	}
	TAILQ_FOREACH(pool, &sm->pools, entry)
		pool->keep = 0;
	for (i = 0; i < cfg->nscrape; i++) {
		const struct config_scrape *sc = &cfg->scrape[i];
		uint64_t h = config_scrape_hash(sc);

		pool = scrape_pool_find(sm, sc->job_name);
		if (pool != NULL && pool->hash == h) {
			/* Unchanged job: keep targets, point at the new copy. */
			pool->sc = sc;
			scrape_pool_timeout_hdr(pool);
			pool->keep = 1;
			continue;
		}
		if (pool != NULL) {
			TAILQ_REMOVE(&sm->pools, pool, entry);
			TAILQ_FOREACH(t, &pool->targets, entry)
				scrape_target_stop(t, now);
			scrape_pool_free(pool);
		}
		pool = xcalloc(1, sizeof *pool);
		pool->sm = sm;
		pool->sc = sc;
		pool->job = xstrdup(sc->job_name);
		pool->accept = scrape_accept_header(cfg, sc);
		scrape_pool_timeout_hdr(pool);
		pool->hash = h;
		pool->keep = 1;
		TAILQ_INIT(&pool->targets);
		TAILQ_INIT(&pool->dropped);
		TAILQ_INIT(&pool->sources);
		TAILQ_INSERT_TAIL(&sm->pools, pool, entry);
		scrape_pool_static(sm, pool);
	}
	TAILQ_FOREACH_SAFE(pool, &sm->pools, entry, next) {
		if (pool->keep)
			continue;
		TAILQ_REMOVE(&sm->pools, pool, entry);
		TAILQ_FOREACH(t, &pool->targets, entry)
			scrape_target_stop(t, now);
		scrape_pool_free(pool);
	}
	/* Removed jobs counted in the step counts of their intervals. */
	TAILQ_FOREACH(pool, &sm->pools, entry)
		scrape_restep(sm, pool->sc->scrape_interval_ms, now);
	if (sm->nsamples != 0)
		scrape_commit(sm);
}

void
scrape_manager_stop(struct scrape_manager *sm)
{
	struct scrape_pool *pool;
	struct scrape_target *t;
	int64_t now = loop_now_ms();

	if (sm->stopped)
		return;
	sm->stopped = 1;
	sm->nsamples = 0;
	TAILQ_FOREACH(pool, &sm->pools, entry) {
		TAILQ_FOREACH(t, &pool->targets, entry)
			scrape_target_stop(t, now);
	}
	scrape_commit(sm);
}

void
scrape_manager_free(struct scrape_manager *sm)
{
	struct scrape_pool *pool;

	if (sm == NULL)
		return;
	while ((pool = TAILQ_FIRST(&sm->pools)) != NULL) {
		TAILQ_REMOVE(&sm->pools, pool, entry);
		scrape_pool_free(pool);
	}
	buf_free(&sm->scratch);
	labels_free(&sm->ls);
	arena_free(&sm->arena);
	free(sm->samples);
	scrape_meta_read_free(&sm->meta_read);
	free(sm->meta_lists);
	free(sm);
}

size_t
scrape_manager_target_count(struct scrape_manager *sm)
{
	struct scrape_pool *pool;
	struct scrape_target *t;
	size_t n = 0;

	TAILQ_FOREACH(pool, &sm->pools, entry) {
		TAILQ_FOREACH(t, &pool->targets, entry)
			n++;
	}
	return n;
}

size_t
scrape_manager_metadata(struct scrape_manager *sm, struct lstr **out,
    size_t *cap)
{
	struct scrape_pool *pool;
	struct scrape_target *t;
	size_t n = 0;

	TAILQ_FOREACH(pool, &sm->pools, entry) {
		TAILQ_FOREACH(t, &pool->targets, entry) {
			if (t->meta.enc.len == 0)
				continue;
			if (n == sm->meta_lists_cap) {
				sm->meta_lists_cap = n == 0 ? 64 : n * 2;
				sm->meta_lists = xreallocarray(sm->meta_lists,
				    sm->meta_lists_cap, sizeof *sm->meta_lists);
			}
			sm->meta_lists[n++] = &t->meta;
		}
	}
	return scrape_meta_unique(sm->meta_lists, n, out, cap);
}

void
scrape_manager_write_metrics(struct scrape_manager *sm, struct buf *b)
{
	buf_printf(b,
	    "# HELP promlet_scrapes_total Scrapes attempted.\n"
	    "# TYPE promlet_scrapes_total counter\n"
	    "promlet_scrapes_total %llu\n"
	    "# HELP promlet_scrape_failures_total Scrapes that failed "
	    "(up=0).\n"
	    "# TYPE promlet_scrape_failures_total counter\n"
	    "promlet_scrape_failures_total %llu\n"
	    "# HELP promlet_scrape_samples_appended_total Samples written "
	    "to the WAL by scrapes, stale markers and report series "
	    "included.\n"
	    "# TYPE promlet_scrape_samples_appended_total counter\n"
	    "promlet_scrape_samples_appended_total %llu\n"
	    "# HELP promlet_scrape_stale_markers_total Stale markers "
	    "written.\n"
	    "# TYPE promlet_scrape_stale_markers_total counter\n"
	    "promlet_scrape_stale_markers_total %llu\n"
	    "# HELP promlet_scrapes_late_total Scrapes that started late "
	    "or were skipped because the previous one still ran.\n"
	    "# TYPE promlet_scrapes_late_total counter\n"
	    "promlet_scrapes_late_total %llu\n"
	    "# HELP promlet_scrapes_exceeded_limit_total Scrapes failed by "
	    "a limit.\n"
	    "# TYPE promlet_scrapes_exceeded_limit_total counter\n"
	    "promlet_scrapes_exceeded_limit_total{limit=\"sample_limit\"} "
	    "%llu\n"
	    "promlet_scrapes_exceeded_limit_total{limit=\"label_limit\"} "
	    "%llu\n"
	    "promlet_scrapes_exceeded_limit_total{limit=\"body_size_limit\"} "
	    "%llu\n"
	    "promlet_scrapes_exceeded_limit_total{limit=\"target_limit\"} "
	    "%llu\n"
	    "# HELP promlet_scrape_targets Active scrape targets.\n"
	    "# TYPE promlet_scrape_targets gauge\n"
	    "promlet_scrape_targets %zu\n",
	    (unsigned long long)sm->scrapes_total,
	    (unsigned long long)sm->scrape_failures_total,
	    (unsigned long long)sm->samples_total,
	    (unsigned long long)sm->stale_total,
	    (unsigned long long)sm->late_total,
	    (unsigned long long)sm->sample_limit_exceeded,
	    (unsigned long long)sm->label_limit_exceeded,
	    (unsigned long long)sm->body_limit_exceeded,
	    (unsigned long long)sm->target_limit_exceeded,
	    scrape_manager_target_count(sm));
}

static void
scrape_json_labels(struct buf *b, const struct labels *ls)
{
	size_t i;

	buf_putc(b, '{');
	for (i = 0; i < ls->n; i++) {
		if (i != 0)
			buf_putc(b, ',');
		buf_put_json_string(b, ls->v[i].name.p, ls->v[i].name.len);
		buf_putc(b, ':');
		buf_put_json_string(b, ls->v[i].value.p, ls->v[i].value.len);
	}
	buf_putc(b, '}');
}

void
scrape_manager_write_targets(struct scrape_manager *sm, struct buf *b)
{
	struct scrape_pool *pool;
	struct scrape_target *t;
	int first = 1;
	time_t sec;
	struct tm tm;
	char when[64];

	buf_puts(b, "{\"status\":\"success\",\"data\":{\"activeTargets\":[");
	TAILQ_FOREACH(pool, &sm->pools, entry) {
		TAILQ_FOREACH(t, &pool->targets, entry) {
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_puts(b, "{\"discoveredLabels\":");
			scrape_json_labels(b, &t->discovered);
			buf_puts(b, ",\"labels\":");
			scrape_json_labels(b, &t->labels);
			buf_puts(b, ",\"scrapePool\":");
			buf_put_json_string(b, pool->job, strlen(pool->job));
			buf_puts(b, ",\"scrapeUrl\":");
			buf_put_json_string(b, t->url, strlen(t->url));
			buf_puts(b, ",\"lastError\":");
			buf_put_json_string(b, t->last_error ? t->last_error :
			    "", t->last_error ? strlen(t->last_error) : 0);
			sec = (time_t)(t->last_scrape_ms / 1000);
			gmtime_r(&sec, &tm);
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
			buf_printf(b, ",\"lastScrape\":\"%s.%03dZ\","
			    "\"lastScrapeDuration\":%.6f,\"lastSamples\":%llu,"
			    "\"health\":\"%s\"}", when,
			    (int)(t->last_scrape_ms % 1000), t->last_duration,
			    (unsigned long long)t->last_samples,
			    t->health == 1 ? "up" : t->health == 0 ? "down" :
			    "unknown");
		}
	}
	buf_puts(b, "],\"droppedTargets\":[");
	first = 1;
	TAILQ_FOREACH(pool, &sm->pools, entry) {
		TAILQ_FOREACH(t, &pool->dropped, entry) {
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_puts(b, "{\"discoveredLabels\":");
			scrape_json_labels(b, &t->discovered);
			buf_puts(b, ",\"scrapePool\":");
			buf_put_json_string(b, pool->job, strlen(pool->job));
			buf_putc(b, '}');
		}
	}
	buf_puts(b, "],\"droppedTargetCounts\":{");
	first = 1;
	TAILQ_FOREACH(pool, &sm->pools, entry) {
		if (!first)
			buf_putc(b, ',');
		first = 0;
		buf_put_json_string(b, pool->job, strlen(pool->job));
		buf_printf(b, ":%zu", pool->ndropped);
	}
	buf_puts(b, "}}}");
}
