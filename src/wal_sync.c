/*
 * The WAL's background thread: everything that waits on the disk, so the
 * event loop never does. It fdatasyncs the head segment every sync
 * interval (and sealed segments once), writes cursor files at the tick
 * after readers ack (in place; see wal_cursor_store), builds checkpoints
 * and removes obsolete files.
 *
 * It shares struct wal_bg with the loop thread under bg.mu; the mutex is
 * never held across I/O.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "wal_int.h"
#include "xmalloc.h"

static double
wal_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- cursor files ---------------------------------------------------- */

void
wal_cursor_encode(uint8_t *p, const struct wal_pos *pos, uint64_t seq)
{
	wal_hdr_encode(p, WAL_MAGIC_CURSOR, 0, pos->segment, seq);
	wal_put_le64(p + WAL_HDR_SIZE, pos->offset);
	wal_put_le32(p + WAL_HDR_SIZE + 8, pos->index);
	wal_put_le32(p + WAL_HDR_SIZE + 12,
	    wal_crc32c(0, p + WAL_HDR_SIZE, 12));
}

int
wal_cursor_read(const char *path, struct wal_pos *pos, uint64_t *seq,
    char **cause)
{
	uint8_t buf[WAL_CURSOR_SIZE + 1];
	struct wal_hdr h;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		xasprintf(cause, "open %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0) {
		xasprintf(cause, "read %s: %s", path, strerror(errno));
		return -1;
	}
	rc = wal_hdr_decode(buf, (size_t)n, WAL_MAGIC_CURSOR, &h);
	if (rc == -2) {
		xasprintf(cause, "WAL cursor %s has format version %u; this "
		    "promlet reads version %d (written by a newer promlet?)",
		    path, h.version, WAL_FORMAT_VERSION);
		return -2;
	}
	if (rc != 0 || n != WAL_CURSOR_SIZE ||
	    wal_get_le32(buf + WAL_HDR_SIZE + 12) !=
	    wal_crc32c(0, buf + WAL_HDR_SIZE, 12)) {
		xasprintf(cause, "WAL cursor %s is damaged", path);
		return -1;
	}
	pos->segment = h.number;
	pos->offset = wal_get_le64(buf + WAL_HDR_SIZE);
	pos->index = wal_get_le32(buf + WAL_HDR_SIZE + 8);
	*seq = h.first_seq;
	return 0;
}

/* Create path.tmp for writing; *tmp gets its name. */
static int
wal_tmp_create(const char *path, char **tmp)
{
	int fd, err;

	xasprintf(tmp, "%s.tmp", path);
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		err = errno;
		free(*tmp);
		*tmp = NULL;
		errno = err;
	}
	return fd;
}

/*
 * Make a written path.tmp path: fsync it, rename it over path, fsync the
 * directory. Closes fd and frees tmp either way; on failure (errno set)
 * the temporary file is gone.
 */
