/*
 * A bump allocator for short-lived strings (relabel results, decoded
 * label values). Pointers stay valid until arena_reset()/arena_free():
 * the arena grows by chaining blocks, never by moving them.
 */
#ifndef PROMLET_ARENA_H
#define PROMLET_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block	*head;
	size_t			 used;	/* bytes handed out since reset */
};

#define ARENA_INIT { NULL, 0 }

void	*arena_alloc(struct arena *, size_t);
char	*arena_strndup(struct arena *, const char *, size_t);
void	 arena_reset(struct arena *);
void	 arena_free(struct arena *);

#endif
