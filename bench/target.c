/*
 * Synthetic scrape targets for bench/run (not a test).
 *
 * One process serves -n targets, each on its own loopback address
 * (127.0.0.0/8 all routes to lo on Linux, so no setup is needed) or, with
 * -P, on consecutive ports of one address. Every target exposes the same
 * -s series: counter, gauge and classic histogram families in the ratio
 * 30:30:26 per 86 series, with HELP and TYPE lines. Values move on every
 * request, so each scrape of each agent sees new samples.
 *
 * The page text is built once (one template shared by all targets); a
 * request only walks the template, copying each series' fixed prefix and
 * printing its integer state, straight into the reply's evbuffer. Values
 * are integers (gauges and histogram sums are printed with a fixed number
 * of decimals), so no floating point formatting is done per sample. That
 * keeps the target at well under a microsecond per served sample; bench/run
 * reports its CPU next to the agents' so it can be checked it is not the
 * bottleneck. Pages are sent uncompressed whatever Accept-Encoding says.
 *
 * usage: bench/target [-lPt] [-a address] [-n targets] [-p port]
 *	      [-s series] [-S seed]
 *	-a	first address (default 127.1.0.1); addresses ending in .0
 *		or .255 are skipped
 *	-l	print the targets, one host:port a line, and exit
 *	-n	number of targets (default 1)
 *	-p	port (default 9300); the first port with -P
 *	-P	one address, consecutive ports
 *	-s	series per target (default 1000)
 *	-S	random seed (default 1)
 *	-t	log the wall-clock time of each target's first request on
 *		stderr, to time an agent's start to its first scrape
 * SIGINT or SIGTERM prints totals (requests, bytes, CPU) and exits.
 */

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "xmalloc.h"

/* How a slot's integer state is printed and how it moves per scrape. */
enum target_kind {
	TARGET_COUNTER,		/* integer, += 1..100 */
	TARGET_GAUGE,		/* hundredths, random in [0, 1000) */
	TARGET_BUCKET,		/* integer, cumulative bucket count */
	TARGET_HSUM,		/* thousandths, sum of observations */
	TARGET_HCOUNT		/* integer, observation count */
};

/* Upper bounds in thousandths of a second; the last bucket is +Inf. */
static const uint32_t target_bounds[] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};
static const char *target_bounds_text[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "+Inf"
};
#define TARGET_NBUCKETS	 11
#define TARGET_HSERIES	 (TARGET_NBUCKETS + 2)

/*
 * One value slot of the template: the text before the value (HELP and
 * TYPE lines for the first series of a family, then "name{labels} ").
 * Histogram slots come in runs of TARGET_HSERIES: buckets, _sum, _count.
 */
struct target_slot {
	uint32_t		 off;
	uint32_t		 len;
	enum target_kind	 kind;
};

struct target_template {
	struct buf		 text;
	struct target_slot	*slots;
	size_t			 nslots;
	size_t			 maxlen;	/* bound on a rendered page */
};

struct target {
	struct target_template	*tpl;
	struct evhttp		*http;
	uint64_t		*values;	/* one per slot */
	uint64_t		 rng;
	uint64_t		 requests;
	int			 seen;
	unsigned int		 index;
	char			 name[64];
};

struct target_totals {
	uint64_t		 requests;
	uint64_t		 bytes;
};

static struct target_totals	target_totals;
static int			target_log_first;

static void
target_usage(void)
{
	fprintf(stderr, "usage: target [-lPt] [-a address] [-n targets] "
	    "[-p port] [-s series] [-S seed]\n");
	exit(2);
}

