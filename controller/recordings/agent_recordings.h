/* The controller's way to a node's exec recordings: each agent announces, on the push stream
 * it holds (mutually authenticated: the agent verified our certificate, we reviewed its
 * node-bound token), where it serves recordings and how to trust it:
 *
 *   X-Bulwark-Recordings-URL:   https://IP:PORT
 *   X-Bulwark-Recordings-Pin:   sha256//BASE64  (SHA-256 of its certificate's public key)
 *   X-Bulwark-Recordings-Token: 64 hex digits   (its per-start bearer secret)
 *
 * We keep that endpoint per node while the stream lives, and fetch recordings from it with
 * the pin in place of CA verification (docs/push-protocol.md). */
#pragma once

#include <stddef.h>

#include "error.h"
#include "tls_certs.h"

/* "https://[" IPv6 "]:65535" fits. */
#define AGENT_RECORDINGS_URL_MAX   64
#define AGENT_RECORDINGS_TOKEN_LEN 64

struct agent_recordings_ep {
	char url[AGENT_RECORDINGS_URL_MAX]; /* https://IP:PORT, no trailing slash */
	char pin[CERTS_PIN_LEN];	    /* sha256//BASE64 */
	char token[AGENT_RECORDINGS_TOKEN_LEN + 1];
};

struct agent_recordings;

/* The three header values of a stream request (each may be NULL). 0 with *ret filled,
 * -ENOENT when all three are absent (the agent serves no recordings), -EINVAL with err
 * naming the header when one is missing or malformed. */
int agent_recordings_ep_parse(const char *url, const char *pin, const char *token,
			      struct agent_recordings_ep *ret, struct field_error *err);

/* Endpoints by node, thread-safe. */
int agent_recordings_new(struct agent_recordings **ret);
struct agent_recordings *agent_recordings_free(struct agent_recordings *r);
/* Records node's endpoint, announced on the stream owner (replacing any other). */
int agent_recordings_set(struct agent_recordings *r, const char *node, const void *owner,
			 const struct agent_recordings_ep *ep);
/* Forgets node's endpoint if owner's stream is still the one that announced it (a newer
 * stream of the same node keeps its own). */
void agent_recordings_drop(struct agent_recordings *r, const char *node, const void *owner);
/* A copy of node's endpoint, from the agent connected to THIS replica; -ENOENT when no agent
 * of that node is connected here (or it serves no recordings). */
int agent_recordings_get(struct agent_recordings *r, const char *node,
			 struct agent_recordings_ep *ret);

/* GET {url}/v1/recordings/{id}.{kind} (kind "cast", "log" or "chain"), or the JSON summary
 * {id, files: {cast, log, chain: size}, complete} with kind NULL, blocking, from the agent at
 * ep: its TLS key must match ep->pin (no CA, no hostname check: the pin authenticates it),
 * the bearer token is ep->token, connecting takes at most 5 s and a transfer that moves no
 * byte for 30 s is aborted. No proxy is used.
 *
 * With a 2xx answer the body is written to out_fd as it arrives (a pipe is fine; with
 * SIGPIPE ignored, a closed reader ends the transfer with -EPIPE); with any other status
 * nothing is written and the agent's message goes to err. So a caller feeding a response from
 * out_fd can commit to 200 at the first byte, and otherwise decide from *ret_http_status once
 * this returns.
 *
 * Returns 0 when the transfer completed, whatever the status (*ret_http_status), or a negative
 * errno with the reason in err: -EINVAL (bad id or kind), -ECONNREFUSED and other connect
 * errors, -EKEYREJECTED (the agent's key does not match the pin), -ETIMEDOUT, -EPIPE (out_fd
 * closed), -EIO (TLS or protocol failure, or the body ended early). A failure after bytes were
 * written means out_fd holds a truncated body: the caller must not present it as complete. */
int agent_recordings_fetch(const struct agent_recordings_ep *ep, const char *id, const char *kind,
			   int out_fd, int *ret_http_status, char *err, size_t err_size);
