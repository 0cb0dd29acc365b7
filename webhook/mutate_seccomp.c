/* Seccomp: binds the pod's content-addressed Localhost profile (written on every node by the
 * agent) to the pod and to each of its containers.
 *
 * Kubernetes precedence: a container's securityContext.seccompProfile wins over the pod's.
 * So the pod-level setting covers containers that set nothing (and ephemeral debug containers
 * added later), and each container is set explicitly as well. Under an Enforce policy any
 * other setting the pod asked for (Unconfined, RuntimeDefault, another Localhost profile) is
 * overridden, with a warning; under Audit only, the pod's own choice stays and the warning
 * says what would happen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "webhook/mutate.h"

static const char *profile_text(const json_t *p, char *out, size_t size)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	const char *local = json_string_value(json_object_get(p, "localhostProfile"));
	if (type && local)
		snprintf(out, size, "%s %s", type, local);
	else
		snprintf(out, size, "%s", type ? type : "(no type)");
	return out;
}

struct seccomp_ctx {
	const struct pod_mutation *m;
	const json_t *want;
	bool enforced;
	char policies[256];
};

/* The setting of one securityContext: overrides, keeps, or fills it. effective is what applies
 * now (the container's own or, when absent, the pod's, as the kubelet resolves it). A
 * container inheriting the pod's setting is not warned about (warn false): the pod-level
 * warning says it once. */
static int bind_profile(const struct seccomp_ctx *c, json_t *owner, const json_t *effective,
			bool warn, const char *field)
{
	char have[128];
	if (effective && json_equal(effective, c->want)) {
		/* Already ours, perhaps inherited: make it explicit for the reader. */
		json_t *sc = mutate_object_member(owner, "securityContext");
		if (!sc)
			return -ENOMEM;
		if (!json_equal(json_object_get(sc, "seccompProfile"), c->want) &&
		    json_object_set(sc, "seccompProfile", (json_t *)c->want) < 0)
			return -ENOMEM;
		return 0;
	}
	if (effective && !c->enforced) {
		if (warn)
			mutate_warn(
				c->m,
				"%s: %s kept; Audit policy %s would bind Localhost %s under "
				"Enforce",
				field, profile_text(effective, have, sizeof(have)), c->policies,
				json_string_value(json_object_get(c->want, "localhostProfile")));
		return 0;
	}
	if (effective && warn)
		mutate_warn(c->m, "%s: %s overridden by Localhost %s (Enforce policy %s)", field,
			    profile_text(effective, have, sizeof(have)),
			    json_string_value(json_object_get(c->want, "localhostProfile")),
			    c->policies);
	json_t *sc = mutate_object_member(owner, "securityContext");
	if (!sc || json_object_set(sc, "seccompProfile", (json_t *)c->want) < 0)
		return -ENOMEM;
	return 0;
}

static int seccomp_mutate(const struct pod_mutation *m, json_t *pod, struct field_error *err)
{
	const char *profile = json_string_value(
		json_object_get(json_object_get(m->compiled, "seccomp"), "profileName"));
	if (!profile)
		return 0;
	json_auto_t *want =
		json_pack("{s:s, s:s}", "type", "Localhost", "localhostProfile", profile);
	if (!want)
		return -ENOMEM;
	struct seccomp_ctx c = {.m = m, .want = want};
	c.enforced = mutate_mechanism_enforced(m, "seccomp", c.policies, sizeof(c.policies));

	json_t *spec = json_object_get(pod, "spec");
	/* What the pod asked for before we touched it: containers that set nothing inherit it. */
	json_auto_t *pod_level = json_incref(
		json_object_get(json_object_get(spec, "securityContext"), "seccompProfile"));
	if (pod_level && !json_is_object(pod_level)) {
		json_decref(pod_level);
		pod_level = NULL;
	}

	static const char *const lists[] = {"initContainers", "containers"};
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (json_object_get(spec, lists[l]), i, ctr) {
			if (!json_is_object(ctr))
				continue;
			const char *name = json_string_value(json_object_get(ctr, "name"));
			/* Our launcher-installing init container runs under RuntimeDefault, not the
			 * workload's profile: it is not the workload. */
			if (l == 0 && name && strcmp(name, MUTATE_LAUNCHER_CONTAINER) == 0)
				continue;
			char field[128];
			snprintf(field, sizeof(field), "spec.%s[%zu]", lists[l], i);
			const json_t *sc = json_object_get(ctr, "securityContext");
			if (c.enforced && json_is_true(json_object_get(sc, "privileged"))) {
				snprintf(field, sizeof(field),
					 "spec.%s[%zu].securityContext.privileged", lists[l], i);
				field_error_set(
					err, field,
					"the container runtime applies no seccomp profile to a "
					"privileged container, so Enforce policy %s cannot "
					"be enforced; drop privileged, or exclude this pod from "
					"the policy's podSelector",
					c.policies);
				return -EPERM;
			}
			const json_t *own = json_object_get(sc, "seccompProfile");
			const json_t *effective = json_is_object(own) ? own : pod_level;
			snprintf(field, sizeof(field), "spec.%s[%zu] (%s)", lists[l], i,
				 name ? name : "?");
			int r = bind_profile(&c, ctr, effective, json_is_object(own), field);
			if (r < 0)
				return r;
		}
	}
	return bind_profile(&c, spec, pod_level, true, "spec.securityContext");
}

const struct pod_mutator mutator_seccomp = {"seccomp", seccomp_mutate};
