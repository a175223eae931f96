/* tide_units.c — the size and duration grammar of tide_units.h (it replaces the three size
 * parsers, with three grammars, of the dataplane, the Hive and tidectl). */
#include "tide_units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int
fail(int e)
{
	errno = e;
	return -1;
}

int
tide_parse_size(const char *s, uint64_t *bytes)
{
	double v, mul = 1;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return fail(EINVAL);
	v = strtod(s, &end);
	if (end == s || !isfinite(v))
		return fail(EINVAL);
	{ /* digits, then at most one point with digits after it: no 1e3, 0x10 or "1." */
		const char *p = s;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '.') {
			if (!isdigit((unsigned char)p[1]))
				return fail(EINVAL);
			for (p++; isdigit((unsigned char)*p); p++)
				;
		}
		if (p != end)
			return fail(EINVAL);
	}
	switch (tolower((unsigned char)*end)) {
	case 'k': mul = 1024.0; end++; break;
	case 'm': mul = 1024.0 * 1024; end++; break;
	case 'g': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return fail(EINVAL);
	v = round(v * mul);
	if (v >= 18446744073709551615.0)
		return fail(ERANGE);
	*bytes = (uint64_t)v;
	return 0;
}

int
tide_parse_duration(const char *s, uint64_t *seconds)
{
	uint64_t total = 0;

	if (s == NULL || *s == '\0')
		return fail(EINVAL);
	while (*s != '\0') {
		unsigned long long v, mul;
		char *end;

		if (!isdigit((unsigned char)*s))
			return fail(EINVAL);
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0)
			return fail(ERANGE);
		switch (*end) {
		case '\0': case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return fail(EINVAL);
		}
		if (v > TIDE_UNITS_DURATION_MAX / mul || total + v * mul > TIDE_UNITS_DURATION_MAX)
			return fail(ERANGE);
		total += v * mul;
		s = *end != '\0' ? end + 1 : end;
	}
	*seconds = total;
	return 0;
}
