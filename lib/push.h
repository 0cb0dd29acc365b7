/* The push stream between bulwark-controller and each bulwark-agent (docs/push-protocol.md).
 *
 * The agent opens `GET /v1/stream?node=NODE` with its ServiceAccount token and reads
 * newline-delimited JSON messages; it answers each non-heartbeat message with
 * `POST /v1/ack`. Every message carries the controller's epoch (random per controller
 * start) and a version that grows within an epoch:
 *
 *   {"type":"SNAPSHOT","epoch":E,"version":V,"pods":[COMPILED…],"profiles":{NAME:PROFILE…}}
 *   {"type":"UPSERT",  "epoch":E,"version":V,"pod":COMPILED}
 *   {"type":"DELETE",  "epoch":E,"version":V,"pod":{"namespace":…,"name":…,"uid":…}}
 *   {"type":"PROFILES","epoch":E,"version":V,"profiles":{NAME:PROFILE…}}
 *   {"type":"HEARTBEAT","epoch":E,"version":V}
 *
 * COMPILED is the compiled pod policy of docs/policy-api.md. A SNAPSHOT is the whole truth
 * for the node: pods absent from it are to be unenforced. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "error.h"

/* Bounds on what a message may make the agent hold. */
#define PUSH_LINE_MAX	  (64u << 20)
#define PUSH_PODS_MAX	  2048u /* per node: kubelet's own limit is 110 by default */
#define PUSH_PROFILES_MAX 4096u

enum push_type {
	PUSH_SNAPSHOT,
	PUSH_UPSERT,
	PUSH_DELETE,
	PUSH_PROFILES,
	PUSH_HEARTBEAT,
};

/* A validated message. The json_t pointers borrow from msg->root, which holds the only
 * reference the message owns. */
struct push_message {
	enum push_type type;
	char epoch[65];
	uint64_t version;
	const json_t *pods;	/* SNAPSHOT: array of compiled pods */
	const json_t *pod;	/* UPSERT: compiled pod; DELETE: {namespace,name,uid} */
	const json_t *profiles; /* SNAPSHOT, PROFILES: object name → profile (may be NULL) */
	json_t *root;
};

/* Parses and validates one line. Every structural problem is reported with its field, e.g.
 * `pods[3].pod.uid: missing`; nothing is partially accepted. */
int push_message_parse(const char *line, size_t len, struct push_message *ret,
		       struct field_error *err);
void push_message_done(struct push_message *msg);

/* Checks one compiled pod: pod.{namespace,name,uid} present and well-formed, hash present.
 * field is the prefix for messages ("pod", "pods[3]"). */
int push_validate_compiled_pod(const json_t *compiled, const char *field, struct field_error *err);

/* A seccomp profile name as sent: "bulwark/<64 hex>.json". */
int push_validate_profile_name(const char *name);

const char *push_type_name(enum push_type t);

/* Builders for the controller's side (new references). */
json_t *push_build_snapshot(const char *epoch, uint64_t version, json_t *pods, json_t *profiles);
json_t *push_build_upsert(const char *epoch, uint64_t version, json_t *compiled);
json_t *push_build_delete(const char *epoch, uint64_t version, const char *ns, const char *name,
			  const char *uid);
