/*
 * promlet: scrape Prometheus targets and forward samples over remote
 * write, with a write-ahead log in between. main() parses flags,
 * dispatches subcommands and wires the stages together; the stages
 * themselves live in the library (see docs/architecture.md).
 *
 * Shutdown order matters for "nothing lost": stop the scrapers (which
 * write stale markers and commit them), flush the remote writers for at
 * most --storage.remote.flush-deadline, then close the WAL (fsync and
 * cursor persistence). What could not be sent stays in the WAL and goes
 * out after the next start.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "azuread.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "file_sd.h"
#include "flags.h"
#include "http.h"
#include "http_sd.h"
#include "k8s_sd.h"
#include "log.h"
#include "loop.h"
#include "remote_write.h"
#include "scrape.h"
#include "sdnotify.h"
#include "series.h"
#include "wal.h"
#include "web.h"
#include "xmalloc.h"

/* Upkeep's pace (main_maintain). */
#define MAIN_MAINTAIN_MS	1000
#define MAIN_QUIET_TICK_S	10
#define MAIN_GC_MS		60000

struct daemon {
	struct flags		 fl;
	struct event_base	*base;
	struct http_client	*http;
	struct series_table	*series;
	struct wal		*wal;
	struct scrape_manager	*scrape;
	struct remote_write	**rw;
	size_t			 nrw;
	struct file_sd		**fsd;
	size_t			 nfsd;
	struct k8s_sd		**ksd;
	size_t			 nksd;
	struct http_sd		**hsd;
	size_t			 nhsd;
	struct web		*web;
	struct config		*cfg;
	struct event		*tick;
	struct event		*maint;		/* main_maintain, now */
	struct event		*autoreload;	/* auto-reload-config */
	uint64_t		 config_sum;	/* of the files last loaded */
	struct event		*sig_int;
	struct event		*sig_term;
	struct event		*sig_hup;
	int			 ready;
	int			 stopping;
	int64_t			 stop_deadline;
	int64_t			 stop_requested_ms;
	int64_t			 started_ms;
	int64_t			 maintained_ms;
	int64_t			 gc_ms;
	uint64_t		 reloads_ok;
	uint64_t		 reloads_failed;
	int			 last_reload_ok;
	int64_t			 last_reload_ms;
};

static void
main_usage(FILE *f)
{
	fprintf(f,
"usage: promlet [flags]\n"
"       promlet check config FILE...\n"
"       promlet debug parse [--openmetrics] FILE|-\n"
"       promlet debug relabel -c FILE (--job NAME [--target] |\n"
"                             --remote-write NAME) 'metric{a=\"1\"}'\n"
"\n"
"Scrape Prometheus targets and forward the samples over remote write,\n"
"keeping a write-ahead log so nothing is lost across outages and restarts.\n"
"\n"
"flags:\n"
"  --config.file=PATH               configuration file (default: promlet.yml)\n"
"  --storage.agent.path=DIR         write-ahead log directory (default: data-agent/)\n"
"  --storage.agent.max-bytes=SIZE   WAL disk cap; oldest data is dropped beyond it\n"
"                                   (default: 1GiB)\n"
"  --storage.agent.max-age=DUR      drop WAL data older than this (default: 0, off);\n"
"                                   --storage.agent.retention.max-time is the same\n"
"  --storage.remote.flush-deadline=DUR\n"
"                                   how long to flush remote writes at shutdown\n"
"                                   (default: 1m)\n"
"  --scrape.max-body-size=SIZE      body_size_limit of jobs that set none\n"
"                                   (default: 512MiB; 0: unlimited)\n"
"  --scrape.http-client=CLIENT      builtin: promlet's own HTTP/1.1 client for\n"
"                                   plain-HTTP targets and remote-write\n"
"                                   receivers given by IP address, curl for\n"
"                                   the rest; curl: curl for all (default:\n"
"                                   builtin)\n"
"  --web.listen-address=ADDR        address for /metrics and the API\n"
"                                   (default: 0.0.0.0:9099)\n"
"  --web.route-prefix=PATH          serve the endpoints under PATH (default: the\n"
"                                   path of --web.external-url=URL, if given)\n"
"  --web.enable-lifecycle           allow POST /-/reload and /-/quit\n"
"  --log.level=LEVEL                debug, info, warn or error (default: info)\n"
"  --log.format=FORMAT              logfmt or json (default: logfmt)\n"
"  --version                        print the version and exit\n"
"  --help                           print this help and exit\n"
"\n"
"A Prometheus agent's arguments start promlet unchanged: --agent and\n"
"--enable-feature=agent are what promlet always is, Prometheus's other flags\n"
"are accepted (those for what promlet does not do are logged as having no\n"
"effect), and server-only ones exit 3 as in Prometheus; --web.config.file\n"
"and --web.enable-remote-write-receiver are refused. See promlet(1).\n"
"\n"
"signals: SIGHUP reloads the configuration; SIGINT and SIGTERM stop cleanly.\n");
}

