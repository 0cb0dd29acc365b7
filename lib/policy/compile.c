/* Composition: every policy selecting a pod becomes that pod's one compiled policy. The order
 * of the selecting policies is fixed here (namespace/name) before any mechanism sees them, so
 * the output, its hash and the seccomp profile name depend only on what the policies say. */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "canonical.h"
#include "cleanup.h"
#include "policy/cache.h"
#include "policy/dispatch.h"

struct selected {
	const json_t *policy;
	const json_t *spec;
	const char *namespace;
	const char *name;
	char key[POLICY_KEY_MAX];
	enum policy_mode mode;
};

static int compare_selected(const void *a, const void *b)
{
	const struct selected *x = a, *y = b;
	int c = strcmp(x->namespace, y->namespace);
	return c ? c : strcmp(x->name, y->name);
}

/* The policies among policies[0..n) that select pod, sorted by namespace/name, into a new
 * array (free() it; NULL with *ret_n 0 when none). */
static int select_policies(const json_t *pod, json_t *const *policies, size_t n,
			   struct selected **ret, size_t *ret_n, struct field_error *err)
{
	const json_t *pod_meta = json_object_get(pod, "metadata");
	const char *pod_ns = json_string_value(json_object_get(pod_meta, "namespace"));
	if (!pod_ns || !*pod_ns)
		return field_error_set(err, "pod.metadata.namespace", "required");

	_cleanup_free_ struct selected *sel = NULL;
	size_t n_sel = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *p = policies[i];
		const char *ns = json_string_value(
			json_object_get(json_object_get(p, "metadata"), "namespace"));
		/* Another namespace's policy never applies; skip it before looking further, so a
		 * broken policy elsewhere cannot fail this pod. */
		if (!ns || strcmp(ns, pod_ns) != 0)
			continue;

		struct selected s = {.policy = p};
		if (policy_key(p, s.key) < 0)
			return field_error_set(err, "metadata.name",
					       "a policy in namespace %s has no valid name", ns);
		int r = policy_selects_pod(p, pod);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return field_error_set(err, "spec.podSelector",
					       "policy %s: invalid label selector", s.key);
		if (r == 0)
			continue;
		s.spec = json_object_get(p, "spec");
		if (policy_mode(p, &s.mode) < 0)
			return field_error_set(err, "spec.mode",
					       "policy %s: must be Enforce or Audit", s.key);
		s.namespace = ns;
		s.name = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));

		if (n_sel == 0) {
			/* At most n policies select the pod; one allocation bounds the work. */
			sel = calloc(n - i, sizeof(*sel));
			if (!sel)
				return -ENOMEM;
		}
		sel[n_sel++] = s;
	}

	if (n_sel > 1)
		qsort(sel, n_sel, sizeof(*sel), compare_selected);
	for (size_t i = 1; i < n_sel; i++)
		if (compare_selected(&sel[i - 1], &sel[i]) == 0)
			return field_error_set(err, "metadata.name",
					       "policy %s is listed twice; pass one version of "
					       "each policy",
					       sel[i].key);
	*ret = TAKE_PTR(sel);
	*ret_n = n_sel;
	return 0;
}

static int exec_composition(const struct selected *sel, size_t n, json_t **ret,
			    struct field_error *err)
{
	bool any = false, enabled = false;
	json_auto_t *denied = json_array();
	json_auto_t *audit_denied = json_array();
	if (!denied || !audit_denied)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		const json_t *section = json_object_get(sel[i].spec, "execRecording");
		if (!section)
			continue;
		if (!json_is_object(section))
			return field_error_set(err, "spec.execRecording",
					       "policy %s: must be an object", sel[i].key);
		any = true;
		const json_t *en = json_object_get(section, "enabled");
		const json_t *allow = json_object_get(section, "allowExec");
		if ((en && !json_is_boolean(en)) || (allow && !json_is_boolean(allow)))
			return field_error_set(err, "spec.execRecording",
					       "policy %s: enabled and allowExec must be true or "
					       "false",
					       sel[i].key);
		/* Recording only observes, so an Audit policy turns it on as well. */
		if (json_is_true(en))
			enabled = true;
		if (json_is_false(allow)) {
			json_t *list = sel[i].mode == POLICY_MODE_ENFORCE ? denied : audit_denied;
			if (json_array_append_new(list, json_string(sel[i].key)) < 0)
				return -ENOMEM;
		}
	}
	if (!any) {
		*ret = NULL;
		return 0;
	}

	json_auto_t *out = json_pack("{s:b, s:b}", "enabled", enabled, "allowExec",
				     json_array_size(denied) == 0);
	if (!out)
		return -ENOMEM;
	if (json_array_size(denied) > 0 && json_object_set(out, "deniedBy", denied) < 0)
		return -ENOMEM;
	if (json_array_size(audit_denied) > 0 &&
	    json_object_set(out, "auditDeniedBy", audit_denied) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(out);
	return 0;
}

