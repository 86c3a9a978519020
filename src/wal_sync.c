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

/* Write path.tmp, fsync it, rename it over path, fsync the directory. */
static int
wal_replace_file(int dirfd, const char *path, const void *data, size_t len)
{
	char *tmp;
	int fd, err;

	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	if (wal_write_full(fd, data, len, 0) != 0 || fsync(fd) != 0) {
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

int
wal_cursor_write(int dirfd, const char *path, const struct wal_pos *pos,
    uint64_t seq)
{
	uint8_t buf[WAL_CURSOR_SIZE];

	wal_cursor_encode(buf, pos, seq);
	return wal_replace_file(dirfd, path, buf, sizeof buf);
}

/* ---- checkpoints ----------------------------------------------------- */

/* ref -> label set, each kept as varint n, then varint len + bytes. */
struct wal_ckmap {
	uint8_t		**v;
	size_t		  cap;
	size_t		  n;
};

static void
wal_ckmap_del(struct wal_ckmap *m, uint32_t ref)
{
	if (ref < m->cap && m->v[ref] != NULL) {
		free(m->v[ref]);
		m->v[ref] = NULL;
		m->n--;
	}
}

static void
wal_ckmap_clear(struct wal_ckmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		free(m->v[i]);
		m->v[i] = NULL;
	}
	m->n = 0;
}

static void
wal_ckmap_set(struct wal_ckmap *m, uint32_t ref, const struct labels *ls,
    struct buf *tmp)
{
	size_t i, ncap;

	if (ref >= m->cap) {
		ncap = m->cap == 0 ? 1024 : m->cap;
		while (ncap <= ref)
			ncap *= 2;
		m->v = xreallocarray(m->v, ncap, sizeof *m->v);
		memset(m->v + m->cap, 0, (ncap - m->cap) * sizeof *m->v);
		m->cap = ncap;
	}
	buf_reset(tmp);
	buf_put_varint(tmp, ls->n);
	for (i = 0; i < ls->n; i++) {
		buf_put_varint(tmp, ls->v[i].name.len);
		buf_append(tmp, ls->v[i].name.p, ls->v[i].name.len);
		buf_put_varint(tmp, ls->v[i].value.len);
		buf_append(tmp, ls->v[i].value.p, ls->v[i].value.len);
	}
	if (m->v[ref] == NULL)
		m->n++;
	free(m->v[ref]);
	m->v[ref] = xmemdup(tmp->data, tmp->len);
}

static void
wal_ckmap_labels(const uint8_t *p, struct labels *ls)
{
	uint64_t n, len, i;
	struct lstr name, value;

	/* Written by wal_ckmap_set above: no bounds to check. */
	labels_reset(ls);
	wal_get_varint(&p, p + 10, &n);
	for (i = 0; i < n; i++) {
		wal_get_varint(&p, p + 10, &len);
		name.p = (const char *)p;
		name.len = (size_t)len;
		p += len;
		wal_get_varint(&p, p + 10, &len);
		value.p = (const char *)p;
		value.len = (size_t)len;
		p += len;
		labels_push(ls, name, value);
	}
}

/* Apply the SERIES and DROP records of one file to the map. */
static void
wal_ckpt_fold(const char *dir, const char *prefix, uint64_t number,
    uint64_t size, struct wal_ckmap *m, struct buf *tmp)
{
	struct wal_rfile rf;
	struct wal_series_iter si = { 0 };
	struct labels ls = LABELS_INIT;
	const uint8_t *body;
	series_ref ref, *refs = NULL;
	size_t refcap = 0;
	uint64_t off;
	uint32_t len;
	long i, n;
	char *path;
	int fd, rc;

	path = wal_path(dir, prefix, number);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_error("checkpoint cannot read WAL file", "path=%s err=%s",
		    path, strerror(errno));
		free(path);
		return;
	}
	wal_rfile_init(&rf);
	wal_rfile_set(&rf, fd, WAL_HDR_SIZE, size);
	while ((rc = wal_rfile_next(&rf, &off, &body, &len,
	    WAL_REC_SAMPLES)) == 1) {
		if (body == NULL)
			continue;
		if (body[0] == WAL_REC_SERIES) {
			wal_series_begin(&si, body + 1, len - 1);
			while ((rc = wal_series_next(&si, &ref, &ls)) == 1)
				wal_ckmap_set(m, ref, &ls, tmp);
			if (rc < 0)
				break;
		} else if (body[0] == WAL_REC_DROP) {
			n = wal_drop_decode(body + 1, len - 1, &refs, &refcap);
			for (i = 0; i < n; i++)
				wal_ckmap_del(m, refs[i]);
		} else if (body[0] == WAL_REC_END)
			break;
	}
	if (rc < 0)
		log_error("checkpoint stopped at a bad WAL record",
		    "path=%s offset=%" PRIu64, path, off);
	wal_rfile_free(&rf);
	wal_series_iter_free(&si);
	labels_free(&ls);
	free(refs);
	free(path);
}

