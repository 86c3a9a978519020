/*
 * WAL benchmark: bytes per sample on a synthetic scrape load, write speed,
 * recovery (open) and replay (a reader reading every record) of a large
 * WAL, and memory after replay.
 *
 *	bench/wal [-s series] [-n scrapes] [-t targets] [-r replay_mib]
 *	    [-d dir] [-k] [-R]
 *
 * -k keeps the directory; -R -d dir only replays a directory kept before.
 * The load: `targets` targets of series/targets series each, scraped every
 * 15 s, one wal_log_samples() + wal_commit() per target scrape. Series
 * behave like node_exporter / application metrics (see bench_kind):
 *
 *	30% constant (info metrics, limits, idle counters)
 *	10% counters that rarely move (errors: +1 with 2% chance)
 *	15% integer counters, small steps (requests: +0..40)
 *	10% integer counters, large steps (bytes: +0..200000)
 *	10% CPU-seconds counters in 1/100 s (+0.00..15.00)
 *	 8% integer gauges (memory bytes: random walk in 4 KiB pages)
 *	 7% histogram buckets (+0..20, cumulative)
 *	10% noisy float gauges (full-precision doubles)
 *
 * The replay phase keeps appending the same load until the WAL holds
 * replay_mib MiB, reopens it and reads everything back.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "wal.h"
#include "xmalloc.h"

#define BENCH_KINDS	8

static const char *bench_kind_names[BENCH_KINDS] = {
	"constant", "rare counter", "small counter", "bytes counter",
	"cpu seconds", "int gauge", "histogram bucket", "noisy float"
};
static const unsigned bench_kind_pct[BENCH_KINDS] = {
	30, 10, 15, 10, 10, 8, 7, 10
};

struct bench_series {
	double		v;
	uint8_t		kind;
};

static uint64_t bench_rng = 88172645463325252ull;

static uint64_t
bench_rand(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

static double
bench_unit(void)
{
	return (double)(bench_rand() >> 11) / 9007199254740992.0;
}

static double
bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
bench_kind(unsigned i)
{
	unsigned p = (unsigned)(((uint64_t)i * 2654435761u) % 100), k, acc = 0;

	for (k = 0; k < BENCH_KINDS; k++) {
		acc += bench_kind_pct[k];
		if (p < acc)
			return k;
	}
	return 0;
}

static void
bench_init(struct bench_series *s, unsigned kind)
{
	s->kind = (uint8_t)kind;
	switch (kind) {
	case 0:
		s->v = (double)(bench_rand() % 4 == 0 ? 1 : bench_rand() %
		    100000);
		break;
	case 4:
		s->v = (double)(bench_rand() % 10000000) / 100;
		break;
	case 5:
		s->v = (double)(bench_rand() % 2000000) * 4096;
		break;
	case 7:
		s->v = 20 + bench_unit() * 60;
		break;
	default:
		s->v = (double)(bench_rand() % 1000000);
	}
}

static double
bench_step(struct bench_series *s)
{
	switch (s->kind) {
	case 1:
		if (bench_rand() % 50 == 0)
			s->v += 1;
		break;
	case 2:
		s->v += (double)(bench_rand() % 41);
		break;
	case 3:
		s->v += (double)(bench_rand() % 200001);
		break;
	case 4:
		/* Integer hundredths, as /proc/stat gives them. */
		s->v = (double)((int64_t)llround(s->v * 100) +
		    (int64_t)(bench_rand() % 1501)) / 100;
		break;
	case 5:
		s->v += (double)((int64_t)(bench_rand() % 201) - 100) * 4096;
		break;
	case 6:
		s->v += (double)(bench_rand() % 21);
		break;
	case 7:
		s->v = 20 + bench_unit() * 60;
		break;
	}
	return s->v;
}