/* ------------------------------------------------------------------ */
/* Self-metrics.                                                      */

static void
main_process_metrics(struct daemon *d, struct buf *b)
{
	struct rusage ru;
	long rss_pages = 0, vsz_pages = 0, page = sysconf(_SC_PAGESIZE);
	size_t fds = 0;
	struct rlimit rl;
	FILE *f;
	DIR *dir;
	struct dirent *de;

	getrusage(RUSAGE_SELF, &ru);
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%ld %ld", &vsz_pages, &rss_pages) != 2)
			vsz_pages = rss_pages = 0;
		fclose(f);
	}
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.')
				fds++;
		closedir(dir);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	buf_printf(b,
	    "# HELP process_cpu_seconds_total Total user and system CPU time "
	    "spent in seconds.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.6f\n"
	    "# HELP process_resident_memory_bytes Resident memory size in "
	    "bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %ld\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size in "
	    "bytes.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %ld\n"
	    "# HELP process_open_fds Number of open file descriptors.\n"
	    "# TYPE process_open_fds gauge\n"
	    "process_open_fds %zu\n"
	    "# HELP process_max_fds Maximum number of open file "
	    "descriptors.\n"
	    "# TYPE process_max_fds gauge\n"
	    "process_max_fds %llu\n"
	    "# HELP process_start_time_seconds Start time of the process "
	    "since unix epoch in seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n"
	    "# HELP promlet_build_info A metric with a constant '1' value "
	    "labeled by version.\n"
	    "# TYPE promlet_build_info gauge\n"
	    "promlet_build_info{version=\"%s\"} 1\n",
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    rss_pages * page, vsz_pages * page, fds,
	    (unsigned long long)rl.rlim_cur, (double)d->started_ms / 1000.0,
	    PACKAGE_VERSION);
}

