/* Per-pod records (pod_records.h). */
#include "pod_records.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/hashtab.h"

struct record {
	char *key;
	char *node; /* NULL: not bound */
	char *error;
	char **policies;
	size_t n_policies;
	bool active;
	char uid[64];
};

struct pod_records {
	pthread_mutex_t lock;
	struct hashtab table; /* key → struct record */
};

static bool record_eq(const void *item, const void *key)
{
	return strcmp(((const struct record *)item)->key, key) == 0;
}

static void record_free(struct record *rec)
{
	if (!rec)
		return;
	for (size_t i = 0; i < rec->n_policies; i++)
		free(rec->policies[i]);
	free(rec->policies);
	free(rec->key);
	free(rec->node);
	free(rec->error);
	free(rec);
}

static void prev_from(const struct record *rec, struct pod_record_prev *prev)
{
	if (!prev)
		return;
	snprintf(prev->uid, sizeof(prev->uid), "%s", rec ? rec->uid : "");
	snprintf(prev->node, sizeof(prev->node), "%s", rec && rec->node ? rec->node : "");
}

struct pod_records *pod_records_new(void)
{
	struct pod_records *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

struct pod_records *pod_records_free(struct pod_records *r)
{
	if (!r)
		return NULL;
	struct record *rec;
	for (size_t pos = 0; (rec = hashtab_next(&r->table, &pos));)
		record_free(rec);
	hashtab_free(&r->table);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

static struct record *record_new(const char *key, const char *uid, const char *node, bool active,
				 const json_t *policies, const char *error)
{
	struct record *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	snprintf(rec->uid, sizeof(rec->uid), "%s", uid);
	rec->active = active;
	rec->key = strdup(key);
	rec->node = node ? strdup(node) : NULL;
	rec->error = error ? strdup(error) : NULL;
	size_t n = json_array_size(policies);
	rec->policies = n ? calloc(n, sizeof(*rec->policies)) : NULL;
	bool ok =
		rec->key && (!node || rec->node) && (!error || rec->error) && (!n || rec->policies);
	for (size_t i = 0; ok && i < n; i++) {
		const char *p = json_string_value(json_array_get(policies, i));
		if (!p)
			continue;
		rec->policies[rec->n_policies] = strdup(p);
		ok = rec->policies[rec->n_policies++] != NULL;
	}
	if (!ok) {
		record_free(rec);
		return NULL;
	}
	return rec;
}

int pod_records_put(struct pod_records *r, const char *key, const char *uid, const char *node,
		    bool active, const json_t *policies, const char *error,
		    struct pod_record_prev *prev)
{
	struct record *rec = record_new(key, uid, node, active, policies, error);
	if (!rec)
		return -ENOMEM;
	uint64_t h = hashtab_hash_str(key);
	pthread_mutex_lock(&r->lock);
	struct record *old = hashtab_remove(&r->table, h, key, record_eq);
	int e = hashtab_put(&r->table, h, rec);
	if (e < 0) {
		/* Put the old one back: the removal made room for it. */
		if (old)
			hashtab_put(&r->table, h, old);
		pthread_mutex_unlock(&r->lock);
		record_free(rec);
		return e;
	}
	prev_from(old, prev);
	pthread_mutex_unlock(&r->lock);
	record_free(old);
	return 0;
}

void pod_records_remove(struct pod_records *r, const char *key, struct pod_record_prev *prev)
{
	pthread_mutex_lock(&r->lock);
	struct record *old = hashtab_remove(&r->table, hashtab_hash_str(key), key, record_eq);
	prev_from(old, prev);
	pthread_mutex_unlock(&r->lock);
	record_free(old);
}

json_t *pod_records_by_policy(struct pod_records *r, size_t max_errors)
{
	json_t *out = json_object();
	if (!out)
		return NULL;
	bool failed = false;
	pthread_mutex_lock(&r->lock);
	struct record *rec;
	for (size_t pos = 0; !failed && (rec = hashtab_next(&r->table, &pos));) {
		if (!rec->active)
			continue;
		for (size_t i = 0; i < rec->n_policies; i++) {
			json_t *m = json_object_get(out, rec->policies[i]);
			if (!m) {
				m = json_pack("{s:I,s:[]}", "pods", (json_int_t)0, "errors");
				if (!m || json_object_set_new(out, rec->policies[i], m) < 0) {
					failed = true;
					break;
				}
			}
			json_t *n = json_object_get(m, "pods");
			json_integer_set(n, json_integer_value(n) + 1);
			json_t *errors = json_object_get(m, "errors");
			if (rec->error && json_array_size(errors) < max_errors)
				json_array_append_new(errors,
						      json_pack("{s:s,s:s}", "pod", rec->key,
								"message", rec->error));
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (failed) {
		json_decref(out);
		return NULL;
	}
	return out;
}

size_t pod_records_count(struct pod_records *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->table.n;
	pthread_mutex_unlock(&r->lock);
	return n;
}
