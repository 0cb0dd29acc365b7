/* Pod mutation: selects the policies, compiles the pod's policy exactly as the controller does
 * (lib/policy), runs every mechanism's mutator on a copy of the pod and answers the difference
 * as a JSON Patch. */
#include "webhook/mutate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "policy/policy.h"

/* Provenance last: it describes what the others did. */
static const struct pod_mutator *const mutators[] = {
	&mutator_seccomp,
	&mutator_landlock,
	&mutator_provenance,
};

json_t *mutate_object_member(json_t *parent, const char *key)
{
	json_t *v = json_object_get(parent, key);
	if (json_is_object(v))
		return v;
	v = json_object();
	if (!v || json_object_set_new(parent, key, v) < 0)
		return NULL;
	return v;
}

void mutate_warn(const struct pod_mutation *m, const char *fmt, ...)
{
	size_t n = json_array_size(m->warnings);
	if (n > MUTATE_WARNINGS_MAX)
		return;
	char text[512];
	if (n == MUTATE_WARNINGS_MAX) {
		snprintf(text, sizeof(text), "bulwark: more warnings were left out");
	} else {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
	}
	json_array_append_new(m->warnings, json_string(text));
}

bool mutate_mechanism_enforced(const struct pod_mutation *m, const char *section, char *ret_names,
			       size_t size)
{
	bool enforced = false;
	size_t used = 0;
	if (size)
		ret_names[0] = '\0';
	for (size_t i = 0; i < m->n_selecting; i++) {
		const json_t *p = m->selecting[i];
		if (!json_object_get(json_object_get(p, "spec"), section))
			continue;
		enum policy_mode mode = POLICY_MODE_ENFORCE;
		char key[POLICY_KEY_MAX];
		if (policy_mode(p, &mode) < 0 || policy_key(p, key) < 0)
			continue;
		enforced |= mode == POLICY_MODE_ENFORCE;
		if (used < size) {
			int w = snprintf(ret_names + used, size - used, "%s%s", used ? ", " : "",
					 key);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return enforced;
}

/* ---- provenance: which policies, which compiled policy ---------------------------------- */

static int provenance_mutate(const struct pod_mutation *m, json_t *pod, struct field_error *err)
{
	_cleanup_buf_ struct buf names = BUF_INIT(64u << 10);
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(m->compiled, "policies"), i, p) {
		const char *ns = json_string_value(json_object_get(p, "namespace"));
		const char *name = json_string_value(json_object_get(p, "name"));
		const json_t *gen = json_object_get(p, "generation");
		int r = buf_printf(&names, "%s%s/%s", i ? "," : "", ns ? ns : "", name ? name : "");
		if (r == 0 && json_is_integer(gen))
			r = buf_printf(&names, "@%lld", (long long)json_integer_value(gen));
		if (r < 0)
			return r;
	}
	const char *hash = json_string_value(json_object_get(m->compiled, "hash"));
	json_t *annotations =
		mutate_object_member(mutate_object_member(pod, "metadata"), "annotations");
	if (!annotations ||
	    json_object_set_new(annotations, MUTATE_ANNOTATION_POLICIES,
				json_string(buf_str(&names))) < 0 ||
	    (hash &&
	     json_object_set_new(annotations, MUTATE_ANNOTATION_HASH, json_string(hash)) < 0))
		return -ENOMEM;
	return 0;
}

const struct pod_mutator mutator_provenance = {"provenance", provenance_mutate};

/* ---- the whole mutation ------------------------------------------------------------------ */

/* The pod as lib/policy sees it: with the request's namespace when the object has none (a
 * manifest without metadata.namespace). A new reference. */
static json_t *pod_for_compile(const json_t *pod, const char *namespace)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	if ((ns && *ns) || !namespace)
		return json_incref((json_t *)pod);
	json_t *copy = json_copy((json_t *)pod);
	json_t *md_copy = json_is_object(md) ? json_copy((json_t *)md) : json_object();
	if (!copy || !md_copy ||
	    json_object_set_new(md_copy, "namespace", json_string(namespace)) < 0 ||
	    json_object_set_new(copy, "metadata", md_copy) < 0) {
		json_decref(copy);
		return NULL;
	}
	return copy;
}

