/* The leader's status writer (status_writer.h). */
#include "controller/status_writer.h"

#include <pthread.h>
#include <stdatomic.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark_resources.h"
#include "controller/pod_records.h"
#include "controller/policy_status.h"
#include "controller/push_state.h"
#include "kube/client.h"
#include "kube/hashtab.h"
#include "kube/informer.h"
#include "kube/loop.h"
#include "kube/object.h"
#include "log.h"
#include "metrics.h"
#include "policy/policy.h"
#include "policy/store.h"

static const struct kube_resource RES_EVENTS = {"", "v1", "events", true};

struct status_writer {
	struct status_writer_config cfg;
	struct metric *writes; /* {result} */
	pthread_t thread;
	atomic_bool stopping;

	/* The thread sleeps on cond until something changed. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool dirty;
	struct hashtab written; /* of struct written, by policy key */
};

/* The status we last wrote for a policy, and the resourceVersion it was written over. */
struct written {
	char key[POLICY_KEY_MAX];
	char rv[64];
	json_t *status;
};

static bool written_eq(const void *item, const void *key)
{
	return strcmp(((const struct written *)item)->key, key) == 0;
}

static void written_free(struct written *e)
{
	if (e) {
		json_decref(e->status);
		free(e);
	}
}

/* With the lock held. The status policy key has now, given the cached rv: ours until the
 * cache shows our write. New reference. */
static json_t *last_status(struct status_writer *w, const char *key, const char *rv,
			   const json_t *cached)
{
	const struct written *e = hashtab_get(&w->written, hashtab_hash_str(key), key, written_eq);
	return json_incref(e && strcmp(e->rv, rv) == 0 ? e->status : (json_t *)cached);
}

/* With the lock held. Failing to remember only costs a redundant write later. */
static void remember(struct status_writer *w, const char *key, const char *rv, json_t *status)
{
	uint64_t h = hashtab_hash_str(key);
	written_free(hashtab_remove(&w->written, h, key, written_eq));
	struct written *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->rv, sizeof(e->rv), "%s", rv);
	e->status = json_incref(status);
	if (hashtab_put(&w->written, h, e) < 0)
		written_free(e);
}

/* The status to write for policy now (new reference), or NULL. nodes is this policy's entry of
 * push_state_policy_nodes(), matched its {"pods","errors"} from the pod records, old_status
 * the status to keep condition transition times from. */
static json_t *policy_status(struct status_writer *w, const json_t *policy, const json_t *nodes,
			     const json_t *matched, const json_t *old_status, const char *now)
{
	char error[800] = "";
	int valid = policy_store_check(w->cfg.store, policy, error, sizeof(error));
	if (valid < 0)
		return NULL;
	struct policy_observation o = {
		.generation = json_integer_value(
			json_object_get(json_object_get(policy, "metadata"), "generation")),
		.invalid = valid ? NULL : error,
		.pods_matched = (unsigned)json_integer_value(json_object_get(matched, "pods")),
		.nodes = nodes,
		.compile_errors = json_object_get(matched, "errors"),
	};
	return policy_status_build(&o, old_status, now);
}

static const json_t *find_condition(const json_t *status, const char *type)
{
	size_t i;
	const json_t *cond;
	json_array_foreach (json_object_get(status, "conditions"), i, cond) {
		if (strcmp(json_string_value(json_object_get(cond, "type")) ?: "", type) == 0)
			return cond;
	}
	return NULL;
}

static bool condition_is(const json_t *status, const char *type, const char *value,
			 const char *reason)
{
	const json_t *cond = find_condition(status, type);
	return cond &&
	       strcmp(json_string_value(json_object_get(cond, "status")) ?: "", value) == 0 &&
	       (!reason ||
		strcmp(json_string_value(json_object_get(cond, "reason")) ?: "", reason) == 0);
}

