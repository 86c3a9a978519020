/*
 * Internals shared by the wal_*.c files; not a contract for other modules
 * (unit tests of the WAL may include it).
 */
#ifndef PROMLET_WAL_INT_H
#define PROMLET_WAL_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wal.h"

#define WAL_HDR_SIZE		32
#define WAL_REC_HDR		8
/* Larger records are corrupt; writers split long sample lists. */
#define WAL_REC_MAX		(64u << 20)
#define WAL_SAMPLES_PER_REC	(1u << 20)
#define WAL_SERIES_REC_MAX	(1u << 20)	/* payload bytes */
/* Refs index flat per-ref arrays; series tables hand out dense refs. */
#define WAL_REF_MAX		(1u << 28)

#define WAL_MAGIC_SEG		"PWAL"
#define WAL_MAGIC_CKPT		"PWCK"
#define WAL_MAGIC_CURSOR	"PWCU"

#define WAL_SEG_RUN_START	0x1

enum {
	WAL_REC_SERIES = 1,
	WAL_REC_SAMPLES = 2,
	WAL_REC_DROP = 3,
	WAL_REC_END = 4,
};

struct wal_hdr {
	char		magic[4];
	uint16_t	version;
	uint16_t	flags;
	uint64_t	number;
	uint64_t	first_seq;
};

/* ---- wal_crc.c ----------------------------------------------------- */

/* The table version, whatever the CPU offers (tests compare the two). */
uint32_t wal_crc32c_portable(uint32_t, const void *, size_t);

/* ---- wal_codec.c --------------------------------------------------- */

/* Per-ref state of the sample codec; the same for encoder and decoder. */
struct wal_vstate {
	uint64_t	val;	/* m at scale mode, or the value's bits */
	uint32_t	succ;	/* ref that followed this one, 0 = none */
	uint8_t		mode;	/* 0..6 decimal scale, or XOR */
	uint8_t		lead;	/* xor window: leading zeros */
	uint8_t		sig;	/* window: significant bits, 0 none */
};
#define WAL_MODE_XOR	7

struct wal_codec {
	struct wal_vstate	*v;
	size_t			 cap;	/* entries (max ref + 1) */
	/*
	 * Decoding only: a ref at or above this is damage, 0 = no bound.
	 * A record whose CRC holds but whose refs run far past any series
	 * defined would otherwise make the state array up to 4 GiB.
	 */
	uint32_t		 ref_limit;
};
/* How far past the refs a reader has seen defined a sample may point. */
#define WAL_REF_SLACK		65536u

void	 wal_codec_reset(struct wal_codec *);
void	 wal_codec_free(struct wal_codec *);
/* dst becomes a copy of src (dst's old state is dropped). */
void	 wal_codec_copy(struct wal_codec *, const struct wal_codec *);
size_t	 wal_codec_mem(const struct wal_codec *);

/* Appends a SAMPLES payload (without type byte) to out. */
void	 wal_samples_encode(struct wal_codec *, struct buf *,
	    const struct wal_sample *, size_t);

struct wal_samples_iter {
	const uint8_t	*start;	/* of the bit stream */
	const uint8_t	*p;
	const uint8_t	*end;
	uint64_t	 acc;
	unsigned	 nbits;
	size_t		 n;	/* samples in the record */
	size_t		 i;	/* samples decoded so far */
	uint32_t	 ref;	/* previous ref */
	int64_t		 base_t;
	int		 same_t;
	int		 pred_ref;
};
#define WAL_SAMPLES_SAME_T	0x1	/* every t is the base t */
#define WAL_SAMPLES_PRED_REF	0x2	/* every ref as predicted */

/*
 * Parse the record head. The payload must be followed by 8 readable bytes
 * (any content): the bit reader loads whole words.
 */
int	 wal_samples_begin(struct wal_samples_iter *, const uint8_t *,
	    size_t);
/* Decode up to max samples; returns the count or -1 on corrupt data. */
long	 wal_samples_next(struct wal_codec *, struct wal_samples_iter *,
	    struct wal_sample *, size_t);
/* Sample count of a SAMPLES payload, -1 if unreadable. */
long	 wal_samples_count(const uint8_t *, size_t);

/* Builds a SERIES payload at the end of a buf, one entry at a time. */
struct wal_sbuild {
	struct buf	*out;
	size_t		 start;
	uint32_t	 prev_ref;
	uint32_t	 nstr;
	uint32_t	*slots;		/* hash -> string index + 1 */
	size_t		 nslots;
	uint32_t	*stroff;	/* relative to start */
	uint32_t	*strlen;
	size_t		 strcap;
	size_t		 nseries;
};

void	 wal_sbuild_begin(struct wal_sbuild *, struct buf *);
void	 wal_sbuild_add(struct wal_sbuild *, series_ref,
	    const struct labels *);
