/* tide_time.c — the text form of an instant (tide_time.h), one strftime for the whole tree. */
#include <stdio.h>
#include <time.h>

#include "tide_time.h"

char *
tide_time_format(int64_t ms, char buf[TIDE_TIME_LEN])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	size_t n = strftime(buf, TIDE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, TIDE_TIME_LEN - n, ".%03uZ", (unsigned)(ms % 1000) % 1000u);
	return buf;
}
