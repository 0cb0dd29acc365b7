/* Pod mutation: the JSON Patch the webhook answers for each mechanism, applied back to the pod
 * by a small RFC 6902 applier here so every test checks the pod the apiserver would store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "canonical.h"
#include "cleanup.h"
#include "policy/policy.h"
#include "webhook/mutate.h"

static const struct mutate_options opts = {
	.launcher_image = "registry.test/bulwark:1",
	.launcher_path = "/usr/local/bin/bulwark-launch",
};

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON at %d: %s\n%s", e.line, e.text, text);
	return j;
}

static json_t *policy(const char *name, const char *mode, const char *sections)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"generation\":3},"
		 "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"mode\":\"%s\",%s}"
		 "}",
		 name, mode, sections);
	json_t *p = parse(text);
	struct field_error err = {0};
	char msg[800];
	if (policy_validate(p, &err) < 0)
		fail_msg("test policy invalid: %s", field_error_str(&err, msg, sizeof(msg)));
	return p;
}

#define SECCOMP_SECTION "\"seccomp\":{\"deny\":[{\"syscalls\":[\"ptrace\"]}]}"
#define LANDLOCK_SECTION                                                                        \
	"\"landlock\":{\"filesystem\":[{\"paths\":[\"/usr\",\"/bin\"],\"access\":[\"execute\"," \
	"\"read_file\",\"read_dir\"]}]}"

static json_t *web_pod(const char *container_extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","
		 "\"namespace\":\"shop\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
		 "[{\"name\":\"web\",\"image\":\"nginx\"%s%s}]}}",
		 *container_extra ? "," : "", container_extra);
	return parse(text);
}

/* ---- a minimal RFC 6902 applier (add, replace, remove) ----------------------------------- */

static json_t *resolve_parent(json_t *doc, const char *path, char *last, size_t size)
{
	assert_true(path[0] == '/');
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", path + 1);
	json_t *cur = doc;
	char *seg = buf, *slash;
	while ((slash = strchr(seg, '/'))) {
		*slash = '\0';
		char key[256];
		size_t k = 0;
		for (char *p = seg; *p && k + 1 < sizeof(key); p++) {
			if (p[0] == '~' && p[1] == '1') {
				key[k++] = '/';
				p++;
			} else if (p[0] == '~' && p[1] == '0') {
				key[k++] = '~';
				p++;
			} else {
				key[k++] = *p;
			}
		}
		key[k] = '\0';
		cur = json_is_array(cur) ? json_array_get(cur, strtoul(key, NULL, 10))
					 : json_object_get(cur, key);
		assert_non_null(cur);
		seg = slash + 1;
	}
	size_t k = 0;
	for (char *p = seg; *p && k + 1 < size; p++) {
		if (p[0] == '~' && (p[1] == '1' || p[1] == '0')) {
			last[k++] = p[1] == '1' ? '/' : '~';
			p++;
		} else {
			last[k++] = *p;
		}
	}
	last[k] = '\0';
	return cur;
}

static json_t *apply_patch(const json_t *doc, const json_t *patch)
{
	json_t *out = json_deep_copy(doc);
	size_t i;
	json_t *op;
	json_array_foreach (patch, i, op) {
		const char *kind = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		json_t *value = json_object_get(op, "value");
		assert_non_null(kind);
		assert_non_null(path);
		if (path[0] == '\0') {
			assert_string_equal(kind, "replace");
			json_decref(out);
			out = json_deep_copy(value);
			continue;
		}
		char last[256];
		json_t *parent = resolve_parent(out, path, last, sizeof(last));
		if (json_is_array(parent)) {
			size_t idx = strcmp(last, "-") == 0 ? json_array_size(parent)
							    : strtoul(last, NULL, 10);
			if (strcmp(kind, "add") == 0)
				assert_int_equal(json_array_insert(parent, idx, value), 0);
			else if (strcmp(kind, "replace") == 0)
				assert_int_equal(json_array_set(parent, idx, value), 0);
			else
				assert_int_equal(json_array_remove(parent, idx), 0);
		} else {
			if (strcmp(kind, "remove") == 0 || strcmp(kind, "replace") == 0)
				assert_non_null(json_object_get(parent, last));
			if (strcmp(kind, "remove") == 0)
				json_object_del(parent, last);
			else
				json_object_set(parent, last, value);
		}
	}
	return out;
}

