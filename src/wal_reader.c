/*
 * WAL readers: one per remote_write endpoint, on the event-loop thread.
 *
 * A reader streams records from a start segment: the last RUN_START
 * segment at or before its cursor (refs older than that are dead), or
 * else the checkpoint followed by the oldest segment. Series and drop
 * records are returned all the way; samples only from the cursor on.
 * Samples of the cursor's own segment before the cursor are still decoded
 * (silently): the codec state of a segment is built from its start.
 *
 * A bitmap of defined refs lets the reader drop samples whose series
 * record was lost to corruption (counted) instead of handing the caller a
 * ref it cannot label, and lets it name every ref in the DROP it returns
 * when a new process run begins.
 *
 * Live readers. Once a reader has read everything in the head segment,
 * it goes live: wal_commit() hands it every record it writes (the tee),
 * SAMPLES records as the samples themselves, and the reader returns them
 * from memory, with no read and no decoding. Its codec state would be
 * the writer's, so it keeps none. An endpoint that stops reading (its
 * queues are full) lets the tee grow; past WAL_TEE_MAX the reader takes a
 * copy of the writer's codec state, stops being live, and after the
 * records it still holds reads on from the file, as any reader behind.
 *
 *	    wal_commit ──tee──▶ [queued records] ──▶ wal_reader_next
 *	                                 (live: no file, no codec)
 *	    behind: file ──▶ decode with its own codec ──▶ caught up ──▶ live
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wal_int.h"
#include "xmalloc.h"

#define WAL_READER_BATCH	65536	/* samples per call with max 0 */
#define WAL_FIFO_MAX		8192
/* Queued tee bytes past which a live reader goes back to the file. */
#define WAL_TEE_MAX		(8u << 20)
/* rtype of a SAMPLES record taken from the tee. */
#define WAL_REC_TEE		16

/*
 * A record wal_commit() wrote, as a live reader gets it. Each has its own
 * allocation: the record being returned keeps pointing into it while
 * more records arrive.
 */
struct wal_tee {
	int		type;
	uint64_t	seg;
	uint64_t	off;		/* of the record in seg */
	uint64_t	next;		/* just after it */
	void		*data;		/* samples, or the payload */
	size_t		len;
	size_t		nsamples;
};

/* A chunk returned: samples [pos, next) start at sequence number seq. */
struct wal_ackent {
	struct wal_pos	pos;
	struct wal_pos	next;
	uint64_t	seq;
	uint64_t	n;	/* samples in the chunk, filtered ones too */
};

struct wal_reader {
	struct wal		*wal;
	char			*name;
	struct wal_cslot	*slot;
	struct wal_pos		 acked;
	uint64_t		 acked_seq;
	uint64_t		 dropped;
	int			 warned_unknown;

	int			 in_ckpt;
	uint32_t		 ckpt_idx;
	uint64_t		 seg;	/* or the one a checkpoint precedes */
	int			 seg_bad;
	int			 seg_open;
	int			 dropall;
	struct wal_rfile	 rf;
	uint64_t		 seq;	/* of the next sample in seg */
	struct wal_pos		 skip;	/* samples before it: not returned */
	struct wal_pos		 last;	/* next of the last record out */

	int			 rtype;	/* current record type, 0 none */
	uint64_t		 roff;
	uint64_t		 rnext;
	uint32_t		 ridx;
	struct wal_series_iter	 si;
	struct wal_samples_iter	 sit;
	struct wal_codec	 codec;
	struct wal_sample	*out;
	size_t			 outcap;
	series_ref		*refs;
	size_t			 refcap;
	struct labels		 labels;
	uint64_t		*defined;
	size_t			 ndefwords;
	size_t			 ndef;

	struct wal_ackent	*fifo;
	size_t			 fhead;
	size_t			 flen;
	size_t			 fcap;

	int			 live;
	size_t			 tee_max;
	uint64_t		 foff;	/* where to open seg at */
	struct wal_tee		*tee;
	size_t			 tee_head;	/* next to take */
	size_t			 ntee;
	size_t			 teecap;
	size_t			 tee_bytes;	/* queued, taken ones too */
	const struct wal_sample	*tee_samples;	/* rtype WAL_REC_TEE */
	size_t			 tee_n;
};

