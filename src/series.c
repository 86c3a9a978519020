/*
 * The series table: label sets interned to small integer refs.
 *
 * Four structures, sized for many series with few distinct strings:
 *
 *	slots[ref]	{ hash >> 32, block, holds }		12 bytes a series
 *	index		open addressing, linear probing, uint32 refs, at
 *			most 3/4 full; an entry's home is its slot's hash,
 *			so entries can be deleted by backward shifting (no
 *			tombstones)
 *	pool		chunks of bytes; a series' block is
 *			varint n, varint name0, varint value0, ...
 *			(symbol ids), rounded up to 4 bytes; freed blocks go
 *			to a free list per size
 *	symbols		id -> { string, length, refcount }, with their own
 *			index of 8-byte entries (hash >> 32) << 32 | id; a
 *			symbol is freed when the last series using it is
 *
 * Most symbol ids take one or two bytes, so a label costs 2 to 4 bytes
 * rather than 8, and the index holds only refs: a series of six labels
 * is about 12 + 10 + 20 bytes (it was 16 + 21 + 52).
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
#define SERIES_CHUNK_SHIFT	16
#define SERIES_CHUNK_BYTES	(1U << SERIES_CHUNK_SHIFT)
#define SERIES_INDEX_MIN	64
#define SERIES_SYM_SEED		0x5bd1e995ULL
/* A block's size: its bytes rounded up to this. */
#define SERIES_BLOCK_ALIGN	4

struct series_slot {
	uint32_t	hash;	/* high half of the label hash */
	uint32_t	block;	/* pool offset; free: next free ref */
	uint32_t	holds;
};

struct series_sym {
	char		*str;
	uint32_t	 len;	/* free: next free id */
	uint32_t	 refs;	/* 0: free */
};

/* The symbol index: (hash >> 32) << 32 | id. */
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
	uint32_t		*index;		/* refs; 0 empty */
	size_t			 index_cap;	/* power of two */

	unsigned char		**chunks;	/* pool */
	size_t			 nchunks;
	size_t			 chunks_cap;
	size_t			 chunk_used;	/* bytes used in the last */
	uint32_t		*free_blocks;	/* by size / ALIGN, off + 1 */
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

/* ---- the ref index ---------------------------------------------------- */

static inline size_t
series_rindex_home(const struct series_table *t, uint32_t ref)
{
	return (size_t)t->slots[ref].hash & (t->index_cap - 1);
}

static void
series_rindex_put(struct series_table *t, uint32_t ref)
{
	size_t i = series_rindex_home(t, ref);

	while (t->index[i] != 0)
		i = (i + 1) & (t->index_cap - 1);
	t->index[i] = ref;
}

static void
series_rindex_grow(struct series_table *t)
{
	uint32_t *old = t->index;
	size_t i, oldcap = t->index_cap;

	if ((t->count + 1) * 4 <= t->index_cap * 3)
		return;
	t->index_cap *= 2;
	t->index = xcalloc(t->index_cap, sizeof *t->index);
	for (i = 0; i < oldcap; i++) {
		if (old[i] != 0)
			series_rindex_put(t, old[i]);
	}
	free(old);
}

