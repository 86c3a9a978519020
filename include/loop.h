/*
 * Small helpers for the modules that own events on the libevent loop.
 * promlet counts time in milliseconds (intervals, timeouts, backoffs,
 * token lifetimes); libevent takes a struct timeval. One clock and one
 * conversion, so no module gets the microseconds or the clamp wrong on
 * its own.
 */
#ifndef PROMLET_LOOP_H
#define PROMLET_LOOP_H

#include <stdint.h>

struct event;

/* Wall-clock time in milliseconds: sample timestamps, token expiry,
 * batch deadlines. */
int64_t	loop_now_ms(void);

/* (Re)arm ev to fire in ms milliseconds; a past time (ms < 0) fires at
 * the loop's next pass. */
void	loop_timer_add_ms(struct event *ev, int64_t ms);

#endif
