/* Backoff: every delay stays within its bounds, the ceiling grows exponentially up to the
 * cap, a reset starts over, and the injected random source makes it deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kube/backoff.h"

static uint32_t rand_max(void *ctx)
{
	(void)ctx;
	return UINT32_MAX;
}

static uint32_t rand_zero(void *ctx)
{
	(void)ctx;
	return 0;
}

/* A fixed LCG so the test sees many different values but the same ones every run. */
static uint32_t rand_lcg(void *ctx)
{
	uint64_t *s = ctx;
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

static void full_jitter_bounds_hold_for_every_attempt(void **state)
{
	uint64_t seed = 42;
	struct backoff b = BACKOFF_INIT(100, 30000, BACKOFF_FULL_JITTER);
	for (unsigned i = 0; i < 200; i++) {
		uint64_t ceiling = 100;
		for (unsigned k = 0; k < i && ceiling < 30000; k++)
			ceiling *= 2;
		if (ceiling > 30000)
			ceiling = 30000;
		uint64_t d = backoff_next_ms(&b, rand_lcg, &seed);
		assert_true(d <= ceiling);
	}
	assert_int_equal(b.attempt, 200);
}

static void full_jitter_ceiling_doubles_then_caps(void **state)
{
	struct backoff b = BACKOFF_INIT(100, 1000, BACKOFF_FULL_JITTER);
	/* With the largest random value the delay is the ceiling itself. */
	const uint64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_next_ms(&b, rand_max, NULL), want[i]);
	/* And with the smallest, zero: full jitter may retry at once. */
	assert_int_equal(backoff_next_ms(&b, rand_zero, NULL), 0);
}

static void reset_starts_over(void **state)
{
	struct backoff b = BACKOFF_INIT(50, 10000, BACKOFF_FULL_JITTER);
	for (int i = 0; i < 10; i++)
		backoff_next_ms(&b, rand_max, NULL);
	assert_int_equal(backoff_next_ms(&b, rand_max, NULL), 10000);
	backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	assert_int_equal(backoff_next_ms(&b, rand_max, NULL), 50);

	struct backoff d = BACKOFF_INIT(50, 10000, BACKOFF_DECORRELATED);
	for (int i = 0; i < 10; i++)
		backoff_next_ms(&d, rand_max, NULL);
	assert_int_equal(backoff_next_ms(&d, rand_max, NULL), 10000);
	backoff_reset(&d);
	assert_int_equal(backoff_next_ms(&d, rand_max, NULL), 150);
}

static void decorrelated_stays_between_base_and_cap(void **state)
{
	uint64_t seed = 7;
	struct backoff b = BACKOFF_INIT(200, 5000, BACKOFF_DECORRELATED);
	uint64_t prev = 200, max_seen = 0;
	for (int i = 0; i < 500; i++) {
		uint64_t d = backoff_next_ms(&b, rand_lcg, &seed);
		assert_true(d >= 200);
		assert_true(d <= 5000);
		assert_true(d <= prev * 3);
		prev = d < 200 ? 200 : d;
		if (d > max_seen)
			max_seen = d;
	}
	/* It does grow: 500 draws reach well past three times base. */
	assert_true(max_seen > 600);
	/* Largest random values grow by three each time, then cap. */
	struct backoff g = BACKOFF_INIT(10, 1000, BACKOFF_DECORRELATED);
	const uint64_t want[] = {30, 90, 270, 810, 1000, 1000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_next_ms(&g, rand_max, NULL), want[i]);
}

static void degenerate_parameters_are_safe(void **state)
{
	/* base 0 acts as 1; a cap below base is raised; huge caps do not overflow. */
	struct backoff z = BACKOFF_INIT(0, 0, BACKOFF_FULL_JITTER);
	for (int i = 0; i < 100; i++)
		assert_true(backoff_next_ms(&z, rand_max, NULL) <= 1);
	struct backoff h = BACKOFF_INIT(1, UINT64_MAX, BACKOFF_FULL_JITTER);
	uint64_t last = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t d = backoff_next_ms(&h, rand_max, NULL);
		assert_true(d >= last);
		last = d;
	}
	struct backoff dh = BACKOFF_INIT(UINT64_MAX / 2, UINT64_MAX, BACKOFF_DECORRELATED);
	for (int i = 0; i < 10; i++)
		assert_true(backoff_next_ms(&dh, rand_max, NULL) >= UINT64_MAX / 2);
	/* The default source works and respects the bounds. */
	struct backoff r = BACKOFF_INIT(100, 400, BACKOFF_FULL_JITTER);
	for (int i = 0; i < 100; i++)
		assert_true(backoff_next_ms(&r, NULL, NULL) <= 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_jitter_bounds_hold_for_every_attempt),
		cmocka_unit_test(full_jitter_ceiling_doubles_then_caps),
		cmocka_unit_test(reset_starts_over),
		cmocka_unit_test(decorrelated_stays_between_base_and_cap),
		cmocka_unit_test(degenerate_parameters_are_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
