/* The informer cache: objects by key, secondary indexes, change handlers; see informer.h.
 *
 * Layout: the cache maps key -> entry (key, object, the index buckets the entry is in). Each
 * index maps value -> bucket, and a bucket is the set of entries indexed under its value.
 * An entry records its buckets, so moving an object between index values (a pod rescheduled
 * to another node) or deleting it touches exactly the buckets involved, and never calls the
 * index function on an object that is already gone.
 *
 * Only the feeding thread (holding feed_lock) changes anything, so it reads the cache without
 * the rwlock; it takes the write lock only for the moment of change. Every change is prepared
 * first (index values computed, buckets created, tables reserved) and then committed with
 * steps that cannot fail, so an allocation failure never leaves an index out of step. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "kube/hashtab.h"
#include "kube/informer.h"
#include "kube/object.h"

struct index_bucket {
	struct index *index;
	uint64_t hash;
	struct hashtab members; /* struct entry *, hashed by entry->hash, compared by identity */
	char value[];
};

struct index {
	char *name;
	kube_index_fn fn;
	void *userdata;
	struct hashtab buckets; /* struct index_bucket * by value */
};

struct entry {
	json_t *obj; /* one reference, owned */
	uint64_t hash;
	struct index_bucket **bkts; /* every bucket this entry is a member of, in any index */
	size_t nbkts;
	char key[];
};

struct handler {
	struct kube_handler_ops ops;
	void *userdata;
};

struct kube_index_sink {
	char **values;
	size_t n;
	size_t cap;
};

struct kube_informer {
	char *name;
	pthread_mutex_t feed_lock; /* serialises feeding and handler/index registration */
	pthread_rwlock_t lock;	   /* readers vs the feeder: cache, indexes, rv */
	struct hashtab cache;	   /* struct entry * by key */
	struct index **indexes;
	size_t n_indexes;
	struct handler *handlers; /* read and written under feed_lock only */
	size_t n_handlers;
	char *rv;

	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	bool synced;
};

/* A change to report to the handlers once the locks are released; holds references. */
enum change_type { CHANGE_ADD, CHANGE_UPDATE, CHANGE_DELETE };
struct change {
	enum change_type type;
	json_t *old_obj;
	json_t *new_obj;
};

static bool entry_eq(const void *item, const void *key)
{
	return strcmp(((const struct entry *)item)->key, key) == 0;
}

static bool bucket_eq(const void *item, const void *key)
{
	return strcmp(((const struct index_bucket *)item)->value, key) == 0;
}

static bool same_item(const void *item, const void *key)
{
	return item == key;
}

/* ---- index sinks --------------------------------------------------------------------------- */

int kube_index_sink_add(struct kube_index_sink *sink, const char *value)
{
	if (!sink || !value)
		return -EINVAL;
	for (size_t i = 0; i < sink->n; i++)
		if (strcmp(sink->values[i], value) == 0)
			return 0;
	if (sink->n >= KUBE_INDEX_MAX_VALUES)
		return -E2BIG;
	if (sink->n == sink->cap) {
		size_t cap = sink->cap ? sink->cap * 2 : 2;
		char **v = realloc(sink->values, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sink->values = v;
		sink->cap = cap;
	}
	char *copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	sink->values[sink->n++] = copy;
	return 0;
}

static void sinks_free(struct kube_index_sink *sinks, size_t n)
{
	if (!sinks)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sinks[i].n; j++)
			free(sinks[i].values[j]);
		free(sinks[i].values);
	}
	free(sinks);
}

/* The values obj has in every index, as one sink per index (NULL without indexes). */
static int compute_values(struct kube_informer *inf, const json_t *obj,
			  struct kube_index_sink **ret_sinks)
{
	if (inf->n_indexes == 0) {
		*ret_sinks = NULL;
		return 0;
	}
	struct kube_index_sink *sinks = calloc(inf->n_indexes, sizeof(*sinks));
	if (!sinks)
		return -ENOMEM;
	for (size_t i = 0; i < inf->n_indexes; i++) {
		int r = inf->indexes[i]->fn(obj, &sinks[i], inf->indexes[i]->userdata);
		if (r < 0) {
			sinks_free(sinks, inf->n_indexes);
			return r;
		}
	}
	*ret_sinks = sinks;
	return 0;
}