struct outcome {
	int r;
	json_t *patch;
	json_t *warnings;
	json_t *pod; /* the pod after the patch */
	struct field_error err;
};

static struct outcome run(const json_t *pod, json_t **policies, size_t n)
{
	struct outcome o = {.warnings = json_array()};
	o.r = mutate_pod(&opts, NULL, pod, "shop", policies, n, &o.patch, o.warnings, &o.err);
	if (o.r == 0)
		o.pod = o.patch ? apply_patch(pod, o.patch) : json_deep_copy(pod);
	return o;
}

static void outcome_done(struct outcome *o)
{
	json_decref(o->patch);
	json_decref(o->warnings);
	json_decref(o->pod);
}

static const char *at(const json_t *j, const char *path)
{
	/* a tiny dotted-path string getter: "spec.containers.0.name" */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	const json_t *cur = j;
	for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
		if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(tok, NULL, 10));
		else
			cur = json_object_get(cur, tok);
	}
	return json_string_value(cur);
}

static const json_t *node(const json_t *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	const json_t *cur = j;
	for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
		if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(tok, NULL, 10));
		else
			cur = json_object_get(cur, tok);
	}
	return cur;
}

static bool warnings_contain(const json_t *warnings, const char *needle)
{
	size_t i;
	json_t *w;
	json_array_foreach (warnings, i, w)
		if (strstr(json_string_value(w), needle))
			return true;
	return false;
}

static void expected_profile(json_t *p, char name[POLICY_PROFILE_NAME_MAX])
{
	json_t *pod = web_pod("");
	json_t *compiled = NULL;
	assert_int_equal(policy_compile_pod(pod, &p, 1, &compiled, NULL), 0);
	snprintf(name, POLICY_PROFILE_NAME_MAX, "%s", at(compiled, "seccomp.profileName"));
	json_decref(compiled);
	json_decref(pod);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void no_policy_no_patch(void **state)
{
	json_t *pod = web_pod("\"command\":[\"nginx\"]");
	struct outcome o = run(pod, NULL, 0);
	assert_int_equal(o.r, 0);
	assert_null(o.patch);

	/* A policy that selects other labels, and one in another namespace, change nothing. */
	json_t *other = policy("other", "Enforce", SECCOMP_SECTION);
	json_object_set_new(json_object_get(json_object_get(other, "spec"), "podSelector"),
			    "matchLabels", json_pack("{s:s}", "app", "db"));
	json_t *elsewhere = policy("elsewhere", "Enforce", SECCOMP_SECTION);
	json_object_set_new(json_object_get(elsewhere, "metadata"), "namespace",
			    json_string("other"));
	json_t *both[] = {other, elsewhere};
	struct outcome o2 = run(pod, both, 2);
	assert_int_equal(o2.r, 0);
	assert_null(o2.patch);
	assert_int_equal(json_array_size(o2.warnings), 0);
	outcome_done(&o);
	outcome_done(&o2);
	json_decref(other);
	json_decref(elsewhere);
	json_decref(pod);
}

static void seccomp_only(void **state)
{
	json_t *p = policy("web", "Enforce", SECCOMP_SECTION);
	char profile[POLICY_PROFILE_NAME_MAX];
	expected_profile(p, profile);
	assert_true(strncmp(profile, "bulwark/", 8) == 0);

	json_t *pod = web_pod("\"command\":[\"nginx\"]");
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, 0);
	assert_non_null(o.patch);
	/* The exact ops: annotations, the container's and the pod's securityContext. */
	char *text = json_dumps(o.patch, JSON_COMPACT);
	char expect[2048];
	/* The hash is the compiled policy's; check it separately and the rest verbatim. */
	const char *hash = json_string_value(
		json_object_get(node(o.pod, "metadata.annotations"), MUTATE_ANNOTATION_HASH));
	assert_non_null(hash);
	assert_int_equal(strlen(hash), 64);
	snprintf(expect, sizeof(expect),
		 "[{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{"
		 "\"bulwark.dev/policies\":\"shop/web@3\",\"bulwark.dev/policy-hash\":\"%s\"}},"
		 "{\"op\":\"add\",\"path\":\"/spec/containers/0/securityContext\",\"value\":{"
		 "\"seccompProfile\":{\"type\":\"Localhost\",\"localhostProfile\":\"%s\"}}},"
		 "{\"op\":\"add\",\"path\":\"/spec/securityContext\",\"value\":{"
		 "\"seccompProfile\":{\"type\":\"Localhost\",\"localhostProfile\":\"%s\"}}}]",
		 hash, profile, profile);
	assert_string_equal(text, expect);
	free(text);
	/* No Landlock: the command is untouched, nothing injected. */
	assert_string_equal(at(o.pod, "spec.containers.0.command.0"), "nginx");
	assert_null(node(o.pod, "spec.initContainers"));
	assert_null(node(o.pod, "spec.volumes"));
	assert_int_equal(json_array_size(o.warnings), 0);
	outcome_done(&o);
	json_decref(pod);
	json_decref(p);
}

