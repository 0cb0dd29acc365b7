/* Per-node push state: what each agent was sent and what it acknowledged (push_state.h). */
#include "push_state.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "kube/hashtab.h"
#include "push.h"

/* Send times of the last messages per node, to measure push latency on ack. */
#define SENT_RING 64

/* One pod on one node; compiled is never NULL once the entry is in a node's table. */
struct entry {
	char *uid;
	char *namespace;
	char *name;
	json_t *compiled;
	char hash[65];
	char profile[POLICY_PROFILE_NAME_MAX]; /* "" when the compiled policy has none */
	uint64_t sent_version;
	json_t *failure; /* {applier, field, message} from the agent, or NULL */
};

struct sent {
	uint64_t version, at_ms;
};

struct node {
	char *name;
	struct hashtab entries; /* uid → struct entry */
	uint64_t acked_version;
	void *conn;
	struct sent sent[SENT_RING];
	unsigned sent_next;
};

struct profile {
	char name[POLICY_PROFILE_NAME_MAX];
	json_t *profile;
	unsigned refs;
};

struct policy_ref {
	char *key;
	char name[POLICY_PROFILE_NAME_MAX];
};

struct push_state {
	pthread_mutex_t lock;
	char epoch[65];
	uint64_t version;
	struct push_state_ops ops;
	void *userdata;
	struct hashtab nodes;	 /* name → struct node */
	struct hashtab profiles; /* name → struct profile */
	struct hashtab policies; /* policy key → struct policy_ref */
};

static bool entry_eq(const void *item, const void *key)
{
	return strcmp(((const struct entry *)item)->uid, key) == 0;
}
static bool node_eq(const void *item, const void *key)
{
	return strcmp(((const struct node *)item)->name, key) == 0;
}
static bool profile_eq(const void *item, const void *key)
{
	return strcmp(((const struct profile *)item)->name, key) == 0;
}
static bool policy_ref_eq(const void *item, const void *key)
{
	return strcmp(((const struct policy_ref *)item)->key, key) == 0;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->uid);
	free(e->namespace);
	free(e->name);
	json_decref(e->compiled);
	json_decref(e->failure);
	free(e);
}

static void node_free(struct node *n)
{
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&n->entries, &pos));)
		entry_free(e);
	hashtab_free(&n->entries);
	free(n->name);
	free(n);
}

int push_state_new(const char *epoch, const struct push_state_ops *ops, void *userdata,
		   struct push_state **ret)
{
	if (!epoch || strlen(epoch) > 64 || !ops || !ops->send)
		return -EINVAL;
	struct push_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
	s->ops = *ops;
	s->userdata = userdata;
	*ret = s;
	return 0;
}

