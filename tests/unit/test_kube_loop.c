/* The event loop: timers fire in due order and can be cancelled, work posted from another
 * thread runs on the loop thread, and stop from another thread ends run(). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kube/loop.h"

struct trace {
	struct kube_loop *loop;
	char order[16];
	int n;
	pthread_t loop_thread;
	int posted_on_loop_thread;
};

static void mark_a(void *p)
{
	struct trace *t = p;
	t->order[t->n++] = 'a';
}
static void mark_b(void *p)
{
	struct trace *t = p;
	t->order[t->n++] = 'b';
}
static void mark_c(void *p)
{
	struct trace *t = p;
	t->order[t->n++] = 'c';
}
static void stop(void *p)
{
	struct trace *t = p;
	kube_loop_stop(t->loop);
}

static void timers_fire_in_order_and_cancel(void **state)
{
	struct trace t = {0};
	assert_int_equal(kube_loop_new(&t.loop), 0);
	assert_true(kube_loop_timer_add(t.loop, 60, mark_c, &t) != 0);
	assert_true(kube_loop_timer_add(t.loop, 10, mark_a, &t) != 0);
	uint64_t id = kube_loop_timer_add(t.loop, 20, mark_b, &t);
	assert_true(kube_loop_timer_add(t.loop, 30, mark_b, &t) != 0);
	assert_true(kube_loop_timer_add(t.loop, 100, stop, &t) != 0);
	kube_loop_timer_cancel(t.loop, id);
	kube_loop_timer_cancel(t.loop, 0);
	uint64_t start = kube_loop_now_ms();
	assert_int_equal(kube_loop_run(t.loop), 0);
	assert_true(kube_loop_now_ms() - start >= 100);
	assert_string_equal(t.order, "abc");
	kube_loop_free(t.loop);
}

static void check_thread(void *p)
{
	struct trace *t = p;
	t->posted_on_loop_thread = pthread_equal(pthread_self(), t->loop_thread);
	t->order[t->n++] = 'p';
}

static void *poster(void *p)
{
	struct trace *t = p;
	assert_int_equal(kube_loop_post(t->loop, check_thread, t), 0);
	assert_int_equal(kube_loop_post(t->loop, stop, t), 0);
	return NULL;
}

static void post_from_another_thread_runs_on_the_loop(void **state)
{
	struct trace t = {0};
	pthread_t th;
	assert_int_equal(kube_loop_new(&t.loop), 0);
	t.loop_thread = pthread_self();
	/* A far timer: only the posted stop can end run() soon. */
	assert_true(kube_loop_timer_add(t.loop, 60000, mark_a, &t) != 0);
	assert_int_equal(pthread_create(&th, NULL, poster, &t), 0);
	uint64_t start = kube_loop_now_ms();
	assert_int_equal(kube_loop_run(t.loop), 0);
	assert_true(kube_loop_now_ms() - start < 10000);
	pthread_join(th, NULL);
	assert_string_equal(t.order, "p");
	assert_true(t.posted_on_loop_thread);
	/* After stop, posting is refused rather than silently dropped. */
	assert_int_equal(kube_loop_post(t.loop, mark_a, &t), -ESHUTDOWN);
	kube_loop_free(t.loop);
}

static void *stopper(void *p)
{
	struct kube_loop *loop = p;
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	kube_loop_stop(loop);
	return NULL;
}

static void stop_from_another_thread_wakes_the_loop(void **state)
{
	struct kube_loop *loop;
	pthread_t th;
	assert_int_equal(kube_loop_new(&loop), 0);
	assert_int_equal(pthread_create(&th, NULL, stopper, loop), 0);
	uint64_t start = kube_loop_now_ms();
	assert_int_equal(kube_loop_run(loop), 0);
	/* Without the wakeup the loop would sleep its full poll interval (1 s) at least. */
	assert_true(kube_loop_now_ms() - start < 900);
	pthread_join(th, NULL);
	kube_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_in_order_and_cancel),
		cmocka_unit_test(post_from_another_thread_runs_on_the_loop),
		cmocka_unit_test(stop_from_another_thread_wakes_the_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