static void landlock_with_command(void **state)
{
	json_t *p = policy("web", "Enforce", LANDLOCK_SECTION);
	json_t *pod = web_pod("\"command\":[\"nginx\",\"-g\"],\"args\":[\"daemon off;\"],"
			      "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\"}]");
	json_object_set_new(json_object_get(pod, "spec"), "volumes",
			    json_pack("[{s:s, s:{}}]", "name", "data", "emptyDir"));
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, 0);
	assert_non_null(o.patch);

	/* The command goes through the launcher; args move into it. */
	json_t *want_cmd = json_pack("[s,s,s,s,s,s,s]", MUTATE_LAUNCHER, "--ruleset",
				     MUTATE_RULESET_FILE, "--", "nginx", "-g", "daemon off;");
	assert_true(json_equal(node(o.pod, "spec.containers.0.command"), want_cmd));
	json_decref(want_cmd);
	assert_null(node(o.pod, "spec.containers.0.args"));
	/* Mounts: the user's, then the launcher and the ruleset, read-only. */
	const json_t *mounts = node(o.pod, "spec.containers.0.volumeMounts");
	assert_int_equal(json_array_size(mounts), 3);
	assert_string_equal(at(o.pod, "spec.containers.0.volumeMounts.1.mountPath"),
			    MUTATE_LAUNCHER_DIR);
	assert_true(json_is_true(node(o.pod, "spec.containers.0.volumeMounts.1.readOnly")));
	assert_string_equal(at(o.pod, "spec.containers.0.volumeMounts.2.mountPath"),
			    MUTATE_RULESET_DIR);
	/* Volumes: emptyDir for the launcher, downwardAPI of the ruleset annotation. */
	assert_int_equal(json_array_size(node(o.pod, "spec.volumes")), 3);
	assert_string_equal(at(o.pod, "spec.volumes.1.name"), MUTATE_LAUNCHER_VOLUME);
	assert_non_null(node(o.pod, "spec.volumes.1.emptyDir"));
	assert_string_equal(at(o.pod, "spec.volumes.2.downwardAPI.items.0.fieldRef.fieldPath"),
			    "metadata.annotations['bulwark.dev/landlock-ruleset']");
	assert_string_equal(at(o.pod, "spec.volumes.2.downwardAPI.items.0.path"), "ruleset.json");
	/* The init container copies the launcher from the bulwark image. */
	assert_string_equal(at(o.pod, "spec.initContainers.0.name"), MUTATE_LAUNCHER_CONTAINER);
	assert_string_equal(at(o.pod, "spec.initContainers.0.image"), opts.launcher_image);
	json_t *cp = json_pack("[s,s,s]", "cp", opts.launcher_path, MUTATE_LAUNCHER);
	assert_true(json_equal(node(o.pod, "spec.initContainers.0.command"), cp));
	json_decref(cp);
	assert_null(node(o.pod, "spec.initContainers.0.resources")); /* BestEffort stays so */
	/* The annotation is the compiled ruleset, canonical. */
	json_t *compiled = NULL;
	assert_int_equal(policy_compile_pod(pod, &p, 1, &compiled, NULL), 0);
	char *canon = json_canonical_dump(json_object_get(compiled, "landlock"));
	assert_string_equal(json_string_value(json_object_get(node(o.pod, "metadata.annotations"),
							      MUTATE_ANNOTATION_RULESET)),
			    canon);
	json_t *ruleset = parse(canon);
	assert_string_equal(at(ruleset, "policies.0.name"), "shop/web");
	assert_non_null(node(ruleset, "layers.0.pathBeneath"));
	json_decref(ruleset);
	free(canon);
	json_decref(compiled);
	/* No seccomp section: no seccomp binding. */
	assert_null(node(o.pod, "spec.securityContext"));
	outcome_done(&o);
	json_decref(pod);
	json_decref(p);
}