static int
wal_tmp_install(int dirfd, int fd, char *tmp, const char *path, int ok)
{
	int err;

	if (!ok || fsync(fd) != 0) {
		err = errno;
		close(fd);
		errno = err;
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	if (fsync(dirfd) != 0)
		return -1;
	return 0;
fail:
	err = errno;
	unlink(tmp);
	free(tmp);
	errno = err;
	return -1;
}

/* Write path.tmp, fsync it, rename it over path, fsync the directory. */
static int
wal_replace_file(int dirfd, const char *path, const void *data, size_t len)
{
	char *tmp;
	int fd;

	if ((fd = wal_tmp_create(path, &tmp)) == -1)
		return -1;
	return wal_tmp_install(dirfd, fd, tmp, path,
	    wal_write_full(fd, data, len, 0) == 0);
}

int
wal_cursor_write(int dirfd, const char *path, const struct wal_pos *pos,
    uint64_t seq)
{
	uint8_t buf[WAL_CURSOR_SIZE];

	wal_cursor_encode(buf, pos, seq);
	return wal_replace_file(dirfd, path, buf, sizeof buf);
}

/* ---- checkpoints ----------------------------------------------------- */

/*
 * A checkpoint keeps the latest definition of every series still live in
 * the files it replaces. Holding their label sets while it is built would
 * cost about as much as the series table (over 100 MB at 1M series, and
 * glibc keeps it after the free), so it takes two passes over the files.
 * The first notes where each ref's live definition is, 8 bytes a ref:
 *
 *	place = (offset of its SERIES record in the files end to end
 *	         << WAL_CK_ENTRY_BITS | its entry in that record) + 1
 *	0     = not live (never defined, dropped, or before a run start)
 *
 * The second reads the files again and copies each entry found at its
 * ref's place, writing the new file a megabyte at a time. A second pass
 * that reads less than the first (a file gone bad in between) can only
 * miss definitions, never copy a wrong one.
 */
#define WAL_CK_ENTRY_BITS	20
#define WAL_CK_FLUSH		(1u << 20)

struct wal_ckpass {
	uint64_t		*place;		/* by ref */
	size_t			 cap;
	int			 emit;		/* the second pass */
	/* The second pass's output. */
	int			 fd;
	uint64_t		 written;
	struct buf		 out;
	struct wal_sbuild	 sb;
	size_t			 rec;
	int			 open_rec;
	uint64_t		 nseries;
	int			 err;		/* errno of a failed write */
};

static void
wal_ckpt_note(struct wal_ckpass *ck, series_ref ref, uint64_t place)
{
	size_t ncap;

	if (ref >= ck->cap) {
		if (place == 0)
			return;
		ncap = ck->cap == 0 ? 1024 : ck->cap;
		while (ncap <= ref)
			ncap *= 2;
		ck->place = xreallocarray(ck->place, ncap, sizeof *ck->place);
		memset(ck->place + ck->cap, 0,
		    (ncap - ck->cap) * sizeof *ck->place);
		ck->cap = ncap;
	}
	ck->place[ref] = place;
}

static void
wal_ckpt_forget(struct wal_ckpass *ck)
{
	if (ck->cap != 0)
		memset(ck->place, 0, ck->cap * sizeof *ck->place);
}

static void
wal_ckpt_close_rec(struct wal_ckpass *ck)
{
	if (!ck->open_rec)
		return;
	wal_frame((uint8_t *)ck->out.data + ck->rec,
	    ck->out.len - ck->rec - WAL_REC_HDR);
	ck->open_rec = 0;
}

/* Write what is buffered; only between records. */
static void
wal_ckpt_write(struct wal_ckpass *ck)
{
	if (ck->err == 0 && ck->out.len != 0 &&
	    wal_write_full(ck->fd, ck->out.data, ck->out.len,
	    ck->written) != 0)
		ck->err = errno;
	ck->written += ck->out.len;
	buf_reset(&ck->out);
}

static void
wal_ckpt_copy(struct wal_ckpass *ck, series_ref ref,
    const struct labels *ls)
{
	if (ck->open_rec && (ck->sb.nseries >= 4096 ||
	    ck->out.len - ck->rec > WAL_SERIES_REC_MAX)) {
		wal_ckpt_close_rec(ck);
		if (ck->out.len >= WAL_CK_FLUSH)
			wal_ckpt_write(ck);
	}
	if (!ck->open_rec) {
		ck->rec = ck->out.len;
		buf_append(&ck->out, "\0\0\0\0\0\0\0\0", WAL_REC_HDR);
		buf_putc(&ck->out, WAL_REC_SERIES);
		wal_sbuild_begin(&ck->sb, &ck->out);
		ck->open_rec = 1;
	}
	wal_sbuild_add(&ck->sb, ref, ls);
	ck->nseries++;
}

/*
 * One pass over the SERIES and DROP records of one file, which starts
 * at base in the files end to end. Returns -1 when the place of a record
 * does not fit (a file of over 16 TiB).
 */
static int
wal_ckpt_pass(const char *dir, const char *prefix, uint64_t number,
    uint64_t size, uint64_t base, struct wal_ckpass *ck)
{
	struct wal_rfile rf;
	struct wal_series_iter si = { 0 };
	struct labels ls = LABELS_INIT;
	const uint8_t *body;
	series_ref ref, *refs = NULL;
	size_t refcap = 0;
	uint64_t off = 0, at, place;
	uint32_t len, entry;
	long i, n;
	char *path;
	int fd, rc, ret = 0;

	path = wal_path(dir, prefix, number);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (!ck->emit)
			log_error("checkpoint cannot read WAL file",
			    "path=%s err=%s", path, strerror(errno));
		free(path);
		return 0;
	}
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, size);
	while ((rc = wal_rfile_next(&rf, &off, &body, &len,
	    WAL_REC_SAMPLES)) == 1) {
		if (body == NULL)
			continue;
		if (body[0] == WAL_REC_SERIES) {
			at = base + off;
			if (at >= (UINT64_C(1) << (64 - WAL_CK_ENTRY_BITS)) - 1) {
				ret = -1;
				break;
			}
			entry = 0;
			wal_series_begin(&si, body + 1, len - 1);
			while ((rc = wal_series_next(&si, &ref, &ls)) == 1) {
				if (entry >= (1u << WAL_CK_ENTRY_BITS)) {
					rc = -1;
					break;
				}
				place = (at << WAL_CK_ENTRY_BITS | entry++) + 1;
				if (!ck->emit)
					wal_ckpt_note(ck, ref, place);
				else if (ref < ck->cap &&
				    ck->place[ref] == place)
					wal_ckpt_copy(ck, ref, &ls);
			}
			if (rc < 0)
				break;
		} else if (body[0] == WAL_REC_DROP) {
			n = wal_drop_decode(body + 1, len - 1, &refs, &refcap);
			for (i = 0; i < n && !ck->emit; i++)
				wal_ckpt_note(ck, refs[i], 0);
		} else if (body[0] == WAL_REC_END)
			break;
	}
	if (rc < 0 && !ck->emit)
		log_error("checkpoint stopped at a bad WAL record",
		    "path=%s offset=%" PRIu64, path, off);
	wal_rfile_free(&rf);
	wal_series_iter_free(&si);
	labels_free(&ls);
	free(refs);
	free(path);
	return ret;
}

