/*
 * The daemon's command line, promlet's and Prometheus's flags (see
 * flags.h for what each kind of Prometheus flag does).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "flags.h"
#include "xmalloc.h"

enum flags_arg {
	FA_BOOL,
	FA_STR,
	FA_DURATION,
	FA_SIZE,
	FA_INT,
	FA_FLOAT,
};

enum flags_how {
	FH_OWN,		/* promlet uses it: id says which */
	FH_NOTE,	/* accepted, no effect: why */
	FH_SERVER,	/* Prometheus refuses it in agent mode */
};

enum flags_id {
	FI_NONE = 0,
	FI_CONFIG,
	FI_STORAGE_PATH,
	FI_MAX_BYTES,
	FI_MAX_AGE,
	FI_FLUSH,
	FI_MAX_BODY,
	FI_HTTP_CLIENT,
	FI_LISTEN,
	FI_LIFECYCLE,
	FI_LOG_LEVEL,
	FI_LOG_FORMAT,
	FI_VERSION,
	FI_HELP,
	FI_FEATURE,
	FI_AGENT,
	FI_EXTERNAL_URL,
	FI_ROUTE_PREFIX,
	FI_WEB_CONFIG,		/* refused unless "" */
	FI_RECEIVER,		/* refused when true */
	FI_RELOAD_INTERVAL,
};

struct flags_def {
	const char	*name;
	enum flags_arg	 arg;
	enum flags_how	 how;
	enum flags_id	 id;
	const char	*why;	/* FH_NOTE */
};

#define OWN(n, a, i)	{ n, a, FH_OWN, i, NULL }
#define NOTE(n, a, w)	{ n, a, FH_NOTE, FI_NONE, w }
#define SRV(n, a)	{ n, a, FH_SERVER, FI_NONE, NULL }

#define WHY_UI		"promlet has no web UI"
#define WHY_WEB		"promlet's HTTP server has limits of its own"
#define WHY_GO		"a Go runtime setting"
#define WHY_WAL		"promlet's WAL has a format of its own (docs/wal.md)"
#define WHY_STAMP	"promlet stamps samples with their scrape's start"

