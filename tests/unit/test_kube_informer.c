/* The informer cache: exact add/update/delete sets on relist, watch events, secondary index
 * consistency as objects move between index values, late handlers and indexes, and readers
 * running concurrently with the feeder. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "kube/informer.h"
#include "kube/object.h"

/* A pod; node may be NULL (unscheduled), ns may be NULL (a cluster-scoped object). */
static json_t *pod(const char *ns, const char *name, const char *rv, const char *node)
{
	json_t *meta = json_pack("{s:s, s:s}", "name", name, "resourceVersion", rv);
	if (ns)
		json_object_set_new(meta, "namespace", json_string(ns));
	json_t *spec = json_object();
	if (node)
		json_object_set_new(spec, "nodeName", json_string(node));
	json_t *p = json_pack("{s:s, s:o, s:o}", "kind", "Pod", "metadata", meta, "spec", spec);
	assert_non_null(p);
	return p;
}

/* Records every handler call as one line: "add ns/a@1", "update ns/a@1>2", "delete ns/a@1". */
struct recorder {
	struct buf log;
	struct kube_informer *inf; /* when set, handlers also check the cache already agrees */
	unsigned calls;
};

static void record(struct recorder *r, const char *what, const json_t *old_obj,
		   const json_t *new_obj)
{
	char key[KUBE_KEY_MAX];
	const json_t *o = new_obj ? new_obj : old_obj;
	assert_int_equal(kube_object_key(o, key, sizeof(key)), 0);
	buf_printf(&r->log, "%s %s@", what, key);
	if (old_obj && new_obj)
		buf_printf(&r->log, "%s>", kube_object_resource_version(old_obj));
	buf_printf(&r->log, "%s\n", kube_object_resource_version(o));
	r->calls++;
	if (r->inf) {
		/* Handlers run after the cache changed and without a lock: reading must work and
		 * show the new state. */
		json_t *cached = kube_informer_get(r->inf, key);
		if (new_obj)
			assert_ptr_equal(cached, new_obj);
		else
			assert_null(cached);
		json_decref(cached);
	}
}

static void on_add(const json_t *obj, void *ud)
{
	record(ud, "add", NULL, obj);
}
static void on_update(const json_t *old_obj, const json_t *new_obj, void *ud)
{
	record(ud, "update", old_obj, new_obj);
}
static void on_delete(const json_t *obj, void *ud)
{
	record(ud, "delete", obj, NULL);
}

static const struct kube_handler_ops recorder_ops = {
	.on_add = on_add, .on_update = on_update, .on_delete = on_delete};

/* The recorded lines, sorted (relists report in hash order). */
static char *sorted_log(struct recorder *r)
{
	char *copy = strdup(buf_str(&r->log));
	char *lines[256];
	size_t n = 0;
	for (char *save, *l = strtok_r(copy, "\n", &save); l && n < 256;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	struct buf out = BUF_INIT(1 << 16);
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "%s\n", lines[i]);
	free(copy);
	buf_reset(&r->log);
	char *s = buf_steal(&out);
	return s ? s : strdup("");
}

static void assert_log(struct recorder *r, const char *expected)
{
	char *got = sorted_log(r);
	assert_string_equal(got, expected);
	free(got);
}

static void replace_with(struct kube_informer *inf, const char *rv, json_t *a, json_t *b, json_t *c)
{
	json_t *items = json_array();
	json_t *objs[] = {a, b, c};
	for (size_t i = 0; i < 3; i++)
		if (objs[i])
			json_array_append_new(items, objs[i]);
	assert_int_equal(kube_informer_replace(inf, items, rv), 0);
	json_decref(items);
}

