/*
 * The daemon's command line: promlet's flags, and every flag of
 * Prometheus 2.x and 3.x, so that the arguments of a Prometheus agent
 * (`prometheus --enable-feature=agent ...` or `prometheus --agent ...`)
 * start promlet unchanged. Each Prometheus flag is one of:
 *
 *   used         the same meaning (config.file, storage.agent.path,
 *                web.listen-address, web.enable-lifecycle, log.*, ...),
 *                or promlet's nearest (storage.agent.retention.max-time
 *                is --storage.agent.max-age; web.external-url's path and
 *                web.route-prefix prefix the endpoints);
 *   no effect    accepted and checked, then named in the log at startup
 *                with the reason (a web UI setting, the Go runtime, the
 *                layout of Prometheus's own WAL);
 *   server-only  what Prometheus refuses in agent mode (storage.tsdb.*,
 *                query.*, rules.*, alertmanager.*, remote read): exit 3
 *                with Prometheus's message;
 *   refused      set to something promlet does not do and whose silent
 *                absence would hurt (web.config.file: TLS and auth for
 *                the endpoints; a remote write receiver): exit 2.
 *
 * --enable-feature takes comma-separated names and may repeat: agent is
 * what promlet always is, extra-scrape-metrics turns extra_scrape_metrics
 * on for every job, auto-reload-config reloads the config when its files
 * change (checked every --config.auto-reload-interval, 30s); others are
 * noted as for flags, unknown ones with a warning, as Prometheus does.
 *
 * Syntax as Go's kingpin: --name=value or --name value; booleans --name,
 * --no-name or --name=true|false; -h for --help. Pure: no I/O.
 */
#ifndef PROMLET_FLAGS_H
#define PROMLET_FLAGS_H

#include <stddef.h>
#include <stdint.h>

/* A flag accepted with no effect, for the log once it is set up. */
struct flags_note {
	char		*what;		/* "--web.page-title" or "feature x" */
	const char	*why;
	int		 warn;		/* it changes data: log a warning */
};

struct flags {
	const char		*config_file;
	const char		*storage_path;
	const char		*listen_address;
	const char		*log_level;
	const char		*log_format;
	int			 lifecycle;
	uint64_t		 wal_max_bytes;
	int64_t			 wal_max_age_ms;
	int64_t			 flush_deadline_ms;
	uint64_t		 scrape_max_body;
	int			 http_native;	/* --scrape.http-client */
	int			 extra_scrape_metrics;	/* the feature */
	int			 auto_reload;	/* auto-reload-config */
	int64_t			 auto_reload_ms;	/* its interval */
	char			*route_prefix;	/* "" or "/a/b", no end slash */
	struct flags_note	*notes;
	size_t			 nnotes;
};

enum flags_result {
	FLAGS_RUN = 0,
	FLAGS_HELP,
	FLAGS_VERSION,
	FLAGS_ERROR,		/* exit 2 */
	FLAGS_SERVER_ONLY,	/* exit 3, as Prometheus in agent mode */
};

/*
 * Fill f (defaults first) from argv[1..]. On FLAGS_ERROR and
 * FLAGS_SERVER_ONLY, *cause is the message to print. Strings in f point
 * into argv, but for route_prefix and notes (flags_free).
 */
enum flags_result flags_parse(int argc, char **argv, struct flags *f,
		    char **cause);
void		 flags_free(struct flags *);
/* 512MiB, 1GB (powers of 2, as Prometheus), 100 (bytes). */
int		 flags_parse_size(const char *, uint64_t *);

#endif
