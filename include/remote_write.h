/*
 * Remote write 1.0 sender: one instance per remote_write endpoint.
 *
 * Each endpoint tails the WAL through its own reader and cursor:
 *
 *	wal_reader_next -> series record: labels + external labels
 *	                   -> write_relabel -> receiver limits
 *	                   -> encoded once, kept by ref
 *	                -> samples: queued on shard (ref % nshards)
 *	shard: batch of max_samples_per_send or batch_send_deadline
 *	       -> rw_encode -> snappy -> POST (one in flight per shard)
 *	       -> 2xx: ack; 5xx/429/network: back off and resend the same
 *	          body; other 4xx: drop the batch and log the receiver's text
 *
 * The WAL cursor only moves past a sample once every shard has delivered
 * everything before it, so a restart re-sends at most the batches in
 * flight, never skips one. Samples of one series always go to the same
 * shard and each shard sends in order, so per-series order holds.
 *
 * Metadata (metadata_config.send) does not pass through the WAL: every
 * send_interval the endpoint asks its metadata function for the
 * targets' distinct entries and POSTs them in requests of their own.
 */
#ifndef PROMLET_REMOTE_WRITE_H
#define PROMLET_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

struct azuread;
struct buf;
struct config;
struct config_remote_write;
struct event_base;
struct http_client;
struct wal;

struct lstr;
struct remote_write;

/*
 * The metadata to send: encoded WriteRequest metadata fields, each once,
 * as spans valid until the loop runs again. *out is the callee's to
 * grow and the endpoint's to keep.
 */
typedef size_t	(*remote_write_metadata_fn)(void *, struct lstr **out,
		    size_t *cap);

struct remote_write *remote_write_create(struct event_base *,
		    struct http_client *, struct wal *, const struct config *,
		    const struct config_remote_write *, char **cause);
void		 remote_write_free(struct remote_write *);
/* New data was committed to the WAL. */
void		 remote_write_notify(struct remote_write *);
/* Point at a reloaded, unchanged copy of the endpoint's config. */
void		 remote_write_update_config(struct remote_write *,
		    const struct config *, const struct config_remote_write *);
/* Send everything read so far; 1 when nothing is left in memory. */
int		 remote_write_flush(struct remote_write *);
int		 remote_write_idle(struct remote_write *);
const char	*remote_write_name(const struct remote_write *);
uint64_t	 remote_write_hash(const struct remote_write *);
/* Every endpoint's metrics, one HELP and TYPE per family. */
void		 remote_write_write_metrics_all(struct remote_write * const *,
		    size_t, struct buf *);
/* Where metadata comes from; without one, none is sent. */
void		 remote_write_set_metadata(struct remote_write *,
		    remote_write_metadata_fn, void *);
/* The endpoint's token provider, or NULL without azuread. */
struct azuread	*remote_write_azuread(const struct remote_write *);

#endif
