/* bulwark-controller: watches BulwarkPolicy, Pod and Namespace objects, compiles each bound
 * pod's policy from the policies of its namespace (lib/policy), pushes the results to the
 * node agents over the push stream (stream.h, docs/push-protocol.md), and writes each
 * policy's status from the agents' acknowledgements.
 *
 * Every replica watches and reconciles (a warm standby takes over at once); only the leader
 * serves agents and writes status, and only the leader reports ready, so the Service in
 * front of the replicas routes agents to it. */
#pragma once

#include "bulwark_resources.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller/agent_auth.h"
#include "controller/pod_records.h"
#include "controller/push_state.h"
#include "controller/reconciler.h"
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

struct agent_recordings;
struct policy_store;
struct status_writer;
struct stream_server;

/* What a running controller is made of. Each part owns its state behind its own header:
 * the reconciler (reconciler.h), the status writer (status_writer.h), the push streams
 * (stream.h) and what they share (push_state.h, pod_records.h, policy/store.h); run.c wires
 * them. Parts that serve beside the controller (recordings_api.h) read the fields they need. */
struct controller {
	struct controller_config cfg;
	char service_account_user[512]; /* system:serviceaccount:NS:NAME */
	struct kube_config *kube_cfg;
	struct kube_client *client;
	struct kube_loop *loop;
	struct kube_informer *policies, *pods, *namespaces;
	struct kube_reflector *policy_reflector, *pod_reflector, *namespace_reflector;
	struct policy_store *store; /* the valid policies, validated once per resourceVersion */
	struct workqueue *queue;
	struct workqueue_workers *workers;
	struct kube_leader *leader;
	struct push_state *state;
	struct pod_records *records;
	struct reconciler *reconciler;
	struct status_writer *status;
	struct stream_server *streams;
	/* Where each connected agent serves its recordings (agent_recordings.h). */
	struct agent_recordings *agent_recordings;
	struct token_cache *tokens;
	struct metrics_registry *registry;

	atomic_bool is_leader;
	atomic_bool stopping;
};
