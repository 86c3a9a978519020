/*
 * Write-ahead log of series and samples, under --storage.agent.path.
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
 * atomically (write, fsync, rename, fsync dir).
 *
 * Refs may be reused after a drop record; readers see records in order, so
 * the last series record for a ref before a sample names its labels. A new
 * process run starts numbering refs again: its first segment carries the
 * RUN_START flag, and a reader crossing it returns one DROP record naming
 * every ref it had defined, so callers never keep labels of a dead run.
 *
 * Start position of a reader: a name with a cursor file resumes just after
 * what it acknowledged; a name never seen before starts at the current end
 * of the log (no backfill of data written before the endpoint existed),
 * and its cursor file is written at once so a restart resumes from there.
 * Open every reader before the first wal_maintain(): with no readers open,
 * nothing holds segments back.
 *
 * Positions: every record returned has pos < next. Items with no place of
 * their own in a segment (the run-start DROP, series replayed from a
 * checkpoint) sit at offset 0 of the segment they precede: index 0 for the
 * DROP, 1.. for checkpoint series.
 *
 * Threads: everything here runs on the calling (event-loop) thread except
 * the internal sync thread; none of these functions may be called from two
 * threads at once.
 *
 * ---- On-disk format, version 1 (WAL_FORMAT_VERSION) --------------------
 *
 * Directory (created 0700; files 0600):
 *
 *	lock			flock(2)ed by the process using it
 *	seg-00000001 ...	segments, numbered upwards (8+ digits)
 *	checkpoint-00000007	live series at the start of segment 7
 *	cursor-<name>		one per reader; name %XX-escaped
 *	*.tmp			half-written files, removed on open
 *
 * Every file starts with the same 32-byte header (all integers are
 * little-endian):
 *
 *	 0       4         6       8                16               24
 *	+-------+---------+-------+----------------+----------------+
 *	| magic | version | flags | number (u64)   | first_seq (u64)|
 *	+-------+---------+-------+----------------+----------------+
 *	 24             28       32
 *	+--------------+--------+
 *	| reserved (0) | crc32c |   crc32c of bytes 0..27
 *	+--------------+--------+
 *
 *	magic	"PWAL" segment, "PWCK" checkpoint, "PWCU" cursor
 *	flags	segment: bit 0 RUN_START (first segment of a process run:
 *		refs defined before it are dead)
 *	number	segment number; for a checkpoint the segment it precedes
 *	first_seq number of samples in all earlier segments (pending counts)
 *
 * Segment and checkpoint bodies are a sequence of records. A record never
 * spans two files:
 *
 *	+-----------+-----------+------+------------------------+
 *	| len (u32) | crc (u32) | type | payload (len - 1 bytes)|
 *	+-----------+-----------+------+------------------------+
 *	crc = crc32c(the 4 len bytes, type, payload)
 *
 * A zero or oversized len, a crc mismatch or a record running past the end
 * of the file ends the valid part of the file.
 *
 * Types and payloads (varint = LEB128 unsigned; zz = zigzag of signed):
 *
 *	1 SERIES  entries until the end of the payload:
 *		  varint zz(ref - previous ref in record, from 0),
 *		  varint nlabels, then name string, value string per label.
 *		  string = varint tag: tag & 1 -> literal of tag >> 1 bytes
 *		  follows and joins the record's dictionary; otherwise
 *		  tag >> 1 indexes that dictionary (first literal is 0).
 *	2 SAMPLES varint n, varint first ref, varint zz(base t), u8 flags
 *		  (bit 0: every t equals base t), then a bit stream, most
 *		  significant bit first, zero-padded to a byte:
 *		  per sample
 *		    ref   (not for the first) 0 -> predicted ref;
 *			  1 vl(zz(ref - predicted))
 *		    t	  (unless flag bit 0) 0 -> base t;
 *			  1 vl(zz(t - base))
 *		    value 0     -> same bits as the ref's previous value
 *			  10    vl(zz(m - m')): decimal m / 10^k at the ref's
 *				current scale k
 *			  110   xor with the ref's previous bits, within the
 *				ref's current window: sig bits
 *			  1110  5 bits leading zeros, 6 bits sig - 1, sig
 *				bits: xor with previous bits, new window
 *			  1111  3 bits k (0..6), vl(zz(m - round(prev *
 *				10^k))): switch to decimal scale k
 *		  vl(x): 0+6 bits | 10+13 bits | 110+20 bits | 1110+32 bits
 *			 | 1111+64 bits
 *		  Predicted ref: the ref that followed the previous sample's
 *		  ref last time in this segment, else previous ref + 1.
 *		  Per-ref state (previous value, scale, xor window,
 *		  successor) starts zeroed (value 0 at scale 0, no window) at
 *		  each segment start, so a segment decodes on its own. A
 *		  decimal value m at scale k is the double m / 10^k; the
 *		  writer uses it only when that division gives back the
 *		  exact bits, so every value (NaN payloads, -0) round-trips.
 *	3 DROP	  varint zz(ref deltas) until the end: refs freed
 *	4 END	  checkpoint only, last record: varint number of series
 *
 * Cursor file: the header ("PWCU", number = segment, first_seq = sample
 * sequence number of the position) followed by u64 offset, u32 index,
 * u32 crc32c of the 12 bytes.
 *
 * A file with a known magic and a version above WAL_FORMAT_VERSION stops
 * wal_open() with an error naming the version; any other damage is
 * repaired (truncated, skipped and counted), never fatal.
 */