static void
main_metrics_cb(struct buf *b, void *arg)
{
	struct daemon *d = arg;
	struct wal_stats ws;
	struct azuread **aad;
	size_t i, strings = 0, mem, naad = 0;

	main_process_metrics(d, b);
	mem = series_mem_bytes(d->series, &strings);
	buf_printf(b,
	    "# HELP promlet_series Active series in memory.\n"
	    "# TYPE promlet_series gauge\n"
	    "promlet_series %zu\n"
	    "# HELP promlet_series_memory_bytes Memory of the series table "
	    "and of the interned label strings.\n"
	    "# TYPE promlet_series_memory_bytes gauge\n"
	    "promlet_series_memory_bytes{part=\"table\"} %zu\n"
	    "promlet_series_memory_bytes{part=\"strings\"} %zu\n"
	    "# HELP promlet_config_last_reload_successful Whether the last "
	    "configuration reload attempt was successful.\n"
	    "# TYPE promlet_config_last_reload_successful gauge\n"
	    "promlet_config_last_reload_successful %d\n"
	    "# HELP promlet_config_reloads_total Configuration reloads by "
	    "result.\n"
	    "# TYPE promlet_config_reloads_total counter\n"
	    "promlet_config_reloads_total{result=\"success\"} %llu\n"
	    "promlet_config_reloads_total{result=\"failure\"} %llu\n",
	    series_count(d->series), mem, strings, d->last_reload_ok,
	    (unsigned long long)d->reloads_ok,
	    (unsigned long long)d->reloads_failed);
	wal_stats(d->wal, &ws);
	buf_printf(b,
	    "# HELP promlet_wal_size_bytes Bytes of WAL on disk.\n"
	    "# TYPE promlet_wal_size_bytes gauge\n"
	    "promlet_wal_size_bytes %llu\n"
	    "# HELP promlet_wal_segments WAL segment files on disk.\n"
	    "# TYPE promlet_wal_segments gauge\n"
	    "promlet_wal_segments %llu\n"
	    "# HELP promlet_wal_samples_appended_total Samples appended to "
	    "the WAL.\n"
	    "# TYPE promlet_wal_samples_appended_total counter\n"
	    "promlet_wal_samples_appended_total %llu\n"
	    "# HELP promlet_wal_series_appended_total Series records "
	    "appended to the WAL.\n"
	    "# TYPE promlet_wal_series_appended_total counter\n"
	    "promlet_wal_series_appended_total %llu\n"
	    "# HELP promlet_wal_samples_dropped_total Samples lost from the "
	    "WAL, by reason.\n"
	    "# TYPE promlet_wal_samples_dropped_total counter\n"
	    "promlet_wal_samples_dropped_total{reason=\"disk_cap\"} %llu\n"
	    "promlet_wal_samples_dropped_total{reason=\"corruption\"} %llu\n"
	    "promlet_wal_samples_dropped_total{reason=\"write_buffer\"} %llu\n"
	    "# HELP promlet_wal_write_errors_total Failed WAL writes (ENOSPC, "
	    "EIO, ...).\n"
	    "# TYPE promlet_wal_write_errors_total counter\n"
	    "promlet_wal_write_errors_total %llu\n"
	    "# HELP promlet_wal_fsync_duration_seconds WAL fsync time.\n"
	    "# TYPE promlet_wal_fsync_duration_seconds summary\n"
	    "promlet_wal_fsync_duration_seconds_sum %.6f\n"
	    "promlet_wal_fsync_duration_seconds_count %llu\n"
	    "# HELP promlet_wal_checkpoint_duration_seconds Time to build and "
	    "write WAL checkpoints.\n"
	    "# TYPE promlet_wal_checkpoint_duration_seconds summary\n"
	    "promlet_wal_checkpoint_duration_seconds_sum %.6f\n"
	    "promlet_wal_checkpoint_duration_seconds_count %llu\n"
	    "# HELP promlet_wal_checkpoint_series Series in the newest WAL "
	    "checkpoint.\n"
	    "# TYPE promlet_wal_checkpoint_series gauge\n"
	    "promlet_wal_checkpoint_series %llu\n",
	    (unsigned long long)ws.bytes, (unsigned long long)ws.segments,
	    (unsigned long long)ws.samples_appended,
	    (unsigned long long)ws.series_appended,
	    (unsigned long long)ws.samples_dropped_cap,
	    (unsigned long long)ws.samples_lost_corrupt,
	    (unsigned long long)ws.samples_dropped_buffer,
	    (unsigned long long)ws.write_errors, ws.fsync_seconds_total,
	    (unsigned long long)ws.fsyncs, ws.checkpoint_seconds_total,
	    (unsigned long long)ws.checkpoints,
	    (unsigned long long)ws.series_checkpointed);
	scrape_manager_write_metrics(d->scrape, b);
	http_sd_write_metrics(b);
	http_client_write_metrics(d->http, b);
	remote_write_write_metrics_all(d->rw, d->nrw, b);
	/* One HELP/TYPE block for all endpoints' token metrics. */
	aad = xcalloc(d->nrw + 1, sizeof *aad);
	for (i = 0; i < d->nrw; i++)
		if ((aad[naad] = remote_write_azuread(d->rw[i])) != NULL)
			naad++;
	if (naad != 0)
		azuread_write_metrics_all(aad, naad, b);
	free(aad);
}

static void
main_config_cb(struct buf *b, void *arg)
{
	struct daemon *d = arg;

	config_dump(d->cfg, b);
}

static void
main_targets_cb(struct buf *b, void *arg)
{
	struct daemon *d = arg;

	scrape_manager_write_targets(d->scrape, b);
}

static int
main_ready_cb(void *arg)
{
	struct daemon *d = arg;

	return d->ready && !d->stopping;
}

/* ------------------------------------------------------------------ */
/* Remote writers and reload.                                         */

static void
main_commit_cb(void *arg)
{
	struct daemon *d = arg;
	size_t i;

	for (i = 0; i < d->nrw; i++)
		remote_write_notify(d->rw[i]);
	/* Upkeep in this wake-up, once the scrape code has returned. */
	if (d->maint != NULL &&
	    loop_now_ms() - d->maintained_ms >= MAIN_MAINTAIN_MS)
		event_active(d->maint, 0, 1);
}

