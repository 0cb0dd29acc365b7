/* The work queue: de-duplication, "once more, never concurrently" for keys added while being
 * processed, delayed adds in time order, per-key backoff and the global token bucket,
 * shutdown with and without drain, and the worker pool. Time-dependent cases use an injected
 * clock; the threaded ones check ordering and exclusion, never durations. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/workqueue.h"

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
	return __atomic_load_n(&fake_now, __ATOMIC_ACQUIRE);
}
static void advance(uint64_t ms)
{
	__atomic_add_fetch(&fake_now, ms, __ATOMIC_RELEASE);
}

/* The largest random value makes full jitter hand out its ceiling: base * 2^n exactly. */
static uint32_t rand_max(void *ctx)
{
	return UINT32_MAX;
}

static struct workqueue *fake_time_queue(double qps, unsigned burst, uint64_t max_delay)
{
	fake_now = 1000000;
	struct workqueue_options o = {.name = "test",
				      .qps = qps,
				      .burst = burst,
				      .max_delay_ms = max_delay,
				      .rand32 = rand_max,
				      .now_ms = fake_clock};
	struct workqueue *q = workqueue_new(&o);
	assert_non_null(q);
	return q;
}

static void get_expect(struct workqueue *q, const char *expected)
{
	char *key = NULL;
	assert_int_equal(workqueue_get(q, &key), 0);
	assert_string_equal(key, expected);
	free(key);
}

static void adds_are_deduplicated(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	for (int i = 0; i < 100; i++)
		assert_int_equal(workqueue_add(q, "ns/a"), 0);
	assert_int_equal(workqueue_add(q, "ns/b"), 0);
	assert_int_equal(workqueue_len(q), 2);
	get_expect(q, "ns/a"); /* FIFO order of first add */
	workqueue_done(q, "ns/a");
	get_expect(q, "ns/b");
	workqueue_done(q, "ns/b");
	assert_int_equal(workqueue_len(q), 0);
	assert_int_equal(workqueue_add(q, ""), -EINVAL);
	assert_int_equal(workqueue_add(q, NULL), -EINVAL);
	workqueue_free(q);
}