/* A core/v1 Event on the policy: `kubectl describe bwp` and `kubectl get events` show it. */
static void record_event(struct status_writer *w, const json_t *policy, const char *reason,
			 const char *message, const char *now)
{
	const char *ns = kube_object_namespace(policy), *name = kube_object_name(policy);
	/* The status carries the whole message; an event stays within the apiserver's 1 KiB. */
	char text[1024];
	const char *m = message ? message : "";
	size_t n = strlen(m);
	if (n >= sizeof(text)) {
		/* Cut before a character's first byte, or jansson refuses the string. */
		n = sizeof(text) - 1;
		while (n > 0 && ((unsigned char)m[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(text, m, n);
	text[n] = '\0';
	char prefix[260];
	snprintf(prefix, sizeof(prefix), "%.240s.", name);
	json_t *ev = json_pack(
		"{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:s,s:s,s:i,"
		"s:s,s:s}",
		"apiVersion", "v1", "kind", "Event", "metadata", "generateName", prefix,
		"namespace", ns, "involvedObject", "apiVersion", POLICY_API_VERSION, "kind",
		POLICY_KIND, "namespace", ns, "name", name, "uid", kube_object_uid(policy) ?: "",
		"reason", reason, "message", text, "type", "Warning", "source", "component",
		"bulwark-controller", "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		"reportingComponent", "bulwark.dev/controller", "reportingInstance",
		w->cfg.identity ? w->cfg.identity : "bulwark-controller");
	if (!ev)
		return;
	struct kube_status st;
	int r = kube_create(w->cfg.client, &RES_EVENTS, ns, ev, NULL, &st);
	if (r < 0)
		log_error(r, "cannot record an event", "policy", name, "reason", reason, "detail",
			  st.message);
	json_decref(ev);
}

static int patch_status(struct status_writer *w, const json_t *policy, json_t *status)
{
	char *url = NULL;
	int r = kube_url_build(w->cfg.server, &BULWARK_RES_POLICIES, kube_object_namespace(policy),
			       kube_object_name(policy), "status", NULL, &url);
	if (r < 0)
		return r;
	json_t *patch = json_pack("{s:O}", "status", status);
	struct kube_status st = {0};
	r = patch ? kube_request(w->cfg.client, "PATCH", url, "application/merge-patch+json", patch,
				 NULL, &st)
		  : -ENOMEM;
	if (r < 0 && r != -ENOENT)
		log_error(r, "cannot write policy status", "policy", kube_object_name(policy),
			  "namespace", kube_object_namespace(policy), "detail", st.message);
	json_decref(patch);
	free(url);
	return r;
}

static bool serving(struct status_writer *w)
{
	return !atomic_load(&w->stopping) && w->cfg.serving(w->cfg.userdata);
}

struct bucket {
	double tokens;
	uint64_t at_ms;
};

/* One pass over every policy. Returns true when it stopped early for the rate limit. */
static bool write_statuses(struct status_writer *w, struct bucket *b)
{
	json_t *nodes = NULL, *policies = NULL;
	json_t *matched = pod_records_by_policy(w->cfg.records, POLICY_STATUS_MAX_FAILURES);
	if (!matched ||
	    push_state_policy_nodes(w->cfg.state, POLICY_STATUS_MAX_FAILURES, &nodes) < 0 ||
	    kube_informer_list(w->cfg.policies, &policies) < 0) {
		json_decref(matched);
		json_decref(nodes);
		return true;
	}
	char now[32];
	policy_status_time((long long)time(NULL), now);
	bool limited = false;
	size_t i;
	json_t *policy;
	json_array_foreach (policies, i, policy) {
		if (!serving(w))
			break;
		char key[POLICY_KEY_MAX];
		if (policy_key(policy, key) < 0)
			continue;
		const char *rv = kube_object_resource_version(policy) ?: "";
		/* Until the cache shows our last write, that write is the status to compare
		 * with (and to keep transition times from). */
		pthread_mutex_lock(&w->lock);
		json_t *old = last_status(w, key, rv, json_object_get(policy, "status"));
		pthread_mutex_unlock(&w->lock);
		json_t *status = policy_status(w, policy, json_object_get(nodes, key),
					       json_object_get(matched, key), old, now);
		if (!status || json_equal(old, status)) {
			json_decref(status);
			json_decref(old);
			continue;
		}
		uint64_t t = kube_loop_now_ms();
		b->tokens += (double)(t - b->at_ms) / 1000.0 * w->cfg.qps;
		b->at_ms = t;
		if (b->tokens > w->cfg.qps * 2)
			b->tokens = w->cfg.qps * 2;
		if (b->tokens < 1) {
			json_decref(status);
			json_decref(old);
			limited = true;
			break;
		}
		b->tokens -= 1;
		int r = patch_status(w, policy, status);
		metric_add(w->writes, (const char *[]){r < 0 ? "error" : "written"}, 1);
		if (r == 0) {
			pthread_mutex_lock(&w->lock);
			remember(w, key, rv, status);
			pthread_mutex_unlock(&w->lock);
			const json_t *deg = find_condition(status, "Degraded");
			if (condition_is(status, "Degraded", "True", NULL) &&
			    !condition_is(old, "Degraded", "True", NULL))
				record_event(w, policy,
					     json_string_value(json_object_get(deg, "reason")),
					     json_string_value(json_object_get(deg, "message")),
					     now);
			const json_t *ready = find_condition(status, "Ready");
			if (condition_is(status, "Ready", "False", "Invalid") &&
			    !condition_is(old, "Ready", "False", "Invalid"))
				record_event(w, policy, "Invalid",
					     json_string_value(json_object_get(ready, "message")),
					     now);
		}
		/* A failed write is retried by the next pass (at the latest the periodic one),
		 * not at once: a status the apiserver refuses must not spin. */
		json_decref(status);
		json_decref(old);
	}
	json_decref(policies);
	json_decref(nodes);
	json_decref(matched);
	return limited;
}

void status_writer_changed(struct status_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->dirty = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void status_writer_forget(struct status_writer *w, const char *key)
{
	pthread_mutex_lock(&w->lock);
	written_free(hashtab_remove(&w->written, hashtab_hash_str(key), key, written_eq));
	pthread_mutex_unlock(&w->lock);
}

static void *status_thread(void *arg)
{
	struct status_writer *w = arg;
	struct bucket b = {.tokens = w->cfg.qps, .at_ms = kube_loop_now_ms()};
	uint64_t last_full = 0;
	while (!atomic_load(&w->stopping)) {
		pthread_mutex_lock(&w->lock);
		if (!w->dirty) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		}
		bool dirty = w->dirty;
		w->dirty = false;
		pthread_mutex_unlock(&w->lock);
		if (atomic_load(&w->stopping))
			break;
		uint64_t now = kube_loop_now_ms();
		/* A pass now and then even when nothing was signalled: a status someone else
		 * overwrote is put back. */
		if (!dirty && now - last_full < 30000)
			continue;
		if (!serving(w))
			continue;
		last_full = now;
		if (write_statuses(w, &b))
			status_writer_changed(w);
		/* Coalesce bursts of acks and reconciles into one pass. */
		struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static void destroy(struct status_writer *w)
{
	struct written *e;
	for (size_t pos = 0; (e = hashtab_next(&w->written, &pos));)
		written_free(e);
	hashtab_free(&w->written);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int status_writer_start(const struct status_writer_config *cfg, struct status_writer **ret)
{
	static const char *const result[] = {"result", NULL};
	struct status_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->writes = metrics_register(cfg->registry, METRIC_COUNTER,
				     "bulwark_controller_status_writes_total",
				     "BulwarkPolicy status writes.", result, NULL, 0);
	int r = !w->writes ? -ENOMEM : -pthread_create(&w->thread, NULL, status_thread, w);
	if (r < 0) {
		destroy(w);
		return r;
	}
	*ret = w;
	return 0;
}

struct status_writer *status_writer_free(struct status_writer *w)
{
	if (!w)
		return NULL;
	atomic_store(&w->stopping, true);
	status_writer_changed(w);
	pthread_join(w->thread, NULL);
	destroy(w);
	return NULL;
}