int kube_index_by_namespace(const json_t *obj, struct kube_index_sink *sink, void *userdata)
{
	const char *ns = kube_object_namespace(obj);
	return ns ? kube_index_sink_add(sink, ns) : 0;
}

int kube_index_by_node_name(const json_t *obj, struct kube_index_sink *sink, void *userdata)
{
	const char *node =
		json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
	return node && *node ? kube_index_sink_add(sink, node) : 0;
}

/* ---- entries and buckets (write lock held) -------------------------------------------------- */

static void bucket_free(struct index_bucket *b)
{
	hashtab_free(&b->members);
	free(b);
}

static void bucket_leave(struct index_bucket *b, struct entry *e)
{
	hashtab_remove(&b->members, e->hash, e, same_item);
	if (b->members.n == 0) {
		hashtab_remove(&b->index->buckets, b->hash, b->value, bucket_eq);
		bucket_free(b);
	}
}

static int bucket_get_or_create(struct index *idx, const char *value,
				struct index_bucket **ret_bucket)
{
	uint64_t hash = hashtab_hash_str(value);
	struct index_bucket *b = hashtab_get(&idx->buckets, hash, value, bucket_eq);
	if (!b) {
		size_t len = strlen(value);
		b = calloc(1, sizeof(*b) + len + 1);
		if (!b)
			return -ENOMEM;
		b->index = idx;
		b->hash = hash;
		memcpy(b->value, value, len + 1);
		int r = hashtab_put(&idx->buckets, hash, b);
		if (r < 0) {
			free(b);
			return r;
		}
	}
	*ret_bucket = b;
	return 0;
}

static bool bucket_in(struct index_bucket *b, struct index_bucket **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == b)
			return true;
	return false;
}

/* Moves e into exactly the buckets named by sinks (one per index). Either succeeds entirely
 * or changes nothing. */
static int entry_reindex(struct kube_informer *inf, struct entry *e, struct kube_index_sink *sinks)
{
	size_t total = 0;
	for (size_t i = 0; sinks && i < inf->n_indexes; i++)
		total += sinks[i].n;

	struct index_bucket **bkts = NULL;
	if (total > 0) {
		bkts = calloc(total, sizeof(*bkts));
		if (!bkts)
			return -ENOMEM;
	}
	size_t k = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && sinks && i < inf->n_indexes; i++)
		for (size_t j = 0; r == 0 && j < sinks[i].n; j++) {
			struct index_bucket *b;
			r = bucket_get_or_create(inf->indexes[i], sinks[i].values[j], &b);
			if (r < 0)
				break;
			bkts[k++] = b;
			r = hashtab_reserve(&b->members, b->members.n + 1);
		}
	if (r < 0) {
		/* Buckets are never empty except those just created for this entry. */
		for (size_t i = 0; i < k; i++)
			if (bkts[i]->members.n == 0) {
				hashtab_remove(&bkts[i]->index->buckets, bkts[i]->hash,
					       bkts[i]->value, bucket_eq);
				bucket_free(bkts[i]);
			}
		free(bkts);
		return r;
	}

	/* Commit: join the new buckets first (room is reserved), then leave the old ones, so a
	 * bucket the entry stays in is never emptied and freed on the way. */
	for (size_t i = 0; i < total; i++)
		if (!hashtab_get(&bkts[i]->members, e->hash, e, same_item))
			(void)hashtab_put(&bkts[i]->members, e->hash, e);
	for (size_t i = 0; i < e->nbkts; i++)
		if (!bucket_in(e->bkts[i], bkts, total))
			bucket_leave(e->bkts[i], e);
	free(e->bkts);
	e->bkts = bkts;
	e->nbkts = total;
	return 0;
}

