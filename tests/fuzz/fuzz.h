/* Shared by the libFuzzer targets and their replays (replay.c). */
#ifndef PROMLET_FUZZ_H
#define PROMLET_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* Says which invariant broke, then crashes for libFuzzer. */
#define FUZZ_CHECK(x)	do {						\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

#endif
