/* The controller's end of the push stream (docs/push-protocol.md): GET /v1/stream?node=N
 * holds one agent's stream, POST /v1/ack takes its acknowledgements.
 *
 * Each stream has its own bounded queue of serialised lines, filled by push_state under its
 * lock and drained by the connection's own thread (libmicrohttpd thread-per-connection), so a
 * slow agent never blocks a reconcile: when its queue overflows it is dropped, and its
 * reconnect gets a SNAPSHOT. A quiet stream carries a HEARTBEAT every heartbeat interval. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "controller/controller.h"
#include "httpd.h"

/* push_state_ops.send: queues one message on a stream (conn), -ENOBUFS when full. */
int stream_send(void *conn, const json_t *msg, uint64_t version, void *userdata);
/* Ends a stream: its reader returns end-of-stream once the queue is drained. */
void stream_close(void *conn, void *userdata);

/* Registers GET /v1/stream and POST /v1/ack on h, served for c. */
int stream_routes(struct httpd *h, struct controller *c);

/* Streams currently open (attached or draining). */
unsigned stream_open_count(void);
