/* Push streams and acknowledgements (stream.h). */
#include "controller/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "controller/agent_auth.h"
#include "controller/recordings/agent_recordings.h"
#include "httpd.h"
#include "kube/loop.h"
#include "log.h"
#include "metrics.h"
#include "push.h"

/* Queued messages are references to the state's immutable JSON, not serialised copies: a
 * snapshot shares every compiled pod policy with the state, and is rendered a piece at a time
 * by the connection's thread, so a hundred agents connecting at once cost a hundred small
 * buffers, not a hundred copies of their snapshots. */
struct queued {
	struct queued *next;
	json_t *msg;
};

/* Where the rendering of a SNAPSHOT is. */
enum render_phase {
	RENDER_IDLE,
	RENDER_PODS,
	RENDER_PROFILES,
};

struct stream_server {
	struct stream_config cfg;
	atomic_bool stopping;
	struct metric *streams_total;	     /* {result} */
	struct metric *acks_total;	     /* {result} */
	struct metric *token_reviews;	     /* {result} */
	struct metric *push_latency_seconds; /* from queued to acknowledged */
};

struct conn {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct stream_server *s;
	char node[254];
	struct queued *head, *tail;
	size_t queued;
	bool closed;
	uint64_t last_version;
	uint64_t last_write_ms;

	/* Used by the connection's thread only. */
	struct buf out;
	size_t out_off;
	json_t *rendering; /* the SNAPSHOT being rendered */
	enum render_phase phase;
	size_t pieces;
	void *profile_iter;
};

static int stream_send(void *conn, const json_t *msg, uint64_t version, void *userdata)
{
	struct conn *k = conn;
	struct queued *q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct queued){.msg = json_incref((json_t *)msg)};

	pthread_mutex_lock(&k->lock);
	int r = 0;
	if (k->closed) {
		r = -EPIPE;
	} else if (k->queued >= k->s->cfg.queue_max) {
		/* The agent reads slower than we change: drop it rather than queue without
		 * bound; its reconnect starts from a fresh snapshot. */
		k->closed = true;
		r = -ENOBUFS;
		metric_add(k->s->streams_total, (const char *[]){"overflow"}, 1);
		log_warn("agent stream overflowed its queue, dropping it", "node", k->node,
			 "queued", LOG_INT(k->queued));
	} else {
		if (k->tail)
			k->tail->next = q;
		else
			k->head = q;
		k->tail = q;
		k->queued++;
		q = NULL;
		k->last_version = version;
	}
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (q) {
		json_decref(q->msg);
		free(q);
	}
	return r;
}

