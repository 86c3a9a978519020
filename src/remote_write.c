/*
 * Remote write sender. See include/remote_write.h for the data flow.
 *
 * Why batches are encoded when samples are queued, not when sent: a
 * series may be dropped from the WAL (its ref freed and reused) while its
 * samples still wait in a shard. Encoding at queue time copies the labels
 * into the request body, so a queued sample never points at series state.
 * They are compressed then too, a 64 KiB fragment at a time (rw_body in
 * rw_encode.h): the raw bytes are compressed while still in cache, and a
 * queue during an outage holds compressed requests only.
 *
 * Retries resend the same compressed body: the receiver sees identical
 * requests, which remote write receivers must treat idempotently.
 */
#include <sys/queue.h>

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "azuread.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "relabel.h"
#include "remote_write.h"
#include "rw_encode.h"
#include "wal.h"
#include "xmalloc.h"

#define RW_MAX_ERROR_BODY	1024
#define RW_RESHARD_PERIOD_MS	10000

enum rw_drop_reason {
	RW_DROP_UNKNOWN_SERIES = 0,
	RW_DROP_LABEL_COUNT,
	RW_DROP_NAME_LENGTH,
	RW_DROP_VALUE_LENGTH,
	RW_DROP_REJECTED,	/* a 4xx answer */
	RW_DROP_TOO_OLD,
	RW_DROP_COUNT
};

static const char *rw_drop_names[RW_DROP_COUNT] = {
	"unknown_series", "label_count", "label_name_length",
	"label_value_length", "http_4xx", "too_old",
};

/*
 * Per-ref state: the series' labels as ids of interned pairs (12 bytes
 * and 1-3 a label; the text lives once in rw->pairs), or why it is not
 * sent. The ids, as varints (rw_ids_put), sit in rw->ids, a pool of
 * bytes: a malloc each cost 20 bytes more per series, and 32-bit ids 25
 * bytes a series at 100k series where varints save about 13.
 */
struct rw_series {
	uint32_t	 ids;		/* offset in rw->ids, in label order */
	uint32_t	 len;		/* bytes of the encoded labels */
	uint16_t	 nb;		/* bytes of ids */
	uint8_t		 known;
	uint8_t		 drop;		/* 0 = send, else reason + 1, or relabeled */
};

/*
 * Chunks of bytes; a series' ids are a block of nb bytes, at least
 * RW_IDS_MIN so that a freed block can hold the link of the free list
 * of its size (offset + 1, unaligned). Blocks of more than a chunk get
 * chunks of their own under several chunk numbers.
 */
#define RW_IDS_SHIFT	16
#define RW_IDS_CHUNK	(1U << RW_IDS_SHIFT)
#define RW_IDS_MIN	4

struct rw_ids {
	uint8_t		**chunks;
	size_t		  nchunks;
	size_t		  used;		/* bytes of the last chunk */
	uint32_t	 *free;		/* by block size */
	size_t		  nfree;
};

#define RW_SERIES_RELABELED	0xff

struct rw_batch {
	struct rw_body	body;		/* the compressed WriteRequest */
	size_t		n;
	struct wal_pos	first;		/* WAL position of the first sample */
	int64_t		created_ms;
	int64_t		max_ts;
	int		sealed;
};

struct rw_shard {
	struct remote_write	*rw;
	unsigned		 idx;
	struct rw_batch		*b;		/* ring */
	size_t			 head;
	size_t			 count;
	size_t			 cap;
	size_t			 queued;	/* samples in all batches */

	int			 busy;		/* front batch in flight */
	/* The open (tail) batch's samples not yet compressed. */
	struct buf		 frag;
	/*
	 * A sent batch's buffer waits here for the next batch. Without it
	 * every slot of the ring would keep a buffer of max_samples_per_send
	 * samples for good, although only the front one or two are in use
	 * unless the receiver falls behind.
	 */
	struct buf		 spare;
	struct http_pool	*pool;		/* its connection */
	struct http_request	*req;
	struct event		*timer;		/* deadline or backoff */
	int			 backing_off;
	int64_t			 backoff_ms;
	unsigned		 attempt;
	int64_t			 sent_ms;
};

/*
 * Metadata (metadata_config): every send_interval the targets' distinct
 * HELP/TYPE/UNIT entries go out in requests of their own, up to
 * max_samples_per_send entries each. They are not in the WAL: a tick
 * that finds the last round still sending skips, and the next round
 * sends everything again anyway.
 */
struct rw_meta {
	struct event		*tick;
	struct event		*retry;
	struct http_pool	*pool;
	struct http_request	*req;
	struct rw_body		*bodies;	/* this round's requests */
	size_t			*counts;	/* entries in each */
	size_t			 nbodies;
	size_t			 next;		/* the one being sent */
	unsigned		 attempt;
	int64_t			 backoff_ms;
	struct lstr		*spans;
	size_t			 spans_cap;
	struct buf		 frag;
};

struct remote_write {
	struct event_base			*base;
	struct http_client			*http;
	struct wal				*wal;
	struct wal_reader			*reader;
	const struct config			*cfg;
	const struct config_remote_write	*rwc;
	char					*name;
	char					*url;
	uint64_t				 hash;
	struct azuread				*aad;

	struct rw_series			*series;
	size_t					 nseries;
	struct rw_ids				 ids;
	struct rw_pairs				*pairs;
	struct rw_shard				*shards;
	size_t					 nshards;
	size_t					 shard_capacity;
	struct wal_pos				 read_pos;
	int					 read_pos_valid;
	struct event				*read_ev;
	int					 flushing;

	/*
	 * Resharding: every RW_RESHARD_PERIOD the wanted shard count is
	 * derived from the input rate, the backlog and the time a sample
	 * costs to send. To keep per-series order, reading pauses while
	 * the old shards drain, then the shard array is rebuilt.
	 */
	size_t					 want_shards;
	struct event				*reshard_ev;
	uint64_t				 win_in;
	uint64_t				 win_out;
	uint64_t				 win_retried;
	double					 win_send_seconds;
	uint64_t				 reshards;
	int					 reader_failed;

	struct labels				 ls;
	struct arena				 arena;
	struct buf				 idbuf;	/* a series' ids */

	struct rw_meta				 meta;
	remote_write_metadata_fn		 meta_fn;
	void					*meta_arg;

