/* Landlock: Landlock restricts only the calling process and its children, so the pod's
 * compiled ruleset must be applied from inside each container. The mutation:
 *   - the ruleset as the pod annotation bulwark.dev/landlock-ruleset (canonical JSON), exposed
 *     to the containers by a downwardAPI volume as /bulwark/landlock/ruleset.json;
 *   - an emptyDir mounted at /bulwark/bin, filled by an init container (the bulwark image,
 *     first of the init containers) that copies the static bulwark-launch into it;
 *   - every container's command rewritten to
 *       /bulwark/bin/bulwark-launch --ruleset /bulwark/landlock/ruleset.json -- CMD ARGS...
 *     (args move into the command, so the kubelet's $(VAR) expansion still applies to them).
 * A container without an explicit command cannot be wrapped (the image's entrypoint is not
 * known at admission): denied under Enforce, a warning under Audit. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "cleanup.h"
#include "webhook/mutate.h"

struct landlock_ctx {
	const struct pod_mutation *m;
	bool enforced;
	char policies[256];
};

static bool is_named(const json_t *obj, const char *name)
{
	const char *n = json_string_value(json_object_get(obj, "name"));
	return n && strcmp(n, name) == 0;
}

/* Puts value into the array under key (created when absent) in place of the element named
 * name, or at position `at` (-1: the end) when there is none. 0 or -ENOMEM. */
static int upsert_named(json_t *parent, const char *key, const char *name, json_t *value, long at)
{
	json_t *list = json_object_get(parent, key);
	if (!json_is_array(list)) {
		list = json_array();
		if (!list || json_object_set_new(parent, key, list) < 0)
			return -ENOMEM;
	}
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e)
		if (is_named(e, name))
			return json_equal(e, value) || json_array_set(list, i, value) == 0
				       ? 0
				       : -ENOMEM;
	if (at < 0 || (size_t)at > json_array_size(list))
		return json_array_append(list, value) == 0 ? 0 : -ENOMEM;
	return json_array_insert(list, (size_t)at, value) == 0 ? 0 : -ENOMEM;
}

/* A volume of the pod already using one of our names must be one we added (same type);
 * anything else is the user's, and silently replacing it would break their pod. */
static int check_volume_name(json_t *spec, const char *name, const char *type,
			     struct field_error *err)
{
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(spec, "volumes"), i, v) {
		if (!is_named(v, name) || json_object_get(v, type))
			continue;
		char field[64];
		snprintf(field, sizeof(field), "spec.volumes[%zu].name", i);
		field_error_set(err, field,
				"\"%s\" is reserved for Bulwark's Landlock launcher; rename this "
				"volume",
				name);
		return -EPERM;
	}
	return 0;
}

/* True when the pod is Guaranteed QoS (every container limits cpu and memory, requests equal
 * to limits where given): then our init container needs requests = limits too, or the pod
 * would silently become Burstable and move to another cgroup. */
static bool pod_guaranteed(const json_t *spec)
{
	static const char *const lists[] = {"initContainers", "containers"};
	static const char *const res[] = {"cpu", "memory"};
	bool any = false;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c) {
			if (l == 0 && is_named(c, MUTATE_LAUNCHER_CONTAINER))
				continue;
			const json_t *r = json_object_get(c, "resources");
			const json_t *limits = json_object_get(r, "limits");
			const json_t *requests = json_object_get(r, "requests");
			for (size_t k = 0; k < ARRAY_SIZE(res); k++) {
				const json_t *lim = json_object_get(limits, res[k]);
				const json_t *req = json_object_get(requests, res[k]);
				if (!lim || (req && !json_equal(lim, req)))
					return false;
			}
			any = true;
		}
	}
	return any;
}

static json_t *launcher_container(const struct pod_mutation *m, bool guaranteed)
{
	json_t *c = json_pack(
		"{s:s, s:s, s:s, s:[s,s,s], s:[{s:s, s:s}], s:s, s:{s:b, s:b, s:b, s:i, s:i, "
		"s:{s:[s]}, s:{s:s}}}",
		"name", MUTATE_LAUNCHER_CONTAINER, "image", m->opts->launcher_image,
		"imagePullPolicy", "IfNotPresent", "command", "cp", m->opts->launcher_path,
		MUTATE_LAUNCHER, "volumeMounts", "name", MUTATE_LAUNCHER_VOLUME, "mountPath",
		MUTATE_LAUNCHER_DIR, "terminationMessagePolicy", "FallbackToLogsOnError",
		"securityContext", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
		"runAsNonRoot", 1, "runAsUser", 65534, "runAsGroup", 65534, "capabilities", "drop",
		"ALL", "seccompProfile", "type", "RuntimeDefault");
	if (c && guaranteed) {
		json_t *r = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", "10m",
				      "memory", "16Mi", "limits", "cpu", "10m", "memory", "16Mi");
		if (!r || json_object_set_new(c, "resources", r) < 0) {
			json_decref(c);
			return NULL;
		}
	}
	return c;
}