static void relist_computes_exact_changes(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	struct recorder rec = {.log = BUF_INIT(1 << 16), .inf = inf};
	assert_int_equal(kube_informer_add_handler(inf, &recorder_ops, &rec), 0);
	assert_false(kube_informer_synced(inf));
	assert_int_equal(kube_informer_wait_synced(inf, 10), -ETIMEDOUT);

	replace_with(inf, "100", pod("ns", "a", "1", NULL), pod("ns", "b", "1", NULL),
		     pod("ns", "c", "1", NULL));
	assert_true(kube_informer_synced(inf));
	assert_int_equal(kube_informer_wait_synced(inf, 0), 0);
	assert_log(&rec, "add ns/a@1\nadd ns/b@1\nadd ns/c@1\n");
	assert_int_equal(kube_informer_count(inf), 3);

	/* a unchanged (same resourceVersion: kept, no handler), b changed, c gone, d new. */
	json_t *a_before = kube_informer_get(inf, "ns/a");
	replace_with(inf, "200", pod("ns", "a", "1", NULL), pod("ns", "b", "2", NULL),
		     pod("ns", "d", "7", NULL));
	assert_log(&rec, "add ns/d@7\ndelete ns/c@1\nupdate ns/b@1>2\n");
	json_t *a_after = kube_informer_get(inf, "ns/a");
	assert_ptr_equal(a_before, a_after);
	json_decref(a_before);
	json_decref(a_after);
	assert_null(kube_informer_get(inf, "ns/c"));
	assert_int_equal(kube_informer_count(inf), 3);

	char rv[64];
	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), 0);
	assert_string_equal(rv, "200");

	/* An empty relist deletes everything, delivering the last known objects. */
	replace_with(inf, "300", NULL, NULL, NULL);
	assert_log(&rec, "delete ns/a@1\ndelete ns/b@2\ndelete ns/d@7\n");
	assert_int_equal(kube_informer_count(inf), 0);
	assert_true(kube_informer_synced(inf));

	kube_informer_free(inf);
	buf_free(&rec.log);
}

static void relist_rejects_bad_items_atomically(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	struct recorder rec = {.log = BUF_INIT(1 << 16)};
	assert_int_equal(kube_informer_add_handler(inf, &recorder_ops, &rec), 0);
	replace_with(inf, "5", pod("ns", "a", "1", NULL), NULL, NULL);
	assert_log(&rec, "add ns/a@1\n");

	json_t *items = json_array();
	json_array_append_new(items, pod("ns", "b", "1", NULL));
	json_array_append_new(items, json_pack("{s:{s:s}}", "metadata", "namespace", "ns"));
	assert_int_equal(kube_informer_replace(inf, items, "6"), -EINVAL);
	json_array_clear(items);
	json_array_append_new(items, json_string("not an object"));
	assert_int_equal(kube_informer_replace(inf, items, "6"), -EINVAL);
	json_t *not_array = json_object();
	assert_int_equal(kube_informer_replace(inf, not_array, "6"), -EINVAL);
	json_decref(not_array);
	json_decref(items);

	assert_int_equal(rec.calls, 1);
	assert_int_equal(kube_informer_count(inf), 1);
	json_t *a = kube_informer_get(inf, "ns/a");
	assert_non_null(a);
	json_decref(a);
	char rv[8];
	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), 0);
	assert_string_equal(rv, "5");

	/* The same key listed twice: the last one wins, and it is reported once. */
	items = json_array();
	json_array_append_new(items, pod("ns", "x", "1", NULL));
	json_array_append_new(items, pod("ns", "x", "2", NULL));
	assert_int_equal(kube_informer_replace(inf, items, "7"), 0);
	json_decref(items);
	assert_log(&rec, "add ns/x@2\ndelete ns/a@1\n");
	kube_informer_free(inf);
	buf_free(&rec.log);
}