static const char *bench_metric_words[] = {
	"node_cpu", "node_memory", "node_network", "node_disk", "http",
	"process", "go_gc", "app_queue", "grpc_server", "db_pool"
};
static const char *bench_metric_tails[] = {
	"seconds_total", "bytes", "bytes_total", "requests_total",
	"errors_total",
	"info", "duration_seconds_bucket", "count", "ratio", "celsius"
};
static const char *bench_label_names[] = { "cpu", "le", "device", "code" };
static const char *bench_label_values[4][8] = {
	{ "0", "1", "2", "3", "4", "5", "6", "7" },
	{ "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf" },
	{ "sda", "sdb", "nvme0n1", "eth0", "eth1", "lo", "dm-0", "dm-1" },
	{ "200", "201", "204", "301", "400", "404", "500", "503" },
};

/*
 * Like a real target: about 125 metric names per 1000 series, each with a
 * handful of label variations; names repeat across targets.
 */
static void
bench_labels(unsigned i, unsigned per_target, struct labels *ls,
    struct buf *store)
{
	unsigned target = i / per_target, j = i % per_target, m = j / 8;
	size_t o[3];

	buf_reset(store);
	buf_reserve(store, 256);
	o[0] = store->len;
	buf_printf(store, "%s_%u_%s", bench_metric_words[m % 10], m / 100,
	    bench_metric_tails[(m / 10) % 10]);
	o[1] = store->len;
	buf_printf(store, "10.%u.%u.%u:9100", target / 65536,
	    (target / 256) % 256, target % 256);
	o[2] = store->len;
	labels_reset(ls);
	labels_push(ls, LSTR("__name__"), (struct lstr){ store->data + o[0],
	    o[1] - o[0] });
	labels_push(ls, LSTR("instance"), (struct lstr){ store->data + o[1],
	    o[2] - o[1] });
	labels_push(ls, LSTR("job"), LSTR("node"));
	labels_push(ls, (struct lstr){ bench_label_names[m % 4],
	    strlen(bench_label_names[m % 4]) },
	    (struct lstr){ bench_label_values[m % 4][j % 8],
	    strlen(bench_label_values[m % 4][j % 8]) });
	labels_sort(ls);
}

static uint64_t
bench_du(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	uint64_t total = 0;
	char *p;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&p, "%s/%s", dir, de->d_name);
		if (stat(p, &sb) == 0)
			total += (uint64_t)sb.st_size;
		free(p);
	}
	if (d != NULL)
		closedir(d);
	return total;
}

static void
bench_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *p;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&p, "%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static size_t
bench_heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long
bench_maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* One scrape of every target; returns samples written. */
static uint64_t
bench_scrape(struct wal *w, struct bench_series *ser, unsigned nseries,
    unsigned per_target, unsigned k, struct wal_sample *buf)
{
	unsigned t, j, i;
	int64_t base = 1700000000000 + (int64_t)k * 15000;

	for (t = 0; t * per_target < nseries; t++) {
		for (j = 0; j < per_target && t * per_target + j < nseries;
		    j++) {
			i = t * per_target + j;
			buf[j].ref = i + 1;
			/* Targets are scraped at staggered offsets. */
			buf[j].t_ms = base + (int64_t)(t * 97 % 15000);
			buf[j].v = k == 0 ? ser[i].v : bench_step(&ser[i]);
		}
		if (wal_log_samples(w, buf, j) != 0 || wal_commit(w) != 0) {
			fprintf(stderr, "bench: write failed\n");
			exit(1);
		}
	}
	return nseries;
}

