#include "push.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {
	[PUSH_SNAPSHOT] = "SNAPSHOT", [PUSH_UPSERT] = "UPSERT",	      [PUSH_DELETE] = "DELETE",
	[PUSH_PROFILES] = "PROFILES", [PUSH_HEARTBEAT] = "HEARTBEAT",
};

const char *push_type_name(enum push_type t)
{
	return t <= PUSH_HEARTBEAT ? type_names[t] : "?";
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int push_validate_profile_name(const char *name)
{
	static const char prefix[] = "bulwark/", suffix[] = ".json";
	size_t len = strlen(name);
	if (len != strlen(prefix) + 64 + strlen(suffix) || strncmp(name, prefix, 8) != 0 ||
	    strcmp(name + len - 5, suffix) != 0)
		return -EINVAL;
	char hex[65];
	memcpy(hex, name + 8, 64);
	hex[64] = '\0';
	return is_hex(hex, 64) ? 0 : -EINVAL;
}

/* A Kubernetes name or namespace: non-empty, at most 253, no '/' (it would break keys). */
static bool kube_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 253 && !strchr(s, '/');
}

static int validate_pod_ref(const json_t *pod, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"namespace", "name", "uid"};
	char f[300];
	if (!json_is_object(pod))
		return field_error_set(err, field, "must be an object");
	for (size_t i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(pod, keys[i]));
		snprintf(f, sizeof(f), "%s.%s", field, keys[i]);
		if (!v)
			return field_error_set(err, f, "missing");
		if (!kube_name_ok(v))
			return field_error_set(err, f, "invalid value \"%.64s\"", v);
	}
	return 0;
}

int push_validate_compiled_pod(const json_t *compiled, const char *field, struct field_error *err)
{
	char f[300];
	if (!json_is_object(compiled))
		return field_error_set(err, field, "must be an object");
	snprintf(f, sizeof(f), "%s.pod", field);
	int r = validate_pod_ref(json_object_get(compiled, "pod"), f, err);
	if (r < 0)
		return r;
	const char *hash = json_string_value(json_object_get(compiled, "hash"));
	snprintf(f, sizeof(f), "%s.hash", field);
	if (!hash)
		return field_error_set(err, f, "missing");
	if (!is_hex(hash, 64))
		return field_error_set(err, f, "must be 64 lowercase hex digits");
	return 0;
}

static int validate_profiles(const json_t *profiles, struct field_error *err)
{
	if (!json_is_object(profiles))
		return field_error_set(err, "profiles", "must be an object");
	if (json_object_size(profiles) > PUSH_PROFILES_MAX)
		return field_error_set(err, "profiles", "more than %u profiles", PUSH_PROFILES_MAX);
	const char *name;
	json_t *profile;
	json_object_foreach ((json_t *)profiles, name, profile) {
		char f[300];
		snprintf(f, sizeof(f), "profiles[\"%.100s\"]", name);
		if (push_validate_profile_name(name) < 0)
			return field_error_set(err, f, "name must be bulwark/<sha256>.json");
		if (!json_is_object(profile) || !json_object_get(profile, "defaultAction"))
			return field_error_set(err, f, "not a seccomp profile (no defaultAction)");
	}
	return 0;
}

