/*
 * The series table: label sets interned to small integer refs.
 *
 * Four structures, sized for many series with few distinct strings:
 *
 *	slots[ref]	{ hash, block, holds }		16 bytes per series
 *	index		open addressing, linear probing, 8-byte entries
 *			(hash >> 32) << 32 | ref; the high hash half is also
 *			the home position, so entries can be deleted by
 *			backward shifting (no tombstones)
 *	pool		chunks of uint32 words; a series' block is
 *			[n, name0, value0, name1, value1, ...] symbol ids,
 *			freed blocks go to a free list per n
 *	symbols		id -> { string, length, refcount }, with their own
 *			index of the same shape; a symbol is freed when the
 *			last series using it is
 *
 * A freed slot keeps holds = SERIES_FREE and links the free list through
 * its block field; refs are reused last-freed first.
 */
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "log.h"
#include "series.h"
#include "xmalloc.h"

#define SERIES_FREE		UINT32_MAX
#define SERIES_CHUNK_SHIFT	14
#define SERIES_CHUNK_WORDS	(1U << SERIES_CHUNK_SHIFT)
#define SERIES_INDEX_MIN	64
#define SERIES_SYM_SEED		0x5bd1e995ULL

struct series_slot {
	uint64_t	hash;
	uint32_t	block;	/* pool offset; free: next free ref */
	uint32_t	holds;
};

struct series_sym {
	char		*str;
	uint32_t	 len;	/* free: next free id */
	uint32_t	 refs;	/* 0: free */
};

struct series_index {
	uint64_t	*v;
	size_t		 cap;	/* power of two */
	size_t		 n;
};

struct series_table {
	struct series_slot	*slots;
	size_t			 nslots;	/* used, including slot 0 */
	size_t			 slots_cap;
	uint32_t		 free_ref;
	size_t			 count;
	size_t			 unheld;
	struct series_index	 index;

	uint32_t		**chunks;	/* pool */
	size_t			 nchunks;
	size_t			 chunks_cap;
	size_t			 chunk_used;	/* words used in the last */
	uint32_t		*free_blocks;	/* by label count */
	size_t			 free_blocks_len;
	size_t			 pool_bytes;

	struct series_sym	*syms;
	size_t			 nsyms;		/* used, including id 0 */
	size_t			 syms_cap;
	uint32_t		 free_sym;
	struct series_index	 sym_index;
	size_t			 sym_bytes;
};

static void
series_index_init(struct series_index *ix)
{
	ix->cap = SERIES_INDEX_MIN;
	ix->n = 0;
	ix->v = xcalloc(ix->cap, sizeof *ix->v);
}

static inline size_t
series_index_home(const struct series_index *ix, uint64_t entry)
{
	return (size_t)(entry >> 32) & (ix->cap - 1);
}

static void
series_index_put(struct series_index *ix, uint64_t entry)
{
	size_t i = series_index_home(ix, entry);

	while (ix->v[i] != 0)
		i = (i + 1) & (ix->cap - 1);
	ix->v[i] = entry;
	ix->n++;
}

/* Keep the load at or below 3/4: linear probing degrades past that. */
static void
series_index_grow(struct series_index *ix)
{
	uint64_t *old = ix->v;
	size_t i, oldcap = ix->cap;

	if ((ix->n + 1) * 4 <= ix->cap * 3)
		return;
	ix->cap *= 2;
	ix->v = xcalloc(ix->cap, sizeof *ix->v);
	ix->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i] != 0)
			series_index_put(ix, old[i]);
	}
	free(old);
}