static void entry_unindex(struct entry *e)
{
	for (size_t i = 0; i < e->nbkts; i++)
		bucket_leave(e->bkts[i], e);
	free(e->bkts);
	e->bkts = NULL;
	e->nbkts = 0;
}

/* Drops e's membership in one index only (undoing a failed kube_informer_add_index()). */
static void entry_drop_index(struct entry *e, struct index *idx)
{
	size_t k = 0;
	for (size_t i = 0; i < e->nbkts; i++) {
		if (e->bkts[i]->index == idx)
			bucket_leave(e->bkts[i], e);
		else
			e->bkts[k++] = e->bkts[i];
	}
	e->nbkts = k;
}

/* Stores obj under key. *ret_old gets the reference to the object it replaces (NULL for a new
 * key). */
static int cache_store(struct kube_informer *inf, const char *key, uint64_t hash, json_t *obj,
		       struct kube_index_sink *sinks, json_t **ret_old)
{
	struct entry *e = hashtab_get(&inf->cache, hash, key, entry_eq);
	int r;
	if (e) {
		r = entry_reindex(inf, e, sinks);
		if (r < 0)
			return r;
		*ret_old = e->obj;
		e->obj = json_incref(obj);
		return 0;
	}
	size_t len = strlen(key);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->hash = hash;
	memcpy(e->key, key, len + 1);
	r = hashtab_reserve(&inf->cache, inf->cache.n + 1);
	if (r == 0)
		r = entry_reindex(inf, e, sinks);
	if (r < 0) {
		free(e);
		return r;
	}
	(void)hashtab_put(&inf->cache, hash, e);
	e->obj = json_incref(obj);
	*ret_old = NULL;
	return 0;
}

/* Removes key; returns the reference to the object it held, or NULL when absent. */
static json_t *cache_delete(struct kube_informer *inf, const char *key, uint64_t hash)
{
	struct entry *e = hashtab_remove(&inf->cache, hash, key, entry_eq);
	if (!e)
		return NULL;
	entry_unindex(e);
	json_t *obj = e->obj;
	free(e);
	return obj;
}

/* ---- handlers ------------------------------------------------------------------------------ */

static void deliver(struct kube_informer *inf, struct change *changes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct change *c = &changes[i];
		for (size_t h = 0; h < inf->n_handlers; h++) {
			const struct kube_handler_ops *ops = &inf->handlers[h].ops;
			void *ud = inf->handlers[h].userdata;
			switch (c->type) {
			case CHANGE_ADD:
				if (ops->on_add)
					ops->on_add(c->new_obj, ud);
				break;
			case CHANGE_UPDATE:
				if (ops->on_update)
					ops->on_update(c->old_obj, c->new_obj, ud);
				break;
			case CHANGE_DELETE:
				if (ops->on_delete)
					ops->on_delete(c->old_obj, ud);
				break;
			}
		}
		json_decref(c->old_obj);
		json_decref(c->new_obj);
	}
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

struct kube_informer *kube_informer_new(const char *name)
{
	struct kube_informer *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return NULL;
	inf->name = strdup(name ? name : "");
	if (!inf->name) {
		free(inf);
		return NULL;
	}
	pthread_mutex_init(&inf->feed_lock, NULL);
	/* Prefer the writer: a steady stream of readers must not stall the watch. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&inf->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&inf->sync_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	return inf;
}

struct kube_informer *kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return NULL;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));) {
		/* Buckets are freed with their index below; only the entry's own memory here. */
		free(e->bkts);
		json_decref(e->obj);
		free(e);
	}
	hashtab_free(&inf->cache);
	for (size_t i = 0; i < inf->n_indexes; i++) {
		struct index *idx = inf->indexes[i];
		struct index_bucket *b;
		for (size_t pos = 0; (b = hashtab_next(&idx->buckets, &pos));)
			bucket_free(b);
		hashtab_free(&idx->buckets);
		free(idx->name);
		free(idx);
	}
	free(inf->indexes);
	free(inf->handlers);
	free(inf->rv);
	free(inf->name);
	pthread_mutex_destroy(&inf->feed_lock);
	pthread_rwlock_destroy(&inf->lock);
	pthread_mutex_destroy(&inf->sync_lock);
	pthread_cond_destroy(&inf->sync_cond);
	free(inf);
	return NULL;
}

