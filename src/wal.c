/*
 * The WAL writer: opening and repairing a directory, buffering and
 * committing records, rotation, retention (readers, cap, age) and stats.
 * Readers live in wal_reader.c, the sync thread and checkpoints in
 * wal_sync.c, the record codec in wal_codec.c.
 *
 * Records are buffered raw (samples as struct wal_sample) and encoded
 * only by wal_commit(): the sample codec keeps per-series state for the
 * segment being written, so encoding at commit time lets a failed write be
 * retried in a fresh segment, and lets rotation happen at any time.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
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

#define WAL_DEFAULT_MAX_BYTES	(1ull << 30)
#define WAL_DEFAULT_SEG_BYTES	(32u << 20)
#define WAL_MIN_SEG_BYTES	(4u << 10)
#define WAL_DEFAULT_BUFFER	(64ull << 20)
#define WAL_ROTATE_MS		(3600 * 1000)
#define WAL_JOB_RETRY_MS	5000

/* ---- segment list ---------------------------------------------------- */

struct wal_seg *
wal_seg_find(struct wal *w, uint64_t n)
{
	size_t lo = 0, hi = w->nsegs, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (w->segs[mid].number < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->nsegs && w->segs[lo].number == n)
		return &w->segs[lo];
	return NULL;
}

struct wal_seg *
wal_seg_after(struct wal *w, uint64_t n)
{
	size_t lo = 0, hi = w->nsegs, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (w->segs[mid].number <= n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nsegs ? &w->segs[lo] : NULL;
}

static struct wal_seg *
wal_head(struct wal *w)
{
	return &w->segs[w->nsegs - 1];
}

uint64_t
wal_head_seq(struct wal *w)
{
	struct wal_seg *h = wal_head(w);

	return h->first_seq + h->nsamples;
}

static struct wal_seg *
wal_seg_push(struct wal *w)
{
	if (w->nsegs == w->segcap) {
		w->segcap = w->segcap == 0 ? 16 : w->segcap * 2;
		w->segs = xreallocarray(w->segs, w->segcap, sizeof *w->segs);
	}
	memset(&w->segs[w->nsegs], 0, sizeof w->segs[0]);
	return &w->segs[w->nsegs++];
}

/* ---- opening and recovery ------------------------------------------ */

static int
wal_mkdirs(const char *dir, char **cause)
{
	char *p, *s;
	struct stat sb;

	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			xasprintf(cause, "WAL path %s is not a directory", dir);
			return -1;
		}
		return 0;
	}
	s = xstrdup(dir);
	for (p = s + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0700) != 0 && errno != EEXIST) {
			xasprintf(cause, "create WAL directory %s: %s", s,
			    strerror(errno));
			free(s);
			return -1;
		}
		*p = '/';
	}
	free(s);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		xasprintf(cause, "create WAL directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
wal_lock(struct wal *w, char **cause)
{
	char pid[32];
	ssize_t n;
	int len;

	w->lockfd = openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);
	if (w->lockfd == -1) {
		xasprintf(cause, "open WAL lock file %s/lock: %s", w->dir,
		    strerror(errno));
		return -1;
	}
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			xasprintf(cause, "lock %s/lock: %s", w->dir,
			    strerror(errno));
			return -1;
		}
		n = pread(w->lockfd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		xasprintf(cause, "WAL directory %s is in use by another "
		    "process (pid %s holds %s/lock)", w->dir,
		    pid[0] != '\0' ? pid : "unknown", w->dir);
		return -1;
	}
	len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(w->lockfd, 0) != 0 ||
	    wal_write_full(w->lockfd, pid, (size_t)len, 0) != 0)
		log_warn("cannot write WAL lock file", "path=%s/lock err=%s",
		    w->dir, strerror(errno));
	return 0;
}

/* Parse "<prefix>-<digits>" exactly. */
static int
wal_parse_name(const char *name, const char *prefix, uint64_t *n)
{
	size_t plen = strlen(prefix);
	const char *p;
	char *end;

	if (strncmp(name, prefix, plen) != 0 || name[plen] != '-')
		return 0;
	p = name + plen + 1;
	if (*p < '0' || *p > '9')
		return 0;
	errno = 0;
	*n = strtoull(p, &end, 10);
	return *end == '\0' && errno == 0 && *n != 0;
}

static int
wal_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
wal_newer_error(const char *dir, const char *name, unsigned version,
    char **cause)
{
	xasprintf(cause, "WAL file %s/%s has format version %u; this promlet "
	    "reads version %d (written by a newer promlet? move the "
	    "directory aside or upgrade)", dir, name, version,
	    WAL_FORMAT_VERSION);
	return -1;
}

/* Read a header; -2 with *cause on a newer version. */
static int
wal_read_hdr(struct wal *w, const char *name, const char *magic,
    struct wal_hdr *h, uint64_t *size, int64_t *mtime, char **cause)
{
	uint8_t buf[WAL_HDR_SIZE];
	struct stat sb;
	ssize_t n;
	int fd, rc;

