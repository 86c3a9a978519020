/*
 * libFuzzer target for the WAL reader and recovery: the input becomes a
 * segment (or checkpoint) file in an otherwise empty WAL directory, with a
 * cursor pointing at its start; wal_open() must repair it and a reader
 * must replay it to the end, through the public API only. Damage is never
 * fatal (only a newer format version may stop wal_open), nothing crashes,
 * leaks or loops, and a second open of the repaired directory reads back
 * the same samples as the first.
 *
 * Input layout:
 *
 *	+------+----------------------------------------------+
 *	| mode | body                                         |
 *	+------+----------------------------------------------+
 *
 *	mode bit 0  body is a list of records the harness frames with a
 *		    valid header, length and CRC, so mutations reach the
 *		    payload decoders instead of dying at a checksum:
 *		    (u8 type, u16 LE payload length, payload)...
 *		    otherwise the body is the whole file, byte for byte
 *	mode bit 1  raw file: recompute the header CRC (bytes 28..31)
 *	mode bit 2  the file is checkpoint-00000001 (before segment 1,
 *		    which is then a header-only segment)
 *	mode bit 3  framed segment: set the RUN_START flag
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wal.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_WAL_MAX		(256 * 1024)
#define FUZZ_WAL_HDR		32
/* Bound the replay: a valid record yields at least one item per call. */
#define FUZZ_WAL_MAXITEMS	100000

static char	fuzz_wal_dir[256];

static void
fuzz_wal_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
fuzz_wal_le32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static void
fuzz_wal_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

/* The 32-byte file header of wal.h, CRC included. */
static void
fuzz_wal_hdr(uint8_t *p, const char *magic, uint16_t flags, uint64_t number)
{
	memcpy(p, magic, 4);
	fuzz_wal_le16(p + 4, WAL_FORMAT_VERSION);
	fuzz_wal_le16(p + 6, flags);
	fuzz_wal_le64(p + 8, number);
	fuzz_wal_le64(p + 16, 0);
	fuzz_wal_le32(p + 24, 0);
	fuzz_wal_le32(p + 28, wal_crc32c(0, p, 28));
}