const char *kube_informer_name(const struct kube_informer *inf)
{
	return inf->name;
}

int kube_informer_add_handler(struct kube_informer *inf, const struct kube_handler_ops *ops,
			      void *userdata)
{
	if (!inf || !ops)
		return -EINVAL;
	pthread_mutex_lock(&inf->feed_lock);
	struct handler *h = realloc(inf->handlers, (inf->n_handlers + 1) * sizeof(*h));
	if (!h) {
		pthread_mutex_unlock(&inf->feed_lock);
		return -ENOMEM;
	}
	inf->handlers = h;
	inf->handlers[inf->n_handlers++] = (struct handler){.ops = *ops, .userdata = userdata};
	/* Replay what is cached, as a late client-go handler gets it; feeding waits meanwhile,
	 * so the handler sees each object once, then every later change. */
	if (ops->on_add) {
		struct entry *e;
		for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));)
			ops->on_add(e->obj, userdata);
	}
	pthread_mutex_unlock(&inf->feed_lock);
	return 0;
}

int kube_informer_add_index(struct kube_informer *inf, const char *name, kube_index_fn fn,
			    void *userdata)
{
	if (!inf || !name || !*name || !fn)
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&inf->feed_lock);
	for (size_t i = 0; i < inf->n_indexes; i++)
		if (strcmp(inf->indexes[i]->name, name) == 0) {
			pthread_mutex_unlock(&inf->feed_lock);
			return -EEXIST;
		}
	struct index *idx = calloc(1, sizeof(*idx));
	struct index **indexes = realloc(inf->indexes, (inf->n_indexes + 1) * sizeof(*indexes));
	if (indexes)
		inf->indexes = indexes;
	if (!idx || !indexes || !(idx->name = strdup(name))) {
		free(idx);
		pthread_mutex_unlock(&inf->feed_lock);
		return -ENOMEM;
	}
	idx->fn = fn;
	idx->userdata = userdata;

	pthread_rwlock_wrlock(&inf->lock);
	inf->indexes[inf->n_indexes++] = idx;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));) {
		struct kube_index_sink *sinks;
		r = compute_values(inf, e->obj, &sinks);
		if (r < 0)
			break;
		r = entry_reindex(inf, e, sinks);
		sinks_free(sinks, inf->n_indexes);
		if (r < 0)
			break;
	}
	if (r < 0) {
		for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));)
			entry_drop_index(e, idx);
		inf->n_indexes--;
		hashtab_free(&idx->buckets);
		free(idx->name);
		free(idx);
	}
	pthread_rwlock_unlock(&inf->lock);
	pthread_mutex_unlock(&inf->feed_lock);
	return r;
}

/* ---- feeding -------------------------------------------------------------------------------- */

static bool same_version(const json_t *a, const json_t *b)
{
	const char *ra = kube_object_resource_version(a), *rb = kube_object_resource_version(b);
	return ra && rb && strcmp(ra, rb) == 0;
}

/* Swaps in a new resourceVersion (prepared outside the lock; write lock held). */
static void set_rv_locked(struct kube_informer *inf, char **rv)
{
	if (*rv) {
		free(inf->rv);
		inf->rv = TAKE_PTR(*rv);
	}
}

static void mark_synced(struct kube_informer *inf)
{
	pthread_mutex_lock(&inf->sync_lock);
	inf->synced = true;
	pthread_cond_broadcast(&inf->sync_cond);
	pthread_mutex_unlock(&inf->sync_lock);
}

struct listed {
	char *key;
	uint64_t hash;
	json_t *obj;
	struct kube_index_sink *sinks;
	bool skip; /* superseded by a later item with the same key, or unchanged */
};

