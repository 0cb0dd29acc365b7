/* A work queue of keys ("namespace/name"), with client-go's semantics: controllers enqueue
 * the key of whatever changed and workers reconcile that key from the informer cache, so
 * many changes to one object collapse into one reconcile.
 *
 *   - De-duplication: a key waiting in the queue is queued once however often it is added.
 *   - Never concurrently: a key handed out by workqueue_get() is "processing" until
 *     workqueue_done(). Adding it meanwhile marks it dirty; done() queues it again, so it is
 *     processed exactly once more, by one worker, after the current run.
 *   - Delays: workqueue_add_after() keeps the key in a timer heap until its time; the earliest
 *     time wins when a key is delayed twice.
 *   - Rate limiting: workqueue_add_rate_limited() delays a key by the larger of a per-key
 *     exponential backoff (kube/backoff.h; 5 ms doubling to 1000 s by default) and a global
 *     token bucket (10 per second, burst 100 by default) — client-go's default controller
 *     rate limiter. workqueue_forget() resets the key's backoff after a success.
 *   - Shutdown: workqueue_shut_down() stops at once: adds are refused and get() returns
 *     -ESHUTDOWN, dropping queued keys. workqueue_shut_down_with_drain() refuses adds, lets
 *     workers finish the keys already queued and in flight, and returns when none is left.
 *
 * Thread-safe: one mutex and condition variable; any number of producers and workers.
 * Time is CLOCK_MONOTONIC milliseconds unless a clock is injected (tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/backoff.h"

struct workqueue;

struct workqueue_options {
	const char *name;	  /* for logs; copied */
	uint64_t base_delay_ms;	  /* first per-key backoff ceiling; 0: 5 */
	uint64_t max_delay_ms;	  /* per-key backoff cap; 0: 1000 s */
	double qps;		  /* global token bucket refill rate; 0: 10; < 0: no bucket */
	unsigned burst;		  /* bucket size; 0: 100 */
	size_t max_keys;	  /* limit on distinct keys held (queued, delayed, processing,
				   * backing off); adds past it fail with -ENOSPC; 0: 1 << 20 */
	backoff_rand32_fn rand32; /* jitter source for the per-key backoff; NULL: default */
	void *rand_ctx;
	uint64_t (*now_ms)(void *ctx); /* clock for delays and the bucket; NULL: monotonic */
	void *clock_ctx;
};

/* opts may be NULL for the defaults. NULL on ENOMEM. */
struct workqueue *workqueue_new(const struct workqueue_options *opts);
/* Accepts NULL; returns NULL. No thread may be using the queue any more. */
struct workqueue *workqueue_free(struct workqueue *q);

/* Queues key (copied) unless it is already queued; marks it dirty if it is processing.
 * 0; -ESHUTDOWN after shutdown; -EINVAL for an empty key; -ENOSPC; -ENOMEM. */
int workqueue_add(struct workqueue *q, const char *key);
/* Queues key after delay_ms (0 is workqueue_add()). Same errors. */
int workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);
/* Queues key after its rate-limit delay, which goes to *ret_delay_ms when not NULL, and
 * counts a requeue. Same errors. */
int workqueue_add_rate_limited(struct workqueue *q, const char *key, uint64_t *ret_delay_ms);
/* Resets key's backoff and requeue count (after a successful reconcile). */
void workqueue_forget(struct workqueue *q, const char *key);
/* Rate-limited adds of key since the last forget. */
unsigned workqueue_num_requeues(struct workqueue *q, const char *key);

/* Blocks until a key is ready and hands it out (free() it after workqueue_done()). 0, or
 * -ESHUTDOWN when the queue is shut down (immediately), or drained. */
int workqueue_get(struct workqueue *q, char **ret_key);
/* Ends processing of key; queues it again if it was added meanwhile. */
void workqueue_done(struct workqueue *q, const char *key);

void workqueue_shut_down(struct workqueue *q);
/* Waits until every queued and in-flight key is done, so workers must be running (and this
 * must not be called from one of them). Delayed keys are dropped. */
void workqueue_shut_down_with_drain(struct workqueue *q);
bool workqueue_shutting_down(struct workqueue *q);

/* Keys ready to be handed out (not counting delayed or processing ones). */
size_t workqueue_len(struct workqueue *q);

/* A consistent snapshot for metrics (client-go's workqueue_depth, _adds_total, _retries_total). */
struct workqueue_stats {
	size_t depth;			  /* ready keys */
	size_t delayed;			  /* keys waiting for their time */
	size_t processing;		  /* keys handed out and not yet done */
	size_t keys;			  /* distinct keys with any state, backoff included */
	unsigned long long adds_total;	  /* accepted add calls of any kind */
	unsigned long long retries_total; /* accepted rate-limited adds */
	unsigned long long done_total;	  /* keys finished by done() */
};
void workqueue_get_stats(struct workqueue *q, struct workqueue_stats *ret_stats);

/* ---- a worker pool --------------------------------------------------------------------------- */

/* Reconciles one key: 0 on success (the key's backoff is forgotten); a negative errno to
 * retry it rate-limited. Called by at most one worker at a time for a given key. */
typedef int (*workqueue_process_fn)(const char *key, void *ctx);

struct workqueue_workers;

/* Starts n threads (1..64) that loop get / process / done until the queue shuts down.
 * 0, -EINVAL, or a pthread_create() error (threads already started are stopped first: the
 * queue is shut down). */
int workqueue_run_workers(struct workqueue *q, unsigned n, workqueue_process_fn fn, void *ctx,
			  struct workqueue_workers **ret_workers);
/* Joins the workers (shut the queue down first, or this waits for ever) and frees them.
 * Accepts NULL; returns NULL. */
struct workqueue_workers *workqueue_workers_join(struct workqueue_workers *w);