static const struct flags_def flags_defs[] = {
	/* promlet's own, most of them Prometheus's too. */
	OWN("config.file", FA_STR, FI_CONFIG),
	OWN("storage.agent.path", FA_STR, FI_STORAGE_PATH),
	OWN("storage.agent.max-bytes", FA_SIZE, FI_MAX_BYTES),
	OWN("storage.agent.max-age", FA_DURATION, FI_MAX_AGE),
	OWN("storage.agent.retention.max-time", FA_DURATION, FI_MAX_AGE),
	OWN("storage.remote.flush-deadline", FA_DURATION, FI_FLUSH),
	OWN("scrape.max-body-size", FA_SIZE, FI_MAX_BODY),
	OWN("scrape.http-client", FA_STR, FI_HTTP_CLIENT),
	OWN("web.listen-address", FA_STR, FI_LISTEN),
	OWN("web.enable-lifecycle", FA_BOOL, FI_LIFECYCLE),
	OWN("log.level", FA_STR, FI_LOG_LEVEL),
	OWN("log.format", FA_STR, FI_LOG_FORMAT),
	OWN("version", FA_BOOL, FI_VERSION),
	OWN("help", FA_BOOL, FI_HELP),
	OWN("help-long", FA_BOOL, FI_HELP),
	OWN("help-man", FA_BOOL, FI_HELP),
	OWN("enable-feature", FA_STR, FI_FEATURE),
	OWN("agent", FA_BOOL, FI_AGENT),
	OWN("web.external-url", FA_STR, FI_EXTERNAL_URL),
	OWN("web.route-prefix", FA_STR, FI_ROUTE_PREFIX),
	OWN("web.config.file", FA_STR, FI_WEB_CONFIG),
	OWN("web.enable-remote-write-receiver", FA_BOOL, FI_RECEIVER),
	OWN("web.enable-otlp-receiver", FA_BOOL, FI_RECEIVER),
	OWN("config.auto-reload-interval", FA_DURATION, FI_RELOAD_INTERVAL),

	/* Prometheus's, accepted with no effect. */
	NOTE("web.read-timeout", FA_DURATION, WHY_WEB),
	NOTE("web.max-connections", FA_INT, WHY_WEB),
	NOTE("web.max-notifications-subscribers", FA_INT, WHY_UI),
	NOTE("web.user-assets", FA_STR, WHY_UI),
	NOTE("web.local-assets", FA_STR, WHY_UI),
	NOTE("web.console.templates", FA_STR, WHY_UI),
	NOTE("web.console.libraries", FA_STR, WHY_UI),
	NOTE("web.page-title", FA_STR, WHY_UI),
	NOTE("web.cors.origin", FA_STR, WHY_UI),
	NOTE("web.enable-admin-api", FA_BOOL, "promlet has no admin API"),
	NOTE("web.remote-write-receiver.accepted-protobuf-messages", FA_STR,
	    "promlet receives no remote writes"),
	NOTE("auto-gomaxprocs", FA_BOOL, WHY_GO),
	NOTE("auto-gomemlimit", FA_BOOL, WHY_GO),
	NOTE("auto-gomemlimit.ratio", FA_FLOAT, WHY_GO),
	NOTE("storage.agent.wal-segment-size", FA_SIZE, WHY_WAL),
	NOTE("storage.agent.wal-compression", FA_BOOL, WHY_WAL),
	NOTE("storage.agent.wal-compression-type", FA_STR, WHY_WAL),
	NOTE("storage.agent.wal-truncate-frequency", FA_DURATION,
	    "promlet removes WAL data once every remote_write has sent it"),
	NOTE("storage.agent.retention.min-time", FA_DURATION,
	    "promlet removes WAL data once every remote_write has sent it"),
	NOTE("storage.agent.no-lockfile", FA_BOOL,
	    "promlet always locks its WAL directory"),
	NOTE("storage.agent.use-lockfile", FA_BOOL,
	    "promlet always locks its WAL directory"),
	NOTE("scrape.adjust-timestamps", FA_BOOL, WHY_STAMP),
	NOTE("scrape.timestamp-tolerance", FA_DURATION, WHY_STAMP),
	NOTE("scrape.discovery-reload-interval", FA_DURATION,
	    "promlet applies discovered targets at once"),
	NOTE("alertmanager.timeout", FA_STR, "no effect in Prometheus either"),
	NOTE("write-documentation", FA_BOOL, "promlet's flags are in promlet(1)"),

	/* Prometheus refuses these in agent mode. */
	SRV("storage.tsdb.path", FA_STR),
	SRV("storage.tsdb.min-block-duration", FA_STR),
	SRV("storage.tsdb.max-block-duration", FA_STR),
	SRV("storage.tsdb.max-block-chunk-segment-size", FA_STR),
	SRV("storage.tsdb.wal-segment-size", FA_STR),
	SRV("storage.tsdb.retention", FA_STR),
	SRV("storage.tsdb.retention.time", FA_STR),
	SRV("storage.tsdb.retention.size", FA_STR),
	SRV("storage.tsdb.no-lockfile", FA_BOOL),
	SRV("storage.tsdb.use-lockfile", FA_BOOL),
	SRV("storage.tsdb.allow-overlapping-blocks", FA_BOOL),
	SRV("storage.tsdb.allow-overlapping-compaction", FA_BOOL),
	SRV("storage.tsdb.wal-compression", FA_BOOL),
	SRV("storage.tsdb.wal-compression-type", FA_STR),
	SRV("storage.tsdb.head-chunks-write-queue-size", FA_STR),
	SRV("storage.tsdb.samples-per-chunk", FA_STR),
	SRV("storage.tsdb.delayed-compaction.max-percent", FA_STR),
	SRV("storage.tsdb.delay-compact-file.path", FA_STR),
	SRV("storage.tsdb.block-reload-interval", FA_STR),
	SRV("storage.remote.read-sample-limit", FA_STR),
	SRV("storage.remote.read-concurrent-limit", FA_STR),
	SRV("storage.remote.read-max-bytes-in-frame", FA_STR),
	SRV("rules.alert.for-outage-tolerance", FA_STR),
	SRV("rules.alert.for-grace-period", FA_STR),
	SRV("rules.alert.resend-delay", FA_STR),
	SRV("rules.max-concurrent-evals", FA_STR),
	SRV("alertmanager.notification-queue-capacity", FA_STR),
	SRV("alertmanager.notification-batch-size", FA_STR),
	SRV("alertmanager.drain-notification-queue-on-shutdown", FA_BOOL),
	SRV("query.lookback-delta", FA_STR),
	SRV("query.timeout", FA_STR),
	SRV("query.max-concurrency", FA_STR),
	SRV("query.max-samples", FA_STR),
};

