/* Lease-based leader election; see leader.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "kube/backoff.h"
#include "kube/leader.h"
#include "kube/loop.h"

struct kube_leader {
	struct kube_client *client; /* our own, with requests bounded by the retry period */
	struct kube_leader_options opts;
	char *ns, *name, *identity;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	atomic_bool leader;

	/* Election state (election thread only). */
	char observed_rv[64];
	char observed_holder[256];
	uint64_t observed_ms; /* local time the resourceVersion last changed */
	uint64_t renewed_ms;  /* local time of our last successful acquire/renew */
	json_t *lease;	      /* the last Lease we read or wrote */
};

/* metav1.MicroTime: RFC 3339 with microseconds, UTC. */
static void micro_time_now(char out[32])
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%06ldZ", (long)tv.tv_usec);
}

static const char *lease_rv(const json_t *lease)
{
	return json_string_value(
		json_object_get(json_object_get(lease, "metadata"), "resourceVersion"));
}

static const char *lease_holder(const json_t *lease)
{
	const char *h = json_string_value(
		json_object_get(json_object_get(lease, "spec"), "holderIdentity"));
	return h ? h : "";
}

static void set_lease(struct kube_leader *l, json_t *lease)
{
	json_decref(l->lease);
	l->lease = lease;
}

/* Records what we saw; the expiry clock restarts whenever the resourceVersion moves. */
static void observe(struct kube_leader *l, const json_t *lease)
{
	const char *rv = lease_rv(lease);
	const char *holder = lease_holder(lease);
	if (!rv || strcmp(rv, l->observed_rv) != 0) {
		snprintf(l->observed_rv, sizeof(l->observed_rv), "%s", rv ? rv : "");
		l->observed_ms = kube_loop_now_ms();
	}
	if (strcmp(holder, l->observed_holder) != 0) {
		snprintf(l->observed_holder, sizeof(l->observed_holder), "%s", holder);
		if (l->opts.on_new_leader)
			l->opts.on_new_leader(holder, l->opts.userdata);
	}
}

static json_t *lease_spec(struct kube_leader *l, const json_t *old, bool release)
{
	char now[32];
	micro_time_now(now);
	const json_t *old_spec = json_object_get(old, "spec");
	json_int_t transitions = json_integer_value(json_object_get(old_spec, "leaseTransitions"));
	const char *acquire = json_string_value(json_object_get(old_spec, "acquireTime"));
	bool ours = old && strcmp(lease_holder(old), l->identity) == 0;
	if (!ours && !release) {
		if (old)
			transitions++;
		acquire = now;
	}
	if (release)
		return json_pack("{s:s,s:i,s:s,s:s,s:I}", "holderIdentity", "",
				 "leaseDurationSeconds", 1, "acquireTime", now, "renewTime", now,
				 "leaseTransitions", transitions);
	return json_pack("{s:s,s:i,s:s,s:s,s:I}", "holderIdentity", l->identity,
			 "leaseDurationSeconds", (int)((l->opts.lease_duration_ms + 999) / 1000),
			 "acquireTime", acquire ? acquire : now, "renewTime", now,
			 "leaseTransitions", transitions);
}

/* One round of client-go's tryAcquireOrRenew: 0 when we hold the Lease now, -EBUSY when
 * someone else validly holds it, or the request's error. */
static int try_acquire_or_renew(struct kube_leader *l)
{
	struct kube_status st;
	json_t *cur = NULL, *out = NULL;
	int r = kube_get(l->client, &KUBE_RES_LEASES, l->ns, l->name, &cur, &st);
	if (r == -ENOENT) {
		json_t *spec = lease_spec(l, NULL, false);
		json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion",
					"coordination.k8s.io/v1", "kind", "Lease", "metadata",
					"name", l->name, "namespace", l->ns, "spec", spec);
		if (!obj)
			return -ENOMEM;
		r = kube_create(l->client, &KUBE_RES_LEASES, l->ns, obj, &out, &st);
		json_decref(obj);
		if (r == -EEXIST)
			return -EBUSY;
		if (r < 0)
			return r;
		observe(l, out);
		set_lease(l, out);
		return 0;
	}
	if (r < 0)
		return r;

	observe(l, cur);
	const char *holder = lease_holder(cur);
	bool ours = strcmp(holder, l->identity) == 0;
	json_int_t secs = json_integer_value(
		json_object_get(json_object_get(cur, "spec"), "leaseDurationSeconds"));
	uint64_t duration_ms = secs > 0 ? (uint64_t)secs * 1000 : l->opts.lease_duration_ms;
	if (holder[0] && !ours && kube_loop_now_ms() < l->observed_ms + duration_ms) {
		set_lease(l, cur);
		return -EBUSY;
	}

	json_t *upd = json_deep_copy(cur);
	json_t *spec = lease_spec(l, cur, false);
	json_decref(cur);
	if (!upd || !spec || json_object_set_new(upd, "spec", spec) < 0) {
		json_decref(upd);
		return -ENOMEM;
	}
	/* The update carries the resourceVersion we read: a concurrent winner makes it 409. */
	r = kube_update(l->client, &KUBE_RES_LEASES, l->ns, upd, &out, &st);
	json_decref(upd);
	if (r == -ESTALE)
		return -EBUSY;
	if (r < 0)
		return r;
	observe(l, out);
	set_lease(l, out);
	return 0;
}

