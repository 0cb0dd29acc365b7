/* The agent's recordings listener: serves the exec session recordings of this node
 * (<id>.cast, <id>.log, <id>.chain in the root-only recordings dir) to the controller, which
 * serves them to auditors through the Kubernetes API (recordings.bulwark.dev, RBAC decides).
 *
 *   GET /v1/recordings/{id}.{cast|log|chain}  the file, streamed (never buffered whole)
 *   GET /v1/recordings/{id}                   {"id","files":{"cast":N,"log":N,"chain":N},
 *                                              "complete":bool}  (complete: trailer written)
 *
 * Access is "Authorization: Bearer <secret>", a random 32-byte value made at every start, and
 * the TLS certificate is self-signed with a key made at every start. The agent hands the
 * secret, the certificate's public-key pin and its URL to the controller over the push
 * stream, which is already mutually authenticated (docs/push-protocol.md): no CA to
 * distribute, no API call on the node per request, and nothing survives a restart. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "recording/recording.h"
#include "tls_certs.h"

#define RECORDINGS_TOKEN_HEX_LEN 64
/* "https://[" IPv6 "]:" port */
#define RECORDINGS_URL_MAX 64

struct recordings_server_config {
	const char *address; /* listen address, "0.0.0.0", "::" or one IP */
	uint16_t port;	     /* 0: any free port */
	const char *recordings_dir;
	/* Where the key and certificate are written (0600) for lib/httpd. */
	const char *state_dir;
	/* The IP the controller dials: in the certificate and the advertised URL. NULL: the
	 * listen address when it is a specific one, else nothing is advertised. */
	const char *advertise_ip;
};

/* What the controller needs to fetch from this agent: the stream request's
 * X-Bulwark-Recordings-{URL,Pin,Token} headers. */
struct recordings_advert {
	char url[RECORDINGS_URL_MAX];
	char pin[CERTS_PIN_LEN];
	char token[RECORDINGS_TOKEN_HEX_LEN + 1];
};

struct recordings_server;

/* Makes the secret, the key and certificate, and starts listening. 0 or a negative errno
 * (-EINVAL for an address that does not parse). */
int recordings_server_new(const struct recordings_server_config *cfg,
			  struct recordings_server **ret);
/* Stops serving and removes the key and certificate files. NULL-safe; returns NULL. */
struct recordings_server *recordings_server_free(struct recordings_server *s);

uint16_t recordings_server_port(const struct recordings_server *s);
/* -ENOENT when there is no IP to advertise (listening on a wildcard, no advertise_ip). */
int recordings_server_advert(const struct recordings_server *s, struct recordings_advert *ret);

/* Parses the path after "/v1/recordings/": "{id}" (*ret_kind NULL) or "{id}.{cast|log|chain}".
 * The id must be what the recorder writes ([A-Za-z0-9._-], no leading dot, no "..", at most
 * RECORDING_ID_MAX). -EINVAL with err naming the field otherwise. */
int recordings_request_parse(const char *rest, char ret_id[RECORDING_ID_MAX + 1],
			     const char **ret_kind, struct field_error *err);

/* Constant-time comparison of a presented bearer token with the secret (hex). */
bool recordings_token_equal(const char *presented, const char *secret);