	/* Self-metrics. */
	uint64_t				 samples_sent;
	uint64_t				 samples_retried;
	uint64_t				 samples_failed;
	uint64_t				 dropped[RW_DROP_COUNT];
	uint64_t				 requests;
	uint64_t				 requests_failed;
	uint64_t				 bytes_sent;
	uint64_t				 series_dropped[RW_DROP_COUNT];
	double					 send_seconds;
	uint64_t				 send_count;
	int64_t					 highest_sent_ts;
	int64_t					 highest_read_ts;
	int					 failing;	/* log once per episode */
	uint64_t				 meta_sent;
	uint64_t				 meta_failed;
	uint64_t				 meta_retried;
	uint64_t				 meta_bytes;
};

static void	rw_shard_kick(struct rw_shard *);
static void	rw_read(struct remote_write *);
static void	rw_shard_timer_cb(evutil_socket_t, short, void *);
static void	rw_reshard_cb(evutil_socket_t, short, void *);
static void	rw_shards_alloc(struct remote_write *, size_t);
static void	rw_shards_free(struct remote_write *);

/* ------------------------------------------------------------------ */
/* Series records.                                                    */

static struct rw_series *
rw_series_slot(struct remote_write *rw, series_ref ref)
{
	size_t n;

	if (ref >= rw->nseries) {
		n = rw->nseries == 0 ? 1024 : rw->nseries;
		while (n <= ref)
			n += n / 4;
		rw->series = xreallocarray(rw->series, n, sizeof *rw->series);
		memset(rw->series + rw->nseries, 0,
		    (n - rw->nseries) * sizeof *rw->series);
		rw->nseries = n;
	}
	return &rw->series[ref];
}

static inline uint8_t *
rw_ids_at(const struct rw_ids *p, uint32_t off)
{
	return p->chunks[off >> RW_IDS_SHIFT] + (off & (RW_IDS_CHUNK - 1));
}

static size_t
rw_ids_block(size_t nb)
{
	return nb < RW_IDS_MIN ? RW_IDS_MIN : nb;
}

/* A block of at least nb bytes (rw_ids_block(nb)). */
static uint32_t
rw_ids_alloc(struct rw_ids *p, size_t nb)
{
	size_t span, i, n = rw_ids_block(nb);
	uint32_t off;

	if (n < p->nfree && p->free[n] != 0) {
		off = p->free[n] - 1;
		memcpy(&p->free[n], rw_ids_at(p, off), sizeof p->free[n]);
		return off;
	}
	if (p->nchunks == 0 || p->used + n > RW_IDS_CHUNK) {
		span = (n + RW_IDS_CHUNK - 1) / RW_IDS_CHUNK;
		p->chunks = xreallocarray(p->chunks, p->nchunks + span,
		    sizeof *p->chunks);
		p->chunks[p->nchunks] = xreallocarray(NULL, span * RW_IDS_CHUNK,
		    sizeof **p->chunks);
		for (i = 1; i < span; i++)
			p->chunks[p->nchunks + i] = NULL;
		p->nchunks += span;
		p->used = span > 1 ? RW_IDS_CHUNK : 0;
		if (span > 1)
			return (uint32_t)((p->nchunks - span) << RW_IDS_SHIFT);
	}
	off = (uint32_t)(((p->nchunks - 1) << RW_IDS_SHIFT) + p->used);
	p->used += n;
	return off;
}

static void
rw_ids_free(struct rw_ids *p, uint32_t off, size_t nb)
{
	size_t len, n = rw_ids_block(nb);

	if (n >= p->nfree) {
		len = n + 8;
		p->free = xreallocarray(p->free, len, sizeof *p->free);
		memset(p->free + p->nfree, 0, (len - p->nfree) *
		    sizeof *p->free);
		p->nfree = len;
	}
	memcpy(rw_ids_at(p, off), &p->free[n], sizeof p->free[n]);
	p->free[n] = off + 1;
}

static void
rw_ids_clean(struct rw_ids *p)
{
	size_t i;

	for (i = 0; i < p->nchunks; i++)
		free(p->chunks[i]);
	free(p->chunks);
	free(p->free);
	memset(p, 0, sizeof *p);
}

static void
rw_series_clear(struct remote_write *rw, struct rw_series *s)
{
	const uint8_t *q, *end;

	if (s->nb != 0) {
		q = rw_ids_at(&rw->ids, s->ids);
		for (end = q + s->nb; q < end; )
			rw_pairs_release(rw->pairs, rw_ids_get(&q));
		rw_ids_free(&rw->ids, s->ids, s->nb);
	}
	memset(s, 0, sizeof *s);
}

/*
 * A series as this endpoint sends it: external labels fill gaps (target
 * labels win), then write_relabel_configs, then the receiver's limits.
 */
