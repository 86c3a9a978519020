/*
 * Per-target scrape cache: raw series text -> series ref.
 *
 *	index	open addressing, linear probing, 8-byte entries
 *		(hash >> 32) << 32 | (item id + 1), at most half full
 *	items	chunks of 256 fixed-size items, so entry pointers handed to
 *		the caller never move; freed items form a free list
 *	item	{ entry, hash >> 32, key offset, key length, flags }: 32 B
 *	keys	every key's bytes back to back in one buffer; evicted keys
 *		leave holes until they are half of it, then end() copies the
 *		live keys to a new buffer in item order
 *
 * A key in the shared buffer costs its length; a malloc'd copy cost up
 * to 24 bytes more, which at a million series was a tenth of RSS.
 *
 * Pages list their series in the same order scrape after scrape, and items
 * are allocated in the order of the first scrape, so get() first tries the
 * item after the last hit: a steady scrape then costs one memcmp per
 * series, no hashing and no index probe. Otherwise a lookup is one hash of
 * the raw text, one index probe, the item and a memcmp of the key.
 * scrape_cache_end() walks the items once per scrape to find stale series
 * and evict old entries.
 */
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "scrape_cache.h"
#include "series.h"
#include "xmalloc.h"

#define SCRAPE_CACHE_CHUNK_SHIFT	8
#define SCRAPE_CACHE_CHUNK		(1U << SCRAPE_CACHE_CHUNK_SHIFT)
#define SCRAPE_CACHE_SEED		0x9e3779b97f4a7c15ULL

#define SCRAPE_CACHE_USED	0x1
#define SCRAPE_CACHE_PREV	0x2	/* seen in the last good scrape */

struct scrape_cache_item {
	struct scrape_cache_entry	 e;	/* first: handed out */
	uint32_t			 hash_hi;	/* as in the index */
	uint64_t			 key;		/* offset in keys */
	uint32_t			 keylen;	/* free: next id + 1 */
	uint32_t			 flags;
};

/* Compact the key buffer once holes are half of it and at least this. */
#define SCRAPE_CACHE_DEAD_MIN	4096

struct scrape_cache {
	struct series_table		 *series;
	uint32_t			  iter;		/* wraps; compared by - */

	char				 *keys;
	size_t				  keys_len;
	size_t				  keys_cap;
	size_t				  keys_dead;

