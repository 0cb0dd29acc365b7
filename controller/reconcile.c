/* Reconciling one work-queue key: a pod's compiled policy onto its node's push state, or a
 * policy's validity and seccomp profile. Both read only the informer caches, so a key can be
 * reconciled any number of times with the same result. */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "kube/object.h"
#include "log.h"
#include "policy/policy.h"
#include "seccomp/policy.h"

/* ---- policy validity --------------------------------------------------------------------- */

int controller_policy_valid(struct controller *c, const json_t *policy, char *error, size_t size)
{
	char key[POLICY_KEY_MAX];
	if (policy_key(policy, key) < 0)
		return 0;
	const char *rv = kube_object_resource_version(policy) ?: "";
	pthread_mutex_lock(&c->validity_lock);
	json_t *v = json_object_get(c->validity, key);
	if (v && strcmp(json_string_value(json_object_get(v, "rv")) ?: "", rv) == 0) {
		const char *e = json_string_value(json_object_get(v, "error"));
		if (e && error)
			snprintf(error, size, "%s", e);
		pthread_mutex_unlock(&c->validity_lock);
		return e ? 0 : 1;
	}
	pthread_mutex_unlock(&c->validity_lock);

	struct field_error err = {0};
	int r = policy_validate(policy, &err);
	if (r < 0 && r != -EINVAL)
		return r;
	char msg[800] = "";
	if (r == -EINVAL)
		field_error_str(&err, msg, sizeof(msg));
	json_t *rec = r == 0 ? json_pack("{s:s}", "rv", rv)
			     : json_pack("{s:s,s:s}", "rv", rv, "error", msg);
	if (!rec)
		return -ENOMEM;
	pthread_mutex_lock(&c->validity_lock);
	json_object_set_new(c->validity, key, rec);
	pthread_mutex_unlock(&c->validity_lock);
	if (r == -EINVAL && error)
		snprintf(error, size, "%s", msg);
	return r == 0;
}

