/* A de-duplicating, rate-limited work queue of keys; see workqueue.h.
 *
 * Each distinct key has one record in a hash table holding all of its state: dirty (needs
 * processing), queued (in the FIFO), processing (handed out), its place in the delay heap,
 * and its backoff. A record is freed as soon as none of that state is left, so memory is
 * bounded by the keys in play (and by max_keys). The FIFO holds a key only while it is
 * dirty and not processing, which is what guarantees "never concurrently, once more". */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/hashtab.h"
#include "kube/workqueue.h"

#define NOT_IN_HEAP SIZE_MAX

struct item {
	uint64_t hash;
	bool dirty;
	bool queued;
	bool processing;
	size_t heap_pos;
	uint64_t ready_at;
	struct backoff backoff;
	char key[];
};

struct workqueue {
	char *name;
	pthread_mutex_t lock;
	pthread_cond_t ready;	/* a key may be available, or shutdown */
	pthread_cond_t drained; /* the queue is empty and nothing is processing */
	struct hashtab items;	/* struct item * by key */
	size_t max_keys;

	/* FIFO ring of queued items */
	struct item **fifo;
	size_t fifo_cap, fifo_head, fifo_len;

	/* min-heap of delayed items by ready_at */
	struct item **heap;
	size_t heap_cap, heap_len;

	size_t processing;
	unsigned long long adds_total, retries_total, done_total;
	bool shutting_down;
	bool draining;

	uint64_t base_delay_ms, max_delay_ms;
	double qps;
	double burst;
	double tokens;
	uint64_t bucket_last_ms;
	bool bucket_started;
	backoff_rand32_fn rand32;
	void *rand_ctx;
	uint64_t (*now_ms)(void *ctx);
	void *clock_ctx;
};

static uint64_t monotonic_ms(void *ctx)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool item_eq(const void *item, const void *key)
{
	return strcmp(((const struct item *)item)->key, key) == 0;
}

struct workqueue *workqueue_new(const struct workqueue_options *opts)
{
	struct workqueue_options o = opts ? *opts : (struct workqueue_options){0};
	struct workqueue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->name = strdup(o.name ? o.name : "");
	if (!q->name) {
		free(q);
		return NULL;
	}
	q->base_delay_ms = o.base_delay_ms ? o.base_delay_ms : 5;
	q->max_delay_ms = o.max_delay_ms ? o.max_delay_ms : 1000 * 1000;
	q->qps = o.qps == 0 ? 10 : o.qps;
	q->burst = o.burst ? o.burst : 100;
	q->max_keys = o.max_keys ? o.max_keys : 1u << 20;
	q->rand32 = o.rand32;
	q->rand_ctx = o.rand_ctx;
	q->now_ms = o.now_ms ? o.now_ms : monotonic_ms;
	q->clock_ctx = o.clock_ctx;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->ready, &ca);
	pthread_cond_init(&q->drained, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

struct workqueue *workqueue_free(struct workqueue *q)
{
	if (!q)
		return NULL;
	struct item *it;
	for (size_t pos = 0; (it = hashtab_next(&q->items, &pos));)
		free(it);
	hashtab_free(&q->items);
	free(q->fifo);
	free(q->heap);
	free(q->name);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->ready);
	pthread_cond_destroy(&q->drained);
	free(q);
	return NULL;
}

/* ---- records (lock held) ----------------------------------------------------------------- */

static struct item *item_find(struct workqueue *q, const char *key)
{
	return hashtab_get(&q->items, hashtab_hash_str(key), key, item_eq);
}

static int item_get_or_create(struct workqueue *q, const char *key, struct item **ret_item)
{
	uint64_t hash = hashtab_hash_str(key);
	struct item *it = hashtab_get(&q->items, hash, key, item_eq);
	if (!it) {
		if (q->items.n >= q->max_keys)
			return -ENOSPC;
		size_t len = strlen(key);
		it = calloc(1, sizeof(*it) + len + 1);
		if (!it)
			return -ENOMEM;
		it->hash = hash;
		it->heap_pos = NOT_IN_HEAP;
		it->backoff = BACKOFF_INIT(q->base_delay_ms, q->max_delay_ms, BACKOFF_FULL_JITTER);
		memcpy(it->key, key, len + 1);
		int r = hashtab_put(&q->items, hash, it);
		if (r < 0) {
			free(it);
			return r;
		}
	}
	*ret_item = it;
	return 0;
}