/* --enable-feature names that promlet knows; why NULL = what it does. */
static const struct {
	const char	*name;
	const char	*why;
	int		 warn;
} flags_features[] = {
	{ "agent", NULL, 0 },
	{ "expand-external-labels", "promlet expands ${NAME} in the whole "
	    "config", 0 },
	{ "no-default-scrape-port", "promlet never adds a default port "
	    "(Prometheus 3's behaviour)", 0 },
	{ "native-histograms", "promlet scrapes no native histograms", 1 },
	{ "created-timestamp-zero-ingestion", "promlet ingests no created "
	    "timestamps", 1 },
	{ "type-and-unit-labels", "promlet adds no __type__ or __unit__ "
	    "labels", 1 },
	{ "metadata-wal-records", "promlet sends metadata from its scrapes, "
	    "not from the WAL", 0 },
	{ "auto-gomaxprocs", WHY_GO, 0 },
	{ "auto-gomemlimit", WHY_GO, 0 },
	{ "new-service-discovery-manager", "Prometheus's internals", 0 },
	{ "memory-snapshot-on-shutdown", "a Prometheus server feature", 0 },
	{ "exemplar-storage", "a Prometheus server feature", 0 },
	{ "concurrent-rule-eval", "a Prometheus server feature", 0 },
	{ "delayed-compaction", "a Prometheus server feature", 0 },
	{ "old-ui", WHY_UI, 0 },
	{ "use-uncached-io", "a Prometheus server feature", 0 },
	{ "otlp-deltatocumulative", "promlet receives no OTLP", 0 },
	{ "otlp-native-delta-ingestion", "promlet receives no OTLP", 0 },
	{ "promql-at-modifier", "a Prometheus server feature", 0 },
	{ "promql-negative-offset", "a Prometheus server feature", 0 },
	{ "promql-per-step-stats", "a Prometheus server feature", 0 },
	{ "promql-experimental-functions", "a Prometheus server feature", 0 },
	{ "promql-delayed-name-removal", "a Prometheus server feature", 0 },
	{ "promql-duration-expr", "a Prometheus server feature", 0 },
	{ "promql-extended-range-selectors", "a Prometheus server feature",
	    0 },
	{ "promql-binop-fill-modifiers", "a Prometheus server feature", 0 },
};

int
flags_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (strcasecmp(end, "") == 0 || strcasecmp(end, "B") == 0)
		mult = 1;
	else if (strcasecmp(end, "KB") == 0 || strcasecmp(end, "KiB") == 0)
		mult = 1024ULL;
	else if (strcasecmp(end, "MB") == 0 || strcasecmp(end, "MiB") == 0)
		mult = 1024ULL * 1024;
	else if (strcasecmp(end, "GB") == 0 || strcasecmp(end, "GiB") == 0)
		mult = 1024ULL * 1024 * 1024;
	else if (strcasecmp(end, "TB") == 0 || strcasecmp(end, "TiB") == 0)
		mult = 1024ULL * 1024 * 1024 * 1024;
	else
		return -1;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

static const struct flags_def *
flags_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof flags_defs / sizeof flags_defs[0]; i++)
		if (strlen(flags_defs[i].name) == len &&
		    strncmp(flags_defs[i].name, name, len) == 0)
			return &flags_defs[i];
	return NULL;
}

static void
flags_note(struct flags *f, const char *what, const char *why, int warn)
{
	f->notes = xreallocarray(f->notes, f->nnotes + 1, sizeof *f->notes);
	f->notes[f->nnotes].what = xstrdup(what);
	f->notes[f->nnotes].why = why;
	f->notes[f->nnotes].warn = warn;
	f->nnotes++;
}

/* A flag's value, parsed once by its kind. */
struct flags_value {
	const char	*s;
	int		 b;	/* FA_BOOL */
	int64_t		 ms;	/* FA_DURATION */
	uint64_t	 bytes;	/* FA_SIZE */
};

static int
flags_check(const struct flags_def *d, struct flags_value *fv)
{
	const char *v = fv->s;
	char *end;

	switch (d->arg) {
	case FA_BOOL:
		if (strcmp(v, "true") == 0)
			fv->b = 1;
		else if (strcmp(v, "false") == 0)
			fv->b = 0;
		else
			return -1;
		return 0;
	case FA_DURATION:
		return config_parse_duration(v, &fv->ms);
	case FA_SIZE:
		return flags_parse_size(v, &fv->bytes);
	case FA_INT:
		(void)strtoll(v, &end, 10);
		return end == v || *end != '\0' ? -1 : 0;
	case FA_FLOAT:
		(void)strtod(v, &end);
		return end == v || *end != '\0' ? -1 : 0;
	case FA_STR:
	default:
		return 0;
	}
}

