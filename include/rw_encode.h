/*
 * Remote write 1.0 request encoding, with no I/O.
 *
 * The body is a protobuf prometheus.WriteRequest (src/prompb/remote.proto)
 * compressed with snappy's block format:
 *
 *	WriteRequest   = { 1: TimeSeries }* { 3: MetricMetadata }*
 *	TimeSeries     = { 1: Label }* { 2: Sample }
 *	Label          = { 1: name string, 2: value string }
 *	Sample         = { 1: value double (fixed64), 2: timestamp int64 ms }
 *	MetricMetadata = { 1: type varint, 2: family string,
 *	                   4: help string, 5: unit string }
 *
 * A request carries samples or metadata, never both (Prometheus sends
 * metadata on its own every metadata_config.send_interval).
 *
 * Encoding is done by hand rather than through protobuf-c's object tree:
 * each label is encoded once, as an interned pair (below), when a series
 * using it is first seen; a TimeSeries is then a few memcpys and a dozen
 * bytes. The protobuf-c generated code packs and decodes the same
 * messages in the tests to prove our bytes are the WriteRequest.
 */
#ifndef PROMLET_RW_ENCODE_H
#define PROMLET_RW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

struct buf;

/*
 * Append to a WriteRequest body one TimeSeries, with one sample, whose
 * labels are the interned pairs in ids: nb bytes of pair ids written by
 * rw_ids_put, a sorted label set's pairs in order, labels_len bytes of
 * encoded labels in all.
 */
struct rw_pairs;
void	rw_encode_sample_pairs(struct buf *req, struct rw_pairs *,
	    const uint8_t *ids, size_t nb, size_t labels_len, double value,
	    int64_t ts_ms);

/*
 * A pair id as a varint: the ids a series is sent with cost 1-3 bytes
 * each, not 4 (early pairs such as job, instance and metric names have
 * small ids). rw_ids_put writes at most RW_IDS_MAX bytes.
 */
#define RW_IDS_MAX	5
uint8_t	*rw_ids_put(uint8_t *o, uint32_t id);

/* The id at *p; *p moves past it. */
static inline uint32_t
rw_ids_get(const uint8_t **p)
{
	const uint8_t *q = *p;
	uint32_t v = *q++;
	unsigned shift = 7;

	if (v >= 0x80) {
		v &= 0x7f;
		do {
			v |= (uint32_t)(*q & 0x7f) << shift;
			shift += 7;
		} while (*q++ >= 0x80);
	}
	*p = q;
	return v;
}

/*
 * Append one WriteRequest metadata field. type is a MetricType (the
 * values of textparse's enum metric_type); an UNKNOWN type and empty help
 * and unit are left out, as proto3 leaves out default values.
 */
void	rw_encode_metadata(struct buf *req, int type, struct lstr family,
	    struct lstr help, struct lstr unit);

/*
 * Interned labels, each held encoded as one Label field of a TimeSeries:
 *
 *	0x0a len | 0x0a nlen name | 0x12 vlen value
 *
 * A series is then a list of pair ids. Most pairs (job, instance,
 * metric names, external labels) are shared by many series, so a series
 * costs 1-3 bytes a label rather than its text. Pairs are counted: intern
 * takes a hold, release drops one, the last release frees the pair.
 *
 *	index (open addressing, hash -> id) --> pair[id] = {hash, refs, enc}
 */
struct rw_pairs	*rw_pairs_new(void);
void		 rw_pairs_free(struct rw_pairs *);
uint32_t	 rw_pairs_intern(struct rw_pairs *, struct lstr name,
		    struct lstr value);
void		 rw_pairs_release(struct rw_pairs *, uint32_t id);
const char	*rw_pairs_get(const struct rw_pairs *, uint32_t id,
		    size_t *len);
size_t		 rw_pairs_count(const struct rw_pairs *);

/*
 * A request body compressed while it is built. Snappy compresses its input
 * in independent 64 KiB fragments, so fragments compressed one at a time
 * and put behind one length make the same kind of stream snappy_compress()
 * makes of the whole. Samples are encoded into a fragment buffer that stays
 * in cache, each fragment is compressed when it fills, and a queued batch
 * holds only compressed bytes (about a ninth of the raw request):
 *
 *	out  [ room: 5 bytes ][ fragment 1 elements ][ fragment 2 ] ...
 *	                ^ start, after rw_body_finish(): varint raw length
 *
 * The body to send is out.data + start, out.len - start bytes.
 */
#define RW_FRAGMENT	65536

struct rw_body {
	struct buf	out;
	size_t		raw;		/* uncompressed bytes so far */
	size_t		start;
};

void	rw_body_begin(struct rw_body *);
/* Compress the bytes in frag onto the body; frag is reset. */
void	rw_body_add(struct rw_body *, struct buf *frag);
void	rw_body_finish(struct rw_body *);

#endif
