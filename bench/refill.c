/*
 * What it costs to fill a page-sized buffer after the process slept
 * (not a test). It answers one question: should a buffer sized by a big
 * page (a kube-state-metrics page, its samples) be given back to the
 * system after each scrape, and taken again at the next one? Each round
 * sleeps -g milliseconds, then writes -s bytes and reads them back, in
 * three ways, and the thread's CPU time for each is noted:
 *
 *	kept	one buffer from malloc, kept from round to round
 *	fresh	a new mapping each round (4 KiB pages), unmapped after
 *	huge	a new 2 MiB-aligned mapping asked for huge pages
 *
 * The ways take turns within a round, so the host treats them alike.
 * It prints the median, lowest and highest of -r rounds (the first
 * round is not counted).
 *
 * Where the kernel hands free memory back to a hypervisor (free page
 * reporting), fresh memory after a long sleep costs a fault in the host
 * as well as in the guest; the -g values on either side of that delay
 * show it.
 *
 * usage: bench/refill [-s bytes] [-g ms] [-r rounds]
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xmalloc.h"

#define REFILL_HUGE	((size_t)2 << 20)

enum { REFILL_KEPT, REFILL_FRESH, REFILL_HUGEPAGE, REFILL_WAYS };

static const char *refill_names[REFILL_WAYS] = {"kept", "fresh", "huge"};

static double
refill_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
refill_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Copy 64 KiB at a time, as receiving a page does, then read it all. */
static unsigned
refill_touch(char *p, size_t len, const char *src, size_t srclen)
{
	volatile const char *q = p;
	unsigned sum = 0;
	size_t off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < srclen ? len - off : srclen;
		memcpy(p + off, src, n);
	}
	for (off = 0; off < len; off += 64)
		sum += (unsigned char)q[off];
	return sum;
}

/* A mapping of len bytes (a multiple of REFILL_HUGE) at a 2 MiB boundary. */
static char *
refill_map(size_t len, int huge)
{
	char *p, *a;
	size_t head;

	p = mmap(NULL, len + REFILL_HUGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	a = (char *)(((uintptr_t)p + REFILL_HUGE - 1) & ~(REFILL_HUGE - 1));
	head = (size_t)(a - p);
	if (head != 0)
		munmap(p, head);
	munmap(a + len, REFILL_HUGE - head);
	(void)madvise(a, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return a;
}

int
main(int argc, char **argv)
{
	static char src[64 << 10];
	size_t size = 7700000, maplen;
	int gap = 10000, rounds = 5, c, r, w;
	double *t[REFILL_WAYS], t0;
	struct timespec nap;
	unsigned sink = 0;
	char *kept, *p;

	while ((c = getopt(argc, argv, "g:r:s:")) != -1) {
		switch (c) {
		case 'g':
			gap = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 's':
			size = (size_t)strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench/refill [-s bytes] "
			    "[-g ms] [-r rounds]\n");
			return 2;
		}
	}
	if (size == 0 || gap < 0 || rounds < 1)
		return 2;
	memset(src, 'x', sizeof src);
	maplen = (size + REFILL_HUGE - 1) & ~(REFILL_HUGE - 1);
	for (w = 0; w < REFILL_WAYS; w++)
		t[w] = xcalloc((size_t)rounds, sizeof *t[w]);
	kept = xmalloc(size);
	nap.tv_sec = gap / 1000;
	nap.tv_nsec = (long)(gap % 1000) * 1000000L;

	/* Round 0 warms the kept buffer and is not counted. */
	for (r = 0; r <= rounds; r++) {
		for (w = 0; w < REFILL_WAYS; w++) {
			nanosleep(&nap, NULL);
			t0 = refill_now();
			p = w == REFILL_KEPT ? kept :
			    refill_map(maplen, w == REFILL_HUGEPAGE);
			sink += refill_touch(p, size, src, sizeof src);
			if (w != REFILL_KEPT)
				munmap(p, maplen);
			if (r > 0)
				t[w][r - 1] = refill_now() - t0;
		}
	}
	printf("%zu bytes after %d ms asleep, %d rounds, thread CPU µs "
	    "(check %u)\n", size, gap, rounds, sink & 1);
	printf("way\tmedian\tlowest\thighest\n");
	for (w = 0; w < REFILL_WAYS; w++) {
		qsort(t[w], (size_t)rounds, sizeof *t[w], refill_cmp);
		printf("%s\t%.0f\t%.0f\t%.0f\n", refill_names[w],
		    t[w][rounds / 2], t[w][0], t[w][rounds - 1]);
		free(t[w]);
	}
	free(kept);
	return 0;
}