static void
rw_series_define(struct remote_write *rw, series_ref ref,
    const struct labels *wal_labels)
{
	const struct config_remote_write *c = rw->rwc;
	struct rw_series *s = rw_series_slot(rw, ref);
	size_t i;
	int reason = -1;

	rw_series_clear(rw, s);
	s->known = 1;
	labels_copy(&rw->ls, wal_labels);
	arena_reset(&rw->arena);
	for (i = 0; i < rw->cfg->external_labels.n; i++) {
		struct lstr n = { rw->cfg->external_labels.v[i].name,
		    strlen(rw->cfg->external_labels.v[i].name) };
		struct lstr v = { rw->cfg->external_labels.v[i].value,
		    strlen(rw->cfg->external_labels.v[i].value) };

		if (labels_get(&rw->ls, n) == NULL)
			labels_set(&rw->ls, n, v);
	}
	if (!relabel_apply(&c->write_relabel, &rw->ls, &rw->arena) ||
	    rw->ls.n == 0) {
		s->drop = RW_SERIES_RELABELED;
		return;
	}
	/* Beyond UINT16_MAX bytes of ids a series cannot be stored
	 * (rw_series.nb): dropped as too many labels even with no
	 * configured limit. */
	if ((c->max_label_count != 0 && rw->ls.n > c->max_label_count) ||
	    rw->ls.n > UINT16_MAX / RW_IDS_MAX)
		reason = RW_DROP_LABEL_COUNT;
	for (i = 0; i < rw->ls.n && reason < 0; i++) {
		if (c->max_label_name_length != 0 &&
		    rw->ls.v[i].name.len > c->max_label_name_length)
			reason = RW_DROP_NAME_LENGTH;
		else if (c->max_label_value_length != 0 &&
		    rw->ls.v[i].value.len > c->max_label_value_length)
			reason = RW_DROP_VALUE_LENGTH;
	}
	if (reason >= 0) {
		struct buf text = BUF_INIT;

		s->drop = (uint8_t)(reason + 1);
		rw->series_dropped[reason]++;
		labels_format(&rw->ls, &text);
		log_warn("series exceeds receiver limits, not sent",
		    "remote_name=%s reason=%s series=%.*s", rw->name,
		    rw_drop_names[reason], (int)(text.len > 200 ? 200 :
		    text.len), text.data);
		buf_free(&text);
		return;
	}
	buf_reset(&rw->idbuf);
	buf_reserve(&rw->idbuf, rw->ls.n * RW_IDS_MAX);
	for (i = 0; i < rw->ls.n; i++) {
		uint32_t id = rw_pairs_intern(rw->pairs, rw->ls.v[i].name,
		    rw->ls.v[i].value);
		uint8_t *o = (uint8_t *)rw->idbuf.data + rw->idbuf.len;
		size_t len;

		rw->idbuf.len += (size_t)(rw_ids_put(o, id) - o);
		(void)rw_pairs_get(rw->pairs, id, &len);
		s->len += (uint32_t)len;
	}
	s->nb = (uint16_t)rw->idbuf.len;
	if (s->nb != 0) {
		s->ids = rw_ids_alloc(&rw->ids, s->nb);
		memcpy(rw_ids_at(&rw->ids, s->ids), rw->idbuf.data, s->nb);
	}
}

/* ------------------------------------------------------------------ */
/* Shards and batches.                                                */

/* Called per sample: a 64-bit division here showed in profiles. */
static struct rw_batch *
rw_batch_at(struct rw_shard *sh, size_t i)
{
	size_t j = sh->head + i;	/* head and i are below cap */

	return &sh->b[j >= sh->cap ? j - sh->cap : j];
}

/* No more samples for b: compress what is left and write the length. */
static void
rw_batch_seal(struct rw_shard *sh, struct rw_batch *b)
{
	if (b->sealed)
		return;
	/* Only the tail batch is open, and sh->frag is its. */
	rw_body_add(&b->body, &sh->frag);
	rw_body_finish(&b->body);
	b->sealed = 1;
}

static struct rw_batch *
rw_shard_tail(struct rw_shard *sh, const struct wal_pos *pos)
{
	struct remote_write *rw = sh->rw;
	struct rw_batch *b;
	size_t i, max = (size_t)rw->rwc->queue.max_samples_per_send;

	if (sh->count != 0) {
		b = rw_batch_at(sh, sh->count - 1);
		if (!b->sealed && b->n < max)
			return b;
		rw_batch_seal(sh, b);
	}
	if (sh->count == sh->cap) {
		struct rw_batch *nb;

		nb = xcalloc(sh->cap * 2, sizeof *nb);
		for (i = 0; i < sh->count; i++)
			nb[i] = *rw_batch_at(sh, i);
		free(sh->b);
		sh->b = nb;
		sh->head = 0;
		sh->cap *= 2;
	}
	b = rw_batch_at(sh, sh->count);
	sh->count++;
	if (b->body.out.cap == 0) {
		b->body.out = sh->spare;
		buf_init(&sh->spare);
	}
	rw_body_begin(&b->body);
	b->n = 0;
	b->first = *pos;
	b->created_ms = loop_now_ms();
	b->max_ts = INT64_MIN;
	b->sealed = 0;
	return b;
}

static void
rw_shard_push(struct rw_shard *sh, const struct rw_series *s,
    const struct wal_sample *smp, const struct wal_pos *pos)
{
	struct rw_batch *b = rw_shard_tail(sh, pos);

	rw_encode_sample_pairs(&sh->frag, sh->rw->pairs,
	    rw_ids_at(&sh->rw->ids, s->ids), s->nb, s->len, smp->v, smp->t_ms);
	if (sh->frag.len >= RW_FRAGMENT - 1024)
		rw_body_add(&b->body, &sh->frag);
	b->n++;
	if (smp->t_ms > b->max_ts)
		b->max_ts = smp->t_ms;
	sh->queued++;
	if (b->n >= (size_t)sh->rw->rwc->queue.max_samples_per_send)
		rw_batch_seal(sh, b);
}

/* The oldest WAL position not yet delivered, over all shards. */
static void
rw_ack(struct remote_write *rw)
{
	struct wal_pos min = rw->read_pos;
	size_t i;

	if (!rw->read_pos_valid || rw->reader == NULL)
		return;
	for (i = 0; i < rw->nshards; i++) {
		struct rw_shard *sh = &rw->shards[i];

		if (sh->count != 0 &&
		    wal_pos_cmp(&rw_batch_at(sh, 0)->first, &min) < 0)
			min = rw_batch_at(sh, 0)->first;
	}
	wal_reader_ack(rw->reader, &min);
}

static void
rw_shard_pop(struct rw_shard *sh)
{
	struct rw_batch *b = rw_batch_at(sh, 0);

	sh->queued -= b->n;
	if (sh->spare.cap == 0) {
		sh->spare = b->body.out;
		buf_init(&b->body.out);
	} else
		buf_free(&b->body.out);
	b->n = 0;
	sh->head = (sh->head + 1) % sh->cap;
	sh->count--;
	sh->busy = 0;
	sh->attempt = 0;
	sh->backoff_ms = 0;
}

/* Retry-After: delay-seconds or an HTTP-date; 0 when absent or bad. */
static int64_t
rw_retry_after_ms(const char *v)
{
	struct tm tm;
	char *end;
	long secs;
	time_t when;

	if (v == NULL || *v == '\0')
		return 0;
	secs = strtol(v, &end, 10);
	if (end != v && *end == '\0' && secs >= 0)
		return (int64_t)secs * 1000;
	memset(&tm, 0, sizeof tm);
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
		return 0;
	when = timegm(&tm);
	secs = (long)(when - time(NULL));
	return secs > 0 ? (int64_t)secs * 1000 : 0;
}

static void rw_send(struct rw_shard *);