static bool listed_eq(const void *item, const void *key)
{
	return strcmp(((const struct listed *)item)->key, key) == 0;
}

int kube_informer_replace(struct kube_informer *inf, json_t *items, const char *resource_version)
{
	if (!inf || !json_is_array(items))
		return -EINVAL;
	size_t n = json_array_size(items);
	_cleanup_free_ char *rv = NULL;
	if (resource_version && !(rv = strdup(resource_version)))
		return -ENOMEM;
	struct listed *listed = calloc(n ? n : 1, sizeof(*listed));
	if (!listed)
		return -ENOMEM;
	struct hashtab keyset = HASHTAB_INIT;
	struct change *changes = NULL;
	struct entry **gone = NULL;
	size_t n_changes = 0;
	int r = 0;

	pthread_mutex_lock(&inf->feed_lock);
	r = hashtab_reserve(&keyset, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct listed *l = &listed[i];
		char key[KUBE_KEY_MAX];
		l->obj = json_array_get(items, i);
		r = kube_object_key(l->obj, key, sizeof(key));
		if (r < 0) {
			r = -EINVAL;
			break;
		}
		if (!(l->key = strdup(key))) {
			r = -ENOMEM;
			break;
		}
		l->hash = hashtab_hash_str(key);
		struct listed *earlier = hashtab_remove(&keyset, l->hash, key, listed_eq);
		if (earlier)
			earlier->skip = true;
		r = hashtab_put(&keyset, l->hash, l);
	}
	/* Only the feeder changes the cache, and we are it: read it without the rwlock. */
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct listed *l = &listed[i];
		if (l->skip)
			continue;
		struct entry *e = hashtab_get(&inf->cache, l->hash, l->key, entry_eq);
		if (e && same_version(e->obj, l->obj))
			l->skip = true;
		else
			r = compute_values(inf, l->obj, &l->sinks);
	}
	size_t cached = inf->cache.n;
	if (r == 0) {
		changes = calloc(n + cached + 1, sizeof(*changes));
		gone = calloc(cached + 1, sizeof(*gone));
		if (!changes || !gone)
			r = -ENOMEM;
	}
	if (r < 0)
		goto out;

	pthread_rwlock_wrlock(&inf->lock);
	size_t n_gone = 0;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));)
		if (!hashtab_get(&keyset, e->hash, e->key, listed_eq))
			gone[n_gone++] = e;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct listed *l = &listed[i];
		json_t *old;
		if (l->skip)
			continue;
		r = cache_store(inf, l->key, l->hash, l->obj, l->sinks, &old);
		if (r == 0)
			changes[n_changes++] =
				(struct change){.type = old ? CHANGE_UPDATE : CHANGE_ADD,
						.old_obj = old,
						.new_obj = json_incref(l->obj)};
	}
	for (size_t i = 0; r == 0 && i < n_gone; i++) {
		json_t *old = cache_delete(inf, gone[i]->key, gone[i]->hash);
		changes[n_changes++] = (struct change){.type = CHANGE_DELETE, .old_obj = old};
	}
	if (r == 0)
		set_rv_locked(inf, &rv);
	pthread_rwlock_unlock(&inf->lock);

	if (r == 0)
		mark_synced(inf);
	deliver(inf, changes, n_changes);
out:
	for (size_t i = 0; i < n; i++) {
		free(listed[i].key);
		sinks_free(listed[i].sinks, inf->n_indexes);
	}
	pthread_mutex_unlock(&inf->feed_lock);
	free(listed);
	free(changes);
	free(gone);
	hashtab_free(&keyset);
	return r;
}

