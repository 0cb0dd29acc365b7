/* The leader's status writer: folds the agents' acknowledgements and the pod records into each
 * BulwarkPolicy's status, writes only what changed, at a bounded rate, and records a Warning
 * Event when a policy becomes Degraded or Invalid. */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/policy_status.h"
#include "kube/object.h"
#include "log.h"

static const struct kube_resource RES_EVENTS = {"", "v1", "events", true};

json_t *controller_policy_status(struct controller *c, const json_t *policy, const json_t *nodes,
				 const json_t *matched, const json_t *old_status, const char *now)
{
	char error[800] = "";
	int valid = controller_policy_valid(c, policy, error, sizeof(error));
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
static void record_event(struct controller *c, const json_t *policy, const char *reason,
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
		c->cfg.identity ? c->cfg.identity : "bulwark-controller");
	if (!ev)
		return;
	struct kube_status st;
	int r = kube_create(c->client, &RES_EVENTS, ns, ev, NULL, &st);
	if (r < 0)
		log_error(r, "cannot record an event", "policy", name, "reason", reason, "detail",
			  st.message);
	json_decref(ev);
}

static int patch_status(struct controller *c, const json_t *policy, json_t *status)
{
	char *url = NULL;
	int r = kube_url_build(c->kube_cfg->server, &BULWARK_RES_POLICIES,
			       kube_object_namespace(policy), kube_object_name(policy), "status",
			       NULL, &url);
	if (r < 0)
		return r;
	json_t *patch = json_pack("{s:O}", "status", status);
	struct kube_status st = {0};
	r = patch ? kube_request(c->client, "PATCH", url, "application/merge-patch+json", patch,
				 NULL, &st)
		  : -ENOMEM;
	if (r < 0 && r != -ENOENT)
		log_error(r, "cannot write policy status", "policy", kube_object_name(policy),
			  "namespace", kube_object_namespace(policy), "detail", st.message);
	json_decref(patch);
	free(url);
	return r;
}

struct bucket {
	double tokens;
	uint64_t at_ms;
};

/* One pass over every policy. Returns true when it stopped early for the rate limit. */
static bool write_statuses(struct controller *c, struct bucket *b)
{
	json_t *nodes = NULL, *policies = NULL;
	json_t *matched = pod_records_by_policy(c->records, POLICY_STATUS_MAX_FAILURES);
	if (!matched || push_state_policy_nodes(c->state, POLICY_STATUS_MAX_FAILURES, &nodes) < 0 ||
	    kube_informer_list(c->policies, &policies) < 0) {
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
		if (!controller_serving(c))
			break;
		char key[POLICY_KEY_MAX];
		if (policy_key(policy, key) < 0)
			continue;
		const char *rv = kube_object_resource_version(policy) ?: "";
		/* Until the cache shows our last write, that write is the status to compare
		 * with (and to keep transition times from). */
		pthread_mutex_lock(&c->status_lock);
		json_t *w = json_object_get(c->written, key);
		json_t *old = json_incref(
			w && strcmp(json_string_value(json_object_get(w, "rv")) ?: "", rv) == 0
				? json_object_get(w, "status")
				: json_object_get(policy, "status"));
		pthread_mutex_unlock(&c->status_lock);
		json_t *status = controller_policy_status(c, policy, json_object_get(nodes, key),
							  json_object_get(matched, key), old, now);
		if (!status || json_equal(old, status)) {
			json_decref(status);
			json_decref(old);
			continue;
		}
		uint64_t t = kube_loop_now_ms();
		b->tokens += (double)(t - b->at_ms) / 1000.0 * c->cfg.status_qps;
		b->at_ms = t;
		if (b->tokens > c->cfg.status_qps * 2)
			b->tokens = c->cfg.status_qps * 2;
		if (b->tokens < 1) {
			json_decref(status);
			json_decref(old);
			limited = true;
			break;
		}
		b->tokens -= 1;
		int r = patch_status(c, policy, status);
		metric_add(c->m.status_writes, (const char *[]){r < 0 ? "error" : "written"}, 1);
		if (r == 0) {
			pthread_mutex_lock(&c->status_lock);
			json_object_set_new(c->written, key,
					    json_pack("{s:s,s:O}", "rv", rv, "status", status));
			pthread_mutex_unlock(&c->status_lock);
			const json_t *deg = find_condition(status, "Degraded");
			if (condition_is(status, "Degraded", "True", NULL) &&
			    !condition_is(old, "Degraded", "True", NULL))
				record_event(c, policy,
					     json_string_value(json_object_get(deg, "reason")),
					     json_string_value(json_object_get(deg, "message")),
					     now);
			const json_t *ready = find_condition(status, "Ready");
			if (condition_is(status, "Ready", "False", "Invalid") &&
			    !condition_is(old, "Ready", "False", "Invalid"))
				record_event(c, policy, "Invalid",
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

void controller_status_changed(struct controller *c)
{
	pthread_mutex_lock(&c->status_lock);
	c->status_dirty = true;
	pthread_cond_signal(&c->status_cond);
	pthread_mutex_unlock(&c->status_lock);
}

void *controller_status_thread(void *arg)
{
	struct controller *c = arg;
	struct bucket b = {.tokens = c->cfg.status_qps, .at_ms = kube_loop_now_ms()};
	uint64_t last_full = 0;
	while (!atomic_load(&c->stopping)) {
		pthread_mutex_lock(&c->status_lock);
		if (!c->status_dirty) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->status_cond, &c->status_lock, &ts);
		}
		bool dirty = c->status_dirty;
		c->status_dirty = false;
		pthread_mutex_unlock(&c->status_lock);
		if (atomic_load(&c->stopping))
			break;
		uint64_t now = kube_loop_now_ms();
		/* A pass now and then even when nothing was signalled: a status someone else
		 * overwrote is put back. */
		if (!dirty && now - last_full < 30000)
			continue;
		if (!controller_serving(c))
			continue;
		last_full = now;
		if (write_statuses(c, &b))
			controller_status_changed(c);
		/* Coalesce bursts of acks and reconciles into one pass. */
		struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	return NULL;
}