int
wal_pos_cmp(const struct wal_pos *a, const struct wal_pos *b)
{
	if (a->segment != b->segment)
		return a->segment < b->segment ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

static void
wal_pos_set(struct wal_pos *p, uint64_t segment, uint64_t offset,
    uint32_t index)
{
	p->segment = segment;
	p->offset = offset;
	p->index = index;
}

char *
wal_cursor_path(const char *dir, const char *name)
{
	struct buf b = BUF_INIT;
	const unsigned char *p;
	char *path;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    (*p == '.' && p != (const unsigned char *)name))
			buf_putc(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	if (b.len > 200) {
		/* Stay under NAME_MAX; the hash keeps long names apart. */
		b.len = 180;
		buf_printf(&b, "~%016" PRIx64, hash_bytes(name, strlen(name),
		    0));
	}
	xasprintf(&path, "%s/cursor-%s", dir, b.data);
	buf_free(&b);
	return path;
}

/* ---- defined refs ---------------------------------------------------- */

static int
wal_reader_defined(const struct wal_reader *r, uint32_t ref)
{
	return (ref >> 6) < r->ndefwords &&
	    (r->defined[ref >> 6] & (1ull << (ref & 63))) != 0;
}

static void
wal_reader_define(struct wal_reader *r, uint32_t ref)
{
	size_t n;

	if ((ref >> 6) >= r->ndefwords) {
		n = r->ndefwords == 0 ? 64 : r->ndefwords;
		while (n <= (ref >> 6))
			n *= 2;
		r->defined = xreallocarray(r->defined, n, sizeof *r->defined);
		memset(r->defined + r->ndefwords, 0,
		    (n - r->ndefwords) * sizeof *r->defined);
		r->ndefwords = n;
	}
	if (!wal_reader_defined(r, ref)) {
		r->defined[ref >> 6] |= 1ull << (ref & 63);
		r->ndef++;
	}
}

static void
wal_reader_undefine(struct wal_reader *r, uint32_t ref)
{
	if (wal_reader_defined(r, ref)) {
		r->defined[ref >> 6] &= ~(1ull << (ref & 63));
		r->ndef--;
	}
}

/* ---- positions and acks ---------------------------------------------- */

static void
wal_reader_returned(struct wal_reader *r, const struct wal_record *rec,
    uint64_t seq_next, uint64_t n)
{
	struct wal_ackent *e;
	size_t i;

	if (wal_pos_cmp(&rec->next, &r->last) > 0)
		r->last = rec->next;
	if (wal_pos_cmp(&rec->next, &r->acked) <= 0)
		return;
	if (r->flen == WAL_FIFO_MAX) {
		/* An endpoint far behind on acks: pending rounds down. */
		r->fhead = (r->fhead + 1) % r->fcap;
		r->flen--;
	}
	if (r->flen == r->fcap) {
		e = xreallocarray(NULL, r->fcap == 0 ? 64 : r->fcap * 2,
		    sizeof *e);
		for (i = 0; i < r->flen; i++)
			e[i] = r->fifo[(r->fhead + i) % r->fcap];
		free(r->fifo);
		r->fifo = e;
		r->fhead = 0;
		r->fcap = r->fcap == 0 ? 64 : r->fcap * 2;
	}
	e = &r->fifo[(r->fhead + r->flen) % r->fcap];
	e->pos = rec->pos;
	e->next = rec->next;
	e->seq = seq_next - n;
	e->n = n;
	r->flen++;
}

void
wal_reader_ack(struct wal_reader *r, const struct wal_pos *pos)
{
	struct wal_pos p = *pos;
	uint64_t seq = r->acked_seq, k;
	struct wal_ackent *e;

	if (wal_pos_cmp(&p, &r->last) > 0)
		p = r->last;	/* never past what was read */
	if (wal_pos_cmp(&p, &r->acked) <= 0)
		return;
	while (r->flen > 0) {
		e = &r->fifo[r->fhead];
		if (wal_pos_cmp(&e->next, &p) > 0) {
			/* Inside a chunk: samples are counted by index. */
			if (wal_pos_cmp(&e->pos, &p) <= 0 &&
			    e->pos.segment == p.segment &&
			    e->pos.offset == p.offset) {
				k = p.index - e->pos.index;
				seq = e->seq + (k < e->n ? k : e->n);
			}
			break;
		}
		seq = e->seq + e->n;
		r->fhead = (r->fhead + 1) % r->fcap;
		r->flen--;
	}
	r->acked = p;
	if (seq > r->acked_seq)
		r->acked_seq = seq;
	if (r->wal != NULL)
		wal_cslot_update(r->wal, r->slot, &r->acked, r->acked_seq, 0);
}

uint64_t
wal_reader_pending(struct wal_reader *r)
{
	uint64_t head;

	if (r->wal == NULL)
		return 0;
	head = wal_head_seq(r->wal);
	return head > r->acked_seq ? head - r->acked_seq : 0;
}

uint64_t
wal_reader_dropped(struct wal_reader *r)
{
	return r->dropped;
}

const struct wal_pos *
wal_reader_acked(struct wal_reader *r)
{
	return &r->acked;
}

/* ---- the tee --------------------------------------------------------- */

static void	wal_reader_enter(struct wal_reader *, const struct wal_seg *);

/* Free the first n queued records (taken and done with). */
static void
wal_reader_tee_drop(struct wal_reader *r, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		r->tee_bytes -= r->tee[i].len;
		free(r->tee[i].data);
	}
	memmove(r->tee, r->tee + n, (r->ntee - n) * sizeof *r->tee);
	r->ntee -= n;
	r->tee_head -= n;
}

