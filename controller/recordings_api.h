/* The recordings API: exec session recordings read through the Kubernetes API server, so
 * RBAC decides who may read which namespace's sessions (docs/architecture.md, "Reading
 * recordings").
 *
 * bulwark-controller serves the aggregated group recordings.bulwark.dev/v1 (registered by an
 * APIService): kube-apiserver authenticates the auditor, authorizes
 *   get recordings.bulwark.dev recordings[/cast|/log|/chain] in namespace NS
 * and forwards the request with the front-proxy client certificate (requestheader.h). The
 * controller finds the ExecSession NS/NAME, the node and recording id it names, and streams
 * the file from that node's agent (agent_recordings.h: the endpoint, certificate pin and
 * token the agent announced on its authenticated push stream).
 *
 *   GET /apis/recordings.bulwark.dev/v1/namespaces/NS/recordings/NAME        summary (JSON)
 *   GET /apis/recordings.bulwark.dev/v1/namespaces/NS/recordings/NAME/cast   asciicast v2
 *   GET /apis/recordings.bulwark.dev/v1/namespaces/NS/recordings/NAME/log    event log
 *   GET /apis/recordings.bulwark.dev/v1/namespaces/NS/recordings/NAME/chain  hash chain
 * plus the discovery documents the aggregator reads. Errors are metav1 Status objects. */
#pragma once

#include "controller/controller.h"
#include "controller/requestheader.h"
#include "httpd.h"

#define RECORDINGS_API_GROUP   "recordings.bulwark.dev"
#define RECORDINGS_API_VERSION "v1"

enum recordings_path_kind {
	RECORDINGS_PATH_GROUP_LIST, /* /apis */
	RECORDINGS_PATH_GROUP,	    /* /apis/recordings.bulwark.dev */
	RECORDINGS_PATH_RESOURCES,  /* /apis/recordings.bulwark.dev/v1 */
	RECORDINGS_PATH_RECORDING,  /* .../namespaces/NS/recordings/NAME[/SUB] */
};

struct recordings_path {
	enum recordings_path_kind kind;
	char namespace[64];
	char name[254];
	char subresource[8]; /* "" (summary), "cast", "log", "chain" */
};

/* Parses a request path. -ENOENT for a path this API does not serve (404), -EINVAL with the
 * reason in err for a malformed namespace, name or subresource (400). */
int recordings_path_parse(const char *path, struct recordings_path *ret, struct field_error *err);

/* The discovery documents (new references). */
json_t *recordings_api_group_list(void);
json_t *recordings_api_group(void);
json_t *recordings_api_resources(void);

struct recordings_api;

/* Reads the front-proxy trust (requestheader.h) and serves the API on cfg.api_address:
 * api_port with the controller's serving certificate. 0, or a negative errno (logged). */
int recordings_api_start(struct controller *c, struct recordings_api **ret);
/* Stops serving. NULL-safe; returns NULL. */
struct recordings_api *recordings_api_free(struct recordings_api *ra);