static void
bench_kind_sizes(unsigned scrapes)
{
	struct bench_series s[1000];
	struct wal_sample buf[1000];
	struct wal_options o = { .sync_interval_ms = 60000 };
	struct wal_stats st;
	struct wal *w;
	char dir[] = "/tmp/bench_wal_kind.XXXXXX", *cause = NULL;
	unsigned kind, i, k;
	uint64_t before;

	printf("\nper value kind (1000 series x %u scrapes, samples records "
	    "only):\n", scrapes);
	for (kind = 0; kind < BENCH_KINDS; kind++) {
		if (mkdtemp(dir) == NULL)
			exit(1);
		if ((w = wal_open(dir, &o, loop_now_ms(), &cause)) == NULL) {
			fprintf(stderr, "bench: %s\n", cause);
			exit(1);
		}
		for (i = 0; i < 1000; i++)
			bench_init(&s[i], kind);
		for (k = 0; k < scrapes; k++) {
			for (i = 0; i < 1000; i++) {
				buf[i].ref = i + 1;
				buf[i].t_ms = 1700000000000 + (int64_t)k *
				    15000;
				buf[i].v = k == 0 ? s[i].v : bench_step(&s[i]);
			}
			if (k == 1) {
				wal_stats(w, &st);
				before = st.bytes;
			}
			wal_log_samples(w, buf, 1000);
			wal_commit(w);
		}
		wal_stats(w, &st);
		printf("  %-17s %6.3f bytes/sample (%u%% of the load)\n",
		    bench_kind_names[kind], (double)(st.bytes - before) /
		    (1000.0 * (scrapes - 1)), bench_kind_pct[kind]);
		wal_close(w);
		bench_rmdir(dir);
		strcpy(dir, "/tmp/bench_wal_kind.XXXXXX");
	}
}

int
main(int argc, char **argv)
{
	struct wal_options o = { .sync_interval_ms = 1000 };
	struct wal *w;
	struct wal_reader *r;
	struct wal_record rec;
	struct wal_stats st;
	struct bench_series *ser;
	struct wal_sample *buf;
	struct labels ls = LABELS_INIT;
	struct buf store = BUF_INIT;
	unsigned nseries = 100000, scrapes = 100, targets = 100, i, k;
	unsigned per_target;
	uint64_t replay_mib = 1024, samples = 0, got = 0, series = 0;
	uint64_t bytes, recs = 0;
	char tmpl[] = "/tmp/bench_wal.XXXXXX", *dir = NULL, *cause = NULL;
	double t0, c0, t_write, t_open, t_read, c_open, c_read;
	size_t heap0, heap_fresh, heap_replay;
	int c, keep = 0, rc, replay_only = 0;

	while ((c = getopt(argc, argv, "s:n:t:r:d:kR")) != -1) {
		switch (c) {
		case 's':
			nseries = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			scrapes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			targets = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			replay_mib = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'R':
			replay_only = keep = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-s series] [-n scrapes] "
			    "[-t targets] [-r replay_mib] [-d dir] [-k] [-R]\n",
			    argv[0]);
			return 2;
		}
	}
	log_setup(LOG_WARN, LOG_FORMAT_LOGFMT);
	if (nseries == 0 || scrapes == 0 || targets == 0)
		return 2;
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	per_target = (nseries + targets - 1) / targets;
	o.max_bytes = (replay_mib + 256) << 20;
	ser = xcalloc(nseries, sizeof *ser);
	buf = xcalloc(per_target, sizeof *buf);
	for (i = 0; i < nseries; i++)
		bench_init(&ser[i], bench_kind(i));
	heap0 = bench_heap();
	if (replay_only) {
		heap_fresh = 0;
		samples = 0;
		goto replay;
	}

	if ((w = wal_open(dir, &o, loop_now_ms(), &cause)) == NULL) {
		fprintf(stderr, "bench: %s\n", cause);
		return 1;
	}
	/* Opened first, never acks: it will replay the whole log. */
	r = wal_reader_open(w, "bench", &cause);

	t0 = bench_now();
	for (i = 0; i < nseries; i++) {
		bench_labels(i, per_target, &ls, &store);
		wal_log_series(w, i + 1, &ls);
		if (i % per_target == per_target - 1)
			wal_commit(w);
	}
	wal_commit(w);
	wal_stats(w, &st);
	series = st.bytes;
	for (k = 0; k < scrapes; k++)
		samples += bench_scrape(w, ser, nseries, per_target, k, buf);
	t_write = bench_now() - t0;
	wal_stats(w, &st);
	bytes = st.bytes;
	printf("load: %u series (%u targets), %u scrapes, %" PRIu64
	    " samples\n", nseries, targets, scrapes, samples);
	printf("wal: %" PRIu64 " bytes, %.3f bytes/sample (series records "
	    "included), %" PRIu64 " segments\n", bytes, (double)bytes /
	    (double)samples, st.segments);
	printf("  series records %" PRIu64 " bytes (%.1f per series), "
	    "samples records %.3f bytes/sample\n", series, (double)series /
	    nseries, (double)(bytes - series) / (double)samples);
	series = 0;
	printf("write: %.2f s, %.1f M samples/s (log + encode + write(2))\n",
	    t_write, (double)samples / t_write / 1e6);
	heap_fresh = bench_heap() - heap0;
	printf("memory: WAL heap with %u live series: %.1f MiB\n", nseries,
	    (double)heap_fresh / 1048576);

	bench_kind_sizes(scrapes < 20 ? scrapes : 20);

	if (replay_mib == 0)
		goto out;
	printf("\nreplay: growing the WAL to %" PRIu64 " MiB...\n",
	    replay_mib);
	t0 = bench_now();
	for (k = scrapes; st.bytes < (replay_mib << 20); k++) {
		samples += bench_scrape(w, ser, nseries, per_target, k, buf);
		if (k % 64 == 0)
			wal_stats(w, &st);
	}
	wal_stats(w, &st);
	t_write = bench_now() - t0;
	printf("  wrote %" PRIu64 " samples total in %.1f s (%.1f M/s), "
	    "%.3f bytes/sample\n", samples, t_write,
	    (double)(samples - (uint64_t)nseries * scrapes) / t_write / 1e6,
	    (double)st.bytes / (double)samples);
	wal_reader_close(r);
	wal_close(w);
	free(ser);
	free(buf);
	ser = NULL;
	buf = NULL;