static void landlock_without_command(void **state)
{
	json_t *pod = web_pod("");
	json_t *enforce = policy("web", "Enforce", LANDLOCK_SECTION);
	struct outcome o = run(pod, &enforce, 1);
	assert_int_equal(o.r, -EPERM);
	assert_string_equal(o.err.field, "spec.containers[0].command");
	assert_non_null(strstr(o.err.reason, "shop/web"));
	assert_non_null(strstr(o.err.reason, "set command"));
	outcome_done(&o);

	json_t *audit = policy("web", "Audit", LANDLOCK_SECTION);
	struct outcome a = run(pod, &audit, 1);
	assert_int_equal(a.r, 0);
	assert_true(warnings_contain(a.warnings, "spec.containers[0].command: not set"));
	assert_true(warnings_contain(a.warnings, "set command"));
	/* Nothing to deliver when no container can be wrapped; provenance is still recorded. */
	assert_null(node(a.pod, "spec.initContainers"));
	assert_null(
		json_object_get(node(a.pod, "metadata.annotations"), MUTATE_ANNOTATION_RULESET));
	assert_string_equal(json_string_value(json_object_get(node(a.pod, "metadata.annotations"),
							      MUTATE_ANNOTATION_POLICIES)),
			    "shop/web@3");
	outcome_done(&a);
	json_decref(enforce);
	json_decref(audit);
	json_decref(pod);
}

static void enforce_overrides_unconfined(void **state)
{
	json_t *pod = web_pod("\"command\":[\"nginx\"],\"securityContext\":{\"seccompProfile\":"
			      "{\"type\":\"Unconfined\"}}");
	json_object_set_new(json_object_get(pod, "spec"), "securityContext",
			    json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault"));
	json_t *p = policy("web", "Enforce", SECCOMP_SECTION);
	char profile[POLICY_PROFILE_NAME_MAX];
	expected_profile(p, profile);
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, 0);
	assert_string_equal(at(o.pod, "spec.containers.0.securityContext.seccompProfile.type"),
			    "Localhost");
	assert_string_equal(
		at(o.pod, "spec.containers.0.securityContext.seccompProfile.localhostProfile"),
		profile);
	assert_string_equal(at(o.pod, "spec.securityContext.seccompProfile.localhostProfile"),
			    profile);
	char want[256];
	snprintf(want, sizeof(want),
		 "spec.containers[0] (web): Unconfined overridden by Localhost %s (Enforce policy "
		 "shop/web)",
		 profile);
	assert_true(warnings_contain(o.warnings, want));
	assert_true(
		warnings_contain(o.warnings, "spec.securityContext: RuntimeDefault overridden"));
	outcome_done(&o);

	/* Audit keeps what the pod asked for, and says what Enforce would do. */
	json_t *audit = policy("web", "Audit", SECCOMP_SECTION);
	struct outcome a = run(pod, &audit, 1);
	assert_int_equal(a.r, 0);
	assert_string_equal(at(a.pod, "spec.containers.0.securityContext.seccompProfile.type"),
			    "Unconfined");
	assert_string_equal(at(a.pod, "spec.securityContext.seccompProfile.type"),
			    "RuntimeDefault");
	assert_true(warnings_contain(a.warnings, "Unconfined kept; Audit policy shop/web"));
	outcome_done(&a);
	json_decref(audit);
	json_decref(p);
	json_decref(pod);
}

