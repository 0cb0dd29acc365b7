/* What the controller has told, or will tell, each node's agent (docs/push-protocol.md): per
 * node, every pod's compiled policy with the version of the message that last carried it, the
 * agent's acknowledgements folded in, and the set of seccomp profiles every agent holds.
 *
 * Changes become messages at once: setting a pod whose compiled hash differs is an UPSERT,
 * removing one a DELETE, a profile nobody referenced before a PROFILES broadcast. They go to
 * the node's attached stream through ops->send, called with the state's lock held, so the
 * messages of one node leave in version order and a SNAPSHOT taken at attach time is never
 * overtaken by an older change. A node without a stream just records the change; its next
 * SNAPSHOT carries it.
 *
 * A pod is enforced on its node when the node's acknowledged version covers the message that
 * last carried the pod's compiled policy and the agent reported no failure for it.
 *
 * Thread-safe (one mutex). Time is injected (now_ms arguments) so tests control it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "policy/policy.h"

struct push_state_ops {
	/* Queues msg (borrowed; serialise it now) on the stream conn. A negative return means
	 * the stream cannot take it (a slow agent whose queue overflowed): the state detaches
	 * the stream, and the agent's reconnect brings a SNAPSHOT. */
	int (*send)(void *conn, const json_t *msg, uint64_t version, void *userdata);
	/* Ends a stream the state no longer uses (replaced by a newer one, or all of them
	 * detached); called with the lock held, so conn is still alive. May be NULL. */
	void (*close)(void *conn, void *userdata);
};

struct push_state;

/* epoch: this controller's epoch (copied, at most 64 characters). */
int push_state_new(const char *epoch, const struct push_state_ops *ops, void *userdata,
		   struct push_state **ret);
struct push_state *push_state_free(struct push_state *s);

const char *push_state_epoch(const struct push_state *s);
uint64_t push_state_version(struct push_state *s);

/* Sets the compiled policy of pod uid (namespace/name) on node; compiled NULL removes it.
 * Returns 1 when something changed (and was sent), 0 when the node already had that hash
 * (or did not have the pod being removed), or a negative errno (-EINVAL for a compiled policy
 * without a hash). compiled is referenced, not copied. */
int push_state_set_pod(struct push_state *s, const char *node, const char *ns, const char *name,
		       const char *uid, json_t *compiled, uint64_t now_ms);

/* The seccomp profile of one policy (NULL profile: the policy is gone or has none). A name
 * that no policy or pod referenced before is broadcast as PROFILES to every attached stream.
 * Profiles of pods' compiled policies are counted the same way by push_state_set_pod(). */
int push_state_set_policy_profile(struct push_state *s, const char *policy_key,
				  const json_t *profile, uint64_t now_ms);

/* A new reference to the profile held under name, or NULL: the one instance every compiled
 * policy with that profile can share. */
json_t *push_state_profile(struct push_state *s, const char *name);

/* Attaches a stream for node and sends it the SNAPSHOT (every pod of the node, every profile)
 * as its first message. Another stream already attached for the node is closed (ops->close)
 * and gets nothing more: one agent per node. -ENOBUFS when the snapshot did not fit. */
int push_state_attach(struct push_state *s, const char *node, void *conn, uint64_t now_ms);
/* Detaches conn from node if it is still the node's stream. */
void push_state_detach(struct push_state *s, const char *node, void *conn);
/* Detaches and closes every stream (lost leadership, shutdown). */
void push_state_detach_all(struct push_state *s);

/* Folds in one acknowledgement from node's agent (docs/push-protocol.md). An ack of another
 * epoch (sent to a previous controller) is ignored (returns 0). *ret_latency_ms (may be NULL)
 * gets the time from the acked message's send to now, or -1 when unknown. -EINVAL with err
 * naming the field for a malformed ack. */
int push_state_ack(struct push_state *s, const char *node, const json_t *ack, uint64_t now_ms,
		   int64_t *ret_latency_ms, struct field_error *err);

/* Per policy ("namespace/name") and node, whether the node enforces the policy's generation
 * for every pod of the node it selects:
 *   {"ns/name": {"node-a": {"generation": G, "state": "Enforced"|"Failed"|"Pending",
 *                           "failures": [{"node","pod","applier","field","message"}…]}}}
 * A node counts under the lowest generation its pods were compiled with, so a node still
 * running pods compiled from an older generation is never reported enforced for the newer
 * one. Failures are capped at max_failures per node. New reference. */
int push_state_policy_nodes(struct push_state *s, size_t max_failures, json_t **ret);

struct push_state_stats {
	size_t nodes, pods, profiles, attached;
};
void push_state_get_stats(struct push_state *s, struct push_state_stats *ret);