/* Both passes over the old checkpoint and the segments, in order. */
static int
wal_ckpt_passes(const char *dir, struct wal_job *job, uint64_t ckpt_size,
    struct wal_ckpass *ck)
{
	uint64_t base = 0;
	size_t i;

	if (ckpt_size != 0) {
		if (wal_ckpt_pass(dir, "checkpoint", job->ckpt, ckpt_size, 0,
		    ck) != 0)
			return -1;
		base = ckpt_size;
	}
	for (i = 0; i < job->nsegs; i++) {
		/* Readers forget every ref at a run start. */
		if (!ck->emit && (job->segs[i].flags & WAL_SEG_RUN_START))
			wal_ckpt_forget(ck);
		if (job->segs[i].size > WAL_HDR_SIZE &&
		    wal_ckpt_pass(dir, "seg", job->segs[i].number,
		    job->segs[i].size, base, ck) != 0)
			return -1;
		base += job->segs[i].size;
	}
	return 0;
}

int
wal_ckpt_build(const char *dir, int dirfd, struct wal_job *job)
{
	struct wal_ckpass ck = { .fd = -1, .out = BUF_INIT };
	uint8_t hdr[WAL_HDR_SIZE];
	struct stat st;
	uint64_t ckpt_size = 0;
	char *path, *tmp = NULL;
	int rc = -1;

	path = wal_path(dir, "checkpoint", job->ckpt);
	if (job->ckpt != 0 && stat(path, &st) == 0)
		ckpt_size = (uint64_t)st.st_size;
	free(path);
	path = wal_path(dir, "checkpoint", job->to);

	if (wal_ckpt_passes(dir, job, ckpt_size, &ck) != 0) {
		errno = EFBIG;
		goto out;
	}
	/* Readers forget every ref at a run start: nothing to carry. */
	if (job->to_flags & WAL_SEG_RUN_START)
		wal_ckpt_forget(&ck);

	if ((ck.fd = wal_tmp_create(path, &tmp)) == -1)
		goto out;
	ck.emit = 1;
	wal_hdr_encode(hdr, WAL_MAGIC_CKPT, 0, job->to, job->to_first_seq);
	buf_append(&ck.out, hdr, sizeof hdr);
	if (wal_ckpt_passes(dir, job, ckpt_size, &ck) != 0)
		ck.err = EFBIG;
	wal_ckpt_close_rec(&ck);
	ck.rec = ck.out.len;
	buf_append(&ck.out, "\0\0\0\0\0\0\0\0", WAL_REC_HDR);
	buf_putc(&ck.out, WAL_REC_END);
	buf_put_varint(&ck.out, ck.nseries);
	wal_frame((uint8_t *)ck.out.data + ck.rec,
	    ck.out.len - ck.rec - WAL_REC_HDR);
	wal_ckpt_write(&ck);
	if (ck.err != 0)
		errno = ck.err;
	rc = wal_tmp_install(dirfd, ck.fd, tmp, path, ck.err == 0);
	job->out_bytes = ck.written;
	job->out_series = ck.nseries;
out:
	if (rc != 0)
		log_error("cannot write WAL checkpoint", "path=%s err=%s",
		    path, strerror(errno));
	free(path);
	free(ck.place);
	wal_sbuild_free(&ck.sb);
	buf_free(&ck.out);
	return rc;
}

