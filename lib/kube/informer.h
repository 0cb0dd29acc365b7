/* An informer's cache: the local copy of one resource (every Pod, every BulwarkPolicy, ...)
 * that a reflector keeps in step with the apiserver, with secondary indexes and change
 * handlers, after client-go's thread-safe store + SharedIndexInformer.
 *
 * Objects are json_t shared read-only: once fed to the informer an object is never modified
 * again, by anyone (copy it with json_deep_copy() to change it). Objects are keyed
 * "namespace/name", or "name" for cluster-scoped resources (kube/object.h).
 *
 * Threading model:
 *   - One feeder: the reflector calls kube_informer_replace() and kube_informer_apply() from
 *     its one thread. Feeding calls (and kube_informer_add_handler()) are serialised by an
 *     internal mutex, so a second feeder is safe but pointless.
 *   - Many readers: kube_informer_get(), _list(), _by_index(), _count() may be called from any
 *     thread at any time. They take a read lock (pthread_rwlock) only for as long as it takes
 *     to copy references out, and hand back NEW references, so what a reader holds stays
 *     valid after the cache moves on. jansson's reference counts are atomic, and reading a
 *     json_t that nobody modifies is safe from any number of threads.
 *   - Handlers run synchronously on the feeding thread, after the cache (and every index)
 *     already reflects the change, with no lock held: a handler may read the informer. They
 *     run serially, never concurrently with each other. They should only compute keys and
 *     enqueue them on a workqueue (kube/workqueue.h); slow work in a handler stalls the watch.
 *     A handler must not feed the informer or add handlers or indexes (that deadlocks).
 *   - jansson's reference counts are atomic, but its json_decref() releases without an acquire
 *     on the final put, so ThreadSanitizer reports the free of a shared object as a race with
 *     earlier reads on other threads. It is benign: objects are never written after insertion,
 *     and the freeing thread's stores depend on its decrement. The informer's own locking is
 *     race-free under TSan.
 *
 * Limits: the number of objects is bounded by what the apiserver lists (the reflector caps
 * list and watch sizes); an index function may emit at most KUBE_INDEX_MAX_VALUES values per
 * object. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/event.h"

struct kube_informer;

/* Change notifications. Objects are borrowed for the duration of the call (json_incref() one
 * to keep it) and must not be modified. Any member may be NULL. */
struct kube_handler_ops {
	/* A key appeared: from a watch ADDED (or MODIFIED of an unknown key), or a relist that
	 * found it. Also called once per cached object when a handler is added late. */
	void (*on_add)(const json_t *obj, void *userdata);
	/* A watch MODIFIED (or ADDED of a known key), or a relist that found a different
	 * metadata.resourceVersion. old_obj is what the cache held before. */
	void (*on_update)(const json_t *old_obj, const json_t *new_obj, void *userdata);
	/* A watch DELETED (obj is the object the event carried), or a relist that no longer
	 * lists the key (obj is the last object the cache held: the final state is unknown, as
	 * with client-go's DeletedFinalStateUnknown). */
	void (*on_delete)(const json_t *obj, void *userdata);
};

#define KUBE_INDEX_MAX_VALUES 256

/* Index functions emit the values an object is indexed under through this sink. */
struct kube_index_sink;
/* Adds one value (copied; duplicates are ignored). 0, -E2BIG past KUBE_INDEX_MAX_VALUES,
 * -EINVAL for NULL, -ENOMEM. */
int kube_index_sink_add(struct kube_index_sink *sink, const char *value);

/* Computes the values obj is indexed under (zero or more) by calling kube_index_sink_add().
 * Returns 0, or a negative errno which the feeding call returns (the object is then not
 * stored). Must be a pure function of obj and must not call the informer: it runs inside
 * feeding calls and kube_informer_add_index(), with the informer's locks held. */
typedef int (*kube_index_fn)(const json_t *obj, struct kube_index_sink *sink, void *userdata);

/* Ready-made index functions. */
/* metadata.namespace (nothing for cluster-scoped objects). */
int kube_index_by_namespace(const json_t *obj, struct kube_index_sink *sink, void *userdata);
/* spec.nodeName (nothing for an unscheduled pod): the pods on one node. */
int kube_index_by_node_name(const json_t *obj, struct kube_index_sink *sink, void *userdata);

/* name identifies the informer in logs ("pods", "bulwarkpolicies"); copied. NULL on ENOMEM. */
struct kube_informer *kube_informer_new(const char *name);
/* Drops every cached object and index. Accepts NULL; returns NULL. No other thread may be
 * using the informer any more. */