static void watch_events_update_the_cache(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	struct recorder rec = {.log = BUF_INIT(1 << 16), .inf = inf};
	assert_int_equal(kube_informer_add_handler(inf, &recorder_ops, &rec), 0);
	json_t *o;
	char rv[64];

	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), -ENOENT);
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ADDED, o = pod("ns", "a", "10", NULL)),
			 0);
	json_decref(o);
	/* ADDED of a known key is an update; MODIFIED of an unknown key an add. */
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ADDED, o = pod("ns", "a", "11", NULL)),
			 0);
	json_decref(o);
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_MODIFIED, o = pod(NULL, "node1", "12", NULL)),
		0);
	json_decref(o);
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_MODIFIED, o = pod("ns", "a", "13", NULL)), 0);
	json_decref(o);
	/* DELETED delivers the event's object (the final state); unknown keys are ignored. */
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_DELETED, o = pod("ns", "a", "14", NULL)), 0);
	json_decref(o);
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_DELETED, o = pod("ns", "zz", "15", NULL)), 0);
	json_decref(o);
	assert_string_equal(buf_str(&rec.log), "add ns/a@10\nupdate ns/a@10>11\nadd node1@12\n"
					       "update ns/a@11>13\ndelete ns/a@14\n");
	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), 0);
	assert_string_equal(rv, "15");

	/* A bookmark only moves the resourceVersion. */
	o = json_pack("{s:s, s:{s:s}}", "kind", "Pod", "metadata", "resourceVersion", "99");
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_BOOKMARK, o), 0);
	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), 0);
	assert_string_equal(rv, "99");
	assert_int_equal(kube_informer_resource_version(inf, rv, 2), -ENAMETOOLONG);
	/* Errors and keyless objects are refused without touching the cache. */
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ERROR, o), -EINVAL);
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ADDED, o), -EINVAL);
	json_decref(o);
	assert_int_equal(kube_informer_count(inf), 1);
	json_t *n = kube_informer_get(inf, "node1");
	assert_non_null(n);
	assert_string_equal(kube_object_resource_version(n), "12");
	json_decref(n);
	/* Synced only comes from a complete list. */
	assert_false(kube_informer_synced(inf));
	kube_informer_free(inf);
	buf_free(&rec.log);
}

/* Checks every index bucket against a recomputation from the cache contents. */
static void assert_node_index_consistent(struct kube_informer *inf, const char *const *nodes,
					 size_t n_nodes)
{
	json_t *all;
	assert_int_equal(kube_informer_list(inf, &all), 0);
	for (size_t i = 0; i < n_nodes; i++) {
		json_t *expected = json_array();
		size_t idx;
		json_t *o;
		json_array_foreach (all, idx, o) {
			const char *node = json_string_value(
				json_object_get(json_object_get(o, "spec"), "nodeName"));
			if (node && strcmp(node, nodes[i]) == 0)
				json_array_append_new(expected, json_string(kube_object_name(o)));
		}
		json_t *keys, *objs;
		assert_int_equal(kube_informer_index_keys(inf, "node", nodes[i], &keys), 0);
		assert_int_equal(kube_informer_by_index(inf, "node", nodes[i], &objs), 0);
		assert_int_equal(json_array_size(keys), json_array_size(expected));
		assert_int_equal(json_array_size(objs), json_array_size(expected));
		json_array_foreach (objs, idx, o)
			assert_string_equal(json_string_value(json_object_get(
						    json_object_get(o, "spec"), "nodeName")),
					    nodes[i]);
		/* keys are sorted: compare as sets through the sorted expected names. */
		for (size_t k = 0; k < json_array_size(keys); k++) {
			const char *key = json_string_value(json_array_get(keys, k));
			if (k > 0)
				assert_true(strcmp(json_string_value(json_array_get(keys, k - 1)),
						   key) < 0);
			bool found = false;
			json_array_foreach (expected, idx, o)
				if (strcmp(key + 3, json_string_value(o)) == 0)
					found = true;
			assert_true(found);
		}
		json_decref(expected);
		json_decref(keys);
		json_decref(objs);
	}
	json_decref(all);
}

