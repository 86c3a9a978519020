/*
 * WAL record payloads: the bit-packed sample codec, series entries with a
 * per-record string dictionary, and drop lists. Layouts are drawn in
 * wal.h.
 *
 * Why the sample codec looks like this: in a scrape most values are equal
 * to the previous scrape's, or are integers or short decimals (counters,
 * byte gauges, CPU seconds in 1/100 s) that change by a small amount, so
 * "same" costs one bit and a decimal delta a dozen; only noisy floats pay
 * for an xor of the IEEE bits. Refs come in the same order scrape after
 * scrape, so a learned successor predicts them in one bit.
 */
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "wal_int.h"
#include "xmalloc.h"

#define WAL_SCALES	7	/* decimal scales 10^0 .. 10^6 */
/* Bits a decimal window may waste before a narrower one is opened. */
#define WAL_WINDOW_SLACK 6

static const double wal_p10[WAL_SCALES] = {
	1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0
};

/* Width of the value after a prefix of 0..4 one bits (see vl() in wal.h). */
static const unsigned wal_vl_width[5] = { 6, 13, 20, 32, 64 };

uint64_t
wal_zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

int64_t
wal_unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * a + b wrapping, for deltas read from a file: a record whose CRC holds
 * can still carry any delta, and a signed overflow would be undefined.
 * The callers range-check what comes out.
 */
static inline int64_t
wal_add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

int
wal_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	unsigned shift = 0;

	while (p < end && shift < 64) {
		v |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*pp = p;
			*out = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

static uint64_t
wal_bits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof b);
	return b;
}

static double
wal_double(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof v);
	return v;
}

/* Round to nearest (even) for |x| < 2^53 without a libm call. */
static inline double
wal_rint(double x)
{
	const double big = 4503599627370496.0;	/* 2^52 */

	if (x >= big || x <= -big)
		return x;	/* already an integer */
	if (x >= 0)
		return (x + big) - big;
	return (x - big) + big;
}

/* Is v exactly m / 10^k for an integer m with |m| < 2^53? */
static inline int
wal_decimal(double v, unsigned k, int64_t *m)
{
	double x = v * wal_p10[k];

	if (!(x > -9007199254740992.0 && x < 9007199254740992.0))
		return 0;	/* also NaN */
	*m = (int64_t)wal_rint(x);
	return wal_bits((double)*m / wal_p10[k]) == wal_bits(v);
}

/* The integer a value predicts at scale k (any integer is correct). */
static inline int64_t
wal_decimal_pred(double prev, unsigned k)
{
	double x = prev * wal_p10[k];

	if (!(x > -9007199254740992.0 && x < 9007199254740992.0))
		return 0;
	return (int64_t)wal_rint(x);
}

static inline double
wal_state_value(const struct wal_vstate *st)
{
	if (st->mode == 0)
		return (double)(int64_t)st->val;	/* / 1.0 is exact */
	if (st->mode == WAL_MODE_XOR)
		return wal_double(st->val);
	return (double)(int64_t)st->val / wal_p10[st->mode];
}

void
wal_codec_reset(struct wal_codec *c)
{
	if (c->v != NULL)
		memset(c->v, 0, c->cap * sizeof *c->v);
}

void
wal_codec_free(struct wal_codec *c)
{
	free(c->v);
	c->v = NULL;
	c->cap = 0;
}

void
wal_codec_copy(struct wal_codec *dst, const struct wal_codec *src)
{
	wal_codec_free(dst);
	if (src->cap == 0)
		return;
	dst->v = xreallocarray(NULL, src->cap, sizeof *dst->v);
	memcpy(dst->v, src->v, src->cap * sizeof *dst->v);
	dst->cap = src->cap;
}

size_t
wal_codec_mem(const struct wal_codec *c)
{
	return c->cap * sizeof *c->v;
}

static void
wal_codec_grow(struct wal_codec *c, uint32_t ref)
{
	size_t ncap = c->cap == 0 ? 1024 : c->cap;

	/* By a quarter: refs are dense, doubling would waste up to half. */
	while (ncap <= ref)
		ncap += ncap / 4;
	if (ncap > (size_t)WAL_REF_MAX + 1)
		ncap = (size_t)WAL_REF_MAX + 1;
	c->v = xreallocarray(c->v, ncap, sizeof *c->v);
	memset(c->v + c->cap, 0, (ncap - c->cap) * sizeof *c->v);
	c->cap = ncap;
}