static void privileged_under_enforce_is_denied(void **state)
{
	json_t *pod = web_pod("\"command\":[\"nginx\"],\"securityContext\":{\"privileged\":true}");
	json_t *p = policy("web", "Enforce", SECCOMP_SECTION);
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, -EPERM);
	assert_string_equal(o.err.field, "spec.containers[0].securityContext.privileged");
	outcome_done(&o);
	json_decref(p);
	json_decref(pod);
}

static void idempotent_readmission(void **state)
{
	json_t *pod = web_pod("\"command\":[\"nginx\"],\"args\":[\"-g\",\"daemon off;\"]");
	json_object_set_new(json_object_get(pod, "spec"), "initContainers",
			    json_pack("[{s:s, s:s, s:[s]}]", "name", "setup", "image", "busybox",
				      "command", "true"));
	json_t *ps[] = {policy("web", "Enforce", SECCOMP_SECTION ", " LANDLOCK_SECTION),
			policy("audit", "Audit", SECCOMP_SECTION)};
	struct outcome first = run(pod, ps, 2);
	assert_int_equal(first.r, 0);
	assert_non_null(first.patch);
	/* Ours first, then the user's init container, wrapped too. */
	assert_string_equal(at(first.pod, "spec.initContainers.0.name"), MUTATE_LAUNCHER_CONTAINER);
	assert_string_equal(
		at(first.pod, "spec.initContainers.0.securityContext.seccompProfile.type"),
		"RuntimeDefault");
	assert_string_equal(at(first.pod, "spec.initContainers.1.command.0"), MUTATE_LAUNCHER);
	assert_string_equal(
		at(first.pod, "spec.initContainers.1.securityContext.seccompProfile.type"),
		"Localhost");
	assert_string_equal(
		json_string_value(json_object_get(node(first.pod, "metadata.annotations"),
						  MUTATE_ANNOTATION_POLICIES)),
		"shop/audit@3,shop/web@3");

	struct outcome again = run(first.pod, ps, 2);
	assert_int_equal(again.r, 0);
	if (again.patch) {
		char *t = json_dumps(again.patch, JSON_COMPACT);
		fail_msg("re-admission patched: %s", t);
	}
	assert_int_equal(json_array_size(again.warnings), 0);
	/* The policies in the other order: the same pod, so still nothing. */
	json_t *swapped[] = {ps[1], ps[0]};
	struct outcome third = run(first.pod, swapped, 2);
	assert_int_equal(third.r, 0);
	assert_null(third.patch);
	outcome_done(&first);
	outcome_done(&again);
	outcome_done(&third);
	json_decref(ps[0]);
	json_decref(ps[1]);
	json_decref(pod);
}

