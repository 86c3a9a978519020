/*
 * Remote write 1.0 request encoding, with no I/O.
 *
 * The body is a protobuf prometheus.WriteRequest (src/prompb/remote.proto)
 * compressed with snappy's block format:
 *
 *	WriteRequest   = { 1: TimeSeries }*
 *	TimeSeries     = { 1: Label }* { 2: Sample }
 *	Label          = { 1: name string, 2: value string }
 *	Sample         = { 1: value double (fixed64), 2: timestamp int64 ms }
 *
 * Encoding is done by hand rather than through protobuf-c's object tree:
 * a series' labels are encoded once (rw_encode_labels) when the series is
 * first seen, then copied verbatim into every TimeSeries of that series,
 * so per-sample work is a memcpy and a dozen bytes. The protobuf-c
 * generated code decodes our output in the tests to prove it is the same
 * message.
 */
#ifndef PROMLET_RW_ENCODE_H
#define PROMLET_RW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

struct buf;

/* The repeated Label fields of a TimeSeries, for a sorted label set. */
void	rw_encode_labels(const struct labels *, struct buf *);
/* Append one TimeSeries with one sample to a WriteRequest body. */
void	rw_encode_sample(struct buf *req, const void *labels, size_t len,
	    double value, int64_t ts_ms);
/*
 * Append one TimeSeries whose labels are the concatenation of interned
 * pairs (labels_len bytes in all), with one sample.
 */
struct rw_pairs;
void	rw_encode_sample_pairs(struct buf *req, const struct rw_pairs *,
	    const uint32_t *ids, size_t n, size_t labels_len, double value,
	    int64_t ts_ms);

/*
 * Interned labels, each held encoded as one Label field of a TimeSeries:
 *
 *	0x0a len | 0x0a nlen name | 0x12 vlen value
 *
 * A series is then an array of pair ids. Most pairs (job, instance,
 * metric names, external labels) are shared by many series, so a series
 * costs 4 bytes a label rather than its text. Pairs are counted: intern
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

/* Snappy block compression of a request body into out (reset first). */
int	rw_encode_compress(const struct buf *req, struct buf *out);

#endif
