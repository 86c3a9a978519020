/*
 * Label sets: building, sorting, hashing, comparing and printing. Nothing
 * here allocates except growth of a set's own array.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "labels.h"
#include "xmalloc.h"

void
labels_init(struct labels *ls)
{
	ls->v = NULL;
	ls->n = ls->cap = 0;
}

void
labels_free(struct labels *ls)
{
	free(ls->v);
	labels_init(ls);
}

void
labels_reset(struct labels *ls)
{
	ls->n = 0;
}

static void
labels_grow(struct labels *ls, size_t want)
{
	if (want <= ls->cap)
		return;
	ls->cap = ls->cap == 0 ? 16 : ls->cap * 2;
	if (ls->cap < want)
		ls->cap = want;
	ls->v = xreallocarray(ls->v, ls->cap, sizeof *ls->v);
}

void
labels_copy(struct labels *dst, const struct labels *src)
{
	labels_grow(dst, src->n);
	if (src->n != 0)
		memcpy(dst->v, src->v, src->n * sizeof *src->v);
	dst->n = src->n;
}

void
labels_push(struct labels *ls, struct lstr name, struct lstr value)
{
	labels_grow(ls, ls->n + 1);
	ls->v[ls->n].name = name;
	ls->v[ls->n].value = value;
	ls->n++;
}

int
lstr_cmp(struct lstr a, struct lstr b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c;

	if (n != 0 && (c = memcmp(a.p, b.p, n)) != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

int
lstr_eq(struct lstr a, struct lstr b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int
lstr_eqs(struct lstr a, const char *s)
{
	return lstr_eq(a, (struct lstr){ s, strlen(s) });
}

/* Binary search in a sorted set: the index of name, or where it goes. */
static size_t
labels_search(const struct labels *ls, struct lstr name, int *found)
{
	size_t lo = 0, hi = ls->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = lstr_cmp(ls->v[mid].name, name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

const struct lstr *
labels_get(const struct labels *ls, struct lstr name)
{
	size_t i;
	int found;

	i = labels_search(ls, name, &found);
	return found ? &ls->v[i].value : NULL;
}

void
labels_del(struct labels *ls, struct lstr name)
{
	size_t i;
	int found;

	i = labels_search(ls, name, &found);
	if (!found)
		return;
	memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof *ls->v);
	ls->n--;
}

void
labels_set(struct labels *ls, struct lstr name, struct lstr value)
{
	size_t i;
	int found;

	if (value.len == 0) {
		labels_del(ls, name);
		return;
	}
	i = labels_search(ls, name, &found);
	if (found) {
		ls->v[i].value = value;
		return;
	}
	labels_grow(ls, ls->n + 1);
	memmove(&ls->v[i + 1], &ls->v[i], (ls->n - i) * sizeof *ls->v);
	ls->v[i].name = name;
	ls->v[i].value = value;
	ls->n++;
}

/*
 * Insertion sort: pages list labels nearly sorted and sets are small, so
 * this beats qsort and is stable (duplicates stay adjacent in order).
 */
static void
labels_insertion_sort(struct label *v, size_t n)
{
	struct label tmp;
	size_t i, j;

	for (i = 1; i < n; i++) {
		if (lstr_cmp(v[i - 1].name, v[i].name) <= 0)
			continue;
		tmp = v[i];
		j = i;
		while (j > 0 && lstr_cmp(v[j - 1].name, tmp.name) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = tmp;
	}
}

/*
 * Stable merge sort for large sets: a target can send a line with 100k
 * labels in any order, and insertion sort is quadratic on such input
 * (tens of seconds on the event loop). tmp holds n / 2 + 1 labels.
 */
static void
labels_merge_sort(struct label *v, struct label *tmp, size_t n)
{
	size_t mid, i, j, k;

	if (n <= 32) {
		labels_insertion_sort(v, n);
		return;
	}
	mid = n / 2;
	labels_merge_sort(v, tmp, mid);
	labels_merge_sort(v + mid, tmp, n - mid);
	if (lstr_cmp(v[mid - 1].name, v[mid].name) <= 0)
		return;
	memcpy(tmp, v, mid * sizeof *v);
	i = 0;
	j = mid;
	k = 0;
	while (i < mid && j < n) {
		/* Ties take the left run first: stable. */
		if (lstr_cmp(v[j].name, tmp[i].name) < 0)
			v[k++] = v[j++];
		else
			v[k++] = tmp[i++];
	}
	while (i < mid)
		v[k++] = tmp[i++];
}

void
labels_sort(struct labels *ls)
{
	struct label *tmp;

	if (ls->n <= 32) {
		labels_insertion_sort(ls->v, ls->n);
		return;
	}
	tmp = xreallocarray(NULL, ls->n / 2 + 1, sizeof *tmp);
	labels_merge_sort(ls->v, tmp, ls->n);
	free(tmp);
}

long
labels_find_dup(const struct labels *ls)
{
	size_t i;

	for (i = 1; i < ls->n; i++) {
		if (lstr_eq(ls->v[i - 1].name, ls->v[i].name))
			return (long)i;
	}
	return -1;
}

/*
 * A 64-bit multiply-mix hash over 8-byte words (in the spirit of wyhash
 * and xxh3: wide multiplies fold the input fast and mix well). Written
 * here; the constants are odd 64-bit numbers with good bit dispersion.
 */
#define HASH_K0	0xa0761d6478bd642fULL
#define HASH_K1	0xe7037ed1a0b428dbULL
#define HASH_K2	0x8ebc6af09c88c6e3ULL

static inline uint64_t
hash_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t
hash_read64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

uint64_t
hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	const uint64_t total = len;
	uint64_t h = seed ^ HASH_K0 ^ (uint64_t)len;
	uint64_t a, b;

	while (len >= 16) {
		h = hash_mix(hash_read64(p) ^ HASH_K1, hash_read64(p + 8) ^ h);
		p += 16;
		len -= 16;
	}
	a = b = 0;
	if (len >= 8) {
		a = hash_read64(p);
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		b = (b << 8) | p[--len];
	}
	/* The last factor is never zero: total is far smaller than K1. */
	return hash_mix(hash_mix(a ^ HASH_K1, b ^ h) ^ HASH_K2,
	    total ^ HASH_K1);
}

/*
 * Two hashes of the bytes in one pass, for keys kept as a hash alone:
 * each 16-byte block is folded into both lanes with different keys and
 * the words swapped. The keys come from the seed, so the blocks that
 * would zero a multiply (a word equal to its key) are unknown without it.
 */
void
hash_bytes128(const void *data, size_t len, uint64_t seed, uint64_t out[2])
{
	const unsigned char *p = data;
	const uint64_t total = len;
	const uint64_t k1 = HASH_K1 ^ seed;
	const uint64_t k2 = HASH_K0 ^ (seed << 32 | seed >> 32);
	uint64_t h = seed ^ HASH_K0 ^ total, g = seed ^ HASH_K2 ^ total;
	uint64_t a, b;

	while (len >= 16) {
		a = hash_read64(p);
		b = hash_read64(p + 8);
		h = hash_mix(a ^ k1, b ^ h);
		g = hash_mix(b ^ k2, a ^ g);
		p += 16;
		len -= 16;
	}
	a = b = 0;
	if (len >= 8) {
		a = hash_read64(p);
		p += 8;
		len -= 8;
	}
	/* A short tail of a long text: its last word, read once. */
	if (len > 0 && total >= 8)
		b = hash_read64(p + len - 8);
	else
		while (len > 0)
			b = (b << 8) | p[--len];
	out[0] = hash_mix(hash_mix(a ^ k1, b ^ h) ^ HASH_K2, total ^ HASH_K1);
	out[1] = hash_mix(hash_mix(b ^ k2, a ^ g) ^ HASH_K1, total ^ HASH_K2);
}

uint64_t
labels_hash(const struct labels *ls)
{
	uint64_t h = 0;
	size_t i;

	/* The lengths keep {a="bc"} and {ab="c"} apart. */
	for (i = 0; i < ls->n; i++) {
		h = hash_bytes(ls->v[i].name.p, ls->v[i].name.len,
		    h + ls->v[i].name.len);
		h = hash_bytes(ls->v[i].value.p, ls->v[i].value.len,
		    h ^ ls->v[i].value.len);
	}
	return h;
}

int
labels_cmp(const struct labels *a, const struct labels *b)
{
	size_t i, n = a->n < b->n ? a->n : b->n;
	int c;

	for (i = 0; i < n; i++) {
		if ((c = lstr_cmp(a->v[i].name, b->v[i].name)) != 0)
			return c;
		if ((c = lstr_cmp(a->v[i].value, b->v[i].value)) != 0)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

int
labels_equal(const struct labels *a, const struct labels *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (!lstr_eq(a->v[i].name, b->v[i].name) ||
		    !lstr_eq(a->v[i].value, b->v[i].value))
			return 0;
	}
	return 1;
}

static void
labels_put_escaped(struct buf *b, struct lstr s)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		switch (s.p[i]) {
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		default:
			buf_putc(b, s.p[i]);
		}
	}
}