static void index_follows_objects_between_values(void **state)
{
	static const char *const nodes[] = {"n1", "n2", "n3"};
	struct kube_informer *inf = kube_informer_new("pods");
	json_t *o, *r;
	assert_int_equal(kube_informer_add_index(inf, "node", kube_index_by_node_name, NULL), 0);
	assert_int_equal(kube_informer_add_index(inf, "node", kube_index_by_node_name, NULL),
			 -EEXIST);
	replace_with(inf, "1", pod("ns", "p1", "1", "n1"), pod("ns", "p2", "1", "n1"),
		     pod("ns", "p3", "1", "n2"));
	assert_node_index_consistent(inf, nodes, 3);
	assert_int_equal(kube_informer_index_keys(inf, "node", "n1", &r), 0);
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(json_string_value(json_array_get(r, 0)), "ns/p1");
	assert_string_equal(json_string_value(json_array_get(r, 1)), "ns/p2");
	json_decref(r);

	/* p1 rescheduled to n2 by a watch event. */
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_MODIFIED, o = pod("ns", "p1", "2", "n2")), 0);
	json_decref(o);
	assert_node_index_consistent(inf, nodes, 3);
	assert_int_equal(kube_informer_index_keys(inf, "node", "n2", &r), 0);
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(json_string_value(json_array_get(r, 0)), "ns/p1");
	assert_string_equal(json_string_value(json_array_get(r, 1)), "ns/p3");
	json_decref(r);

	/* Deleted, and a relist that moves p2 to n3 and unschedules p1. */
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_DELETED, o = pod("ns", "p3", "3", "n2")), 0);
	json_decref(o);
	assert_node_index_consistent(inf, nodes, 3);
	replace_with(inf, "9", pod("ns", "p1", "4", NULL), pod("ns", "p2", "4", "n3"), NULL);
	assert_node_index_consistent(inf, nodes, 3);
	assert_int_equal(kube_informer_by_index(inf, "node", "n1", &r), 0);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
	assert_int_equal(kube_informer_by_index(inf, "node", "n3", &r), 0);
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);

	/* An index added late covers what is cached; unknown indexes are an error. */
	assert_int_equal(kube_informer_add_index(inf, "ns", kube_index_by_namespace, NULL), 0);
	assert_int_equal(kube_informer_index_keys(inf, "ns", "ns", &r), 0);
	assert_int_equal(json_array_size(r), 2);
	json_decref(r);
	assert_int_equal(kube_informer_by_index(inf, "nope", "n1", &r), -ENOENT);
	assert_int_equal(kube_informer_index_keys(inf, "nope", "n1", &r), -ENOENT);
	kube_informer_free(inf);
}

/* Multi-valued: one value per label, "key=value". */
static int index_by_labels(const json_t *obj, struct kube_index_sink *sink, void *userdata)
{
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)kube_object_labels(obj), k, v) {
		char kv[256];
		snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v));
		int r = kube_index_sink_add(sink, kv);
		if (r < 0)
			return r;
	}
	return 0;
}

static int index_refusing_bad(const json_t *obj, struct kube_index_sink *sink, void *userdata)
{
	return kube_object_label(obj, "bad") ? -EBADMSG : 0;
}

static json_t *labelled(const char *name, const char *rv, const char *labels_json)
{
	json_t *p = pod("ns", name, rv, NULL);
	json_object_set_new(json_object_get(p, "metadata"), "labels",
			    json_loads(labels_json, 0, NULL));
	return p;
}

static size_t count_by(struct kube_informer *inf, const char *index, const char *value)
{
	json_t *r;
	assert_int_equal(kube_informer_by_index(inf, index, value, &r), 0);
	size_t n = json_array_size(r);
	json_decref(r);
	return n;
}