static void key_added_while_processing_runs_once_more(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	assert_int_equal(workqueue_add(q, "k"), 0);
	char *key;
	assert_int_equal(workqueue_get(q, &key), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(workqueue_add(q, "k"), 0);
	/* Not handed out again while processing... */
	assert_int_equal(workqueue_len(q), 0);
	workqueue_done(q, key);
	free(key);
	/* ...and exactly once afterwards. */
	assert_int_equal(workqueue_len(q), 1);
	get_expect(q, "k");
	workqueue_done(q, "k");
	assert_int_equal(workqueue_len(q), 0);
	/* done() for a key not processing changes nothing. */
	workqueue_done(q, "k");
	workqueue_done(q, "never");
	assert_int_equal(workqueue_len(q), 0);
	workqueue_free(q);
}

struct getter {
	struct workqueue *q;
	char *key;
	int result;
	int returned;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	g->result = workqueue_get(g->q, &g->key);
	__atomic_store_n(&g->returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void second_worker_waits_for_the_first(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	char *key;
	assert_int_equal(workqueue_add(q, "k"), 0);
	assert_int_equal(workqueue_get(q, &key), 0); /* worker A holds k */
	assert_int_equal(workqueue_add(q, "k"), 0);

	struct getter b = {.q = q};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, getter_main, &b), 0);
	/* Give B every chance to (wrongly) receive k while A processes it. */
	usleep(50 * 1000);
	assert_int_equal(__atomic_load_n(&b.returned, __ATOMIC_ACQUIRE), 0);
	workqueue_done(q, key);
	free(key);
	pthread_join(th, NULL);
	assert_int_equal(b.result, 0);
	assert_string_equal(b.key, "k");
	workqueue_done(q, b.key);
	free(b.key);
	workqueue_free(q);
}

/* Many producers and workers: no key is ever processed by two workers at once, and every
 * key's last add is followed by a run. */
#define N_KEYS 8
struct stress {
	int inflight[N_KEYS];
	int overlap;
	int runs[N_KEYS];
	int added_after_last_run[N_KEYS];
};

static int key_index(const char *key)
{
	return atoi(key + 1);
}

static int stress_process(const char *key, void *ctx)
{
	struct stress *s = ctx;
	int i = key_index(key);
	if (__atomic_add_fetch(&s->inflight[i], 1, __ATOMIC_ACQ_REL) != 1)
		__atomic_store_n(&s->overlap, 1, __ATOMIC_RELEASE);
	/* Clear "pending" before working: an add during the work must cause another run. */
	__atomic_store_n(&s->added_after_last_run[i], 0, __ATOMIC_RELEASE);
	usleep(200);
	__atomic_add_fetch(&s->runs[i], 1, __ATOMIC_ACQ_REL);
	__atomic_sub_fetch(&s->inflight[i], 1, __ATOMIC_ACQ_REL);
	return 0;
}

struct producer {
	struct workqueue *q;
	struct stress *s;
	unsigned seed;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	char key[16];
	for (int n = 0; n < 3000; n++) {
		int i = (int)(rand_r(&p->seed) % N_KEYS);
		snprintf(key, sizeof(key), "k%d", i);
		__atomic_store_n(&p->s->added_after_last_run[i], 1, __ATOMIC_RELEASE);
		assert_int_equal(workqueue_add(p->q, key), 0);
	}
	return NULL;
}

static void workers_never_share_a_key(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	struct stress s = {0};
	struct workqueue_workers *w;
	assert_int_equal(workqueue_run_workers(q, 4, stress_process, &s, &w), 0);
	struct producer p[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		p[i] = (struct producer){.q = q, .s = &s, .seed = (unsigned)i + 1};
		assert_int_equal(pthread_create(&th[i], NULL, producer_main, &p[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	workqueue_shut_down_with_drain(q);
	w = workqueue_workers_join(w);
	assert_int_equal(s.overlap, 0);
	for (int i = 0; i < N_KEYS; i++) {
		assert_true(s.runs[i] >= 1);
		assert_int_equal(s.added_after_last_run[i], 0);
	}
	workqueue_free(q);
}

static void delayed_adds_come_in_time_order(void **state)
{
	struct workqueue *q = fake_time_queue(0, 0, 0);
	assert_int_equal(workqueue_add_after(q, "c", 30), 0);
	assert_int_equal(workqueue_add_after(q, "a", 10), 0);
	assert_int_equal(workqueue_add_after(q, "b", 20), 0);
	assert_int_equal(workqueue_add_after(q, "late", 500), 0);
	/* Delayed twice: the earlier time wins, in either order. */
	assert_int_equal(workqueue_add_after(q, "late", 25), 0);
	assert_int_equal(workqueue_add_after(q, "c", 40), 0);
	assert_int_equal(workqueue_len(q), 0);
	advance(9);
	assert_int_equal(workqueue_len(q), 0);
	advance(1);
	assert_int_equal(workqueue_len(q), 1);
	advance(20);
	assert_int_equal(workqueue_len(q), 4);
	get_expect(q, "a");
	get_expect(q, "b");
	get_expect(q, "late");
	get_expect(q, "c");
	/* A delayed key that is already queued is not queued twice. */
	assert_int_equal(workqueue_add(q, "d"), 0);
	assert_int_equal(workqueue_add_after(q, "d", 5), 0);
	advance(5);
	assert_int_equal(workqueue_len(q), 1);
	workqueue_free(q);
}

static void rate_limit_backs_off_per_key_and_forget_resets(void **state)
{
	struct workqueue *q = fake_time_queue(-1, 0, 100);
	uint64_t d;
	static const uint64_t expected[] = {5, 10, 20, 40, 80, 100, 100};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
		assert_int_equal(d, expected[i]);
		assert_int_equal(workqueue_num_requeues(q, "k"), i + 1);
	}
	/* Another key has its own backoff. */
	assert_int_equal(workqueue_add_rate_limited(q, "other", &d), 0);
	assert_int_equal(d, 5);
	workqueue_forget(q, "k");
	assert_int_equal(workqueue_num_requeues(q, "k"), 0);
	assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
	assert_int_equal(d, 5);
	/* The key is delivered once its delay passes. */
	struct workqueue_stats st;
	workqueue_get_stats(q, &st);
	assert_int_equal(st.delayed, 2);
	assert_int_equal(st.depth, 0);
	advance(5);
	assert_int_equal(workqueue_len(q), 2);
	workqueue_get_stats(q, &st);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.delayed, 0);
	assert_int_equal(st.keys, 2);
	assert_int_equal(st.retries_total, 9);
	assert_int_equal(st.adds_total, 9);
	char *key;
	assert_int_equal(workqueue_get(q, &key), 0); /* "k" or "other": both are due */
	workqueue_get_stats(q, &st);
	assert_int_equal(st.processing, 1);
	workqueue_done(q, key);
	free(key);
	workqueue_get_stats(q, &st);
	assert_int_equal(st.processing, 0);
	assert_int_equal(st.done_total, 1);
	workqueue_free(q);
}

static void token_bucket_limits_overall_rate(void **state)
{
	/* 10 per second, burst 3, a frozen clock. */
	struct workqueue *q = fake_time_queue(10, 3, 0);
	uint64_t d;
	char key[16];
	static const uint64_t expected[] = {5, 5, 5, 100, 200, 300};
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(workqueue_add_rate_limited(q, key, &d), 0);
		assert_int_equal(d, expected[i]);
	}
	/* After a second the bucket has refilled to its burst, not beyond. */
	advance(1000);
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "n%d", i);
		assert_int_equal(workqueue_add_rate_limited(q, key, &d), 0);
		assert_true(d <= 5);
	}
	assert_int_equal(workqueue_add_rate_limited(q, "n3", &d), 0);
	assert_int_equal(d, 100);
	workqueue_free(q);
}

struct slow {
	int processed;
	int in_flight_at_drain;
};