/*
 * Whether a failed request is worth sending again: network errors, 5xx,
 * 429 unless configured otherwise, and with Azure AD 401 and 403, which
 * heal without user action (a stale token; a role assignment that has
 * not propagated yet, which can take minutes). With oauth2, 401: http.c
 * has dropped the token, and the retry waits for a new one.
 */
static int
rw_recoverable(struct remote_write *rw, const struct http_response *resp)
{
	if (rw->rwc->http.oauth2 != NULL && resp->status == 401)
		return 1;
	if (rw->aad != NULL && (resp->status == 401 || resp->status == 403)) {
		if (resp->status == 401)
			azuread_invalidate(rw->aad);
		else
			azuread_forbidden(rw->aad);
		return 1;
	}
	return resp->curl_code != 0 || resp->status / 100 == 5 ||
	    (resp->status == 429 && rw->rwc->queue.retry_on_http_429);
}

/* The receiver's answer for a log line: bounded, without trailing EOLs. */
static const char *
rw_error_text(const struct http_response *resp, int *len)
{
	const char *text = resp->body != NULL && resp->body->data != NULL ?
	    resp->body->data : "";
	size_t tl = resp->body != NULL ? resp->body->len : 0;

	if (tl > RW_MAX_ERROR_BODY)
		tl = RW_MAX_ERROR_BODY;
	while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == '\r'))
		tl--;
	*len = (int)tl;
	return text;
}

/* The wait before a retry; *backoff_ms doubles up to max_backoff. */
static int64_t
rw_backoff(struct remote_write *rw, const struct http_response *resp,
    int64_t *backoff_ms)
{
	const struct config_queue *q = &rw->rwc->queue;
	int64_t delay = *backoff_ms == 0 ? q->min_backoff_ms : *backoff_ms;
	int64_t ra;

	if (resp->curl_code == 0 && (resp->status / 100 == 5 ||
	    resp->status == 429)) {
		ra = rw_retry_after_ms(resp->retry_after);
		if (ra > 0)
			delay = ra;
	}
	*backoff_ms = delay * 2 > q->max_backoff_ms ? q->max_backoff_ms :
	    delay * 2;
	return delay;
}

static void
rw_send_done_cb(const struct http_response *resp, void *arg)
{
	struct rw_shard *sh = arg;
	struct remote_write *rw = sh->rw;
	struct rw_batch *b = rw_batch_at(sh, 0);
	int64_t delay;
	const char *text;
	int tl;

	sh->req = NULL;
	rw->send_seconds += resp->total_seconds;
	rw->send_count++;
	rw->win_send_seconds += resp->total_seconds;
	if (resp->curl_code == 0 && resp->status / 100 == 2) {
		rw->samples_sent += b->n;
		rw->win_out += b->n;
		rw->bytes_sent += b->body.out.len - b->body.start;
		if (b->max_ts > rw->highest_sent_ts)
			rw->highest_sent_ts = b->max_ts;
		if (rw->failing) {
			log_info("remote write recovered", "remote_name=%s "
			    "url=%s", rw->name, rw->url);
			rw->failing = 0;
		}
		rw_shard_pop(sh);
		rw_ack(rw);
		/* rw_read may reshard and free sh: kick it first. */
		rw_shard_kick(sh);
		rw_read(rw);
		return;
	}

	rw->requests_failed++;
	text = rw_error_text(resp, &tl);
	if (!rw_recoverable(rw, resp)) {
		log_error("remote write rejected, batch dropped",
		    "remote_name=%s url=%s status=%ld samples=%zu body=%.*s",
		    rw->name, rw->url, resp->status, b->n, tl, text);
		rw->samples_failed += b->n;
		rw->dropped[RW_DROP_REJECTED] += b->n;
		rw_shard_pop(sh);
		rw_ack(rw);
		rw_shard_kick(sh);
		rw_read(rw);
		return;
	}

	delay = rw_backoff(rw, resp, &sh->backoff_ms);
	sh->attempt++;
	rw->samples_retried += b->n;
	rw->win_retried += b->n;
	if (!rw->failing || sh->attempt % 20 == 1) {
		if (resp->curl_code != 0)
			log_warn("remote write failed, will retry",
			    "remote_name=%s url=%s err=%s attempt=%u "
			    "backoff=%.3fs", rw->name, rw->url, resp->error,
			    sh->attempt, (double)delay / 1000.0);
		else
			log_warn("remote write failed, will retry",
			    "remote_name=%s url=%s status=%ld body=%.*s "
			    "attempt=%u backoff=%.3fs", rw->name, rw->url,
			    resp->status, tl, text, sh->attempt,
			    (double)delay / 1000.0);
	}
	rw->failing = 1;
	sh->backing_off = 1;
	loop_timer_add_ms(sh->timer, delay);
}

/*
 * POST a compressed WriteRequest with the remote-write headers, the
 * token and the user's headers; attempt > 0 adds Retry-Attempt. NULL
 * while Azure AD has no token: its ready callback resumes the sender.
 */
static struct http_request *
rw_post(struct remote_write *rw, struct http_pool *pool, const char *body,
    size_t len, unsigned attempt, http_done_cb cb, void *arg)
{
	const struct config_remote_write *c = rw->rwc;
	struct http_request_opts o;
	struct http_request *req;
	const char *headers[16], **all;
	char *auth = NULL, *retry = NULL, **extra;
	const char *token;
	size_t nh = 0, ne = c->headers.n, i;

	if (rw->aad != NULL) {
		if ((token = azuread_authorization(rw->aad)) == NULL)
			return NULL;
		xasprintf(&auth, "Authorization: %s", token);
	}
	headers[nh++] = "Content-Encoding: snappy";
	headers[nh++] = "Content-Type: application/x-protobuf";
	headers[nh++] = "X-Prometheus-Remote-Write-Version: 0.1.0";
	if (attempt > 0) {
		xasprintf(&retry, "Retry-Attempt: %u", attempt);
		headers[nh++] = retry;
	}
	if (auth != NULL)
		headers[nh++] = auth;
	headers[nh] = NULL;

	memset(&o, 0, sizeof o);
	o.method = "POST";
	o.url = c->url;
	o.body = body;
	o.body_len = len;
	o.timeout_ms = c->remote_timeout_ms;
	o.max_body = 64 * 1024;
	o.http = &c->http;
	o.pool = pool;
	o.headers = headers;
	/* User headers cannot override the reserved ones (config checks). */
	if (ne == 0)
		req = http_request_start(rw->http, &o, cb, arg);
	else {
		extra = xcalloc(ne, sizeof *extra);
		all = xcalloc(nh + ne + 1, sizeof *all);
		for (i = 0; i < nh; i++)
			all[i] = headers[i];
		for (i = 0; i < ne; i++) {
			xasprintf(&extra[i], "%s: %s", c->headers.v[i].name,
			    c->headers.v[i].value);
			all[nh + i] = extra[i];
		}
		o.headers = all;
		req = http_request_start(rw->http, &o, cb, arg);
		for (i = 0; i < ne; i++)
			free(extra[i]);
		free(extra);
		free(all);
	}
	rw->requests++;
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(retry);
	return req;
}