static void
wal_reader_tee_clear(struct wal_reader *r)
{
	wal_reader_tee_drop(r, r->ntee);
	if (r->rtype == WAL_REC_TEE)
		r->rtype = 0;
}

int
wal_reader_live(const struct wal_reader *r)
{
	return r->live;
}

void
wal_reader_set_tee_max(struct wal_reader *r, size_t max)
{
	r->tee_max = max;
}

void
wal_reader_tee_check(struct wal_reader *r, const struct wal_codec *enc)
{
	if (!r->live || r->tee_bytes <= r->tee_max)
		return;
	/* The writer's state is ours after the records we hold. */
	wal_codec_copy(&r->codec, enc);
	r->live = 0;
}

void
wal_reader_tee(struct wal_reader *r, int type, uint64_t seg, uint64_t off,
    uint64_t next, const void *data, size_t len, size_t nsamples)
{
	struct wal_tee *e;

	if (r->ntee == r->teecap) {
		r->teecap = r->teecap == 0 ? 16 : r->teecap * 2;
		r->tee = xreallocarray(r->tee, r->teecap, sizeof *r->tee);
	}
	e = &r->tee[r->ntee++];
	e->type = type;
	e->seg = seg;
	e->off = off;
	e->next = next;
	e->data = xmemdup(data, len == 0 ? 1 : len);
	e->len = len;
	e->nsamples = nsamples;
	r->tee_bytes += len;
}

/*
 * Take the next queued record as the current one: 1, or 2 when it holds
 * nothing to return (call again).
 */
static int
wal_reader_fetch_tee(struct wal_reader *r)
{
	struct wal_tee *e;
	const uint8_t *data;
	struct wal_seg *sg;
	long n;

	/* Called between records: those taken before are done with. */
	wal_reader_tee_drop(r, r->tee_head);
	e = &r->tee[r->tee_head++];
	data = e->data;

	if (e->seg != r->seg) {
		/* The writer rotated: the head is the new segment. */
		if ((sg = wal_seg_find(r->wal, e->seg)) == NULL)
			return 2;
		wal_reader_enter(r, sg);
	}
	if (r->seg_open)
		r->rf.off = e->next;
	r->foff = e->next;
	r->roff = e->off;
	r->rnext = e->next;
	r->ridx = 0;
	switch (e->type) {
	case WAL_REC_SERIES:
		wal_series_begin(&r->si, data, e->len);
		r->rtype = WAL_REC_SERIES;
		return 1;
	case WAL_REC_SAMPLES:
		r->tee_samples = (const struct wal_sample *)(const void *)data;
		r->tee_n = e->nsamples;
		r->rtype = WAL_REC_TEE;
		return 1;
	case WAL_REC_DROP:
		n = wal_drop_decode(data, e->len, &r->refs, &r->refcap);
		if (n < 0)
			return 2;	/* cannot be: the writer encoded it */
		r->ridx = (uint32_t)n;
		r->rtype = WAL_REC_DROP;
		return 1;
	}
	return 2;
}

/*
 * Caught up with the head: from now on the tee brings what is written.
 * The writer's codec state now equals ours, so ours can go.
 */
static void
wal_reader_go_live(struct wal_reader *r)
{
	if (r->tee_max == 0 || r->in_ckpt || r->seg_bad || r->dropall ||
	    r->rtype != 0)
		return;
	r->foff = r->rf.off;
	wal_rfile_close(&r->rf);
	r->seg_open = 0;
	wal_codec_free(&r->codec);
	r->live = 1;
}

/* ---- moving between files -------------------------------------------- */

static void
wal_reader_enter(struct wal_reader *r, const struct wal_seg *sg)
{
	wal_rfile_close(&r->rf);
	r->in_ckpt = 0;
	r->seg_open = 0;
	r->seg_bad = 0;
	r->rtype = 0;
	r->seg = sg->number;
	r->seq = sg->first_seq;
	r->foff = WAL_HDR_SIZE;
	wal_codec_reset(&r->codec);
	if ((sg->flags & WAL_SEG_RUN_START) && r->ndef > 0)
		r->dropall = 1;
}