/* The valid policies of namespace ns, as a new array (the cached objects themselves). */
static int valid_policies(struct controller *c, const char *ns, json_t **ret)
{
	json_t *all = NULL;
	int r = kube_informer_by_index(c->policies, "namespace", ns, &all);
	if (r < 0)
		return r;
	json_t *valid = json_array();
	if (!valid) {
		json_decref(all);
		return -ENOMEM;
	}
	size_t i;
	json_t *p;
	json_array_foreach (all, i, p) {
		r = controller_policy_valid(c, p, NULL, 0);
		if (r < 0) {
			json_decref(all);
			json_decref(valid);
			return r;
		}
		if (r == 1)
			json_array_append(valid, p);
	}
	json_decref(all);
	*ret = valid;
	return 0;
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
static int compile_pod(struct controller *c, const json_t *pod, json_t *const *policies, size_t n,
		       json_t **ret, struct field_error *err)
{
	unsigned long hits, misses_before, misses_after;
	pthread_mutex_lock(&c->cache_lock);
	policy_cache_stats(c->cache, &hits, &misses_before);
	int r = policy_compile_pod_cached(c->cache, pod, policies, n, ret, err);
	policy_cache_stats(c->cache, &hits, &misses_after);
	if (r == 0 && *ret && misses_after != misses_before) {
		json_t *seccomp = json_object_get(*ret, "seccomp");
		const char *name = json_string_value(json_object_get(seccomp, "profileName"));
		json_t *shared = name ? push_state_profile(c->state, name) : NULL;
		if (shared && json_equal(shared, json_object_get(seccomp, "profile")))
			json_object_set(seccomp, "profile", shared);
		json_decref(shared);
	}
	pthread_mutex_unlock(&c->cache_lock);
	return r;
}

/* ---- pods ---------------------------------------------------------------------------------- */

static bool pod_terminal(const json_t *pod)
{
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

static int reconcile_pod(struct controller *c, const char *key)
{
	char ns[64], name[254];
	int r = kube_key_split(key, ns, sizeof(ns), name, sizeof(name));
	if (r < 0)
		return 0; /* not a key we could have produced: nothing to retry */
	json_t *pod = kube_informer_get(c->pods, key);
	const char *uid = pod ? kube_object_uid(pod) : NULL;
	const char *node =
		pod ? json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"))
		    : NULL;
	if (node && !*node)
		node = NULL;

	if (!pod || !uid) {
		struct pod_record_prev old;
		pod_records_remove(c->records, key, &old);
		if (*old.node)
			push_state_set_pod(c->state, old.node, ns, name, old.uid, NULL,
					   kube_loop_now_ms());
		json_decref(pod);
		controller_status_changed(c);
		return 0;
	}

	json_t *policies = NULL;
	r = valid_policies(c, ns, &policies);
	if (r < 0) {
		json_decref(pod);
		return r;
	}
	bool active = !pod_terminal(pod);
	json_t *selecting = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (policies, i, p) {
		char pk[POLICY_KEY_MAX];
		if (policy_selects_pod(p, pod) == 1 && policy_key(p, pk) == 0)
			json_array_append_new(selecting, json_string(pk));
	}

	json_t *compiled = NULL;
	char error[800] = "";
	if (node && active && json_array_size(selecting) > 0) {
		size_t n = json_array_size(policies);
		json_t **arr = calloc(n ? n : 1, sizeof(*arr));
		if (!arr) {
			r = -ENOMEM;
			goto out;
		}
		json_array_foreach (policies, i, p)
			arr[i] = p;
		struct field_error err = {0};
		r = compile_pod(c, pod, arr, n, &compiled, &err);
		free(arr);
		if (r == -EINVAL) {
			field_error_str(&err, error, sizeof(error));
			metric_add(c->m.compile_errors, NULL, 1);
			log_warn("cannot compile the pod's policy, it keeps the previous one",
				 "pod", key, "err", error);
			r = 0;
		} else if (r < 0) {
			goto out;
		}
	}

	struct pod_record_prev old;
	r = pod_records_put(c->records, key, uid, node, active, selecting, *error ? error : NULL,
			    &old);
	if (r < 0)
		goto out;
	/* A pod recreated under the same name is another pod: the old uid goes. */
	if (*old.node && *old.uid && strcmp(old.uid, uid) != 0)
		push_state_set_pod(c->state, old.node, ns, name, old.uid, NULL, kube_loop_now_ms());

	if (node && !*error) {
		/* compiled NULL (nothing selects it any more, or it finished) removes it. */
		r = push_state_set_pod(c->state, node, ns, name, uid, compiled, kube_loop_now_ms());
		if (r > 0)
			log_info(2, compiled ? "pod policy pushed" : "pod policy removed", "pod",
				 key, "node", node);
		r = r < 0 ? r : 0;
	}
	controller_status_changed(c);
out:
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

static int reconcile_policy(struct controller *c, const char *key)
{
	json_t *policy = kube_informer_get(c->policies, key);
	int r = 0;
	if (!policy) {
		pthread_mutex_lock(&c->validity_lock);
		json_object_del(c->validity, key);
		pthread_mutex_unlock(&c->validity_lock);
		r = push_state_set_policy_profile(c->state, key, NULL, kube_loop_now_ms());
		pthread_mutex_lock(&c->status_lock);
		json_object_del(c->written, key);
		pthread_mutex_unlock(&c->status_lock);
		controller_status_changed(c);
		return r;
	}
	char error[800] = "";
	r = controller_policy_valid(c, policy, error, sizeof(error));
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
	r = push_state_set_policy_profile(c->state, key, profile, kube_loop_now_ms());
	json_decref(profile);
	controller_status_changed(c);
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

int controller_reconcile(const char *key, void *ctx)
{
	struct controller *c = ctx;
	double start = now_seconds();
	int r;
	if (strncmp(key, "pod:", 4) == 0)
		r = reconcile_pod(c, key + 4);
	else if (strncmp(key, "policy:", 7) == 0)
		r = reconcile_policy(c, key + 7);
	else
		r = 0;
	metric_observe(c->m.reconcile_seconds,
		       (const char *[]){strncmp(key, "pod:", 4) == 0 ? "pod" : "policy"},
		       now_seconds() - start);
	if (r < 0)
		log_error(r, "reconcile failed, retrying", "key", key);
	return r;
}

int controller_reconcile_node(struct controller *c, const char *node)
{
	json_t *keys = NULL;
	int r = kube_informer_index_keys(c->pods, "node", node, &keys);
	if (r < 0)
		return r;
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k) {
		r = reconcile_pod(c, json_string_value(k));
		if (r < 0)
			break;
	}
	json_decref(keys);
	return r;
}
