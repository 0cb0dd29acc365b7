/* Trimming watched objects to what the controller reads (cache_trim.h). */
#include "cache_trim.h"

#include <stdbool.h>
#include <string.h>

static bool listed(const char *key, const char *const *keep)
{
	for (; *keep; keep++)
		if (strcmp(key, *keep) == 0)
			return true;
	return false;
}

/* Removes every member of obj[member] not in keep (NULL-terminated); a member that is not
 * an object is left alone. */
static void keep_only(json_t *obj, const char *member, const char *const *keep)
{
	json_t *o = member ? json_object_get(obj, member) : obj;
	if (!json_is_object(o))
		return;
	const char *key;
	json_t *value;
	void *tmp;
	json_object_foreach_safe (o, tmp, key, value) {
		if (!listed(key, keep))
			json_object_del(o, key);
	}
}

/* jansson spends ~100 bytes per member: even apiVersion and kind are worth dropping. */
static const char *const top_keys[] = {"metadata", "spec", "status", NULL};
static const char *const meta_keys[] = {
	"name", "namespace", "uid", "labels", "resourceVersion", "deletionTimestamp", NULL};

int cache_trim_pod(json_t *pod, void *userdata)
{
	static const char *const spec_keys[] = {"nodeName", NULL};
	static const char *const status_keys[] = {"phase", NULL};
	keep_only(pod, NULL, top_keys);
	keep_only(pod, "metadata", meta_keys);
	keep_only(pod, "spec", spec_keys);
	keep_only(pod, "status", status_keys);
	return 0;
}

int cache_trim_policy(json_t *policy, void *userdata)
{
	json_t *meta = json_object_get(policy, "metadata");
	json_object_del(meta, "managedFields");
	json_object_del(json_object_get(meta, "annotations"),
			"kubectl.kubernetes.io/last-applied-configuration");
	return 0;
}

int cache_trim_namespace(json_t *ns, void *userdata)
{
	static const char *const status_keys[] = {"phase", NULL};
	static const char *const none[] = {NULL};
	keep_only(ns, NULL, top_keys);
	keep_only(ns, "metadata", meta_keys);
	keep_only(ns, "spec", none);
	keep_only(ns, "status", status_keys);
	return 0;
}