/* Start with the checkpoint, then the oldest segment. */
static void
wal_reader_from_ckpt(struct wal_reader *r)
{
	struct wal *w = r->wal;
	struct wal_hdr h;
	uint8_t hdr[WAL_HDR_SIZE];
	struct stat st;
	char *path;
	int fd;

	if (w->ckpt == 0 || (w->segs[0].flags & WAL_SEG_RUN_START)) {
		wal_reader_enter(r, &w->segs[0]);
		return;
	}
	path = wal_path(w->dir, "checkpoint", w->ckpt);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) != 0 ||
	    pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
	    wal_hdr_decode(hdr, sizeof hdr, WAL_MAGIC_CKPT, &h) != 0) {
		log_error("WAL reader cannot read the checkpoint, series "
		    "defined before it are unknown", "reader=%s path=%s",
		    r->name, path);
		if (fd != -1)
			close(fd);
		free(path);
		wal_reader_enter(r, &w->segs[0]);
		return;
	}
	free(path);
	wal_rfile_close(&r->rf);
	wal_rfile_set(&r->rf, fd, WAL_HDR_SIZE, (uint64_t)st.st_size);
	r->in_ckpt = 1;
	r->ckpt_idx = 0;
	r->seg = w->ckpt;
	r->seq = 0;
	r->rtype = 0;
	r->seg_open = 0;
}

/* Pick where to start streaming for a cursor at r->skip. */
static void
wal_reader_restart(struct wal_reader *r)
{
	struct wal *w = r->wal;
	const struct wal_seg *start = NULL;
	size_t i;

	for (i = 0; i < w->nsegs && w->segs[i].number <= r->skip.segment;
	    i++) {
		if (w->segs[i].flags & WAL_SEG_RUN_START)
			start = &w->segs[i];
	}
	if (start != NULL)
		wal_reader_enter(r, start);
	else
		wal_reader_from_ckpt(r);
}

uint64_t
wal_reader_advance(struct wal_reader *r, uint64_t first)
{
	struct wal *w = r->wal;
	struct wal_seg *sg = &w->segs[0];
	struct wal_pos p;
	uint64_t base, dropped = 0;

	if (!r->in_ckpt && r->seg >= first && (r->ntee == r->tee_head ||
	    r->tee[r->tee_head].seg >= first))
		return 0;
	/* Queued records may lie in what goes: read it all from the file. */
	wal_reader_tee_clear(r);
	r->live = 0;
	base = r->seq > r->acked_seq ? r->seq : r->acked_seq;
	if (sg->first_seq > base)
		dropped = sg->first_seq - base;
	r->dropped += dropped;
	wal_pos_set(&p, first, 0, 0);
	if (wal_pos_cmp(&r->acked, &p) < 0) {
		r->acked = p;
		if (sg->first_seq > r->acked_seq)
			r->acked_seq = sg->first_seq;
		wal_cslot_update(w, r->slot, &r->acked, r->acked_seq, 0);
	}
	if (wal_pos_cmp(&r->skip, &r->acked) < 0)
		r->skip = r->acked;
	if (wal_pos_cmp(&r->last, &r->acked) < 0)
		r->last = r->acked;
	r->flen = 0;
	if (r->ndef > 0)
		r->dropall = 1;
	wal_reader_from_ckpt(r);
	return dropped;
}

/* ---- opening and closing --------------------------------------------- */

