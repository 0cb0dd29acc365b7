/* Validation of a BulwarkPolicy object as a whole and the policy-to-pod selection. Each
 * mechanism section is validated by its own module; this file checks what surrounds them. */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "policy/dispatch.h"
#include "kube/selector.h"

/* Fields a BulwarkPolicy may carry at its top level and in spec. Anything else is a typo or a
 * field from a newer API version; the CRD prunes it server-side without a word, so the webhook
 * and kubectl-bulwark name it instead. */
static const char *const object_fields[] = {"apiVersion", "kind", "metadata", "spec", "status"};
static const char *const spec_fields[] = {"podSelector", "mode",     "network",
					  "seccomp",	 "landlock", "execRecording"};
static const char *const exec_fields[] = {"enabled", "allowExec"};

#define DNS1123_LABEL_MAX     63
#define DNS1123_SUBDOMAIN_MAX 253

/* Edit distance of two short identifiers, capped: only "is it within 2" matters. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return 99;
	size_t row[33];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Rejects any key of obj not in known, naming it and, for a near miss, the intended field. */
static int check_known_fields(const json_t *obj, const char *field, const char *const *known,
			      size_t n_known, struct field_error *err)
{
	const char *key;
	const json_t *value;
	json_object_foreach ((json_t *)obj, key, value) {
		const char *closest = NULL;
		size_t best = 3;
		bool found = false;
		for (size_t i = 0; i < n_known && !found; i++) {
			if (strcmp(key, known[i]) == 0) {
				found = true;
				break;
			}
			size_t d = edit_distance(key, known[i]);
			if (d < best) {
				best = d;
				closest = known[i];
			}
		}
		if (found)
			continue;
		if (closest)
			return field_error_set(err, field,
					       "unknown field \"%.64s\" (did you mean \"%s\"?)",
					       key, closest);
		return field_error_set(err, field, "unknown field \"%.64s\"", key);
	}
	return 0;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric. */
static bool is_dns1123_label(const char *s, size_t len)
{
	if (len == 0 || len > DNS1123_LABEL_MAX)
		return false;
	if (!is_alnum_lower(s[0]) || !is_alnum_lower(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 subdomain: dot-separated labels, 253 characters at most. Object names follow it. */
static bool is_dns1123_subdomain(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > DNS1123_SUBDOMAIN_MAX)
		return false;
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (!is_dns1123_label(p, l))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static int validate_metadata(const json_t *metadata, struct field_error *err)
{
	if (!json_is_object(metadata))
		return field_error_set(err, "metadata", "required object");

	const json_t *name = json_object_get(metadata, "name");
	const json_t *generate = json_object_get(metadata, "generateName");
	if (name) {
		if (!json_is_string(name))
			return field_error_set(err, "metadata.name", "must be a string");
		if (!is_dns1123_subdomain(json_string_value(name)))
			return field_error_set(
				err, "metadata.name",
				"invalid name \"%.253s\": must be a lowercase RFC 1123 subdomain "
				"(a-z, 0-9, '-' and '.', starting and ending alphanumeric, at "
				"most 253 characters)",
				json_string_value(name));
	} else if (!generate) {
		return field_error_set(err, "metadata.name", "required");
	} else if (!json_is_string(generate)) {
		return field_error_set(err, "metadata.generateName", "must be a string");
	}

	const json_t *ns = json_object_get(metadata, "namespace");
	if (ns) {
		const char *s = json_is_string(ns) ? json_string_value(ns) : NULL;
		if (!s || !is_dns1123_label(s, strlen(s)))
			return field_error_set(
				err, "metadata.namespace",
				"must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 "
				"characters)");
	}
	return 0;
}

static int parse_mode(const json_t *spec, enum policy_mode *ret_mode, struct field_error *err)
{
	const json_t *mode = json_object_get(spec, "mode");
	if (!mode) {
		*ret_mode = POLICY_MODE_ENFORCE;
		return 0;
	}
	const char *s = json_is_string(mode) ? json_string_value(mode) : "";
	if (strcmp(s, "Enforce") == 0)
		*ret_mode = POLICY_MODE_ENFORCE;
	else if (strcmp(s, "Audit") == 0)
		*ret_mode = POLICY_MODE_AUDIT;
	else if (json_is_string(mode))
		return field_error_set(err, "spec.mode", "must be Enforce or Audit, not \"%.64s\"",
				       s);
	else
		return field_error_set(err, "spec.mode", "must be the string Enforce or Audit");
	return 0;
}

int policy_mode(const json_t *policy, enum policy_mode *ret_mode)
{
	const json_t *spec = json_object_get(policy, "spec");
	if (!json_is_object(spec))
		return -EINVAL;
	return parse_mode(spec, ret_mode, NULL);
}

static int check_requires_one_of(const json_t *section, const char *field, const char *const *keys,
				 struct field_error *err)
{
	if (!keys)
		return 0;
	char names[128] = "";
	size_t len = 0;
	for (size_t i = 0; keys[i]; i++) {
		if (json_object_get(section, keys[i]))
			return 0;
		int n = snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "", keys[i]);
		if (n > 0 && (size_t)n < sizeof(names) - len)
			len += (size_t)n;
	}
	return field_error_set(err, field,
			       "must set at least one of %s: an empty section does nothing", names);
}

static int validate_exec_recording(const json_t *section, struct field_error *err)
{
	if (!json_is_object(section))
		return field_error_set(err, "spec.execRecording", "must be an object");
	int r = check_known_fields(section, "spec.execRecording", exec_fields,
				   ARRAY_SIZE(exec_fields), err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(exec_fields); i++) {
		const json_t *v = json_object_get(section, exec_fields[i]);
		if (v && !json_is_boolean(v)) {
			char field[64];
			snprintf(field, sizeof(field), "spec.execRecording.%s", exec_fields[i]);
			return field_error_set(err, field, "must be true or false");
		}
	}
	return 0;
}

int policy_validate(const json_t *policy, struct field_error *err)
{
	if (!json_is_object(policy))
		return field_error_set(err, "", "a BulwarkPolicy must be a JSON object");

	const json_t *api = json_object_get(policy, "apiVersion");
	if (!json_is_string(api) || strcmp(json_string_value(api), POLICY_API_VERSION) != 0)
		return field_error_set(err, "apiVersion", "must be " POLICY_API_VERSION);
	const json_t *kind = json_object_get(policy, "kind");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), POLICY_KIND) != 0)
		return field_error_set(err, "kind", "must be " POLICY_KIND);
	int r = check_known_fields(policy, "", object_fields, ARRAY_SIZE(object_fields), err);
	if (r < 0)
		return r;
	r = validate_metadata(json_object_get(policy, "metadata"), err);
	if (r < 0)
		return r;

	const json_t *spec = json_object_get(policy, "spec");
	if (!json_is_object(spec))
		return field_error_set(err, "spec", "required object");
	r = check_known_fields(spec, "spec", spec_fields, ARRAY_SIZE(spec_fields), err);
	if (r < 0)
		return r;

	const json_t *selector = json_object_get(spec, "podSelector");
	if (!selector)
		return field_error_set(err, "spec.podSelector",
				       "required: {} selects every pod in the namespace");
	if (!json_is_object(selector))
		return field_error_set(err, "spec.podSelector",
				       "must be a label selector object ({} selects every pod)");
	struct kube_selector *parsed = NULL;
	r = kube_selector_from_json(selector, "spec.podSelector", &parsed, err);
	kube_selector_free(parsed);
	if (r < 0)
		return r;

	enum policy_mode mode;
	r = parse_mode(spec, &mode, err);
	if (r < 0)
		return r;

	bool any_section = false;
	for (const struct policy_mechanism *m = policy_mechanisms; m->key; m++) {
		const json_t *section = json_object_get(spec, m->key);
		if (!section)
			continue;
		any_section = true;
		char field[32];
		snprintf(field, sizeof(field), "spec.%s", m->key);
		if (!json_is_object(section))
			return field_error_set(err, field, "must be an object");
		r = m->validate(section, field, err);
		if (r < 0)
			return r;
		r = check_requires_one_of(section, field, m->requires_one_of, err);
		if (r < 0)
			return r;
	}
	const json_t *exec = json_object_get(spec, "execRecording");
	if (exec) {
		any_section = true;
		r = validate_exec_recording(exec, err);
		if (r < 0)
			return r;
	}
	if (!any_section)
		return field_error_set(err, "spec",
				       "must set at least one of network, seccomp, landlock, "
				       "execRecording: a policy without them enforces nothing");
	return 0;
}