/* Remote write's metadata: the scrape targets' distinct entries. */
static size_t
main_metadata(void *arg, struct lstr **out, size_t *cap)
{
	struct daemon *d = arg;

	if (d->scrape == NULL)
		return 0;
	return scrape_manager_metadata(d->scrape, out, cap);
}

/*
 * Match endpoints by name: an unchanged one keeps its queue and cursor,
 * a changed or removed one is stopped first (so its reader releases the
 * cursor name), then new ones start.
 */
static int
main_apply_remote_writes(struct daemon *d, const struct config *cfg,
    char **cause)
{
	struct remote_write **next;
	size_t i, k;

	next = xcalloc(cfg->nremote_write + 1, sizeof *next);
	for (i = 0; i < d->nrw; i++) {
		for (k = 0; k < cfg->nremote_write; k++) {
			if (strcmp(remote_write_name(d->rw[i]),
			    cfg->remote_write[k].name) == 0 &&
			    remote_write_hash(d->rw[i]) ==
			    config_remote_write_hash(&cfg->remote_write[k]))
				break;
		}
		if (k < cfg->nremote_write) {
			remote_write_update_config(d->rw[i], cfg,
			    &cfg->remote_write[k]);
			next[k] = d->rw[i];
		} else {
			log_info("remote write stopped", "remote_name=%s",
			    remote_write_name(d->rw[i]));
			remote_write_free(d->rw[i]);
		}
	}
	for (k = 0; k < cfg->nremote_write; k++) {
		if (next[k] != NULL)
			continue;
		next[k] = remote_write_create(d->base, d->http, d->wal, cfg,
		    &cfg->remote_write[k], cause);
		if (next[k] == NULL) {
			for (i = 0; i < k; i++)
				remote_write_free(next[i]);
			free(next);
			free(d->rw);
			d->rw = NULL;
			d->nrw = 0;
			return -1;
		}
		remote_write_set_metadata(next[k], main_metadata, d);
		log_info("remote write started", "remote_name=%s",
		    cfg->remote_write[k].name);
	}
	free(d->rw);
	d->rw = next;
	d->nrw = cfg->nremote_write;
	return 0;
}

static void
main_free_sd(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nfsd; i++)
		file_sd_free(d->fsd[i]);
	for (i = 0; i < d->nksd; i++)
		k8s_sd_free(d->ksd[i]);
	for (i = 0; i < d->nhsd; i++)
		http_sd_free(d->hsd[i]);
	free(d->fsd);
	free(d->ksd);
	free(d->hsd);
	d->fsd = NULL;
	d->ksd = NULL;
	d->hsd = NULL;
	d->nfsd = d->nksd = d->nhsd = 0;
}

/* Discovery objects borrow the config: rebuild them on every apply. */
static void
main_apply_sd(struct daemon *d, const struct config *cfg)
{
	const struct config_scrape *sc;
	size_t i;

	main_free_sd(d);
	d->fsd = xcalloc(cfg->nscrape + 1, sizeof *d->fsd);
	d->ksd = xcalloc(cfg->nscrape + 1, sizeof *d->ksd);
	d->hsd = xcalloc(cfg->nscrape + 1, sizeof *d->hsd);
	for (i = 0; i < cfg->nscrape; i++) {
		sc = &cfg->scrape[i];
		if (sc->nfile_sd != 0)
			d->fsd[d->nfsd++] = file_sd_create(d->base, d->scrape,
			    sc->job_name, sc->file_sd, sc->nfile_sd);
		if (sc->nk8s_sd != 0)
			d->ksd[d->nksd++] = k8s_sd_create(d->base, d->http,
			    d->scrape, sc->job_name, sc->k8s_sd, sc->nk8s_sd);
		if (sc->nhttp_sd != 0)
			d->hsd[d->nhsd++] = http_sd_create(d->base, d->http,
			    d->scrape, sc->job_name, sc->http_sd,
			    sc->nhttp_sd);
	}
}

/*
 * With auto-reload-config, what the files looked like at the last reload,
 * however it was asked for and whether it worked: a file that failed is
 * not tried again until it changes. A loaded config carries the sum of
 * the bytes it was read from, so an edit made while it loaded differs
 * from it and is loaded at the next check, not lost. After a failure,
 * sum is the running config's files' taken before the attempt, for the
 * same reason.
 */
static void
main_config_sum(struct daemon *d, uint64_t sum)
{
	if (d->fl.auto_reload)
		d->config_sum = sum;
}