struct wal_reader *
wal_reader_open(struct wal *w, const char *name, char **cause)
{
	struct wal_reader *r;
	struct wal_seg *first, *head;
	struct wal_pos pos;
	uint64_t seq, lost = 0;
	char *path, *err = NULL;
	size_t i;
	int rc, dirty = 0;

	if (name == NULL || *name == '\0') {
		xasprintf(cause, "WAL reader needs a name");
		return NULL;
	}
	for (i = 0; i < w->nreaders; i++) {
		if (strcmp(w->readers[i]->name, name) == 0) {
			xasprintf(cause, "WAL reader %s is already open", name);
			return NULL;
		}
	}
	first = &w->segs[0];
	head = &w->segs[w->nsegs - 1];
	path = wal_cursor_path(w->dir, name);
	rc = wal_cursor_read(path, &pos, &seq, &err);
	if (rc == -2) {
		*cause = err;
		free(path);
		return NULL;
	}
	if (rc == 0 && pos.segment < first->number) {
		/* Often just the end of a segment removed after the ack. */
		lost = first->first_seq > seq ? first->first_seq - seq : 0;
		if (lost > 0)
			log_warn("WAL reader resumes after data already "
			    "removed", "reader=%s cursor_segment=%" PRIu64
			    " first_segment=%" PRIu64 " lost_samples=%"
			    PRIu64, name, pos.segment, first->number, lost);
		wal_pos_set(&pos, first->number, 0, 0);
		seq = first->first_seq;
		dirty = 1;
	} else if (rc == 0 && pos.segment > head->number) {
		wal_pos_set(&pos, head->number, 0, 0);
		seq = head->first_seq;
		dirty = 1;
	} else if (rc == -1) {
		/* Resend rather than lose: start at the oldest data. */
		log_warn("WAL cursor unreadable, reader starts at the oldest "
		    "data", "reader=%s err=%s", name, err);
		wal_pos_set(&pos, first->number, 0, 0);
		seq = first->first_seq;
		dirty = 1;
	} else if (rc == 1) {
		wal_pos_set(&pos, head->number, head->size, 0);
		seq = wal_head_seq(w);
		dirty = 1;
		log_info("WAL reader is new, starting at the end of the log",
		    "reader=%s segment=%" PRIu64, name, head->number);
	}
	free(err);

	r = xcalloc(1, sizeof *r);
	r->wal = w;
	r->name = xstrdup(name);
	wal_rfile_init(&r->rf);
	labels_init(&r->labels);
	r->acked = r->skip = r->last = pos;
	r->tee_max = WAL_TEE_MAX;
	r->acked_seq = seq;
	r->dropped = lost;

	r->slot = xcalloc(1, sizeof *r->slot);
	r->slot->fd = -1;
	r->slot->path = path;
	r->slot->pos = pos;
	r->slot->seq = seq;
	r->slot->gen = dirty ? 1 : 0;
	pthread_mutex_lock(&w->bg.mu);
	r->slot->next = w->bg.slots;
	w->bg.slots = r->slot;
	if (dirty) {
		w->bg.cursor_work = 1;
		pthread_cond_signal(&w->bg.cv);
	}
	pthread_mutex_unlock(&w->bg.mu);

	w->readers = xreallocarray(w->readers, w->nreaders + 1,
	    sizeof *w->readers);
	w->readers[w->nreaders++] = r;
	wal_reader_restart(r);
	return r;
}

void
wal_reader_detach(struct wal_reader *r)
{
	if (r->wal == NULL)
		return;
	/* The sync thread writes the cursor a last time and frees the slot. */
	wal_cslot_update(r->wal, r->slot, &r->acked, r->acked_seq, 1);
	r->slot = NULL;
	r->wal = NULL;
}

void
wal_reader_close(struct wal_reader *r)
{
	struct wal *w;
	size_t i;

	if (r == NULL)
		return;
	if ((w = r->wal) != NULL) {
		for (i = 0; i < w->nreaders; i++) {
			if (w->readers[i] == r) {
				w->readers[i] = w->readers[--w->nreaders];
				break;
			}
		}
		wal_reader_detach(r);
	}
	wal_rfile_free(&r->rf);
	wal_series_iter_free(&r->si);
	wal_codec_free(&r->codec);
	wal_reader_tee_drop(r, r->ntee);
	free(r->tee);
	labels_free(&r->labels);
	free(r->out);
	free(r->refs);
	free(r->defined);
	free(r->fifo);
	free(r->name);
	free(r);
}

/* ---- reading --------------------------------------------------------- */

static void
wal_reader_next_seg(struct wal_reader *r)
{
	struct wal_seg *sg = wal_seg_after(r->wal, r->seg);

	/* Callers never leave the head, so there is always a next. */
	if (sg != NULL)
		wal_reader_enter(r, sg);
}

static void
wal_reader_corrupt(struct wal_reader *r, uint64_t off, const char *what)
{
	struct wal *w = r->wal;
	struct wal_seg *sg = wal_seg_find(w, r->seg);
	uint64_t end, base, lost = 0;

	if (sg != NULL && r->seg >= r->skip.segment) {
		end = sg->first_seq + sg->nsamples;
		base = r->seq > r->acked_seq ? r->seq : r->acked_seq;
		lost = end > base ? end - base : 0;
	}
	log_warn("WAL reader hit a corrupt record, skipping the rest of the "
	    "segment", "reader=%s segment=%" PRIu64 " offset=%" PRIu64
	    " what=%s lost_samples=%" PRIu64, r->name, r->seg, off, what,
	    lost);
	r->dropped += lost;
	w->st.samples_lost_corrupt += lost;
	r->rtype = 0;
	if (sg != NULL && sg == &w->segs[w->nsegs - 1])
		r->seg_bad = 1;		/* until the head rotates */
	else
		wal_reader_next_seg(r);
}