/* Remove the entry at position i, shifting later entries of its run. */
static void
series_index_delete(struct series_index *ix, size_t i)
{
	size_t j = i, mask = ix->cap - 1, home;

	for (;;) {
		j = (j + 1) & mask;
		if (ix->v[j] == 0)
			break;
		home = series_index_home(ix, ix->v[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			ix->v[i] = ix->v[j];
			i = j;
		}
	}
	ix->v[i] = 0;
	ix->n--;
}

static void
series_index_remove(struct series_index *ix, uint64_t entry)
{
	size_t i = series_index_home(ix, entry);

	while (ix->v[i] != entry) {
		if (ix->v[i] == 0)
			return;
		i = (i + 1) & (ix->cap - 1);
	}
	series_index_delete(ix, i);
}

/* ---- symbols ---------------------------------------------------------- */

static uint32_t
series_sym_intern(struct series_table *t, struct lstr s)
{
	struct series_index *ix = &t->sym_index;
	uint64_t h = hash_bytes(s.p, s.len, SERIES_SYM_SEED), e;
	struct series_sym *sym;
	size_t i;
	uint32_t id;

	for (i = series_index_home(ix, h);; i = (i + 1) & (ix->cap - 1)) {
		if ((e = ix->v[i]) == 0)
			break;
		if ((e >> 32) != (h >> 32))
			continue;
		sym = &t->syms[(uint32_t)e];
		if (sym->len == s.len && memcmp(sym->str, s.p, s.len) == 0) {
			sym->refs++;
			return (uint32_t)e;
		}
	}

	if (t->free_sym != 0) {
		id = t->free_sym;
		t->free_sym = t->syms[id].len;
	} else {
		if (t->nsyms == t->syms_cap) {
			t->syms_cap = t->syms_cap * 2;
			t->syms = xreallocarray(t->syms, t->syms_cap,
			    sizeof *t->syms);
		}
		id = (uint32_t)t->nsyms++;
	}
	sym = &t->syms[id];
	sym->str = xmalloc(s.len + 1);
	if (s.len != 0)
		memcpy(sym->str, s.p, s.len);
	sym->str[s.len] = '\0';
	sym->len = (uint32_t)s.len;
	sym->refs = 1;
	t->sym_bytes += s.len + 1;
	series_index_grow(ix);
	series_index_put(ix, (h >> 32) << 32 | id);
	return id;
}

static void
series_sym_release(struct series_table *t, uint32_t id)
{
	struct series_sym *sym = &t->syms[id];
	uint64_t h;

	if (--sym->refs != 0)
		return;
	h = hash_bytes(sym->str, sym->len, SERIES_SYM_SEED);
	series_index_remove(&t->sym_index, (h >> 32) << 32 | id);
	t->sym_bytes -= sym->len + 1;
	free(sym->str);
	sym->str = NULL;
	sym->len = t->free_sym;
	t->free_sym = id;
}

static inline struct lstr
series_sym_str(const struct series_table *t, uint32_t id)
{
	return (struct lstr){ t->syms[id].str, t->syms[id].len };
}

/* ---- label blocks ----------------------------------------------------- */

static inline uint32_t *
series_block(const struct series_table *t, uint32_t off)
{
	return t->chunks[off >> SERIES_CHUNK_SHIFT] +
	    (off & (SERIES_CHUNK_WORDS - 1));
}

/*
 * A block of 1 + 2n words. Huge label sets get chunks of their own that
 * take several chunk numbers, so offsets stay plain 32-bit numbers.
 */
static uint32_t
series_block_alloc(struct series_table *t, size_t n)
{
	size_t words = n == 0 ? 2 : 1 + 2 * n, span, i;
	uint32_t off, *b;

	if (n < t->free_blocks_len && t->free_blocks[n] != 0) {
		off = t->free_blocks[n] - 1;
		t->free_blocks[n] = series_block(t, off)[1];
		return off;
	}
	if (t->nchunks == 0 || t->chunk_used + words > SERIES_CHUNK_WORDS) {
		span = (words + SERIES_CHUNK_WORDS - 1) / SERIES_CHUNK_WORDS;
		if (t->nchunks + span > t->chunks_cap) {
			t->chunks_cap = (t->nchunks + span) * 2;
			t->chunks = xreallocarray(t->chunks, t->chunks_cap,
			    sizeof *t->chunks);
		}
		t->chunks[t->nchunks] = xreallocarray(NULL, span *
		    SERIES_CHUNK_WORDS, sizeof **t->chunks);
		t->pool_bytes += span * SERIES_CHUNK_WORDS * sizeof **t->chunks;
		for (i = 1; i < span; i++)
			t->chunks[t->nchunks + i] = NULL;
		t->nchunks += span;
		t->chunk_used = span > 1 ? SERIES_CHUNK_WORDS : 0;
		if (span > 1)
			return (uint32_t)((t->nchunks - span) <<
			    SERIES_CHUNK_SHIFT);
	}
	off = (uint32_t)(((t->nchunks - 1) << SERIES_CHUNK_SHIFT) +
	    t->chunk_used);
	t->chunk_used += words;
	b = series_block(t, off);
	b[0] = 0;
	return off;
}

/*
 * Free blocks are linked through their second word (offset + 1, so that 0
 * ends the list); the first word keeps n.
 */
static void
series_block_free(struct series_table *t, uint32_t off, size_t n)
{
	size_t len;

	if (n >= t->free_blocks_len) {
		len = n + 8;
		t->free_blocks = xreallocarray(t->free_blocks, len,
		    sizeof *t->free_blocks);
		memset(t->free_blocks + t->free_blocks_len, 0,
		    (len - t->free_blocks_len) * sizeof *t->free_blocks);
		t->free_blocks_len = len;
	}
	series_block(t, off)[1] = t->free_blocks[n];
	t->free_blocks[n] = off + 1;
}

/* ---- the table -------------------------------------------------------- */

struct series_table *
series_table_create(void)
{
	struct series_table *t;

	t = xcalloc(1, sizeof *t);
	t->slots_cap = 64;
	t->slots = xcalloc(t->slots_cap, sizeof *t->slots);
	t->nslots = 1;			/* ref 0 is never used */
	series_index_init(&t->index);
	t->syms_cap = 64;
	t->syms = xcalloc(t->syms_cap, sizeof *t->syms);
	t->nsyms = 1;
	series_index_init(&t->sym_index);
	return t;
}

void
series_table_free(struct series_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 1; i < t->nsyms; i++)
		free(t->syms[i].str);
	for (i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->free_blocks);
	free(t->syms);
	free(t->sym_index.v);
	free(t->slots);
	free(t->index.v);
	free(t);
}

