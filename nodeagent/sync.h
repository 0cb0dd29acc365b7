/* The agent's side of the push stream: what is applied on this node, and how each message
 * from the controller changes it.
 *
 * - A pod is applied once per compiled hash: a SNAPSHOT after a reconnect or restart applies
 *   only what changed, so nothing is applied twice and nothing is lost.
 * - A message is validated whole before anything is applied; a malformed message, or a
 *   DELETE of a pod we do not have, is NACKed and changes nothing.
 * - Each mechanism is an applier. An applier must be atomic per pod: when it fails, the pod
 *   keeps what it had, and we keep recording the previous hash for it.
 * - After every message the applied state is persisted atomically, so a restarted agent
 *   (kill -9 included) knows what the pinned BPF state and written profiles correspond to
 *   and can enforce before the controller is back. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "push.h"

struct applier {
	const char *name; /* "network", "seccomp", … — used in errors */
	void *ctx;
	/* A pod's compiled policy is new or changed; the applier reads its own section and
	 * removes what it had when the section is absent. previous is NULL for a new pod. */
	int (*apply_pod)(void *ctx, const json_t *compiled, const json_t *previous,
			 struct field_error *err);
	int (*remove_pod)(void *ctx, const json_t *compiled);
	/* Node-wide seccomp profiles (may be NULL for appliers that do not care). */
	int (*apply_profiles)(void *ctx, const json_t *profiles, struct field_error *err);
	/* After a restart: the pod's policy is already in force (pinned maps, written files);
	 * learn about it without touching the kernel, so a later change or removal finds it. */
	int (*adopt_pod)(void *ctx, const json_t *compiled);
};

struct agent_sync;

/* state_path: where the applied state is persisted (NULL: not persisted, for tests). */
int agent_sync_new(const char *node, const char *state_path, struct agent_sync **ret);
struct agent_sync *agent_sync_free(struct agent_sync *s);

/* Appliers run in registration order for applies and in reverse order for removals. */
int agent_sync_add_applier(struct agent_sync *s, const struct applier *a);

/* Loads the persisted state (missing file: empty state) without applying anything: the
 * kernel state from before the restart is still in place, and each applier adopts its pods
 * as they are (adopt_pod). */
int agent_sync_load(struct agent_sync *s);

/* The node's kernel features (nodeagent/probes.h), sent in every ack so the controller can
 * tell a node that cannot enforce something from one that failed to. Borrowed reference kept. */
void agent_sync_set_features(struct agent_sync *s, json_t *features);

/* Applies one message and returns the acknowledgement to POST (new reference):
 *   {"node","epoch","version","result":"ACK"|"NACK","message","applied":N,"failed":[…]}
 * where failed lists {uid,namespace,name,applier,field,message} for pods that could not be
 * applied. A NACK carries the reason in message; HEARTBEAT returns NULL (no ack). */
json_t *agent_sync_handle(struct agent_sync *s, const char *line, size_t len);

/* True once a SNAPSHOT was applied since the last agent_sync_mark_unsynced(): a new
 * connection calls that, and counts as synced (resetting its backoff, reporting ready)
 * only after the controller's snapshot went through. */
bool agent_sync_synced(const struct agent_sync *s);
void agent_sync_mark_unsynced(struct agent_sync *s);

/* A consistent copy of the state for /healthz, /metrics and tests. The sync engine is
 * thread-safe: the stream thread applies while HTTP threads read. */
struct agent_sync_status {
	char epoch[65];
	uint64_t version;
	size_t pods;
	bool synced;
};
void agent_sync_status(struct agent_sync *s, struct agent_sync_status *ret);

/* Single-threaded accessors (tests, and the stream thread itself). */
uint64_t agent_sync_version(const struct agent_sync *s);
const char *agent_sync_epoch(const struct agent_sync *s);
size_t agent_sync_pod_count(const struct agent_sync *s);
/* Borrowed: the compiled policy applied for a pod uid, or NULL. */
const json_t *agent_sync_pod(const struct agent_sync *s, const char *uid);
