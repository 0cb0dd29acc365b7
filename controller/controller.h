/* bulwark-controller: watches BulwarkPolicy, Pod and Namespace objects, compiles each bound
 * pod's policy from the policies of its namespace (lib/policy), pushes the results to the
 * node agents over the push stream (stream.c, docs/push-protocol.md), and writes each
 * policy's status from the agents' acknowledgements.
 *
 * Every replica watches and reconciles (a warm standby takes over at once); only the leader
 * serves agents and writes status, and only the leader reports ready, so the Service in
 * front of the replicas routes agents to it. */
#pragma once

#include "bulwark_resources.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "controller/agent_auth.h"
#include "controller/pod_records.h"
#include "controller/push_state.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "kube/workqueue.h"
#include "metrics.h"

struct controller_config {
	const char *kubeconfig; /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
	const char *listen_address;
	uint16_t listen_port;
	const char *tls_cert, *tls_key; /* NULL both: plain HTTP (tests on loopback only) */
	const char *metrics_address;	/* NULL: no separate metrics listener */
	uint16_t metrics_port;
	const char *api_address; /* NULL: no recordings API (recordings_api.h) */
	uint16_t api_port;
	bool leader_elect;
	const char *lease_namespace, *lease_name, *identity;
	const char *agent_namespace, *agent_service_account;
	unsigned workers;	 /* reconcile threads, default 2 */
	double status_qps;	 /* status writes per second, default 20 */
	unsigned heartbeat_s;	 /* default 10 */
	size_t stream_queue_max; /* messages queued per agent before it is dropped, default 4096 */
};

struct controller_metrics {
	struct metric *reconcile_seconds;
	struct metric *push_latency_seconds;
	struct metric *streams_total;  /* {result} */
	struct metric *acks_total;     /* {result} */
	struct metric *status_writes;  /* {result} */
	struct metric *token_reviews;  /* {result} */
	struct metric *compile_errors; /* pods that failed to compile, total */
};

struct controller {
	struct controller_config cfg;
	char service_account_user[512]; /* system:serviceaccount:NS:NAME */
	struct kube_config *kube_cfg;
	struct kube_client *client;
	struct kube_loop *loop;
	struct kube_informer *policies, *pods, *namespaces;
	struct kube_reflector *policy_reflector, *pod_reflector, *namespace_reflector;
	struct workqueue *queue;
	struct workqueue_workers *workers;
	struct kube_leader *leader;
	struct push_state *state;
	/* Where each connected agent serves its recordings (agent_recordings.h). */
	struct agent_recordings *agent_recordings;
	struct token_cache *tokens;
	struct metrics_registry *registry;
	struct controller_metrics m;

	atomic_bool is_leader;
	atomic_bool stopping;

	/* Per policy: the result of validating its current resourceVersion. */
	pthread_mutex_t validity_lock;
	json_t *validity; /* key → {"rv", "error" (absent when valid)} */

	struct pod_records *records;

	/* policy_cache is single-threaded: one, behind a lock (reconcile.c says why). */
	pthread_mutex_t cache_lock;
	struct policy_cache *cache;

	/* The status writer sleeps on this until something changed. */
	pthread_mutex_t status_lock;
	pthread_cond_t status_cond;
	bool status_dirty;
	json_t *written; /* policy key → the status we last wrote */
};

/* Runs until *stop becomes non-zero (checked at least every 200 ms). 0, or a negative errno
 * for a start-up failure (logged). */
int controller_run(const struct controller_config *cfg, volatile sig_atomic_t *stop);

/* ---- pieces, for stream.c and tests ---------------------------------------------------------- */

/* The leader with synced informers: serves agents, writes status, reports ready. */
bool controller_serving(struct controller *c);
/* Wakes the status writer. */
void controller_status_changed(struct controller *c);
/* The status writer's thread (status_writer.c); returns when c->stopping is set. */
void *controller_status_thread(void *arg);

/* Reconciles one work-queue key ("pod:NS/NAME" or "policy:NS/NAME"). */
int controller_reconcile(const char *key, void *ctx);

/* Reconciles every pod bound to node now, on the calling thread: an agent's first snapshot
 * must hold every pod of its node even while the work queue is still catching up after a
 * start, or the agent would unenforce the pods missing from it. */
int controller_reconcile_node(struct controller *c, const char *node);

/* The seccomp profile a pod selected by this policy alone gets (NULL in *ret when the policy
 * has no seccomp section): what every node receives as soon as the policy exists, before
 * any pod uses it. */
int controller_policy_profile(const json_t *policy, json_t **ret);

/* Whether policy (a cached object) passed policy_validate(), remembered per resourceVersion
 * so thousands of pods do not validate the same policy again. error (may be NULL) receives
 * the reason for an invalid one. 1 valid, 0 invalid, negative errno. */
int controller_policy_valid(struct controller *c, const json_t *policy, char *error, size_t size);

/* The status the leader would write for policy now (new reference), or NULL. nodes is this
 * policy's entry of push_state_policy_nodes(), matched its {"pods","errors"} from the pod
 * records, old_status the status to keep condition transition times from. */
json_t *controller_policy_status(struct controller *c, const json_t *policy, const json_t *nodes,
				 const json_t *matched, const json_t *old_status, const char *now);