static int
flags_features_add(struct flags *f, const char *list, char **cause)
{
	char *copy = xstrdup(list), *p, *name, *what;
	size_t i, n = sizeof flags_features / sizeof flags_features[0];
	int rc = 0;

	for (p = copy; (name = strsep(&p, ",")) != NULL;) {
		name += strspn(name, " ");
		if (*name == '\0')
			continue;
		if (strcmp(name, "remote-write-receiver") == 0 ||
		    strcmp(name, "otlp-write-receiver") == 0) {
			xasprintf(cause, "--enable-feature=%s: not supported "
			    "by promlet: it receives no writes", name);
			rc = -1;
			break;
		}
		if (strcmp(name, "extra-scrape-metrics") == 0) {
			f->extra_scrape_metrics = 1;
			continue;
		}
		if (strcmp(name, "auto-reload-config") == 0) {
			f->auto_reload = 1;
			continue;
		}
		for (i = 0; i < n; i++)
			if (strcmp(flags_features[i].name, name) == 0)
				break;
		if (i < n && flags_features[i].why == NULL)
			continue;
		xasprintf(&what, "--enable-feature=%s", name);
		if (i < n)
			flags_note(f, what, flags_features[i].why,
			    flags_features[i].warn);
		else
			flags_note(f, what, "unknown option for "
			    "--enable-feature", 1);
		free(what);
	}
	free(copy);
	return rc;
}

/* "/" + the path trimmed of slashes, or "" for the root. */
static void
flags_set_prefix(struct flags *f, const char *path, size_t len)
{
	struct buf b = BUF_INIT;

	while (len > 0 && *path == '/')
		path++, len--;
	while (len > 0 && path[len - 1] == '/')
		len--;
	free(f->route_prefix);
	if (len > 0) {
		buf_putc(&b, '/');
		buf_append(&b, path, len);
		f->route_prefix = buf_steal(&b);
	} else
		f->route_prefix = xstrdup("");
}

/* The path of --web.external-url: after scheme://host, before ?#. */
static void
flags_external_path(const char *url, const char **path, size_t *len)
{
	const char *p = strstr(url, "://");

	p = p != NULL ? p + 3 + strcspn(p + 3, "/?#") : url;
	*path = p;
	*len = strcspn(p, "?#");
}

static int
flags_apply(struct flags *f, const struct flags_def *d,
    const struct flags_value *fv, int *action, int *prefix_set,
    const char **external, char **cause)
{
	const char *v = fv->s;
	int b = fv->b;

	switch (d->id) {
	case FI_CONFIG: f->config_file = v; break;
	case FI_STORAGE_PATH: f->storage_path = v; break;
	case FI_LOG_LEVEL: f->log_level = v; break;
	case FI_LOG_FORMAT: f->log_format = v; break;
	case FI_LIFECYCLE: f->lifecycle = b; break;
	case FI_AGENT: break;
	case FI_LISTEN:
		f->listen_address = v;
		break;
	case FI_MAX_BYTES:
		f->wal_max_bytes = fv->bytes;
		break;
	case FI_MAX_BODY:
		f->scrape_max_body = fv->bytes;
		break;
	case FI_MAX_AGE:
		f->wal_max_age_ms = fv->ms;
		break;
	case FI_FLUSH:
		f->flush_deadline_ms = fv->ms;
		break;
	case FI_RELOAD_INTERVAL:
		f->auto_reload_ms = fv->ms;
		/* Prometheus's floor, with its warning. */
		if (f->auto_reload_ms < 1000) {
			f->auto_reload_ms = 1000;
			flags_note(f, "--config.auto-reload-interval",
			    "less than 1s: 1s is used", 1);
		}
		break;
	case FI_HTTP_CLIENT:
		if (strcmp(v, "builtin") == 0)
			f->http_native = 1;
		else if (strcmp(v, "curl") == 0)
			f->http_native = 0;
		else {
			xasprintf(cause, "--scrape.http-client: \"%s\" is "
			    "neither builtin nor curl", v);
			return -1;
		}
		break;
	case FI_VERSION:
		if (b && *action == FLAGS_RUN)
			*action = FLAGS_VERSION;
		break;
	case FI_HELP:
		if (b)
			*action = FLAGS_HELP;
		break;
	case FI_FEATURE:
		return flags_features_add(f, v, cause);
	case FI_EXTERNAL_URL:
		*external = v;
		break;
	case FI_ROUTE_PREFIX:
		flags_set_prefix(f, v, strlen(v));
		*prefix_set = 1;
		break;
	case FI_WEB_CONFIG:
		if (*v != '\0') {
			xasprintf(cause, "--web.config.file: not supported by "
			    "promlet: its endpoints have no TLS or "
			    "authentication; listen on 127.0.0.1 or put a TLS "
			    "proxy in front");
			return -1;
		}
		break;
	case FI_RECEIVER:
		if (b) {
			xasprintf(cause, "--%s: not supported by promlet: it "
			    "receives no writes", d->name);
			return -1;
		}
		break;
	case FI_NONE:
	default:
		break;
	}
	return 0;
}