	uint64_t			 *index;
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
	uint64_t			  miss_hash;

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
scrape_cache_home(const struct scrape_cache *c, uint64_t entry)
{
	return (size_t)(entry >> 32) & (c->index_cap - 1);
}

static void
scrape_cache_index_put(struct scrape_cache *c, uint64_t entry)
{
	size_t i = scrape_cache_home(c, entry);

	while (c->index[i] != 0)
		i = (i + 1) & (c->index_cap - 1);
	c->index[i] = entry;
}

static void
scrape_cache_index_grow(struct scrape_cache *c)
{
	uint64_t *old = c->index;
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
scrape_cache_index_remove(struct scrape_cache *c, uint64_t entry)
{
	size_t i = scrape_cache_home(c, entry), j, mask = c->index_cap - 1;
	size_t home;

	while (c->index[i] != entry) {
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
scrape_cache_create(struct series_table *series)
{
	struct scrape_cache *c;

	c = xcalloc(1, sizeof *c);
	c->series = series;
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
		if (!(it->flags & SCRAPE_CACHE_USED))
			continue;
		if (it->e.ref != SERIES_REF_NONE)
			series_release(c->series, it->e.ref);
	}
	free(c->keys);
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
	c->iter++;
	c->miss_p = NULL;
	c->miss_len = 0;
	c->next = 0;
}

struct scrape_cache_entry *
scrape_cache_get(struct scrape_cache *c, struct lstr raw)
{
	struct scrape_cache_item *it;
	size_t i, mask = c->index_cap - 1;
	uint64_t h, e;

	if (c->next < c->nitems) {
		it = scrape_cache_item(c, c->next);
		if (it->keylen == raw.len && (it->flags & SCRAPE_CACHE_USED) &&
		    memcmp(c->keys + it->key, raw.p, raw.len) == 0) {
			c->next++;
			return &it->e;
		}
	}
	h = hash_bytes(raw.p, raw.len, SCRAPE_CACHE_SEED);
	for (i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
		if ((e = c->index[i]) == 0)
			break;
		if ((e >> 32) != (h >> 32))
			continue;
		it = scrape_cache_item(c, (uint32_t)e - 1);
		if (it->keylen == raw.len &&
		    memcmp(c->keys + it->key, raw.p, raw.len) == 0) {
			c->next = (uint32_t)e;
			return &it->e;
		}
	}
	c->miss_p = raw.p;
	c->miss_len = raw.len;
	c->miss_hash = h;
	return NULL;
}

static uint32_t
scrape_cache_item_alloc(struct scrape_cache *c)
{
	uint32_t id;

	if (c->free_item != 0) {
		id = c->free_item - 1;
		c->free_item = scrape_cache_item(c, id)->keylen;
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

	scrape_cache_index_remove(c, (uint64_t)it->hash_hi << 32 | (id + 1));
	c->keys_dead += it->keylen;
	memset(it, 0, sizeof *it);
	it->keylen = c->free_item;
	c->free_item = id + 1;
	c->count--;
}

/* Grow by a quarter: doubling would leave up to half of it unused. */
static uint64_t
scrape_cache_key_add(struct scrape_cache *c, struct lstr raw)
{
	size_t off = c->keys_len;

	if (c->keys == NULL || c->keys_len + raw.len > c->keys_cap) {
		c->keys_cap += c->keys_cap / 4 + 4096;
		if (c->keys_cap < c->keys_len + raw.len)
			c->keys_cap = c->keys_len + raw.len;
		c->keys = xrealloc(c->keys, c->keys_cap);
	}
	if (raw.len != 0)
		memcpy(c->keys + off, raw.p, raw.len);
	c->keys_len += raw.len;
	return off;
}

/* Live keys to a new buffer, in item order (the page's order). */
static void
scrape_cache_key_compact(struct scrape_cache *c)
{
	struct scrape_cache_item *it;
	size_t i, live = c->keys_len - c->keys_dead, off = 0;
	char *keys;

	if (c->keys_dead < SCRAPE_CACHE_DEAD_MIN || c->keys_dead * 2 <
	    c->keys_len)
		return;
	keys = xmalloc(live + live / 8 + 1);
	for (i = 0; i < c->nitems; i++) {
		it = scrape_cache_item(c, (uint32_t)i);
		if (!(it->flags & SCRAPE_CACHE_USED))
			continue;
		if (it->keylen != 0)
			memcpy(keys + off, c->keys + it->key, it->keylen);
		it->key = off;
		off += it->keylen;
	}
	free(c->keys);
	c->keys = keys;
	c->keys_len = off;
	c->keys_cap = live + live / 8 + 1;
	c->keys_dead = 0;
}

struct scrape_cache_entry *
scrape_cache_put(struct scrape_cache *c, struct lstr raw, series_ref ref,
    int dropped)
{
	struct scrape_cache_entry *old;
	struct scrape_cache_item *it;
	uint64_t h;
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
	h = c->miss_hash;
	c->miss_p = NULL;
	c->miss_len = 0;

	scrape_cache_index_grow(c);
	id = scrape_cache_item_alloc(c);
	it = scrape_cache_item(c, id);
	it->e.ref = ref;
	it->e.dropped = dropped != 0;
	it->e.explicit_ts = 0;
	it->e.last_iter = c->iter;
	it->hash_hi = (uint32_t)(h >> 32);
	it->key = scrape_cache_key_add(c, raw);
	it->keylen = (uint32_t)raw.len;
	it->flags = SCRAPE_CACHE_USED;
	scrape_cache_index_put(c, (h >> 32) << 32 | (id + 1));
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
	return (it->flags & SCRAPE_CACHE_PREV) && !it->e.dropped &&
	    !it->e.explicit_ts && it->e.ref != SERIES_REF_NONE;
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
		if (!(it->flags & SCRAPE_CACHE_USED))
			continue;
		cur = it->e.last_iter == c->iter;
		if (!cur && scrape_cache_reportable(it))
			scrape_cache_push(&c->stale, &c->nstale,
			    &c->stale_cap, it->e.ref);
		if (cur)
			it->flags |= SCRAPE_CACHE_PREV;
		else
			it->flags &= ~SCRAPE_CACHE_PREV;
		if (c->iter - it->e.last_iter > SCRAPE_CACHE_KEEP_ITERS) {
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
			if (!(it->flags & SCRAPE_CACHE_USED) ||
			    it->e.last_iter != c->iter ||
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
	scrape_cache_key_compact(c);
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
		if (!(it->flags & SCRAPE_CACHE_USED))
			continue;
		if (scrape_cache_reportable(it))
			scrape_cache_push(&c->stale, &c->nstale,
			    &c->stale_cap, it->e.ref);
		it->flags &= ~SCRAPE_CACHE_PREV;
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
scrape_cache_key_bytes(const struct scrape_cache *c)
{
	return c->keys_len;
}