	*size = 0;
	*mtime = 0;
	if ((fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = pread(fd, buf, sizeof buf, 0);
	if (fstat(fd, &sb) == 0) {
		*size = (uint64_t)sb.st_size;
		*mtime = (int64_t)sb.st_mtim.tv_sec * 1000 +
		    sb.st_mtim.tv_nsec / 1000000;
	}
	close(fd);
	if (n < 0)
		return -1;
	rc = wal_hdr_decode(buf, (size_t)n, magic, h);
	if (rc == -2) {
		wal_newer_error(w->dir, name, h->version, cause);
		return -2;
	}
	return rc;
}

/* Are bytes [off, end) of fd all zero? */
static int
wal_all_zero(int fd, uint64_t off, uint64_t end)
{
	uint8_t buf[65536];
	ssize_t n;
	size_t want, i;

	while (off < end) {
		want = end - off > sizeof buf ? sizeof buf :
		    (size_t)(end - off);
		n = pread(fd, buf, want, (off_t)off);
		if (n <= 0)
			return 0;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != 0)
				return 0;
		}
		off += (uint64_t)n;
	}
	return 1;
}

/*
 * Samples after a bad record at off: hop over its claimed length and
 * count what follows while records stay valid. *known is cleared when
 * the chain breaks before the end of the file.
 */
static uint64_t
wal_count_after(int fd, uint64_t off, uint64_t size, int *known)
{
	struct wal_rfile rf;
	uint8_t hdr[WAL_REC_HDR + 16];
	const uint8_t *body;
	uint64_t lost = 0, roff;
	uint32_t len;
	ssize_t n;
	long c;
	int rc;

	*known = 0;
	n = pread(fd, hdr, sizeof hdr, (off_t)off);
	if (n < WAL_REC_HDR + 1)
		return 0;
	len = wal_get_le32(hdr);
	if (len == 0 || len > WAL_REC_MAX || off + WAL_REC_HDR + len > size)
		return 0;
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, dup(fd), off + WAL_REC_HDR + len, size);
	for (;;) {
		rc = wal_rfile_next(&rf, &roff, &body, &len, 0);
		if (rc != 1)
			break;
		if (body[0] == WAL_REC_SAMPLES &&
		    (c = wal_samples_count(body + 1, len - 1)) > 0)
			lost += (uint64_t)c;
	}
	if (rc == 0 && rf.off == size) {
		/* The chain held to the end: trust the bad record's count. */
		*known = 1;
		if (hdr[WAL_REC_HDR] == WAL_REC_SAMPLES &&
		    (c = wal_samples_count(hdr + WAL_REC_HDR + 1,
		    (size_t)n - WAL_REC_HDR - 1)) > 0)
			lost += (uint64_t)c;
	}
	wal_rfile_free(&rf);
	return lost;
}

/* Samples in the valid records of a file whose header is unusable. */
static uint64_t
wal_count_records(struct wal *w, const char *name, uint64_t size)
{
	struct wal_rfile rf;
	const uint8_t *body;
	uint64_t off, n = 0;
	uint32_t len;
	long c;
	int fd;

	if (size <= WAL_HDR_SIZE ||
	    (fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, size);
	while (wal_rfile_next(&rf, &off, &body, &len, 0) == 1) {
		if (body[0] == WAL_REC_SAMPLES &&
		    (c = wal_samples_count(body + 1, len - 1)) > 0)
			n += (uint64_t)c;
	}
	wal_rfile_free(&rf);
	return n;
}

/*
 * Validate a segment's records, count its samples and cut it at the first
 * bad record: a torn tail (partial record, zeros) is what a crash leaves;
 * anything else is corruption and the rest of the segment is lost.
 */
static void
wal_scan_segment(struct wal *w, struct wal_seg *sg, const char *name,
    uint64_t fsize)
{
	struct wal_rfile rf;
	const uint8_t *body;
	uint64_t off, lost;
	uint32_t len;
	long c;
	int fd, rc, known;
	const char *what;

	sg->size = WAL_HDR_SIZE;
	if ((fd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC)) == -1) {
		log_error("cannot open WAL segment", "segment=%s/%s err=%s",
		    w->dir, name, strerror(errno));
		return;
	}
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, dup(fd), WAL_HDR_SIZE, fsize);
	for (;;) {
		rc = wal_rfile_next(&rf, &off, &body, &len, 0);
		if (rc != 1)
			break;
		if (body[0] == WAL_REC_SAMPLES &&
		    (c = wal_samples_count(body + 1, len - 1)) > 0)
			sg->nsamples += (uint64_t)c;
	}
	sg->size = off;
	if (rc == -2) {
		log_error("cannot read WAL segment", "segment=%s/%s "
		    "offset=%" PRIu64 " err=%s", w->dir, name, off,
		    strerror(errno));
		goto out;
	}
	if (off == fsize)
		goto out;
	lost = 0;
	known = 1;
	if (rc == 0)
		what = "torn record at end";
	else if (wal_all_zero(fd, off, fsize))
		what = "zero-filled tail";
	else {
		lost = wal_count_after(fd, off, fsize, &known);
		what = lost == 0 && known ? "torn record at end" :
		    "corrupt record";
	}
	if (lost != 0 || !known) {
		w->st.samples_lost_corrupt += lost;
		log_warn("WAL segment corrupt, skipping the rest of it",
		    "segment=%s/%s offset=%" PRIu64 " size=%" PRIu64
		    " lost_samples=%" PRIu64 "%s", w->dir, name, off, fsize,
		    lost, known ? "" : " lost_more=unknown");
	} else
		log_warn("WAL segment truncated to its last good record",
		    "segment=%s/%s offset=%" PRIu64 " size=%" PRIu64
		    " reason=%s", w->dir, name, off, fsize, what);
	if (ftruncate(fd, (off_t)off) != 0)
		log_error("cannot truncate WAL segment", "segment=%s/%s "
		    "err=%s", w->dir, name, strerror(errno));
	w->bg.dir_dirty = 1;