/* Frees a record that carries no state any more. */
static void item_release(struct workqueue *q, struct item *it)
{
	if (it->dirty || it->queued || it->processing || it->heap_pos != NOT_IN_HEAP ||
	    it->backoff.attempt != 0)
		return;
	hashtab_remove(&q->items, it->hash, it->key, item_eq);
	free(it);
}

static int fifo_push(struct workqueue *q, struct item *it)
{
	if (q->fifo_len == q->fifo_cap) {
		size_t cap = q->fifo_cap ? q->fifo_cap * 2 : 16;
		struct item **f = malloc(cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		for (size_t i = 0; i < q->fifo_len; i++)
			f[i] = q->fifo[(q->fifo_head + i) % q->fifo_cap];
		free(q->fifo);
		q->fifo = f;
		q->fifo_cap = cap;
		q->fifo_head = 0;
	}
	q->fifo[(q->fifo_head + q->fifo_len) % q->fifo_cap] = it;
	q->fifo_len++;
	it->queued = true;
	pthread_cond_signal(&q->ready);
	return 0;
}

static struct item *fifo_pop(struct workqueue *q)
{
	struct item *it = q->fifo[q->fifo_head];
	q->fifo_head = (q->fifo_head + 1) % q->fifo_cap;
	q->fifo_len--;
	it->queued = false;
	return it;
}

static void heap_set(struct workqueue *q, size_t i, struct item *it)
{
	q->heap[i] = it;
	it->heap_pos = i;
}

static void heap_up(struct workqueue *q, size_t i)
{
	struct item *it = q->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (q->heap[parent]->ready_at <= it->ready_at)
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void heap_down(struct workqueue *q, size_t i)
{
	struct item *it = q->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->heap_len)
			break;
		if (c + 1 < q->heap_len && q->heap[c + 1]->ready_at < q->heap[c]->ready_at)
			c++;
		if (it->ready_at <= q->heap[c]->ready_at)
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, it);
}

static struct item *heap_pop(struct workqueue *q)
{
	struct item *top = q->heap[0];
	q->heap_len--;
	if (q->heap_len > 0) {
		heap_set(q, 0, q->heap[q->heap_len]);
		heap_down(q, 0);
	}
	top->heap_pos = NOT_IN_HEAP;
	return top;
}

/* client-go's add: dirty keys are queued once; a processing key waits for done(). */
static int item_add(struct workqueue *q, struct item *it)
{
	if (it->dirty)
		return 0;
	if (!it->processing) {
		int r = fifo_push(q, it);
		if (r < 0)
			return r;
	}
	it->dirty = true;
	return 0;
}

/* Moves delayed keys whose time has come into the FIFO. */
static void promote_due(struct workqueue *q)
{
	if (q->heap_len == 0)
		return;
	uint64_t now = q->now_ms(q->clock_ctx);
	while (q->heap_len > 0 && q->heap[0]->ready_at <= now) {
		struct item *it = heap_pop(q);
		/* On ENOMEM the key stays out of the queue; keep it delayed a little instead. */
		if (item_add(q, it) < 0) {
			it->ready_at = now + 1;
			heap_set(q, q->heap_len++, it);
			heap_up(q, it->heap_pos);
			break;
		}
	}
}

static int validate_key(const char *key)
{
	return key && *key ? 0 : -EINVAL;
}

/* ---- producers ----------------------------------------------------------------------------- */

static int add_after_locked(struct workqueue *q, const char *key, uint64_t delay_ms)
{
	struct item *it;
	if (q->shutting_down)
		return -ESHUTDOWN;
	int r = item_get_or_create(q, key, &it);
	if (r < 0)
		return r;
	if (delay_ms == 0) {
		r = item_add(q, it);
	} else {
		uint64_t now = q->now_ms(q->clock_ctx);
		uint64_t at = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
		if (it->heap_pos != NOT_IN_HEAP) {
			/* Already waiting: the earlier time wins. */
			if (at < it->ready_at) {
				it->ready_at = at;
				heap_up(q, it->heap_pos);
			}
		} else {
			if (q->heap_len == q->heap_cap) {
				size_t cap = q->heap_cap ? q->heap_cap * 2 : 16;
				struct item **h = realloc(q->heap, cap * sizeof(*h));
				if (!h) {
					item_release(q, it);
					return -ENOMEM;
				}
				q->heap = h;
				q->heap_cap = cap;
			}
			it->ready_at = at;
			heap_set(q, q->heap_len++, it);
			heap_up(q, it->heap_pos);
		}
		/* A getter may be sleeping until a later time than this one. */
		if (it->heap_pos == 0)
			pthread_cond_broadcast(&q->ready);
	}
	item_release(q, it);
	if (r == 0)
		q->adds_total++;
	return r;
}