static int
series_slot_equal(const struct series_table *t, const struct series_slot *s,
    const struct labels *ls)
{
	const uint32_t *b = series_block(t, s->block);
	size_t i;

	if (b[0] != ls->n)
		return 0;
	for (i = 0; i < ls->n; i++) {
		if (!lstr_eq(series_sym_str(t, b[1 + 2 * i]),
		    ls->v[i].name) ||
		    !lstr_eq(series_sym_str(t, b[2 + 2 * i]),
		    ls->v[i].value))
			return 0;
	}
	return 1;
}

series_ref
series_lookup(struct series_table *t, const struct labels *ls, uint64_t hash)
{
	const struct series_index *ix = &t->index;
	uint64_t e;
	size_t i;

	for (i = series_index_home(ix, hash);; i = (i + 1) & (ix->cap - 1)) {
		if ((e = ix->v[i]) == 0)
			return SERIES_REF_NONE;
		if ((e >> 32) == (hash >> 32) &&
		    t->slots[(uint32_t)e].hash == hash &&
		    series_slot_equal(t, &t->slots[(uint32_t)e], ls))
			return (series_ref)e;
	}
}

series_ref
series_get_or_add(struct series_table *t, const struct labels *ls,
    uint64_t hash, int *created)
{
	struct series_slot *s;
	series_ref ref;
	uint32_t *b, off;
	size_t i;

	if ((ref = series_lookup(t, ls, hash)) != SERIES_REF_NONE) {
		series_hold(t, ref);
		if (created != NULL)
			*created = 0;
		return ref;
	}

	if (t->free_ref != 0) {
		ref = t->free_ref;
		t->free_ref = t->slots[ref].block;
	} else {
		if (t->nslots == t->slots_cap) {
			t->slots_cap *= 2;
			t->slots = xreallocarray(t->slots, t->slots_cap,
			    sizeof *t->slots);
		}
		ref = (series_ref)t->nslots++;
	}
	off = series_block_alloc(t, ls->n);
	b = series_block(t, off);
	b[0] = (uint32_t)ls->n;
	for (i = 0; i < ls->n; i++) {
		b[1 + 2 * i] = series_sym_intern(t, ls->v[i].name);
		b[2 + 2 * i] = series_sym_intern(t, ls->v[i].value);
	}
	s = &t->slots[ref];
	s->hash = hash;
	s->block = off;
	s->holds = 1;
	series_index_grow(&t->index);
	series_index_put(&t->index, (hash >> 32) << 32 | ref);
	t->count++;
	if (created != NULL)
		*created = 1;
	return ref;
}