void
labels_format(const struct labels *ls, struct buf *b)
{
	const struct lstr *name;
	size_t i;
	int first = 1;

	if (ls->n == 0 || ls->v == NULL) {
		buf_puts(b, "{}");
		return;
	}
	name = labels_get(ls, LSTR(LABELS_METRIC_NAME));
	if (name != NULL)
		buf_append(b, name->p, name->len);
	/* A bare name prints as Prometheus prints it: no empty braces. */
	if (name != NULL && ls->n == 1)
		return;
	buf_putc(b, '{');
	for (i = 0; i < ls->n; i++) {
		if (lstr_eqs(ls->v[i].name, LABELS_METRIC_NAME))
			continue;
		if (!first)
			buf_putc(b, ',');
		first = 0;
		buf_append(b, ls->v[i].name.p, ls->v[i].name.len);
		buf_puts(b, "=\"");
		labels_put_escaped(b, ls->v[i].value);
		buf_putc(b, '"');
	}
	buf_putc(b, '}');
}

int
labels_valid_metric_name(struct lstr s)
{
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		char c = s.p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9'))
			continue;
		return 0;
	}
	return 1;
}

int
labels_valid_label_name(struct lstr s)
{
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		char c = s.p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && c >= '0' && c <= '9'))
			continue;
		return 0;
	}
	return 1;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
int
labels_valid_utf8(struct lstr s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, len;

	while (i < s.len) {
		if ((len = utf8_seq_len(p + i, s.len - i)) == 0)
			return 0;
		i += len;
	}
	return 1;
}