/* Rewrites one container's command to go through the launcher, and mounts what it needs.
 * 1 when the container runs through the launcher, 0 when it was skipped (Audit, no command),
 * or a negative errno. */
static int wrap_container(const struct landlock_ctx *c, json_t *ctr, const char *list, size_t i,
			  struct field_error *err)
{
	const char *name = json_string_value(json_object_get(ctr, "name"));
	json_t *command = json_object_get(ctr, "command");
	bool wrapped = json_is_array(command) && json_array_size(command) > 0 &&
		       json_is_string(json_array_get(command, 0)) &&
		       strcmp(json_string_value(json_array_get(command, 0)), MUTATE_LAUNCHER) == 0;
	if (!wrapped && (!json_is_array(command) || json_array_size(command) == 0)) {
		char field[96];
		snprintf(field, sizeof(field), "spec.%s[%zu].command", list, i);
		if (c->enforced) {
			field_error_set(
				err, field,
				"required: Landlock policy %s (Enforce) starts container "
				"\"%s\" through bulwark-launch, which must know the program "
				"to run; set command (and args) to the image's entrypoint",
				c->policies, name ? name : "?");
			return -EPERM;
		}
		mutate_warn(c->m,
			    "%s: not set, so Audit Landlock policy %s is not applied to container "
			    "\"%s\"; set command to the image's entrypoint",
			    field, c->policies, name ? name : "?");
		return 0;
	}

	if (!wrapped) {
		json_auto_t *argv = json_pack("[s,s,s,s]", MUTATE_LAUNCHER, "--ruleset",
					      MUTATE_RULESET_FILE, "--");
		if (!argv || json_array_extend(argv, command) < 0)
			return -ENOMEM;
		json_t *args = json_object_get(ctr, "args");
		if (json_is_array(args) && json_array_extend(argv, args) < 0)
			return -ENOMEM;
		if (json_object_set(ctr, "command", argv) < 0)
			return -ENOMEM;
		json_object_del(ctr, "args");
	}

	/* A mount of someone else's volume at our paths would hide the launcher or ruleset. */
	size_t k;
	json_t *vm;
	json_array_foreach (json_object_get(ctr, "volumeMounts"), k, vm) {
		const char *path = json_string_value(json_object_get(vm, "mountPath"));
		if (!path || is_named(vm, MUTATE_LAUNCHER_VOLUME) ||
		    is_named(vm, MUTATE_RULESET_VOLUME))
			continue;
		if (strcmp(path, "/bulwark") == 0 || strncmp(path, "/bulwark/", 9) == 0) {
			char field[128];
			snprintf(field, sizeof(field), "spec.%s[%zu].volumeMounts[%zu].mountPath",
				 list, i, k);
			field_error_set(err, field,
					"%s is where Bulwark mounts the Landlock launcher and "
					"ruleset; mount this volume elsewhere",
					path);
			return -EPERM;
		}
	}
	json_auto_t *bin = json_pack("{s:s, s:s, s:b}", "name", MUTATE_LAUNCHER_VOLUME, "mountPath",
				     MUTATE_LAUNCHER_DIR, "readOnly", 1);
	json_auto_t *rules = json_pack("{s:s, s:s, s:b}", "name", MUTATE_RULESET_VOLUME,
				       "mountPath", MUTATE_RULESET_DIR, "readOnly", 1);
	if (!bin || !rules)
		return -ENOMEM;
	int r = upsert_named(ctr, "volumeMounts", MUTATE_LAUNCHER_VOLUME, bin, -1);
	if (r == 0)
		r = upsert_named(ctr, "volumeMounts", MUTATE_RULESET_VOLUME, rules, -1);
	return r < 0 ? r : 1;
}

/* Pods of one workload share one compiled ruleset object (policy_compile_pod_cached), so each
 * review thread remembers the last ruleset it serialized and its text: the serialization was
 * half of this mutator's cost. The memo holds a reference, so the pointer it compares cannot
 * be reused by another object while it is remembered. */
struct ruleset_memo {
	json_t *ruleset;
	char *text;
};

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_free(void *p)
{
	struct ruleset_memo *memo = p;
	json_decref(memo->ruleset);
	free(memo->text);
	free(memo);
}

static void memo_key_create(void)
{
	if (pthread_key_create(&memo_key, memo_free) != 0)
		memo_key = (pthread_key_t)-1;
}

