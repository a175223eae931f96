/* tide_time.h — the clocks every tide program uses: the monotonic clock for deadlines and
 * intervals, the wall clock for instants, and the one text form of an instant (UTC ISO 8601 with
 * milliseconds) that the logs, the API and the manifests print. */
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

/* Milliseconds since the epoch (CLOCK_REALTIME): instants that are stored or shown. */
static inline int64_t
tide_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define TIDE_TIME_LEN 25 /* "2026-11-22T08:00:00.123Z" + NUL */
/* Formats milliseconds since the epoch as UTC ISO 8601 with milliseconds; returns buf. */
char *tide_time_format(int64_t ms, char buf[TIDE_TIME_LEN]);

#endif