static void release(struct kube_leader *l)
{
	struct kube_status st;
	if (!l->lease || strcmp(lease_holder(l->lease), l->identity) != 0)
		return;
	json_t *upd = json_deep_copy(l->lease);
	json_t *spec = lease_spec(l, l->lease, true);
	if (upd && spec && json_object_set_new(upd, "spec", spec) == 0) {
		spec = NULL;
		int r = kube_update(l->client, &KUBE_RES_LEASES, l->ns, upd, NULL, &st);
		if (r < 0)
			log_info(4, "releasing lease failed", "lease", l->name, "errno",
				 LOG_INT(-r));
	}
	json_decref(spec);
	json_decref(upd);
}

/* Sleeps up to ms; true when asked to stop. */
static bool wait_ms(struct kube_leader *l, uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->stopping && pthread_cond_timedwait(&l->cond, &l->lock, &ts) == 0)
		;
	bool stop = l->stopping;
	pthread_mutex_unlock(&l->lock);
	return stop;
}

static void stop_leading(struct kube_leader *l)
{
	atomic_store(&l->leader, false);
	if (l->opts.on_stopped_leading)
		l->opts.on_stopped_leading(l->opts.userdata);
}

static void *election_thread(void *arg)
{
	struct kube_leader *l = arg;
	uint64_t retry = l->opts.retry_period_ms;

	for (;;) {
		int r = try_acquire_or_renew(l);
		uint64_t now = kube_loop_now_ms();
		bool leading = atomic_load(&l->leader);
		uint64_t wait;
		if (r == 0) {
			l->renewed_ms = now;
			if (!leading) {
				atomic_store(&l->leader, true);
				log_info(4, "acquired lease", "lease", l->name);
				if (l->opts.on_started_leading)
					l->opts.on_started_leading(l->opts.userdata);
			}
			wait = retry;
		} else if (leading) {
			/* Renewal failed: keep trying until the deadline, then step down. */
			if (now - l->renewed_ms >= l->opts.renew_deadline_ms) {
				log_info(4, "lost lease: renew deadline passed", "lease", l->name,
					 "errno", LOG_INT(-r));
				stop_leading(l);
				wait = retry;
			} else {
				uint64_t left = l->renewed_ms + l->opts.renew_deadline_ms - now;
				wait = left < retry ? left : retry;
			}
		} else {
			/* Followers spread their attempts so they do not hit the apiserver in
			 * step. */
			wait = retry + backoff_rand32_default(NULL) % (retry / 5 + 1);
		}
		if (wait_ms(l, wait))
			break;
	}
	if (atomic_load(&l->leader)) {
		stop_leading(l);
		release(l);
	}
	return NULL;
}

bool kube_leader_is_leader(struct kube_leader *l)
{
	return atomic_load(&l->leader);
}

static void leader_free(struct kube_leader *l)
{
	kube_client_free(l->client);
	json_decref(l->lease);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l);
}

int kube_leader_start(struct kube_client *client, const struct kube_leader_options *opts,
		      struct kube_leader **ret)
{
	struct kube_leader_options o = *opts;
	if (!o.lease_duration_ms)
		o.lease_duration_ms = 15000;
	if (!o.renew_deadline_ms)
		o.renew_deadline_ms = 10000;
	if (!o.retry_period_ms)
		o.retry_period_ms = 2000;
	if (!o.namespace || !o.namespace[0] || !o.name || !o.name[0] || !o.identity ||
	    !o.identity[0] ||
	    strlen(o.identity) >= sizeof(((struct kube_leader *)0)->observed_holder))
		return -EINVAL;
	/* As client-go: the leader must give up before anyone may take over, and have time for
	 * more than one renewal attempt before it does. */
	if (!(o.lease_duration_ms > o.renew_deadline_ms &&
	      (uint64_t)o.renew_deadline_ms * 10 > (uint64_t)o.retry_period_ms * 12))
		return -EINVAL;

	struct kube_leader *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->ns = strdup(o.namespace);
	l->name = strdup(o.name);
	l->identity = strdup(o.identity);
	struct kube_client_options co = {.timeout_ms = o.retry_period_ms,
					 .connect_timeout_ms = o.retry_period_ms};
	int r = -ENOMEM;
	if (!l->ns || !l->name || !l->identity)
		goto fail;
	r = kube_client_new(kube_client_config(client), &co, &l->client);
	if (r < 0)
		goto fail;
	o.namespace = l->ns;
	o.name = l->name;
	o.identity = l->identity;
	l->opts = o;
	r = -pthread_create(&l->thread, NULL, election_thread, l);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	leader_free(l);
	return r;
}

struct kube_leader *kube_leader_stop(struct kube_leader *l)
{
	if (!l)
		return NULL;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	leader_free(l);
	return NULL;
}
