/*
 * The HTTP server on --web.listen-address (libevent evhttp): /metrics,
 * /-/healthy, /-/ready, /-/reload (with --web.enable-lifecycle),
 * /api/v1/status/config and /api/v1/targets. The daemon supplies the
 * content through callbacks, so this file knows no stage's internals.
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
	void	 *arg;
	int	  lifecycle;
};

struct web	*web_create(struct event_base *, const char *listen,
		    const struct web_handlers *, char **cause);
void		 web_free(struct web *);

#endif
