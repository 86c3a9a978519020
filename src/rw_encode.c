/* Hand-rolled protobuf encoding of remote write 1.0 requests. */
#include <snappy-c.h>
#include <string.h>

#include "buf.h"
#include "rw_encode.h"

/* Protobuf wire types. */
#define RW_WT_VARINT	0
#define RW_WT_FIXED64	1
#define RW_WT_LEN	2
#define RW_TAG(field, wt)	(((field) << 3) | (wt))

static size_t
rw_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void
rw_put_string(struct buf *b, unsigned field, struct lstr s)
{
	buf_putc(b, (char)RW_TAG(field, RW_WT_LEN));
	buf_put_varint(b, s.len);
	buf_append(b, s.p, s.len);
}

void
rw_encode_labels(const struct labels *ls, struct buf *out)
{
	size_t i, len;

	for (i = 0; i < ls->n; i++) {
		const struct label *l = &ls->v[i];

		len = 1 + rw_varint_len(l->name.len) + l->name.len +
		    1 + rw_varint_len(l->value.len) + l->value.len;
		buf_putc(out, (char)RW_TAG(1, RW_WT_LEN));
		buf_put_varint(out, len);
		rw_put_string(out, 1, l->name);
		rw_put_string(out, 2, l->value);
	}
}

void
rw_encode_sample(struct buf *req, const void *labels, size_t len,
    double value, int64_t ts_ms)
{
	size_t sample_len, ts_len;
	uint64_t bits;

	/* A zero timestamp is still written: proto3 would elide it, but the
	 * decoder reads both forms the same and this keeps the code flat. */
	memcpy(&bits, &value, sizeof bits);
	sample_len = 1 + 8 + 1 + rw_varint_len((uint64_t)ts_ms);
	ts_len = len + 1 + rw_varint_len(sample_len) + sample_len;

	buf_reserve(req, 1 + 10 + ts_len);
	buf_putc(req, (char)RW_TAG(1, RW_WT_LEN));
	buf_put_varint(req, ts_len);
	buf_append(req, labels, len);
	buf_putc(req, (char)RW_TAG(2, RW_WT_LEN));
	buf_put_varint(req, sample_len);
	buf_putc(req, (char)RW_TAG(1, RW_WT_FIXED64));
	{
		unsigned char le[8];
		int i;

		for (i = 0; i < 8; i++)
			le[i] = (unsigned char)(bits >> (8 * i));
		buf_append(req, le, 8);
	}
	buf_putc(req, (char)RW_TAG(2, RW_WT_VARINT));
	buf_put_varint(req, (uint64_t)ts_ms);
}

int
rw_encode_compress(const struct buf *req, struct buf *out)
{
	size_t n;

	n = snappy_max_compressed_length(req->len);
	buf_reset(out);
	buf_reserve(out, n);
	if (snappy_compress(req->data == NULL ? "" : req->data, req->len,
	    out->data, &n) != SNAPPY_OK)
		return -1;
	out->len = n;
	return 0;
}
