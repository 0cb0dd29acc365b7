/* ExecSession objects for the sessions the recorder sees (crds/execsession.yaml).
 *
 * When a session starts, the agent looks for the admission webhook's Requested ExecSession of
 * the same request: same namespace, pod, container and command, spec.node this node (or
 * unset), created from EXECSESSION_MATCH_BEFORE_S before to EXECSESSION_MATCH_AFTER_S after
 * the session started, still Requested; the oldest wins, since runtimes start execs in the
 * order they were asked. It claims it by moving its status to Recording with the object's
 * resourceVersion as precondition (two agents, or two sessions, cannot both claim one) and
 * annotates it with the recording id. Without a match (an exec that bypassed the apiserver,
 * e.g. `runc exec` or `crictl exec` on the node), it creates one itself, with the user
 * "unknown" and the annotation bulwark.dev/origin=node. At the end it writes the final status:
 * Completed or Failed, times, bytes, digest, lost events and gaps.
 *
 * API calls run on a worker thread of their own: the recorder's thread only queues, so a slow
 * or absent apiserver never stalls the ring buffer. Failed calls are retried with backoff. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "bulwark_resources.h"
#include "kube/client.h"
#include "nodeagent/exec/execrec.h"

#define EXECSESSION_MATCH_BEFORE_S	 60
#define EXECSESSION_MATCH_AFTER_S	 10
#define EXECSESSION_ANNOTATION_RECORDING "bulwark.dev/recording"
#define EXECSESSION_ANNOTATION_ORIGIN	 "bulwark.dev/origin"

struct execsession_match_key {
	const char *pod, *container, *node;
	const json_t *command; /* array of strings */
	uint64_t start_unix_us;
};

/* The Requested ExecSession in items (an array of objects of one namespace) that the session
 * described by k is, or NULL. Borrowed from items. */
json_t *execsession_find_requested(const json_t *items, const struct execsession_match_key *k);

/* A new ExecSession for a session no request matched (name = the recording id). */
json_t *execsession_new_object(const struct execrec_session_info *s);

/* The status for s: phase, startTime, and once finished endTime, durationSeconds, bytes,
 * digest, lostEvents, gaps, message. */
json_t *execsession_status(const struct execrec_session_info *s);

struct execsession_sync;

/* Starts the worker. client is borrowed and must outlive the sync. */
int execsession_sync_new(struct kube_client *client, struct execsession_sync **ret);
/* Finishes the queued work (at most timeout_ms more) and stops. NULL-safe. */
struct execsession_sync *execsession_sync_free(struct execsession_sync *s, int timeout_ms);

/* Who asked for a session, once its ExecSession is claimed: {"user": the request's spec.user,
 * "execSession": NAME}, or {"execSession": NAME} for a session no request matched (a
 * node-local exec). Called on the worker thread; identity is borrowed. */
typedef void (*execsession_identify_fn)(const char *recording_id, const json_t *identity,
					void *userdata);
/* Sets (or with NULL, clears) where identities go; after a clear returns, fn is not running
 * and will not be called again. */
void execsession_sync_set_identify(struct execsession_sync *s, execsession_identify_fn fn,
				   void *userdata);

/* The sink to pass in execrec_opts (its userdata is s). */
struct execrec_sink execsession_sync_sink(struct execsession_sync *s);
