/* BulwarkPolicy.status from what the controller knows (docs/policy-api.md, "Status"): how
 * many pods the policy selects, on which nodes the agents acknowledged its generation for all
 * of them, which refused, and the Ready and Degraded conditions that say so in words.
 * Pure: the caller gathers the observation and decides when to write. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* The status messages quote at most this many failures, and at most this many bytes. */
#define POLICY_STATUS_MAX_FAILURES 10
#define POLICY_STATUS_MAX_MESSAGE  4096

struct policy_observation {
	json_int_t generation; /* metadata.generation */
	const char *invalid;   /* why the policy failed validation ("field: reason"), or NULL */
	unsigned pods_matched; /* pods the policy selects (bound to a node or not) */
	/* This policy's entry of push_state_policy_nodes(): node → {generation, state, failures}
	 * (may be NULL: no selected pod is on a node). */
	const json_t *nodes;
	/* Pods the controller could not compile: [{"pod": "ns/name", "message": …}] (may be NULL).
	 */
	const json_t *compile_errors;
};

/* The status object to write. Conditions keep old_status's lastTransitionTime when their
 * status did not change; now is an RFC 3339 time for the ones that did. New reference, or
 * NULL on ENOMEM. */
json_t *policy_status_build(const struct policy_observation *o, const json_t *old_status,
			    const char *now);

/* RFC 3339 UTC ("2026-11-21T12:00:00Z") of a wall-clock time in seconds. */
void policy_status_time(long long epoch_s, char ret[32]);