int workqueue_add(struct workqueue *q, const char *key)
{
	return workqueue_add_after(q, key, 0);
}

int workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
	int r = validate_key(key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&q->lock);
	r = add_after_locked(q, key, delay_ms);
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* The global token bucket: how long until a token is free, taking it now (tokens go negative,
 * reserving future capacity, as golang.org/x/time/rate's Reserve does). */
static uint64_t bucket_delay_ms(struct workqueue *q)
{
	if (q->qps < 0)
		return 0;
	uint64_t now = q->now_ms(q->clock_ctx);
	if (!q->bucket_started) {
		q->tokens = q->burst;
		q->bucket_last_ms = now;
		q->bucket_started = true;
	}
	if (now > q->bucket_last_ms) {
		q->tokens += (double)(now - q->bucket_last_ms) * q->qps / 1000.0;
		if (q->tokens > q->burst)
			q->tokens = q->burst;
		q->bucket_last_ms = now;
	}
	q->tokens -= 1;
	if (q->tokens >= 0)
		return 0;
	return (uint64_t)ceil(-q->tokens * 1000.0 / q->qps);
}

int workqueue_add_rate_limited(struct workqueue *q, const char *key, uint64_t *ret_delay_ms)
{
	int r = validate_key(key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&q->lock);
	struct item *it;
	if (q->shutting_down)
		r = -ESHUTDOWN;
	else
		r = item_get_or_create(q, key, &it);
	if (r == 0) {
		uint64_t per_key = backoff_next_ms(&it->backoff, q->rand32, q->rand_ctx);
		uint64_t global = bucket_delay_ms(q);
		uint64_t delay = per_key > global ? per_key : global;
		r = add_after_locked(q, key, delay);
		if (r == 0)
			q->retries_total++;
		if (r == 0 && ret_delay_ms)
			*ret_delay_ms = delay;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	if (validate_key(key) < 0)
		return;
	pthread_mutex_lock(&q->lock);
	struct item *it = item_find(q, key);
	if (it) {
		backoff_reset(&it->backoff);
		item_release(q, it);
	}
	pthread_mutex_unlock(&q->lock);
}

unsigned workqueue_num_requeues(struct workqueue *q, const char *key)
{
	if (validate_key(key) < 0)
		return 0;
	pthread_mutex_lock(&q->lock);
	struct item *it = item_find(q, key);
	unsigned n = it ? it->backoff.attempt : 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* ---- consumers ----------------------------------------------------------------------------- */

static void deadline_after(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	/* Cap a single sleep; the loop re-evaluates anyway. */
	if (ms > 3600 * 1000)
		ms = 3600 * 1000;
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int workqueue_get(struct workqueue *q, char **ret_key)
{
	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->shutting_down && !q->draining)
			break;
		promote_due(q);
		if (q->fifo_len > 0 || q->shutting_down)
			break;
		if (q->heap_len > 0) {
			uint64_t now = q->now_ms(q->clock_ctx);
			uint64_t at = q->heap[0]->ready_at;
			struct timespec ts;
			deadline_after(&ts, at > now ? at - now : 0);
			pthread_cond_timedwait(&q->ready, &q->lock, &ts);
		} else {
			pthread_cond_wait(&q->ready, &q->lock);
		}
	}
	int r = -ESHUTDOWN;
	if (q->fifo_len > 0 && !(q->shutting_down && !q->draining)) {
		char *key = strdup(q->fifo[q->fifo_head]->key);
		if (!key) {
			r = -ENOMEM;
		} else {
			struct item *it = fifo_pop(q);
			it->dirty = false;
			it->processing = true;
			q->processing++;
			*ret_key = key;
			r = 0;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

void workqueue_done(struct workqueue *q, const char *key)
{
	if (validate_key(key) < 0)
		return;
	pthread_mutex_lock(&q->lock);
	struct item *it = item_find(q, key);
	if (it && it->processing) {
		it->processing = false;
		q->processing--;
		q->done_total++;
		/* Added while it was processing: now it may run again. If the push fails the key
		 * stays dirty and the next add queues nothing; drop dirty so it can. */
		if (it->dirty && fifo_push(q, it) < 0)
			it->dirty = false;
		item_release(q, it);
	}
	if (q->draining && q->fifo_len == 0 && q->processing == 0)
		pthread_cond_broadcast(&q->drained);
	/* Draining getters stop once nothing is left; wake them to notice. */
	if (q->draining && q->fifo_len == 0)
		pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

/* Stops accepting keys and drops delayed ones (lock held). */
static void begin_shutdown(struct workqueue *q, bool drain)
{
	q->shutting_down = true;
	q->draining = drain;
	while (q->heap_len > 0) {
		struct item *it = heap_pop(q);
		item_release(q, it);
	}
	if (!drain) {
		while (q->fifo_len > 0) {
			struct item *it = fifo_pop(q);
			it->dirty = false;
			item_release(q, it);
		}
		/* Keys in flight finish, but are not queued again. */
		struct item *it;
		for (size_t pos = 0; (it = hashtab_next(&q->items, &pos));)
			it->dirty = false;
	}
	pthread_cond_broadcast(&q->ready);
}

void workqueue_shut_down(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	begin_shutdown(q, false);
	pthread_cond_broadcast(&q->drained);
	pthread_mutex_unlock(&q->lock);
}

void workqueue_shut_down_with_drain(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	if (!q->shutting_down)
		begin_shutdown(q, true);
	while (q->draining && (q->fifo_len > 0 || q->processing > 0))
		pthread_cond_wait(&q->drained, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

bool workqueue_shutting_down(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	bool r = q->shutting_down;
	pthread_mutex_unlock(&q->lock);
	return r;
}

size_t workqueue_len(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	promote_due(q);
	size_t n = q->fifo_len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void workqueue_get_stats(struct workqueue *q, struct workqueue_stats *ret_stats)
{
	pthread_mutex_lock(&q->lock);
	promote_due(q);
	*ret_stats = (struct workqueue_stats){
		.depth = q->fifo_len,
		.delayed = q->heap_len,
		.processing = q->processing,
		.keys = q->items.n,
		.adds_total = q->adds_total,
		.retries_total = q->retries_total,
		.done_total = q->done_total,
	};
	pthread_mutex_unlock(&q->lock);
}

/* ---- worker pool ---------------------------------------------------------------------------- */

struct workqueue_workers {
	struct workqueue *q;
	workqueue_process_fn fn;
	void *ctx;
	unsigned n;
	pthread_t threads[];
};

static void *worker_main(void *arg)
{
	struct workqueue_workers *w = arg;
	char *key;
	while (workqueue_get(w->q, &key) == 0) {
		if (w->fn(key, w->ctx) < 0)
			/* Refused only during shutdown, when there is no retry to schedule. */
			(void)workqueue_add_rate_limited(w->q, key, NULL);
		else
			workqueue_forget(w->q, key);
		workqueue_done(w->q, key);
		free(key);
	}
	return NULL;
}

int workqueue_run_workers(struct workqueue *q, unsigned n, workqueue_process_fn fn, void *ctx,
			  struct workqueue_workers **ret_workers)
{
	if (!q || !fn || n == 0 || n > 64)
		return -EINVAL;
	struct workqueue_workers *w = calloc(1, sizeof(*w) + n * sizeof(pthread_t));
	if (!w)
		return -ENOMEM;
	w->q = q;
	w->fn = fn;
	w->ctx = ctx;
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (r != 0) {
			workqueue_shut_down(q);
			w->n = i;
			workqueue_workers_join(w);
			return -r;
		}
		char tname[16];
		snprintf(tname, sizeof(tname), "wq-%.8s-%u", q->name, i);
		(void)pthread_setname_np(w->threads[i], tname);
		w->n = i + 1;
	}
	*ret_workers = w;
	return 0;
}

struct workqueue_workers *workqueue_workers_join(struct workqueue_workers *w)
{
	if (!w)
		return NULL;
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	free(w);
	return NULL;
}