static const char *metadata_string(const json_t *object, const char *key)
{
	return json_string_value(json_object_get(json_object_get(object, "metadata"), key));
}

int policy_key(const json_t *object, char ret_key[POLICY_KEY_MAX])
{
	const char *ns = metadata_string(object, "namespace");
	const char *name = metadata_string(object, "name");
	if (!ns || !name || !*ns || !*name)
		return -EINVAL;
	if (strlen(ns) > DNS1123_LABEL_MAX || strlen(name) > DNS1123_SUBDOMAIN_MAX)
		return -EINVAL;
	snprintf(ret_key, POLICY_KEY_MAX, "%s/%s", ns, name);
	return 0;
}

int policy_selects_pod(const json_t *policy, const json_t *pod)
{
	const char *policy_ns = metadata_string(policy, "namespace");
	const char *pod_ns = metadata_string(pod, "namespace");
	if (!policy_ns || !pod_ns)
		return -EINVAL;
	if (strcmp(policy_ns, pod_ns) != 0)
		return 0;
	const json_t *selector = json_object_get(json_object_get(policy, "spec"), "podSelector");
	if (!json_is_object(selector))
		return -EINVAL;
	struct kube_selector *parsed = NULL;
	int r = kube_selector_from_json(selector, "spec.podSelector", &parsed, NULL);
	if (r < 0)
		return r;
	const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	r = kube_selector_matches(parsed, labels) ? 1 : 0;
	kube_selector_free(parsed);
	return r;
}