out:
	wal_rfile_free(&rf);
	close(fd);
}

/* A checkpoint is usable only complete: valid records ending in END. */
static int
wal_ckpt_valid(struct wal *w, const char *name, uint64_t size,
    uint64_t *series)
{
	struct wal_rfile rf;
	const uint8_t *body, *p;
	uint64_t off, n;
	uint32_t len;
	int fd, ok = 0;

	if ((fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, size);
	while (wal_rfile_next(&rf, &off, &body, &len, 0) == 1) {
		if (body[0] != WAL_REC_END)
			continue;
		p = body + 1;
		ok = rf.off == size &&
		    wal_get_varint(&p, body + len, &n) == 0;
		if (ok)
			*series = n;
		break;
	}
	wal_rfile_free(&rf);
	return ok;
}

struct wal_found {
	uint64_t	*v;
	size_t		 n;
	size_t		 cap;
};

static void
wal_found_add(struct wal_found *f, uint64_t n)
{
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 16 : f->cap * 2;
		f->v = xreallocarray(f->v, f->cap, sizeof *f->v);
	}
	f->v[f->n++] = n;
}

static void
wal_unlink(struct wal *w, const char *prefix, uint64_t n, const char *why)
{
	char name[64];

	snprintf(name, sizeof name, "%s-%08" PRIu64, prefix, n);
	if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT)
		log_warn("cannot remove WAL file", "path=%s/%s err=%s",
		    w->dir, name, strerror(errno));
	else
		log_debug("removed WAL file", "path=%s/%s reason=%s", w->dir,
		    name, why);
	w->bg.dir_dirty = 1;
}