static int
wal_reader_fetch_ckpt(struct wal_reader *r)
{
	struct wal *w = r->wal;
	const uint8_t *body;
	struct wal_seg *sg;
	uint64_t off;
	uint32_t len;
	int rc;

	rc = wal_rfile_next(&r->rf, &off, &body, &len, 0);
	if (rc == -2) {
		log_error("WAL reader cannot read the checkpoint", "reader=%s "
		    "err=%s", r->name, strerror(errno));
		return -1;
	}
	if (rc == 1 && body[0] == WAL_REC_SERIES) {
		wal_series_begin(&r->si, body + 1, len - 1);
		r->rtype = WAL_REC_SERIES;
		return 1;
	}
	if (rc == 1 && body[0] != WAL_REC_END)
		return 2;
	if (rc != 1)
		log_error("WAL checkpoint ends early", "reader=%s offset=%"
		    PRIu64, r->name, off);
	sg = wal_seg_find(w, r->seg);
	if (sg == NULL)
		sg = wal_seg_after(w, r->seg);
	if (sg == NULL)
		sg = &w->segs[w->nsegs - 1];
	wal_reader_enter(r, sg);
	return 2;
}

/* 1: a record is current; 2: moved on, call again; 0: caught up; -1. */
static int
wal_reader_fetch(struct wal_reader *r)
{
	struct wal *w = r->wal;
	struct wal_seg *sg, *head = &w->segs[w->nsegs - 1];
	const uint8_t *body;
	uint64_t off;
	uint32_t len;
	long n;
	char *path;
	int fd, rc, err;

	if (r->tee_head < r->ntee)
		return wal_reader_fetch_tee(r);
	if (r->live)
		return 0;
	if (r->in_ckpt)
		return wal_reader_fetch_ckpt(r);
	if ((sg = wal_seg_find(w, r->seg)) == NULL) {
		wal_reader_next_seg(r);
		return 2;
	}
	if (r->seg_bad) {
		if (sg == head)
			return 0;
		wal_reader_next_seg(r);
		return 2;
	}
	if (!r->seg_open) {
		if (sg->size <= WAL_HDR_SIZE) {
			if (sg == head)
				return 0;
			wal_reader_next_seg(r);
			return 2;
		}
		path = wal_path(w->dir, "seg", sg->number);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			err = errno;
			log_error("WAL reader cannot open a segment",
			    "reader=%s path=%s err=%s", r->name, path,
			    strerror(err));
			free(path);
			if (err != ENOENT)
				return -1;
			wal_reader_corrupt(r, 0, "missing");
			return 2;
		}
		free(path);
		wal_rfile_set(&r->rf, fd, r->foff, sg->size);
		r->seg_open = 1;
	}
	r->rf.limit = sg->size;
	rc = wal_rfile_next(&r->rf, &off, &body, &len,
	    r->seg < r->skip.segment ? WAL_REC_SAMPLES : 0);
	if (rc == 0) {
		if (sg == head) {
			if (r->rf.off == sg->size)
				wal_reader_go_live(r);
			return 0;
		}
		if (r->rf.off < sg->size) {
			wal_reader_corrupt(r, r->rf.off, "short");
			return 2;
		}
		wal_reader_next_seg(r);
		return 2;
	}
	if (rc == -1) {
		wal_reader_corrupt(r, off, "bad record");
		return 2;
	}
	if (rc == -2) {
		log_error("WAL reader cannot read a segment", "reader=%s "
		    "segment=%" PRIu64 " err=%s", r->name, r->seg,
		    strerror(errno));
		return -1;
	}
	if (body == NULL)
		return 2;
	r->roff = off;
	r->rnext = r->rf.off;
	r->ridx = 0;
	switch (body[0]) {
	case WAL_REC_SERIES:
		wal_series_begin(&r->si, body + 1, len - 1);
		r->rtype = WAL_REC_SERIES;
		return 1;
	case WAL_REC_SAMPLES:
		if (r->seg < r->skip.segment)
			return 2;
		if (wal_samples_begin(&r->sit, body + 1, len - 1) != 0) {
			wal_reader_corrupt(r, off, "bad samples");
			return 2;
		}
		r->rtype = WAL_REC_SAMPLES;
		return 1;
	case WAL_REC_DROP:
		n = wal_drop_decode(body + 1, len - 1, &r->refs, &r->refcap);
		if (n < 0) {
			wal_reader_corrupt(r, off, "bad drop");
			return 2;
		}
		r->ridx = (uint32_t)n;
		r->rtype = WAL_REC_DROP;
		return 1;
	}
	return 2;
}

