/* BulwarkPolicy.status from an observation (policy_status.h). */
#include "policy_status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

void policy_status_time(long long epoch_s, char ret[32])
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const json_t *old_condition(const json_t *old_status, const char *type)
{
	size_t i;
	const json_t *c;
	json_array_foreach (json_object_get(old_status, "conditions"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "type")) ?: "", type) == 0)
			return c;
	}
	return NULL;
}

static json_t *condition(const json_t *old_status, const char *type, bool value, const char *reason,
			 const char *message, json_int_t generation, const char *now)
{
	const char *status = value ? "True" : "False";
	const json_t *old = old_condition(old_status, type);
	const char *since = now;
	if (old && strcmp(json_string_value(json_object_get(old, "status")) ?: "", status) == 0 &&
	    json_string_value(json_object_get(old, "lastTransitionTime")))
		since = json_string_value(json_object_get(old, "lastTransitionTime"));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "type", type, "status", status, "reason",
			 reason, "message", message, "lastTransitionTime", since,
			 "observedGeneration", generation);
}

/* Appends one line per failure, "node-b: shop/web-1: network: field: message", until the
 * message cap; says how many more were left out. */
static void describe_failures(struct buf *msg, const json_t *nodes, const json_t *compile_errors)
{
	size_t shown = 0, total = 0;
	const char *node;
	const json_t *rec;
	json_object_foreach ((json_t *)nodes, node, rec) {
		size_t i;
		const json_t *f;
		json_array_foreach (json_object_get(rec, "failures"), i, f) {
			total++;
			if (shown >= POLICY_STATUS_MAX_FAILURES)
				continue;
			const char *field = json_string_value(json_object_get(f, "field"));
			if (buf_printf(msg, "%s%s: %s: %s: %s%s%s", msg->len ? "; " : "", node,
				       json_string_value(json_object_get(f, "pod")) ?: "?",
				       json_string_value(json_object_get(f, "applier")) ?: "?",
				       field && *field ? field : "", field && *field ? ": " : "",
				       json_string_value(json_object_get(f, "message")) ?: "") == 0)
				shown++;
		}
	}
	size_t i;
	const json_t *e;
	json_array_foreach (compile_errors, i, e) {
		total++;
		if (shown >= POLICY_STATUS_MAX_FAILURES)
			continue;
		if (buf_printf(msg, "%s%s: %s", msg->len ? "; " : "",
			       json_string_value(json_object_get(e, "pod")) ?: "?",
			       json_string_value(json_object_get(e, "message")) ?: "") == 0)
			shown++;
	}
	if (total > shown)
		buf_printf(msg, "; and %zu more", total - shown);
}

json_t *policy_status_build(const struct policy_observation *o, const json_t *old_status,
			    const char *now)
{
	unsigned enforced = 0, failed = 0, pending = 0;
	struct buf pending_names = BUF_INIT(512);
	const char *node;
	const json_t *rec;
	json_object_foreach ((json_t *)o->nodes, node, rec) {
		const char *st = json_string_value(json_object_get(rec, "state")) ?: "";
		bool current =
			json_integer_value(json_object_get(rec, "generation")) >= o->generation;
		if (strcmp(st, "Failed") == 0) {
			failed++;
		} else if (strcmp(st, "Enforced") == 0 && current) {
			enforced++;
		} else {
			pending++;
			buf_printf(&pending_names, "%s%s", pending_names.len ? ", " : "", node);
		}
	}
	size_t n_compile = json_array_size(o->compile_errors);
	if (o->invalid) {
		enforced = failed = 0;
	}

	char ready_msg[POLICY_STATUS_MAX_MESSAGE];
	const char *ready_reason;
	bool ready = false;
	struct buf failures = BUF_INIT(POLICY_STATUS_MAX_MESSAGE);
	if (!o->invalid)
		describe_failures(&failures, o->nodes, o->compile_errors);
	unsigned nodes = enforced + failed + pending;

	if (o->invalid) {
		ready_reason = "Invalid";
		snprintf(ready_msg, sizeof(ready_msg), "not applied: %s", o->invalid);
	} else if (failed) {
		ready_reason = "AgentRejected";
		snprintf(ready_msg, sizeof(ready_msg),
			 "%u of %u nodes failed to enforce generation %lld (see Degraded)", failed,
			 nodes, (long long)o->generation);
	} else if (n_compile) {
		ready_reason = "CompileFailed";
		snprintf(ready_msg, sizeof(ready_msg),
			 "%zu selected pods could not be compiled (see Degraded)", n_compile);
	} else if (pending) {
		ready_reason = "Pending";
		snprintf(ready_msg, sizeof(ready_msg),
			 "%u of %u nodes have not acknowledged generation %lld: %s", pending, nodes,
			 (long long)o->generation, buf_str(&pending_names));
	} else {
		ready = true;
		ready_reason = o->pods_matched ? "Enforced" : "NoPods";
		if (o->pods_matched)
			snprintf(ready_msg, sizeof(ready_msg),
				 "generation %lld enforced on %u node%s for %u pod%s",
				 (long long)o->generation, enforced, enforced == 1 ? "" : "s",
				 o->pods_matched, o->pods_matched == 1 ? "" : "s");
		else
			snprintf(ready_msg, sizeof(ready_msg), "selects no pods");
	}
	bool degraded = !o->invalid && (failed || n_compile);
	const char *degraded_reason = !degraded ? "AsExpected"
				      : failed	? "AgentRejected"
						: "CompileFailed";
	const char *degraded_msg = degraded ? buf_str(&failures) : "no node reported a failure";

	json_t *status = json_pack(
		"{s:I,s:i,s:i,s:i,s:[o,o]}", "observedGeneration", o->generation, "podsMatched",
		o->invalid ? 0 : (int)o->pods_matched, "nodesEnforced", (int)enforced,
		"nodesFailed", (int)failed, "conditions",
		condition(old_status, "Ready", ready, ready_reason, ready_msg, o->generation, now),
		condition(old_status, "Degraded", degraded, degraded_reason, degraded_msg,
			  o->generation, now));
	buf_free(&pending_names);
	buf_free(&failures);
	return status;
}