static int slow_process(const char *key, void *ctx)
{
	struct slow *s = ctx;
	usleep(5000);
	__atomic_add_fetch(&s->processed, 1, __ATOMIC_ACQ_REL);
	return 0;
}

static void drain_finishes_queued_and_in_flight_keys(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	struct slow s = {0};
	char key[16];
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(workqueue_add(q, key), 0);
	}
	assert_int_equal(workqueue_add_after(q, "delayed", 60 * 1000), 0);
	struct workqueue_workers *w;
	assert_int_equal(workqueue_run_workers(q, 2, slow_process, &s, &w), 0);
	workqueue_shut_down_with_drain(q);
	/* Everything queued was processed before drain returned; the delayed key was dropped. */
	assert_int_equal(__atomic_load_n(&s.processed, __ATOMIC_ACQUIRE), 20);
	assert_true(workqueue_shutting_down(q));
	assert_int_equal(workqueue_add(q, "new"), -ESHUTDOWN);
	assert_int_equal(workqueue_add_after(q, "new", 5), -ESHUTDOWN);
	assert_int_equal(workqueue_add_rate_limited(q, "new", NULL), -ESHUTDOWN);
	w = workqueue_workers_join(w);
	assert_int_equal(s.processed, 20);
	workqueue_free(q);
}

static void shut_down_releases_getters_at_once(void **state)
{
	struct workqueue *q = workqueue_new(NULL);
	struct getter g = {.q = q};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, getter_main, &g), 0);
	usleep(20 * 1000);
	workqueue_shut_down(q);
	pthread_join(th, NULL);
	assert_int_equal(g.result, -ESHUTDOWN);

	/* Queued keys are dropped: get returns at once. */
	struct workqueue *q2 = workqueue_new(NULL);
	assert_int_equal(workqueue_add(q2, "a"), 0);
	char *key;
	assert_int_equal(workqueue_get(q2, &key), 0);
	assert_int_equal(workqueue_add(q2, "a"), 0); /* dirty while processing */
	assert_int_equal(workqueue_add(q2, "b"), 0);
	workqueue_shut_down(q2);
	assert_int_equal(workqueue_get(q2, &key), 0 - ESHUTDOWN);
	assert_int_equal(workqueue_len(q2), 0);
	workqueue_done(q2, "a"); /* in flight finishes, and is not queued again */
	assert_int_equal(workqueue_len(q2), 0);
	assert_int_equal(workqueue_get(q2, &key), -ESHUTDOWN);
	free(key);
	workqueue_free(q2);
	workqueue_free(q);
}

struct flaky {
	int calls;
	int fail_first;
};

static int flaky_process(const char *key, void *ctx)
{
	struct flaky *f = ctx;
	int n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_ACQ_REL);
	return n <= f->fail_first ? -EAGAIN : 0;
}

static void workers_retry_failures_with_backoff(void **state)
{
	struct workqueue_options o = {.base_delay_ms = 1, .max_delay_ms = 4};
	struct workqueue *q = workqueue_new(&o);
	struct flaky f = {.fail_first = 3};
	struct workqueue_workers *w;
	assert_int_equal(workqueue_run_workers(q, 2, flaky_process, &f, &w), 0);
	assert_int_equal(workqueue_add(q, "k"), 0);
	while (__atomic_load_n(&f.calls, __ATOMIC_ACQUIRE) < 4)
		usleep(1000);
	/* Success forgot the backoff. */
	for (int i = 0; i < 1000 && workqueue_num_requeues(q, "k") != 0; i++)
		usleep(1000);
	assert_int_equal(workqueue_num_requeues(q, "k"), 0);
	workqueue_shut_down(q);
	w = workqueue_workers_join(w);
	assert_int_equal(f.calls, 4);
	assert_int_equal(workqueue_run_workers(q, 0, flaky_process, &f, &w), -EINVAL);
	workqueue_free(q);
}

static void key_limit(void **state)
{
	struct workqueue_options o = {.max_keys = 2};
	struct workqueue *q = workqueue_new(&o);
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add(q, "b"), 0);
	assert_int_equal(workqueue_add(q, "a"), 0); /* known keys are still fine */
	assert_int_equal(workqueue_add(q, "c"), -ENOSPC);
	get_expect(q, "a");
	workqueue_done(q, "a");
	/* a's record is gone once it carries no state: room again. */
	assert_int_equal(workqueue_add(q, "c"), 0);
	workqueue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adds_are_deduplicated),
		cmocka_unit_test(key_added_while_processing_runs_once_more),
		cmocka_unit_test(second_worker_waits_for_the_first),
		cmocka_unit_test(workers_never_share_a_key),
		cmocka_unit_test(delayed_adds_come_in_time_order),
		cmocka_unit_test(rate_limit_backs_off_per_key_and_forget_resets),
		cmocka_unit_test(token_bucket_limits_overall_rate),
		cmocka_unit_test(drain_finishes_queued_and_in_flight_keys),
		cmocka_unit_test(shut_down_releases_getters_at_once),
		cmocka_unit_test(workers_retry_failures_with_backoff),
		cmocka_unit_test(key_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
