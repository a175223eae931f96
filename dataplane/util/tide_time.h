/* tide_time.h — the monotonic clock every tide program measures deadlines and intervals with.
 * Header-only: one definition, inlined where it is used. */
#ifndef TIDE_TIME_H
#define TIDE_TIME_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: deadlines, back-offs, elapsed times. Never wall time. */
static inline int64_t
tide_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