static void guaranteed_pod_stays_guaranteed(void **state)
{
	json_t *pod = web_pod("\"command\":[\"nginx\"],\"resources\":{\"limits\":{\"cpu\":\"1\","
			      "\"memory\":\"1Gi\"}}");
	json_t *p = policy("web", "Enforce", LANDLOCK_SECTION);
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, 0);
	assert_string_equal(at(o.pod, "spec.initContainers.0.resources.limits.cpu"), "10m");
	assert_string_equal(at(o.pod, "spec.initContainers.0.resources.requests.memory"), "16Mi");
	outcome_done(&o);
	json_decref(p);
	json_decref(pod);
}

static void reserved_names_are_refused(void **state)
{
	json_t *p = policy("web", "Enforce", LANDLOCK_SECTION);
	json_t *pod = web_pod("\"command\":[\"nginx\"]");
	json_object_set_new(json_object_get(pod, "spec"), "volumes",
			    json_pack("[{s:s, s:{s:s}}]", "name", MUTATE_LAUNCHER_VOLUME,
				      "configMap", "name", "x"));
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, -EPERM);
	assert_string_equal(o.err.field, "spec.volumes[0].name");
	assert_non_null(strstr(o.err.reason, "rename this volume"));
	outcome_done(&o);
	json_decref(pod);

	pod = web_pod("\"command\":[\"nginx\"],\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":"
		      "\"/bulwark/bin\"}]");
	o = run(pod, &p, 1);
	assert_int_equal(o.r, -EPERM);
	assert_string_equal(o.err.field, "spec.containers[0].volumeMounts[0].mountPath");
	outcome_done(&o);
	json_decref(pod);
	json_decref(p);
}

static void namespace_from_request(void **state)
{
	/* A manifest without metadata.namespace: the request's namespace selects. */
	json_t *pod = web_pod("\"command\":[\"nginx\"]");
	json_object_del(json_object_get(pod, "metadata"), "namespace");
	json_t *p = policy("web", "Enforce", SECCOMP_SECTION);
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, 0);
	assert_non_null(o.patch);
	/* ...and the patch does not add the namespace (the apiserver sets it). */
	assert_null(node(o.pod, "metadata.namespace"));
	outcome_done(&o);
	json_decref(p);
	json_decref(pod);
}

static void windows_pod_is_refused(void **state)
{
	json_t *pod = web_pod("\"command\":[\"cmd\"]");
	json_object_set_new(json_object_get(pod, "spec"), "os",
			    json_pack("{s:s}", "name", "windows"));
	json_t *p = policy("web", "Enforce", SECCOMP_SECTION);
	struct outcome o = run(pod, &p, 1);
	assert_int_equal(o.r, -EPERM);
	assert_string_equal(o.err.field, "spec.os.name");
	assert_non_null(strstr(o.err.reason, "shop/web"));
	outcome_done(&o);
	json_decref(p);
	json_decref(pod);
}

/* Through a policy_cache pods of one workload share one compiled ruleset (and the landlock
 * mutator remembers its text): alternating between two workloads must still give each its own
 * ruleset, equal to the uncached result. */
static void cached_compiles_match_uncached(void **state)
{
	json_t *a = policy("a", "Enforce", LANDLOCK_SECTION);
	json_t *b = policy("b", "Enforce",
			   "\"landlock\":{\"filesystem\":[{\"paths\":[\"/opt\"],\"access\":["
			   "\"read_file\"]}]}");
	json_t *pod = web_pod("\"command\":[\"nginx\"]");
	struct outcome ua = run(pod, &a, 1), ub = run(pod, &b, 1);
	struct policy_cache *cache = NULL;
	assert_int_equal(policy_cache_new(16, &cache), 0);
	json_t *which[] = {a, b, a, a, b};
	for (size_t i = 0; i < ARRAY_SIZE(which); i++) {
		json_t *warnings = json_array(), *patch = NULL;
		struct field_error err = {0};
		assert_int_equal(
			mutate_pod(&opts, cache, pod, "shop", &which[i], 1, &patch, warnings, &err),
			0);
		json_t *mutated = apply_patch(pod, patch);
		const struct outcome *want = which[i] == a ? &ua : &ub;
		assert_string_equal(
			json_string_value(json_object_get(node(mutated, "metadata.annotations"),
							  MUTATE_ANNOTATION_RULESET)),
			json_string_value(json_object_get(node(want->pod, "metadata.annotations"),
							  MUTATE_ANNOTATION_RULESET)));
		json_decref(mutated);
		json_decref(patch);
		json_decref(warnings);
	}
	unsigned long hits = 0, misses = 0;
	policy_cache_stats(cache, &hits, &misses);
	assert_true(hits >= 3);
	policy_cache_free(cache);
	outcome_done(&ua);
	outcome_done(&ub);
	json_decref(pod);
	json_decref(a);
	json_decref(b);
}

