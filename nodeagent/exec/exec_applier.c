#include "exec_applier.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "nodeagent/exec/container_name.h"
#include "nodeagent/exec/execrec.h"
#include "nodeagent/exec/execrec_kube.h"

struct exec_applier {
	struct exec_applier_opts opts;
	pthread_mutex_t lock;
	/* pod uid → {"ns","name","cgroup": id or 0,"added": bool} for pods that record */
	json_t *pods;
	json_t *to_remove; /* cgroup ids whose recording must stop (recorder thread drains) */
	/* container cgroup id (decimal) → the runtime's container id, from the cgroup watcher,
	 * which names each cgroup it sees; resolving an id by file handle instead takes
	 * CAP_DAC_READ_SEARCH, which the DaemonSet does not grant. */
	json_t *containers;
	struct execrec_stats stats;
	bool running;
};

int exec_applier_new(const struct exec_applier_opts *opts, struct exec_applier **ret)
{
	struct exec_applier *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->opts = *opts;
	pthread_mutex_init(&e->lock, NULL);
	e->pods = json_object();
	e->to_remove = json_array();
	e->containers = json_object();
	if (!e->pods || !e->to_remove || !e->containers) {
		exec_applier_free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

struct exec_applier *exec_applier_free(struct exec_applier *e)
{
	if (!e)
		return NULL;
	json_decref(e->pods);
	json_decref(e->to_remove);
	json_decref(e->containers);
	pthread_mutex_destroy(&e->lock);
	free(e);
	return NULL;
}

static const char *pod_field(const json_t *compiled, const char *k)
{
	return json_string_value(json_object_get(json_object_get(compiled, "pod"), k));
}

/* Called with the lock held. */
static void forget(struct exec_applier *e, const char *uid)
{
	json_t *entry = json_object_get(e->pods, uid);
	if (!entry)
		return;
	if (json_is_true(json_object_get(entry, "added")))
		json_array_append(e->to_remove, json_object_get(entry, "cgroup"));
	json_object_del(e->pods, uid);
}

static int apply_pod(void *ctx, const json_t *compiled, const json_t *previous,
		     struct field_error *err)
{
	struct exec_applier *e = ctx;
	const char *uid = pod_field(compiled, "uid");
	bool wanted = json_is_true(
		json_object_get(json_object_get(compiled, "execRecording"), "enabled"));
	pthread_mutex_lock(&e->lock);
	if (!wanted) {
		forget(e, uid);
	} else if (!json_object_get(e->pods, uid)) {
		uint64_t id = 0;
		if (pod_cgroup_find(e->opts.cgroup_root, uid, &id) < 0)
			id = 0;
		json_object_set_new(e->pods, uid,
				    json_pack("{s:s,s:s,s:I,s:b}", "ns",
					      pod_field(compiled, "namespace"), "name",
					      pod_field(compiled, "name"), "cgroup", (json_int_t)id,
					      "added", 0));
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static int remove_pod(void *ctx, const json_t *compiled)
{
	struct exec_applier *e = ctx;
	pthread_mutex_lock(&e->lock);
	forget(e, pod_field(compiled, "uid"));
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* Recording is user-space state only: adopting is applying. */
static int adopt_pod(void *ctx, const json_t *compiled)
{
	struct field_error ignored = {0};
	return apply_pod(ctx, compiled, NULL, &ignored);
}

struct applier exec_applier_ops(struct exec_applier *e)
{
	return (struct applier){.name = "execRecording",
				.ctx = e,
				.apply_pod = apply_pod,
				.remove_pod = remove_pod,
				.adopt_pod = adopt_pod};
}

void exec_applier_cgroup_event(struct exec_applier *e, const struct cgroup_event *ev)
{
	pthread_mutex_lock(&e->lock);
	json_t *entry = json_object_get(e->pods, ev->id.pod_uid);
	if (ev->id.container_id[0] && ev->type == CGROUP_EVENT_REMOVED) {
		const char *key;
		void *tmp;
		json_t *v;
		json_object_foreach_safe (e->containers, tmp, key, v)
			if (!strcmp(json_string_value(v), ev->id.container_id))
				json_object_del(e->containers, key);
	} else if (ev->id.container_id[0]) {
		/* Any pod's: a policy may select the pod later. */
		char key[24];
		snprintf(key, sizeof(key), "%llu", (unsigned long long)ev->cgroup_id);
		json_object_set_new(e->containers, key, json_string(ev->id.container_id));
	} else if (entry) {
		if (ev->type == CGROUP_EVENT_REMOVED) {
			if (json_is_true(json_object_get(entry, "added")))
				json_array_append(e->to_remove, json_object_get(entry, "cgroup"));
			json_object_set_new(entry, "cgroup", json_integer(0));
		} else {
			json_object_set_new(entry, "cgroup",
					    json_integer((json_int_t)ev->cgroup_id));
		}
		json_object_set_new(entry, "added", json_false());
	}
	pthread_mutex_unlock(&e->lock);
}

/* Names a session's pod from its pod cgroup id, and its container from the runtime's id in
 * the container cgroup's name matched against the pod's status (known when the worker has
 * looked it up; never waits for the apiserver). */
static int resolve(uint64_t cgroup_id, uint64_t pod_cgroup_id, struct execrec_identity *ret,
		   void *userdata)
{
	struct exec_applier *e = userdata;
	int r = -ENOENT;
	pthread_mutex_lock(&e->lock);
	const char *uid;
	json_t *entry;
	json_object_foreach (e->pods, uid, entry) {
		if ((uint64_t)json_integer_value(json_object_get(entry, "cgroup")) != pod_cgroup_id)
			continue;
		snprintf(ret->namespace, sizeof(ret->namespace), "%s",
			 json_string_value(json_object_get(entry, "ns")));
		snprintf(ret->pod, sizeof(ret->pod), "%s",
			 json_string_value(json_object_get(entry, "name")));
		snprintf(ret->pod_uid, sizeof(ret->pod_uid), "%s", uid);
		/* Which container, from the runtime's own state (a few KiB read once per
		 * session); a request through the API server names it anyway. */
		char key[24];
		snprintf(key, sizeof(key), "%llu", (unsigned long long)cgroup_id);
		const char *known = json_string_value(json_object_get(e->containers, key));
		if (known)
			snprintf(ret->container_id, sizeof(ret->container_id), "%s", known);
		if (known || cgroup_container_id(e->opts.cgroup_root, cgroup_id, ret->container_id,
						 sizeof(ret->container_id)) == 0) {
			int nr = runtime_container_name(e->opts.runtime_state_dirs,
							ret->container_id, ret->container,
							sizeof(ret->container));
			if (nr < 0 && nr != -ENOENT)
				log_info(4, "reading the runtime's container state failed",
					 "containerID", ret->container_id, "err", strerror(-nr));
		}
		r = 0;
		break;
	}
	pthread_mutex_unlock(&e->lock);
	return r;
}

/* Recorder thread: applies the wanted set to the recorder. */
static void reconcile(struct exec_applier *e, struct execrec_recorder *rec)
{
	pthread_mutex_lock(&e->lock);
	size_t i;
	json_t *id;
	json_array_foreach (e->to_remove, i, id)
		execrec_remove_pod(rec, (uint64_t)json_integer_value(id));
	json_array_clear(e->to_remove);
	const char *uid;
	json_t *entry;
	json_object_foreach (e->pods, uid, entry) {
		uint64_t cg = (uint64_t)json_integer_value(json_object_get(entry, "cgroup"));
		if (!cg || json_is_true(json_object_get(entry, "added")))
			continue;
		int r = execrec_add_pod(rec, cg);
		if (r < 0)
			log_error(r, "recording a pod's exec sessions failed", "pod", uid);
		else
			json_object_set_new(entry, "added", json_true());
	}
	execrec_get_stats(rec, &e->stats);
	pthread_mutex_unlock(&e->lock);
}

static void identify(const char *recording_id, const json_t *identity, void *userdata)
{
	int r = execrec_identify(userdata, recording_id, identity);
	if (r < 0)
		log_error(r, "passing an exec session's requester to its recording failed",
			  "recording", recording_id);
}

int exec_applier_run(struct exec_applier *e, volatile sig_atomic_t *stop)
{
	struct execsession_sync *sync = NULL;
	struct execrec_sink sink;
	if (e->opts.client) {
		int r = execsession_sync_new(e->opts.client, &sync);
		if (r < 0)
			return r;
		sink = execsession_sync_sink(sync);
	}
	struct execrec_opts o = {
		.recordings_dir = e->opts.recordings_dir,
		.node_name = e->opts.node,
		.resolve = resolve,
		.resolve_userdata = e,
		.sink = sync ? &sink : NULL,
		.retention_max_age_s = e->opts.retention_max_age_s,
		.retention_max_bytes = e->opts.retention_max_bytes,
		.hooks = e->opts.hooks_always ? EXECREC_HOOKS_ALWAYS : EXECREC_HOOKS_ON_DEMAND,
		/* The requester's name belongs in the header; the claim takes a few API calls. */
		.identity_wait_ms = sync ? EXECREC_IDENTITY_WAIT_MS : 0,
	};
	struct execrec_recorder *rec;
	int r = execrec_open(&o, &rec);
	if (r < 0) {
		execsession_sync_free(sync, 0);
		return r;
	}
	if (sync)
		execsession_sync_set_identify(sync, identify, rec);
	log_info(0, "exec session recording ready", "dir", e->opts.recordings_dir, "ptyHooks",
		 execrec_uses_pty_hooks(rec) ? "fexit" : "syscall tracepoints");
	e->running = true;
	while (!*stop) {
		reconcile(e, rec);
		r = execrec_poll(rec, 500);
		if (r < 0)
			log_error(r, "reading exec recording events failed");
	}
	if (sync)
		execsession_sync_set_identify(sync, NULL, NULL);
	execrec_free(rec);
	execsession_sync_free(sync, 5000);
	return 0;
}

int exec_applier_collect(struct buf *out, void *userdata)
{
	struct exec_applier *e = userdata;
	if (!e->running)
		return 0;
	pthread_mutex_lock(&e->lock);
	struct execrec_stats s = e->stats;
	pthread_mutex_unlock(&e->lock);
	const struct {
		const char *name, *help, *type;
		uint64_t v;
	} m[] = {
		{"bulwark_exec_sessions_open", "Exec sessions being recorded.", "gauge",
		 s.sessions_open},
		{"bulwark_exec_sessions_total", "Exec sessions recorded since start.", "counter",
		 s.sessions_total},
		{"bulwark_exec_lost_events_total",
		 "Recording events lost (ring buffer full); each "
		 "loss is marked as a gap in its recording.",
		 "counter", s.lost_events},
		{"bulwark_exec_lost_bytes_total", "Terminal bytes lost in gaps.", "counter",
		 s.lost_bytes},
		{"bulwark_exec_sessions_dropped_total",
		 "Sessions not recorded at all (kernel maps full).", "counter", s.sessions_dropped},
		{"bulwark_exec_capture_late_sessions_total",
		 "Sessions whose first exec ran before the capture hooks were attached (their "
		 "recording has a gap saying so).",
		 "counter", s.capture_late_sessions},
		{"bulwark_exec_identity_late_sessions_total",
		 "Recordings whose header was written before the requester was known (it is in "
		 "the event log if it came later).",
		 "counter", s.identity_late_sessions},
		{"bulwark_exec_write_errors_total", "Recording files that could not be written.",
		 "counter", s.write_errors},
	};
	int r = 0;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]) && r == 0; i++) {
		r = metrics_write_header(out, m[i].name, m[i].help, m[i].type);
		r = r ?: metrics_write_sample(out, m[i].name, NULL, NULL, (double)m[i].v);
	}
	return r;
}