static void
series_rindex_remove(struct series_table *t, uint32_t ref)
{
	size_t i = series_rindex_home(t, ref), j, mask = t->index_cap - 1;
	size_t home;

	while (t->index[i] != ref) {
		if (t->index[i] == 0)
			return;
		i = (i + 1) & mask;
	}
	for (j = i;;) {
		j = (j + 1) & mask;
		if (t->index[j] == 0)
			break;
		home = series_rindex_home(t, t->index[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->index[i] = t->index[j];
			i = j;
		}
	}
	t->index[i] = 0;
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

static inline unsigned char *
series_block(const struct series_table *t, uint32_t off)
{
	return t->chunks[off >> SERIES_CHUNK_SHIFT] +
	    (off & (SERIES_CHUNK_BYTES - 1));
}

static inline size_t
series_varint_len(uint32_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline unsigned char *
series_put_varint(unsigned char *o, uint32_t v)
{
	while (v >= 0x80) {
		*o++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*o++ = (unsigned char)v;
	return o;
}

/* Blocks are only ever written here, so no bounds are needed. */
static inline const unsigned char *
series_get_varint(const unsigned char *p, uint32_t *v)
{
	uint32_t x = 0;
	unsigned shift = 0;

	while (*p & 0x80) {
		x |= (uint32_t)(*p++ & 0x7f) << shift;
		shift += 7;
	}
	*v = x | (uint32_t)*p++ << shift;
	return p;
}

/* The block's size in the pool, from its contents. */
static size_t
series_block_size(const struct series_table *t, uint32_t off)
{
	const unsigned char *b = series_block(t, off), *p;
	uint32_t n, id, i;

	p = series_get_varint(b, &n);
	for (i = 0; i < 2 * n; i++)
		p = series_get_varint(p, &id);
	return ((size_t)(p - b) + SERIES_BLOCK_ALIGN - 1) &
	    ~(size_t)(SERIES_BLOCK_ALIGN - 1);
}

/*
 * A block of size bytes (a multiple of ALIGN). Huge label sets get chunks
 * of their own that take several chunk numbers, so offsets stay plain
 * 32-bit numbers.
 */
static uint32_t
series_block_alloc(struct series_table *t, size_t size)
{
	size_t cls = size / SERIES_BLOCK_ALIGN, span, i;
	uint32_t off, next;

	if (cls < t->free_blocks_len && t->free_blocks[cls] != 0) {
		off = t->free_blocks[cls] - 1;
		memcpy(&next, series_block(t, off), sizeof next);
		t->free_blocks[cls] = next;
		return off;
	}
	if (t->nchunks == 0 || t->chunk_used + size > SERIES_CHUNK_BYTES) {
		span = (size + SERIES_CHUNK_BYTES - 1) / SERIES_CHUNK_BYTES;
		if (t->nchunks + span > t->chunks_cap) {
			t->chunks_cap = (t->nchunks + span) * 2;
			t->chunks = xreallocarray(t->chunks, t->chunks_cap,
			    sizeof *t->chunks);
		}
		t->chunks[t->nchunks] = xmalloc(span * SERIES_CHUNK_BYTES);
		t->pool_bytes += span * SERIES_CHUNK_BYTES;
		for (i = 1; i < span; i++)
			t->chunks[t->nchunks + i] = NULL;
		t->nchunks += span;
		t->chunk_used = span > 1 ? SERIES_CHUNK_BYTES : 0;
		if (span > 1)
			return (uint32_t)((t->nchunks - span) <<
			    SERIES_CHUNK_SHIFT);
	}
	off = (uint32_t)(((t->nchunks - 1) << SERIES_CHUNK_SHIFT) +
	    t->chunk_used);
	t->chunk_used += size;
	return off;
}

/* Free blocks are linked through their first 4 bytes (offset + 1). */
static void
series_block_free(struct series_table *t, uint32_t off, size_t size)
{
	size_t cls = size / SERIES_BLOCK_ALIGN, len;

	if (cls >= t->free_blocks_len) {
		len = cls + 8;
		t->free_blocks = xreallocarray(t->free_blocks, len,
		    sizeof *t->free_blocks);
		memset(t->free_blocks + t->free_blocks_len, 0,
		    (len - t->free_blocks_len) * sizeof *t->free_blocks);
		t->free_blocks_len = len;
	}
	memcpy(series_block(t, off), &t->free_blocks[cls],
	    sizeof t->free_blocks[cls]);
	t->free_blocks[cls] = off + 1;
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
	t->index_cap = SERIES_INDEX_MIN;
	t->index = xcalloc(t->index_cap, sizeof *t->index);
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
	free(t->index);
	free(t);
}

static int
series_slot_equal(const struct series_table *t, const struct series_slot *s,
    const struct labels *ls)
{
	const unsigned char *p = series_block(t, s->block);
	uint32_t n, name, value;
	size_t i;

	p = series_get_varint(p, &n);
	if (n != ls->n)
		return 0;
	for (i = 0; i < ls->n; i++) {
		p = series_get_varint(p, &name);
		p = series_get_varint(p, &value);
		if (!lstr_eq(series_sym_str(t, name), ls->v[i].name) ||
		    !lstr_eq(series_sym_str(t, value), ls->v[i].value))
			return 0;
	}
	return 1;
}

series_ref
series_lookup(struct series_table *t, const struct labels *ls, uint64_t hash)
{
	uint32_t h = (uint32_t)(hash >> 32), ref;
	size_t i, mask = t->index_cap - 1;

	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		if ((ref = t->index[i]) == 0)
			return SERIES_REF_NONE;
		if (t->slots[ref].hash == h &&
		    series_slot_equal(t, &t->slots[ref], ls))
			return ref;
	}
}

series_ref
series_get_or_add(struct series_table *t, const struct labels *ls,
    uint64_t hash, int *created)
{
	struct series_slot *s;
	series_ref ref;
	unsigned char *o;
	uint32_t off, *ids;
	size_t i, size;

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
			/* By a quarter: doubling would leave up to half
			 * of the slots unused for good. */
			t->slots_cap += t->slots_cap / 4;
			t->slots = xreallocarray(t->slots, t->slots_cap,
			    sizeof *t->slots);
		}
		ref = (series_ref)t->nslots++;
	}
	ids = xreallocarray(NULL, 2 * ls->n + 1, sizeof *ids);
	size = series_varint_len((uint32_t)ls->n);
	for (i = 0; i < ls->n; i++) {
		ids[2 * i] = series_sym_intern(t, ls->v[i].name);
		ids[2 * i + 1] = series_sym_intern(t, ls->v[i].value);
		size += series_varint_len(ids[2 * i]) +
		    series_varint_len(ids[2 * i + 1]);
	}
	size = (size + SERIES_BLOCK_ALIGN - 1) &
	    ~(size_t)(SERIES_BLOCK_ALIGN - 1);
	off = series_block_alloc(t, size);
	o = series_put_varint(series_block(t, off), (uint32_t)ls->n);
	for (i = 0; i < 2 * ls->n; i++)
		o = series_put_varint(o, ids[i]);
	free(ids);
	s = &t->slots[ref];
	s->hash = (uint32_t)(hash >> 32);
	s->block = off;
	s->holds = 1;
	t->count++;
	series_rindex_grow(t);
	series_rindex_put(t, ref);
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
	const unsigned char *p;
	uint32_t n, name, value, i;

	labels_reset(ls);
	if (!series_valid(t, ref))
		return;
	p = series_get_varint(series_block(t, t->slots[ref].block), &n);
	for (i = 0; i < n; i++) {
		p = series_get_varint(p, &name);
		p = series_get_varint(p, &value);
		labels_push(ls, series_sym_str(t, name),
		    series_sym_str(t, value));
	}
}

size_t
series_gc(struct series_table *t, void (*cb)(series_ref, void *), void *arg)
{
	struct series_slot *s;
	const unsigned char *p;
	uint32_t n, id, i;
	size_t ref, freed = 0, size;

	if (t->unheld == 0)
		return 0;
	for (ref = 1; ref < t->nslots && t->unheld != 0; ref++) {
		s = &t->slots[ref];
		if (s->holds != 0)
			continue;
		if (cb != NULL)
			cb((series_ref)ref, arg);
		series_rindex_remove(t, (uint32_t)ref);
		size = series_block_size(t, s->block);
		p = series_get_varint(series_block(t, s->block), &n);
		for (i = 0; i < 2 * n; i++) {
			p = series_get_varint(p, &id);
			series_sym_release(t, id);
		}
		series_block_free(t, s->block, size);
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
	    t->index_cap * sizeof *t->index + t->pool_bytes +
	    t->chunks_cap * sizeof *t->chunks +
	    t->free_blocks_len * sizeof *t->free_blocks;
	if (strings != NULL)
		*strings = t->sym_bytes + t->syms_cap * sizeof *t->syms +
		    t->sym_index.cap * sizeof *t->sym_index.v;
	return table;
}
