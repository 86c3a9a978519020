/*
 * Portability shims. glibc's <sys/queue.h> lacks the _SAFE iterators
 * that BSD systems have; they are defined here when missing.
 */
#ifndef PROMLET_COMPAT_H
#define PROMLET_COMPAT_H

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif
