#include "nodeagent/exec/execrec_kube.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/backoff.h"
#include "log.h"

#define MAX_ATTEMPTS 8
#define QUEUE_MAX    4096

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int64_t parse_time(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return -1;
	return (int64_t)timegm(&tm);
}

static void format_time(uint64_t unix_us, char out[32])
{
	time_t t = (time_t)(unix_us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *execsession_find_requested(const json_t *items, const struct execsession_match_key *k)
{
	json_t *best = NULL;
	int64_t best_created = 0;
	int64_t start = (int64_t)(k->start_unix_us / 1000000);
	size_t i;
	json_t *it;
	json_array_foreach (items, i, it) {
		json_t *spec = json_object_get(it, "spec"), *md = json_object_get(it, "metadata");
		const char *phase = sget(json_object_get(it, "status"), "phase");
		const char *node = sget(spec, "node");
		if (phase && strcmp(phase, "Requested") != 0)
			continue;
		if (!streq(sget(spec, "pod"), k->pod))
			continue;
		/* A session whose container the runtime's state did not name (exec_applier's
		 * resolve) matches the request for any container of the pod; the command and the
		 * time still have to match. */
		if (k->container && *k->container && !streq(sget(spec, "container"), k->container))
			continue;
		if (node && *node && !streq(node, k->node))
			continue;
		if (!k->command ||
		    !json_equal(json_object_get(spec, "command"), (json_t *)k->command))
			continue;
		int64_t created = parse_time(sget(md, "creationTimestamp"));
		if (created < 0 || created < start - EXECSESSION_MATCH_BEFORE_S ||
		    created > start + EXECSESSION_MATCH_AFTER_S)
			continue;
		if (!best || created < best_created ||
		    (created == best_created &&
		     strcmp(sget(md, "name") ?: "",
			    sget(json_object_get(best, "metadata"), "name") ?: "") < 0)) {
			best = it;
			best_created = created;
		}
	}
	return best;
}

json_t *execsession_new_object(const struct execrec_session_info *s)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s}},s:{s:s,s:s,s:s,s:o,s:b,"
			 "s:b,s:{s:s}}}",
			 "apiVersion", "bulwark.dev/v1alpha1", "kind", "ExecSession", "metadata",
			 "name", s->id, "namespace", s->who->namespace, "labels",
			 "app.kubernetes.io/managed-by", "bulwark-agent", "bulwark.dev/node",
			 s->node, "annotations", EXECSESSION_ANNOTATION_RECORDING, s->id,
			 EXECSESSION_ANNOTATION_ORIGIN, "node", "spec", "pod", s->who->pod,
			 "container", s->who->container, "node", s->node, "command",
			 s->command ? json_deep_copy(s->command) : json_array(), "tty", s->tty,
			 "stdin", 1, "user", "username", "unknown");
}

json_t *execsession_status(const struct execrec_session_info *s)
{
	char start[32], end[32];
	format_time(s->start_unix_us, start);
	const char *phase = s->phase == EXECREC_RECORDING   ? "Recording"
			    : s->phase == EXECREC_COMPLETED ? "Completed"
							    : "Failed";
	json_t *st = json_pack("{s:s,s:s}", "phase", phase, "startTime", start);
	if (!st || s->phase == EXECREC_RECORDING)
		return st;
	format_time(s->end_unix_us, end);
	json_object_set_new(st, "endTime", json_string(end));
	json_object_set_new(st, "durationSeconds",
			    json_real(s->end_unix_us > s->start_unix_us
					      ? (double)(s->end_unix_us - s->start_unix_us) / 1e6
					      : 0));
	json_object_set_new(st, "bytes", json_integer((json_int_t)s->bytes));
	json_object_set_new(st, "lostEvents", json_integer((json_int_t)s->lost_events));
	json_object_set_new(st, "gaps", json_integer((json_int_t)s->gaps));
	if (s->digest)
		json_object_set_new(st, "digest", json_string(s->digest));
	if (s->message)
		json_object_set_new(st, "message", json_string(s->message));
	return st;
}

/* ---- the worker ---------------------------------------------------------------------- */

struct job {
	struct job *next;
	bool finish;
	char id[RECORDING_ID_MAX + 1];
	char ns[64];
	json_t *object; /* execsession_new_object() */
	json_t *status;
	json_t *command;
	char pod[254], container[64], node[254];
	uint64_t start_unix_us;
};

/* Which object holds a recording's session: the webhook's, or ours. */
struct claim {
	struct claim *next;
	char id[RECORDING_ID_MAX + 1];
	char ns[64];
	char name[254];
};

struct execsession_sync {
	struct kube_client *client;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t queued;
	bool stop;
	struct claim *claims;
	execsession_identify_fn identify; /* with its userdata, under lock */
	void *identify_userdata;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	json_decref(j->object);
	json_decref(j->status);
	json_decref(j->command);
	free(j);
}

static struct claim *claim_find(struct execsession_sync *s, const char *id)
{
	for (struct claim *c = s->claims; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

static void claim_drop(struct execsession_sync *s, const char *id)
{
	for (struct claim **p = &s->claims; *p; p = &(*p)->next)
		if (!strcmp((*p)->id, id)) {
			struct claim *c = *p;
			*p = c->next;
			free(c);
			return;
		}
}

static int claim_add(struct execsession_sync *s, const char *id, const char *ns, const char *name)
{
	struct claim *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->next = s->claims;
	s->claims = c;
	return 0;
}

/* Tells the recorder who asked for recording id (user: the request's spec.user, NULL for a
 * node-local session) and the container's name, which the header may not have had yet. */
static void tell_identity(struct execsession_sync *s, const char *id, const char *name,
			  const json_t *user, const char *container)
{
	json_t *identity = json_pack("{s:s}", "execSession", name);
	if (identity && json_is_object(user))
		json_object_set(identity, "user", (json_t *)user);
	if (identity && container && *container)
		json_object_set_new(identity, "container", json_string(container));
	pthread_mutex_lock(&s->lock);
	if (s->identify && identity)
		s->identify(id, identity, s->identify_userdata);
	pthread_mutex_unlock(&s->lock);
	json_decref(identity);
}

void execsession_sync_set_identify(struct execsession_sync *s, execsession_identify_fn fn,
				   void *userdata)
{
	pthread_mutex_lock(&s->lock);
	s->identify = fn;
	s->identify_userdata = userdata;
	pthread_mutex_unlock(&s->lock);
}

/* Writes status onto the object (re-read on conflict). */
static int put_status(struct execsession_sync *s, const char *ns, const char *name,
		      const json_t *status, const char *expect_phase)
{
	for (int tries = 0; tries < 5; tries++) {
		json_t *obj = NULL;
		int r = kube_get(s->client, &BULWARK_RES_EXECSESSIONS, ns, name, &obj, NULL);
		if (r < 0)
			return r;
		const char *phase = sget(json_object_get(obj, "status"), "phase");
		if (expect_phase && phase && strcmp(phase, expect_phase) != 0) {
			json_decref(obj);
			return -EBUSY; /* someone else claimed it */
		}
		json_t *st = json_object_get(obj, "status");
		if (!json_is_object(st)) {
			st = json_object();
			json_object_set_new(obj, "status", st);
		}
		json_object_update(st, (json_t *)status);
		r = kube_update_status(s->client, &BULWARK_RES_EXECSESSIONS, ns, obj, NULL, NULL);
		json_decref(obj);
		if (r != -ESTALE)
			return r;
	}
	return -ESTALE;
}

static int do_start(struct execsession_sync *s, struct job *j)
{
	json_t *items = NULL;
	struct kube_list_options lo = {.max_items = 10000};
	int r = kube_list(s->client, &BULWARK_RES_EXECSESSIONS, j->ns, &lo, &items, NULL, NULL);
	if (r < 0)
		return r;
	struct execsession_match_key k = {.pod = j->pod,
					  .container = j->container,
					  .node = j->node,
					  .command = j->command,
					  .start_unix_us = j->start_unix_us};
	/* Claim the best candidate; if another agent or session got it first, the next. */
	for (;;) {
		json_t *m = execsession_find_requested(items, &k);
		if (!m)
			break;
		char name[254];
		snprintf(name, sizeof(name), "%s", sget(json_object_get(m, "metadata"), "name"));
		r = put_status(s, j->ns, name, j->status, "Requested");
		if (r == 0) {
			const json_t *spec = json_object_get(m, "spec");
			const char *ctr = sget(spec, "container");
			tell_identity(s, j->id, name, json_object_get(spec, "user"),
				      ctr && *ctr ? ctr : j->container);
			json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
						  EXECSESSION_ANNOTATION_RECORDING, j->id);
			int pr = patch ? kube_patch_merge(s->client, &BULWARK_RES_EXECSESSIONS,
							  j->ns, name, patch, NULL, NULL)
				       : -ENOMEM;
			json_decref(patch);
			if (pr < 0)
				log_error(pr,
					  "annotating the ExecSession with its recording failed, "
					  "ignoring",
					  "name", name, "recording", j->id);
			json_decref(items);
			log_info(2, "exec session matched its request", "name", name, "recording",
				 j->id);
			return claim_add(s, j->id, j->ns, name);
		}
		if (r != -EBUSY && r != -ENOENT) {
			json_decref(items);
			return r;
		}
		/* Taken meanwhile: drop it from the candidates. */
		json_t *status = json_object_get(m, "status");
		if (!json_is_object(status)) {
			status = json_object();
			json_object_set_new(m, "status", status);
		}
		json_object_set_new(status, "phase", json_string("Claimed"));
	}
	json_decref(items);
	r = kube_create(s->client, &BULWARK_RES_EXECSESSIONS, j->ns, j->object, NULL, NULL);
	if (r < 0 && r != -EEXIST)
		return r;
	r = put_status(s, j->ns, j->id, j->status, NULL);
	if (r < 0)
		return r;
	tell_identity(s, j->id, j->id, NULL, j->container);
	return claim_add(s, j->id, j->ns, j->id);
}

static int do_finish(struct execsession_sync *s, struct job *j)
{
	struct claim *c = claim_find(s, j->id);
	if (!c) {
		/* The start never reached the apiserver: create it now. */
		int r = do_start(s, j);
		if (r < 0)
			return r;
		c = claim_find(s, j->id);
		if (!c)
			return -ENOENT;
	}
	int r = put_status(s, c->ns, c->name, j->status, NULL);
	if (r == 0)
		claim_drop(s, j->id);
	return r;
}

static void *worker(void *arg)
{
	struct execsession_sync *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->head)
			break;
		struct job *j = s->head;
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		pthread_mutex_unlock(&s->lock);

