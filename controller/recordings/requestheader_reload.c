#include "controller/recordings/requestheader_reload.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define DEFAULT_INTERVAL_S     60
#define DEFAULT_MIN_INTERVAL_S 10

struct requestheader_reload {
	struct requestheader_reload_options opts;

	/* The current generation; the lock is held only to swap it or take a reference. */
	pthread_mutex_t trust_lock;
	struct requestheader_trust *trust;

	/* The thread's schedule. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, triggered, running;
	struct timespec last_attempt; /* CLOCK_MONOTONIC */
	pthread_t thread;

	/* Serializes re-reads (the thread's and requestheader_reload_once() callers') and
	 * guards last_error: what was logged for the current run of failures. */
	pthread_mutex_t reload_lock;
	char last_error[1024];
};

static void count(struct requestheader_reload *rl, bool ok)
{
	if (rl->opts.reloads)
		metric_add(rl->opts.reloads, (const char *const[]){ok ? "ok" : "error"}, 1);
}

static void now_mono(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static struct requestheader_trust *swap_trust(struct requestheader_reload *rl,
					      struct requestheader_trust *next)
{
	pthread_mutex_lock(&rl->trust_lock);
	struct requestheader_trust *old = rl->trust;
	rl->trust = next;
	pthread_mutex_unlock(&rl->trust_lock);
	return old;
}

struct requestheader_trust *requestheader_reload_current(struct requestheader_reload *rl)
{
	pthread_mutex_lock(&rl->trust_lock);
	struct requestheader_trust *t = requestheader_trust_ref(rl->trust);
	pthread_mutex_unlock(&rl->trust_lock);
	return t;
}

/* Logs a failure once until it changes or a read succeeds. Called with reload_lock held. */
static void failed(struct requestheader_reload *rl, int r, const struct field_error *fe)
{
	char what[sizeof(rl->last_error)];
	snprintf(what, sizeof(what), "%s: %s (%s)", fe->field[0] ? fe->field : "configmap",
		 fe->reason[0] ? fe->reason : strerror(-r), strerror(-r));
	if (strcmp(what, rl->last_error) == 0)
		return;
	snprintf(rl->last_error, sizeof(rl->last_error), "%s", what);
	if (r == -ENOENT)
		log_warn("the front-proxy ConfigMap was deleted: refusing every recordings API "
			 "request until the API server publishes it again",
			 "configmap",
			 REQUESTHEADER_CONFIGMAP_NAMESPACE "/" REQUESTHEADER_CONFIGMAP_NAME);
	else
		log_warn("cannot reload the front-proxy trust, keeping the current one", "field",
			 fe->field, "reason", fe->reason[0] ? fe->reason : strerror(-r));
}

static int reload_locked(struct requestheader_reload *rl)
{
	json_t *cm = NULL;
	struct field_error fe = {0};
	int r = rl->opts.fetch(rl->opts.userdata, &cm, &fe);
	if (r == -ENOENT) {
		requestheader_trust_unref(swap_trust(rl, NULL));
		failed(rl, r, &fe);
		return r;
	}
	struct requestheader_trust *next = NULL;
	if (r == 0) {
		/* Compare before parsing certificates: the usual re-read finds nothing new. */
		struct requestheader_config parsed;
		struct requestheader_trust *cur = requestheader_reload_current(rl);
		r = requestheader_config_parse(cm, &parsed, &fe);
		bool same = r == 0 && cur &&
			    requestheader_config_equal(&parsed, requestheader_trust_config(cur));
		if (r == 0)
			requestheader_config_done(&parsed);
		requestheader_trust_unref(cur);
		if (same)
			r = 0;
		else if (r == 0)
			r = requestheader_trust_new(cm, &next, &fe) ?: 1;
	}
	json_decref(cm);
	if (r < 0) {
		failed(rl, r, &fe);
		return r;
	}
	if (rl->last_error[0])
		log_info(0, "the front-proxy trust can be read again", "was", rl->last_error);
	rl->last_error[0] = '\0';
	if (next) {
		const struct requestheader_config *c = requestheader_trust_config(next);
		log_info(0, "front-proxy trust loaded", "cas",
			 LOG_INT(requestheader_trust_n_cas(next)), "allowed_names",
			 LOG_INT(c->n_allowed_names), "username_headers",
			 LOG_INT(c->n_username_headers));
		requestheader_trust_unref(swap_trust(rl, next));
	}
	return r;
}

int requestheader_reload_once(struct requestheader_reload *rl)
{
	pthread_mutex_lock(&rl->lock);
	now_mono(&rl->last_attempt);
	rl->triggered = false;
	pthread_mutex_unlock(&rl->lock);

	pthread_mutex_lock(&rl->reload_lock);
	int r = reload_locked(rl);
	pthread_mutex_unlock(&rl->reload_lock);
	count(rl, r >= 0);
	return r;
}

void requestheader_reload_trigger(struct requestheader_reload *rl)
{
	pthread_mutex_lock(&rl->lock);
	if (!rl->triggered) {
		rl->triggered = true;
		pthread_cond_signal(&rl->cond);
	}
	pthread_mutex_unlock(&rl->lock);
}

static struct timespec after(struct timespec t, unsigned s)
{
	t.tv_sec += s;
	return t;
}

static bool reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static void *reload_thread(void *arg)
{
	struct requestheader_reload *rl = arg;
	pthread_mutex_lock(&rl->lock);
	while (!rl->stopping) {
		struct timespec now, due = after(rl->last_attempt, rl->opts.interval_s);
		struct timespec soonest = after(rl->last_attempt, rl->opts.min_interval_s);
		if (rl->triggered && !reached(&soonest, &due))
			due = soonest;
		now_mono(&now);
		if (!reached(&now, &due)) {
			pthread_cond_timedwait(&rl->cond, &rl->lock, &due);
			continue;
		}
		pthread_mutex_unlock(&rl->lock);
		requestheader_reload_once(rl);
		pthread_mutex_lock(&rl->lock);
	}
	pthread_mutex_unlock(&rl->lock);
	return NULL;
}

int requestheader_reload_new(const struct requestheader_reload_options *opts,
			     struct requestheader_reload **ret, struct field_error *err)
{
	if (!opts->fetch)
		return -EINVAL;
	struct requestheader_reload *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->opts = *opts;
	if (!rl->opts.interval_s)
		rl->opts.interval_s = DEFAULT_INTERVAL_S;
	if (!rl->opts.min_interval_s)
		rl->opts.min_interval_s = DEFAULT_MIN_INTERVAL_S;
	pthread_mutex_init(&rl->trust_lock, NULL);
	pthread_mutex_init(&rl->lock, NULL);
	pthread_mutex_init(&rl->reload_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rl->cond, &ca);
	pthread_condattr_destroy(&ca);
	now_mono(&rl->last_attempt);

	json_t *cm = NULL;
	int r = opts->fetch(opts->userdata, &cm, err);
	if (r == 0)
		r = requestheader_trust_new(cm, &rl->trust, err);
	json_decref(cm);
	count(rl, r == 0);
	if (r < 0) {
		requestheader_reload_free(rl);
		return r;
	}
	*ret = rl;
	return 0;
}

int requestheader_reload_start(struct requestheader_reload *rl)
{
	int r = -pthread_create(&rl->thread, NULL, reload_thread, rl);
	if (r == 0)
		rl->running = true;
	return r;
}

struct requestheader_reload *requestheader_reload_free(struct requestheader_reload *rl)
{
	if (!rl)
		return NULL;
	if (rl->running) {
		pthread_mutex_lock(&rl->lock);
		rl->stopping = true;
		pthread_cond_signal(&rl->cond);
		pthread_mutex_unlock(&rl->lock);
		pthread_join(rl->thread, NULL);
	}
	requestheader_trust_unref(rl->trust);
	pthread_cond_destroy(&rl->cond);
	pthread_mutex_destroy(&rl->lock);
	pthread_mutex_destroy(&rl->reload_lock);
	pthread_mutex_destroy(&rl->trust_lock);
	free(rl);
	return NULL;
}
