/*
 * Write-ahead log of series and samples, under --storage.agent.path.
 *
 * THIS HEADER IS THE CONTRACT; the on-disk format diagram and its
 * version live here too once written (see docs/wal.md).
 *
 * Writer (event-loop thread): wal_log_* append records to an in-memory
 * buffer; wal_commit() write(2)s them to the current segment. A sample
 * counts as accepted once wal_commit() returned 0. fsync runs on a
 * background thread every sync interval, never on the caller's thread.
 *
 * Readers: one per remote_write endpoint, each with its own named cursor
 * file. A reader replays records in order from its cursor; series records
 * from before the cursor are replayed too so the reader knows the labels
 * of every ref it will see. wal_reader_ack() records that everything up
 * to a position was delivered; the background thread persists it
 * atomically (write, fsync, rename).
 *
 * Refs may be reused after a drop record; readers see records in order, so
 * the last series record for a ref before a sample names its labels.
 */
#ifndef PROMLET_WAL_H
#define PROMLET_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"
#include "series.h"

struct wal;
struct wal_reader;

struct wal_options {
	uint64_t	max_bytes;		/* disk cap; 0 = default 1 GiB */
	int64_t		max_age_ms;		/* 0 = none */
	uint32_t	segment_bytes;		/* 0 = default */
	int64_t		sync_interval_ms;	/* 0 = default 1000 */
};

struct wal_sample {
	series_ref	ref;
	int64_t		t_ms;
	double		v;
};

/* A position in the log; totally ordered. */
struct wal_pos {
	uint64_t	segment;
	uint64_t	offset;		/* of the record in the segment */
	uint32_t	index;		/* sample index within the record */
};

enum wal_record_type {
	WAL_RECORD_SERIES = 1,
	WAL_RECORD_SAMPLES,
	WAL_RECORD_DROP,
};

/* What a reader returns; pointers valid until the next wal_reader_next(). */
struct wal_record {
	enum wal_record_type	 type;
	struct wal_pos		 pos;	/* of the first item returned */
	struct wal_pos		 next;	/* just after the last item returned */
	/* SERIES */
	series_ref		 ref;
	struct labels		 labels;
	/* SAMPLES (pos.index is the first sample's index) */
	const struct wal_sample	*samples;
	size_t			 nsamples;
	/* DROP */
	const series_ref	*refs;
	size_t			 nrefs;
};

struct wal_stats {
	uint64_t	bytes;			/* on disk */
	uint64_t	segments;
	uint64_t	samples_appended;
	uint64_t	series_appended;
	uint64_t	samples_dropped_cap;	/* oldest data dropped by cap/age */
	uint64_t	samples_lost_corrupt;	/* skipped on recovery */
	uint64_t	write_errors;		/* ENOSPC, EIO, ... */
	uint64_t	fsyncs;
	double		fsync_seconds_total;
	double		fsync_seconds_last;
	int		 failing;		/* the last write failed */
};

struct wal	*wal_open(const char *dir, const struct wal_options *,
		    char **cause);
/* Commits, syncs and persists cursors, then stops the sync thread. */
void		 wal_close(struct wal *);

int		 wal_log_series(struct wal *, series_ref,
		    const struct labels *);
int		 wal_log_samples(struct wal *, const struct wal_sample *,
		    size_t);
int		 wal_log_drop(struct wal *, const series_ref *, size_t);
/*
 * Write buffered records to disk. On failure (ENOSPC, EIO) the records
 * stay buffered (bounded) and the next commit retries; returns -1.
 */
int		 wal_commit(struct wal *);
/* Rotate, apply the cap and delete segments every cursor has passed. */
void		 wal_maintain(struct wal *, int64_t now_ms);
void		 wal_stats(struct wal *, struct wal_stats *);

struct wal_reader *wal_reader_open(struct wal *, const char *name,
		    char **cause);
void		 wal_reader_close(struct wal_reader *);
/* 1: a record in *rec; 0: caught up with committed data; -1: error. */
int		 wal_reader_next(struct wal_reader *, struct wal_record *,
		    size_t max_samples);
/* Everything before pos (exclusive) was delivered. */
void		 wal_reader_ack(struct wal_reader *, const struct wal_pos *);
/* Samples committed but not yet acked by this reader. */
uint64_t	 wal_reader_pending(struct wal_reader *);
int		 wal_pos_cmp(const struct wal_pos *, const struct wal_pos *);

#endif
