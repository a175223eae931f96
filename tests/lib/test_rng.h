/* test_rng.h — the C tests' pseudo-random numbers: xorshift64*, deterministic from its seed, so
 * a test's random inputs (and any bound it asserts over them) are the same on every run. */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

struct test_rng {
	uint64_t s; /* the seed, then the state; never 0 */
};

static inline uint64_t
test_rng_next(struct test_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ull;
}

#endif