/* ---- the thread ------------------------------------------------------ */

static void
wal_bg_deadline(struct timespec *ts, double at)
{
	ts->tv_sec = (time_t)at;
	ts->tv_nsec = (long)((at - (double)ts->tv_sec) * 1e9);
}

/* Sync what was written; called with the mutex held, drops it for I/O. */
static void
wal_bg_sync(struct wal_bg *bg)
{
	int *finals, head, dir, dirty, failed = 0;
	size_t nfinal, i;
	double t0, took = 0;
	unsigned nsync = 0;

	finals = bg->final_fds;
	nfinal = bg->nfinal;
	bg->final_fds = NULL;
	bg->nfinal = 0;
	head = bg->head_fd;
	dir = bg->dir_dirty;
	bg->dir_dirty = 0;
	dirty = __atomic_exchange_n(&bg->head_dirty, 0, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&bg->mu);

	for (i = 0; i < nfinal; i++) {
		t0 = wal_mono();
		if (fdatasync(finals[i]) != 0) {
			log_error("WAL fdatasync of a sealed segment failed, "
			    "recent samples may be lost on power loss",
			    "err=%s", strerror(errno));
		}
		took += wal_mono() - t0;
		nsync++;
		close(finals[i]);
	}
	free(finals);
	if (dirty && head != -1) {
		t0 = wal_mono();
		if (fdatasync(head) != 0) {
			log_error("WAL fdatasync failed, starting a new "
			    "segment", "err=%s", strerror(errno));
			failed = 1;
		}
		took += wal_mono() - t0;
		nsync++;
	}
	if (dir && fsync(bg->dirfd) != 0)
		log_error("WAL directory fsync failed", "dir=%s err=%s",
		    bg->dir, strerror(errno));

	pthread_mutex_lock(&bg->mu);
	if (failed)
		__atomic_store_n(&bg->sync_failed, 1, __ATOMIC_RELEASE);
	if (nsync > 0) {
		bg->fsyncs += nsync;
		bg->fsync_total += took;
		bg->fsync_last = took / nsync;
	}
}

/*
 * Write one cursor, without bg->mu. The first write of a run replaces
 * the file durably (a new reader's file may not exist yet, and a missing
 * cursor would make the reader start at the end). Later ones overwrite
 * the open file in place and leave it to the kernel's writeback: a power
 * loss can then only bring back an older cursor, whose data is still on
 * disk and is sent again, because segments are removed only after every
 * cursor is on disk (wal_bg_unlinks). A torn write fails the CRC and the
 * reader starts at the oldest data, again sending twice rather than
 * losing. This saves two fsyncs, a rename and a directory fsync per
 * reader per sync interval. A closing reader's cursor is synced.
 */
static int
wal_cursor_store(int dirfd, const char *path, int *fd, int *unsynced,
    const struct wal_pos *pos, uint64_t seq, int closing)
{
	uint8_t buf[WAL_CURSOR_SIZE];
	struct stat st;
	ssize_t n;

	/* Replaced by someone else: the file we hold is no longer it. */
	if (*fd != -1 && (fstat(*fd, &st) != 0 || st.st_nlink == 0)) {
		close(*fd);
		*fd = -1;
	}
	if (*fd == -1) {
		if (wal_cursor_write(dirfd, path, pos, seq) != 0)
			return -1;
		*unsynced = 0;
		if (!closing)
			*fd = open(path, O_WRONLY | O_CLOEXEC);
		return 0;
	}
	wal_cursor_encode(buf, pos, seq);
	if ((n = pwrite(*fd, buf, sizeof buf, 0)) != (ssize_t)sizeof buf) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	*unsynced = 1;
	if (closing) {
		if (fdatasync(*fd) != 0)
			return -1;
		*unsynced = 0;
	}
	return 0;
}

