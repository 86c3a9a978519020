/*
 * Per-target scrape cache: raw series text -> series ref.
 *
 *	index	open addressing, linear probing, uint32 item id + 1, at
 *		most half full; an item's home slot is its hash's low bits
 *	items	chunks of 256 fixed-size items, so entry pointers handed to
 *		the caller never move; freed items form a free list (next
 *		id + 1 in e.ref)
 *	item	{ entry (ref, flags, 28-bit iteration), hash[2] }: 24 B
 *
 * A series costs its item and one or two index slots, 32 to 40 bytes;
 * the raw text it replaced was 55 to 80 on typical pages.
 *
 * Pages list their series in the same order scrape after scrape, and items
 * are allocated in the order of the first scrape, so get() first tries the
 * item after the last hit: a steady scrape then costs one hash of the
 * text and one compare per series, no index probe. scrape_cache_end()
 * walks the items once per scrape to find stale series and evict old
 * entries.
 */
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "xmalloc.h"

#define SCRAPE_CACHE_CHUNK_SHIFT	8
#define SCRAPE_CACHE_CHUNK		(1U << SCRAPE_CACHE_CHUNK_SHIFT)
/* Iterations are counted in the entry's 28 bits and compared mod 2^28. */
#define SCRAPE_CACHE_ITER_MASK		0x0fffffffU

struct scrape_cache_item {
	struct scrape_cache_entry	 e;	/* first: handed out */
	uint64_t			 hash[2];
};

struct scrape_cache {
	struct series_table		 *series;
	uint64_t			  seed;
	uint32_t			  iter;		/* masked */

	uint32_t			 *index;
	size_t				  index_cap;
	size_t				  count;

	struct scrape_cache_item	**chunks;
	size_t				  nchunks;
	size_t				  nitems;	/* ids handed out */
	uint32_t			  free_item;	/* id + 1 */
	uint32_t			  next;		/* predicted next id */

	/* The last missed key, so put() need not hash it again. */
	const char			 *miss_p;
	size_t				  miss_len;
	uint64_t			  miss_hash[2];

	/* Scratch ref lists for end() and all_stale(). */
	series_ref			 *stale;
	size_t				  nstale;
	size_t				  stale_cap;
	series_ref			 *evicted;
	size_t				  nevicted;
	size_t				  evicted_cap;
};

static inline struct scrape_cache_item *
scrape_cache_item(const struct scrape_cache *c, uint32_t id)
{
	return &c->chunks[id >> SCRAPE_CACHE_CHUNK_SHIFT][id &
	    (SCRAPE_CACHE_CHUNK - 1)];
}

static inline size_t
scrape_cache_home(const struct scrape_cache *c, uint32_t slot)
{
	return (size_t)scrape_cache_item(c, slot - 1)->hash[0] &
	    (c->index_cap - 1);
}

static void
scrape_cache_index_put(struct scrape_cache *c, uint32_t slot)
{
	size_t i = scrape_cache_home(c, slot);

	while (c->index[i] != 0)
		i = (i + 1) & (c->index_cap - 1);
	c->index[i] = slot;
}

static void
scrape_cache_index_grow(struct scrape_cache *c)
{
	uint32_t *old = c->index;
	size_t i, oldcap = c->index_cap;

	if ((c->count + 1) * 2 <= c->index_cap)
		return;
	c->index_cap *= 2;
	c->index = xcalloc(c->index_cap, sizeof *c->index);
	for (i = 0; i < oldcap; i++) {
		if (old[i] != 0)
			scrape_cache_index_put(c, old[i]);
	}
	free(old);
}