int push_message_parse(const char *line, size_t len, struct push_message *ret,
		       struct field_error *err)
{
	if (len > PUSH_LINE_MAX)
		return field_error_set(err, "", "message of %zu bytes exceeds %u", len,
				       PUSH_LINE_MAX);
	json_error_t jerr;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return field_error_set(err, "", "malformed JSON at line %d column %d: %s",
				       jerr.line, jerr.column, jerr.text);
	struct push_message m = {.root = root};
	int r = 0;
	const char *type = json_string_value(json_object_get(root, "type"));
	const char *epoch = json_string_value(json_object_get(root, "epoch"));
	const json_t *version = json_object_get(root, "version");
	if (!json_is_object(root)) {
		r = field_error_set(err, "", "message must be a JSON object");
		goto out;
	}
	if (!type) {
		r = field_error_set(err, "type", "missing");
		goto out;
	}
	for (m.type = PUSH_SNAPSHOT; m.type <= PUSH_HEARTBEAT; m.type++)
		if (strcmp(type, type_names[m.type]) == 0)
			break;
	if (m.type > PUSH_HEARTBEAT) {
		r = field_error_set(err, "type", "unknown message type \"%.32s\"", type);
		goto out;
	}
	if (!epoch || !*epoch || strlen(epoch) >= sizeof(m.epoch)) {
		r = field_error_set(err, "epoch", "missing or longer than 64 characters");
		goto out;
	}
	snprintf(m.epoch, sizeof(m.epoch), "%s", epoch);
	if (!json_is_integer(version) || json_integer_value(version) < 0) {
		r = field_error_set(err, "version", "must be a non-negative integer");
		goto out;
	}
	m.version = (uint64_t)json_integer_value(version);

	switch (m.type) {
	case PUSH_SNAPSHOT: {
		m.pods = json_object_get(root, "pods");
		if (!json_is_array(m.pods)) {
			r = field_error_set(err, "pods", "must be an array");
			goto out;
		}
		if (json_array_size(m.pods) > PUSH_PODS_MAX) {
			r = field_error_set(err, "pods", "more than %u pods", PUSH_PODS_MAX);
			goto out;
		}
		size_t i;
		json_t *pod;
		json_t *seen = json_object();
		json_array_foreach (m.pods, i, pod) {
			char f[32];
			snprintf(f, sizeof(f), "pods[%zu]", i);
			r = push_validate_compiled_pod(pod, f, err);
			if (r < 0)
				break;
			const char *uid = json_string_value(
				json_object_get(json_object_get(pod, "pod"), "uid"));
			if (json_object_get(seen, uid)) {
				r = field_error_set(err, f, "pod uid %s appears twice", uid);
				break;
			}
			json_object_set_new(seen, uid, json_true());
		}
		json_decref(seen);
		if (r < 0)
			goto out;
		m.profiles = json_object_get(root, "profiles");
		if (m.profiles && (r = validate_profiles(m.profiles, err)) < 0)
			goto out;
		break;
	}
	case PUSH_UPSERT:
		m.pod = json_object_get(root, "pod");
		r = push_validate_compiled_pod(m.pod, "pod", err);
		break;
	case PUSH_DELETE:
		m.pod = json_object_get(root, "pod");
		r = validate_pod_ref(m.pod, "pod", err);
		break;
	case PUSH_PROFILES:
		m.profiles = json_object_get(root, "profiles");
		r = validate_profiles(m.profiles, err);
		break;
	case PUSH_HEARTBEAT: break;
	}
out:
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*ret = m;
	return 0;
}

void push_message_done(struct push_message *msg)
{
	json_decref(msg->root);
	msg->root = NULL;
}

static json_t *header(const char *type, const char *epoch, uint64_t version)
{
	return json_pack("{s:s,s:s,s:I}", "type", type, "epoch", epoch, "version",
			 (json_int_t)version);
}

json_t *push_build_snapshot(const char *epoch, uint64_t version, json_t *pods, json_t *profiles)
{
	json_t *m = header("SNAPSHOT", epoch, version);
	if (m) {
		json_object_set(m, "pods", pods);
		json_object_set(m, "profiles", profiles);
	}
	return m;
}

json_t *push_build_upsert(const char *epoch, uint64_t version, json_t *compiled)
{
	json_t *m = header("UPSERT", epoch, version);
	if (m)
		json_object_set(m, "pod", compiled);
	return m;
}

json_t *push_build_delete(const char *epoch, uint64_t version, const char *ns, const char *name,
			  const char *uid)
{
	json_t *m = header("DELETE", epoch, version);
	if (m)
		json_object_set_new(
			m, "pod",
			json_pack("{s:s,s:s,s:s}", "namespace", ns, "name", name, "uid", uid));
	return m;
}