static int
wal_reader_series(struct wal_reader *r, struct wal_record *rec)
{
	series_ref ref;
	int rc, last;

	rc = wal_series_next(&r->si, &ref, &r->labels);
	if (rc <= 0) {
		if (rc < 0)
			wal_reader_corrupt(r, r->roff, "bad series");
		r->rtype = 0;
		return 0;
	}
	wal_reader_define(r, ref);
	last = r->si.p == r->si.end;
	rec->type = WAL_RECORD_SERIES;
	rec->ref = ref;
	rec->labels = r->labels;
	if (r->in_ckpt) {
		/* Offset 0 holds synthetic items; index 0 is the drop-all. */
		wal_pos_set(&rec->pos, r->seg, 0, r->ckpt_idx + 1);
		wal_pos_set(&rec->next, r->seg, 0, r->ckpt_idx + 2);
		r->ckpt_idx++;
	} else {
		wal_pos_set(&rec->pos, r->seg, r->roff, r->ridx);
		r->ridx++;
		if (last)
			wal_pos_set(&rec->next, r->seg, r->rnext, 0);
		else
			wal_pos_set(&rec->next, r->seg, r->roff, r->ridx);
	}
	if (last)
		r->rtype = 0;
	wal_reader_returned(r, rec, r->seq, 0);
	return 1;
}

/*
 * Copy to r->out (in may be r->out) the n samples whose series the reader
 * knows. The others lost their series record to corruption: counted, and
 * told once. Returns how many were kept.
 */
static size_t
wal_reader_keep_defined(struct wal_reader *r, const struct wal_sample *in,
    size_t n)
{
	size_t i, j;
	uint32_t lost = 0;

	for (i = j = 0; i < n; i++) {
		if (wal_reader_defined(r, in[i].ref))
			r->out[j++] = in[i];
		else if (j == i)
			lost = in[i].ref;	/* the first one */
	}
	if (j == n)
		return j;
	if (!r->warned_unknown)
		log_warn("WAL samples name series with no series record (lost "
		    "to corruption?), dropping them", "reader=%s segment=%"
		    PRIu64 " ref=%u", r->name, r->seg, (unsigned)lost);
	r->warned_unknown = 1;
	r->dropped += n - j;
	r->wal->st.samples_lost_corrupt += n - j;
	return j;
}

/*
 * The n samples at r->ridx of a record of total were taken, kept of them
 * are in rec->samples: move the position on and return 1 when there is
 * something to hand out.
 */
static int
wal_reader_emit(struct wal_reader *r, struct wal_record *rec, size_t n,
    size_t kept, size_t total)
{
	wal_pos_set(&rec->pos, r->seg, r->roff, r->ridx);
	r->ridx += (uint32_t)n;
	r->seq += (uint64_t)n;
	if (r->ridx >= total) {
		wal_pos_set(&rec->next, r->seg, r->rnext, 0);
		r->rtype = 0;
	} else
		wal_pos_set(&rec->next, r->seg, r->roff, r->ridx);
	if (kept == 0)
		return 0;
	rec->type = WAL_RECORD_SAMPLES;
	rec->nsamples = kept;
	wal_reader_returned(r, rec, r->seq, (uint64_t)n);
	return 1;
}

static int
wal_reader_samples(struct wal_reader *r, struct wal_record *rec,
    size_t max)
{
	uint64_t nskip = 0;
	size_t n, lim;
	long k;

	if (r->outcap == 0) {
		r->outcap = 4096;
		r->out = xreallocarray(NULL, r->outcap, sizeof *r->out);
	}
	/*
	 * Every sample's series is defined before it (a checkpoint keeps
	 * the live ones), so refs far past the defined ones are damage;
	 * their samples would be dropped as undefined anyway.
	 */
	lim = r->ndefwords * 64 + WAL_REF_SLACK;
	r->codec.ref_limit = lim < WAL_REF_MAX ? (uint32_t)lim : WAL_REF_MAX;
	/* Rebuild the codec state up to the cursor without returning. */
	if (r->seg == r->skip.segment && r->roff <= r->skip.offset) {
		if (r->roff < r->skip.offset)
			nskip = r->sit.n - r->ridx;
		else if (r->skip.index > r->ridx)
			nskip = r->skip.index - r->ridx;
	}
	while (nskip > 0 && r->ridx < r->sit.n) {
		n = nskip < r->outcap ? (size_t)nskip : r->outcap;
		if ((k = wal_samples_next(&r->codec, &r->sit, r->out, n)) < 0)
			goto bad;
		r->ridx += (uint32_t)k;
		r->seq += (uint64_t)k;
		nskip -= (uint64_t)k;
	}
	if (r->ridx >= r->sit.n) {
		r->rtype = 0;
		return 0;
	}

	n = r->sit.n - r->ridx;
	if (max == 0)
		max = WAL_READER_BATCH;
	if (n > max)
		n = max;
	if (n > r->outcap) {
		while (r->outcap < n)
			r->outcap *= 2;
		r->out = xreallocarray(r->out, r->outcap, sizeof *r->out);
	}
	if ((k = wal_samples_next(&r->codec, &r->sit, r->out, n)) < 0)
		goto bad;
	rec->samples = r->out;
	return wal_reader_emit(r, rec, (size_t)k,
	    wal_reader_keep_defined(r, r->out, (size_t)k), r->sit.n);
bad:
	wal_reader_corrupt(r, r->roff, "bad samples");
	return 0;
}

