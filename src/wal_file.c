/*
 * WAL file plumbing: the common file header, record framing and a
 * chunked sequential record reader shared by recovery, readers and
 * checkpointing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal_int.h"
#include "xmalloc.h"

/*
 * What a reader asks the file for at least. A remote-write reader keeps
 * its buffer for the process's life, resident once a catch-up or replay
 * has filled it: 64 KiB holds some 30,000 samples, whose decoding costs
 * far more than the system calls a bigger chunk would save (1 MiB was
 * 0.65 MiB of promlet's RSS at 100k series). A bigger record still gets
 * a buffer its size.
 */
#define WAL_RFILE_CHUNK	(64u << 10)

void
wal_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void
wal_put_le32(uint8_t *p, uint32_t v)
{
	wal_put_le16(p, (uint16_t)v);
	wal_put_le16(p + 2, (uint16_t)(v >> 16));
}

void
wal_put_le64(uint8_t *p, uint64_t v)
{
	wal_put_le32(p, (uint32_t)v);
	wal_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint16_t
wal_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t
wal_get_le32(const uint8_t *p)
{
	return (uint32_t)wal_get_le16(p) | (uint32_t)wal_get_le16(p + 2) << 16;
}

uint64_t
wal_get_le64(const uint8_t *p)
{
	return (uint64_t)wal_get_le32(p) | (uint64_t)wal_get_le32(p + 4) << 32;
}

void
wal_hdr_encode(uint8_t *p, const char *magic, uint16_t flags,
    uint64_t number, uint64_t first_seq)
{
	memcpy(p, magic, 4);
	wal_put_le16(p + 4, WAL_FORMAT_VERSION);
	wal_put_le16(p + 6, flags);
	wal_put_le64(p + 8, number);
	wal_put_le64(p + 16, first_seq);
	wal_put_le32(p + 24, 0);
	wal_put_le32(p + 28, wal_crc32c(0, p, 28));
}

int
wal_hdr_decode(const uint8_t *p, size_t len, const char *magic,
    struct wal_hdr *h)
{
	if (len < 6 || memcmp(p, magic, 4) != 0)
		return -1;
	memcpy(h->magic, p, 4);
	h->version = wal_get_le16(p + 4);
	/*
	 * Judge the version before the checksum: a newer format may lay
	 * out (and checksum) the rest differently.
	 */
	if (h->version > WAL_FORMAT_VERSION)
		return -2;
	if (len < WAL_HDR_SIZE || h->version == 0 ||
	    wal_get_le32(p + 28) != wal_crc32c(0, p, 28))
		return -1;
	h->flags = wal_get_le16(p + 6);
	h->number = wal_get_le64(p + 8);
	h->first_seq = wal_get_le64(p + 16);
	return 0;
}

void
wal_frame(uint8_t *rec, size_t bodylen)
{
	uint32_t crc;

	wal_put_le32(rec, (uint32_t)bodylen);
	crc = wal_crc32c(0, rec, 4);
	crc = wal_crc32c(crc, rec + WAL_REC_HDR, bodylen);
	wal_put_le32(rec + 4, crc);
}

int
wal_frame_check(const uint8_t *p, size_t avail, uint32_t *lenp)
{
	uint32_t len, crc;

	*lenp = 0;
	if (avail < WAL_REC_HDR)
		return 0;
	len = wal_get_le32(p);
	if (len == 0 || len > WAL_REC_MAX)
		return -1;
	*lenp = len;
	if (avail - WAL_REC_HDR < len)
		return 0;
	crc = wal_crc32c(0, p, 4);
	crc = wal_crc32c(crc, p + WAL_REC_HDR, len);
	if (crc != wal_get_le32(p + 4))
		return -1;
	return 1;
}

void
wal_rfile_init(struct wal_rfile *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

void
wal_rfile_close(struct wal_rfile *r)
{
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	r->blen = 0;
	r->boff = 0;
}

void
wal_rfile_free(struct wal_rfile *r)
{
	wal_rfile_close(r);
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

void
wal_rfile_set(struct wal_rfile *r, int fd, uint64_t off, uint64_t limit)
{
	wal_rfile_close(r);
	r->fd = fd;
	r->off = off;
	r->limit = limit;
	r->boff = off;
	r->blen = 0;
}

/* Make [off, off + want) resident in buf if the limit allows. */
static int
wal_rfile_fill(struct wal_rfile *r, uint64_t off, size_t want)
{
	size_t keep, n;
	ssize_t got;

	if (off < r->boff || off > r->boff + r->blen) {
		r->boff = off;
		r->blen = 0;
	}
	if (r->boff + r->blen >= off + want)
		return 0;
	keep = (size_t)(r->boff + r->blen - off);
	if (off != r->boff) {
		memmove(r->buf, r->buf + (off - r->boff), keep);
		r->boff = off;
		r->blen = keep;
	}
	if (want < WAL_RFILE_CHUNK)
		want = WAL_RFILE_CHUNK;
	if (want + 8 > r->cap) {
		/* 8 spare bytes: the bit reader loads whole words. */
		r->cap = want + 8;
		r->buf = xrealloc(r->buf, r->cap);
	}
	while (r->blen < want && r->boff + r->blen < r->limit) {
		n = want - r->blen;
		if (r->boff + r->blen + n > r->limit)
			n = (size_t)(r->limit - r->boff - r->blen);
		got = pread(r->fd, r->buf + r->blen, n,
		    (off_t)(r->boff + r->blen));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0)
			break;
		r->blen += (size_t)got;
	}
	memset(r->buf + r->blen, 0, 8);
	return 0;
}

int
wal_rfile_next(struct wal_rfile *r, uint64_t *recoff, const uint8_t **body,
    uint32_t *lenp, int skip_type)
{
	const uint8_t *p;
	size_t avail;
	uint32_t len;
	uint8_t type;
	int rc;

	*recoff = r->off;
	*body = NULL;
	*lenp = 0;
	if (r->off + WAL_REC_HDR > r->limit)
		return 0;
	if (wal_rfile_fill(r, r->off, WAL_REC_HDR + 1) != 0)
		return -2;
	if (r->boff + r->blen < r->off + WAL_REC_HDR + 1)
		return 0;	/* file shorter than the limit */
	p = r->buf + (r->off - r->boff);
	len = wal_get_le32(p);
	if (len == 0 || len > WAL_REC_MAX)
		return -1;
	if (r->off + WAL_REC_HDR + len > r->limit)
		return 0;
	type = p[WAL_REC_HDR];
	if (skip_type != 0 && type == skip_type &&
	    r->boff + r->blen < r->off + WAL_REC_HDR + len) {
		/* Not resident: skip without reading (and without a crc). */
		*lenp = len;
		r->off += WAL_REC_HDR + len;
		return 1;
	}
	if (wal_rfile_fill(r, r->off, WAL_REC_HDR + len) != 0)
		return -2;
	p = r->buf + (r->off - r->boff);
	avail = (size_t)(r->boff + r->blen - r->off);
	rc = wal_frame_check(p, avail, &len);
	if (rc == 0)
		return 0;
	if (rc < 0)
		return -1;
	*body = p + WAL_REC_HDR;
	*lenp = len;
	r->off += WAL_REC_HDR + len;
	return 1;
}

int
wal_write_full(int fd, const void *data, size_t len, uint64_t off)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

char *
wal_path(const char *dir, const char *prefix, uint64_t number)
{
	char *p;

	xasprintf(&p, "%s/%s-%08" PRIu64, dir, prefix, number);
	return p;
}
