/*
 * Bump allocator. Reset keeps the largest block so a steady workload stops
 * allocating after its first round.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xmalloc.h"

struct arena_block {
	struct arena_block	*next;
	size_t			 size;
	size_t			 off;
	char			 data[];
};

#define ARENA_BLOCK_MIN	4096

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t size;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->size - b->off < n) {
		size = ARENA_BLOCK_MIN;
		if (b != NULL && b->size * 2 > size)
			size = b->size * 2;
		while (size < n)
			size *= 2;
		b = xmalloc(sizeof *b + size);
		b->size = size;
		b->off = 0;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->off;
	b->off += n;
	a->used += n;
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	p = arena_alloc(a, n + 1);
	if (n != 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next, *keep = a->head;

	if (keep == NULL)
		return;
	/* The newest block is the largest; free the rest. */
	for (b = keep->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	keep->next = NULL;
	keep->off = 0;
	a->used = 0;
}

void
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->used = 0;
}