static void stream_close(void *conn, void *userdata)
{
	struct conn *k = conn;
	pthread_mutex_lock(&k->lock);
	k->closed = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static int dump_to_buf(const char *data, size_t size, void *ud)
{
	return buf_append(ud, data, size) < 0 ? -1 : 0;
}

static int render_json(struct conn *k, const json_t *j)
{
	return json_dump_callback(j, dump_to_buf, &k->out, JSON_COMPACT | JSON_ENCODE_ANY) < 0
		       ? -EMSGSIZE
		       : 0;
}

/* Appends the next piece of the SNAPSHOT being rendered to k->out: the head, one pod, one
 * profile, or the tail. */
static int render_snapshot_piece(struct conn *k)
{
	const json_t *m = k->rendering;
	const json_t *pods = json_object_get(m, "pods");
	json_t *profiles = json_object_get(m, "profiles");
	int r = 0;
	switch (k->phase) {
	case RENDER_IDLE:
		r = buf_printf(&k->out, "{\"type\":\"SNAPSHOT\",\"epoch\":");
		r = r ?: render_json(k, json_object_get(m, "epoch"));
		r = r
			    ?: buf_printf(&k->out, ",\"version\":%lld,\"pods\":[",
					  (long long)json_integer_value(
						  json_object_get(m, "version")));
		k->phase = RENDER_PODS;
		k->pieces = 0;
		return r;
	case RENDER_PODS:
		if (k->pieces < json_array_size(pods)) {
			if (k->pieces)
				r = buf_append_str(&k->out, ",");
			r = r ?: render_json(k, json_array_get(pods, k->pieces));
			k->pieces++;
			return r;
		}
		k->phase = RENDER_PROFILES;
		k->pieces = 0; /* now counts profiles */
		k->profile_iter = json_object_iter(profiles);
		return buf_append_str(&k->out, "],\"profiles\":{");
	case RENDER_PROFILES:
		if (k->profile_iter) {
			const char *name = json_object_iter_key(k->profile_iter);
			json_t *key = json_string(name);
			if (k->pieces++)
				r = buf_append_str(&k->out, ",");
			r = r ?: render_json(k, key);
			r = r ?: buf_append_str(&k->out, ":");
			r = r ?: render_json(k, json_object_iter_value(k->profile_iter));
			json_decref(key);
			k->profile_iter = json_object_iter_next(profiles, k->profile_iter);
			return r;
		}
		json_decref(k->rendering);
		k->rendering = NULL;
		k->phase = RENDER_IDLE;
		return buf_append_str(&k->out, "}}\n");
	}
	return -EINVAL;
}

static void heartbeat(struct conn *k)
{
	buf_printf(&k->out, "{\"type\":\"HEARTBEAT\",\"epoch\":\"%s\",\"version\":%llu}\n",
		   push_state_epoch(k->s->cfg.state), (unsigned long long)k->last_version);
}

/* Fills k->out with the next bytes to send: a piece of a snapshot, a whole message, or a
 * heartbeat when one is due. Blocks until there is something, or returns -EPIPE when the
 * stream is to end. */
static int conn_fill(struct conn *k)
{
	if (k->rendering)
		return render_snapshot_piece(k);
	pthread_mutex_lock(&k->lock);
	while (!k->head) {
		if (k->closed || atomic_load(&k->s->stopping)) {
			pthread_mutex_unlock(&k->lock);
			return -EPIPE;
		}
		uint64_t now = kube_loop_now_ms();
		uint64_t due = k->last_write_ms + (uint64_t)k->s->cfg.heartbeat_s * 1000;
		if (now >= due) {
			heartbeat(k);
			pthread_mutex_unlock(&k->lock);
			return 0;
		}
		/* Wake at least every 500 ms to notice a shutdown. */
		uint64_t wait_ms = due - now < 500 ? due - now : 500;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(wait_ms / 1000);
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&k->cond, &k->lock, &ts);
	}
	struct queued *q = k->head;
	k->head = q->next;
	if (!k->head)
		k->tail = NULL;
	k->queued--;
	pthread_mutex_unlock(&k->lock);

	json_t *msg = q->msg;
	free(q);
	const char *type = json_string_value(json_object_get(msg, "type")) ?: "";
	if (strcmp(type, "SNAPSHOT") == 0) {
		k->rendering = msg;
		return render_snapshot_piece(k);
	}
	int r = render_json(k, msg);
	json_decref(msg);
	return r ?: buf_append_str(&k->out, "\n");
}

/* The connection's own thread (libmicrohttpd calls it whenever the socket can take more). */
static long conn_read(void *ctx, char *buf, size_t max)
{
	struct conn *k = ctx;
	while (k->out_off == k->out.len) {
		buf_reset(&k->out);
		k->out_off = 0;
		int r = conn_fill(k);
		if (r < 0) {
			if (r != -EPIPE)
				log_error(
					r,
					"cannot render a message for an agent, dropping the stream",
					"node", k->node);
			return -1;
		}
	}
	size_t n = k->out.len - k->out_off;
	if (n > max)
		n = max;
	memcpy(buf, k->out.data + k->out_off, n);
	k->out_off += n;
	k->last_write_ms = kube_loop_now_ms();
	return (long)n;
}