static void
rw_send(struct rw_shard *sh)
{
	struct rw_batch *b = rw_batch_at(sh, 0);

	sh->req = rw_post(sh->rw, sh->pool, b->body.out.data + b->body.start,
	    b->body.out.len - b->body.start, sh->attempt, rw_send_done_cb, sh);
	if (sh->req != NULL)
		sh->sent_ms = loop_now_ms();
}

/* ------------------------------------------------------------------ */
/* Metadata.                                                          */

static void	rw_meta_send(struct remote_write *);

static void
rw_meta_round_end(struct rw_meta *m)
{
	size_t i;

	for (i = 0; i < m->nbodies; i++)
		buf_free(&m->bodies[i].out);
	free(m->bodies);
	free(m->counts);
	m->bodies = NULL;
	m->counts = NULL;
	m->nbodies = m->next = 0;
}

/* The request is answered: next one, a retry, or the end of the round. */
static void
rw_meta_done_cb(const struct http_response *resp, void *arg)
{
	struct remote_write *rw = arg;
	struct rw_meta *m = &rw->meta;
	struct rw_body *b = &m->bodies[m->next];
	size_t n = m->counts[m->next];
	int64_t delay;
	const char *text;
	int tl;

	m->req = NULL;
	if (resp->curl_code == 0 && resp->status / 100 == 2) {
		rw->meta_sent += n;
		rw->meta_bytes += b->out.len - b->start;
	} else {
		rw->requests_failed++;
		text = rw_error_text(resp, &tl);
		if (rw_recoverable(rw, resp)) {
			delay = rw_backoff(rw, resp, &m->backoff_ms);
			rw->meta_retried += n;
			if (m->attempt++ % 20 == 0)
				log_warn("remote write of metadata failed, "
				    "will retry", "remote_name=%s url=%s "
				    "status=%ld err=%s body=%.*s attempt=%u "
				    "backoff=%.3fs", rw->name, rw->url,
				    resp->status, resp->error != NULL ?
				    resp->error : "", tl, text, m->attempt,
				    (double)delay / 1000.0);
			loop_timer_add_ms(m->retry, delay);
			return;
		}
		log_error("remote write rejected metadata, dropped",
		    "remote_name=%s url=%s status=%ld metadata=%zu body=%.*s",
		    rw->name, rw->url, resp->status, n, tl, text);
		rw->meta_failed += n;
	}
	m->attempt = 0;
	m->backoff_ms = 0;
	if (++m->next < m->nbodies)
		rw_meta_send(rw);
	else
		rw_meta_round_end(m);
}

static void
rw_meta_send(struct remote_write *rw)
{
	struct rw_meta *m = &rw->meta;
	struct rw_body *b = &m->bodies[m->next];

	m->req = rw_post(rw, m->pool, b->out.data + b->start,
	    b->out.len - b->start, m->attempt, rw_meta_done_cb, rw);
}

static void
rw_meta_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	rw_meta_send(arg);
}

/* Every send_interval: this round's requests, built now. */
static void
rw_meta_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote_write *rw = arg;
	struct rw_meta *m = &rw->meta;
	size_t n, i, k, per = (size_t)rw->rwc->metadata_max_samples_per_send;
	struct rw_body *b;

	if (m->nbodies != 0 || rw->meta_fn == NULL)
		return;		/* the last round is still sending */
	n = rw->meta_fn(rw->meta_arg, &m->spans, &m->spans_cap);
	if (n == 0)
		return;
	m->nbodies = (n + per - 1) / per;
	m->bodies = xcalloc(m->nbodies, sizeof *m->bodies);
	m->counts = xcalloc(m->nbodies, sizeof *m->counts);
	for (i = 0; i < m->nbodies; i++) {
		b = &m->bodies[i];
		rw_body_begin(b);
		for (k = i * per; k < n && k < (i + 1) * per; k++) {
			buf_append(&m->frag, m->spans[k].p, m->spans[k].len);
			if (m->frag.len >= RW_FRAGMENT - 1024)
				rw_body_add(b, &m->frag);
			m->counts[i]++;
		}
		rw_body_add(b, &m->frag);
		rw_body_finish(b);
	}
	rw_meta_send(rw);
}

void
remote_write_set_metadata(struct remote_write *rw,
    remote_write_metadata_fn fn, void *arg)
{
	struct rw_meta *m = &rw->meta;

	rw->meta_fn = fn;
	rw->meta_arg = arg;
	if (m->tick != NULL || !rw->rwc->metadata_send)
		return;
	m->pool = http_pool_new();
	m->retry = evtimer_new(rw->base, rw_meta_retry_cb, rw);
	m->tick = event_new(rw->base, -1, EV_PERSIST, rw_meta_tick_cb, rw);
	loop_timer_add_ms(m->tick, rw->rwc->metadata_send_interval_ms);
}

static void
rw_meta_free(struct rw_meta *m)
{
	if (m->req != NULL)
		http_request_cancel(m->req);
	if (m->tick != NULL)
		event_free(m->tick);
	if (m->retry != NULL)
		event_free(m->retry);
	http_pool_free(m->pool);
	rw_meta_round_end(m);
	free(m->spans);
	buf_free(&m->frag);
}

/* Deadline or backoff expired. */
static void
rw_shard_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rw_shard *sh = arg;

	if (sh->backing_off) {
		sh->backing_off = 0;
		rw_send(sh);
		return;
	}
	rw_shard_kick(sh);
}

