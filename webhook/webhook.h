/* The admission server's reviews: one function per route from a request body to the HTTP
 * status and AdmissionReview answer, plus the HTTP wiring and metrics.
 *
 *   /mutate-pods        Pod CREATE: binds the seccomp profile and the Landlock launcher
 *   /validate-pods      Pod UPDATE: refuses changes to what Bulwark wrote at admission;
 *                       pods/ephemeralcontainers UPDATE: refused under allowExec: false
 *   /validate-policies  BulwarkPolicy CREATE/UPDATE: policy_validate(), naming the field
 *   /exec               pods/exec and pods/attach CONNECT: allowExec, and the ExecSession
 *                       recording who asked
 *   /healthz /readyz /metrics
 *
 * The review functions do no I/O except through the two exec hooks below, so unit tests and
 * the fuzz target drive them directly. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "webhook/admission.h"
#include "webhook/mutate.h"
#include "policy/store.h"

struct httpd;
struct kube_client;
struct kube_informer;
struct metrics_registry;
struct metric;

enum webhook_route {
	WEBHOOK_MUTATE_PODS,
	WEBHOOK_VALIDATE_PODS,
	WEBHOOK_VALIDATE_POLICIES,
	WEBHOOK_EXEC,
	WEBHOOK_ALLOW_ALL, /* benchmarks only: decode, allow, encode — the floor */
	WEBHOOK_ROUTE_COUNT,
};

struct webhook;

/* The I/O of the exec path, replaceable by tests: read the pod, create the session. Both
 * return 0 or a negative errno (-ENOENT: no such pod) with a message in errbuf. */
struct webhook_exec_io {
	int (*get_pod)(struct webhook *w, const char *ns, const char *name, json_t **ret,
		       char *errbuf, size_t size);
	int (*create_session)(struct webhook *w, const char *ns, const json_t *session,
			      char *errbuf, size_t size);
};

struct webhook {
	struct mutate_options mutate;
	struct policy_store *policies;	/* borrowed */
	struct kube_informer *informer; /* borrowed; NULL: ready at once (tests) */
	struct kube_client *client;	/* borrowed; used by the default exec I/O */
	struct webhook_exec_io io;
	struct metrics_registry *metrics; /* owned */
	struct metric *latency, *reviews, *sessions;
	pthread_key_t cache_key; /* one policy_cache per review thread */
	bool cache_key_set;
};

/* Fills w (options and borrowed pointers are set by the caller afterwards), with metrics and
 * the default exec I/O through w->client. 0 or -ENOMEM. */
int webhook_init(struct webhook *w);
void webhook_done(struct webhook *w);

/* One review: body[0..len) for route. Writes the answer (an AdmissionReview, or a JSON error
 * for a body that is not a valid review) to out and returns the HTTP status (200, 400, 413,
 * 500). Never fails otherwise. */
int webhook_review(struct webhook *w, enum webhook_route route, const char *body, size_t len,
		   struct buf *out);

/* Registers the routes on h. bench_routes adds /allow-all. 0 or negative errno. */
int webhook_register(struct webhook *w, struct httpd *h, bool bench_routes);

const char *webhook_route_path(enum webhook_route route);

/* The exec route's review (exec.c). */
int webhook_review_exec(struct webhook *w, const struct admission_request *req,
			struct admission_response *resp, json_t *warnings);
/* pods/ephemeralcontainers UPDATE (kubectl debug) under allowExec: false (exec.c). */
int webhook_review_ephemeral(struct webhook *w, const struct admission_request *req,
			     struct admission_response *resp, json_t *warnings);
/* Default exec I/O through w->client. */
extern const struct webhook_exec_io webhook_exec_io_kube;
