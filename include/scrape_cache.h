/*
 * Per-target scrape cache, as Prometheus's scrapeCache.
 *
 * Maps the raw series text of a page line (name{labels} exactly as
 * written) to the series ref it produced last time, so a repeated scrape
 * of a known series costs one hash lookup: no label decoding, relabeling,
 * sorting or series-table hashing. Entries whose metric relabeling dropped
 * the series are cached too (ref 0, dropped=1).
 *
 * The key is kept as a 128-bit hash of the text, not the text: the text
 * was two thirds of the cache and a quarter of promlet's memory. Two
 * texts of one target with the same hash would share a series; with a
 * random seed per process the chance is about n^2 / 2^129 for n series
 * (below 10^-26 at a million), and even then only the target's own
 * samples are affected, which a target can mislabel anyway.
 *
 * Staleness: each scrape is an iteration. Series seen in the previous
 * successful iteration but not in this one are reported once by
 * scrape_cache_end(), which is when the scrape loop writes stale markers.
 * Entries unseen for a few iterations are evicted and release their hold
 * on the series table.
 *
 * Staleness is per series ref, as Prometheus tracks it per label set: two
 * raw texts that give the same series (labels in another order, or made
 * equal by relabeling) make one ref, which goes stale only when neither
 * was seen; each ref is reported once per call.
 *
 *	begin -> get (hit) ------------------------> seen -> ... -> end
 *	         get (miss) -> labels -> put (seen) ------------/    or
 *	                                                      all_stale
 */
#ifndef PROMLET_SCRAPE_CACHE_H
#define PROMLET_SCRAPE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"
#include "series.h"

struct scrape_cache;

/* Entries unseen for more iterations than this are evicted. */
#define SCRAPE_CACHE_KEEP_ITERS	2

struct scrape_cache_entry {
	series_ref	ref;
	uint32_t	dropped:1;	/* metric_relabel dropped it */
	uint32_t	explicit_ts:1;	/* has its own timestamp: no staleness */
	/* The cache's own. */
	uint32_t	used:1;
	uint32_t	prev:1;		/* seen in the last good scrape */
	uint32_t	last_iter:28;
};

/* seed: the key hash's; random, so that pages cannot aim at collisions. */
struct scrape_cache *scrape_cache_create(struct series_table *,
		    uint64_t seed);
/* Releases every held series. */
void		 scrape_cache_free(struct scrape_cache *);
void		 scrape_cache_begin(struct scrape_cache *);
struct scrape_cache_entry *scrape_cache_get(struct scrape_cache *,
		    struct lstr raw);
/*
 * Insert after a miss; the cache takes over the caller's hold on ref (none
 * for SERIES_REF_NONE) and keeps raw's hash. The entry counts as seen in the
 * current iteration. Entry pointers stay valid until the entry is evicted
 * by scrape_cache_end() or the cache is freed.
 */
struct scrape_cache_entry *scrape_cache_put(struct scrape_cache *,
		    struct lstr raw, series_ref ref, int dropped);
/* Mark an entry as seen in the current iteration. */
void		 scrape_cache_seen(struct scrape_cache *,
		    struct scrape_cache_entry *);
/*
 * Finish a successful scrape: call stale(ref) for series seen in the
 * previous iteration and not in this one, then evict old entries.
 */
void		 scrape_cache_end(struct scrape_cache *,
		    void (*stale)(series_ref, void *), void *);
/* The target went away or failed: report every series seen last time. */
void		 scrape_cache_all_stale(struct scrape_cache *,
		    void (*stale)(series_ref, void *), void *);
size_t		 scrape_cache_count(const struct scrape_cache *);
/* Bytes the cache holds: entries, free ones included, and its index. */
size_t		 scrape_cache_mem_bytes(const struct scrape_cache *);

#endif
