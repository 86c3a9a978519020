/*
 * Metric metadata: what the HELP, TYPE and UNIT lines of a target's page
 * say about each metric family, kept for remote write's metadata
 * requests (metadata_config). No I/O.
 *
 * A target holds its last page's metadata already encoded as the
 * WriteRequest fields a request carries, in page order:
 *
 *	enc = { 3: MetricMetadata }*
 *	MetricMetadata = { 1: type varint, 2: family string,
 *	                   4: help string, 5: unit string }
 *
 * Reading a page encodes each family's entry once all of its lines are
 * read and compares it with the entry at the same place in enc. A page
 * like the last one (the usual case) changes nothing and allocates
 * nothing; at the first difference the rest is written to a fresh
 * buffer, which replaces enc if the page is accepted. So families a page
 * no longer has are gone with the next accepted page, and a failed page
 * leaves the last metadata as it was. The scrape loop reads metadata
 * from a target's page at most once a metadata send_interval, so most
 * pages do not come here at all.
 *
 * Sending needs each distinct entry once, whatever the number of targets
 * exposing it: scrape_meta_unique() sorts every target's entries and
 * keeps one of each.
 */
#ifndef PROMLET_SCRAPE_META_H
#define PROMLET_SCRAPE_META_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "labels.h"
#include "textparse.h"

/* A target's metadata. Zeroed is empty. */
struct scrape_meta {
	struct buf	enc;
};

/* One page being read; one at a time, so a manager needs one. */
struct scrape_meta_read {
	struct scrape_meta	*m;
	size_t			 off;		/* in m->enc, while alike */
	int			 diverged;
	struct buf		 fresh;		/* from the first difference */
	struct buf		 entry;		/* the family just read */
	struct buf		 scratch;	/* HELP text decoding */
	/*
	 * The family whose lines are being read: in the page, or help in
	 * scratch, which only the next family's HELP line overwrites.
	 */
	int			 pending;
	struct lstr		 family;
	struct lstr		 help;
	struct lstr		 unit;
	enum metric_type	 type;
};

void	scrape_meta_free(struct scrape_meta *);
void	scrape_meta_read_free(struct scrape_meta_read *);

void	scrape_meta_begin(struct scrape_meta_read *, struct scrape_meta *);
/*
 * The parser's current entry; HELP (decoded), TYPE and UNIT lines count,
 * others are ignored. A family's lines follow each other: a line of
 * another family closes the one before.
 */
void	scrape_meta_line(struct scrape_meta_read *, const struct textparse *,
	    enum textparse_entry);
/* The page was accepted: its metadata replaces the target's. */
void	scrape_meta_end(struct scrape_meta_read *);
/* The page failed: the target keeps the metadata it had. */
void	scrape_meta_abort(struct scrape_meta_read *);

/* Number of entries in a target's metadata. */
size_t	scrape_meta_count(const struct scrape_meta *);
/*
 * Every distinct entry of the n lists, each once, as spans of their enc
 * buffers (valid until a list changes), sorted by their bytes. *out is
 * grown as needed and owned by the caller; returns the count.
 */
size_t	scrape_meta_unique(const struct scrape_meta * const *, size_t n,
	    struct lstr **out, size_t *cap);

#endif