static void multi_valued_index_and_failing_index_fn(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	json_t *o;
	assert_int_equal(kube_informer_add_index(inf, "labels", index_by_labels, NULL), 0);
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_ADDED,
				    o = labelled("a", "1", "{\"app\":\"web\",\"tier\":\"fe\"}")),
		0);
	json_decref(o);
	assert_int_equal(count_by(inf, "labels", "app=web"), 1);
	assert_int_equal(count_by(inf, "labels", "tier=fe"), 1);
	/* Drop one label, keep one, add one. */
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_MODIFIED,
				    o = labelled("a", "2", "{\"app\":\"web\",\"x\":\"y\"}")),
		0);
	json_decref(o);
	assert_int_equal(count_by(inf, "labels", "app=web"), 1);
	assert_int_equal(count_by(inf, "labels", "tier=fe"), 0);
	assert_int_equal(count_by(inf, "labels", "x=y"), 1);

	/* A failing index function fails the event and leaves cache and indexes alone. */
	assert_int_equal(kube_informer_add_index(inf, "strict", index_refusing_bad, NULL), 0);
	assert_int_equal(
		kube_informer_apply(inf, KUBE_EVENT_MODIFIED,
				    o = labelled("a", "3", "{\"bad\":\"1\",\"app\":\"other\"}")),
		-EBADMSG);
	json_decref(o);
	o = kube_informer_get(inf, "ns/a");
	assert_string_equal(kube_object_resource_version(o), "2");
	json_decref(o);
	assert_int_equal(count_by(inf, "labels", "app=web"), 1);
	assert_int_equal(count_by(inf, "labels", "app=other"), 0);
	/* An object without labels is in no label bucket. */
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ADDED, o = labelled("b", "4", "{}")),
			 0);
	json_decref(o);
	assert_int_equal(count_by(inf, "labels", "app=web"), 1);
	assert_int_equal(kube_informer_count(inf), 2);
	kube_informer_free(inf);
}

static void sink_limits(void **state)
{
	struct kube_index_sink *none = NULL;
	assert_int_equal(kube_index_sink_add(none, "x"), -EINVAL);
}