static uint64_t
target_rand(uint64_t *s)
{
	uint64_t x = *s;

	/* xorshift64*: plenty for moving benchmark values. */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static void
target_tpl_slot(struct target_template *tpl, size_t *cap, size_t start,
    enum target_kind kind)
{
	struct target_slot *sl;

	if (tpl->nslots == *cap) {
		*cap = *cap == 0 ? 1024 : *cap * 2;
		tpl->slots = xreallocarray(tpl->slots, *cap,
		    sizeof *tpl->slots);
	}
	sl = &tpl->slots[tpl->nslots++];
	sl->off = (uint32_t)start;
	sl->len = (uint32_t)(tpl->text.len - start);
	sl->kind = kind;
}

static const char *target_methods[] = { "GET", "POST", "PUT", "DELETE" };
static const char *target_codes[] = { "200", "201", "404", "500", "503" };

static void
target_tpl_family(struct target_template *tpl, size_t *cap, size_t family,
    size_t want)
{
	struct buf *t = &tpl->text;
	size_t i, b, start;
	size_t type = family % 7;	/* 0-2 counter, 3-5 gauge, 6 histogram */

	if (type == 6 && want < TARGET_HSERIES)
		type = 3;	/* no half histograms: top up with gauges */
	start = t->len;
	if (type < 3) {
		buf_printf(t, "# HELP bench_requests_%zu_total Requests "
		    "handled by route group %zu.\n"
		    "# TYPE bench_requests_%zu_total counter\n",
		    family, family, family);
		for (i = 0; i < 10 && i < want; i++) {
			buf_printf(t, "bench_requests_%zu_total{method=\"%s\","
			    "code=\"%s\",route=\"/api/v1/resource/%zu\"} ",
			    family, target_methods[i % 4],
			    target_codes[i % 5], i);
			target_tpl_slot(tpl, cap, start, TARGET_COUNTER);
			start = t->len;
		}
	} else if (type < 6) {
		buf_printf(t, "# HELP bench_queue_depth_%zu Items waiting "
		    "in queue group %zu.\n"
		    "# TYPE bench_queue_depth_%zu gauge\n",
		    family, family, family);
		for (i = 0; i < 10 && i < want; i++) {
			buf_printf(t, "bench_queue_depth_%zu{queue=\"worker-%zu\","
			    "zone=\"zone-%zu\"} ", family, i, i % 3);
			target_tpl_slot(tpl, cap, start, TARGET_GAUGE);
			start = t->len;
		}
	} else {
		buf_printf(t, "# HELP bench_latency_%zu_seconds Request "
		    "latency of handler group %zu.\n"
		    "# TYPE bench_latency_%zu_seconds histogram\n",
		    family, family, family);
		for (i = 0; i < 2 && want >= (i + 1) * TARGET_HSERIES; i++) {
			for (b = 0; b < TARGET_NBUCKETS; b++) {
				buf_printf(t, "bench_latency_%zu_seconds_bucket"
				    "{handler=\"/handler/%zu\",le=\"%s\"} ",
				    family, i, target_bounds_text[b]);
				target_tpl_slot(tpl, cap, start,
				    TARGET_BUCKET);
				start = t->len;
			}
			buf_printf(t, "bench_latency_%zu_seconds_sum"
			    "{handler=\"/handler/%zu\"} ", family, i);
			target_tpl_slot(tpl, cap, start, TARGET_HSUM);
			start = t->len;
			buf_printf(t, "bench_latency_%zu_seconds_count"
			    "{handler=\"/handler/%zu\"} ", family, i);
			target_tpl_slot(tpl, cap, start, TARGET_HCOUNT);
			start = t->len;
		}
	}
}

static struct target_template *
target_tpl_create(size_t series)
{
	struct target_template *tpl;
	size_t cap = 0, family = 0;

	tpl = xcalloc(1, sizeof *tpl);
	buf_init(&tpl->text);
	while (tpl->nslots < series)
		target_tpl_family(tpl, &cap, family++, series - tpl->nslots);
	/* 20 digits, a decimal point and a newline per value at most. */
	tpl->maxlen = tpl->text.len + tpl->nslots * 22;
	return tpl;
}

static void
target_tpl_free(struct target_template *tpl)
{
	if (tpl == NULL)
		return;
	buf_free(&tpl->text);
	free(tpl->slots);
	free(tpl);
}

/* Move every value, as one scrape interval of a busy service would. */
static void
target_advance(struct target *t)
{
	struct target_template *tpl = t->tpl;
	uint64_t *v = t->values, r, obs;
	size_t i, b, n, first;

	for (i = 0; i < tpl->nslots; i++) {
		switch (tpl->slots[i].kind) {
		case TARGET_COUNTER:
			v[i] += 1 + target_rand(&t->rng) % 100;
			break;
		case TARGET_GAUGE:
			v[i] = target_rand(&t->rng) % 100000;
			break;
		case TARGET_BUCKET:
			/* A histogram run starts at its first bucket. */
			first = i;
			n = target_rand(&t->rng) % 8;
			while (n-- > 0) {
				r = target_rand(&t->rng);
				b = (size_t)__builtin_ctzll(r | (1ULL << 10));
				obs = b < TARGET_NBUCKETS - 1 ?
				    target_bounds[b] - (r >> 40) %
				    (target_bounds[b] / 2 + 1) : 7000;
				for (; b < TARGET_NBUCKETS; b++)
					v[first + b]++;
				v[first + TARGET_NBUCKETS] += obs;
				v[first + TARGET_NBUCKETS + 1]++;
			}
			i = first + TARGET_HSERIES - 1;
			break;
		case TARGET_HSUM:
		case TARGET_HCOUNT:
			break;
		}
	}
}

/* Print v, with the last decimals digits after a point; returns length. */
static size_t
target_format(char *out, uint64_t v, int decimals)
{
	char tmp[24];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || (int)n <= decimals);
	while (n > 0) {
		if ((int)n == decimals)
			out[len++] = '.';
		out[len++] = tmp[--n];
	}
	return len;
}

static size_t
target_render(struct target *t, char *out)
{
	struct target_template *tpl = t->tpl;
	const struct target_slot *sl;
	char *p = out;
	size_t i;
	int dec;

	for (i = 0; i < tpl->nslots; i++) {
		sl = &tpl->slots[i];
		memcpy(p, tpl->text.data + sl->off, sl->len);
		p += sl->len;
		dec = sl->kind == TARGET_GAUGE ? 2 :
		    sl->kind == TARGET_HSUM ? 3 : 0;
		p += target_format(p, t->values[i], dec);
		*p++ = '\n';
	}
	return (size_t)(p - out);
}