static int
wal_load(struct wal *w, char **cause)
{
	struct wal_found segs = { 0 }, ckpts = { 0 };
	struct wal_hdr h;
	struct wal_seg *sg;
	struct wal_pos pos;
	struct dirent *de;
	uint64_t n, size, max_number = 0, max_seq = 0, seq, nseries, lost;
	uint64_t *sizes = NULL;
	int64_t *mtimes = NULL, mtime;
	uint16_t *flags = NULL;
	uint64_t *fseq = NULL;
	char name[64], *path, *err;
	size_t i;
	DIR *d;
	int dfd, rc, ret = -1;

	if ((dfd = dup(w->dirfd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		xasprintf(cause, "read WAL directory %s: %s", w->dir,
		    strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			if (unlinkat(w->dirfd, de->d_name, 0) == 0)
				w->bg.dir_dirty = 1;
			continue;
		}
		if (wal_parse_name(de->d_name, "seg", &n))
			wal_found_add(&segs, n);
		else if (wal_parse_name(de->d_name, "checkpoint", &n))
			wal_found_add(&ckpts, n);
		else if (strncmp(de->d_name, "cursor-", 7) == 0) {
			xasprintf(&path, "%s/%s", w->dir, de->d_name);
			err = NULL;
			rc = wal_cursor_read(path, &pos, &seq, &err);
			free(path);
			if (rc == -2) {
				*cause = err;
				closedir(d);
				goto out;
			}
			free(err);
			if (rc == 0) {
				if (pos.segment > max_number)
					max_number = pos.segment;
				if (seq > max_seq)
					max_seq = seq;
			}
		}
	}
	closedir(d);
	if (segs.n > 1)
		qsort(segs.v, segs.n, sizeof *segs.v, wal_cmp_u64);
	if (ckpts.n > 1)
		qsort(ckpts.v, ckpts.n, sizeof *ckpts.v, wal_cmp_u64);

	/* Judge every version before repairing anything. */
	sizes = xcalloc(segs.n + 1, sizeof *sizes);
	mtimes = xcalloc(segs.n + 1, sizeof *mtimes);
	flags = xcalloc(segs.n + 1, sizeof *flags);
	fseq = xcalloc(segs.n + 1, sizeof *fseq);
	for (i = 0; i < segs.n; i++) {
		snprintf(name, sizeof name, "seg-%08" PRIu64, segs.v[i]);
		memset(&h, 0, sizeof h);
		rc = wal_read_hdr(w, name, WAL_MAGIC_SEG, &h, &size, &mtime,
		    cause);
		if (rc == -2)
			goto out;
		mtimes[i] = mtime;
		if (rc != 0 || h.number != segs.v[i]) {
			/* Usually a file created just before a crash. */
			lost = wal_count_records(w, name, size);
			w->st.samples_lost_corrupt += lost;
			log_warn("WAL segment header damaged, removing it",
			    "segment=%s/%s size=%" PRIu64 " lost_samples=%"
			    PRIu64, w->dir, name, size, lost);
			wal_unlink(w, "seg", segs.v[i], "damaged header");
			segs.v[i] = 0;
			continue;
		}
		sizes[i] = size;
		flags[i] = h.flags;
		fseq[i] = h.first_seq;
	}
	for (i = 0; i < ckpts.n; i++) {
		snprintf(name, sizeof name, "checkpoint-%08" PRIu64,
		    ckpts.v[i]);
		rc = wal_read_hdr(w, name, WAL_MAGIC_CKPT, &h, &size, &mtime,
		    cause);
		if (rc == -2)
			goto out;
	}

	/* The newest complete checkpoint wins; older ones are obsolete. */
	for (i = ckpts.n; i-- > 0;) {
		snprintf(name, sizeof name, "checkpoint-%08" PRIu64,
		    ckpts.v[i]);
		if (w->ckpt == 0 && wal_read_hdr(w, name, WAL_MAGIC_CKPT, &h,
		    &size, &mtime, cause) == 0 && h.number == ckpts.v[i] &&
		    wal_ckpt_valid(w, name, size, &nseries)) {
			w->ckpt = ckpts.v[i];
			w->ckpt_bytes = size;
			w->st.series_checkpointed = nseries;
			if (h.first_seq > max_seq)
				max_seq = h.first_seq;
			continue;
		}
		if (w->ckpt == 0)
			log_warn("WAL checkpoint damaged, removing it",
			    "checkpoint=%s/%s", w->dir, name);
		wal_unlink(w, "checkpoint", ckpts.v[i], "obsolete checkpoint");
	}
	if (w->ckpt > max_number)
		max_number = w->ckpt;

	for (i = 0; i < segs.n; i++) {
		if (segs.v[i] == 0)
			continue;
		if (segs.v[i] < w->ckpt) {
			/* A truncation was interrupted after its checkpoint. */
			wal_unlink(w, "seg", segs.v[i], "behind checkpoint");
			continue;
		}
		snprintf(name, sizeof name, "seg-%08" PRIu64, segs.v[i]);
		sg = wal_seg_push(w);
		sg->number = segs.v[i];
		sg->first_seq = fseq[i];
		sg->flags = flags[i];
		sg->mtime_ms = mtimes[i];
		wal_scan_segment(w, sg, name, sizes[i]);
		if (sg->number > max_number)
			max_number = sg->number;
		seq = sg->first_seq + sg->nsamples;
		if (seq > max_seq)
			max_seq = seq;
	}

	/* This run writes a new segment: old positions keep their meaning. */
	sg = wal_seg_push(w);
	sg->number = max_number + 1;
	sg->first_seq = max_seq;
	sg->flags = WAL_SEG_RUN_START;
	sg->mtime_ms = w->now_ms;
	ret = 0;
out:
	free(segs.v);
	free(ckpts.v);
	free(sizes);
	free(mtimes);
	free(flags);
	free(fseq);
	return ret;
}

struct wal *
wal_open(const char *dir, const struct wal_options *o, int64_t now_ms,
    char **cause)
{
	struct wal_options def = { 0 };
	struct wal *w;

	if (o == NULL)
		o = &def;
	w = xcalloc(1, sizeof *w);
	w->fd = w->dirfd = w->lockfd = -1;
	w->bg.dirfd = w->bg.head_fd = -1;
	w->dir = xstrdup(dir);
	w->max_bytes = o->max_bytes != 0 ? o->max_bytes :
	    WAL_DEFAULT_MAX_BYTES;
	w->max_age_ms = o->max_age_ms > 0 ? o->max_age_ms : 0;
	w->seg_bytes = o->segment_bytes != 0 ? o->segment_bytes :
	    WAL_DEFAULT_SEG_BYTES;
	/* Several segments under the cap, so dropping one frees little. */
	if (w->seg_bytes > w->max_bytes / 4)
		w->seg_bytes = w->max_bytes / 4;
	if (w->seg_bytes < WAL_MIN_SEG_BYTES)
		w->seg_bytes = WAL_MIN_SEG_BYTES;
	w->buffer_bytes = o->buffer_bytes != 0 ? o->buffer_bytes :
	    WAL_DEFAULT_BUFFER;
	w->bg.interval_ms = o->sync_interval_ms > 0 ? o->sync_interval_ms :
	    1000;
	w->now_ms = now_ms;
	w->head_born_ms = w->now_ms;

	if (wal_mkdirs(dir, cause) != 0)
		goto fail;
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd == -1) {
		xasprintf(cause, "open WAL directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (wal_lock(w, cause) != 0 || wal_load(w, cause) != 0)
		goto fail;
	w->maintained_size = 0;
	if (wal_bg_start(w, cause) != 0)
		goto fail;
	log_info("WAL opened", "dir=%s segments=%zu first=%" PRIu64
	    " head=%" PRIu64 " lost_samples=%" PRIu64, dir, w->nsegs - 1,
	    w->segs[0].number, wal_head(w)->number,
	    w->st.samples_lost_corrupt);
	return w;
fail:
	wal_close(w);
	return NULL;
}

/* ---- writing --------------------------------------------------------- */

static struct wal_pend *
wal_pend_add(struct wal *w, int type)
{
	struct wal_pend *p;

	if (w->npend == w->pendcap) {
		w->pendcap = w->pendcap == 0 ? 64 : w->pendcap * 2;
		w->pend = xreallocarray(w->pend, w->pendcap, sizeof *w->pend);
	}
	p = &w->pend[w->npend++];
	p->type = type;
	p->off = w->praw.len;
	p->len = 0;
	p->nsamples = 0;
	return p;
}

/*
 * While writes fail the buffer grows; past its bound the oldest samples go
 * (series and drop records never do: later samples need them).
 */
static void
wal_buffer_check(struct wal *w)
{
	struct wal_pend *p;
	size_t i, j, target = w->buffer_bytes / 4 * 3;
	uint64_t dropped = 0;

	if (w->praw.len <= w->buffer_bytes)
		return;
	for (i = 0; i + 1 < w->npend && w->praw.len > target; i++) {
		p = &w->pend[i];
		if (p->type != WAL_REC_SAMPLES || p->len == 0)
			continue;
		dropped += p->nsamples;
		memmove(w->praw.data + p->off, w->praw.data + p->off + p->len,
		    w->praw.len - p->off - p->len);
		w->praw.len -= p->len;
		for (j = i + 1; j < w->npend; j++)
			w->pend[j].off -= p->len;
		p->len = 0;
		p->nsamples = 0;
	}
	for (i = j = 0; i < w->npend; i++) {
		if (w->pend[i].type != WAL_REC_SAMPLES || w->pend[i].len != 0)
			w->pend[j++] = w->pend[i];
	}
	w->npend = j;
	/* Offsets moved: the series builder starts a new record. */
	w->sb_open = 0;
	w->st.samples_dropped_buffer += dropped;
	w->episode_dropped += dropped;
	if (!w->buf_dropping && dropped > 0) {
		log_error("WAL write buffer full, dropping oldest samples",
		    "buffer_bytes=%" PRIu64 " dropped=%" PRIu64,
		    w->buffer_bytes, dropped);
		w->buf_dropping = 1;
	}
}

int
wal_log_series(struct wal *w, series_ref ref, const struct labels *ls)
{
	struct wal_pend *p;

	if (ref == 0 || ref >= WAL_REF_MAX)
		return -1;
	if (!w->sb_open || w->npend == 0 ||
	    w->pend[w->npend - 1].type != WAL_REC_SERIES ||
	    w->pend[w->npend - 1].len > WAL_SERIES_REC_MAX) {
		(void)wal_pend_add(w, WAL_REC_SERIES);
		wal_sbuild_begin(&w->sb, &w->praw);
		w->sb_open = 1;
	}
	p = &w->pend[w->npend - 1];
	wal_sbuild_add(&w->sb, ref, ls);
	p->len = w->praw.len - p->off;
	w->st.series_appended++;
	wal_buffer_check(w);
	return 0;
}

int
wal_log_samples(struct wal *w, const struct wal_sample *s, size_t n)
{
	struct wal_pend *p;
	size_t i, chunk, pad;

	for (i = 0; i < n; i++) {
		if (s[i].ref == 0 || s[i].ref >= WAL_REF_MAX)
			return -1;
	}
	w->sb_open = 0;
	while (n > 0) {
		chunk = n > WAL_SAMPLES_PER_REC ? WAL_SAMPLES_PER_REC : n;
		/* Keep raw samples aligned inside the byte buffer. */
		pad = (8 - (w->praw.len & 7)) & 7;
		if (pad != 0)
			buf_append(&w->praw, "\0\0\0\0\0\0\0", pad);
		p = wal_pend_add(w, WAL_REC_SAMPLES);
		buf_append(&w->praw, s, chunk * sizeof *s);
		p->len = chunk * sizeof *s;
		p->nsamples = chunk;
		s += chunk;
		n -= chunk;
	}
	wal_buffer_check(w);
	return 0;
}

int
wal_log_drop(struct wal *w, const series_ref *refs, size_t n)
{
	struct wal_pend *p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (refs[i] == 0 || refs[i] >= WAL_REF_MAX)
			return -1;
	}
	if (n == 0)
		return 0;
	w->sb_open = 0;
	p = wal_pend_add(w, WAL_REC_DROP);
	wal_drop_encode(&w->praw, refs, n);
	p->len = w->praw.len - p->off;
	wal_buffer_check(w);
	return 0;
}

/* Seal the head (the sync thread syncs and closes it) and start another. */
static void
wal_rotate(struct wal *w)
{
	struct wal_seg *h = wal_head(w), *n;

	w->rotate = 0;
	w->head_born_ms = w->now_ms;
	wal_codec_reset(&w->enc);
	if (h->size == 0)
		return;	/* nothing written yet: keep the number */
	pthread_mutex_lock(&w->bg.mu);
	if (w->bg.head_fd != -1) {
		w->bg.final_fds = xreallocarray(w->bg.final_fds,
		    w->bg.nfinal + 1, sizeof *w->bg.final_fds);
		w->bg.final_fds[w->bg.nfinal++] = w->bg.head_fd;
		w->bg.head_fd = -1;
		wal_bg_wake(&w->bg);
	}
	pthread_mutex_unlock(&w->bg.mu);
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	n = wal_seg_push(w);
	h = &w->segs[w->nsegs - 2];
	n->number = h->number + 1;
	n->first_seq = h->first_seq + h->nsamples;
	n->mtime_ms = w->now_ms;
	w->maintained_size = 0;
}

static int
wal_create_head(struct wal *w)
{
	struct wal_seg *h = wal_head(w);
	char name[64];
	int fd;

	snprintf(name, sizeof name, "seg-%08" PRIu64, h->number);
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	w->fd = fd;
	h->size = 0;
	pthread_mutex_lock(&w->bg.mu);
	w->bg.head_fd = dup(fd);
	w->bg.dir_dirty = 1;
	wal_bg_wake(&w->bg);
	pthread_mutex_unlock(&w->bg.mu);
	return 0;
}

static void
wal_fail(struct wal *w, int err, const char *op)
{
	w->st.write_errors++;
	w->fail_count++;
	if (!w->st.failing)
		log_error("WAL write failed, keeping records in memory",
		    "op=%s segment=%" PRIu64 " err=%s buffered_bytes=%zu", op,
		    wal_head(w)->number, strerror(err), w->praw.len);
	w->st.failing = 1;
}

/* Hand a live reader the records just written at h->size. */
static void
wal_commit_tee(struct wal *w, struct wal_reader *r, const struct wal_seg *h)
{
	const struct wal_pend *p;
	size_t i;

	if (!wal_reader_live(r))
		return;
	for (i = 0; i < w->npend; i++) {
		p = &w->pend[i];
		if (p->type == WAL_REC_SAMPLES)
			wal_reader_tee(r, p->type, h->number, h->size + p->rec,
			    h->size + p->rec_end, w->praw.data + p->off,
			    p->nsamples * sizeof(struct wal_sample),
			    p->nsamples);
		else
			wal_reader_tee(r, p->type, h->number, h->size + p->rec,
			    h->size + p->rec_end, w->wbuf.data + p->rec +
			    WAL_REC_HDR + 1, p->rec_end - p->rec -
			    WAL_REC_HDR - 1, 0);
	}
}

int
wal_commit(struct wal *w)
{
	struct wal_seg *h;
	struct wal_pend *p;
	uint64_t nsamples = 0;
	size_t i, rec;
	int err, idle;

	if (w->npend == 0)
		return 0;
	if (__atomic_exchange_n(&w->bg.sync_failed, 0, __ATOMIC_ACQ_REL))
		w->rotate = 1;
	h = wal_head(w);
	if (w->rotate || h->size >= w->seg_bytes)
		wal_rotate(w);
	h = wal_head(w);
	if (w->fd == -1 && wal_create_head(w) != 0) {
		wal_fail(w, errno, "create");
		return -1;
	}

	/* A live reader too far behind reads this commit from the file. */
	for (i = 0; i < w->nreaders; i++)
		wal_reader_tee_check(w->readers[i], &w->enc);

	buf_reset(&w->wbuf);
	if (h->size == 0) {
		buf_reserve(&w->wbuf, WAL_HDR_SIZE);
		wal_hdr_encode((uint8_t *)w->wbuf.data, WAL_MAGIC_SEG,
		    (uint16_t)h->flags, h->number, h->first_seq);
		w->wbuf.len = WAL_HDR_SIZE;
	}
	for (i = 0; i < w->npend; i++) {
		p = &w->pend[i];
		rec = w->wbuf.len;
		buf_append(&w->wbuf, "\0\0\0\0\0\0\0\0", WAL_REC_HDR);
		buf_putc(&w->wbuf, (char)p->type);
		if (p->type == WAL_REC_SAMPLES) {
			wal_samples_encode(&w->enc, &w->wbuf,
			    (const struct wal_sample *)(w->praw.data + p->off),
			    p->nsamples);
			nsamples += p->nsamples;
		} else
			buf_append(&w->wbuf, w->praw.data + p->off, p->len);
		wal_frame((uint8_t *)w->wbuf.data + rec,
		    w->wbuf.len - rec - WAL_REC_HDR);
		p->rec = rec;
		p->rec_end = w->wbuf.len;
	}

	if (wal_write_full(w->fd, w->wbuf.data, w->wbuf.len, h->size) != 0) {
		err = errno;
		/* Leave no partial record that could parse later. */
		if (ftruncate(w->fd, (off_t)h->size) != 0)
			log_debug("WAL truncate after failed write failed",
			    "err=%s", strerror(errno));
		/* The codec state now covers records that never landed. */
		wal_codec_reset(&w->enc);
		if (h->size > WAL_HDR_SIZE)
			w->rotate = 1;
		wal_fail(w, err, "write");
		return -1;
	}
	for (i = 0; i < w->nreaders; i++)
		wal_commit_tee(w, w->readers[i], h);
	h->size += w->wbuf.len;
	h->nsamples += nsamples;
	w->st.samples_appended += nsamples;
	w->npend = 0;
	buf_reset(&w->praw);
	w->sb_open = 0;
	/* The first write since a sync wakes a sleeping sync thread; after
	 * the unlock, so it does not wake only to wait for the mutex. */
	if (!__atomic_exchange_n(&w->bg.head_dirty, 1, __ATOMIC_ACQ_REL)) {
		pthread_mutex_lock(&w->bg.mu);
		idle = w->bg.idle;
		pthread_mutex_unlock(&w->bg.mu);
		if (idle)
			pthread_cond_signal(&w->bg.cv);
	}
	if (w->st.failing) {
		log_info("WAL writes recovered", "failed_attempts=%" PRIu64
		    " dropped_samples=%" PRIu64, w->fail_count,
		    w->episode_dropped);
		w->st.failing = 0;
		w->fail_count = 0;
	}
	w->buf_dropping = 0;
	w->episode_dropped = 0;
	/* Keep a burst from pinning memory for the life of the process. */
	if (w->wbuf.cap > (8u << 20) && w->wbuf.len < w->wbuf.cap / 8)
		buf_free(&w->wbuf);
	if (w->praw.cap > (8u << 20))
		buf_free(&w->praw);
	return 0;
}

/* ---- retention ------------------------------------------------------- */

/* The oldest segment number this reader still needs. */
static uint64_t
wal_reader_needs(struct wal *w, struct wal_reader *r)
{
	const struct wal_pos *pos = wal_reader_acked(r);
	struct wal_seg *sg;
	uint64_t n = pos->segment;

	sg = wal_seg_find(w, n);
	if (sg != NULL && sg != wal_head(w) && pos->offset >= sg->size)
		return n + 1;
	return n;
}

static void
wal_job_apply(struct wal *w)
{
	struct wal_job *job = &w->bg.job;
	struct wal_seg *first;
	uint64_t to = job->to, dropped, maxdrop = 0, old = w->ckpt;
	char **paths = NULL;
	size_t i, n = 0, keep;

	for (keep = 0; keep < w->nsegs && w->segs[keep].number < to; keep++)
		;
	paths = xcalloc(keep + 2, sizeof *paths);
	for (i = 0; i < keep; i++)
		paths[n++] = wal_path(w->dir, "seg", w->segs[i].number);
	if (old != 0 && old != to)
		paths[n++] = wal_path(w->dir, "checkpoint", old);
	memmove(w->segs, w->segs + keep, (w->nsegs - keep) * sizeof *w->segs);
	w->nsegs -= keep;
	w->ckpt = to;
	w->ckpt_bytes = job->out_bytes;
	w->st.checkpoints++;
	w->st.series_checkpointed = job->out_series;
	w->st.checkpoint_seconds_total += job->seconds;
	log_info("WAL checkpoint written", "checkpoint=%" PRIu64 " series=%"
	    PRIu64 " bytes=%" PRIu64 " duration=%.3fs segments_removed=%zu",
	    to, job->out_series, job->out_bytes, job->seconds, keep);

	first = &w->segs[0];
	for (i = 0; i < w->nreaders; i++) {
		dropped = wal_reader_advance(w->readers[i], first->number);
		if (dropped > maxdrop)
			maxdrop = dropped;
	}
	if (maxdrop > 0) {
		w->st.samples_dropped_cap += maxdrop;
		w->cap_dropped += maxdrop;
		if (!w->cap_episode)
			log_warn("WAL over its size or age limit, dropping "
			    "oldest samples not yet sent", "dropped=%" PRIu64
			    " max_bytes=%" PRIu64 " max_age_ms=%" PRId64,
			    maxdrop, w->max_bytes, w->max_age_ms);
		w->cap_episode = 1;
	}
	free(job->segs);
	job->segs = NULL;
	job->nsegs = 0;

	pthread_mutex_lock(&w->bg.mu);
	w->bg.unlinks = xreallocarray(w->bg.unlinks, w->bg.nunlinks + n,
	    sizeof *w->bg.unlinks);
	memcpy(w->bg.unlinks + w->bg.nunlinks, paths, n * sizeof *paths);
	w->bg.nunlinks += n;
	job->state = WAL_JOB_IDLE;
	pthread_cond_signal(&w->bg.cv);
	pthread_mutex_unlock(&w->bg.mu);
	free(paths);
}

void
wal_maintain(struct wal *w, int64_t now_ms)
{
	struct wal_seg *h;
	struct wal_job *job = &w->bg.job;
	uint64_t need, m_pass, m_force, total, target;
	size_t i, k;
	int state;

	w->now_ms = now_ms;
	h = wal_head(w);
	if (h->size != w->maintained_size) {
		h->mtime_ms = now_ms;
		w->maintained_size = h->size;
	}

	pthread_mutex_lock(&w->bg.mu);
	state = job->state;
	pthread_mutex_unlock(&w->bg.mu);
	if (state == WAL_JOB_DONE)
		wal_job_apply(w);
	else if (state == WAL_JOB_FAILED) {
		free(job->segs);
		job->segs = NULL;
		job->nsegs = 0;
		w->job_retry_ms = now_ms + WAL_JOB_RETRY_MS;
		pthread_mutex_lock(&w->bg.mu);
		job->state = WAL_JOB_IDLE;
		pthread_mutex_unlock(&w->bg.mu);
	}
	if (state == WAL_JOB_RUN || now_ms < w->job_retry_ms)
		return;

	/* A quiet agent still rotates, so old data can go. */
	h = wal_head(w);
	if (h->size > WAL_HDR_SIZE && (h->size >= w->seg_bytes ||
	    now_ms - w->head_born_ms >= (w->max_age_ms > 0 &&
	    w->max_age_ms / 4 < WAL_ROTATE_MS ? w->max_age_ms / 4 :
	    WAL_ROTATE_MS)))
		wal_rotate(w);
	h = wal_head(w);

	m_pass = h->number;
	for (i = 0; i < w->nreaders; i++) {
		need = wal_reader_needs(w, w->readers[i]);
		if (need < m_pass)
			m_pass = need;
	}
	total = w->ckpt_bytes;
	for (i = 0; i < w->nsegs; i++)
		total += w->segs[i].size;
	m_force = 0;
	for (i = 0; i + 1 < w->nsegs; i++) {
		if (total <= w->max_bytes && (w->max_age_ms == 0 ||
		    w->segs[i].mtime_ms >= now_ms - w->max_age_ms))
			break;
		total -= w->segs[i].size;
		m_force = w->segs[i + 1].number;
	}
	/* An episode lasts until every reader is back in the head. */
	if (w->cap_episode && m_pass >= h->number) {
		log_info("WAL readers caught up after dropping data",
		    "dropped=%" PRIu64, w->cap_dropped);
		w->cap_episode = 0;
		w->cap_dropped = 0;
	}
	target = m_force > m_pass ? m_force : m_pass;
	for (k = 0; k + 1 < w->nsegs && w->segs[k].number < target; k++)
		;
	if (k == 0)
		return;

	/* Checkpoint the series segments [0, k) define, then drop them. */
	job->from = w->segs[0].number;
	job->to = w->segs[k].number;
	job->ckpt = w->ckpt;
	job->to_flags = w->segs[k].flags;
	job->segs = xmemdup(w->segs, k * sizeof *w->segs);
	job->nsegs = k;
	job->to_first_seq = w->segs[k].first_seq;
	pthread_mutex_lock(&w->bg.mu);
	job->state = WAL_JOB_RUN;
	pthread_cond_signal(&w->bg.cv);
	pthread_mutex_unlock(&w->bg.mu);
}

void
wal_stats(struct wal *w, struct wal_stats *st)
{
	size_t i;

	*st = w->st;
	st->bytes = w->ckpt_bytes;
	st->segments = 0;
	for (i = 0; i < w->nsegs; i++) {
		st->bytes += w->segs[i].size;
		if (w->segs[i].size > 0)
			st->segments++;
	}
	pthread_mutex_lock(&w->bg.mu);
	st->fsyncs = w->bg.fsyncs;
	st->fsync_seconds_total = w->bg.fsync_total;
	st->fsync_seconds_last = w->bg.fsync_last;
	pthread_mutex_unlock(&w->bg.mu);
}

void
wal_cslot_update(struct wal *w, struct wal_cslot *slot,
    const struct wal_pos *pos, uint64_t seq, int closing)
{
	pthread_mutex_lock(&w->bg.mu);
	slot->pos = *pos;
	slot->seq = seq;
	slot->gen++;
	/*
	 * Persisting a cursor after every send cost more CPU than scraping.
	 * Once a sync interval is enough: after a crash at most that much is
	 * sent again, and receivers take repeated samples. A closing reader
	 * is persisted at once.
	 */
	if (closing) {
		slot->closing = 1;
		w->bg.cursor_work = 1;
		pthread_cond_signal(&w->bg.cv);
	} else {
		w->bg.cursor_dirty = 1;
		wal_bg_wake(&w->bg);
	}
	pthread_mutex_unlock(&w->bg.mu);
}

void
wal_close(struct wal *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->bg.started) {
		if (w->npend > 0 && wal_commit(w) != 0)
			log_error("WAL closed with unwritten records",
			    "buffered_bytes=%zu", w->praw.len);
		for (i = 0; i < w->nreaders; i++)
			wal_reader_detach(w->readers[i]);
		wal_bg_stop(w);
	}
	free(w->readers);
	if (w->fd != -1)
		close(w->fd);
	if (w->lockfd != -1)
		close(w->lockfd);
	if (w->dirfd != -1)
		close(w->dirfd);
	free(w->bg.job.segs);
	wal_codec_free(&w->enc);
	wal_sbuild_free(&w->sb);
	buf_free(&w->praw);
	buf_free(&w->wbuf);
	free(w->pend);
	free(w->segs);
	free(w->dir);
	free(w);
}