int kube_informer_apply(struct kube_informer *inf, enum kube_event_type type, json_t *obj)
{
	if (!inf || !json_is_object(obj))
		return -EINVAL;
	const char *obj_rv = kube_object_resource_version(obj);
	_cleanup_free_ char *rv = NULL;
	if (obj_rv && !(rv = strdup(obj_rv)))
		return -ENOMEM;

	if (type == KUBE_EVENT_BOOKMARK) {
		pthread_mutex_lock(&inf->feed_lock);
		pthread_rwlock_wrlock(&inf->lock);
		set_rv_locked(inf, &rv);
		pthread_rwlock_unlock(&inf->lock);
		pthread_mutex_unlock(&inf->feed_lock);
		return 0;
	}
	if (type != KUBE_EVENT_ADDED && type != KUBE_EVENT_MODIFIED && type != KUBE_EVENT_DELETED)
		return -EINVAL;

	char key[KUBE_KEY_MAX];
	int r = kube_object_key(obj, key, sizeof(key));
	if (r < 0)
		return -EINVAL;
	uint64_t hash = hashtab_hash_str(key);
	struct change change = {0};
	size_t n_changes = 0;

	pthread_mutex_lock(&inf->feed_lock);
	if (type == KUBE_EVENT_DELETED) {
		pthread_rwlock_wrlock(&inf->lock);
		json_t *old = cache_delete(inf, key, hash);
		set_rv_locked(inf, &rv);
		pthread_rwlock_unlock(&inf->lock);
		if (old) {
			/* The event's object is the final state; drop the cached one. */
			json_decref(old);
			change =
				(struct change){.type = CHANGE_DELETE, .old_obj = json_incref(obj)};
			n_changes = 1;
		}
	} else {
		struct kube_index_sink *sinks = NULL;
		r = compute_values(inf, obj, &sinks);
		if (r == 0) {
			json_t *old;
			pthread_rwlock_wrlock(&inf->lock);
			r = cache_store(inf, key, hash, obj, sinks, &old);
			if (r == 0)
				set_rv_locked(inf, &rv);
			pthread_rwlock_unlock(&inf->lock);
			if (r == 0) {
				change = (struct change){.type = old ? CHANGE_UPDATE : CHANGE_ADD,
							 .old_obj = old,
							 .new_obj = json_incref(obj)};
				n_changes = 1;
			}
		}
		sinks_free(sinks, inf->n_indexes);
	}
	deliver(inf, &change, n_changes);
	pthread_mutex_unlock(&inf->feed_lock);
	return r;
}

/* ---- state ---------------------------------------------------------------------------------- */

bool kube_informer_synced(struct kube_informer *inf)
{
	pthread_mutex_lock(&inf->sync_lock);
	bool synced = inf->synced;
	pthread_mutex_unlock(&inf->sync_lock);
	return synced;
}

int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms >= 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	int r = 0;
	pthread_mutex_lock(&inf->sync_lock);
	while (!inf->synced && r == 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&inf->sync_cond, &inf->sync_lock);
		else if (pthread_cond_timedwait(&inf->sync_cond, &inf->sync_lock, &deadline) ==
			 ETIMEDOUT)
			r = inf->synced ? 0 : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&inf->sync_lock);
	return r;
}

int kube_informer_resource_version(struct kube_informer *inf, char *ret, size_t size)
{
	int r = 0;
	pthread_rwlock_rdlock(&inf->lock);
	if (!inf->rv)
		r = -ENOENT;
	else if (strlen(inf->rv) + 1 > size)
		r = -ENAMETOOLONG;
	else
		memcpy(ret, inf->rv, strlen(inf->rv) + 1);
	pthread_rwlock_unlock(&inf->lock);
	return r;
}

/* ---- reading -------------------------------------------------------------------------------- */

json_t *kube_informer_get(struct kube_informer *inf, const char *key)
{
	if (!inf || !key)
		return NULL;
	uint64_t hash = hashtab_hash_str(key);
	pthread_rwlock_rdlock(&inf->lock);
	struct entry *e = hashtab_get(&inf->cache, hash, key, entry_eq);
	json_t *obj = e ? json_incref(e->obj) : NULL;
	pthread_rwlock_unlock(&inf->lock);
	return obj;
}

