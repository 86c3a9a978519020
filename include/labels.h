/*
 * Label sets.
 *
 * A label set is an array of (name, value) string slices. The set does not
 * own the bytes the slices point to (a page buffer, the symbol table, a
 * config string); it owns only its array. Sorted sets (by name, bytewise)
 * are the canonical form: hashing and comparison require them, and
 * remote write sends them in that order.
 *
 * Empty values mean "label absent" everywhere in Prometheus; builders drop
 * them (labels_set with an empty value deletes).
 */
#ifndef PROMLET_LABELS_H
#define PROMLET_LABELS_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct lstr {
	const char	*p;
	size_t		 len;
};

#define LSTR(s)	((struct lstr){ (s), sizeof(s) - 1 })

struct label {
	struct lstr	name;
	struct lstr	value;
};

struct labels {
	struct label	*v;
	size_t		 n;
	size_t		 cap;
};

#define LABELS_INIT { NULL, 0, 0 }

/* Prometheus limits that make a label set invalid regardless of config. */
#define LABELS_METRIC_NAME "__name__"

void		 labels_init(struct labels *);
void		 labels_free(struct labels *);
void		 labels_reset(struct labels *);
void		 labels_copy(struct labels *, const struct labels *);
/* Append without checks; call labels_sort() before hashing. */
void		 labels_push(struct labels *, struct lstr, struct lstr);
/* Replace or add name=value, keeping the set sorted; empty value deletes. */
void		 labels_set(struct labels *, struct lstr, struct lstr);
void		 labels_del(struct labels *, struct lstr);
const struct lstr *labels_get(const struct labels *, struct lstr);
void		 labels_sort(struct labels *);
/* Returns the index of the first duplicate name in a sorted set, or -1. */
long		 labels_find_dup(const struct labels *);
/* 64-bit hash of a sorted set; equal sets hash equally. */
uint64_t	 labels_hash(const struct labels *);
int		 labels_cmp(const struct labels *, const struct labels *);
int		 labels_equal(const struct labels *, const struct labels *);
/* name{a="1",b="2"} with \\ \" \n escaped; __name__ printed as the name. */
void		 labels_format(const struct labels *, struct buf *);

int		 lstr_eq(struct lstr, struct lstr);
int		 lstr_eqs(struct lstr, const char *);
int		 lstr_cmp(struct lstr, struct lstr);
/* Metric name [a-zA-Z_:][a-zA-Z0-9_:]* and label name [a-zA-Z_][a-zA-Z0-9_]*. */
int		 labels_valid_metric_name(struct lstr);
int		 labels_valid_label_name(struct lstr);
int		 labels_valid_utf8(struct lstr);

/* A fast 64-bit hash of bytes, shared by every hash table in promlet. */
uint64_t	 hash_bytes(const void *, size_t, uint64_t);
/* 128 bits (two 64-bit words) of the same family, in one pass. */
void		 hash_bytes128(const void *, size_t, uint64_t, uint64_t[2]);

#endif
