#include "sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"

#define APPLIERS_MAX   8
#define STATE_FILE_MAX (256u << 20)

struct agent_sync {
	char *node;
	char *state_path;
	struct applier appliers[APPLIERS_MAX];
	size_t n_appliers;
	char epoch[65];
	uint64_t version;
	json_t *pods;	  /* uid → compiled pod as applied */
	json_t *profiles; /* name → profile as applied */
	bool synced;
	json_t *features;
	pthread_mutex_t lock; /* held by agent_sync_handle() and agent_sync_status() */
};

bool agent_sync_synced(const struct agent_sync *s)
{
	return s->synced;
}
void agent_sync_mark_unsynced(struct agent_sync *s)
{
	s->synced = false;
}

int agent_sync_new(const char *node, const char *state_path, struct agent_sync **ret)
{
	struct agent_sync *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->node = strdup(node);
	s->state_path = state_path ? strdup(state_path) : NULL;
	s->pods = json_object();
	s->profiles = json_object();
	if (!s->node || (state_path && !s->state_path) || !s->pods || !s->profiles) {
		agent_sync_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

struct agent_sync *agent_sync_free(struct agent_sync *s)
{
	if (!s)
		return NULL;
	json_decref(s->pods);
	json_decref(s->profiles);
	json_decref(s->features);
	free(s->node);
	free(s->state_path);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

int agent_sync_add_applier(struct agent_sync *s, const struct applier *a)
{
	if (s->n_appliers == APPLIERS_MAX)
		return -E2BIG;
	s->appliers[s->n_appliers++] = *a;
	return 0;
}

uint64_t agent_sync_version(const struct agent_sync *s)
{
	return s->version;
}
const char *agent_sync_epoch(const struct agent_sync *s)
{
	return s->epoch;
}
size_t agent_sync_pod_count(const struct agent_sync *s)
{
	return json_object_size(s->pods);
}
const json_t *agent_sync_pod(const struct agent_sync *s, const char *uid)
{
	return json_object_get(s->pods, uid);
}

static const char *pod_field(const json_t *compiled, const char *key)
{
	return json_string_value(json_object_get(json_object_get(compiled, "pod"), key));
}

static int persist(struct agent_sync *s)
{
	if (!s->state_path)
		return 0;
	json_t *state = json_pack("{s:i,s:s,s:s,s:I,s:O,s:O}", "stateVersion", 1, "node", s->node,
				  "epoch", s->epoch, "version", (json_int_t)s->version, "pods",
				  s->pods, "profiles", s->profiles);
	if (!state)
		return -ENOMEM;
	_cleanup_free_ char *text = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	if (!text)
		return -ENOMEM;
	/* Root-only: the state names every pod on the node and its policy. */
	return write_file_atomic(s->state_path, text, strlen(text), 0600);
}

int agent_sync_load(struct agent_sync *s)
{
	if (!s->state_path)
		return 0;
	_cleanup_buf_ struct buf b = BUF_INIT(STATE_FILE_MAX);
	int r = read_file_capped(s->state_path, &b);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	json_error_t jerr;
	json_t *state = json_loadb(b.data, b.len, 0, &jerr);
	if (!state)
		return -EBADMSG;
	json_t *pods = json_object_get(state, "pods"),
	       *profiles = json_object_get(state, "profiles");
	const char *epoch = json_string_value(json_object_get(state, "epoch"));
	const char *node = json_string_value(json_object_get(state, "node"));
	if (!json_is_object(pods) || !json_is_object(profiles) || !epoch || !node ||
	    strcmp(node, s->node) != 0) {
		json_decref(state);
		return -EBADMSG;
	}
	snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
	s->version = (uint64_t)json_integer_value(json_object_get(state, "version"));
	json_object_update(s->pods, pods);
	json_object_update(s->profiles, profiles);
	json_decref(state);
	const char *uid;
	json_t *compiled;
	json_object_foreach (s->pods, uid, compiled)
		for (size_t i = 0; i < s->n_appliers; i++) {
			const struct applier *a = &s->appliers[i];
			int r = a->adopt_pod ? a->adopt_pod(a->ctx, compiled) : 0;
			if (r < 0)
				log_error(r,
					  "adopting a pod's policy after restart failed, ignoring",
					  "applier", a->name, "pod", uid);
		}
	return 0;
}

static void add_failure(json_t *failed, const json_t *compiled, const char *applier,
			const struct field_error *err, int r)
{
	json_array_append_new(failed, json_pack("{s:s?,s:s?,s:s?,s:s,s:s,s:s}", "uid",
						pod_field(compiled, "uid"), "namespace",
						pod_field(compiled, "namespace"), "name",
						pod_field(compiled, "name"), "applier", applier,
						"field", err->field, "message",
						err->reason[0] ? err->reason : strerror(-r)));
}

/* Runs every applier for one pod; on the first failure, the appliers that already ran are
 * asked to go back to the previous policy (or to remove the pod if it is new), so the pod
 * stays consistent across mechanisms. */
static int apply_one(struct agent_sync *s, const json_t *compiled, json_t *failed)
{
	const char *uid = pod_field(compiled, "uid");
	json_t *previous = json_object_get(s->pods, uid);
	if (previous &&
	    json_equal(json_object_get(previous, "hash"), json_object_get(compiled, "hash")))
		return 0;
	for (size_t i = 0; i < s->n_appliers; i++) {
		struct field_error err = {0};
		const struct applier *a = &s->appliers[i];
		int r = a->apply_pod ? a->apply_pod(a->ctx, compiled, previous, &err) : 0;
		if (r == 0)
			continue;
		add_failure(failed, compiled, a->name, &err, r);
		log_error(r, "applying pod policy failed", "applier", a->name, "pod", uid, "field",
			  err.field, "reason", err.reason);
		while (i-- > 0) {
			const struct applier *undo = &s->appliers[i];
			struct field_error ignored = {0};
			if (previous)
				undo->apply_pod(undo->ctx, previous, compiled, &ignored);
			else if (undo->remove_pod)
				undo->remove_pod(undo->ctx, compiled);
		}
		return r;
	}
	json_object_set(s->pods, uid, (json_t *)compiled);
	return 0;
}

static void remove_one(struct agent_sync *s, const char *uid)
{
	json_t *compiled = json_object_get(s->pods, uid);
	if (!compiled)
		return;
	for (size_t i = s->n_appliers; i-- > 0;) {
		const struct applier *a = &s->appliers[i];
		int r = a->remove_pod ? a->remove_pod(a->ctx, compiled) : 0;
		if (r < 0)
			log_error(r, "removing pod policy failed, ignoring", "applier", a->name,
				  "pod", uid);
	}
	json_object_del(s->pods, uid);
}

static int apply_profiles(struct agent_sync *s, const json_t *profiles, bool replace_all,
			  json_t *failed)
{
	json_t *next = replace_all ? json_object() : json_copy(s->profiles);
	if (!next)
		return -ENOMEM;
	json_object_update(next, (json_t *)profiles);
	for (size_t i = 0; i < s->n_appliers; i++) {
		const struct applier *a = &s->appliers[i];
		struct field_error err = {0};
		int r = a->apply_profiles ? a->apply_profiles(a->ctx, next, &err) : 0;
		if (r < 0) {
			json_array_append_new(failed,
					      json_pack("{s:s,s:s,s:s}", "applier", a->name,
							"field", err.field, "message",
							err.reason[0] ? err.reason : strerror(-r)));
			json_decref(next);
			return r;
		}
	}
	json_decref(s->profiles);
	s->profiles = next;
	return 0;
}

static json_t *ack(struct agent_sync *s, const char *epoch, uint64_t version, const char *result,
		   const char *message, json_t *failed)
{
	json_t *a = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:o}", "node", s->node, "epoch", epoch,
			      "version", (json_int_t)version, "result", result, "message", message,
			      "applied", (json_int_t)json_object_size(s->pods), "failed",
			      failed ? failed : json_array());
	if (a && s->features)
		json_object_set(a, "features", s->features);
	return a;
}

void agent_sync_set_features(struct agent_sync *s, json_t *features)
{
	pthread_mutex_lock(&s->lock);
	json_decref(s->features);
	s->features = json_incref(features);
	pthread_mutex_unlock(&s->lock);
}

void agent_sync_status(struct agent_sync *s, struct agent_sync_status *ret)
{
	pthread_mutex_lock(&s->lock);
	snprintf(ret->epoch, sizeof(ret->epoch), "%s", s->epoch);
	ret->version = s->version;
	ret->pods = json_object_size(s->pods);
	ret->synced = s->synced;
	pthread_mutex_unlock(&s->lock);
}

static json_t *handle_locked(struct agent_sync *s, const char *line, size_t len);

json_t *agent_sync_handle(struct agent_sync *s, const char *line, size_t len)
{
	pthread_mutex_lock(&s->lock);
	json_t *ack = handle_locked(s, line, len);
	pthread_mutex_unlock(&s->lock);
	return ack;
}

static json_t *handle_locked(struct agent_sync *s, const char *line, size_t len)
{
	struct push_message m;
	struct field_error err = {0};
	int r = push_message_parse(line, len, &m, &err);
	if (r < 0) {
		char msg[800];
		field_error_str(&err, msg, sizeof(msg));
		log_error(r, "refusing a malformed push message", "reason", msg);
		return ack(s, s->epoch, s->version, "NACK", msg, NULL);
	}
	if (m.type == PUSH_HEARTBEAT) {
		push_message_done(&m);
		return NULL;
	}
	if (m.type == PUSH_DELETE &&
	    !json_object_get(s->pods, json_string_value(json_object_get(m.pod, "uid")))) {
		char msg[400];
		snprintf(msg, sizeof(msg), "DELETE of unknown pod %s/%s (uid %s)",
			 json_string_value(json_object_get(m.pod, "namespace")),
			 json_string_value(json_object_get(m.pod, "name")),
			 json_string_value(json_object_get(m.pod, "uid")));
		json_t *a = ack(s, m.epoch, m.version, "NACK", msg, NULL);
		push_message_done(&m);
		return a;
	}

	json_t *failed = json_array();
	switch (m.type) {
	case PUSH_SNAPSHOT: {
		/* Profiles first: a pod's profile must be on disk before anything refers to it. */
		json_t *no_profiles = m.profiles ? NULL : json_object();
		apply_profiles(s, m.profiles ? m.profiles : no_profiles, true, failed);
		json_decref(no_profiles);
		json_t *wanted = json_object();
		size_t i;
		json_t *pod;
		json_array_foreach (m.pods, i, pod)
			json_object_set_new(wanted, pod_field(pod, "uid"), json_true());
		const char *uid;
		json_t *v;
		void *tmp;
		json_object_foreach_safe (s->pods, tmp, uid, v) {
			if (!json_object_get(wanted, uid))
				remove_one(s, uid);
		}
		json_decref(wanted);
		json_array_foreach (m.pods, i, pod)
			apply_one(s, pod, failed);
		s->synced = true;
		break;
	}
	case PUSH_UPSERT: apply_one(s, m.pod, failed); break;
	case PUSH_DELETE: remove_one(s, json_string_value(json_object_get(m.pod, "uid"))); break;
	case PUSH_PROFILES: apply_profiles(s, m.profiles, false, failed); break;
	case PUSH_HEARTBEAT: break;
	}
	snprintf(s->epoch, sizeof(s->epoch), "%s", m.epoch);
	s->version = m.version;
	r = persist(s);
	if (r < 0)
		log_error(r,
			  "persisting the applied state failed; a restart will resync from the "
			  "controller",
			  "path", s->state_path);
	json_t *a = ack(s, m.epoch, m.version, "ACK",
			json_array_size(failed) ? "some pods failed" : "", failed);
	push_message_done(&m);
	return a;
}