/* Delete by backward shifting the rest of the probe run. */
static void
scrape_cache_index_remove(struct scrape_cache *c, uint32_t slot)
{
	size_t i = scrape_cache_home(c, slot), j, mask = c->index_cap - 1;
	size_t home;

	while (c->index[i] != slot) {
		if (c->index[i] == 0)
			return;
		i = (i + 1) & mask;
	}
	for (j = i;;) {
		j = (j + 1) & mask;
		if (c->index[j] == 0)
			break;
		home = scrape_cache_home(c, c->index[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			c->index[i] = c->index[j];
			i = j;
		}
	}
	c->index[i] = 0;
}

struct scrape_cache *
scrape_cache_create(struct series_table *series, uint64_t seed)
{
	struct scrape_cache *c;

	c = xcalloc(1, sizeof *c);
	c->series = series;
	c->seed = seed;
	c->index_cap = 64;
	c->index = xcalloc(c->index_cap, sizeof *c->index);
	return c;
}

void
scrape_cache_free(struct scrape_cache *c)
{
	struct scrape_cache_item *it;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nitems; i++) {
		it = scrape_cache_item(c, (uint32_t)i);
		if (it->e.used && it->e.ref != SERIES_REF_NONE)
			series_release(c->series, it->e.ref);
	}
	for (i = 0; i < c->nchunks; i++)
		free(c->chunks[i]);
	free(c->chunks);
	free(c->index);
	free(c->stale);
	free(c->evicted);
	free(c);
}

void
scrape_cache_begin(struct scrape_cache *c)
{
	c->iter = (c->iter + 1) & SCRAPE_CACHE_ITER_MASK;
	c->miss_p = NULL;
	c->miss_len = 0;
	c->next = 0;
}

static inline int
scrape_cache_match(const struct scrape_cache_item *it, const uint64_t h[2])
{
	return it->hash[0] == h[0] && it->hash[1] == h[1] && it->e.used;
}

struct scrape_cache_entry *
scrape_cache_get(struct scrape_cache *c, struct lstr raw)
{
	struct scrape_cache_item *it;
	size_t i, mask = c->index_cap - 1;
	uint64_t h[2];
	uint32_t slot;

	hash_bytes128(raw.p, raw.len, c->seed, h);
	if (c->next < c->nitems) {
		it = scrape_cache_item(c, c->next);
		if (scrape_cache_match(it, h)) {
			c->next++;
			return &it->e;
		}
	}
	for (i = (size_t)h[0] & mask; (slot = c->index[i]) != 0;
	    i = (i + 1) & mask) {
		it = scrape_cache_item(c, slot - 1);
		if (scrape_cache_match(it, h)) {
			c->next = slot;
			return &it->e;
		}
	}
	c->miss_p = raw.p;
	c->miss_len = raw.len;
	c->miss_hash[0] = h[0];
	c->miss_hash[1] = h[1];
	return NULL;
}

static uint32_t
scrape_cache_item_alloc(struct scrape_cache *c)
{
	uint32_t id;

	if (c->free_item != 0) {
		id = c->free_item - 1;
		c->free_item = scrape_cache_item(c, id)->e.ref;
		return id;
	}
	if ((c->nitems & (SCRAPE_CACHE_CHUNK - 1)) == 0) {
		c->chunks = xreallocarray(c->chunks, c->nchunks + 1,
		    sizeof *c->chunks);
		c->chunks[c->nchunks++] = xcalloc(SCRAPE_CACHE_CHUNK,
		    sizeof **c->chunks);
	}
	return (uint32_t)c->nitems++;
}

static void
scrape_cache_item_free(struct scrape_cache *c, uint32_t id)
{
	struct scrape_cache_item *it = scrape_cache_item(c, id);

	scrape_cache_index_remove(c, id + 1);
	memset(it, 0, sizeof *it);
	it->e.ref = c->free_item;
	c->free_item = id + 1;
	c->count--;
}

struct scrape_cache_entry *
scrape_cache_put(struct scrape_cache *c, struct lstr raw, series_ref ref,
    int dropped)
{
	struct scrape_cache_entry *old;
	struct scrape_cache_item *it;
	uint32_t id;

	/* A put without a miss first: replace the old mapping. */
	if (raw.p != c->miss_p || raw.len != c->miss_len) {
		if ((old = scrape_cache_get(c, raw)) != NULL) {
			if (old->ref != SERIES_REF_NONE)
				series_release(c->series, old->ref);
			old->ref = ref;
			old->dropped = dropped != 0;
			old->explicit_ts = 0;
			old->last_iter = c->iter;
			return old;
		}
	}
	c->miss_p = NULL;
	c->miss_len = 0;

	scrape_cache_index_grow(c);
	id = scrape_cache_item_alloc(c);
	it = scrape_cache_item(c, id);
	memset(it, 0, sizeof *it);
	it->e.ref = ref;
	it->e.dropped = dropped != 0;
	it->e.used = 1;
	it->e.last_iter = c->iter;
	it->hash[0] = c->miss_hash[0];
	it->hash[1] = c->miss_hash[1];
	scrape_cache_index_put(c, id + 1);
	c->count++;
	c->next = id + 1;
	return &it->e;
}