/* ---- bit writer ------------------------------------------------------ */

struct wal_bitw {
	uint8_t		*p;	/* next byte; the caller reserved room */
	uint64_t	 acc;	/* low nbits bits pending */
	unsigned	 nbits;
};

static inline __attribute__((always_inline)) void
wal_bitw_put(struct wal_bitw *w, uint64_t v, unsigned n)
{
	uint32_t x;

	/* n <= 32; bits above n are never set by callers. */
	w->acc = (w->acc << n) | v;
	w->nbits += n;
	if (w->nbits >= 32) {
		w->nbits -= 32;
		x = (uint32_t)(w->acc >> w->nbits);
		w->p[0] = (uint8_t)(x >> 24);
		w->p[1] = (uint8_t)(x >> 16);
		w->p[2] = (uint8_t)(x >> 8);
		w->p[3] = (uint8_t)x;
		w->p += 4;
	}
}

static inline __attribute__((always_inline)) void
wal_bitw_put64(struct wal_bitw *w, uint64_t v, unsigned n)
{
	if (n > 32) {
		wal_bitw_put(w, v >> 32, n - 32);
		wal_bitw_put(w, v & 0xffffffffu, 32);
	} else
		wal_bitw_put(w, v, n);
}

static void
wal_bitw_flush(struct wal_bitw *w)
{
	while (w->nbits >= 8) {
		w->nbits -= 8;
		*w->p++ = (uint8_t)(w->acc >> w->nbits);
	}
	if (w->nbits > 0) {
		*w->p++ = (uint8_t)(w->acc << (8 - w->nbits));
		w->nbits = 0;
	}
}

static inline void
wal_bitw_vl(struct wal_bitw *w, uint64_t v)
{
	if (v < (1u << 6))
		wal_bitw_put(w, v, 1 + 6);		/* 0 + 6 bits */
	else if (v < (1u << 13))
		wal_bitw_put(w, (2u << 13) | v, 2 + 13);
	else if (v < (1u << 20))
		wal_bitw_put(w, (6u << 20) | v, 3 + 20);
	else if (v < (1ull << 32)) {
		wal_bitw_put(w, 0xe, 4);
		wal_bitw_put(w, v, 32);
	} else {
		wal_bitw_put(w, 0xf, 4);
		wal_bitw_put64(w, v, 64);
	}
}

/* ---- sample encoder -------------------------------------------------- */

