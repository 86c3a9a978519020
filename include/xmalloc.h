/*
 * Allocation wrappers. None returns NULL: running out of memory is not a
 * condition the agent can recover from in a useful way, so it aborts in one
 * place with a message instead of at every call site.
 */
#ifndef PROMLET_XMALLOC_H
#define PROMLET_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Wipe a NUL-terminated secret, then free it; NULL is fine. */
void	 xfree_secret(char *);

#endif
