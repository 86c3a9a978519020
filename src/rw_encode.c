/* Hand-rolled protobuf encoding of remote write 1.0 requests. */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "rw_encode.h"
#include "xmalloc.h"

/* Protobuf wire types. */
#define RW_WT_VARINT	0
#define RW_WT_FIXED64	1
#define RW_WT_LEN	2
#define RW_TAG(field, wt)	(((field) << 3) | (wt))

static size_t
rw_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void
rw_put_string(struct buf *b, unsigned field, struct lstr s)
{
	buf_putc(b, (char)RW_TAG(field, RW_WT_LEN));
	buf_put_varint(b, s.len);
	buf_append(b, s.p, s.len);
}

/* v as a varint at o; returns the end. */
static inline unsigned char *
rw_put_varint(unsigned char *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*o++ = (unsigned char)v;
	return o;
}

/* A string field at o; returns the end. */
static inline unsigned char *
rw_put_bytes(unsigned char *o, unsigned field, struct lstr s)
{
	*o++ = (unsigned char)RW_TAG(field, RW_WT_LEN);
	o = rw_put_varint(o, s.len);
	memcpy(o, s.p, s.len);
	return o + s.len;
}

void
rw_encode_metadata(struct buf *req, int type, struct lstr family,
    struct lstr help, struct lstr unit)
{
	unsigned char *o;
	size_t len;

	len = 1 + rw_varint_len(family.len) + family.len;
	if (type != 0)
		len += 1 + rw_varint_len((uint64_t)type);
	if (help.len != 0)
		len += 1 + rw_varint_len(help.len) + help.len;
	if (unit.len != 0)
		len += 1 + rw_varint_len(unit.len) + unit.len;
	/* Every page's families pass here: one reservation, no buf calls. */
	buf_reserve(req, 1 + 10 + len);
	o = (unsigned char *)req->data + req->len;
	*o++ = RW_TAG(3, RW_WT_LEN);
	o = rw_put_varint(o, len);
	if (type != 0) {
		*o++ = RW_TAG(1, RW_WT_VARINT);
		o = rw_put_varint(o, (uint64_t)type);
	}
	o = rw_put_bytes(o, 2, family);
	if (help.len != 0)
		o = rw_put_bytes(o, 4, help);
	if (unit.len != 0)
		o = rw_put_bytes(o, 5, unit);
	req->len = (size_t)((char *)o - req->data);
}

/* ---- interned label pairs -------------------------------------------- */

struct rw_pair {
	uint64_t	 hash;
	char		*enc;		/* NULL: free slot, next free in refs */
	uint32_t	 len;
	uint32_t	 refs;
};

struct rw_pairs {
	struct rw_pair	*v;
	size_t		 nv;
	size_t		 cap;
	uint32_t	 free_id;	/* UINT32_MAX: none */
	size_t		 live;
	uint32_t	*index;		/* id + 1; 0 empty */
	size_t		 index_cap;	/* power of two */
	struct buf	 key;		/* the pair being looked up */
	/* The last timestamp's varint: a scrape's samples share it. */
	int64_t		 ts;
	unsigned char	 ts_enc[10];
	size_t		 ts_len;
};

#define RW_PAIRS_NONE	UINT32_MAX
/* Pairs are stored and copied in blocks of this many bytes. */
#define RW_PAIR_BLOCK		32
#define RW_PAIR_ROUND(n)	(((n) + RW_PAIR_BLOCK - 1) & \
				    ~(size_t)(RW_PAIR_BLOCK - 1))

struct rw_pairs *
rw_pairs_new(void)
{
	struct rw_pairs *p = xcalloc(1, sizeof *p);

	p->free_id = RW_PAIRS_NONE;
	p->index_cap = 256;
	p->index = xcalloc(p->index_cap, sizeof *p->index);
	return p;
}

void
rw_pairs_free(struct rw_pairs *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nv; i++)
		free(p->v[i].enc);
	free(p->v);
	free(p->index);
	buf_free(&p->key);
	free(p);
}