static int index_too_many(const json_t *obj, struct kube_index_sink *sink, void *userdata)
{
	for (int i = 0; i <= KUBE_INDEX_MAX_VALUES; i++) {
		char v[16];
		snprintf(v, sizeof(v), "v%d", i);
		int r = kube_index_sink_add(sink, v);
		/* Duplicates never count against the limit. */
		assert_int_equal(kube_index_sink_add(sink, "v0"), 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static void index_value_limit(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	json_t *o = pod("ns", "a", "1", NULL);
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_ADDED, o), 0);
	/* The object is cached, so the index fails to build and is not added. */
	assert_int_equal(kube_informer_add_index(inf, "many", index_too_many, NULL), -E2BIG);
	json_t *r;
	assert_int_equal(kube_informer_by_index(inf, "many", "v0", &r), -ENOENT);
	json_decref(o);
	kube_informer_free(inf);
}

static void late_handler_gets_replay(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	replace_with(inf, "1", pod("ns", "a", "1", NULL), pod("ns", "b", "1", NULL), NULL);
	struct recorder rec = {.log = BUF_INIT(1 << 16)};
	assert_int_equal(kube_informer_add_handler(inf, &recorder_ops, &rec), 0);
	assert_log(&rec, "add ns/a@1\nadd ns/b@1\n");
	json_t *o = pod("ns", "a", "2", NULL);
	assert_int_equal(kube_informer_apply(inf, KUBE_EVENT_MODIFIED, o), 0);
	json_decref(o);
	assert_log(&rec, "update ns/a@1>2\n");
	kube_informer_free(inf);
	buf_free(&rec.log);
}

/* ---- concurrency -------------------------------------------------------------------------- */

#define N_PODS	  64
#define N_ROUNDS  2000
#define N_READERS 3

struct reader_ctx {
	struct kube_informer *inf;
	volatile int *stop;
	unsigned long reads;
	int failures;
};

static void *reader(void *arg)
{
	struct reader_ctx *c = arg;
	char key[32];
	unsigned i = 0;
	while (!__atomic_load_n(c->stop, __ATOMIC_ACQUIRE)) {
		snprintf(key, sizeof(key), "ns/p%u", i % N_PODS);
		json_t *o = kube_informer_get(c->inf, key);
		if (o) {
			char got[KUBE_KEY_MAX];
			if (kube_object_key(o, got, sizeof(got)) < 0 || strcmp(got, key) != 0)
				c->failures++;
			json_decref(o);
		}
		char node[8];
		snprintf(node, sizeof(node), "n%u", i % 4);
		json_t *list;
		if (kube_informer_by_index(c->inf, "node", node, &list) == 0) {
			size_t idx;
			json_array_foreach (list, idx, o) {
				const char *n = json_string_value(
					json_object_get(json_object_get(o, "spec"), "nodeName"));
				if (!n || strcmp(n, node) != 0)
					c->failures++;
			}
			json_decref(list);
		} else {
			c->failures++;
		}
		if (i % 16 == 0 && kube_informer_list(c->inf, &list) == 0) {
			if (json_array_size(list) > N_PODS)
				c->failures++;
			json_decref(list);
		}
		__atomic_add_fetch(&c->reads, 1, __ATOMIC_ACQ_REL);
		i++;
	}
	return NULL;
}

static void readers_run_concurrently_with_the_feeder(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	assert_int_equal(kube_informer_add_index(inf, "node", kube_index_by_node_name, NULL), 0);
	volatile int stop = 0;
	struct reader_ctx ctx[N_READERS];
	pthread_t th[N_READERS];
	for (int i = 0; i < N_READERS; i++) {
		ctx[i] = (struct reader_ctx){.inf = inf, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, reader, &ctx[i]), 0);
	}
	/* Feed only once every reader is running, so reading and feeding really overlap. */
	for (int i = 0; i < N_READERS; i++)
		while (__atomic_load_n(&ctx[i].reads, __ATOMIC_ACQUIRE) == 0)
			sched_yield();
	char name[16], rv[16], node[8];
	for (unsigned round = 0; round < N_ROUNDS; round++) {
		unsigned p = round % N_PODS;
		snprintf(name, sizeof(name), "p%u", p);
		snprintf(rv, sizeof(rv), "%u", round + 1);
		snprintf(node, sizeof(node), "n%u", round % 4);
		json_t *o = pod("ns", name, rv, node);
		enum kube_event_type t = round % 7 == 6 ? KUBE_EVENT_DELETED : KUBE_EVENT_MODIFIED;
		assert_int_equal(kube_informer_apply(inf, t, o), 0);
		json_decref(o);
		if (round % 50 == 49) {
			/* A relist of half the pods. */
			json_t *items = json_array();
			for (unsigned k = 0; k < N_PODS / 2; k++) {
				snprintf(name, sizeof(name), "p%u", k * 2);
				snprintf(node, sizeof(node), "n%u", (k + round) % 4);
				json_array_append_new(items, pod("ns", name, rv, node));
			}
			assert_int_equal(kube_informer_replace(inf, items, rv), 0);
			json_decref(items);
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < N_READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ctx[i].failures, 0);
		assert_true(ctx[i].reads > 0);
	}
	static const char *const nodes[] = {"n0", "n1", "n2", "n3"};
	assert_node_index_consistent(inf, nodes, 4);
	kube_informer_free(inf);
}

struct sync_ctx {
	struct kube_informer *inf;
	int result;
};

static void *waiter(void *arg)
{
	struct sync_ctx *c = arg;
	c->result = kube_informer_wait_synced(c->inf, -1);
	return NULL;
}

static void wait_synced_wakes_on_first_list(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	struct sync_ctx c = {.inf = inf, .result = 1};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, waiter, &c), 0);
	json_t *items = json_array();
	assert_int_equal(kube_informer_replace(inf, items, NULL), 0);
	json_decref(items);
	pthread_join(th, NULL);
	assert_int_equal(c.result, 0);
	/* No resourceVersion given: still none known. */
	char rv[8];
	assert_int_equal(kube_informer_resource_version(inf, rv, sizeof(rv)), -ENOENT);
	kube_informer_free(inf);
}