		struct backoff b = BACKOFF_INIT(200, 10000, BACKOFF_FULL_JITTER);
		int r = 0;
		for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
			r = j->finish ? do_finish(s, j) : do_start(s, j);
			if (r >= 0 || !kube_errno_is_transient(r))
				break;
			uint64_t ms = backoff_next_ms(&b, NULL, NULL);
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
		if (r < 0)
			log_error(r, "updating the ExecSession failed", "recording", j->id, "step",
				  j->finish ? "finish" : "start");
		job_free(j);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void enqueue(struct execsession_sync *s, const struct execrec_session_info *info,
		    bool finish)
{
	if (!info->who->namespace[0] || !info->who->pod[0]) {
		log_warn("exec session of an unknown pod: no ExecSession, ignoring", "recording",
			 info->id);
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->finish = finish;
	snprintf(j->id, sizeof(j->id), "%s", info->id);
	snprintf(j->ns, sizeof(j->ns), "%s", info->who->namespace);
	snprintf(j->pod, sizeof(j->pod), "%s", info->who->pod);
	snprintf(j->container, sizeof(j->container), "%s", info->who->container);
	snprintf(j->node, sizeof(j->node), "%s", info->node ? info->node : "");
	j->start_unix_us = info->start_unix_us;
	j->command = info->command ? json_deep_copy(info->command) : json_array();
	j->object = execsession_new_object(info);
	j->status = execsession_status(info);
	if (!j->object || !j->status || !j->command) {
		job_free(j);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&s->lock);
		log_warn("ExecSession queue full, dropping an update", "recording", info->id);
		job_free(j);
		return;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->queued++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_started(const struct execrec_session_info *info, void *ud)
{
	enqueue(ud, info, false);
}

static void on_finished(const struct execrec_session_info *info, void *ud)
{
	enqueue(ud, info, true);
}

struct execrec_sink execsession_sync_sink(struct execsession_sync *s)
{
	return (struct execrec_sink){
		.session_started = on_started, .session_finished = on_finished, .userdata = s};
}

int execsession_sync_new(struct kube_client *client, struct execsession_sync **ret)
{
	struct execsession_sync *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->client = client;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	int r = pthread_create(&s->thread, NULL, worker, s);
	if (r) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return -r;
	}
	*ret = s;
	return 0;
}

struct execsession_sync *execsession_sync_free(struct execsession_sync *s, int timeout_ms)
{
	if (!s)
		return NULL;
	/* Give queued updates a chance, then stop. */
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		pthread_mutex_lock(&s->lock);
		bool idle = !s->head;
		pthread_mutex_unlock(&s->lock);
		if (idle)
			break;
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	struct job *j = s->head;
	s->head = s->tail = NULL;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	while (j) {
		struct job *next = j->next;
		job_free(j);
		j = next;
	}
	while (s->claims) {
		struct claim *c = s->claims;
		s->claims = c->next;
		free(c);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return NULL;
}