static int
main_reload(struct daemon *d, char **cause)
{
	struct config *cfg, *old = d->cfg;
	uint64_t sum = d->fl.auto_reload ?
	    config_files_checksum(old, d->fl.config_file) : 0;

	d->last_reload_ms = loop_now_ms();
	if ((cfg = config_load(d->fl.config_file, cause)) == NULL) {
		log_error("reload failed, keeping the running config",
		    "err=%s", *cause);
		d->reloads_failed++;
		d->last_reload_ok = 0;
		main_config_sum(d, sum);
		return -1;
	}
	scrape_manager_apply(d->scrape, cfg);
	main_apply_sd(d, cfg);
	if (main_apply_remote_writes(d, cfg, cause) == -1) {
		/* Scraping goes on into the WAL; nothing is lost. */
		log_error("reload: remote write setup failed", "err=%s",
		    *cause);
		d->reloads_failed++;
		d->last_reload_ok = 0;
		d->cfg = cfg;
		main_config_sum(d, cfg->files_sum);
		config_free(old);
		return -1;
	}
	d->cfg = cfg;
	main_config_sum(d, cfg->files_sum);
	config_free(old);
	d->reloads_ok++;
	d->last_reload_ok = 1;
	log_info("configuration reloaded", "file=%s jobs=%zu remote_writes=%zu",
	    d->fl.config_file, cfg->nscrape, cfg->nremote_write);
	return 0;
}

static int
main_reload_cb(char **cause, void *arg)
{
	return main_reload(arg, cause);
}

/* ------------------------------------------------------------------ */
/* Loop callbacks.                                                    */

static void
main_drop_cb(series_ref ref, void *arg)
{
	struct daemon *d = arg;

	wal_log_drop(d->wal, &ref, 1);
}

/*
 * WAL upkeep (rotation, retention, applying a finished checkpoint) and
 * the series GC run at most once a second: after a commit while scrapes
 * come in, and from a tick every MAIN_QUIET_TICK_S while none do. A tick
 * every second woke an agent with a few targets every 5 s five times a
 * burst, four of them for nothing.
 */
static void
main_maintain(struct daemon *d)
{
	int64_t now = loop_now_ms();

	if (d->stopping || now - d->maintained_ms < MAIN_MAINTAIN_MS)
		return;
	d->maintained_ms = now;
	/* Unheld series are freed once a minute, after their stale marker. */
	if (now - d->gc_ms >= MAIN_GC_MS) {
		d->gc_ms = now;
		series_gc(d->series, main_drop_cb, d);
		wal_commit(d->wal);
	}
	wal_maintain(d->wal, now);
}

static void
main_maint_cb(evutil_socket_t fd, short what, void *arg)
{
	main_maintain(arg);
}

static void
main_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int64_t now = loop_now_ms();
	size_t i, busy = 0;

	if (d->stopping) {
		for (i = 0; i < d->nrw; i++)
			if (!remote_write_flush(d->rw[i]))
				busy++;
		if (busy == 0 || now >= d->stop_deadline) {
			if (busy != 0)
				log_warn("flush deadline reached; unsent data "
				    "stays in the WAL for the next start",
				    "endpoints=%zu", busy);
			event_base_loopbreak(d->base);
		}
		return;
	}
	main_maintain(d);
}

static void
main_stop(struct daemon *d)
{
	struct timeval tv = { 0, 100 * 1000 };
	size_t i;

	if (d->stopping)
		return;
	d->stopping = 1;
	sdnotify_stopping();
	d->stop_deadline = loop_now_ms() + d->fl.flush_deadline_ms;
	log_info("stopping: writing stale markers and flushing remote writes",
	    "deadline=%.1fs", (double)d->fl.flush_deadline_ms / 1000.0);
	scrape_manager_stop(d->scrape);
	for (i = 0; i < d->nrw; i++)
		remote_write_flush(d->rw[i]);
	/* Check progress often while flushing. */
	event_del(d->tick);
	event_free(d->tick);
	d->tick = event_new(d->base, -1, EV_PERSIST, main_tick_cb, d);
	event_add(d->tick, &tv);
}

/* A reload systemd hears of (RELOADING=1, then READY=1); errors are
 * logged by main_reload. */
static void
main_reload_notified(struct daemon *d)
{
	char *cause = NULL;

	sdnotify_reloading();
	if (main_reload(d, &cause) == -1)
		free(cause);
	sdnotify_ready();
}