int mutate_pod(const struct mutate_options *opts, struct policy_cache *cache, const json_t *pod,
	       const char *namespace, json_t *const *policies, size_t n, json_t **ret_patch,
	       json_t *warnings, struct field_error *err)
{
	if (!json_is_object(pod))
		return field_error_set(err, "request.object", "required: the Pod");
	if (!json_is_object(json_object_get(pod, "spec")))
		return field_error_set(err, "spec", "required");
	json_auto_t *subject = pod_for_compile(pod, namespace);
	if (!subject)
		return -ENOMEM;

	_cleanup_free_ json_t **selecting = n ? calloc(n, sizeof(*selecting)) : NULL;
	if (n && !selecting)
		return -ENOMEM;
	size_t n_selecting = 0;
	for (size_t i = 0; i < n; i++) {
		int r = policy_selects_pod(policies[i], subject);
		if (r == -ENOMEM)
			return r;
		if (r == 1)
			selecting[n_selecting++] = policies[i];
	}
	if (n_selecting == 0) {
		*ret_patch = NULL;
		return 0;
	}

	/* seccomp profiles and Landlock exist on Linux only; the apiserver refuses a seccomp
	 * profile on a Windows pod, with a message that would not say why it is there. */
	const char *os = json_string_value(
		json_object_get(json_object_get(json_object_get(pod, "spec"), "os"), "name"));
	if (os && strcmp(os, "windows") == 0) {
		char key[POLICY_KEY_MAX] = "";
		policy_key(selecting[0], key);
		field_error_set(
			err, "spec.os.name",
			"BulwarkPolicy %s selects this Windows pod, but Bulwark enforces Linux "
			"kernel mechanisms only; exclude Windows pods from the policy's "
			"podSelector",
			key);
		return -EPERM;
	}

	json_auto_t *compiled = NULL;
	int r = policy_compile_pod_cached(cache, subject, selecting, n_selecting, &compiled, err);
	if (r < 0)
		return r;
	if (!compiled) {
		*ret_patch = NULL;
		return 0;
	}

	json_auto_t *mutated = json_deep_copy(pod);
	if (!mutated)
		return -ENOMEM;
	struct pod_mutation m = {
		.opts = opts,
		.compiled = compiled,
		.selecting = selecting,
		.n_selecting = n_selecting,
		.warnings = warnings,
	};
	for (size_t i = 0; i < ARRAY_SIZE(mutators); i++)
		if ((r = mutators[i]->mutate(&m, mutated, err)) < 0)
			return r;

	json_auto_t *ops = json_array();
	if (!ops || (r = json_patch_diff(pod, mutated, "", ops)) < 0)
		return -ENOMEM;
	*ret_patch = json_array_size(ops) ? json_incref(ops) : NULL;
	return 0;
}

int mutate_check_update(const json_t *old_pod, const json_t *new_pod, struct field_error *err)
{
	const json_t *old_a = json_object_get(json_object_get(old_pod, "metadata"), "annotations");
	const json_t *new_a = json_object_get(json_object_get(new_pod, "metadata"), "annotations");
	const char *key;
	json_t *v;
	/* Both directions: a removed annotation and one added after admission. */
	const json_t *sides[2] = {old_a, new_a};
	for (int s = 0; s < 2; s++) {
		json_object_foreach ((json_t *)sides[s], key, v) {
			if (strncmp(key, "bulwark.dev/", 12) != 0)
				continue;
			if (json_equal(json_object_get(old_a, key), json_object_get(new_a, key)))
				continue;
			char field[256];
			snprintf(field, sizeof(field), "metadata.annotations[%.200s]", key);
			field_error_set(
				err, field,
				"written by Bulwark when the pod was admitted; it cannot be "
				"changed, added or removed afterwards (delete and re-create "
				"the pod to apply current policies)");
			return -EPERM;
		}
	}
	return 0;
}
