/* Valid BulwarkPolicies by namespace, validated once per resourceVersion (store.h). */
#include "policy/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "kube/hashtab.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "log.h"
#include "policy/policy.h"

/* What validating one resourceVersion of a policy said. */
struct entry {
	char key[POLICY_KEY_MAX];
	char *rv;
	json_t *policy; /* the cached object; NULL when invalid */
	char *error;	/* why it is invalid; NULL when valid */
};

/* One namespace's valid policies, as handed to readers. */
struct ns_list {
	char *ns;
	json_t *policies; /* array, never modified once built */
};

struct policy_store {
	pthread_mutex_t lock;
	struct hashtab entries;	 /* of struct entry, by key */
	struct hashtab snapshot; /* of struct ns_list, by namespace; rebuilt when stale */
	size_t valid, invalid;
	bool stale;
};

static bool entry_eq(const void *item, const void *key)
{
	return strcmp(((const struct entry *)item)->key, key) == 0;
}

static bool ns_eq(const void *item, const void *key)
{
	return strcmp(((const struct ns_list *)item)->ns, key) == 0;
}

static struct entry *entry_free(struct entry *e)
{
	if (!e)
		return NULL;
	free(e->rv);
	json_decref(e->policy);
	free(e->error);
	free(e);
	return NULL;
}

static void entry_freep(struct entry **e)
{
	entry_free(*e);
}

static void snapshot_clear(struct hashtab *t)
{
	struct ns_list *l;
	for (size_t pos = 0; (l = hashtab_next(t, &pos));) {
		free(l->ns);
		json_decref(l->policies);
		free(l);
	}
	hashtab_free(t);
}

int policy_store_new(struct policy_store **ret)
{
	struct policy_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
}

struct policy_store *policy_store_free(struct policy_store *s)
{
	if (!s)
		return NULL;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&s->entries, &pos));)
		entry_free(e);
	hashtab_free(&s->entries);
	snapshot_clear(&s->snapshot);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

/* A new entry for policy at its resourceVersion, validated. */
static int entry_new(const char *key, const json_t *policy, struct entry **ret)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->rv = strdup(kube_object_resource_version(policy) ?: "");
	if (!e->rv)
		return entry_free(e), -ENOMEM;
	struct field_error err = {0};
	int r = policy_validate(policy, &err);
	if (r == 0) {
		e->policy = json_incref((json_t *)policy);
	} else if (r == -EINVAL) {
		char msg[800];
		e->error = strdup(field_error_str(&err, msg, sizeof(msg)));
		if (!e->error)
			return entry_free(e), -ENOMEM;
	} else {
		return entry_free(e), r;
	}
	*ret = e;
	return 0;
}

static bool same_rv(const struct entry *e, const json_t *policy)
{
	return strcmp(e->rv, kube_object_resource_version(policy) ?: "") == 0;
}

/* With the lock held: replaces whatever key held by e (NULL: removes it). */
static int replace(struct policy_store *s, const char *key, struct entry *e)
{
	uint64_t h = hashtab_hash_str(key);
	if (e && hashtab_reserve(&s->entries, s->entries.n + 1) < 0)
		return -ENOMEM;
	struct entry *old = hashtab_remove(&s->entries, h, key, entry_eq);
	if (old) {
		old->policy ? s->valid-- : s->invalid--;
		entry_free(old);
	}
	if (e) {
		hashtab_put(&s->entries, h, e); /* cannot fail after the reserve */
		e->policy ? s->valid++ : s->invalid++;
	}
	s->stale = true;
	return 0;
}

int policy_store_put(struct policy_store *s, const json_t *policy)
{
	char key[POLICY_KEY_MAX];
	int r = policy_key(policy, key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	struct entry *cur = hashtab_get(&s->entries, hashtab_hash_str(key), key, entry_eq);
	/* A resync: the same object, the same answer. */
	bool known = cur && same_rv(cur, policy);
	pthread_mutex_unlock(&s->lock);
	if (known)
		return 0;

	struct entry *e = NULL;
	r = entry_new(key, policy, &e);
	if (r < 0)
		return r;
	if (e->error)
		log_info(2, "ignoring an invalid BulwarkPolicy", "policy", key, "reason", e->error);
	pthread_mutex_lock(&s->lock);
	r = replace(s, key, e);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		entry_free(e);
	return r;
}

int policy_store_remove(struct policy_store *s, const json_t *policy)
{
	char key[POLICY_KEY_MAX];
	int r = policy_key(policy, key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	replace(s, key, NULL);
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
static int ns_append(struct hashtab *t, const char *ns, json_t *policy)
{
	uint64_t h = hashtab_hash_str(ns);
	struct ns_list *l = hashtab_get(t, h, ns, ns_eq);
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		l->ns = strdup(ns);
		l->policies = json_array();
		if (!l->ns || !l->policies || hashtab_put(t, h, l) < 0) {
			free(l->ns);
			json_decref(l->policies);
			free(l);
			return -ENOMEM;
		}
	}
	return json_array_append(l->policies, policy) < 0 ? -ENOMEM : 0;
}

/* With the lock held. */
static int rebuild(struct policy_store *s)
{
	struct hashtab snap = HASHTAB_INIT;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&s->entries, &pos));) {
		const char *ns = e->policy ? kube_object_namespace(e->policy) : NULL;
		if (ns && ns_append(&snap, ns, e->policy) < 0) {
			snapshot_clear(&snap);
			return -ENOMEM;
		}
	}
	snapshot_clear(&s->snapshot);
	s->snapshot = snap;
	s->stale = false;
	return 0;
}

json_t *policy_store_namespace(struct policy_store *s, const char *ns)
{
	json_t *ret = NULL;
	const char *n = ns ? ns : "";
	pthread_mutex_lock(&s->lock);
	if (!s->stale || rebuild(s) == 0) {
		/* Snapshot arrays are never modified once built, so sharing them is safe. */
		struct ns_list *l = hashtab_get(&s->snapshot, hashtab_hash_str(n), n, ns_eq);
		ret = l ? json_incref(l->policies) : json_array();
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int policy_store_check(struct policy_store *s, const json_t *policy, char *error, size_t size)
{
	char key[POLICY_KEY_MAX];
	if (policy_key(policy, key) < 0) {
		if (error)
			snprintf(error, size, "metadata: namespace and name are required");
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	struct entry *e = hashtab_get(&s->entries, hashtab_hash_str(key), key, entry_eq);
	if (e && same_rv(e, policy)) {
		if (e->error && error)
			snprintf(error, size, "%s", e->error);
		int valid = !e->error;
		pthread_mutex_unlock(&s->lock);
		return valid;
	}
	pthread_mutex_unlock(&s->lock);

	/* A version the informer events have not brought yet: answer without keeping it. */
	_cleanup_(entry_freep) struct entry *fresh = NULL;
	int r = entry_new(key, policy, &fresh);
	if (r < 0)
		return r;
	if (fresh->error && error)
		snprintf(error, size, "%s", fresh->error);
	return !fresh->error;
}

void policy_store_counts(struct policy_store *s, size_t *ret_valid, size_t *ret_invalid)
{
	pthread_mutex_lock(&s->lock);
	*ret_valid = s->valid;
	*ret_invalid = s->invalid;
	pthread_mutex_unlock(&s->lock);
}