struct push_state *push_state_free(struct push_state *s)
{
	if (!s)
		return NULL;
	void *item;
	for (size_t pos = 0; (item = hashtab_next(&s->nodes, &pos));)
		node_free(item);
	for (size_t pos = 0; (item = hashtab_next(&s->profiles, &pos));) {
		json_decref(((struct profile *)item)->profile);
		free(item);
	}
	for (size_t pos = 0; (item = hashtab_next(&s->policies, &pos));) {
		free(((struct policy_ref *)item)->key);
		free(item);
	}
	hashtab_free(&s->nodes);
	hashtab_free(&s->profiles);
	hashtab_free(&s->policies);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

const char *push_state_epoch(const struct push_state *s)
{
	return s->epoch;
}

uint64_t push_state_version(struct push_state *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t v = s->version;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* ---- sending --------------------------------------------------------------------------------- */

static void send_to(struct push_state *s, struct node *n, const json_t *msg, uint64_t version,
		    uint64_t now_ms)
{
	if (!n->conn || !msg)
		return;
	if (s->ops.send(n->conn, msg, version, s->userdata) < 0) {
		/* The stream is gone or overflowed; the agent reconnects for a snapshot. */
		n->conn = NULL;
		return;
	}
	n->sent[n->sent_next++ % SENT_RING] = (struct sent){.version = version, .at_ms = now_ms};
}

static struct node *node_get(struct push_state *s, const char *name, bool create)
{
	uint64_t h = hashtab_hash_str(name);
	struct node *n = hashtab_get(&s->nodes, h, name, node_eq);
	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || hashtab_put(&s->nodes, h, n) < 0) {
		if (n)
			free(n->name);
		free(n);
		return NULL;
	}
	return n;
}

/* ---- profiles -------------------------------------------------------------------------------- */

/* Takes a reference on the profile called name, adding it (and broadcasting it) when new. */
static int profile_ref(struct push_state *s, const char *name, const json_t *profile,
		       uint64_t now_ms)
{
	uint64_t h = hashtab_hash_str(name);
	struct profile *p = hashtab_get(&s->profiles, h, name, profile_eq);
	if (p) {
		p->refs++;
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	/* Compiled policies are immutable once made: a reference is as good as a copy. */
	p->profile = json_incref((json_t *)profile);
	p->refs = 1;
	if (!p->profile || hashtab_put(&s->profiles, h, p) < 0) {
		json_decref(p->profile);
		free(p);
		return -ENOMEM;
	}
	/* Profiles go out before anything refers to them, to every node: a pod scheduled later
	 * anywhere finds its profile already written. */
	uint64_t v = ++s->version;
	json_t *msg = json_pack("{s:s,s:s,s:I,s:{s:O}}", "type", "PROFILES", "epoch", s->epoch,
				"version", (json_int_t)v, "profiles", name, p->profile);
	struct node *n;
	for (size_t pos = 0; (n = hashtab_next(&s->nodes, &pos));)
		send_to(s, n, msg, v, now_ms);
	json_decref(msg);
	return 0;
}

/* Drops a reference; the last one removes the profile from future snapshots. Agents keep the
 * file until a snapshot without it arrives, so running pods are never left without theirs. */
static void profile_unref(struct push_state *s, const char *name)
{
	if (!*name)
		return;
	uint64_t h = hashtab_hash_str(name);
	struct profile *p = hashtab_get(&s->profiles, h, name, profile_eq);
	if (!p || --p->refs > 0)
		return;
	hashtab_remove(&s->profiles, h, name, profile_eq);
	json_decref(p->profile);
	free(p);
}

json_t *push_state_profile(struct push_state *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	struct profile *p = hashtab_get(&s->profiles, hashtab_hash_str(name), name, profile_eq);
	json_t *j = p ? json_incref(p->profile) : NULL;
	pthread_mutex_unlock(&s->lock);
	return j;
}

int push_state_set_policy_profile(struct push_state *s, const char *policy_key,
				  const json_t *profile, uint64_t now_ms)
{
	char name[POLICY_PROFILE_NAME_MAX] = "";
	if (profile) {
		int r = policy_seccomp_profile_name(profile, name);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&s->lock);
	int r = 0;
	uint64_t h = hashtab_hash_str(policy_key);
	struct policy_ref *ref = hashtab_get(&s->policies, h, policy_key, policy_ref_eq);
	if (ref && strcmp(ref->name, name) == 0)
		goto out;
	if (profile) {
		r = profile_ref(s, name, profile, now_ms);
		if (r < 0)
			goto out;
	}
	if (ref) {
		profile_unref(s, ref->name);
		if (profile) {
			snprintf(ref->name, sizeof(ref->name), "%s", name);
		} else {
			hashtab_remove(&s->policies, h, policy_key, policy_ref_eq);
			free(ref->key);
			free(ref);
		}
	} else if (profile) {
		ref = calloc(1, sizeof(*ref));
		if (!ref || !(ref->key = strdup(policy_key)) ||
		    hashtab_put(&s->policies, h, ref) < 0) {
			if (ref)
				free(ref->key);
			free(ref);
			profile_unref(s, name);
			r = -ENOMEM;
			goto out;
		}
		snprintf(ref->name, sizeof(ref->name), "%s", name);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- pods ------------------------------------------------------------------------------------ */

static int entry_new(const char *ns, const char *name, const char *uid, struct entry **ret)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->uid = strdup(uid);
	e->namespace = strdup(ns);
	e->name = strdup(name);
	if (!e->uid || !e->namespace || !e->name) {
		entry_free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

int push_state_set_pod(struct push_state *s, const char *node, const char *ns, const char *name,
		       const char *uid, json_t *compiled, uint64_t now_ms)
{
	const char *hash = NULL, *profile_name = NULL;
	const json_t *profile = NULL;
	if (compiled) {
		hash = json_string_value(json_object_get(compiled, "hash"));
		if (!hash || strlen(hash) != 64)
			return -EINVAL;
		const json_t *sc = json_object_get(compiled, "seccomp");
		profile_name = json_string_value(json_object_get(sc, "profileName"));
		profile = json_object_get(sc, "profile");
		if (profile_name && (strlen(profile_name) >= POLICY_PROFILE_NAME_MAX || !profile))
			return -EINVAL;
	}

	pthread_mutex_lock(&s->lock);
	int r = 0;
	struct node *n = node_get(s, node, compiled != NULL);
	if (!n) {
		r = compiled ? -ENOMEM : 0;
		goto out;
	}
	uint64_t h = hashtab_hash_str(uid);
	struct entry *e = hashtab_get(&n->entries, h, uid, entry_eq);

	if (!compiled) {
		if (!e)
			goto out;
		hashtab_remove(&n->entries, h, uid, entry_eq);
		uint64_t v = ++s->version;
		json_t *msg = push_build_delete(s->epoch, v, e->namespace, e->name, e->uid);
		send_to(s, n, msg, v, now_ms);
		json_decref(msg);
		r = 1;
		profile_unref(s, e->profile);
		entry_free(e);
		goto out;
	}

	if (e && strcmp(e->hash, hash) == 0)
		goto out;
	if (!e) {
		r = entry_new(ns, name, uid, &e);
		if (r < 0)
			goto out;
		r = hashtab_put(&n->entries, h, e);
		if (r < 0) {
			entry_free(e);
			goto out;
		}
	}
	if (profile_name) {
		r = profile_ref(s, profile_name, profile, now_ms);
		if (r < 0) {
			/* A new entry must not stay without a compiled policy. */
			if (!e->compiled) {
				hashtab_remove(&n->entries, h, uid, entry_eq);
				entry_free(e);
			}
			goto out;
		}
	}
	profile_unref(s, e->profile);
	snprintf(e->profile, sizeof(e->profile), "%s", profile_name ? profile_name : "");
	json_decref(e->compiled);
	e->compiled = json_incref(compiled);
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	json_decref(e->failure);
	e->failure = NULL;
	e->sent_version = ++s->version;
	json_t *msg = push_build_upsert(s->epoch, e->sent_version, compiled);
	send_to(s, n, msg, e->sent_version, now_ms);
	json_decref(msg);
	r = 1;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- streams --------------------------------------------------------------------------------- */

int push_state_attach(struct push_state *s, const char *node, void *conn, uint64_t now_ms)
{
	pthread_mutex_lock(&s->lock);
	int r = -ENOMEM;
	json_t *pods = NULL, *profiles = NULL, *msg = NULL;
	struct node *n = node_get(s, node, true);
	if (!n)
		goto out;
	pods = json_array();
	profiles = json_object();
	if (!pods || !profiles)
		goto out;
	uint64_t v = ++s->version;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&n->entries, &pos));) {
		if (json_array_append(pods, e->compiled) < 0)
			goto out;
		e->sent_version = v;
		json_decref(e->failure);
		e->failure = NULL;
	}
	struct profile *p;
	for (size_t pos = 0; (p = hashtab_next(&s->profiles, &pos));)
		if (json_object_set(profiles, p->name, p->profile) < 0)
			goto out;
	msg = push_build_snapshot(s->epoch, v, pods, profiles);
	if (!msg)
		goto out;
	if (n->conn && n->conn != conn && s->ops.close)
		s->ops.close(n->conn, s->userdata);
	n->conn = conn;
	send_to(s, n, msg, v, now_ms);
	r = n->conn == conn ? 0 : -ENOBUFS;
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(pods);
	json_decref(profiles);
	json_decref(msg);
	return r;
}

void push_state_detach(struct push_state *s, const char *node, void *conn)
{
	pthread_mutex_lock(&s->lock);
	struct node *n = node_get(s, node, false);
	if (n && n->conn == conn)
		n->conn = NULL;
	pthread_mutex_unlock(&s->lock);
}

void push_state_detach_all(struct push_state *s)
{
	pthread_mutex_lock(&s->lock);
	struct node *n;
	for (size_t pos = 0; (n = hashtab_next(&s->nodes, &pos));) {
		if (n->conn && s->ops.close)
			s->ops.close(n->conn, s->userdata);
		n->conn = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- acknowledgements ------------------------------------------------------------------------ */

static json_t *failure_from(const json_t *f)
{
	const char *applier = json_string_value(json_object_get(f, "applier"));
	const char *field = json_string_value(json_object_get(f, "field"));
	const char *message = json_string_value(json_object_get(f, "message"));
	return json_pack("{s:s,s:s,s:s}", "applier", applier ? applier : "", "field",
			 field ? field : "", "message", message ? message : "");
}

int push_state_ack(struct push_state *s, const char *node, const json_t *ack, uint64_t now_ms,
		   int64_t *ret_latency_ms, struct field_error *err)
{
	if (!json_is_object(ack))
		return field_error_set(err, "ack", "must be a JSON object");
	const char *epoch = json_string_value(json_object_get(ack, "epoch"));
	const char *result = json_string_value(json_object_get(ack, "result"));
	const json_t *jv = json_object_get(ack, "version");
	const json_t *failed = json_object_get(ack, "failed");
	const char *ack_node = json_string_value(json_object_get(ack, "node"));
	if (!epoch)
		return field_error_set(err, "epoch", "missing");
	if (!json_is_integer(jv) || json_integer_value(jv) < 0)
		return field_error_set(err, "version", "must be a non-negative integer");
	if (!result || (strcmp(result, "ACK") != 0 && strcmp(result, "NACK") != 0))
		return field_error_set(err, "result", "must be ACK or NACK");
	if (failed && !json_is_array(failed))
		return field_error_set(err, "failed", "must be an array");
	if (ack_node && strcmp(ack_node, node) != 0)
		return field_error_set(err, "node", "%s does not match the stream's node %s",
				       ack_node, node);
	size_t i;
	const json_t *f;
	json_array_foreach (failed, i, f) {
		if (!json_string_value(json_object_get(f, "uid"))) {
			char field[48];
			snprintf(field, sizeof(field), "failed[%zu].uid", i);
			return field_error_set(err, field, "missing");
		}
	}
	if (ret_latency_ms)
		*ret_latency_ms = -1;
	if (strcmp(epoch, s->epoch) != 0)
		return 0;

	uint64_t version = (uint64_t)json_integer_value(jv);
	bool nack = strcmp(result, "NACK") == 0;
	const char *message = json_string_value(json_object_get(ack, "message"));

	pthread_mutex_lock(&s->lock);
	struct node *n = node_get(s, node, false);
	if (!n)
		goto out;
	if (version > s->version) {
		pthread_mutex_unlock(&s->lock);
		return field_error_set(err, "version", "%llu was never sent",
				       (unsigned long long)version);
	}
	if (version > n->acked_version)
		n->acked_version = version;
	struct entry *e;
	for (size_t pos = 0; (e = hashtab_next(&n->entries, &pos));) {
		if (e->sent_version != version)
			continue;
		json_decref(e->failure);
		e->failure = NULL;
		if (nack) {
			e->failure = json_pack("{s:s,s:s,s:s}", "applier", "stream", "field", "",
					       "message", message ? message : "refused");
			continue;
		}
		json_array_foreach (failed, i, f) {
			if (strcmp(json_string_value(json_object_get(f, "uid")), e->uid) == 0) {
				e->failure = failure_from(f);
				break;
			}
		}
	}
	if (ret_latency_ms)
		for (unsigned k = 0; k < SENT_RING; k++)
			if (n->sent[k].version == version && n->sent[k].at_ms) {
				*ret_latency_ms = (int64_t)(now_ms - n->sent[k].at_ms);
				break;
			}
out:
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- status ---------------------------------------------------------------------------------- */

static const char *entry_state(const struct node *n, const struct entry *e)
{
	if (e->failure)
		return "Failed";
	if (n->acked_version < e->sent_version)
		return "Pending";
	return "Enforced";
}

/* Worse state wins: Failed over Pending over Enforced. */
static int state_rank(const char *st)
{
	return strcmp(st, "Failed") == 0 ? 2 : strcmp(st, "Pending") == 0 ? 1 : 0;
}

static int add_policy_node(json_t *out, const char *key, const struct node *n,
			   const struct entry *e, json_int_t generation, size_t max_failures)
{
	json_t *per_policy = json_object_get(out, key);
	if (!per_policy) {
		per_policy = json_object();
		if (!per_policy || json_object_set_new(out, key, per_policy) < 0)
			return -ENOMEM;
	}
	json_t *rec = json_object_get(per_policy, n->name);
	const char *st = entry_state(n, e);
	if (!rec) {
		rec = json_pack("{s:I,s:s,s:[]}", "generation", generation, "state", st,
				"failures");
		if (!rec || json_object_set_new(per_policy, n->name, rec) < 0)
			return -ENOMEM;
	} else {
		json_t *g = json_object_get(rec, "generation");
		if (generation < json_integer_value(g))
			json_integer_set(g, generation);
		if (state_rank(st) > state_rank(json_string_value(json_object_get(rec, "state"))))
			json_object_set_new(rec, "state", json_string(st));
	}
	json_t *failures = json_object_get(rec, "failures");
	if (e->failure && json_array_size(failures) < max_failures) {
		char pod[POLICY_KEY_MAX];
		snprintf(pod, sizeof(pod), "%s/%s", e->namespace, e->name);
		json_t *f = json_deep_copy(e->failure);
		if (!f)
			return -ENOMEM;
		json_object_set_new(f, "node", json_string(n->name));
		json_object_set_new(f, "pod", json_string(pod));
		json_array_append_new(failures, f);
	}
	return 0;
}

int push_state_policy_nodes(struct push_state *s, size_t max_failures, json_t **ret)
{
	json_t *out = json_object();
	if (!out)
		return -ENOMEM;
	int r = 0;
	pthread_mutex_lock(&s->lock);
	struct node *n;
	for (size_t np = 0; r == 0 && (n = hashtab_next(&s->nodes, &np));) {
		struct entry *e;
		for (size_t ep = 0; r == 0 && (e = hashtab_next(&n->entries, &ep));) {
			size_t i;
			const json_t *p;
			json_array_foreach (json_object_get(e->compiled, "policies"), i, p) {
				const char *ns = json_string_value(json_object_get(p, "namespace"));
				const char *name = json_string_value(json_object_get(p, "name"));
				if (!ns || !name)
					continue;
				char key[POLICY_KEY_MAX];
				snprintf(key, sizeof(key), "%s/%s", ns, name);
				r = add_policy_node(
					out, key, n, e,
					json_integer_value(json_object_get(p, "generation")),
					max_failures);
				if (r < 0)
					break;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

void push_state_get_stats(struct push_state *s, struct push_state_stats *ret)
{
	struct push_state_stats st = {0};
	pthread_mutex_lock(&s->lock);
	st.nodes = s->nodes.n;
	st.profiles = s->profiles.n;
	struct node *n;
	for (size_t pos = 0; (n = hashtab_next(&s->nodes, &pos));) {
		st.pods += n->entries.n;
		st.attached += n->conn != NULL;
	}
	pthread_mutex_unlock(&s->lock);
	*ret = st;
}
