/* The curl-multi event loop; see loop.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "kube/loop.h"

struct timer {
	uint64_t id, due_ms;
	kube_loop_fn fn;
	void *userdata;
};

struct posted {
	struct posted *next;
	kube_loop_fn fn;
	void *userdata;
};

struct transfer {
	struct transfer *next;
	CURL *h;
	kube_loop_done_fn done;
	void *userdata;
};

struct kube_loop {
	CURLM *multi;
	struct timer *timers; /* unordered; a loop has a handful */
	size_t n_timers, cap_timers;
	uint64_t next_timer_id;
	struct transfer *transfers;

	pthread_mutex_t lock; /* guards posted and stopping */
	struct posted *posted_head, **posted_tail;
	bool stopping;
};

uint64_t kube_loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kube_loop_new(struct kube_loop **ret)
{
	struct kube_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return -EIO;
	}
	curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	pthread_mutex_init(&l->lock, NULL);
	l->posted_tail = &l->posted_head;
	l->next_timer_id = 1;
	*ret = l;
	return 0;
}

struct kube_loop *kube_loop_free(struct kube_loop *l)
{
	if (!l)
		return NULL;
	while (l->transfers)
		kube_loop_remove_transfer(l, l->transfers->h);
	for (struct posted *p = l->posted_head, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	free(l->timers);
	curl_multi_cleanup(l->multi);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return NULL;
}

void kube_loop_stop(struct kube_loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);
	curl_multi_wakeup(l->multi);
}

int kube_loop_post(struct kube_loop *l, kube_loop_fn fn, void *userdata)
{
	struct posted *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct posted){.fn = fn, .userdata = userdata};
	pthread_mutex_lock(&l->lock);
	if (l->stopping) {
		pthread_mutex_unlock(&l->lock);
		free(p);
		return -ESHUTDOWN;
	}
	*l->posted_tail = p;
	l->posted_tail = &p->next;
	pthread_mutex_unlock(&l->lock);
	curl_multi_wakeup(l->multi);
	return 0;
}

uint64_t kube_loop_timer_add(struct kube_loop *l, uint64_t delay_ms, kube_loop_fn fn,
			     void *userdata)
{
	if (l->n_timers == l->cap_timers) {
		size_t cap = l->cap_timers ? l->cap_timers * 2 : 8;
		struct timer *t = realloc(l->timers, cap * sizeof(*t));
		if (!t)
			return 0;
		l->timers = t;
		l->cap_timers = cap;
	}
	uint64_t id = l->next_timer_id++;
	l->timers[l->n_timers++] = (struct timer){
		.id = id, .due_ms = kube_loop_now_ms() + delay_ms, .fn = fn, .userdata = userdata};
	return id;
}

void kube_loop_timer_cancel(struct kube_loop *l, uint64_t id)
{
	for (size_t i = 0; id && i < l->n_timers; i++)
		if (l->timers[i].id == id) {
			l->timers[i] = l->timers[--l->n_timers];
			return;
		}
}

int kube_loop_add_transfer(struct kube_loop *l, CURL *h, kube_loop_done_fn done, void *userdata)
{
	struct transfer *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct transfer){.next = l->transfers, .h = h, .done = done, .userdata = userdata};
	if (curl_multi_add_handle(l->multi, h) != CURLM_OK) {
		free(t);
		return -EIO;
	}
	l->transfers = t;
	return 0;
}

/* Unlinks the record of h; NULL when h is not registered. */
static struct transfer *transfer_take(struct kube_loop *l, CURL *h)
{
	for (struct transfer **pp = &l->transfers; *pp; pp = &(*pp)->next)
		if ((*pp)->h == h) {
			struct transfer *t = *pp;
			*pp = t->next;
			return t;
		}
	return NULL;
}

void kube_loop_remove_transfer(struct kube_loop *l, CURL *h)
{
	struct transfer *t = transfer_take(l, h);
	if (!t)
		return;
	curl_multi_remove_handle(l->multi, h);
	free(t);
}

/* Runs due timers; returns the delay until the next one (capped at max_ms). */
static int run_timers(struct kube_loop *l, int max_ms)
{
	uint64_t now = kube_loop_now_ms();
	/* Callbacks may add or cancel timers, so pick one due timer at a time. */
	for (;;) {
		size_t i;
		for (i = 0; i < l->n_timers; i++)
			if (l->timers[i].due_ms <= now)
				break;
		if (i == l->n_timers)
			break;
		struct timer t = l->timers[i];
		l->timers[i] = l->timers[--l->n_timers];
		t.fn(t.userdata);
	}
	uint64_t wait = (uint64_t)max_ms;
	now = kube_loop_now_ms();
	for (size_t i = 0; i < l->n_timers; i++) {
		uint64_t d = l->timers[i].due_ms > now ? l->timers[i].due_ms - now : 0;
		if (d < wait)
			wait = d;
	}
	return (int)wait;
}

static bool run_posted(struct kube_loop *l)
{
	pthread_mutex_lock(&l->lock);
	struct posted *p = l->posted_head;
	l->posted_head = NULL;
	l->posted_tail = &l->posted_head;
	bool stopping = l->stopping;
	pthread_mutex_unlock(&l->lock);
	while (p) {
		struct posted *n = p->next;
		p->fn(p->userdata);
		free(p);
		p = n;
	}
	return stopping;
}

int kube_loop_run(struct kube_loop *l)
{
	for (;;) {
		if (run_posted(l))
			return 0;
		int wait = run_timers(l, 1000);
		int running = 0;
		if (curl_multi_perform(l->multi, &running) != CURLM_OK)
			return -EIO;
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(l->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			CURLcode result = msg->data.result;
			struct transfer *t = transfer_take(l, h);
			curl_multi_remove_handle(l->multi, h);
			if (t) {
				kube_loop_done_fn done = t->done;
				void *ud = t->userdata;
				free(t);
				done(h, result, ud);
			}
		}
		if (run_posted(l))
			return 0;
		wait = run_timers(l, wait);
		if (curl_multi_poll(l->multi, NULL, 0, wait, NULL) != CURLM_OK)
			return -EIO;
	}
}