size_t
rw_pairs_count(const struct rw_pairs *p)
{
	return p->live;
}

const char *
rw_pairs_get(const struct rw_pairs *p, uint32_t id, size_t *len)
{
	*len = p->v[id].len;
	return p->v[id].enc;
}

static void
rw_pairs_index_put(uint32_t *index, size_t cap, uint64_t hash, uint32_t id)
{
	size_t i = (size_t)hash & (cap - 1);

	while (index[i] != 0)
		i = (i + 1) & (cap - 1);
	index[i] = id + 1;
}

static void
rw_pairs_grow(struct rw_pairs *p)
{
	size_t i, ncap = p->index_cap * 2;
	uint32_t *ni = xcalloc(ncap, sizeof *ni);

	for (i = 0; i < p->index_cap; i++) {
		if (p->index[i] != 0)
			rw_pairs_index_put(ni, ncap,
			    p->v[p->index[i] - 1].hash, p->index[i] - 1);
	}
	free(p->index);
	p->index = ni;
	p->index_cap = ncap;
}

uint32_t
rw_pairs_intern(struct rw_pairs *p, struct lstr name, struct lstr value)
{
	struct buf *b = &p->key;
	struct rw_pair *e;
	uint64_t h;
	size_t i, len;
	uint32_t id;

	len = 1 + rw_varint_len(name.len) + name.len + 1 +
	    rw_varint_len(value.len) + value.len;
	buf_reset(b);
	buf_reserve(b, 1 + 10 + len);
	buf_putc(b, (char)RW_TAG(1, RW_WT_LEN));
	buf_put_varint(b, len);
	rw_put_string(b, 1, name);
	rw_put_string(b, 2, value);
	h = hash_bytes(b->data, b->len, 0);

	for (i = (size_t)h & (p->index_cap - 1); p->index[i] != 0;
	    i = (i + 1) & (p->index_cap - 1)) {
		e = &p->v[p->index[i] - 1];
		if (e->hash == h && e->len == b->len &&
		    memcmp(e->enc, b->data, b->len) == 0) {
			e->refs++;
			return p->index[i] - 1;
		}
	}
	if (p->free_id != RW_PAIRS_NONE) {
		id = p->free_id;
		p->free_id = p->v[id].refs;
	} else {
		if (p->nv == p->cap) {
			p->cap = p->cap == 0 ? 256 : p->cap * 2;
			p->v = xreallocarray(p->v, p->cap, sizeof *p->v);
		}
		id = (uint32_t)p->nv++;
	}
	e = &p->v[id];
	e->hash = h;
	e->len = (uint32_t)b->len;
	/* Whole blocks: rw_encode_sample_pairs copies blocks. */
	e->enc = xcalloc(1, RW_PAIR_ROUND(b->len));
	memcpy(e->enc, b->data, b->len);
	e->refs = 1;
	p->live++;
	/* Load factor at most one half: probes stay short. */
	if (p->live * 2 > p->index_cap)
		rw_pairs_grow(p);
	rw_pairs_index_put(p->index, p->index_cap, h, id);
	return id;
}

void
rw_pairs_release(struct rw_pairs *p, uint32_t id)
{
	struct rw_pair *e = &p->v[id];
	size_t i, j, k, mask = p->index_cap - 1;

	if (--e->refs > 0)
		return;
	for (i = (size_t)e->hash & mask; p->index[i] != id + 1;
	    i = (i + 1) & mask)
		;
	/*
	 * Backward-shift deletion: move up any entry of the run after i
	 * whose home slot does not lie in (i, j], so that no lookup ever
	 * stops early at the hole.
	 */
	p->index[i] = 0;
	for (j = (i + 1) & mask; p->index[j] != 0; j = (j + 1) & mask) {
		k = (size_t)p->v[p->index[j] - 1].hash & mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		p->index[i] = p->index[j];
		p->index[j] = 0;
		i = j;
	}
	free(e->enc);
	e->enc = NULL;
	e->len = 0;
	e->refs = p->free_id;
	p->free_id = id;
	p->live--;
}

