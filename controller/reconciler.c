/* Reconciling one work-queue key: a pod's compiled policy onto its node's push state, or a
 * policy's validity and seccomp profile. Both read only the informer caches, so a key can be
 * reconciled any number of times with the same result. */
#include "controller/reconciler.h"

#include <pthread.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "controller/pod_records.h"
#include "controller/push_state.h"
#include "kube/informer.h"
#include "kube/loop.h"
#include "kube/object.h"
#include "log.h"
#include "metrics.h"
#include "policy/policy.h"
#include "policy/store.h"
#include "seccomp/policy.h"

/* ---- state ------------------------------------------------------------------------------ */

struct reconciler {
	struct reconciler_config cfg;
	struct metric *reconcile_seconds;
	struct metric *compile_errors; /* pods that failed to compile, total */

	/* policy_cache is single-threaded: one, behind a lock (compile_pod() says why). */
	pthread_mutex_t cache_lock;
	struct policy_cache *cache;
};

int reconciler_new(const struct reconciler_config *cfg, struct reconciler **ret)
{
	static const char *const kind[] = {"kind", NULL};
	struct reconciler *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	pthread_mutex_init(&r->cache_lock, NULL);
	r->reconcile_seconds = metrics_register(cfg->registry, METRIC_HISTOGRAM,
						"bulwark_controller_reconcile_duration_seconds",
						"Time to reconcile one work-queue key.", kind,
						metrics_latency_buckets, metrics_latency_buckets_n);
	r->compile_errors = metrics_register(
		cfg->registry, METRIC_COUNTER, "bulwark_controller_compile_errors_total",
		"Pods whose policy could not be compiled.", NULL, NULL, 0);
	int e = !r->reconcile_seconds || !r->compile_errors ? -ENOMEM
							    : policy_cache_new(4096, &r->cache);
	if (e < 0) {
		reconciler_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

struct reconciler *reconciler_free(struct reconciler *r)
{
	if (!r)
		return NULL;
	policy_cache_free(r->cache);
	pthread_mutex_destroy(&r->cache_lock);
	free(r);
	return NULL;
}

static void changed(struct reconciler *rc)
{
	if (rc->cfg.changed)
		rc->cfg.changed(rc->cfg.userdata);
}

/* ---- compiling ---------------------------------------------------------------------------- */

/* A pod's compiled policy through the one policy cache. Compiles are CPU work with no I/O, so
 * serialising them costs little on the few cores a controller gets, and one cache means each
 * distinct combination of policies is held once, not once per worker.
 *
 * Seccomp profiles are content-addressed: policies that say the same thing (a thousand
 * namespaces each denying mkdir) compile to equal profiles under different cache keys. On a
 * cache miss the fresh profile is swapped for the instance the push state already holds under
 * the same name, so the cache and every pod share one copy. The swap is safe only then: the
 * new sections are seen by nobody but the cache and us until the lock is released. */
static int compile_pod(struct reconciler *rc, const json_t *pod, const struct policy_selection *sel,
		       json_t **ret, struct field_error *err)
{
	unsigned long hits, misses_before, misses_after;
	pthread_mutex_lock(&rc->cache_lock);
	policy_cache_stats(rc->cache, &hits, &misses_before);
	int r = policy_compile_selection(rc->cache, pod, sel, ret, err);
	policy_cache_stats(rc->cache, &hits, &misses_after);
	if (r == 0 && *ret && misses_after != misses_before) {
		json_t *seccomp = json_object_get(*ret, "seccomp");
		const char *name = json_string_value(json_object_get(seccomp, "profileName"));
		json_t *shared = name ? push_state_profile(rc->cfg.state, name) : NULL;
		if (shared && json_equal(shared, json_object_get(seccomp, "profile")))
			json_object_set(seccomp, "profile", shared);
		json_decref(shared);
	}
	pthread_mutex_unlock(&rc->cache_lock);
	return r;
}

/* ---- pods ---------------------------------------------------------------------------------- */

static bool pod_terminal(const json_t *pod)
{
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

static int reconcile_pod(struct reconciler *rc, const char *key)
{
	char ns[64], name[254];
	int r = kube_key_split(key, ns, sizeof(ns), name, sizeof(name));
	if (r < 0)
		return 0; /* not a key we could have produced: nothing to retry */
	json_t *pod = kube_informer_get(rc->cfg.pods, key);
	const char *uid = pod ? kube_object_uid(pod) : NULL;
	const char *node =
		pod ? json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"))
		    : NULL;
	if (node && !*node)
		node = NULL;

	if (!pod || !uid) {
		struct pod_record_prev old;
		pod_records_remove(rc->cfg.records, key, &old);
		if (*old.node)
			push_state_set_pod(rc->cfg.state, old.node, ns, name, old.uid, NULL,
					   kube_loop_now_ms());
		json_decref(pod);
		changed(rc);
		return 0;
	}

	json_t *policies = policy_store_namespace(rc->cfg.store, ns);
	if (!policies) {
		json_decref(pod);
		return -ENOMEM;
	}
	bool active = !pod_terminal(pod);
	json_t *selecting = json_array();
	json_t *compiled = NULL;
	struct policy_selection *sel = NULL;
	char error[800] = "";
	size_t n = json_array_size(policies);
	json_t **arr = calloc(n ? n : 1, sizeof(*arr));
	if (!selecting || !arr) {
		free(arr);
		r = -ENOMEM;
		goto out;
	}
	size_t i;
	json_t *p;
	json_array_foreach (policies, i, p)
		arr[i] = p;
	/* One selection: its keys go to the pod's record (status counts selected pods, bound
	 * or not), and it is what gets compiled. */
	struct field_error err = {0};
	r = policy_select(pod, arr, n, &sel, &err);
	free(arr);
	for (i = 0; r == 0 && i < policy_selection_count(sel); i++)
		if (json_array_append_new(selecting, json_string(policy_selection_key(sel, i))) < 0)
			r = -ENOMEM;
	if (r == 0 && node && active && policy_selection_count(sel) > 0)
		r = compile_pod(rc, pod, sel, &compiled, &err);
	if (r == -EINVAL) {
		field_error_str(&err, error, sizeof(error));
		metric_add(rc->compile_errors, NULL, 1);
		log_warn("cannot compile the pod's policy, it keeps the previous one", "pod", key,
			 "err", error);
		r = 0;
	} else if (r < 0) {
		goto out;
	}

	struct pod_record_prev old;
	r = pod_records_put(rc->cfg.records, key, uid, node, active, selecting,
			    *error ? error : NULL, &old);
	if (r < 0)
		goto out;
	/* A pod recreated under the same name is another pod: the old uid goes. */
	if (*old.node && *old.uid && strcmp(old.uid, uid) != 0)
		push_state_set_pod(rc->cfg.state, old.node, ns, name, old.uid, NULL,
				   kube_loop_now_ms());

	if (node && !*error) {
		/* compiled NULL (nothing selects it any more, or it finished) removes it. */
		r = push_state_set_pod(rc->cfg.state, node, ns, name, uid, compiled,
				       kube_loop_now_ms());
		if (r > 0)
			log_info(2, compiled ? "pod policy pushed" : "pod policy removed", "pod",
				 key, "node", node);
		r = r < 0 ? r : 0;
	}
	changed(rc);
out:
	policy_selection_free(sel);
	json_decref(compiled);
	json_decref(selecting);
	json_decref(policies);
	json_decref(pod);
	return r;
}

/* ---- policies ------------------------------------------------------------------------------ */

int controller_policy_profile(const json_t *policy, json_t **ret)
{
	const json_t *section = json_object_get(json_object_get(policy, "spec"), "seccomp");
	if (!json_is_object(section)) {
		*ret = NULL;
		return 0;
	}
	char key[POLICY_KEY_MAX];
	enum policy_mode mode;
	if (policy_key(policy, key) < 0 || policy_mode(policy, &mode) < 0)
		return -EINVAL;
	struct policy_section s = {
		.policy = key, .audit = mode == POLICY_MODE_AUDIT, .section = section};
	return seccomp_policy_compile(&s, 1, ret, NULL);
}

static int reconcile_policy(struct reconciler *rc, const char *key)
{
	json_t *policy = kube_informer_get(rc->cfg.policies, key);
	int r = 0;
	if (!policy) {
		r = push_state_set_policy_profile(rc->cfg.state, key, NULL, kube_loop_now_ms());
		if (rc->cfg.policy_gone)
			rc->cfg.policy_gone(key, rc->cfg.userdata);
		changed(rc);
		return r;
	}
	char error[800] = "";
	r = policy_store_check(rc->cfg.store, policy, error, sizeof(error));
	if (r < 0)
		goto out;
	json_t *profile = NULL;
	if (r == 1) {
		r = controller_policy_profile(policy, &profile);
		if (r < 0) {
			log_warn("cannot compile the policy's seccomp profile", "policy", key);
			r = 0;
		}
	} else {
		log_warn("policy is invalid, not applying it", "policy", key, "err", error);
	}
	r = push_state_set_policy_profile(rc->cfg.state, key, profile, kube_loop_now_ms());
	json_decref(profile);
	changed(rc);
out:
	json_decref(policy);
	return r;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int reconciler_reconcile(const char *key, void *ctx)
{
	struct reconciler *rc = ctx;
	double start = now_seconds();
	int r;
	if (strncmp(key, "pod:", 4) == 0)
		r = reconcile_pod(rc, key + 4);
	else if (strncmp(key, "policy:", 7) == 0)
		r = reconcile_policy(rc, key + 7);
	else
		r = 0;
	metric_observe(rc->reconcile_seconds,
		       (const char *[]){strncmp(key, "pod:", 4) == 0 ? "pod" : "policy"},
		       now_seconds() - start);
	if (r < 0)
		log_error(r, "reconcile failed, retrying", "key", key);
	return r;
}

int reconciler_reconcile_node(struct reconciler *rc, const char *node)
{
	json_t *keys = NULL;
	int r = kube_informer_index_keys(rc->cfg.pods, "node", node, &keys);
	if (r < 0)
		return r;
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k) {
		r = reconcile_pod(rc, json_string_value(k));
		if (r < 0)
			break;
	}
	json_decref(keys);
	return r;
}