replay:
	bytes = bench_du(dir);

	heap0 = bench_heap();
	t0 = bench_now();
	c0 = bench_cpu();
	if ((w = wal_open(dir, &o, loop_now_ms(), &cause)) == NULL) {
		fprintf(stderr, "bench: %s\n", cause);
		return 1;
	}
	t_open = bench_now() - t0;
	c_open = bench_cpu() - c0;
	r = wal_reader_open(w, "bench", &cause);
	t0 = bench_now();
	c0 = bench_cpu();
	while ((rc = wal_reader_next(r, &rec, 10000)) == 1) {
		/*
		 * An endpoint acks every so many batches; a kept directory
		 * keeps its cursor at the start, so -R can replay it again.
		 */
		if (++recs % 1000 == 0 && !keep)
			wal_reader_ack(r, &rec.next);
		if (rec.type == WAL_RECORD_SAMPLES)
			got += rec.nsamples;
		else if (rec.type == WAL_RECORD_SERIES)
			series++;
	}
	t_read = bench_now() - t0;
	c_read = bench_cpu() - c0;
	heap_replay = bench_heap() - heap0;
	printf("  %" PRIu64 " MiB on disk: open (scan + crc of every record) "
	    "%.2f s (cpu %.2f s), %.0f MiB/s\n", bytes >> 20, t_open, c_open,
	    (double)bytes / 1048576 / t_open);
	printf("  reader replay: %" PRIu64 " samples, %" PRIu64 " series in "
	    "%.2f s (cpu %.2f s): %.0f MiB/s, %.1f M samples/s%s\n", got,
	    series, t_read, c_read, (double)bytes / 1048576 / t_read,
	    (double)got / t_read / 1e6,
	    rc == 0 && (got == samples || replay_only) ? "" : " (MISMATCH)");
	printf("  total start-up + full replay: %.2f s for %.2f GiB\n",
	    t_open + t_read, (double)bytes / 1073741824);
	printf("  memory after replay: WAL heap %.1f MiB (fresh start with "
	    "the same series: %.1f MiB); max RSS %.0f MiB\n",
	    (double)heap_replay / 1048576, (double)heap_fresh / 1048576,
	    (double)bench_maxrss_kib() / 1024);
out:
	wal_reader_close(r);
	wal_close(w);
	free(ser);
	free(buf);
	labels_free(&ls);
	buf_free(&store);
	if (!keep)
		bench_rmdir(dir);
	return got == samples || replay_mib == 0 || replay_only ? 0 : 1;
}