/* wal_reader_samples() for a record from the tee: nothing to decode. */
static int
wal_reader_tee_samples(struct wal_reader *r, struct wal_record *rec,
    size_t max)
{
	const struct wal_sample *in = r->tee_samples + r->ridx;
	size_t n, i;

	n = r->tee_n - r->ridx;
	if (max == 0)
		max = WAL_READER_BATCH;
	if (n > max)
		n = max;
	for (i = 0; i < n && wal_reader_defined(r, in[i].ref); i++)
		;
	if (i == n)
		rec->samples = in;	/* every ref known: no copy */
	else {
		if (r->outcap < n) {
			r->outcap = n;
			r->out = xreallocarray(r->out, r->outcap,
			    sizeof *r->out);
		}
		rec->samples = r->out;
		i = wal_reader_keep_defined(r, in, n);
	}
	return wal_reader_emit(r, rec, n, i, r->tee_n);
}

static int
wal_reader_drop(struct wal_reader *r, struct wal_record *rec)
{
	size_t i;

	for (i = 0; i < r->ridx; i++)
		wal_reader_undefine(r, r->refs[i]);
	rec->type = WAL_RECORD_DROP;
	rec->refs = r->refs;
	rec->nrefs = r->ridx;
	wal_pos_set(&rec->pos, r->seg, r->roff, 0);
	wal_pos_set(&rec->next, r->seg, r->rnext, 0);
	r->rtype = 0;
	wal_reader_returned(r, rec, r->seq, 0);
	return 1;
}

/* A new run (or a jump forward) starts: every known ref is dead. */
static int
wal_reader_dropall(struct wal_reader *r, struct wal_record *rec)
{
	size_t i, n = 0;
	uint64_t word;
	int b;

	r->dropall = 0;
	if (r->ndef == 0)
		return 0;
	if (r->refcap < r->ndef) {
		r->refcap = r->ndef;
		r->refs = xreallocarray(r->refs, r->refcap, sizeof *r->refs);
	}
	for (i = 0; i < r->ndefwords; i++) {
		for (word = r->defined[i]; word != 0; word &= word - 1) {
			b = __builtin_ctzll(word);
			r->refs[n++] = (series_ref)(i * 64 + (size_t)b);
		}
		r->defined[i] = 0;
	}
	r->ndef = 0;
	rec->type = WAL_RECORD_DROP;
	rec->refs = r->refs;
	rec->nrefs = n;
	wal_pos_set(&rec->pos, r->seg, 0, 0);
	wal_pos_set(&rec->next, r->seg, 0, 1);
	wal_reader_returned(r, rec, r->seq, 0);
	return 1;
}

int
wal_reader_next(struct wal_reader *r, struct wal_record *rec,
    size_t max_samples)
{
	int rc;

	memset(rec, 0, sizeof *rec);
	if (r->wal == NULL)
		return 0;
	for (;;) {
		if (r->dropall && wal_reader_dropall(r, rec))
			return 1;
		switch (r->rtype) {
		case WAL_REC_SERIES:
			if (wal_reader_series(r, rec))
				return 1;
			continue;
		case WAL_REC_SAMPLES:
			if (wal_reader_samples(r, rec, max_samples))
				return 1;
			continue;
		case WAL_REC_TEE:
			if (wal_reader_tee_samples(r, rec, max_samples))
				return 1;
			continue;
		case WAL_REC_DROP:
			return wal_reader_drop(r, rec);
		}
		rc = wal_reader_fetch(r);
		if (rc == 0 || rc == -1)
			return rc;
	}
}