static void
wal_ckpt_flush(struct buf *out, size_t rec)
{
	wal_frame((uint8_t *)out->data + rec, out->len - rec - WAL_REC_HDR);
}

int
wal_ckpt_build(const char *dir, int dirfd, struct wal_job *job)
{
	struct wal_ckmap m = { 0 };
	struct wal_sbuild sb = { 0 };
	struct buf out = BUF_INIT, tmp = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct stat st;
	uint8_t hdr[WAL_HDR_SIZE];
	size_t i, rec = 0;
	int open_rec = 0, rc;
	char *path;

	if (job->ckpt != 0) {
		path = wal_path(dir, "checkpoint", job->ckpt);
		if (stat(path, &st) == 0)
			wal_ckpt_fold(dir, "checkpoint", job->ckpt,
			    (uint64_t)st.st_size, &m, &tmp);
		free(path);
	}
	for (i = 0; i < job->nsegs; i++) {
		if (job->segs[i].flags & WAL_SEG_RUN_START)
			wal_ckmap_clear(&m);
		if (job->segs[i].size > WAL_HDR_SIZE)
			wal_ckpt_fold(dir, "seg", job->segs[i].number,
			    job->segs[i].size, &m, &tmp);
	}
	/* Readers forget every ref at a run start: nothing to carry. */
	if (job->to_flags & WAL_SEG_RUN_START)
		wal_ckmap_clear(&m);

	wal_hdr_encode(hdr, WAL_MAGIC_CKPT, 0, job->to, job->to_first_seq);
	buf_append(&out, hdr, sizeof hdr);
	for (i = 0; i < m.cap; i++) {
		if (m.v[i] == NULL)
			continue;
		if (open_rec && (sb.nseries >= 4096 ||
		    out.len - rec > WAL_SERIES_REC_MAX)) {
			wal_ckpt_flush(&out, rec);
			open_rec = 0;
		}
		if (!open_rec) {
			rec = out.len;
			buf_append(&out, "\0\0\0\0\0\0\0\0", WAL_REC_HDR);
			buf_putc(&out, WAL_REC_SERIES);
			wal_sbuild_begin(&sb, &out);
			open_rec = 1;
		}
		wal_ckmap_labels(m.v[i], &ls);
		wal_sbuild_add(&sb, (series_ref)i, &ls);
	}
	if (open_rec)
		wal_ckpt_flush(&out, rec);
	rec = out.len;
	buf_append(&out, "\0\0\0\0\0\0\0\0", WAL_REC_HDR);
	buf_putc(&out, WAL_REC_END);
	buf_put_varint(&out, m.n);
	wal_ckpt_flush(&out, rec);

	path = wal_path(dir, "checkpoint", job->to);
	rc = wal_replace_file(dirfd, path, out.data, out.len);
	if (rc != 0)
		log_error("cannot write WAL checkpoint", "path=%s err=%s",
		    path, strerror(errno));
	job->out_bytes = out.len;
	job->out_series = m.n;
	free(path);
	wal_ckmap_clear(&m);
	free(m.v);
	wal_sbuild_free(&sb);
	labels_free(&ls);
	buf_free(&out);
	buf_free(&tmp);
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
	int rc;

	pthread_mutex_unlock(&bg->mu);
	rc = wal_ckpt_build(bg->dir, bg->dirfd, &bg->job);
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
		    bg->job.state != WAL_JOB_RUN && wal_mono() < next) {
			wal_bg_deadline(&ts, next);
			pthread_cond_timedwait(&bg->cv, &bg->mu, &ts);
		}
		if (bg->stop || wal_mono() >= next) {
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
