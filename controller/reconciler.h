/* The reconciler: one work-queue key at a time, a pod's compiled policy onto its node's push
 * state ("pod:NS/NAME"), or a policy's seccomp profile onto every node ("policy:NS/NAME").
 * It reads only caches (the pod informer, the validated-policy store), so a key can be
 * reconciled any number of times with the same result, on any number of worker threads.
 *
 * What a status reflects (which policies select a pod, why it did not compile) goes into the
 * pod records; the reconciler says "changed" through a callback and never sees the status
 * writer. */
#pragma once

#include <jansson.h>

struct kube_informer;
struct metrics_registry;
struct pod_records;
struct policy_store;
struct push_state;

struct reconciler_config {
	struct kube_informer *pods;	/* indexed "node" (kube_index_by_node_name) */
	struct kube_informer *policies; /* the objects behind the store, to see a deletion */
	struct policy_store *store;	/* the valid policies (policy/store.h) */
	struct push_state *state;
	struct pod_records *records;
	struct metrics_registry *registry; /* reconcile duration, compile errors */
	/* Something a policy's status is made of changed; may be called on any worker. */
	void (*changed)(void *userdata);
	/* Policy key is gone: nothing about it is worth remembering. */
	void (*policy_gone)(const char *key, void *userdata);
	void *userdata;
};

struct reconciler;

/* 0, or -ENOMEM (also for a metric name registered twice). */
int reconciler_new(const struct reconciler_config *cfg, struct reconciler **ret);
/* Accepts NULL; returns NULL. */
struct reconciler *reconciler_free(struct reconciler *r);

/* Reconciles one work-queue key; the signature of a workqueue handler (ctx: the reconciler).
 * 0, or a negative errno (logged) for the queue to retry. */
int reconciler_reconcile(const char *key, void *ctx);

/* Reconciles every pod bound to node now, on the calling thread: an agent's first snapshot
 * must hold every pod of its node even while the work queue is still catching up after a
 * start, or the agent would unenforce the pods missing from it. */
int reconciler_reconcile_node(struct reconciler *r, const char *node);

/* The seccomp profile a pod selected by this policy alone gets (NULL in *ret when the policy
 * has no seccomp section): what every node receives as soon as the policy exists, before
 * any pod uses it. */
int controller_policy_profile(const json_t *policy, json_t **ret);