int kube_informer_list(struct kube_informer *inf, json_t **ret_items)
{
	json_t *items = json_array();
	if (!items)
		return -ENOMEM;
	int r = 0;
	pthread_rwlock_rdlock(&inf->lock);
	struct entry *e;
	for (size_t pos = 0; r == 0 && (e = hashtab_next(&inf->cache, &pos));)
		if (json_array_append(items, e->obj) < 0)
			r = -ENOMEM;
	pthread_rwlock_unlock(&inf->lock);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	return 0;
}

/* The bucket for value in the named index (read lock held). -ENOENT for an unknown index;
 * *ret_bucket is NULL when no object has the value. */
static int find_bucket(struct kube_informer *inf, const char *index_name, const char *value,
		       struct index_bucket **ret_bucket)
{
	for (size_t i = 0; i < inf->n_indexes; i++)
		if (strcmp(inf->indexes[i]->name, index_name) == 0) {
			*ret_bucket = hashtab_get(&inf->indexes[i]->buckets,
						  hashtab_hash_str(value), value, bucket_eq);
			return 0;
		}
	return -ENOENT;
}

int kube_informer_by_index(struct kube_informer *inf, const char *index_name, const char *value,
			   json_t **ret_items)
{
	if (!inf || !index_name || !value)
		return -EINVAL;
	json_t *items = json_array();
	if (!items)
		return -ENOMEM;
	struct index_bucket *b;
	pthread_rwlock_rdlock(&inf->lock);
	int r = find_bucket(inf, index_name, value, &b);
	struct entry *e;
	for (size_t pos = 0; r == 0 && b && (e = hashtab_next(&b->members, &pos));)
		if (json_array_append(items, e->obj) < 0)
			r = -ENOMEM;
	pthread_rwlock_unlock(&inf->lock);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int kube_informer_index_keys(struct kube_informer *inf, const char *index_name, const char *value,
			     json_t **ret_keys)
{
	if (!inf || !index_name || !value)
		return -EINVAL;
	json_t *keys = json_array();
	if (!keys)
		return -ENOMEM;
	const char **sorted = NULL;
	struct index_bucket *b;
	pthread_rwlock_rdlock(&inf->lock);
	int r = find_bucket(inf, index_name, value, &b);
	if (r == 0 && b) {
		sorted = calloc(b->members.n, sizeof(*sorted));
		if (!sorted)
			r = -ENOMEM;
		size_t n = 0;
		struct entry *e;
		for (size_t pos = 0; r == 0 && (e = hashtab_next(&b->members, &pos));)
			sorted[n++] = e->key;
		if (r == 0)
			qsort(sorted, n, sizeof(*sorted), cmp_str);
		for (size_t i = 0; r == 0 && i < n; i++)
			if (json_array_append_new(keys, json_string(sorted[i])) < 0)
				r = -ENOMEM;
	}
	pthread_rwlock_unlock(&inf->lock);
	free(sorted);
	if (r < 0) {
		json_decref(keys);
		return r;
	}
	*ret_keys = keys;
	return 0;
}

size_t kube_informer_count(struct kube_informer *inf)
{
	pthread_rwlock_rdlock(&inf->lock);
	size_t n = inf->cache.n;
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

size_t kube_informer_overhead_bytes(struct kube_informer *inf)
{
	pthread_rwlock_rdlock(&inf->lock);
	size_t bytes = malloc_usable_size(inf) + hashtab_bytes(&inf->cache);
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&inf->cache, &pos));)
		bytes += malloc_usable_size(e) + (e->bkts ? malloc_usable_size(e->bkts) : 0);
	for (size_t i = 0; i < inf->n_indexes; i++) {
		struct index *idx = inf->indexes[i];
		bytes += malloc_usable_size(idx) + hashtab_bytes(&idx->buckets);
		struct index_bucket *b;
		for (size_t pos = 0; (b = hashtab_next(&idx->buckets, &pos));)
			bytes += malloc_usable_size(b) + hashtab_bytes(&b->members);
	}
	pthread_rwlock_unlock(&inf->lock);
	return bytes;
}