void
scrape_cache_seen(struct scrape_cache *c, struct scrape_cache_entry *e)
{
	e->last_iter = c->iter;
}

static void
scrape_cache_push(series_ref **v, size_t *n, size_t *cap, series_ref ref)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = ref;
}

static int
scrape_cache_ref_cmp(const void *a, const void *b)
{
	series_ref x = *(const series_ref *)a, y = *(const series_ref *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates. */
static size_t
scrape_cache_uniq(series_ref *v, size_t n)
{
	size_t i, j;

	if (n < 2)
		return n;
	qsort(v, n, sizeof *v, scrape_cache_ref_cmp);
	for (i = j = 1; i < n; i++) {
		if (v[i] != v[j - 1])
			v[j++] = v[i];
	}
	return j;
}

static int
scrape_cache_reportable(const struct scrape_cache_item *it)
{
	return it->e.prev && !it->e.dropped && !it->e.explicit_ts &&
	    it->e.ref != SERIES_REF_NONE;
}

void
scrape_cache_end(struct scrape_cache *c,
    void (*stale)(series_ref, void *), void *arg)
{
	struct scrape_cache_item *it;
	series_ref *hit;
	size_t i, n;
	int cur;

	c->nstale = c->nevicted = 0;
	for (i = 0; i < c->nitems; i++) {
		it = scrape_cache_item(c, (uint32_t)i);
		if (!it->e.used)
			continue;
		cur = it->e.last_iter == c->iter;
		if (!cur && scrape_cache_reportable(it))
			scrape_cache_push(&c->stale, &c->nstale,
			    &c->stale_cap, it->e.ref);
		it->e.prev = cur;
		if (((c->iter - it->e.last_iter) & SCRAPE_CACHE_ITER_MASK) >
		    SCRAPE_CACHE_KEEP_ITERS) {
			/* Release after reporting: the ref may be stale. */
			if (it->e.ref != SERIES_REF_NONE)
				scrape_cache_push(&c->evicted, &c->nevicted,
				    &c->evicted_cap, it->e.ref);
			scrape_cache_item_free(c, (uint32_t)i);
		}
	}

	if (c->nstale != 0) {
		n = scrape_cache_uniq(c->stale, c->nstale);
		/* A ref another raw text produced this time is not stale. */
		for (i = 0; i < c->nitems; i++) {
			it = scrape_cache_item(c, (uint32_t)i);
			if (!it->e.used || it->e.last_iter != c->iter ||
			    it->e.ref == SERIES_REF_NONE)
				continue;
			hit = bsearch(&it->e.ref, c->stale, n, sizeof *hit,
			    scrape_cache_ref_cmp);
			if (hit != NULL)
				*hit = SERIES_REF_NONE;
		}
		for (i = 0; i < n; i++) {
			if (c->stale[i] != SERIES_REF_NONE && stale != NULL)
				stale(c->stale[i], arg);
		}
	}
	for (i = 0; i < c->nevicted; i++)
		series_release(c->series, c->evicted[i]);
	c->nstale = c->nevicted = 0;
}

void
scrape_cache_all_stale(struct scrape_cache *c,
    void (*stale)(series_ref, void *), void *arg)
{
	struct scrape_cache_item *it;
	size_t i, n;

	c->nstale = 0;
	for (i = 0; i < c->nitems; i++) {
		it = scrape_cache_item(c, (uint32_t)i);
		if (!it->e.used)
			continue;
		if (scrape_cache_reportable(it))
			scrape_cache_push(&c->stale, &c->nstale,
			    &c->stale_cap, it->e.ref);
		it->e.prev = 0;
	}
	n = scrape_cache_uniq(c->stale, c->nstale);
	for (i = 0; i < n; i++) {
		if (stale != NULL)
			stale(c->stale[i], arg);
	}
	c->nstale = 0;
}

size_t
scrape_cache_count(const struct scrape_cache *c)
{
	return c->count;
}

size_t
scrape_cache_mem_bytes(const struct scrape_cache *c)
{
	return c->nchunks * SCRAPE_CACHE_CHUNK *
	    sizeof(struct scrape_cache_item) +
	    c->index_cap * sizeof *c->index;
}