#ifndef PROMLET_WAL_H
#define PROMLET_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"
#include "series.h"

#define WAL_FORMAT_VERSION	1

struct wal;
struct wal_reader;

struct wal_options {
	uint64_t	max_bytes;		/* disk cap; 0 = default 1 GiB */
	int64_t		max_age_ms;		/* 0 = none */
	uint32_t	segment_bytes;		/* 0 = default 32 MiB */
	int64_t		sync_interval_ms;	/* 0 = default 1000 */
	/* Records kept in memory while writes fail; 0 = default 64 MiB. */
	uint64_t	buffer_bytes;
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
	/* Added after the first contract: */
	uint64_t	samples_dropped_buffer;	/* buffer full while failing */
	uint64_t	checkpoints;		/* checkpoints written */
	uint64_t	series_checkpointed;	/* in the newest checkpoint */
	double		checkpoint_seconds_total; /* building them */
};

/*
 * now_ms is wall-clock time, the clock of wal_maintain() and of the
 * segments' file mtimes: the head segment counts its age from it.
 */
struct wal	*wal_open(const char *dir, const struct wal_options *,
		    int64_t now_ms, char **cause);
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
/*
 * Rotate, apply the cap and delete segments every cursor has passed; once
 * a second. now_ms is wall-clock time (compared with file mtimes).
 */
void		 wal_maintain(struct wal *, int64_t now_ms);
void		 wal_stats(struct wal *, struct wal_stats *);

struct wal_reader *wal_reader_open(struct wal *, const char *name,
		    char **cause);
/*
 * Persists the cursor (in the background). A reader still open when
 * wal_close() runs is detached; it must still be closed to free it.
 */
void		 wal_reader_close(struct wal_reader *);
/* 1: a record in *rec; 0: caught up with committed data; -1: error. */
int		 wal_reader_next(struct wal_reader *, struct wal_record *,
		    size_t max_samples);
/*
 * Everything before pos (exclusive) was delivered. Positions at or before
 * the current cursor are ignored (acks only move forward). The cursor file
 * follows at the next sync tick, so a crash resends at most one sync
 * interval of acked samples; a clean close persists it exactly.
 */
void		 wal_reader_ack(struct wal_reader *, const struct wal_pos *);
/*
 * Samples committed but not yet acked by this reader: exact when pos was
 * the next of a returned record (the usual case), otherwise rounded down
 * to the last such position.
 */
uint64_t	 wal_reader_pending(struct wal_reader *);
int		 wal_pos_cmp(const struct wal_pos *, const struct wal_pos *);

/* Added after the first contract: */
/* Samples this reader will never see: dropped by cap/age, or corrupt. */
uint64_t	 wal_reader_dropped(struct wal_reader *);
/* CRC-32C (Castagnoli); pass 0 to start, a previous result to continue. */
uint32_t	 wal_crc32c(uint32_t, const void *, size_t);

#endif