int policy_compose_exec(const json_t *pod, json_t *const *policies, size_t n, json_t **ret,
			struct field_error *err)
{
	_cleanup_free_ struct selected *sel = NULL;
	size_t n_sel = 0;
	int r = select_policies(pod, policies, n, &sel, &n_sel, err);
	if (r < 0)
		return r;
	return exec_composition(sel, n_sel, ret, err);
}

int policy_seccomp_profile_name(const json_t *profile, char ret_name[POLICY_PROFILE_NAME_MAX])
{
	char hex[65];
	int r = json_canonical_sha256(profile, hex);
	if (r < 0)
		return r;
	snprintf(ret_name, POLICY_PROFILE_NAME_MAX, "bulwark/%s.json", hex);
	return 0;
}

/* The "pod" object: who the compiled policy is for. A pod under admission may not have a
 * name, uid or node yet, so only what is there is copied. */
static json_t *pod_identity(const json_t *pod)
{
	const json_t *meta = json_object_get(pod, "metadata");
	json_t *out = json_object();
	if (!out)
		return NULL;
	static const struct {
		const char *key;
		const char *from;
	} fields[] = {{"namespace", "metadata"},
		      {"name", "metadata"},
		      {"uid", "metadata"},
		      {"nodeName", "spec"}};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const json_t *src =
			strcmp(fields[i].from, "spec") == 0 ? json_object_get(pod, "spec") : meta;
		const json_t *v = json_object_get(src, fields[i].key);
		if (json_is_string(v) && json_string_length(v) > 0 &&
		    json_object_set_new(out, fields[i].key, json_string(json_string_value(v))) <
			    0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static json_t *provenance(const struct selected *sel, size_t n)
{
	json_t *list = json_array();
	if (!list)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *entry = json_pack("{s:s, s:s, s:s}", "namespace", sel[i].namespace, "name",
					  sel[i].name, "mode",
					  sel[i].mode == POLICY_MODE_AUDIT ? "Audit" : "Enforce");
		const json_t *gen =
			json_object_get(json_object_get(sel[i].policy, "metadata"), "generation");
		if (!entry ||
		    (json_is_integer(gen) &&
		     json_object_set_new(entry, "generation",
					 json_integer(json_integer_value(gen))) < 0) ||
		    json_array_append_new(list, entry) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* Runs one mechanism's compiler over the sections of the selecting policies that have one.
 * *ret is NULL when none does. */
static int compile_mechanism(const struct policy_mechanism *m, const struct selected *sel, size_t n,
			     json_t **ret, struct field_error *err)
{
	_cleanup_free_ struct policy_section *sections = calloc(n, sizeof(*sections));
	if (!sections)
		return -ENOMEM;
	size_t n_sections = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *section = json_object_get(sel[i].spec, m->key);
		if (!section)
			continue;
		if (!json_is_object(section)) {
			char field[32];
			snprintf(field, sizeof(field), "spec.%s", m->key);
			return field_error_set(err, field, "policy %s: must be an object",
					       sel[i].key);
		}
		sections[n_sections++] = (struct policy_section){
			.policy = sel[i].key,
			.audit = sel[i].mode == POLICY_MODE_AUDIT,
			.section = section,
		};
	}
	if (n_sections == 0) {
		*ret = NULL;
		return 0;
	}
	json_t *compiled = NULL;
	int r = m->compile(sections, n_sections, &compiled, err);
	if (r < 0)
		return r;
	if (!compiled)
		return -EINVAL;
	*ret = compiled;
	return 0;
}

/* A seccomp compiler returns the OCI profile; the pod refers to it by content. */
static int wrap_seccomp(json_t *profile, json_t **ret)
{
	char name[POLICY_PROFILE_NAME_MAX];
	int r = policy_seccomp_profile_name(profile, name);
	if (r < 0)
		return r;
	json_t *out = json_pack("{s:s, s:O}", "profileName", name, "profile", profile);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

/* The network, seccomp and landlock values of the compiled policy, as one object. */
static int compile_mechanisms(const struct selected *sel, size_t n, json_t **ret,
			      struct field_error *err)
{
	json_auto_t *out = json_object();
	if (!out)
		return -ENOMEM;
	for (const struct policy_mechanism *m = policy_mechanisms; m->key; m++) {
		json_auto_t *compiled = NULL;
		int r = compile_mechanism(m, sel, n, &compiled, err);
		if (r < 0)
			return r;
		if (!compiled)
			continue;
		if (strcmp(m->key, "seccomp") == 0) {
			json_auto_t *wrapped = NULL;
			r = wrap_seccomp(compiled, &wrapped);
			if (r < 0)
				return r;
			json_decref(compiled);
			compiled = TAKE_PTR(wrapped);
		}
		if (json_object_set(out, m->key, compiled) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

/* Everything compile_mechanisms() reads: per selecting policy, in order, its key, its mode and
 * its mechanism sections. Equal keys mean equal compiled sections. */
static int selection_key(const struct selected *sel, size_t n, char ret_hex[65])
{
	json_auto_t *list = json_array();
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *sections = json_object();
		if (json_array_append_new(list, json_pack("[s, b, o]", sel[i].key,
							  sel[i].mode == POLICY_MODE_AUDIT,
							  sections)) < 0)
			return -ENOMEM;
		for (const struct policy_mechanism *m = policy_mechanisms; m->key; m++) {
			json_t *section = json_object_get(sel[i].spec, m->key);
			if (section && json_object_set(sections, m->key, section) < 0)
				return -ENOMEM;
		}
	}
	return json_canonical_sha256(list, ret_hex);
}

/* What the cache keeps for one selection: the compiled sections ("values") and their canonical
 * bytes ("canonical"), so a hit skips serializing them again for the hash as well. */
static int cache_entry_new(json_t *mechanisms, json_t **ret)
{
	json_auto_t *canonical = json_object();
	if (!canonical)
		return -ENOMEM;
	const char *key;
	json_t *value;
	json_object_foreach (mechanisms, key, value) {
		_cleanup_free_ char *bytes = json_canonical_dump(value);
		if (!bytes || json_object_set_new(canonical, key, json_string(bytes)) < 0)
			return -ENOMEM;
	}
	json_t *entry = json_pack("{s:O, s:O}", "values", mechanisms, "canonical", canonical);
	if (!entry)
		return -ENOMEM;
	*ret = entry;
	return 0;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* json_canonical_sha256(out), reusing the canonical bytes of the values in `canonical`: the
 * canonical form of an object is its sorted members' canonical forms, so the pieces can be
 * joined instead of serialized again. Keys are our own identifiers: nothing to escape. */
static int hash_from_pieces(const json_t *out, const json_t *canonical, char ret_hex[65])
{
	const char *keys[16];
	size_t n = 0;
	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)out, key, value) {
		if (n == ARRAY_SIZE(keys))
			return -E2BIG;
		keys[n++] = key;
	}
	qsort(keys, n, sizeof(keys[0]), compare_strings);

	_cleanup_buf_ struct buf b = BUF_INIT(POLICY_COMPILED_MAX_BYTES);
	int r = buf_append_str(&b, "{");
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = buf_printf(&b, "%s\"%s\":", i ? "," : "", keys[i]);
		const char *piece = json_string_value(json_object_get(canonical, keys[i]));
		if (r >= 0 && piece) {
			r = buf_append_str(&b, piece);
		} else if (r >= 0) {
			_cleanup_free_ char *bytes =
				json_canonical_dump(json_object_get(out, keys[i]));
			r = bytes ? buf_append_str(&b, bytes) : -ENOMEM;
		}
	}
	if (r >= 0)
		r = buf_append_str(&b, "}");
	if (r < 0)
		return r;
	return sha256_hex(b.data, b.len, ret_hex);
}

struct policy_selection {
	size_t n;
	struct selected *sel;
};

int policy_select(const json_t *pod, json_t *const *policies, size_t n,
		  struct policy_selection **ret, struct field_error *err)
{
	struct policy_selection *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = select_policies(pod, policies, n, &s->sel, &s->n, err);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct policy_selection *policy_selection_free(struct policy_selection *s)
{
	if (s) {
		free(s->sel);
		free(s);
	}
	return NULL;
}

size_t policy_selection_count(const struct policy_selection *s)
{
	return s ? s->n : 0;
}

const char *policy_selection_key(const struct policy_selection *s, size_t i)
{
	return s && i < s->n ? s->sel[i].key : NULL;
}

int policy_compile_pod_cached(struct policy_cache *cache, const json_t *pod,
			      json_t *const *policies, size_t n, json_t **ret_compiled,
			      struct field_error *err)
{
	struct policy_selection *s = NULL;
	int r = policy_select(pod, policies, n, &s, err);
	if (r < 0)
		return r;
	r = policy_compile_selection(cache, pod, s, ret_compiled, err);
	policy_selection_free(s);
	return r;
}

int policy_compile_selection(struct policy_cache *cache, const json_t *pod,
			     const struct policy_selection *s, json_t **ret_compiled,
			     struct field_error *err)
{
	const struct selected *sel = s->sel;
	size_t n_sel = s->n;
	int r;
	if (n_sel == 0) {
		*ret_compiled = NULL;
		return 0;
	}

	json_auto_t *out = json_object();
	if (!out)
		return -ENOMEM;
	if (json_object_set_new(out, "pod", pod_identity(pod)) < 0 ||
	    json_object_set_new(out, "policies", provenance(sel, n_sel)) < 0)
		return -ENOMEM;

	char key[65];
	json_auto_t *entry = NULL;
	if (cache) {
		r = selection_key(sel, n_sel, key);
		if (r < 0)
			return r;
		entry = json_incref(policy_cache_get(cache, key));
	}
	if (!entry) {
		json_auto_t *mechanisms = NULL;
		r = compile_mechanisms(sel, n_sel, &mechanisms, err);
		if (r < 0)
			return r;
		if (cache) {
			r = cache_entry_new(mechanisms, &entry);
			if (r < 0)
				return r;
			policy_cache_put(cache, key, entry);
		} else {
			entry = json_pack("{s:O}", "values", mechanisms);
			if (!entry)
				return -ENOMEM;
		}
	}
	if (json_object_update(out, json_object_get(entry, "values")) < 0)
		return -ENOMEM;

	json_t *exec = NULL;
	r = exec_composition(sel, n_sel, &exec, err);
	if (r < 0)
		return r;
	if (exec && json_object_set_new(out, "execRecording", exec) < 0)
		return -ENOMEM;

	char hash[65];
	const json_t *canonical = json_object_get(entry, "canonical");
	r = canonical ? hash_from_pieces(out, canonical, hash) : json_canonical_sha256(out, hash);
	if (r < 0)
		return r;
	if (json_object_set_new(out, "hash", json_string(hash)) < 0)
		return -ENOMEM;
	*ret_compiled = TAKE_PTR(out);
	return 0;
}

int policy_compile_pod(const json_t *pod, json_t *const *policies, size_t n, json_t **ret_compiled,
		       struct field_error *err)
{
	return policy_compile_pod_cached(NULL, pod, policies, n, ret_compiled, err);
}