static void
wal_bg_cursors(struct wal_bg *bg)
{
	struct wal_cslot *s, **sp;
	struct wal_pos pos;
	uint64_t seq, gen;
	char *path;
	int again = 1, fd, unsynced, closing, rc;

	bg->cursor_work = 0;
	bg->cursor_dirty = 0;
	while (again) {
		again = 0;
		for (sp = &bg->slots; (s = *sp) != NULL;) {
			if (s->gen == s->saved) {
				if (s->closing) {
					*sp = s->next;
					if (s->fd != -1)
						close(s->fd);
					free(s->path);
					free(s);
					continue;
				}
				sp = &s->next;
				continue;
			}
			pos = s->pos;
			seq = s->seq;
			gen = s->gen;
			closing = s->closing;
			fd = s->fd;
			unsynced = s->unsynced;
			path = xstrdup(s->path);
			pthread_mutex_unlock(&bg->mu);
			rc = wal_cursor_store(bg->dirfd, path, &fd, &unsynced,
			    &pos, seq, closing);
			if (rc != 0)
				log_error("cannot persist WAL cursor",
				    "path=%s err=%s", path, strerror(errno));
			free(path);
			pthread_mutex_lock(&bg->mu);
			s->fd = fd;
			s->unsynced = unsynced;
			/* Saved even on failure: retrying would spin. */
			s->saved = gen;
			again = 1;
			break;	/* the list may have changed */
		}
	}
}

static void
wal_bg_job(struct wal *w)
{
	struct wal_bg *bg = &w->bg;
	double t0 = wal_mono();
	int rc;

	pthread_mutex_unlock(&bg->mu);
	rc = wal_ckpt_build(bg->dir, bg->dirfd, &bg->job);
	bg->job.seconds = wal_mono() - t0;
	pthread_mutex_lock(&bg->mu);
	bg->job.state = rc == 0 ? WAL_JOB_DONE : WAL_JOB_FAILED;
}

/* Every cursor on disk, before the data behind it goes. */
static void
wal_bg_cursors_sync(struct wal_bg *bg)
{
	struct wal_cslot *s;
	int *fds = NULL;
	size_t n = 0, i;

	wal_bg_cursors(bg);
	for (s = bg->slots; s != NULL; s = s->next) {
		if (s->fd == -1 || !s->unsynced)
			continue;
		fds = xreallocarray(fds, n + 1, sizeof *fds);
		fds[n++] = s->fd;
		s->unsynced = 0;
	}
	/* Slots are freed only by this thread: the fds stay open. */
	pthread_mutex_unlock(&bg->mu);
	for (i = 0; i < n; i++) {
		if (fdatasync(fds[i]) != 0)
			log_error("WAL cursor fsync failed", "dir=%s err=%s",
			    bg->dir, strerror(errno));
	}
	free(fds);
	pthread_mutex_lock(&bg->mu);
}

static void
wal_bg_unlinks(struct wal_bg *bg)
{
	char **paths;
	size_t i, n;

	wal_bg_cursors_sync(bg);
	paths = bg->unlinks;
	n = bg->nunlinks;
	bg->unlinks = NULL;
	bg->nunlinks = 0;
	pthread_mutex_unlock(&bg->mu);
	for (i = 0; i < n; i++) {
		if (unlink(paths[i]) != 0 && errno != ENOENT)
			log_warn("cannot remove WAL file", "path=%s err=%s",
			    paths[i], strerror(errno));
		free(paths[i]);
	}
	free(paths);
	if (n > 0 && fsync(bg->dirfd) != 0)
		log_error("WAL directory fsync failed", "dir=%s err=%s",
		    bg->dir, strerror(errno));
	pthread_mutex_lock(&bg->mu);
}

