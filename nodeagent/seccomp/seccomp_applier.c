#include "seccomp_applier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "seccomp/store.h"

/* GC runs at most this often: it lists a directory, and profiles change rarely. */
#define GC_INTERVAL_SECONDS 300

struct seccomp_applier {
	char *root;
	unsigned grace;
	json_t *wanted; /* profile name → true: the controller's current set */
	json_t *pods;	/* pod uid → profile name: what applied pods use */
	time_t last_gc;
};

int seccomp_applier_new(const char *kubelet_seccomp_root, unsigned gc_grace_seconds,
			struct seccomp_applier **ret)
{
	struct seccomp_applier *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->root = strdup(kubelet_seccomp_root);
	a->grace = gc_grace_seconds;
	a->wanted = json_object();
	a->pods = json_object();
	if (!a->root || !a->wanted || !a->pods) {
		seccomp_applier_free(a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

struct seccomp_applier *seccomp_applier_free(struct seccomp_applier *a)
{
	if (!a)
		return NULL;
	json_decref(a->wanted);
	json_decref(a->pods);
	free(a->root);
	free(a);
	return NULL;
}

/* Writes one profile and checks it lands under the name it was sent with: a mismatch means
 * the controller and this agent compute names differently, and a pod would get a profile
 * other than the one its policy produced. */
static int store(struct seccomp_applier *a, const char *name, const json_t *profile,
		 struct field_error *err)
{
	char written[SECCOMP_PROFILE_NAME_MAX];
	int r = seccomp_profile_store_write(a->root, profile, written);
	if (r < 0) {
		field_error_set(err, "profiles", "writing %s under %s: %s", name, a->root,
				strerror(-r));
		return r;
	}
	if (strcmp(written, name) != 0)
		return field_error_set(err, "profiles", "profile sent as %s hashes to %s", name,
				       written);
	return 0;
}

static void maybe_gc(struct seccomp_applier *a)
{
	time_t now = time(NULL);
	if (now - a->last_gc < GC_INTERVAL_SECONDS)
		return;
	a->last_gc = now;
	size_t n = json_object_size(a->wanted) + json_object_size(a->pods), i = 0;
	const char **in_use = calloc(n + 1, sizeof(char *));
	if (!in_use)
		return;
	const char *key;
	json_t *v;
	json_object_foreach (a->wanted, key, v)
		in_use[i++] = key;
	json_object_foreach (a->pods, key, v)
		in_use[i++] = json_string_value(v);
	unsigned removed = 0;
	int r = seccomp_profile_store_gc(a->root, in_use, i, a->grace, &removed);
	if (r < 0)
		log_error(r, "seccomp profile GC failed, ignoring", "root", a->root);
	else if (removed)
		log_info(1, "removed unused seccomp profiles", "count", LOG_INT(removed));
	free(in_use);
}

static int apply_profiles(void *ctx, const json_t *profiles, struct field_error *err)
{
	struct seccomp_applier *a = ctx;
	const char *name;
	json_t *profile;
	json_object_foreach ((json_t *)profiles, name, profile) {
		int r = store(a, name, profile, err);
		if (r < 0)
			return r;
	}
	json_object_clear(a->wanted);
	json_object_foreach ((json_t *)profiles, name, profile)
		json_object_set_new(a->wanted, name, json_true());
	maybe_gc(a);
	return 0;
}

static const char *pod_uid(const json_t *compiled)
{
	return json_string_value(json_object_get(json_object_get(compiled, "pod"), "uid"));
}

static int apply_pod(void *ctx, const json_t *compiled, const json_t *previous,
		     struct field_error *err)
{
	struct seccomp_applier *a = ctx;
	const json_t *sec = json_object_get(compiled, "seccomp");
	const char *uid = pod_uid(compiled);
	if (!sec) {
		json_object_del(a->pods, uid);
		return 0;
	}
	const char *name = json_string_value(json_object_get(sec, "profileName"));
	const json_t *profile = json_object_get(sec, "profile");
	if (!name || !profile)
		return field_error_set(err, "seccomp", "profileName and profile are required");
	/* Usually already written from the profile set; writing again only refreshes its age. */
	int r = store(a, name, profile, err);
	if (r < 0)
		return r;
	json_object_set_new(a->pods, uid, json_string(name));
	return 0;
}

static int remove_pod(void *ctx, const json_t *compiled)
{
	struct seccomp_applier *a = ctx;
	json_object_del(a->pods, pod_uid(compiled));
	return 0;
}

/* The profile file is on disk already; remember that the pod uses it, so GC keeps it. */
static int adopt_pod(void *ctx, const json_t *compiled)
{
	struct seccomp_applier *a = ctx;
	const char *name = json_string_value(
		json_object_get(json_object_get(compiled, "seccomp"), "profileName"));
	if (name)
		json_object_set_new(a->pods, pod_uid(compiled), json_string(name));
	return 0;
}

struct applier seccomp_applier_ops(struct seccomp_applier *a)
{
	return (struct applier){
		.name = "seccomp",
		.ctx = a,
		.apply_pod = apply_pod,
		.remove_pod = remove_pod,
		.apply_profiles = apply_profiles,
		.adopt_pod = adopt_pod,
	};
}