static void
fuzz_wal_write(const char *name, const uint8_t *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", fuzz_wal_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void
fuzz_wal_clean(void)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	d = opendir(fuzz_wal_dir);
	FUZZ_CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", fuzz_wal_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp;

	(void)argc;
	(void)argv;
	/* Recovery logs every repair at warn; thousands a second is noise. */
	log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
	tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(fuzz_wal_dir, sizeof fuzz_wal_dir, "%s/fuzz-wal.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(fuzz_wal_dir) != NULL);
	return 0;
}

/* Build the file the input describes; returns its length in *len. */
static uint8_t *
fuzz_wal_file(uint8_t mode, const uint8_t *body, size_t size, size_t *len,
    const char *magic)
{
	uint8_t *f, *rec;
	size_t i, plen, n = 0;

	if (!(mode & 1)) {
		f = malloc(size == 0 ? 1 : size);
		FUZZ_CHECK(f != NULL);
		memcpy(f, body, size);
		if ((mode & 2) && size >= FUZZ_WAL_HDR)
			fuzz_wal_le32(f + 28, wal_crc32c(0, f, 28));
		*len = size;
		return f;
	}
	/* A record takes 3 + n input bytes and writes 9 + n: at most 3x. */
	f = malloc(FUZZ_WAL_HDR + 3 * size + 16);
	FUZZ_CHECK(f != NULL);
	fuzz_wal_hdr(f, magic, (mode & 8) ? 1 : 0, 1);
	n = FUZZ_WAL_HDR;
	for (i = 0; i + 3 <= size; i += plen) {
		plen = body[i + 1] | (size_t)body[i + 2] << 8;
		i += 3;
		if (plen > size - i)
			plen = size - i;
		rec = f + n;
		fuzz_wal_le32(rec, (uint32_t)plen + 1);
		rec[8] = body[i - 3];
		memcpy(rec + 9, body + i, plen);
		/* crc over the length, the type and the payload. */
		fuzz_wal_le32(rec + 4, wal_crc32c(wal_crc32c(0, rec, 4),
		    rec + 8, plen + 1));
		n += 9 + plen;
	}
	*len = n;
	return f;
}

/* The reader's cursor: segment 1, just after the header. */
static void
fuzz_wal_cursor(void)
{
	uint8_t c[FUZZ_WAL_HDR + 16];

	fuzz_wal_hdr(c, "PWCU", 0, 1);
	fuzz_wal_le64(c + FUZZ_WAL_HDR, FUZZ_WAL_HDR);
	fuzz_wal_le32(c + FUZZ_WAL_HDR + 8, 0);
	fuzz_wal_le32(c + FUZZ_WAL_HDR + 12,
	    wal_crc32c(0, c + FUZZ_WAL_HDR, 12));
	fuzz_wal_write("cursor-fuzz", c, sizeof c);
}

struct fuzz_wal_sum {
	uint64_t	samples;
	uint64_t	series;
	uint64_t	drops;
	uint64_t	hash;	/* of the samples, in order */
};

/* Open the directory and replay it from the cursor; 0 when it opened. */
static int
fuzz_wal_replay(struct fuzz_wal_sum *sum, int ack)
{
	struct wal_options opts;
	struct wal_record rec;
	struct wal_reader *r;
	struct wal_stats st;
	struct wal *w;
	char *cause = NULL;
	size_t i, items = 0;
	int rc;

	memset(sum, 0, sizeof *sum);
	memset(&opts, 0, sizeof opts);
	opts.segment_bytes = 1 << 20;
	opts.max_bytes = 64 << 20;
	opts.buffer_bytes = 1 << 20;
	if ((w = wal_open(fuzz_wal_dir, &opts, 0, &cause)) == NULL) {
		/* Only a format from the future may stop the open. */
		FUZZ_CHECK(cause != NULL && strstr(cause, "version") != NULL);
		free(cause);
		return -1;
	}
	FUZZ_CHECK(cause == NULL);
	r = wal_reader_open(w, "fuzz", &cause);
	if (r == NULL) {
		FUZZ_CHECK(cause != NULL);
		free(cause);
		wal_close(w);
		return -1;
	}
	while ((rc = wal_reader_next(r, &rec, 1000)) == 1) {
		FUZZ_CHECK(wal_pos_cmp(&rec.pos, &rec.next) < 0);
		FUZZ_CHECK(++items < FUZZ_WAL_MAXITEMS);
		switch (rec.type) {
		case WAL_RECORD_SERIES:
			sum->series++;
			for (i = 0; i < rec.labels.n; i++)
				FUZZ_CHECK(rec.labels.v[i].name.p != NULL);
			break;
		case WAL_RECORD_SAMPLES:
			FUZZ_CHECK(rec.nsamples > 0 && rec.nsamples <= 1000);
			sum->samples += rec.nsamples;
			for (i = 0; i < rec.nsamples; i++) {
				sum->hash = hash_bytes(&rec.samples[i].ref,
				    sizeof rec.samples[i].ref, sum->hash);
				sum->hash = hash_bytes(&rec.samples[i].t_ms,
				    sizeof rec.samples[i].t_ms, sum->hash);
				sum->hash = hash_bytes(&rec.samples[i].v,
				    sizeof rec.samples[i].v, sum->hash);
			}
			break;
		case WAL_RECORD_DROP:
			sum->drops += rec.nrefs;
			break;
		default:
			FUZZ_CHECK(0);
		}
		if (ack)
			wal_reader_ack(r, &rec.next);
	}
	FUZZ_CHECK(rc == 0 || rc == -1);
	(void)wal_reader_pending(r);
	(void)wal_reader_dropped(r);
	wal_stats(w, &st);
	wal_maintain(w, 0);
	wal_reader_close(r);
	wal_close(w);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_wal_sum first, second;
	uint8_t *f, hdr[FUZZ_WAL_HDR], mode;
	size_t len;

	if (size < 1 || size > FUZZ_WAL_MAX)
		return 0;
	mode = data[0];
	fuzz_wal_clean();
	if (mode & 4) {
		f = fuzz_wal_file(mode, data + 1, size - 1, &len, "PWCK");
		fuzz_wal_write("checkpoint-00000001", f, len);
		fuzz_wal_hdr(hdr, "PWAL", 1, 1);
		fuzz_wal_write("seg-00000001", hdr, sizeof hdr);
	} else {
		f = fuzz_wal_file(mode, data + 1, size - 1, &len, "PWAL");
		fuzz_wal_write("seg-00000001", f, len);
	}
	free(f);
	fuzz_wal_cursor();

	/*
	 * The first run repairs and reads without acking; the second run,
	 * over the repaired files, must see the same data again.
	 */
	if (fuzz_wal_replay(&first, 0) == 0) {
		FUZZ_CHECK(fuzz_wal_replay(&second, 1) == 0);
		FUZZ_CHECK(first.samples == second.samples);
		FUZZ_CHECK(first.hash == second.hash);
	}
	return 0;
}
