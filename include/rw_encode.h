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
/* Snappy block compression of a request body into out (reset first). */
int	rw_encode_compress(const struct buf *req, struct buf *out);

#endif