static void overhead_is_accounted(void **state)
{
	struct kube_informer *inf = kube_informer_new("pods");
	size_t empty = kube_informer_overhead_bytes(inf);
	assert_true(empty > 0);
	assert_int_equal(kube_informer_add_index(inf, "node", kube_index_by_node_name, NULL), 0);
	json_t *items = json_array();
	for (int i = 0; i < 1000; i++) {
		char name[16], node[8];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(node, sizeof(node), "n%d", i % 10);
		json_array_append_new(items, pod("ns", name, "1", node));
	}
	assert_int_equal(kube_informer_replace(inf, items, "1"), 0);
	size_t full = kube_informer_overhead_bytes(inf);
	/* At least a key and a table slot per object, and not absurdly more. */
	assert_true(full - empty >= 1000 * (sizeof("ns/p999") + 16));
	assert_true(full - empty <= 1000 * 512);
	json_decref(items);
	items = json_array();
	assert_int_equal(kube_informer_replace(inf, items, "2"), 0);
	json_decref(items);
	/* Everything given back but the bookkeeping of an empty cache. */
	assert_true(kube_informer_overhead_bytes(inf) < empty + 512);
	kube_informer_free(inf);
}

static void object_keys(void **state)
{
	char key[KUBE_KEY_MAX], ns[64], name[254];
	json_t *o = pod("shop", "web-1", "1", NULL);
	assert_int_equal(kube_object_key(o, key, sizeof(key)), 0);
	assert_string_equal(key, "shop/web-1");
	assert_int_equal(kube_object_key(o, key, 10), -ENAMETOOLONG);
	assert_string_equal(key, "shop/web-1");
	assert_int_equal(kube_object_key(o, key, 11), 0);
	json_decref(o);
	o = pod(NULL, "node-a", "1", NULL);
	assert_int_equal(kube_object_key(o, key, sizeof(key)), 0);
	assert_string_equal(key, "node-a");
	assert_null(kube_object_namespace(o));
	assert_null(kube_object_uid(o));
	assert_null(kube_object_labels(o));
	json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(""));
	assert_int_equal(kube_object_key(o, key, sizeof(key)), 0);
	assert_string_equal(key, "node-a");
	json_object_set_new(json_object_get(o, "metadata"), "name", json_string("a/b"));
	assert_int_equal(kube_object_key(o, key, sizeof(key)), -EINVAL);
	json_object_set_new(json_object_get(o, "metadata"), "name", json_integer(3));
	assert_int_equal(kube_object_key(o, key, sizeof(key)), -EINVAL);
	json_decref(o);
	assert_int_equal(kube_object_key(NULL, key, sizeof(key)), -EINVAL);

	assert_int_equal(kube_key_split("shop/web-1", ns, sizeof(ns), name, sizeof(name)), 0);
	assert_string_equal(ns, "shop");
	assert_string_equal(name, "web-1");
	assert_int_equal(kube_key_split("node-a", ns, sizeof(ns), name, sizeof(name)), 0);
	assert_string_equal(ns, "");
	assert_string_equal(name, "node-a");
	assert_int_equal(kube_key_split("a/b/c", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(kube_key_split("/b", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(kube_key_split("a/", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(kube_key_split("", ns, sizeof(ns), name, sizeof(name)), -EINVAL);
	assert_int_equal(kube_key_split("abc/d", ns, 3, name, sizeof(name)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(relist_computes_exact_changes),
		cmocka_unit_test(relist_rejects_bad_items_atomically),
		cmocka_unit_test(watch_events_update_the_cache),
		cmocka_unit_test(index_follows_objects_between_values),
		cmocka_unit_test(multi_valued_index_and_failing_index_fn),
		cmocka_unit_test(sink_limits),
		cmocka_unit_test(index_value_limit),
		cmocka_unit_test(late_handler_gets_replay),
		cmocka_unit_test(readers_run_concurrently_with_the_feeder),
		cmocka_unit_test(wait_synced_wakes_on_first_list),
		cmocka_unit_test(overhead_is_accounted),
		cmocka_unit_test(object_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