/* Send the front batch if it is due, or arm its deadline. */
static void
rw_shard_kick(struct rw_shard *sh)
{
	struct remote_write *rw = sh->rw;
	struct rw_batch *b;
	int64_t left;

	if (sh->busy || sh->count == 0)
		return;
	b = rw_batch_at(sh, 0);
	if (b->n == 0)
		return;
	if (!b->sealed && !rw->flushing && rw->want_shards == rw->nshards &&
	    (left = b->created_ms + rw->rwc->queue.batch_send_deadline_ms -
	    loop_now_ms()) > 0) {
		loop_timer_add_ms(sh->timer, left);
		return;
	}
	rw_batch_seal(sh, b);
	sh->busy = 1;
	sh->attempt = 0;
	evtimer_del(sh->timer);
	rw_send(sh);
}

static void
rw_aad_ready_cb(void *arg)
{
	struct remote_write *rw = arg;
	size_t i;

	for (i = 0; i < rw->nshards; i++) {
		struct rw_shard *sh = &rw->shards[i];

		if (sh->busy && sh->req == NULL && !sh->backing_off)
			rw_send(sh);
	}
	if (rw->meta.nbodies != 0 && rw->meta.req == NULL &&
	    !evtimer_pending(rw->meta.retry, NULL))
		rw_meta_send(rw);
}

/* ------------------------------------------------------------------ */
/* Shard count.                                                       */

static void
rw_shards_alloc(struct remote_write *rw, size_t n)
{
	size_t i, nb;

	nb = rw->shard_capacity / (size_t)rw->rwc->queue.max_samples_per_send +
	    2;
	rw->nshards = rw->want_shards = n;
	rw->shards = xcalloc(n, sizeof *rw->shards);
	for (i = 0; i < n; i++) {
		struct rw_shard *sh = &rw->shards[i];

		sh->rw = rw;
		sh->idx = (unsigned)i;
		sh->cap = nb;
		sh->b = xcalloc(nb, sizeof *sh->b);
		buf_init(&sh->frag);
		sh->pool = http_pool_new();
		sh->timer = evtimer_new(rw->base, rw_shard_timer_cb, sh);
	}
}

static void
rw_shards_free(struct remote_write *rw)
{
	size_t i, k;

	for (i = 0; rw->shards != NULL && i < rw->nshards; i++) {
		struct rw_shard *sh = &rw->shards[i];

		if (sh->req != NULL)
			http_request_cancel(sh->req);
		http_pool_free(sh->pool);
		if (sh->timer != NULL)
			event_free(sh->timer);
		for (k = 0; k < sh->cap; k++)
			buf_free(&sh->b[k].body.out);
		free(sh->b);
		buf_free(&sh->frag);
		buf_free(&sh->spare);
	}
	free(rw->shards);
	rw->shards = NULL;
	rw->nshards = 0;
}

/* Rebuild the shards once the old ones have delivered everything. */
static int
rw_reshard_ready(struct remote_write *rw)
{
	size_t i, want = rw->want_shards;

	if (want == rw->nshards)
		return 1;
	for (i = 0; i < rw->nshards; i++) {
		if (rw->shards[i].busy || rw->shards[i].count != 0) {
			rw_shard_kick(&rw->shards[i]);
			return 0;
		}
	}
	log_info("remote write resharded", "remote_name=%s from=%zu to=%zu",
	    rw->name, rw->nshards, want);
	rw_shards_free(rw);
	rw_shards_alloc(rw, want);
	rw->reshards++;
	return 1;
}

/*
 * Like Prometheus: shards needed = time one sample takes to send x
 * (input rate + a share of the backlog), kept when within 30%, never
 * raised while sends are failing (more connections would not help).
 */
static void
rw_reshard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote_write *rw = arg;
	const struct config_queue *q = &rw->rwc->queue;
	double secs = RW_RESHARD_PERIOD_MS / 1000.0, per_sample, rate, want;
	uint64_t pending;
	size_t n, lo, hi;

	if (rw->win_out != 0 && rw->win_retried == 0 && !rw->flushing) {
		per_sample = rw->win_send_seconds / (double)rw->win_out;
		pending = rw->reader != NULL ?
		    wal_reader_pending(rw->reader) : 0;
		rate = (double)rw->win_in / secs + 0.05 * (double)pending;
		want = per_sample * rate;
		lo = q->min_shards > 0 ? (size_t)q->min_shards : 1;
		hi = q->max_shards > 0 ? (size_t)q->max_shards : 50;
		n = (size_t)ceil(want);
		if (n < lo)
			n = lo;
		if (n > hi)
			n = hi;
		if ((double)n > (double)rw->nshards * 1.3 ||
		    (double)n < (double)rw->nshards * 0.7)
			rw->want_shards = n;
	}
	rw->win_in = rw->win_out = rw->win_retried = 0;
	rw->win_send_seconds = 0;
	if (rw->want_shards != rw->nshards)
		rw_read(rw);
}

/* ------------------------------------------------------------------ */
/* Reading the WAL.                                                   */

static size_t
rw_free_capacity(struct remote_write *rw)
{
	size_t i, free_min = SIZE_MAX;

	for (i = 0; i < rw->nshards; i++) {
		size_t q = rw->shards[i].queued;
		size_t f = q >= rw->shard_capacity ? 0 :
		    rw->shard_capacity - q;
		if (f < free_min)
			free_min = f;
	}
	return free_min;
}