uint8_t *
rw_ids_put(uint8_t *o, uint32_t id)
{
	return rw_put_varint(o, id);
}

/*
 * Called for every sample sent: the room is reserved once and the bytes
 * written through a pointer, rather than a buf call (and its checks) per
 * label and per byte of framing.
 */
void
rw_encode_sample_pairs(struct buf *req, struct rw_pairs *p,
    const uint8_t *ids, size_t nb, size_t labels_len, double value,
    int64_t ts_ms)
{
	const uint8_t *q = ids, *end = ids + nb;
	size_t sample_len, series_len;
	unsigned char *o;
	uint64_t bits;
	uint32_t k;

	/* A zero timestamp is still written: proto3 would elide it, but the
	 * decoder reads both forms the same and this keeps the code flat. */
	if (p->ts_len == 0 || ts_ms != p->ts) {
		p->ts = ts_ms;
		p->ts_len = (size_t)(rw_put_varint(p->ts_enc,
		    (uint64_t)ts_ms) - p->ts_enc);
	}
	sample_len = 1 + 8 + 1 + p->ts_len;
	series_len = labels_len + 1 + 1 + sample_len;
	/* A block more: a pair's last block may run past its end. */
	buf_reserve(req, 1 + 10 + series_len + RW_PAIR_BLOCK);
	o = (unsigned char *)req->data + req->len;
	*o++ = RW_TAG(1, RW_WT_LEN);
	o = rw_put_varint(o, series_len);
	while (q < end) {
		const struct rw_pair *pr = &p->v[rw_ids_get(&q)];

		for (k = 0; k < pr->len; k += RW_PAIR_BLOCK)
			memcpy(o + k, pr->enc + k, RW_PAIR_BLOCK);
		o += pr->len;
	}
	*o++ = RW_TAG(2, RW_WT_LEN);
	*o++ = (unsigned char)sample_len;	/* at most 20 */
	*o++ = RW_TAG(1, RW_WT_FIXED64);
	memcpy(&bits, &value, sizeof bits);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(o, &bits, 8);
	o += 8;
#else
	for (k = 0; k < 8; k++)
		*o++ = (unsigned char)(bits >> (8 * k));
#endif
	*o++ = RW_TAG(2, RW_WT_VARINT);
	memcpy(o, p->ts_enc, p->ts_len);
	o += p->ts_len;
	req->len = (size_t)((char *)o - req->data);
	req->data[req->len] = '\0';
}

#define RW_BODY_ROOM	5	/* the longest varint of a 32-bit length */

void
rw_body_begin(struct rw_body *b)
{
	buf_reset(&b->out);
	buf_reserve(&b->out, RW_BODY_ROOM);
	b->out.len = RW_BODY_ROOM;
	b->raw = 0;
	b->start = 0;
}

void
rw_body_add(struct rw_body *b, struct buf *frag)
{
	size_t n, skip = 1;
	char *at;

	if (frag->len == 0)
		return;
	n = snappy_max_compressed_length(frag->len);
	buf_reserve(&b->out, n);
	at = b->out.data + b->out.len;
	if (snappy_compress(frag->data, frag->len, at, &n) != SNAPPY_OK)
		fatalx("snappy compression failed", NULL);
	/* Drop the fragment's own length: one covers the whole body. */
	while ((unsigned char)at[skip - 1] & 0x80)
		skip++;
	memmove(at, at + skip, n - skip);
	b->out.len += n - skip;
	b->out.data[b->out.len] = '\0';
	b->raw += frag->len;
	buf_reset(frag);
}

void
rw_body_finish(struct rw_body *b)
{
	unsigned char v[RW_BODY_ROOM];
	size_t n = 0, raw = b->raw;

	do {
		v[n++] = (unsigned char)(raw >= 0x80 ? (raw | 0x80) : raw);
		raw >>= 7;
	} while (raw != 0 && n < RW_BODY_ROOM);
	b->start = RW_BODY_ROOM - n;
	memcpy(b->out.data + b->start, v, n);
}
