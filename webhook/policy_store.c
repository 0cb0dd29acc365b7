/* Valid BulwarkPolicies by namespace for the review threads (see policy_store.h). */
#include "webhook/policy_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "kube/informer.h"
#include "log.h"
#include "policy/policy.h"

struct policy_store {
	pthread_mutex_t lock;
	json_t *valid;	  /* "ns/name" -> policy */
	json_t *invalid;  /* "ns/name" -> true */
	json_t *snapshot; /* ns -> [policy...], rebuilt when stale */
	bool stale;
};

int policy_store_new(struct policy_store **ret)
{
	struct policy_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->valid = json_object();
	s->invalid = json_object();
	s->snapshot = json_object();
	if (!s->valid || !s->invalid || !s->snapshot) {
		policy_store_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

struct policy_store *policy_store_free(struct policy_store *s)
{
	if (!s)
		return NULL;
	json_decref(s->valid);
	json_decref(s->invalid);
	json_decref(s->snapshot);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

int policy_store_put(struct policy_store *s, const json_t *policy)
{
	char key[POLICY_KEY_MAX];
	int r = policy_key(policy, key);
	if (r < 0)
		return r;
	struct field_error err = {0};
	bool valid = policy_validate(policy, &err) == 0;
	if (!valid) {
		char msg[800];
		log_info(2, "ignoring an invalid BulwarkPolicy", "policy", key, "reason",
			 field_error_str(&err, msg, sizeof(msg)));
	}
	pthread_mutex_lock(&s->lock);
	if (valid) {
		r = json_object_set(s->valid, key, (json_t *)policy);
		json_object_del(s->invalid, key);
	} else {
		json_object_del(s->valid, key);
		r = json_object_set_new(s->invalid, key, json_true());
	}
	s->stale = true;
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? -ENOMEM : 0;
}

int policy_store_remove(struct policy_store *s, const json_t *policy)
{
	char key[POLICY_KEY_MAX];
	int r = policy_key(policy, key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	json_object_del(s->valid, key);
	json_object_del(s->invalid, key);
	s->stale = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void on_add(const json_t *obj, void *userdata)
{
	if (policy_store_put(userdata, obj) == -ENOMEM)
		log_error(-ENOMEM, "cannot store a BulwarkPolicy");
}

static void on_update(const json_t *old_obj, const json_t *new_obj, void *userdata)
{
	on_add(new_obj, userdata);
}

static void on_delete(const json_t *obj, void *userdata)
{
	policy_store_remove(userdata, obj);
}

int policy_store_attach(struct policy_store *s, struct kube_informer *inf)
{
	static const struct kube_handler_ops ops = {
		.on_add = on_add,
		.on_update = on_update,
		.on_delete = on_delete,
	};
	return kube_informer_add_handler(inf, &ops, s);
}

/* With the lock held. */
static int rebuild(struct policy_store *s)
{
	json_auto_t *snap = json_object();
	if (!snap)
		return -ENOMEM;
	const char *key;
	json_t *p;
	json_object_foreach (s->valid, key, p) {
		const char *ns = json_string_value(
			json_object_get(json_object_get(p, "metadata"), "namespace"));
		if (!ns)
			continue;
		json_t *list = json_object_get(snap, ns);
		if (!list) {
			list = json_array();
			if (!list || json_object_set_new(snap, ns, list) < 0)
				return -ENOMEM;
		}
		if (json_array_append(list, p) < 0)
			return -ENOMEM;
	}
	json_decref(s->snapshot);
	s->snapshot = json_incref(snap);
	s->stale = false;
	return 0;
}

json_t *policy_store_namespace(struct policy_store *s, const char *ns)
{
	json_t *ret = NULL;
	pthread_mutex_lock(&s->lock);
	if (!s->stale || rebuild(s) == 0) {
		/* Snapshot arrays are never modified once built, so sharing them is safe. */
		ret = json_incref(json_object_get(s->snapshot, ns ? ns : ""));
		if (!ret)
			ret = json_array();
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void policy_store_counts(struct policy_store *s, size_t *ret_valid, size_t *ret_invalid)
{
	pthread_mutex_lock(&s->lock);
	*ret_valid = json_object_size(s->valid);
	*ret_invalid = json_object_size(s->invalid);
	pthread_mutex_unlock(&s->lock);
}