static int
series_valid(const struct series_table *t, series_ref ref)
{
	return ref != SERIES_REF_NONE && ref < t->nslots &&
	    t->slots[ref].holds != SERIES_FREE;
}

void
series_hold(struct series_table *t, series_ref ref)
{
	struct series_slot *s;

	if (!series_valid(t, ref)) {
		log_error("series hold of a free ref", "ref=%u", ref);
		return;
	}
	s = &t->slots[ref];
	if (s->holds++ == 0)
		t->unheld--;
}

void
series_release(struct series_table *t, series_ref ref)
{
	struct series_slot *s;

	if (!series_valid(t, ref) || t->slots[ref].holds == 0) {
		log_error("series release of an unheld ref", "ref=%u", ref);
		return;
	}
	s = &t->slots[ref];
	if (--s->holds == 0)
		t->unheld++;
}

void
series_labels(struct series_table *t, series_ref ref, struct labels *ls)
{
	const uint32_t *b;
	size_t i;

	labels_reset(ls);
	if (!series_valid(t, ref))
		return;
	b = series_block(t, t->slots[ref].block);
	for (i = 0; i < b[0]; i++)
		labels_push(ls, series_sym_str(t, b[1 + 2 * i]),
		    series_sym_str(t, b[2 + 2 * i]));
}

uint64_t
series_hash(struct series_table *t, series_ref ref)
{
	return series_valid(t, ref) ? t->slots[ref].hash : 0;
}

size_t
series_gc(struct series_table *t, void (*cb)(series_ref, void *), void *arg)
{
	struct series_slot *s;
	uint32_t *b, n;
	size_t ref, i, freed = 0;

	if (t->unheld == 0)
		return 0;
	for (ref = 1; ref < t->nslots && t->unheld != 0; ref++) {
		s = &t->slots[ref];
		if (s->holds != 0)
			continue;
		if (cb != NULL)
			cb((series_ref)ref, arg);
		series_index_remove(&t->index,
		    (s->hash >> 32) << 32 | (uint32_t)ref);
		b = series_block(t, s->block);
		n = b[0];
		for (i = 0; i < n; i++) {
			series_sym_release(t, b[1 + 2 * i]);
			series_sym_release(t, b[2 + 2 * i]);
		}
		series_block_free(t, s->block, n);
		s->holds = SERIES_FREE;
		s->hash = 0;
		s->block = t->free_ref;
		t->free_ref = (uint32_t)ref;
		t->unheld--;
		t->count--;
		freed++;
	}
	return freed;
}

size_t
series_count(const struct series_table *t)
{
	return t->count;
}

size_t
series_mem_bytes(const struct series_table *t, size_t *strings)
{
	size_t table;

	table = sizeof *t + t->slots_cap * sizeof *t->slots +
	    t->index.cap * sizeof *t->index.v + t->pool_bytes +
	    t->chunks_cap * sizeof *t->chunks +
	    t->free_blocks_len * sizeof *t->free_blocks;
	if (strings != NULL)
		*strings = t->sym_bytes + t->syms_cap * sizeof *t->syms +
		    t->sym_index.cap * sizeof *t->sym_index.v;
	return table;
}
