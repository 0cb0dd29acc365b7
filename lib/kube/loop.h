/* A single-threaded event loop for many concurrent HTTP transfers (watches, list pages) on
 * one curl multi handle, plus timers and work posted from other threads.
 *
 * Threading: kube_loop_run() runs on one thread, "the loop thread"; every function here except
 * kube_loop_post() and kube_loop_stop() must be called on it (or before run starts). Those two
 * are thread-safe and wake the loop through curl's wakeup pipe, so posted work runs within
 * one iteration. Callbacks run on the loop thread and must not block: slow work belongs on a
 * workqueue. */
#pragma once

#include <stdint.h>

#include <curl/curl.h>

struct kube_loop;

typedef void (*kube_loop_fn)(void *userdata);
/* A transfer finished (result is curl's); the handle has already been removed from the loop
 * and belongs to the caller again. */
typedef void (*kube_loop_done_fn)(CURL *h, CURLcode result, void *userdata);

int kube_loop_new(struct kube_loop **ret);
/* Removes (without completing) transfers still registered and drops timers and posted work.
 * Accepts NULL; returns NULL. */
struct kube_loop *kube_loop_free(struct kube_loop *loop);

/* Runs until kube_loop_stop(). 0, or a negative errno when curl's multi interface fails. */
int kube_loop_run(struct kube_loop *loop);
/* Any thread: makes kube_loop_run() return after the current iteration. */
void kube_loop_stop(struct kube_loop *loop);

/* Any thread: runs fn(userdata) on the loop thread soon. 0, -ENOMEM, or -ESHUTDOWN after
 * stop (fn is then not called). */
int kube_loop_post(struct kube_loop *loop, kube_loop_fn fn, void *userdata);

/* Calls fn after delay_ms; returns a timer id (never 0) for kube_loop_timer_cancel(), or 0
 * on ENOMEM. */
uint64_t kube_loop_timer_add(struct kube_loop *loop, uint64_t delay_ms, kube_loop_fn fn,
			     void *userdata);
/* Cancelling a timer that already fired, or id 0, is a no-op. */
void kube_loop_timer_cancel(struct kube_loop *loop, uint64_t id);

/* Starts a configured easy handle; done is called once when it ends. 0, -ENOMEM, -EIO. */
int kube_loop_add_transfer(struct kube_loop *loop, CURL *h, kube_loop_done_fn done, void *userdata);
/* Aborts a running transfer without calling done. No-op for a handle not registered. */
void kube_loop_remove_transfer(struct kube_loop *loop, CURL *h);

/* Milliseconds of CLOCK_MONOTONIC, the loop's clock. */
uint64_t kube_loop_now_ms(void);
