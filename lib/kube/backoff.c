/* Exponential backoff with full or decorrelated jitter; see backoff.h. */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "kube/backoff.h"

uint32_t backoff_rand32_default(void *ctx)
{
	/* Per-thread state: retry loops run on different threads and need no lock. */
	static __thread uint64_t state;
	(void)ctx;
	if (state == 0) {
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
				(uintptr_t)&state;
		}
		state |= 1;
	}
	/* xorshift64*: cheap and plenty for spreading retries. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)((state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform in [lo, hi] from 64 random bits by scaling (multiply-high) rather than modulo, so the
 * mapping is monotonic: the largest random value yields hi and zero yields lo. */
static uint64_t uniform(uint64_t lo, uint64_t hi, backoff_rand32_fn rand32, void *ctx)
{
	if (hi <= lo)
		return lo;
	uint64_t r = ((uint64_t)rand32(ctx) << 32) | rand32(ctx);
	uint64_t span = hi - lo;
	if (span == UINT64_MAX)
		return r;
	return lo + (uint64_t)(((unsigned __int128)(span + 1) * r) >> 64);
}

uint64_t backoff_next_ms(struct backoff *b, backoff_rand32_fn rand32, void *ctx)
{
	uint64_t base = b->base_ms ? b->base_ms : 1;
	uint64_t cap = b->cap_ms < base ? base : b->cap_ms;
	uint64_t delay;

	if (!rand32)
		rand32 = backoff_rand32_default;

	if (b->strategy == BACKOFF_DECORRELATED) {
		uint64_t prev = b->prev_ms < base ? base : b->prev_ms;
		uint64_t hi = prev > cap / 3 ? cap : prev * 3;
		delay = uniform(base, hi, rand32, ctx);
	} else {
		/* base * 2^attempt, saturating at cap without overflowing. */
		uint64_t ceiling = base;
		for (unsigned i = 0; i < b->attempt && ceiling < cap; i++)
			ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
		if (ceiling > cap)
			ceiling = cap;
		delay = uniform(0, ceiling, rand32, ctx);
	}
	if (delay > cap)
		delay = cap;
	b->prev_ms = delay;
	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return delay;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
	b->prev_ms = 0;
}
