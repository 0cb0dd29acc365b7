/* Exponential backoff with jitter, bounded by [base, cap], for retrying requests to the
 * apiserver (watch reconnects, 429/5xx, Lease renewals) without synchronised retry storms.
 *
 * Two strategies, after "Exponential Backoff And Jitter" (AWS architecture blog):
 *   BACKOFF_FULL_JITTER        delay = uniform(0, min(cap, base * 2^attempt))
 *   BACKOFF_DECORRELATED       delay = min(cap, uniform(base, 3 * previous delay))
 * Full jitter spreads clients best; decorrelated never drops below base, which suits
 * reconnects where an immediate retry is pointless.
 *
 * The random source is injectable so tests are deterministic; pass NULL for the default
 * (a per-thread xorshift seeded from getrandom()). Not thread-safe per struct: each retry
 * loop owns its struct backoff. */
#pragma once

#include <stdint.h>

enum backoff_strategy {
	BACKOFF_FULL_JITTER = 0,
	BACKOFF_DECORRELATED,
};

struct backoff {
	uint64_t base_ms; /* first ceiling (full) or floor (decorrelated); 0 is treated as 1 */
	uint64_t cap_ms;  /* no delay ever exceeds this; a cap below base is raised to base */
	enum backoff_strategy strategy;
	unsigned attempt; /* delays handed out since the last reset */
	uint64_t prev_ms; /* the last delay (decorrelated jitter grows from it) */
};

#define BACKOFF_INIT(base, cap, strat) \
	((struct backoff){.base_ms = (base), .cap_ms = (cap), .strategy = (strat)})

typedef uint32_t (*backoff_rand32_fn)(void *ctx);

/* The next delay in milliseconds; advances the attempt counter. rand32 may be NULL. */
uint64_t backoff_next_ms(struct backoff *b, backoff_rand32_fn rand32, void *ctx);

/* After a success: the next delay starts from the beginning again. */
void backoff_reset(struct backoff *b);

/* The default random source (ctx is ignored). */
uint32_t backoff_rand32_default(void *ctx);