/* The first stop request starts the flush; later ones are the same. */
static void
main_request_stop(struct daemon *d)
{
	if (!d->stopping) {
		d->stop_requested_ms = loop_now_ms();
		main_stop(d);
	}
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sig == SIGHUP) {
		log_info("SIGHUP received, reloading", "file=%s",
		    d->fl.config_file);
		main_reload_notified(d);
		return;
	}
	/* A signal repeated at once (sent to the whole process group, say)
	 * is the same request; one a while later means "hurry up". */
	if (d->stopping && loop_now_ms() - d->stop_requested_ms > 2000) {
		log_warn("second signal, exiting now", NULL);
		event_base_loopbreak(d->base);
		return;
	}
	main_request_stop(d);
}

/* --enable-feature=auto-reload-config: reload when the files change. */
static void
main_autoreload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->stopping ||
	    config_files_checksum(d->cfg, d->fl.config_file) == d->config_sum)
		return;
	log_info("configuration file change detected, reloading", "file=%s",
	    d->fl.config_file);
	main_reload_notified(d);
}

/* POST /-/quit: the same clean stop as SIGTERM, once the answer is out. */
static void
main_quit_cb(void *arg)
{
	struct daemon *d = arg;

	log_info("shutdown requested over HTTP (/-/quit)", NULL);
	main_request_stop(d);
}

static int
main_run(struct flags *fl)
{
	struct daemon d;
	struct wal_options wo;
	struct web_handlers wh;
	struct timeval tv = { MAIN_QUIET_TICK_S, 0 };
	char *cause = NULL;
	size_t i;
	int rc = 1;

	memset(&d, 0, sizeof d);
	d.fl = *fl;
	d.started_ms = loop_now_ms();
	d.last_reload_ok = 1;
	signal(SIGPIPE, SIG_IGN);

	if ((d.cfg = config_load(fl->config_file, &cause)) == NULL) {
		log_error("cannot load configuration", "err=%s", cause);
		free(cause);
		return 1;
	}
	memset(&wo, 0, sizeof wo);
	wo.max_bytes = fl->wal_max_bytes;
	wo.max_age_ms = fl->wal_max_age_ms;
	if ((d.wal = wal_open(fl->storage_path, &wo, loop_now_ms(),
	    &cause)) == NULL) {
		log_error("cannot open the write-ahead log", "dir=%s err=%s",
		    fl->storage_path, cause);
		free(cause);
		config_free(d.cfg);
		return 1;
	}
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed", NULL);
	d.http = http_client_create(d.base);
	d.series = series_table_create();
	d.scrape = scrape_manager_create(d.base, d.http, d.series, d.wal,
	    main_commit_cb, &d);
	scrape_manager_set_default_body_limit(d.scrape, fl->scrape_max_body);
	scrape_manager_set_extra_metrics(d.scrape, fl->extra_scrape_metrics);

	memset(&wh, 0, sizeof wh);
	wh.metrics = main_metrics_cb;
	wh.config = main_config_cb;
	wh.targets = main_targets_cb;
	wh.ready = main_ready_cb;
	wh.reload = main_reload_cb;
	wh.quit = main_quit_cb;
	wh.arg = &d;
	wh.lifecycle = fl->lifecycle;
	wh.route_prefix = fl->route_prefix;
	if ((d.web = web_create(d.base, fl->listen_address, &wh, &cause)) ==
	    NULL) {
		log_error("cannot start the web server", "err=%s", cause);
		free(cause);
		goto out;
	}
	if (main_apply_remote_writes(&d, d.cfg, &cause) == -1) {
		log_error("cannot start remote write", "err=%s", cause);
		free(cause);
		goto out;
	}
	scrape_manager_apply(d.scrape, d.cfg);
	main_apply_sd(&d, d.cfg);

	d.sig_int = evsignal_new(d.base, SIGINT, main_signal_cb, &d);
	d.sig_term = evsignal_new(d.base, SIGTERM, main_signal_cb, &d);
	d.sig_hup = evsignal_new(d.base, SIGHUP, main_signal_cb, &d);
	event_add(d.sig_int, NULL);
	event_add(d.sig_term, NULL);
	event_add(d.sig_hup, NULL);
	d.tick = event_new(d.base, -1, EV_PERSIST, main_tick_cb, &d);
	event_add(d.tick, &tv);
	d.maint = event_new(d.base, -1, 0, main_maint_cb, &d);
	d.maintained_ms = d.gc_ms = loop_now_ms();

	if (fl->auto_reload) {
		struct timeval rtv = { (time_t)(fl->auto_reload_ms / 1000),
		    (suseconds_t)(fl->auto_reload_ms % 1000) * 1000 };

		d.config_sum = d.cfg->files_sum;
		d.autoreload = event_new(d.base, -1, EV_PERSIST,
		    main_autoreload_cb, &d);
		event_add(d.autoreload, &rtv);
	}

	d.ready = 1;
	sdnotify_ready();
	log_info("promlet started", "version=%s config=%s wal=%s listen=%s "
	    "jobs=%zu targets=%zu remote_writes=%zu", PACKAGE_VERSION,
	    fl->config_file, fl->storage_path, fl->listen_address,
	    d.cfg->nscrape, scrape_manager_target_count(d.scrape), d.nrw);
	event_base_dispatch(d.base);
	rc = 0;
	log_info("stopped", NULL);
out:
	if (d.sig_int != NULL)
		event_free(d.sig_int);
	if (d.sig_term != NULL)
		event_free(d.sig_term);
	if (d.sig_hup != NULL)
		event_free(d.sig_hup);
	if (d.tick != NULL)
		event_free(d.tick);
	if (d.maint != NULL)
		event_free(d.maint);
	if (d.autoreload != NULL)
		event_free(d.autoreload);
	web_free(d.web);
	main_free_sd(&d);
	scrape_manager_free(d.scrape);
	for (i = 0; i < d.nrw; i++)
		remote_write_free(d.rw[i]);
	free(d.rw);
	http_client_free(d.http);
	wal_close(d.wal);
	series_table_free(d.series);
	config_free(d.cfg);
	event_base_free(d.base);
	return rc;
}