/* The canonical text of ruleset (free() it), or NULL on ENOMEM. */
static char *ruleset_text(const json_t *ruleset)
{
	pthread_once(&memo_once, memo_key_create);
	bool have_key = memo_key != (pthread_key_t)-1;
	struct ruleset_memo *memo = have_key ? pthread_getspecific(memo_key) : NULL;
	if (memo && memo->ruleset == ruleset)
		return strdup(memo->text);
	char *text = json_canonical_dump(ruleset);
	if (!text)
		return NULL;
	if (!memo && have_key) {
		memo = calloc(1, sizeof(*memo));
		if (memo && pthread_setspecific(memo_key, memo) != 0) {
			free(memo);
			memo = NULL;
		}
	}
	char *copy = memo ? strdup(text) : NULL;
	if (!copy)
		return text; /* not remembered; still correct */
	json_decref(memo->ruleset);
	free(memo->text);
	memo->ruleset = json_incref((json_t *)ruleset);
	memo->text = text;
	return copy;
}

static int landlock_mutate(const struct pod_mutation *m, json_t *pod, struct field_error *err)
{
	const json_t *ruleset = json_object_get(m->compiled, "landlock");
	if (!ruleset)
		return 0;
	struct landlock_ctx c = {.m = m};
	c.enforced = mutate_mechanism_enforced(m, "landlock", c.policies, sizeof(c.policies));
	json_t *spec = json_object_get(pod, "spec");

	_cleanup_free_ char *text = ruleset_text(ruleset);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	if (len > MUTATE_RULESET_MAX) {
		if (!c.enforced) {
			mutate_warn(
				m,
				"the compiled Landlock ruleset is %zu bytes, over the %u bytes a "
				"pod annotation may carry; Audit policy %s is not applied",
				len, MUTATE_RULESET_MAX, c.policies);
			return 0;
		}
		field_error_set(err, "spec.landlock",
				"the compiled Landlock ruleset of policy %s is %zu bytes, over the "
				"%u bytes a pod annotation may carry; list fewer paths (a parent "
				"directory covers its children)",
				c.policies, len, MUTATE_RULESET_MAX);
		return -EPERM;
	}

	int r;
	if ((r = check_volume_name(spec, MUTATE_LAUNCHER_VOLUME, "emptyDir", err)) < 0 ||
	    (r = check_volume_name(spec, MUTATE_RULESET_VOLUME, "downwardAPI", err)) < 0)
		return r;

	/* Containers first: a denial must come before anything else is added. */
	static const char *const lists[] = {"initContainers", "containers"};
	size_t wrapped = 0;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach (json_object_get(spec, lists[l]), i, ctr) {
			if (!json_is_object(ctr) ||
			    (l == 0 && is_named(ctr, MUTATE_LAUNCHER_CONTAINER)))
				continue;
			if ((r = wrap_container(&c, ctr, lists[l], i, err)) < 0)
				return r;
			wrapped += (size_t)r;
		}
	}
	if (wrapped == 0)
		return 0; /* Audit, and no container could be wrapped: nothing to deliver */

	json_t *annotations =
		mutate_object_member(mutate_object_member(pod, "metadata"), "annotations");
	if (!annotations ||
	    json_object_set_new(annotations, MUTATE_ANNOTATION_RULESET, json_string(text)) < 0)
		return -ENOMEM;

	json_auto_t *bin_volume = json_pack("{s:s, s:{s:s}}", "name", MUTATE_LAUNCHER_VOLUME,
					    "emptyDir", "sizeLimit", "32Mi");
	json_auto_t *rules_volume = json_pack(
		"{s:s, s:{s:i, s:[{s:s, s:{s:s}}]}}", "name", MUTATE_RULESET_VOLUME, "downwardAPI",
		"defaultMode", 0444, "items", "path", "ruleset.json", "fieldRef", "fieldPath",
		"metadata.annotations['" MUTATE_ANNOTATION_RULESET "']");
	json_auto_t *init = launcher_container(m, pod_guaranteed(spec));
	if (!bin_volume || !rules_volume || !init)
		return -ENOMEM;
	if ((r = upsert_named(spec, "volumes", MUTATE_LAUNCHER_VOLUME, bin_volume, -1)) < 0 ||
	    (r = upsert_named(spec, "volumes", MUTATE_RULESET_VOLUME, rules_volume, -1)) < 0 ||
	    (r = upsert_named(spec, "initContainers", MUTATE_LAUNCHER_CONTAINER, init, 0)) < 0)
		return r;
	return 0;
}

const struct pod_mutator mutator_landlock = {"landlock", landlock_mutate};
