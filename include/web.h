/*
 * The HTTP server on --web.listen-address (libevent evhttp): /metrics,
 * /-/healthy, /-/ready, /-/reload and /-/quit (with
 * --web.enable-lifecycle), /api/v1/status/config and /api/v1/targets,
 * all under the route prefix when there is one (--web.route-prefix, or
 * the path of --web.external-url), as Prometheus serves them. The daemon
 * supplies the content through callbacks, so this file knows no stage's
 * internals.
 */
#ifndef PROMLET_WEB_H
#define PROMLET_WEB_H

struct buf;
struct event_base;
struct web;

struct web_handlers {
	void	(*metrics)(struct buf *, void *);
	void	(*config)(struct buf *, void *);
	void	(*targets)(struct buf *, void *);
	int	(*ready)(void *);
	/* Returns 0 on success or -1 with an allocated message. */
	int	(*reload)(char **, void *);
	/* Start a clean shutdown, after the answer is sent. */
	void	(*quit)(void *);
	void	 *arg;
	int	  lifecycle;
	const char *route_prefix;	/* "" or "/a/b"; copied */
};

struct web	*web_create(struct event_base *, const char *listen,
		    const struct web_handlers *, char **cause);
void		 web_free(struct web *);

#endif