static inline unsigned
wal_bitlen(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

/*
 * A decimal delta d != 0 goes out as zz(d / 2^shift) in width bits. The
 * (shift, width) window is kept while the delta fits it without wasting
 * much; a shift keeps byte counts in 4 KiB pages cheap.
 */
static void
wal_encode_delta(struct wal_bitw *w, struct wal_vstate *st, int64_t d)
{
	unsigned tz = (unsigned)__builtin_ctzll((uint64_t)d), s, need;
	uint64_t x;

	if (st->sig != 0 && tz >= st->lead) {
		x = wal_zz(d >> st->lead);
		need = wal_bitlen(x);
		if (need <= st->sig && st->sig - need <= WAL_WINDOW_SLACK) {
			wal_bitw_put(w, 0x4, 3);	/* 10 0 */
			wal_bitw_put64(w, x, st->sig);
			return;
		}
	}
	s = tz > 31 ? 31 : tz;
	if (st->sig != 0 && s > st->lead)
		s = st->lead;	/* a shift only shrinks: odd deltas come */
	x = wal_zz(d >> s);
	need = wal_bitlen(x);
	wal_bitw_put(w, 0x5, 3);			/* 10 1 */
	wal_bitw_put(w, (s << 6) | (need - 1), 11);
	wal_bitw_put64(w, x, need);
	st->lead = (uint8_t)s;
	st->sig = (uint8_t)need;
}

static void
wal_encode_value(struct wal_bitw *w, struct wal_vstate *st, double v)
{
	uint64_t bits = wal_bits(v), prev, x;
	int64_t m;
	unsigned k, lead, trail, sig;

	if (st->mode != WAL_MODE_XOR) {
		if (wal_decimal(v, st->mode, &m)) {
			if ((uint64_t)m == st->val)
				wal_bitw_put(w, 0, 1);
			else {
				wal_encode_delta(w, st, (int64_t)((uint64_t)m -
				    st->val));
				st->val = (uint64_t)m;
			}
			return;
		}
		prev = wal_bits(wal_state_value(st));
		if (bits == prev) {
			/* m / 10^k near 2^53 need not re-round to m. */
			wal_bitw_put(w, 0, 1);
			return;
		}
	} else {
		prev = st->val;
		if (bits == prev) {
			wal_bitw_put(w, 0, 1);
			return;
		}
	}
	for (k = 0; k < WAL_SCALES; k++) {
		if (k == st->mode || !wal_decimal(v, k, &m))
			continue;
		wal_bitw_put(w, 0xf, 4);
		wal_bitw_put(w, k, 3);
		wal_bitw_vl(w, wal_zz(m - wal_decimal_pred(wal_double(prev),
		    k)));
		st->mode = (uint8_t)k;
		st->val = (uint64_t)m;
		st->sig = 0;
		return;
	}

	/* bits != prev here: a decimal prev would have matched above. */
	if (st->mode != WAL_MODE_XOR)
		st->sig = 0;	/* the window was a decimal one */
	x = bits ^ prev;
	lead = (unsigned)__builtin_clzll(x);
	trail = (unsigned)__builtin_ctzll(x);
	if (lead > 31)
		lead = 31;
	if (st->sig != 0 && lead >= st->lead &&
	    trail >= 64u - st->lead - st->sig) {
		wal_bitw_put(w, 6, 3);
		wal_bitw_put64(w, x >> (64 - st->lead - st->sig), st->sig);
	} else {
		sig = 64 - lead - trail;
		wal_bitw_put(w, 0xe, 4);
		wal_bitw_put(w, (lead << 6) | (sig - 1), 11);
		wal_bitw_put64(w, x >> trail, sig);
		st->lead = (uint8_t)lead;
		st->sig = (uint8_t)sig;
	}
	st->mode = WAL_MODE_XOR;
	st->val = bits;
}

void
wal_samples_encode(struct wal_codec *c, struct buf *out,
    const struct wal_sample *s, size_t n)
{
	struct wal_bitw w;
	struct wal_vstate *prev_st;
	uint32_t max = 0, prev, pred, ref;
	int64_t base_t = s[0].t_ms;
	int same_t = 1, all_pred = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i].ref > max)
			max = s[i].ref;
		if (s[i].t_ms != base_t)
			same_t = 0;
	}
	if (max >= c->cap)
		wal_codec_grow(c, max);
	/*
	 * Checked against the table as it is: if every ref matches, the
	 * updates made while coding only confirm the same predictions.
	 */
	for (i = 1; i < n && all_pred; i++) {
		prev_st = &c->v[s[i - 1].ref];
		pred = prev_st->succ != 0 ? prev_st->succ : s[i - 1].ref + 1;
		all_pred = s[i].ref == pred;
	}

	buf_put_varint(out, n);
	buf_put_varint(out, s[0].ref);
	buf_put_varint(out, wal_zz(base_t));
	buf_putc(out, (char)((same_t ? WAL_SAMPLES_SAME_T : 0) |
	    (all_pred ? WAL_SAMPLES_PRED_REF : 0)));

	/* Worst case per sample: 69 (ref) + 69 (t) + 75 (value) bits. */
	buf_reserve(out, n * 27 + 16);
	w.p = (uint8_t *)out->data + out->len;
	w.acc = 0;
	w.nbits = 0;
	prev = 0;
	for (i = 0; i < n; i++) {
		ref = s[i].ref;
		if (i > 0) {
			prev_st = &c->v[prev];
			pred = prev_st->succ != 0 ? prev_st->succ : prev + 1;
			if (all_pred)
				;
			else if (ref == pred)
				wal_bitw_put(&w, 0, 1);
			else {
				wal_bitw_put(&w, 1, 1);
				wal_bitw_vl(&w, wal_zz((int64_t)ref -
				    (int64_t)pred));
			}
			prev_st->succ = ref;
		}
		if (!same_t) {
			if (s[i].t_ms == base_t)
				wal_bitw_put(&w, 0, 1);
			else {
				wal_bitw_put(&w, 1, 1);
				wal_bitw_vl(&w, wal_zz(s[i].t_ms - base_t));
			}
		}
		wal_encode_value(&w, &c->v[ref], s[i].v);
		prev = ref;
	}
	wal_bitw_flush(&w);
	out->len = (size_t)((char *)w.p - out->data);
	out->data[out->len] = '\0';
}

/* ---- sample decoder -------------------------------------------------- */