static void conn_free(void *ctx)
{
	struct conn *k = ctx;
	/* After this no push_state call can reach k: detaching takes the state's lock. */
	push_state_detach(k->s->cfg.state, k->node, k);
	if (k->s->cfg.recordings)
		agent_recordings_drop(k->s->cfg.recordings, k->node, k);
	struct queued *q = k->head;
	while (q) {
		struct queued *next = q->next;
		json_decref(q->msg);
		free(q);
		q = next;
	}
	json_decref(k->rendering);
	buf_free(&k->out);
	log_info(1, "agent stream closed", "node", k->node);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* ---- authentication -------------------------------------------------------------------------- */

/* 0 when the request carries a token of the agent ServiceAccount bound to node; otherwise
 * the response is filled (401, 403, 503) and a negative errno returned. */
static int authenticate(struct stream_server *s, const struct httpd_request *req, const char *node,
			struct httpd_response *resp)
{
	const char *token = httpd_request_bearer_token(req);
	if (!token || !*token) {
		metric_add(s->token_reviews, (const char *[]){"missing"}, 1);
		httpd_respond_error(
			resp, 401,
			"missing bearer token (Authorization: Bearer <ServiceAccount token>)");
		return -EACCES;
	}
	struct token_identity id;
	int r = agent_auth_review(s->cfg.client, s->cfg.tokens, token, kube_loop_now_ms(), &id);
	if (r < 0) {
		metric_add(s->token_reviews, (const char *[]){"error"}, 1);
		log_error(r, "TokenReview failed", "node", node);
		httpd_respond_error(resp, 503, "cannot review the token now: %s", strerror(-r));
		return r;
	}
	char msg[512];
	r = agent_auth_check(&id, s->cfg.service_account_user, node, msg, sizeof(msg));
	if (r < 0) {
		metric_add(s->token_reviews, (const char *[]){"denied"}, 1);
		log_warn("agent refused", "node", node, "user", id.username, "reason", msg);
		httpd_respond_error(resp, r == -EACCES ? 401 : 403, "%s", msg);
		return r;
	}
	metric_add(s->token_reviews, (const char *[]){"allowed"}, 1);
	return 0;
}

static bool valid_node_name(const char *node)
{
	size_t n = strlen(node);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((node[i] >= 'a' && node[i] <= 'z') || (node[i] >= '0' && node[i] <= '9') ||
		      node[i] == '-' || node[i] == '.'))
			return false;
	return true;
}

static int on_stream(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct stream_server *s = ud;
	const char *node = httpd_request_query(req, "node");
	if (!node || !valid_node_name(node))
		return httpd_respond_error(resp, 400, "node: a node name is required (?node=NAME)");
	if (atomic_load(&s->stopping) || !s->cfg.ops->serving(s->cfg.userdata))
		return httpd_respond_error(resp, 503,
					   "not serving: this replica is not the leader or has "
					   "not synced yet");
	if (authenticate(s, req, node, resp) < 0)
		return 0;

	/* A malformed recordings endpoint only costs this node's recordings, never its
	 * policies: the stream is served anyway and the reason logged. */
	struct agent_recordings_ep ep;
	struct field_error ep_err = {0};
	int ep_r = agent_recordings_ep_parse(
		httpd_request_header(req, "X-Bulwark-Recordings-URL"),
		httpd_request_header(req, "X-Bulwark-Recordings-Pin"),
		httpd_request_header(req, "X-Bulwark-Recordings-Token"), &ep, &ep_err);
	if (ep_r == -EINVAL)
		log_warn("agent announced an unusable recordings endpoint; its recordings cannot "
			 "be read through this controller",
			 "node", node, "field", ep_err.field, "reason", ep_err.reason);

	int r = s->cfg.ops->prepare_snapshot(node, s->cfg.userdata);
	if (r < 0)
		return httpd_respond_error(resp, 503, "cannot compile the node's policies: %s",
					   strerror(-r));
	struct conn *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->s = s;
	buf_init(&k->out, PUSH_LINE_MAX);
	snprintf(k->node, sizeof(k->node), "%s", node);
	k->last_write_ms = kube_loop_now_ms();
	r = push_state_attach(s->cfg.state, node, k, kube_loop_now_ms());
	if (r < 0) {
		conn_free(k);
		metric_add(s->streams_total, (const char *[]){"error"}, 1);
		return httpd_respond_error(resp, 500, "cannot build the snapshot: %s",
					   strerror(-r));
	}
	if (ep_r == 0 && s->cfg.recordings &&
	    (r = agent_recordings_set(s->cfg.recordings, node, k, &ep)) < 0)
		log_error(r, "cannot keep the agent's recordings endpoint", "node", node);
	metric_add(s->streams_total, (const char *[]){"opened"}, 1);
	log_info(1, "agent stream opened", "node", node, "recordings", ep_r == 0 ? ep.url : "none");
	resp->content_type = "application/x-ndjson";
	resp->stream = (struct httpd_stream){.read = conn_read, .free_ctx = conn_free, .ctx = k};
	return 0;
}