static void
target_request_cb(struct evhttp_request *req, void *arg)
{
	struct target *t = arg;
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct iovec iov;
	struct timeval tv;

	if (target_log_first && !t->seen) {
		gettimeofday(&tv, NULL);
		fprintf(stderr, "first_request target=%s time=%lld.%06ld\n",
		    t->name, (long long)tv.tv_sec, (long)tv.tv_usec);
		fflush(stderr);
	}
	t->seen = 1;
	t->requests++;
	target_advance(t);
	if (evbuffer_reserve_space(out, (ev_ssize_t)t->tpl->maxlen, &iov,
	    1) != 1) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	iov.iov_len = target_render(t, iov.iov_base);
	evbuffer_commit_space(out, &iov, 1);
	target_totals.requests++;
	target_totals.bytes += iov.iov_len;
	evhttp_add_header(hdr, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
target_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct event_base *base = arg;

	(void)sig;
	(void)events;
	event_base_loopbreak(base);
}

/* The i-th address after first, skipping .0 and .255. */
static uint32_t
target_address(uint32_t first, unsigned int i)
{
	uint32_t a = first;

	for (;;) {
		if ((a & 0xff) != 0 && (a & 0xff) != 0xff) {
			if (i == 0)
				return a;
			i--;
		}
		a++;
	}
}

static void
target_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event *sigint, *sigterm;
	struct target_template *tpl;
	struct target *targets;
	struct in_addr ia;
	struct rusage ru;
	const char *first = "127.1.0.1";
	char host[INET_ADDRSTRLEN];
	unsigned long n = 1, series = 1000, port = 9300, seed = 1;
	uint32_t a0;
	unsigned int i, p;
	int ch, list = 0, ports = 0;

	while ((ch = getopt(argc, argv, "a:ln:p:Ps:S:t")) != -1) {
		switch (ch) {
		case 'a':
			first = optarg;
			break;
		case 'l':
			list = 1;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 'P':
			ports = 1;
			break;
		case 's':
			series = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 't':
			target_log_first = 1;
			break;
		default:
			target_usage();
		}
	}
	if (optind != argc || n == 0 || n > 100000 || series == 0 ||
	    series > 10000000 || port == 0 || port > 65535 ||
	    (ports && port + n > 65536))
		target_usage();
	if (inet_pton(AF_INET, first, &ia) != 1) {
		fprintf(stderr, "target: bad address %s\n", first);
		return 2;
	}
	a0 = ntohl(ia.s_addr);

	targets = xcalloc(n, sizeof *targets);
	for (i = 0; i < n; i++) {
		ia.s_addr = htonl(ports ? a0 : target_address(a0, i));
		inet_ntop(AF_INET, &ia, host, sizeof host);
		p = ports ? (unsigned int)port + i : (unsigned int)port;
		snprintf(targets[i].name, sizeof targets[i].name, "%s:%u",
		    host, p);
		if (list)
			printf("%s\n", targets[i].name);
	}
	if (list) {
		free(targets);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	target_raise_nofile();
	base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "target: event_base_new failed\n");
		return 1;
	}
	tpl = target_tpl_create(series);
	for (i = 0; i < n; i++) {
		struct target *t = &targets[i];

		t->tpl = tpl;
		t->index = i;
		t->rng = (seed + 1) * 0x9e3779b97f4a7c15ULL + i * 7919 + 1;
		t->values = xcalloc(tpl->nslots, sizeof *t->values);
		target_advance(t);
		t->http = evhttp_new(base);
		if (t->http == NULL) {
			fprintf(stderr, "target: evhttp_new failed\n");
			return 1;
		}
		evhttp_set_gencb(t->http, target_request_cb, t);
		ia.s_addr = htonl(ports ? a0 : target_address(a0, i));
		inet_ntop(AF_INET, &ia, host, sizeof host);
		p = ports ? (unsigned int)port + i : (unsigned int)port;
		if (evhttp_bind_socket(t->http, host, (ev_uint16_t)p) != 0) {
			fprintf(stderr, "target: cannot listen on %s: %s\n",
			    t->name, strerror(errno));
			return 1;
		}
	}
	sigint = evsignal_new(base, SIGINT, target_signal_cb, base);
	sigterm = evsignal_new(base, SIGTERM, target_signal_cb, base);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	fprintf(stderr, "target: serving %lu targets x %zu series "
	    "(%zu bytes of template)\n", n, tpl->nslots, tpl->text.len);
	fflush(stderr);

	event_base_dispatch(base);

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "target: requests=%" PRIu64 " bytes=%" PRIu64
	    " cpu_seconds=%.3f max_rss_kib=%ld\n", target_totals.requests,
	    target_totals.bytes,
	    ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	    ru.ru_maxrss);
	for (i = 0; i < n; i++) {
		evhttp_free(targets[i].http);
		free(targets[i].values);
	}
	event_free(sigint);
	event_free(sigterm);
	event_base_free(base);
	target_tpl_free(tpl);
	free(targets);
	return 0;
}