int
main(int argc, char **argv)
{
	struct flags fl;
	enum log_level level;
	enum log_format format;
	char *cause = NULL;
	size_t i;
	int rc;

	if (argc >= 3 && strcmp(argv[1], "check") == 0 &&
	    strcmp(argv[2], "config") == 0)
		return cli_check_config(argc - 3, argv + 3);
	if (argc >= 3 && strcmp(argv[1], "debug") == 0 &&
	    strcmp(argv[2], "parse") == 0)
		return cli_debug_parse(argc - 3, argv + 3);
	if (argc >= 3 && strcmp(argv[1], "debug") == 0 &&
	    strcmp(argv[2], "relabel") == 0)
		return cli_debug_relabel(argc - 3, argv + 3);

	switch (flags_parse(argc, argv, &fl, &cause)) {
	case FLAGS_RUN:
		break;
	case FLAGS_HELP:
		main_usage(stdout);
		flags_free(&fl);
		return 0;
	case FLAGS_VERSION:
		printf("promlet, version %s\n", PACKAGE_VERSION);
		flags_free(&fl);
		return 0;
	case FLAGS_SERVER_ONLY:
		/* Prometheus's words and exit status in agent mode. */
		fprintf(stderr, "%s\n", cause);
		free(cause);
		flags_free(&fl);
		return 3;
	case FLAGS_ERROR:
	default:
		fprintf(stderr, "promlet: %s\n", cause);
		free(cause);
		main_usage(stderr);
		flags_free(&fl);
		return 2;
	}
	if (log_parse_level(fl.log_level, &level) == -1) {
		fprintf(stderr, "promlet: --log.level: unknown level \"%s\"\n",
		    fl.log_level);
		flags_free(&fl);
		return 2;
	}
	if (log_parse_format(fl.log_format, &format) == -1) {
		fprintf(stderr, "promlet: --log.format: unknown format \"%s\"\n",
		    fl.log_format);
		flags_free(&fl);
		return 2;
	}
	log_setup(level, format);
	for (i = 0; i < fl.nnotes; i++) {
		if (fl.notes[i].warn)
			log_warn("flag has no effect in promlet",
			    "flag=%s reason=%s", fl.notes[i].what,
			    fl.notes[i].why);
		else
			log_info("flag has no effect in promlet",
			    "flag=%s reason=%s", fl.notes[i].what,
			    fl.notes[i].why);
	}
	http_native_enabled = fl.http_native;
	rc = main_run(&fl);
	flags_free(&fl);
	return rc;
}