struct kube_informer *kube_informer_free(struct kube_informer *inf);

/* Registers handlers (ops is copied; userdata is borrowed). If the cache already holds
 * objects, ops->on_add is called for each of them before this returns, on the calling
 * thread, while feeding waits. 0 or -ENOMEM. */
int kube_informer_add_handler(struct kube_informer *inf, const struct kube_handler_ops *ops,
			      void *userdata);

/* Adds a secondary index, computed at once for every cached object and kept consistent on
 * every add, update, delete and replace. name is copied. 0; -EEXIST for a duplicate name;
 * -EINVAL; -ENOMEM; or the index function's error (the index is then not added). */
int kube_informer_add_index(struct kube_informer *inf, const char *name, kube_index_fn fn,
			    void *userdata);

/* ---- feeding (the reflector) --------------------------------------------------------------- */

/* A relist: items (a JSON array of objects, borrowed; the informer keeps its own reference to
 * each element, which from now on must never be modified) becomes the whole cache. Computes
 * against the cache and delivers:
 *   on_add    for keys not cached,
 *   on_update for keys cached with a different metadata.resourceVersion (a cached object
 *             with the same resourceVersion is kept and no handler runs),
 *   on_delete for cached keys missing from items, with the last cached object.
 * Items are validated first: an element that is not an object or has no usable key fails the
 * whole call with -EINVAL and leaves the cache untouched. A key listed twice keeps the last.
 * On success the informer is synced and resource_version (may be NULL) becomes the last
 * resourceVersion seen. -ENOMEM part way leaves a consistent cache holding some of the new
 * items; the handlers have seen exactly the changes made; relist to recover. */
int kube_informer_replace(struct kube_informer *inf, json_t *items, const char *resource_version);

/* One watch event; obj is borrowed (a reference is kept when it is stored).
 *   ADDED, MODIFIED  store obj; on_add when the key was not cached, else on_update.
 *   DELETED          remove the key; on_delete(obj) when it was cached, else nothing.
 *   BOOKMARK         only records obj's resourceVersion.
 * Every event records obj's metadata.resourceVersion as the last seen (when it has one).
 * 0; -EINVAL for an object without a usable key or for KUBE_EVENT_ERROR (the reflector
 * handles those); -ENOMEM; or an index function's error (the cache is unchanged then). */
int kube_informer_apply(struct kube_informer *inf, enum kube_event_type type, json_t *obj);

/* ---- state ------------------------------------------------------------------------------- */

/* True once a replace has completed: the cache then reflects a full list. Stays true through
 * later relists (client-go's HasSynced). */
bool kube_informer_synced(struct kube_informer *inf);
/* Blocks until synced or timeout_ms passes (a negative timeout waits forever). 0, or
 * -ETIMEDOUT. */
int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ms);

/* The last resourceVersion seen (from replace or any event) into ret (size bytes): the
 * version a watch resumes from. 0; -ENOENT when none was seen; -ENAMETOOLONG when it does
 * not fit (resourceVersions are opaque strings; 64 bytes is plenty for etcd's). */
int kube_informer_resource_version(struct kube_informer *inf, char *ret, size_t size);

const char *kube_informer_name(const struct kube_informer *inf);

/* ---- reading (any thread) ------------------------------------------------------------------ */

/* A NEW reference to the object cached under key (json_decref() it), or NULL when absent. */
json_t *kube_informer_get(struct kube_informer *inf, const char *key);

/* A snapshot of every cached object: a new JSON array (json_decref() it) whose elements are
 * the cached objects themselves, shared read-only. Order is unspecified. 0 or -ENOMEM. */
int kube_informer_list(struct kube_informer *inf, json_t **ret_items);

/* The objects indexed under value in the named index, as kube_informer_list() (an empty
 * array when none). 0; -ENOENT for an unknown index; -ENOMEM. */
int kube_informer_by_index(struct kube_informer *inf, const char *index_name, const char *value,
			   json_t **ret_items);

/* The keys indexed under value (a new JSON array of strings; sorted), for controllers that
 * enqueue every object affected by a change (the pods of a namespace, of a node). */
int kube_informer_index_keys(struct kube_informer *inf, const char *index_name, const char *value,
			     json_t **ret_keys);

size_t kube_informer_count(struct kube_informer *inf);

/* Bytes the cache itself allocates (hash tables, keys, index entries), excluding the JSON
 * objects: the per-object overhead a benchmark divides by count. Measured with
 * malloc_usable_size(), so it includes allocator rounding. */
size_t kube_informer_overhead_bytes(struct kube_informer *inf);