void	 wal_sbuild_free(struct wal_sbuild *);

struct wal_series_iter {
	const uint8_t	*p;
	const uint8_t	*end;
	uint32_t	 ref;
	struct lstr	*dict;
	size_t		 ndict;
	size_t		 dictcap;
};

void	 wal_series_begin(struct wal_series_iter *, const uint8_t *,
	    size_t);
/* 1: an entry in ref/labels (pointing into the payload); 0: end; -1. */
int	 wal_series_next(struct wal_series_iter *, series_ref *,
	    struct labels *);
void	 wal_series_iter_free(struct wal_series_iter *);

void	 wal_drop_encode(struct buf *, const series_ref *, size_t);
/* Decodes into *refs (grown as needed); returns the count or -1. */
long	 wal_drop_decode(const uint8_t *, size_t, series_ref **, size_t *);

int	 wal_get_varint(const uint8_t **, const uint8_t *, uint64_t *);
uint64_t wal_zz(int64_t);
int64_t	 wal_unzz(uint64_t);

/* ---- wal_file.c ---------------------------------------------------- */

void	 wal_put_le16(uint8_t *, uint16_t);
void	 wal_put_le32(uint8_t *, uint32_t);
void	 wal_put_le64(uint8_t *, uint64_t);
uint16_t wal_get_le16(const uint8_t *);
uint32_t wal_get_le32(const uint8_t *);
uint64_t wal_get_le64(const uint8_t *);

void	 wal_hdr_encode(uint8_t *, const char *, uint16_t, uint64_t,
	    uint64_t);
/* 0 ok; -1 damaged or another magic; -2 newer version (in h->version). */
int	 wal_hdr_decode(const uint8_t *, size_t, const char *,
	    struct wal_hdr *);

/* Frame a record whose type and payload start at rec + WAL_REC_HDR. */
void	 wal_frame(uint8_t *, size_t);
/*
 * Check the record at p (avail bytes readable). 1: valid, *len is the
 * body length (type + payload); 0: needs more bytes than avail (*len set
 * when the header was readable, else 0); -1: invalid.
 */
int	 wal_frame_check(const uint8_t *, size_t, uint32_t *);

/*
 * Sequential record reader over one file, reading in large chunks. The
 * returned body (type byte first) stays valid until the next call and is
 * followed by at least 8 readable bytes.
 */
struct wal_rfile {
	int		 fd;
	uint64_t	 limit;		/* bytes that may be read */
	uint8_t		*buf;
	size_t		 cap;
	uint64_t	 boff;		/* file offset of buf[0] */
	size_t		 blen;
	uint64_t	 off;		/* next record */
};

void	 wal_rfile_init(struct wal_rfile *);
void	 wal_rfile_close(struct wal_rfile *);
void	 wal_rfile_free(struct wal_rfile *);
/* Start at off in fd (taking ownership of fd). */
void	 wal_rfile_set(struct wal_rfile *, int, uint64_t, uint64_t);
/*
 * 1: record at *recoff, body/len filled, r->off advanced; 0: no complete
 * record before limit; -1: invalid record at *recoff; -2: read error
 * (errno). With skip_type set, records of that type are not read into
 * memory beyond their header (body is NULL, *len is still set).
 */
int	 wal_rfile_next(struct wal_rfile *, uint64_t *, const uint8_t **,
	    uint32_t *, int);

int	 wal_write_full(int, const void *, size_t, uint64_t);
char	*wal_path(const char *, const char *, uint64_t);

/* ---- wal.c / wal_reader.c ------------------------------------------ */

struct wal_seg {
	uint64_t	number;
	uint64_t	size;		/* valid bytes, header included */
	uint64_t	first_seq;
	uint64_t	nsamples;
	uint32_t	flags;
	int64_t		mtime_ms;	/* last write */
};

struct wal_pend {
	int		type;
	size_t		off;		/* in wal->praw */
	size_t		len;
	size_t		nsamples;
	size_t		rec;		/* in wal->wbuf, once encoded */
	size_t		rec_end;
};

struct wal_cslot {
	char			*path;
	struct wal_pos		 pos;
	uint64_t		 seq;
	uint64_t		 gen;		/* bumped by each change */
	uint64_t		 saved;		/* gen last written */
	int			 closing;
	/* The sync thread's own: the file kept open, written in place. */
	int			 fd;		/* -1: not yet this run */
	int			 unsynced;	/* written since its last fsync */
	struct wal_cslot	*next;
};