static inline __attribute__((always_inline)) void
wal_bitr_refill(struct wal_samples_iter *it)
{
	uint64_t w;

	if (__builtin_expect(it->p > it->end, 0)) {
		/* Past the payload: feed zeros, caught by the end check. */
		it->nbits = 64;
		it->p = it->end + 16;
		return;
	}
	memcpy(&w, it->p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	it->acc |= w >> it->nbits;
	it->p += (63 - it->nbits) >> 3;
	it->nbits |= 56;
}

/* n in 1..56 */
static inline __attribute__((always_inline)) uint64_t
wal_bitr_get(struct wal_samples_iter *it, unsigned n)
{
	uint64_t v;

	if (it->nbits < n)
		wal_bitr_refill(it);
	v = it->acc >> (64 - n);
	it->acc <<= n;
	it->nbits -= n;
	return v;
}

static inline __attribute__((always_inline)) uint64_t
wal_bitr_get64(struct wal_samples_iter *it, unsigned n)
{
	uint64_t hi;

	if (n <= 32)
		return wal_bitr_get(it, n);
	hi = wal_bitr_get(it, n - 32);
	return (hi << 32) | wal_bitr_get(it, 32);
}

/* Leading one bits, at most 4; consumes them and the terminating zero. */
static inline __attribute__((always_inline)) unsigned
wal_bitr_ones(struct wal_samples_iter *it)
{
	unsigned ones;

	if (it->nbits < 4)
		wal_bitr_refill(it);
	ones = (unsigned)__builtin_clzll(~it->acc | (1ull << 59));
	it->acc <<= ones == 4 ? 4 : ones + 1;
	it->nbits -= ones == 4 ? 4 : ones + 1;
	return ones;
}

static inline __attribute__((always_inline)) uint64_t
wal_bitr_vl(struct wal_samples_iter *it)
{
	return wal_bitr_get64(it, wal_vl_width[wal_bitr_ones(it)]);
}

int
wal_samples_begin(struct wal_samples_iter *it, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t n, ref, t;

	if (wal_get_varint(&p, end, &n) != 0 || n == 0 ||
	    n > WAL_SAMPLES_PER_REC ||
	    wal_get_varint(&p, end, &ref) != 0 || ref == 0 ||
	    ref >= WAL_REF_MAX ||
	    wal_get_varint(&p, end, &t) != 0 || p >= end ||
	    (*p & ~(WAL_SAMPLES_SAME_T | WAL_SAMPLES_PRED_REF)) != 0)
		return -1;
	it->same_t = (*p & WAL_SAMPLES_SAME_T) != 0;
	it->pred_ref = (*p++ & WAL_SAMPLES_PRED_REF) != 0;
	it->n = n;
	it->i = 0;
	it->ref = (uint32_t)ref;
	it->base_t = wal_unzz(t);
	it->start = it->p = p;
	it->end = end;
	it->acc = 0;
	it->nbits = 0;
	return 0;
}

long
wal_samples_count(const uint8_t *p, size_t len)
{
	uint64_t n;

	if (wal_get_varint(&p, p + len, &n) != 0 || n == 0 ||
	    n > WAL_SAMPLES_PER_REC)
		return -1;
	return (long)n;
}

static inline int
wal_decode_value(struct wal_samples_iter *it, struct wal_vstate *st,
    double *out)
{
	uint64_t x;
	unsigned k, lead, sig;

	switch (wal_bitr_ones(it)) {
	case 0:
		*out = wal_state_value(st);
		return 0;
	case 1:
		if (st->mode == WAL_MODE_XOR)
			return -1;
		if (wal_bitr_get(it, 1) != 0) {
			x = wal_bitr_get(it, 11);
			st->lead = (uint8_t)(x >> 6);
			st->sig = (uint8_t)((x & 63) + 1);
		} else if (st->sig == 0)
			return -1;
		x = wal_bitr_get64(it, st->sig);
		st->val += (uint64_t)wal_unzz(x) << st->lead;
		break;
	case 2:
		if (st->mode != WAL_MODE_XOR || st->sig == 0)
			return -1;
		x = wal_bitr_get64(it, st->sig);
		x <<= 64 - st->lead - st->sig;
		st->val ^= x;
		break;
	case 3:
		x = wal_bitr_get(it, 11);
		lead = (unsigned)(x >> 6);
		sig = (unsigned)(x & 63) + 1;
		if (lead + sig > 64)
			return -1;
		x = wal_bitr_get64(it, sig) << (64 - lead - sig);
		st->val = wal_bits(wal_state_value(st)) ^ x;
		st->mode = WAL_MODE_XOR;
		st->lead = (uint8_t)lead;
		st->sig = (uint8_t)sig;
		break;
	default:
		k = (unsigned)wal_bitr_get(it, 3);
		if (k >= WAL_SCALES)
			return -1;
		st->val = (uint64_t)wal_add_wrap(wal_decimal_pred(
		    wal_state_value(st), k), wal_unzz(wal_bitr_vl(it)));
		st->mode = (uint8_t)k;
		st->sig = 0;
		break;
	}
	*out = wal_state_value(st);
	return 0;
}

long
wal_samples_next(struct wal_codec *c, struct wal_samples_iter *itp,
    struct wal_sample *out, size_t max)
{
	/*
	 * A local copy: stores to out (int64_t) may alias the iterator's
	 * uint64_t fields, which would keep the bit reader in memory.
	 */
	struct wal_samples_iter b = *itp, *it = &b;
	struct wal_vstate *prev_st;
	size_t i, n = it->n - it->i, limit;
	uint32_t ref, pred;
	int64_t r, t;
	double v;

	if (n > max)
		n = max;
	limit = (size_t)(it->end - it->start) * 8;
	for (i = 0; i < n; i++) {
		ref = it->ref;
		if (it->i > 0) {
			prev_st = &c->v[ref];
			pred = prev_st->succ != 0 ? prev_st->succ : ref + 1;
			r = pred;
			if (!it->pred_ref && wal_bitr_get(it, 1) != 0)
				r = wal_add_wrap(r,
				    wal_unzz(wal_bitr_vl(it)));
			if (r <= 0 || r >= WAL_REF_MAX)
				goto bad;
			ref = (uint32_t)r;
			prev_st->succ = ref;
		}
		if (c->ref_limit != 0 && ref >= c->ref_limit)
			goto bad;
		if (ref >= c->cap)
			wal_codec_grow(c, ref);
		t = it->base_t;
		if (!it->same_t && wal_bitr_get(it, 1) != 0)
			t = wal_add_wrap(t, wal_unzz(wal_bitr_vl(it)));
		if (wal_decode_value(it, &c->v[ref], &v) != 0)
			goto bad;
		out[i].ref = ref;
		out[i].t_ms = t;
		out[i].v = v;
		it->ref = ref;
		it->i++;
		if ((size_t)(it->p - it->start) * 8 - it->nbits > limit)
			goto bad;
	}
	*itp = b;
	return (long)n;
bad:
	*itp = b;
	return -1;
}

/* ---- series entries -------------------------------------------------- */

void
wal_sbuild_begin(struct wal_sbuild *sb, struct buf *out)
{
	sb->out = out;
	sb->start = out->len;
	sb->prev_ref = 0;
	sb->nstr = 0;
	sb->nseries = 0;
	if (sb->slots != NULL)
		memset(sb->slots, 0, sb->nslots * sizeof *sb->slots);
}

void
wal_sbuild_free(struct wal_sbuild *sb)
{
	free(sb->slots);
	free(sb->stroff);
	free(sb->strlen);
	memset(sb, 0, sizeof *sb);
}

static void
wal_sbuild_rehash(struct wal_sbuild *sb)
{
	size_t i, j, mask;
	uint64_t h;

	sb->nslots = sb->nslots == 0 ? 256 : sb->nslots * 2;
	free(sb->slots);
	sb->slots = xcalloc(sb->nslots, sizeof *sb->slots);
	mask = sb->nslots - 1;
	for (i = 0; i < sb->nstr; i++) {
		h = hash_bytes(sb->out->data + sb->start + sb->stroff[i],
		    sb->strlen[i], 0);
		for (j = h & mask; sb->slots[j] != 0; j = (j + 1) & mask)
			;
		sb->slots[j] = (uint32_t)i + 1;
	}
}

static void
wal_sbuild_str(struct wal_sbuild *sb, struct lstr s)
{
	size_t j, mask, idx;
	uint64_t h;

	if ((size_t)sb->nstr * 2 >= sb->nslots)
		wal_sbuild_rehash(sb);
	mask = sb->nslots - 1;
	h = hash_bytes(s.p, s.len, 0);
	for (j = h & mask; sb->slots[j] != 0; j = (j + 1) & mask) {
		idx = sb->slots[j] - 1;
		if (sb->strlen[idx] == s.len && memcmp(sb->out->data +
		    sb->start + sb->stroff[idx], s.p, s.len) == 0) {
			buf_put_varint(sb->out, (uint64_t)idx << 1);
			return;
		}
	}
	buf_put_varint(sb->out, ((uint64_t)s.len << 1) | 1);
	if (sb->nstr == sb->strcap) {
		sb->strcap = sb->strcap == 0 ? 256 : sb->strcap * 2;
		sb->stroff = xreallocarray(sb->stroff, sb->strcap,
		    sizeof *sb->stroff);
		sb->strlen = xreallocarray(sb->strlen, sb->strcap,
		    sizeof *sb->strlen);
	}
	sb->stroff[sb->nstr] = (uint32_t)(sb->out->len - sb->start);
	sb->strlen[sb->nstr] = (uint32_t)s.len;
	sb->slots[j] = ++sb->nstr;
	buf_append(sb->out, s.p, s.len);
}

void
wal_sbuild_add(struct wal_sbuild *sb, series_ref ref,
    const struct labels *ls)
{
	size_t i;

	buf_put_varint(sb->out, wal_zz((int64_t)ref - (int64_t)sb->prev_ref));
	sb->prev_ref = ref;
	buf_put_varint(sb->out, ls->n);
	for (i = 0; i < ls->n; i++) {
		wal_sbuild_str(sb, ls->v[i].name);
		wal_sbuild_str(sb, ls->v[i].value);
	}
	sb->nseries++;
}

void
wal_series_begin(struct wal_series_iter *it, const uint8_t *p, size_t len)
{
	it->p = p;
	it->end = p + len;
	it->ref = 0;
	it->ndict = 0;
}

void
wal_series_iter_free(struct wal_series_iter *it)
{
	free(it->dict);
	it->dict = NULL;
	it->ndict = it->dictcap = 0;
}

static int
wal_series_str(struct wal_series_iter *it, struct lstr *out)
{
	uint64_t tag, len;

	if (wal_get_varint(&it->p, it->end, &tag) != 0)
		return -1;
	if ((tag & 1) == 0) {
		if ((tag >> 1) >= it->ndict)
			return -1;
		*out = it->dict[tag >> 1];
		return 0;
	}
	len = tag >> 1;
	if (len > (uint64_t)(it->end - it->p))
		return -1;
	out->p = (const char *)it->p;
	out->len = (size_t)len;
	it->p += len;
	if (it->ndict == it->dictcap) {
		it->dictcap = it->dictcap == 0 ? 64 : it->dictcap * 2;
		it->dict = xreallocarray(it->dict, it->dictcap,
		    sizeof *it->dict);
	}
	it->dict[it->ndict++] = *out;
	return 0;
}

int
wal_series_next(struct wal_series_iter *it, series_ref *ref,
    struct labels *ls)
{
	uint64_t d, n, i;
	int64_t r;
	struct lstr name, value;

	if (it->p == it->end)
		return 0;
	if (wal_get_varint(&it->p, it->end, &d) != 0)
		return -1;
	r = wal_add_wrap((int64_t)it->ref, wal_unzz(d));
	if (r <= 0 || r >= WAL_REF_MAX)
		return -1;
	it->ref = (uint32_t)r;
	if (wal_get_varint(&it->p, it->end, &n) != 0 ||
	    n > (uint64_t)(it->end - it->p))
		return -1;
	labels_reset(ls);
	for (i = 0; i < n; i++) {
		if (wal_series_str(it, &name) != 0 ||
		    wal_series_str(it, &value) != 0)
			return -1;
		labels_push(ls, name, value);
	}
	*ref = it->ref;
	return 1;
}

/* ---- drop lists ------------------------------------------------------ */

void
wal_drop_encode(struct buf *out, const series_ref *refs, size_t n)
{
	uint32_t prev = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		buf_put_varint(out, wal_zz((int64_t)refs[i] - (int64_t)prev));
		prev = refs[i];
	}
}

long
wal_drop_decode(const uint8_t *p, size_t len, series_ref **refs,
    size_t *cap)
{
	const uint8_t *end = p + len;
	uint64_t d;
	int64_t r = 0;
	size_t n = 0;

	while (p < end) {
		if (wal_get_varint(&p, end, &d) != 0)
			return -1;
		r = wal_add_wrap(r, wal_unzz(d));
		if (r <= 0 || r >= WAL_REF_MAX)
			return -1;
		if (n == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			*refs = xreallocarray(*refs, *cap, sizeof **refs);
		}
		(*refs)[n++] = (series_ref)r;
	}
	return (long)n;
}
