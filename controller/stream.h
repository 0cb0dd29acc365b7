/* The controller's end of the push stream (docs/push-protocol.md): GET /v1/stream?node=N
 * holds one agent's stream, POST /v1/ack takes its acknowledgements.
 *
 * Each stream has its own bounded queue of serialised lines, filled by push_state under its
 * lock and drained by the connection's own thread (libmicrohttpd thread-per-connection), so a
 * slow agent never blocks a reconcile: when its queue overflows it is dropped, and its
 * reconnect gets a SNAPSHOT. A quiet stream carries a HEARTBEAT every heartbeat interval.
 *
 * The stream knows the push state, who may connect and where agents serve recordings; whether
 * to serve and how to complete a node's state come from the caller's callbacks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "controller/push_state.h"

struct agent_recordings;
struct httpd;
struct kube_client;
struct metrics_registry;
struct token_cache;

struct stream_ops {
	/* Whether this replica serves agents now (the leader, with synced caches). */
	bool (*serving)(void *userdata);
	/* Before node's SNAPSHOT is built, on the request's thread: bring node's push state up
	 * to date. A negative errno refuses the stream with 503. */
	int (*prepare_snapshot)(const char *node, void *userdata);
	/* An acknowledgement was folded into the push state. May be NULL. */
	void (*acked)(void *userdata);
};

struct stream_config {
	struct push_state *state;
	struct agent_recordings *recordings; /* where each agent serves recordings; may be NULL */
	/* Who may hold node's stream: a token of this ServiceAccount user
	 * ("system:serviceaccount:NS:NAME") bound to node (agent_auth.h). */
	struct kube_client *client;
	struct token_cache *tokens;
	const char *service_account_user;
	struct metrics_registry *registry; /* streams, acks, authentication, push latency */
	unsigned heartbeat_s;
	size_t queue_max; /* messages queued per agent before it is dropped */
	const struct stream_ops *ops;
	void *userdata;
};

/* The push_state_ops that queue on and close these streams (the state's userdata is unused). */
extern const struct push_state_ops stream_push_ops;

struct stream_server;

/* 0, or -ENOMEM (also for a metric name registered twice). cfg's strings are borrowed. */
int stream_server_new(const struct stream_config *cfg, struct stream_server **ret);
/* Registers GET /v1/stream and POST /v1/ack on h. */
int stream_server_routes(struct stream_server *s, struct httpd *h);
/* Every stream ends once its queue is drained; new ones are refused. Before the server that
 * holds the connections is freed. */
void stream_server_stop(struct stream_server *s);
/* After the connections are gone. Accepts NULL; returns NULL. */
struct stream_server *stream_server_free(struct stream_server *s);