struct wal_job {
	uint64_t	 from;		/* current first segment */
	uint64_t	 to;		/* new first segment */
	uint64_t	 ckpt;		/* checkpoint to start from */
	uint32_t	 to_flags;
	uint64_t	 to_first_seq;
	struct wal_seg	*segs;		/* [from, to) */
	size_t		 nsegs;
	uint64_t	 out_bytes;	/* result */
	uint64_t	 out_series;
	double		 seconds;	/* the build took */
	int		 state;		/* WAL_JOB_* */
};
enum { WAL_JOB_IDLE, WAL_JOB_RUN, WAL_JOB_DONE, WAL_JOB_FAILED };

struct wal_bg {
	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop;
	int			 dirfd;
	char			*dir;
	int64_t			 interval_ms;
	int			 head_fd;	/* dup, -1 none */
	int			 head_dirty;	/* atomic */
	int			*final_fds;	/* sync once, close */
	size_t			 nfinal;
	int			 dir_dirty;
	int			 sync_failed;	/* atomic */
	struct wal_cslot	*slots;
	int			 cursor_work;	/* write now: a reader closes */
	int			 cursor_dirty;	/* write at the next tick */
	int			 idle;		/* asleep, nothing to sync */
	struct wal_job		 job;
	char			**unlinks;
	size_t			 nunlinks;
	uint64_t		 fsyncs;
	double			 fsync_total;
	double			 fsync_last;
};

struct wal {
	char			*dir;
	int			 dirfd;
	int			 lockfd;
	uint64_t		 max_bytes;
	int64_t			 max_age_ms;
	uint64_t		 seg_bytes;
	uint64_t		 buffer_bytes;

	struct wal_seg		*segs;		/* ascending; last: head */
	size_t			 nsegs;
	size_t			 segcap;
	uint64_t		 ckpt;		/* its number, 0 none */
	uint64_t		 ckpt_bytes;

	int			 fd;		/* head, -1 none yet */
	int			 rotate;	/* new segment first */
	int64_t			 head_born_ms;
	uint64_t		 maintained_size;
	struct wal_codec	 enc;

	struct buf		 praw;		/* pending records */
	struct wal_pend		*pend;
	size_t			 npend;
	size_t			 pendcap;
	struct wal_sbuild	 sb;		/* open series record */
	int			 sb_open;
	struct buf		 wbuf;

	struct wal_stats	 st;
	uint64_t		 fail_count;
	int			 buf_dropping;
	uint64_t		 episode_dropped;
	int			 cap_episode;
	uint64_t		 cap_dropped;
	int64_t			 now_ms;
	int64_t			 job_retry_ms;

	struct wal_reader	**readers;
	size_t			 nreaders;

	struct wal_bg		 bg;
};

/* The segment numbered n, or NULL. */
struct wal_seg *wal_seg_find(struct wal *, uint64_t);
/* The first segment numbered above n, or NULL. */
struct wal_seg *wal_seg_after(struct wal *, uint64_t);
uint64_t wal_head_seq(struct wal *);
void	 wal_cslot_update(struct wal *, struct wal_cslot *,
	    const struct wal_pos *, uint64_t, int);
/* Move a reader behind segment to past it; returns samples skipped. */
uint64_t wal_reader_advance(struct wal_reader *, uint64_t);
/*
 * Live readers (see wal_reader.c): wal_commit() hands them each record it
 * wrote, a SAMPLES record as the raw samples, others as their payload.
 * Before encoding, it calls wal_reader_tee_check() with its own codec
 * state, which a reader with too much queued copies to read on from the
 * file instead.
 */
int	 wal_reader_live(const struct wal_reader *);
void	 wal_reader_tee_check(struct wal_reader *, const struct wal_codec *);
void	 wal_reader_tee(struct wal_reader *, int type, uint64_t seg,
	    uint64_t off, uint64_t next, const void *data, size_t len,
	    size_t nsamples);
/* Tests: the tee's limit for r; 0 keeps it reading the file. */
void	 wal_reader_set_tee_max(struct wal_reader *, size_t);
const struct wal_pos *wal_reader_acked(struct wal_reader *);
void	 wal_reader_detach(struct wal_reader *);
int	 wal_cursor_read(const char *, struct wal_pos *, uint64_t *,
	    char **);
void	 wal_cursor_encode(uint8_t *, const struct wal_pos *, uint64_t);
#define WAL_CURSOR_SIZE	(WAL_HDR_SIZE + 16)
char	*wal_cursor_path(const char *, const char *);

/* ---- wal_sync.c ---------------------------------------------------- */

int	 wal_bg_start(struct wal *, char **);
void	 wal_bg_stop(struct wal *);
/* With bg->mu held, after making work for the next tick. */
void	 wal_bg_wake(struct wal_bg *);
/* Build checkpoint job->to from job->ckpt and job->segs; 0 or -1. */
int	 wal_ckpt_build(const char *, int, struct wal_job *);
/* Persist one cursor file atomically; 0 or -1. */
int	 wal_cursor_write(int, const char *, const struct wal_pos *,
	    uint64_t);

#endif
