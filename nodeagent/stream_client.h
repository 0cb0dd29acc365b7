/* The agent's connection to the controller (docs/push-protocol.md): holds the push stream,
 * feeds each line to the sync engine, and posts the acknowledgements.
 *
 * - The ServiceAccount token is re-read from its file on every connect: bound tokens rotate.
 * - No byte for heartbeat_timeout_s (the controller sends a heartbeat every 10 s) means the
 *   controller or the path to it is gone: the stream is dropped and dialled again.
 * - Reconnects back off with decorrelated jitter (1 s .. 30 s) so a controller restart is
 *   not met by every agent at once; a successful snapshot resets the backoff.
 * - Acks go out from their own thread: libcurl must not start a transfer from inside another
 *   transfer's callback, and a slow ack must not stall the stream. */
#pragma once

#include <signal.h>
#include <stdbool.h>

#include "nodeagent/exec/recordings_server.h"
#include "nodeagent/sync.h"

struct stream_client_config {
	const char *url; /* the controller, e.g. https://bulwark-controller.bulwark-system:8443 */
	const char *ca_file;	/* CA bundle that signed the controller's certificate */
	const char *token_file; /* the ServiceAccount token (NULL: no Authorization header) */
	const char *node;
	unsigned heartbeat_timeout_s; /* default 30 */
	bool allow_plain_http;	      /* tests only: TLS is required otherwise */
	/* Where and how the controller fetches this node's recordings (NULL: not served),
	 * sent on the stream request as X-Bulwark-Recordings-{URL,Pin,Token}. */
	const struct recordings_advert *recordings;
};

struct stream_client_stats {
	unsigned long connects, messages, acks_sent, acks_failed, disconnects;
};

/* Runs until *stop becomes true (checked at least once a second). Returns 0 then, or a
 * negative errno for a configuration error that retrying cannot fix. */
int stream_client_run(const struct stream_client_config *config, struct agent_sync *sync,
		      volatile sig_atomic_t *stop, struct stream_client_stats *stats);