static void
rw_read(struct remote_write *rw)
{
	struct wal_record rec;
	struct wal_pos pos;
	size_t i, room;
	int rc, any = 0;

	if (rw->reader == NULL)
		return;
	if (!rw_reshard_ready(rw)) {
		rw_ack(rw);
		return;
	}
	while ((room = rw_free_capacity(rw)) > 0) {
		rc = wal_reader_next(rw->reader, &rec, room);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (!rw->reader_failed)
				log_error("wal read failed", "remote_name=%s",
				    rw->name);
			rw->reader_failed = 1;
			break;
		}
		rw->reader_failed = 0;
		switch (rec.type) {
		case WAL_RECORD_SERIES:
			rw_series_define(rw, rec.ref, &rec.labels);
			break;
		case WAL_RECORD_DROP:
			for (i = 0; i < rec.nrefs; i++) {
				if (rec.refs[i] < rw->nseries)
					rw_series_clear(rw,
					    &rw->series[rec.refs[i]]);
			}
			break;
		case WAL_RECORD_SAMPLES:
			pos = rec.pos;
			for (i = 0; i < rec.nsamples; i++) {
				const struct wal_sample *smp = &rec.samples[i];
				struct rw_series *s;

				pos.index = rec.pos.index + (uint32_t)i;
				if (smp->t_ms > rw->highest_read_ts)
					rw->highest_read_ts = smp->t_ms;
				s = smp->ref < rw->nseries ?
				    &rw->series[smp->ref] : NULL;
				if (s == NULL || !s->known) {
					rw->dropped[RW_DROP_UNKNOWN_SERIES]++;
					continue;
				}
				if (s->drop != 0)
					continue;
				if (rw->rwc->queue.sample_age_limit_ms > 0 &&
				    smp->t_ms < loop_now_ms() -
				    rw->rwc->queue.sample_age_limit_ms) {
					rw->dropped[RW_DROP_TOO_OLD]++;
					continue;
				}
				rw_shard_push(rw->nshards == 1 ? rw->shards :
				    &rw->shards[smp->ref % (uint32_t)rw->nshards],
				    s, smp, &pos);
				rw->win_in++;
			}
			any = 1;
			break;
		}
		rw->read_pos = rec.next;
		rw->read_pos_valid = 1;
	}
	for (i = 0; i < rw->nshards; i++)
		rw_shard_kick(&rw->shards[i]);
	if (any || rw->read_pos_valid)
		rw_ack(rw);
}

static void
rw_read_cb(evutil_socket_t fd, short what, void *arg)
{
	rw_read(arg);
}

