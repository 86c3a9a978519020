/*
 * The series table: interns label sets to small integer refs.
 *
 * Every stage after parsing names a series by its ref (series_ref), never
 * by pointer. Label strings are interned in a symbol table and shared
 * by all series, so a series costs its slot plus 2 to 6 bytes a label.
 *
 *	labels --hash--> open-addressing index --> slot[ref]
 *	slot[ref] = { hash >> 32, block, holds }	12 bytes
 *	block     = varint nlabels, varint sym[2*n] (name, value symbol
 *		    ids), in a pool
 *	sym[id]   = { string, length, refcount } shared by all series
 *
 * Refs are reused after a series is freed. The WAL writes a series record
 * whenever a ref is (re)assigned, so readers that replay in order always
 * see the right labels for a ref.
 *
 * Lifetime: scrape caches hold a reference per series they map
 * (series_hold/series_release). A series whose count reaches zero is not
 * freed at once: it stays until series_gc() runs, so a target that drops
 * a series and brings it back within one GC period keeps the same ref.
 */
#ifndef PROMLET_SERIES_H
#define PROMLET_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

typedef uint32_t series_ref;	/* 0 is never a valid ref */
#define SERIES_REF_NONE 0

struct series_table;

struct series_table *series_table_create(void);
void		 series_table_free(struct series_table *);

/*
 * Look up a sorted, valid label set; add it when absent. *created (may be
 * NULL) is set to 1 when the ref is new (the caller then logs it to the
 * WAL). Either way the caller receives one hold on the ref: a new series
 * starts with a hold count of 1, an existing one gains one.
 */
series_ref	 series_get_or_add(struct series_table *, const struct labels *,
		    uint64_t hash, int *created);
/* Look up without taking a hold; SERIES_REF_NONE when absent. */
series_ref	 series_lookup(struct series_table *, const struct labels *,
		    uint64_t hash);
void		 series_hold(struct series_table *, series_ref);
void		 series_release(struct series_table *, series_ref);
/* Fill a sorted label set pointing into the symbol table (valid until the
 * series is freed). */
void		 series_labels(struct series_table *, series_ref,
		    struct labels *);
/*
 * Free unheld series; each freed ref is passed to the callback first (the
 * caller writes a WAL drop record). Returns the number freed.
 */
size_t		 series_gc(struct series_table *,
		    void (*)(series_ref, void *), void *);
size_t		 series_count(const struct series_table *);
/* Bytes used by the table itself and by the interned strings. */
size_t		 series_mem_bytes(const struct series_table *, size_t *strings);

#endif