/* Something for the next tick: data or a directory to sync, a cursor. */
static int
wal_bg_pending(struct wal_bg *bg)
{
	return __atomic_load_n(&bg->head_dirty, __ATOMIC_ACQUIRE) ||
	    bg->nfinal > 0 || bg->dir_dirty || bg->cursor_dirty;
}

void
wal_bg_wake(struct wal_bg *bg)
{
	if (bg->idle)
		pthread_cond_signal(&bg->cv);
}

/*
 * A tick every sync interval while there is something to sync; none
 * while there is not. An agent scraping a few targets writes a burst
 * every few seconds, and waking each second for nothing cost it as much
 * CPU as the sync itself. Woken by the first write after a quiet spell,
 * the thread waits a whole interval before syncing: the rest of the
 * burst lands in the same fdatasync, and nothing waits longer than an
 * interval unsynced.
 */
static void *
wal_bg_main(void *arg)
{
	struct wal *w = arg;
	struct wal_bg *bg = &w->bg;
	struct timespec ts;
	double next = wal_mono() + (double)bg->interval_ms / 1000;

	pthread_mutex_lock(&bg->mu);
	for (;;) {
		while (!bg->stop && !bg->cursor_work && bg->nunlinks == 0 &&
		    bg->job.state != WAL_JOB_RUN) {
			if (!wal_bg_pending(bg)) {
				bg->idle = 1;
				pthread_cond_wait(&bg->cv, &bg->mu);
				bg->idle = 0;
				next = wal_mono() +
				    (double)bg->interval_ms / 1000;
				continue;
			}
			if (wal_mono() >= next)
				break;
			wal_bg_deadline(&ts, next);
			pthread_cond_timedwait(&bg->cv, &bg->mu, &ts);
		}
		if (bg->stop || (wal_bg_pending(bg) && wal_mono() >= next)) {
			wal_bg_sync(bg);
			next = wal_mono() + (double)bg->interval_ms / 1000;
			if (bg->cursor_dirty)
				bg->cursor_work = 1;
		}
		if (bg->cursor_work)
			wal_bg_cursors(bg);
		if (bg->job.state == WAL_JOB_RUN)
			wal_bg_job(w);
		if (bg->nunlinks > 0)
			wal_bg_unlinks(bg);
		if (bg->stop && !bg->cursor_work && bg->nunlinks == 0)
			break;
	}
	pthread_mutex_unlock(&bg->mu);
	return NULL;
}

int
wal_bg_start(struct wal *w, char **cause)
{
	struct wal_bg *bg = &w->bg;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	bg->dir = xstrdup(w->dir);
	if ((bg->dirfd = dup(w->dirfd)) == -1) {
		xasprintf(cause, "dup: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_init(&bg->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bg->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals belong to the event loop, not to this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&bg->thread, NULL, wal_bg_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		xasprintf(cause, "start WAL sync thread: %s", strerror(rc));
		pthread_cond_destroy(&bg->cv);
		pthread_mutex_destroy(&bg->mu);
		return -1;
	}
	bg->started = 1;
	return 0;
}

void
wal_bg_stop(struct wal *w)
{
	struct wal_bg *bg = &w->bg;
	struct wal_cslot *s, *next;
	size_t i;

	if (bg->started) {
		pthread_mutex_lock(&bg->mu);
		bg->stop = 1;
		__atomic_store_n(&bg->head_dirty, 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&bg->cv);
		pthread_mutex_unlock(&bg->mu);
		pthread_join(bg->thread, NULL);
		pthread_cond_destroy(&bg->cv);
		pthread_mutex_destroy(&bg->mu);
		bg->started = 0;
	}
	for (s = bg->slots; s != NULL; s = next) {
		next = s->next;
		if (s->fd != -1)
			close(s->fd);
		free(s->path);
		free(s);
	}
	bg->slots = NULL;
	for (i = 0; i < bg->nfinal; i++)
		close(bg->final_fds[i]);
	free(bg->final_fds);
	for (i = 0; i < bg->nunlinks; i++)
		free(bg->unlinks[i]);
	free(bg->unlinks);
	if (bg->head_fd != -1)
		close(bg->head_fd);
	if (bg->dirfd != -1)
		close(bg->dirfd);
	free(bg->dir);
}