enum flags_result
flags_parse(int argc, char **argv, struct flags *f, char **cause)
{
	const struct flags_def *d;
	struct flags_value fv;
	struct buf server = BUF_INIT;
	const char *arg, *name, *eq, *v, *external = NULL;
	char *what;
	size_t len;
	int i, neg, action = FLAGS_RUN, prefix_set = 0;

	memset(f, 0, sizeof *f);
	f->config_file = "promlet.yml";
	f->storage_path = "data-agent/";
	f->listen_address = "0.0.0.0:9099";
	f->log_level = "info";
	f->log_format = "logfmt";
	f->wal_max_bytes = 1024ULL * 1024 * 1024;
	f->flush_deadline_ms = 60 * 1000;
	f->scrape_max_body = 512ULL * 1024 * 1024;
	f->http_native = 1;
	f->auto_reload_ms = 30 * 1000;
	f->route_prefix = xstrdup("");
	*cause = NULL;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "-h") == 0) {
			action = FLAGS_HELP;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			xasprintf(cause, "unexpected argument \"%s\"", arg);
			goto fail;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		neg = 0;
		if ((d = flags_find(name, len)) == NULL && len > 3 &&
		    strncmp(name, "no-", 3) == 0 &&
		    (d = flags_find(name + 3, len - 3)) != NULL) {
			if (d->arg != FA_BOOL || eq != NULL) {
				xasprintf(cause, "unknown flag --%.*s",
				    (int)len, name);
				goto fail;
			}
			neg = 1;
		}
		if (d == NULL) {
			xasprintf(cause, "unknown flag --%.*s", (int)len,
			    name);
			goto fail;
		}
		if (d->arg == FA_BOOL)
			v = eq != NULL ? eq + 1 : neg ? "false" : "true";
		else if (eq != NULL)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			xasprintf(cause, "--%s needs a value", d->name);
			goto fail;
		}
		memset(&fv, 0, sizeof fv);
		fv.s = v;
		if (flags_check(d, &fv) == -1) {
			xasprintf(cause, "--%s: bad value \"%s\"", d->name, v);
			goto fail;
		}
		if (d->how == FH_SERVER) {
			buf_printf(&server, "%s\"--%s\"", server.len ? " " : "",
			    d->name);
			continue;
		}
		if (d->how == FH_NOTE) {
			xasprintf(&what, "--%s", d->name);
			flags_note(f, what, d->why, 0);
			free(what);
			continue;
		}
		if (flags_apply(f, d, &fv, &action, &prefix_set, &external,
		    cause) == -1)
			goto fail;
	}
	if (server.len > 0) {
		xasprintf(cause, "The following flag(s) can not be used in "
		    "agent mode: [%s]", server.data);
		buf_free(&server);
		return FLAGS_SERVER_ONLY;
	}
	buf_free(&server);
	if (!prefix_set && external != NULL) {
		flags_external_path(external, &v, &len);
		flags_set_prefix(f, v, len);
	}
	return (enum flags_result)action;

fail:
	buf_free(&server);
	return FLAGS_ERROR;
}

void
flags_free(struct flags *f)
{
	size_t i;

	for (i = 0; i < f->nnotes; i++)
		free(f->notes[i].what);
	free(f->notes);
	free(f->route_prefix);
	f->notes = NULL;
	f->nnotes = 0;
	f->route_prefix = NULL;
}
