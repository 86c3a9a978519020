/*
 * Scrape manager: one pool per scrape_config, one target per discovered
 * address, each with its own timer on the event loop.
 *
 *	timer -> http GET -> textparse -> scrape cache / relabel -> series
 *	      -> WAL records (series + samples + stale markers) -> commit
 *	      -> notify remote writers
 *
 * Targets fire at a stable offset inside their interval (derived from the
 * target's identity, as Prometheus does) so many targets do not scrape at
 * the same instant; the offsets are steps of the interval, fewer for a
 * small job, so that targets of a step share a wake-up. Samples are
 * timestamped at scrape start.
 *
 * A failed scrape (transport error, non-2xx, parse error, a limit
 * exceeded) writes up=0, the report series, and stale markers for every
 * series of the previous scrape; none of its own samples are kept.
 */
#ifndef PROMLET_SCRAPE_H
#define PROMLET_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

struct buf;
struct config;
struct event_base;
struct http_client;
struct series_table;
struct wal;

struct scrape_manager;

/* A set of targets sharing labels, as a static_config or file_sd entry. */
struct target_group {
	char		**targets;
	size_t		  ntargets;
	struct labels	  labels;	/* borrowed strings */
	const char	 *source;	/* e.g. "static/0", a file path */
};

typedef void (*scrape_commit_cb)(void *);

struct scrape_manager *scrape_manager_create(struct event_base *,
		    struct http_client *, struct series_table *, struct wal *,
		    scrape_commit_cb, void *);
/*
 * Apply a (new) config: keep pools and targets whose config and identity
 * did not change (with their caches), stop removed ones with stale
 * markers, start new ones. The config must outlive the manager or the
 * next apply.
 */
void		 scrape_manager_apply(struct scrape_manager *,
		    const struct config *);
/* Replace the targets a discovery source provides for a job. */
void		 scrape_manager_set_targets(struct scrape_manager *,
		    const char *job, const char *source,
		    const struct target_group *, size_t);
/*
 * The body size limit of scrape configs that set none (0: unlimited).
 * Prometheus has no such default; without one a target can make promlet
 * hold a page of any size.
 */
void		 scrape_manager_set_default_body_limit(struct scrape_manager *,
		    uint64_t);
/* --enable-feature=extra-scrape-metrics: extra_scrape_metrics for all. */
void		 scrape_manager_set_extra_metrics(struct scrape_manager *, int);
/* Stop every target and write stale markers for all their series. */
void		 scrape_manager_stop(struct scrape_manager *);
void		 scrape_manager_free(struct scrape_manager *);
void		 scrape_manager_write_metrics(struct scrape_manager *,
		    struct buf *);
/* /api/v1/targets-style JSON. */
void		 scrape_manager_write_targets(struct scrape_manager *,
		    struct buf *);
size_t		 scrape_manager_target_count(struct scrape_manager *);
/*
 * Every distinct metadata entry of the targets' last good pages, as
 * encoded WriteRequest fields (rw_encode.h), each once: spans valid until
 * the loop runs again. *out is the caller's, grown as needed.
 */
size_t		 scrape_manager_metadata(struct scrape_manager *,
		    struct lstr **out, size_t *cap);

/*
 * How many evenly spaced steps of an interval its scrapes start on, out
 * of 20, when all jobs of that interval have ntargets between them: each
 * step gets at least ten targets (one step below twenty), so that the
 * targets of a small interval share wake-ups.
 * cur is the number in use now (0 if none): it shrinks only once half
 * the targets cur needs are gone.
 */
unsigned	 scrape_steps(size_t ntargets, unsigned cur);

#endif
