/*
 * http_sd_configs: targets from an HTTP endpoint, as Prometheus's HTTP SD.
 *
 * Every refresh_interval (the first time at once) promlet sends
 *
 *	GET <url>
 *	Accept: application/json
 *	X-Prometheus-Refresh-Interval-Seconds: <refresh_interval>
 *
 * with the entry's HTTP client settings, and wants 200 with a Content-Type
 * of application/json (optionally "; charset=utf-8") and the target groups
 * of file_sd's JSON form:
 *
 *	[ { "targets": ["host:9100", ...], "labels": { "env": "prod" } } ]
 *
 * Each target gets __meta_url (the URL, its password replaced by
 * <secret>). A refresh that fails in any way (transport, status, content
 * type, JSON) is logged and counted in promlet_sd_http_failures_total, and
 * the previous targets stay; an empty list removes them. The request times
 * out after refresh_interval, as in Prometheus.
 */
#ifndef PROMLET_HTTP_SD_H
#define PROMLET_HTTP_SD_H

#include <stddef.h>

struct buf;
struct config_http_sd;
struct event_base;
struct http_client;
struct scrape_manager;
struct http_sd;

/* Borrows job and cfg: they must outlive the discovery. */
struct http_sd	*http_sd_create(struct event_base *, struct http_client *,
		    struct scrape_manager *, const char *job,
		    const struct config_http_sd *, size_t);
/* Cancels a refresh in flight. NULL is fine. */
void		 http_sd_free(struct http_sd *);
/* Prometheus's Content-Type rule; exposed for tests. */
int		 http_sd_content_type_ok(const char *);
/* Failed refreshes since start, across reloads. */
void		 http_sd_write_metrics(struct buf *);

#endif
