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
#include "controller/recordings/requestheader.h"
#include "controller/recordings/requestheader_reload.h"
#include "httpd.h"
#include "metrics.h"

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

/* On the controller's /metrics:
 *   bulwark_recordings_api_requests_total{subresource,code}  every answered request;
 *     subresource is summary, cast, log, chain, discovery or other (a path not served)
 *   bulwark_recordings_api_bytes_total                      recording bytes streamed to
 *     auditors (cast, log and chain bodies)
 *   bulwark_recordings_api_trust_reloads_total{result}      reads of the front-proxy
 *     ConfigMap (requestheader_reload.h), ok or error */
struct recordings_api_metrics {
	struct metric *requests;
	struct metric *bytes;
	struct metric *trust_reloads;
};

/* Registers the three metrics. 0, or -ENOMEM (also for a name already registered). */
int recordings_api_metrics_register(struct metrics_registry *r, struct recordings_api_metrics *ret);
/* Counts one answered request; subresource NULL: a path this API does not serve. */
void recordings_api_count_request(const struct recordings_api_metrics *m, const char *subresource,
				  int code);

struct recordings_api;

/* Reads the front-proxy trust (requestheader.h), keeps re-reading it (requestheader_reload.h),
 * registers the metrics above in c->registry and serves the API on cfg.api_address:api_port
 * with the controller's serving certificate. 0, or a negative errno (logged). */
int recordings_api_start(struct controller *c, struct recordings_api **ret);
/* The same with the front-proxy ConfigMap read and re-read as trust says (its reloads metric
 * is replaced by the API's own): for tests, which serve discovery and refusals without an API
 * server. */
int recordings_api_start_with(struct controller *c,
			      const struct requestheader_reload_options *trust,
			      struct recordings_api **ret);
uint16_t recordings_api_port(const struct recordings_api *ra);
/* Stops serving. NULL-safe; returns NULL. */
struct recordings_api *recordings_api_free(struct recordings_api *ra);