static int on_ack(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct stream_server *s = ud;
	size_t len;
	const char *body = httpd_request_body(req, &len);
	json_error_t jerr;
	json_t *ack = json_loadb(body ? body : "", len, 0, &jerr);
	if (!json_is_object(ack)) {
		json_decref(ack);
		return httpd_respond_error(resp, 400, "ack: not a JSON object: %s", jerr.text);
	}
	const char *node = json_string_value(json_object_get(ack, "node"));
	if (!node || !valid_node_name(node)) {
		json_decref(ack);
		return httpd_respond_error(resp, 400, "node: required");
	}
	if (authenticate(s, req, node, resp) < 0) {
		json_decref(ack);
		return 0;
	}
	struct field_error err = {0};
	int64_t latency_ms = -1;
	int r = push_state_ack(s->cfg.state, node, ack, kube_loop_now_ms(), &latency_ms, &err);
	const char *result = json_string_value(json_object_get(ack, "result"));
	if (r < 0) {
		char msg[800];
		json_decref(ack);
		metric_add(s->acks_total, (const char *[]){"invalid"}, 1);
		return httpd_respond_error(resp, 400, "%s",
					   field_error_str(&err, msg, sizeof(msg)));
	}
	bool has_failures = json_array_size(json_object_get(ack, "failed")) > 0;
	metric_add(s->acks_total,
		   (const char *[]){strcmp(result, "NACK") == 0 ? "nack"
				    : has_failures		? "ack_with_failures"
								: "ack"},
		   1);
	if (strcmp(result, "NACK") == 0 || has_failures)
		log_warn("agent reported a failure", "node", node, "result", result, "message",
			 json_string_value(json_object_get(ack, "message")) ?: "");
	if (latency_ms >= 0)
		metric_observe(s->push_latency_seconds, NULL, (double)latency_ms / 1000.0);
	json_decref(ack);
	if (s->cfg.ops->acked)
		s->cfg.ops->acked(s->cfg.userdata);
	return buf_append_str(&resp->body, "{}");
}

const struct push_state_ops stream_push_ops = {.send = stream_send, .close = stream_close};

int stream_server_new(const struct stream_config *cfg, struct stream_server **ret)
{
	static const char *const result[] = {"result", NULL};
	struct stream_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	struct metrics_registry *m = cfg->registry;
	s->push_latency_seconds =
		metrics_register(m, METRIC_HISTOGRAM, "bulwark_controller_push_latency_seconds",
				 "From a message queued for an agent to its acknowledgement.", NULL,
				 metrics_latency_buckets, metrics_latency_buckets_n);
	s->streams_total =
		metrics_register(m, METRIC_COUNTER, "bulwark_controller_streams_total",
				 "Agent streams opened, refused or dropped.", result, NULL, 0);
	s->acks_total = metrics_register(m, METRIC_COUNTER, "bulwark_controller_acks_total",
					 "Acknowledgements by result.", result, NULL, 0);
	s->token_reviews =
		metrics_register(m, METRIC_COUNTER, "bulwark_controller_agent_auth_total",
				 "Agent requests by authentication outcome.", result, NULL, 0);
	if (!s->push_latency_seconds || !s->streams_total || !s->acks_total || !s->token_reviews) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int stream_server_routes(struct stream_server *s, struct httpd *h)
{
	int r = httpd_route(h, "GET", "/v1/stream", on_stream, s);
	if (r == 0)
		r = httpd_route(h, "POST", "/v1/ack", on_ack, s);
	return r;
}

void stream_server_stop(struct stream_server *s)
{
	if (s)
		atomic_store(&s->stopping, true);
}

struct stream_server *stream_server_free(struct stream_server *s)
{
	free(s);
	return NULL;
}