static void update_guard(void **state)
{
	json_t *old =
		parse("{\"metadata\":{\"annotations\":{\"bulwark.dev/landlock-ruleset\":\"{}\","
		      "\"other\":\"1\"}}}");
	json_t *same =
		parse("{\"metadata\":{\"annotations\":{\"bulwark.dev/landlock-ruleset\":\"{}\","
		      "\"other\":\"2\"}}}");
	json_t *changed = parse("{\"metadata\":{\"annotations\":{\"bulwark.dev/landlock-ruleset\":"
				"\"{\\\"layers\\\":[]}\"}}}");
	json_t *removed = parse("{\"metadata\":{}}");
	json_t *added =
		parse("{\"metadata\":{\"annotations\":{\"bulwark.dev/landlock-ruleset\":\"{}\","
		      "\"bulwark.dev/policies\":\"x\"}}}");
	struct field_error err = {0};
	assert_int_equal(mutate_check_update(old, same, &err), 0);
	assert_int_equal(mutate_check_update(old, changed, &err), -EPERM);
	assert_string_equal(err.field, "metadata.annotations[bulwark.dev/landlock-ruleset]");
	memset(&err, 0, sizeof(err));
	assert_int_equal(mutate_check_update(old, removed, &err), -EPERM);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mutate_check_update(old, added, &err), -EPERM);
	assert_string_equal(err.field, "metadata.annotations[bulwark.dev/policies]");
	json_decref(old);
	json_decref(same);
	json_decref(changed);
	json_decref(removed);
	json_decref(added);
}

static void patch_diff_escapes_and_arrays(void **state)
{
	json_t *a = parse("{\"a/b\":1,\"t~\":[1,2],\"gone\":true,\"same\":[1]}");
	json_t *b = parse("{\"a/b\":2,\"t~\":[1,2,3],\"same\":[1],\"new\":{}}");
	json_t *ops = json_array();
	assert_int_equal(json_patch_diff(a, b, "", ops), 0);
	char *t = json_dumps(ops, JSON_COMPACT);
	assert_string_equal(t, "[{\"op\":\"remove\",\"path\":\"/gone\"},"
			       "{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":2},"
			       "{\"op\":\"replace\",\"path\":\"/t~0\",\"value\":[1,2,3]},"
			       "{\"op\":\"add\",\"path\":\"/new\",\"value\":{}}]");
	json_t *applied = apply_patch(a, ops);
	assert_true(json_equal(applied, b));
	free(t);
	json_decref(applied);
	json_decref(ops);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_policy_no_patch),
		cmocka_unit_test(seccomp_only),
		cmocka_unit_test(landlock_with_command),
		cmocka_unit_test(landlock_without_command),
		cmocka_unit_test(enforce_overrides_unconfined),
		cmocka_unit_test(privileged_under_enforce_is_denied),
		cmocka_unit_test(idempotent_readmission),
		cmocka_unit_test(guaranteed_pod_stays_guaranteed),
		cmocka_unit_test(reserved_names_are_refused),
		cmocka_unit_test(namespace_from_request),
		cmocka_unit_test(windows_pod_is_refused),
		cmocka_unit_test(cached_compiles_match_uncached),
		cmocka_unit_test(update_guard),
		cmocka_unit_test(patch_diff_escapes_and_arrays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