void
remote_write_notify(struct remote_write *rw)
{
	/* Deferred: scraping returns at once, reading runs next turn. */
	event_active(rw->read_ev, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------------ */

struct remote_write *
remote_write_create(struct event_base *base, struct http_client *http,
    struct wal *wal, const struct config *cfg,
    const struct config_remote_write *rwc, char **cause)
{
	struct remote_write *rw;
	const char *p;

	rw = xcalloc(1, sizeof *rw);
	rw->base = base;
	rw->http = http;
	rw->wal = wal;
	rw->cfg = cfg;
	rw->rwc = rwc;
	rw->name = xstrdup(rwc->name);
	/* Never log credentials that may sit in a URL's userinfo. */
	if ((p = strchr(rwc->url, '@')) != NULL &&
	    strstr(rwc->url, "://") != NULL && p > strstr(rwc->url, "://"))
		xasprintf(&rw->url, "%.*s<secret>%s",
		    (int)(strstr(rwc->url, "://") + 3 - rwc->url), rwc->url, p);
	else
		rw->url = xstrdup(rwc->url);
	rw->hash = config_remote_write_hash(rwc);
	labels_init(&rw->ls);
	rw->pairs = rw_pairs_new();
	rw->highest_sent_ts = rw->highest_read_ts = 0;

	if (rwc->azuread.method != AZUREAD_NONE) {
		rw->aad = azuread_create(base, http, &rwc->azuread, rw->name,
		    cause);
		if (rw->aad == NULL)
			goto fail;
		azuread_set_ready_cb(rw->aad, rw_aad_ready_cb, rw);
	}
	rw->shard_capacity = rwc->queue.capacity > 0 ?
	    (size_t)rwc->queue.capacity : 10000;
	rw_shards_alloc(rw, rwc->queue.min_shards > 0 ?
	    (size_t)rwc->queue.min_shards : 1);
	rw->read_ev = event_new(base, -1, 0, rw_read_cb, rw);
	rw->reshard_ev = event_new(base, -1, EV_PERSIST, rw_reshard_cb, rw);
	loop_timer_add_ms(rw->reshard_ev, RW_RESHARD_PERIOD_MS);
	if ((rw->reader = wal_reader_open(wal, rw->name, cause)) == NULL)
		goto fail;
	remote_write_notify(rw);
	return rw;
fail:
	remote_write_free(rw);
	return NULL;
}

void
remote_write_free(struct remote_write *rw)
{
	if (rw == NULL)
		return;
	rw_shards_free(rw);
	rw_meta_free(&rw->meta);
	if (rw->reshard_ev != NULL)
		event_free(rw->reshard_ev);
	free(rw->series);
	rw_ids_clean(&rw->ids);
	rw_pairs_free(rw->pairs);
	if (rw->read_ev != NULL)
		event_free(rw->read_ev);
	wal_reader_close(rw->reader);
	azuread_free(rw->aad);
	labels_free(&rw->ls);
	arena_free(&rw->arena);
	buf_free(&rw->idbuf);
	free(rw->name);
	free(rw->url);
	free(rw);
}

void
remote_write_update_config(struct remote_write *rw, const struct config *cfg,
    const struct config_remote_write *rwc)
{
	rw->cfg = cfg;
	rw->rwc = rwc;
}

int
remote_write_idle(struct remote_write *rw)
{
	size_t i;

	for (i = 0; i < rw->nshards; i++) {
		if (rw->shards[i].count != 0 && rw->shards[i].queued != 0)
			return 0;
	}
	return 1;
}

int
remote_write_flush(struct remote_write *rw)
{
	size_t i;

	rw->flushing = 1;
	rw_read(rw);
	for (i = 0; i < rw->nshards; i++)
		rw_shard_kick(&rw->shards[i]);
	return remote_write_idle(rw);
}

const char *
remote_write_name(const struct remote_write *rw)
{
	return rw->name;
}

uint64_t
remote_write_hash(const struct remote_write *rw)
{
	return rw->hash;
}

/*
 * Each family once, with every endpoint's lines under its HELP and TYPE:
 * the text format wants a family's lines together, and without TYPE the
 * counters would be untyped.
 */
enum {
	RW_M_SAMPLES, RW_M_FAILED, RW_M_RETRIED, RW_M_BYTES, RW_M_REQUESTS,
	RW_M_REQUESTS_FAILED, RW_M_DURATION, RW_M_PENDING, RW_M_QUEUED,
	RW_M_SHARDS, RW_M_RESHARDS, RW_M_HIGHEST_SENT, RW_M_LAG, RW_M_DROPPED,
	RW_M_SERIES_DROPPED, RW_M_META, RW_M_META_FAILED, RW_M_META_RETRIED,
	RW_M_META_BYTES, RW_M_COUNT
};

static const char *const rw_metric_headers[RW_M_COUNT][3] = {
	{ "samples_total", "counter",
	    "Samples delivered to the remote (2xx)." },
	{ "samples_failed_total", "counter",
	    "Samples in batches the remote rejected for good (4xx)." },
	{ "samples_retried_total", "counter",
	    "Samples in requests that failed and are sent again." },
	{ "sent_bytes_total", "counter",
	    "Compressed request bytes delivered." },
	{ "requests_total", "counter", "Requests sent, retries included." },
	{ "requests_failed_total", "counter",
	    "Requests without a 2xx answer (network error or status)." },
	{ "sent_batch_duration_seconds", "summary",
	    "Time from sending a request to its answer." },
	{ "samples_pending", "gauge",
	    "Samples in the WAL not yet delivered or dropped." },
	{ "samples_queued", "gauge",
	    "Samples read from the WAL, in shard queues or in flight." },
	{ "shards", "gauge", "Shards sending in parallel." },
	{ "reshards_total", "counter", "Changes of the shard count." },
	{ "queue_highest_sent_timestamp_seconds", "gauge",
	    "Newest sample timestamp delivered, in seconds since the epoch." },
	{ "lag_seconds", "gauge",
	    "Newest sample timestamp read minus newest delivered." },
	{ "samples_dropped_total", "counter",
	    "Samples that will not be delivered, by reason." },
	{ "series_dropped_total", "counter",
	    "Series not sent because of a label limit, by reason." },
	{ "metadata_total", "counter",
	    "Metadata entries delivered to the remote (2xx)." },
	{ "metadata_failed_total", "counter",
	    "Metadata entries in requests the remote rejected for good." },
	{ "metadata_retried_total", "counter",
	    "Metadata entries in requests that failed and are sent again." },
	{ "metadata_bytes_total", "counter",
	    "Compressed metadata request bytes delivered." },
};

static void
rw_metric(struct buf *b, struct remote_write *rw, int m)
{
	const char *f = rw_metric_headers[m][0], *n = rw->name;
	size_t i;
	double secs = 0;
	uint64_t v = 0;

	switch (m) {
	case RW_M_DURATION:
		buf_printf(b, "promlet_remote_storage_%s_sum{remote_name=\"%s\"} "
		    "%.6f\npromlet_remote_storage_%s_count"
		    "{remote_name=\"%s\"} %llu\n", f, n, rw->send_seconds, f,
		    n, (unsigned long long)rw->send_count);
		return;
	case RW_M_HIGHEST_SENT:
	case RW_M_LAG:
		if (m == RW_M_HIGHEST_SENT)
			secs = (double)rw->highest_sent_ts / 1000.0;
		else if (rw->highest_read_ts > rw->highest_sent_ts &&
		    rw->highest_sent_ts)
			secs = (double)(rw->highest_read_ts -
			    rw->highest_sent_ts) / 1000.0;
		buf_printf(b, "promlet_remote_storage_%s{remote_name=\"%s\"} "
		    "%.3f\n", f, n, secs);
		return;
	case RW_M_DROPPED:
		for (i = 0; i < RW_DROP_COUNT; i++)
			buf_printf(b, "promlet_remote_storage_%s{remote_name="
			    "\"%s\",reason=\"%s\"} %llu\n", f, n,
			    rw_drop_names[i],
			    (unsigned long long)rw->dropped[i]);
		if (rw->reader != NULL)
			buf_printf(b, "promlet_remote_storage_%s{remote_name="
			    "\"%s\",reason=\"wal_cap\"} %llu\n", f, n,
			    (unsigned long long)wal_reader_dropped(
			    rw->reader));
		return;
	case RW_M_SERIES_DROPPED:
		for (i = RW_DROP_LABEL_COUNT; i <= RW_DROP_VALUE_LENGTH; i++)
			buf_printf(b, "promlet_remote_storage_%s{remote_name="
			    "\"%s\",reason=\"%s\"} %llu\n", f, n,
			    rw_drop_names[i],
			    (unsigned long long)rw->series_dropped[i]);
		return;
	case RW_M_SAMPLES:
		v = rw->samples_sent;
		break;
	case RW_M_FAILED:
		v = rw->samples_failed;
		break;
	case RW_M_RETRIED:
		v = rw->samples_retried;
		break;
	case RW_M_BYTES:
		v = rw->bytes_sent;
		break;
	case RW_M_REQUESTS:
		v = rw->requests;
		break;
	case RW_M_REQUESTS_FAILED:
		v = rw->requests_failed;
		break;
	case RW_M_PENDING:
		v = rw->reader != NULL ? wal_reader_pending(rw->reader) : 0;
		break;
	case RW_M_QUEUED:
		for (i = 0; i < rw->nshards; i++)
			v += rw->shards[i].queued;
		break;
	case RW_M_SHARDS:
		v = rw->nshards;
		break;
	case RW_M_RESHARDS:
		v = rw->reshards;
		break;
	case RW_M_META:
		v = rw->meta_sent;
		break;
	case RW_M_META_FAILED:
		v = rw->meta_failed;
		break;
	case RW_M_META_RETRIED:
		v = rw->meta_retried;
		break;
	case RW_M_META_BYTES:
		v = rw->meta_bytes;
		break;
	}
	buf_printf(b, "promlet_remote_storage_%s{remote_name=\"%s\"} %llu\n",
	    f, n, (unsigned long long)v);
}

void
remote_write_write_metrics_all(struct remote_write * const *v, size_t n,
    struct buf *b)
{
	size_t i;
	int m;

	if (n == 0)
		return;
	for (m = 0; m < RW_M_COUNT; m++) {
		buf_printf(b, "# HELP promlet_remote_storage_%s %s\n"
		    "# TYPE promlet_remote_storage_%s %s\n",
		    rw_metric_headers[m][0], rw_metric_headers[m][2],
		    rw_metric_headers[m][0], rw_metric_headers[m][1]);
		for (i = 0; i < n; i++)
			rw_metric(b, v[i], m);
	}
}

struct azuread *
remote_write_azuread(const struct remote_write *rw)
{
	return rw->aad;
}
