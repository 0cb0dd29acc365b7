/* BulwarkPolicy.status from what the controller observed: the counts, Ready and Degraded with
 * their reasons and the agents' messages, and condition transition times that move only when
 * a condition's status does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/policy_status.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

static const json_t *cond(const json_t *status, const char *type)
{
	size_t i;
	const json_t *c;
	json_array_foreach (json_object_get(status, "conditions"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			return c;
	}
	fail_msg("no %s condition", type);
	return NULL;
}

static const char *field(const json_t *status, const char *type, const char *key)
{
	return json_string_value(json_object_get(cond(status, type), key));
}

static json_int_t num(const json_t *status, const char *key)
{
	return json_integer_value(json_object_get(status, key));
}

static void enforced_everywhere_is_ready(void **state)
{
	json_t *nodes =
		parse("{\"node-a\":{\"generation\":3,\"state\":\"Enforced\",\"failures\":[]},"
		      "\"node-b\":{\"generation\":3,\"state\":\"Enforced\",\"failures\":[]}}");
	struct policy_observation o = {.generation = 3, .pods_matched = 5, .nodes = nodes};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_int_equal(num(s, "observedGeneration"), 3);
	assert_int_equal(num(s, "podsMatched"), 5);
	assert_int_equal(num(s, "nodesEnforced"), 2);
	assert_int_equal(num(s, "nodesFailed"), 0);
	assert_string_equal(field(s, "Ready", "status"), "True");
	assert_string_equal(field(s, "Ready", "reason"), "Enforced");
	assert_string_equal(field(s, "Degraded", "status"), "False");
	assert_int_equal(
		json_integer_value(json_object_get(cond(s, "Ready"), "observedGeneration")), 3);
	json_decref(s);
	json_decref(nodes);
}

static void an_older_generation_or_a_missing_ack_is_pending(void **state)
{
	json_t *nodes =
		parse("{\"node-a\":{\"generation\":2,\"state\":\"Enforced\",\"failures\":[]},"
		      "\"node-b\":{\"generation\":3,\"state\":\"Pending\",\"failures\":[]},"
		      "\"node-c\":{\"generation\":3,\"state\":\"Enforced\",\"failures\":[]}}");
	struct policy_observation o = {.generation = 3, .pods_matched = 3, .nodes = nodes};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_int_equal(num(s, "nodesEnforced"), 1);
	assert_int_equal(num(s, "nodesFailed"), 0);
	assert_string_equal(field(s, "Ready", "status"), "False");
	assert_string_equal(field(s, "Ready", "reason"), "Pending");
	const char *msg = field(s, "Ready", "message");
	assert_non_null(strstr(msg, "2 of 3 nodes"));
	assert_non_null(strstr(msg, "node-a"));
	assert_non_null(strstr(msg, "node-b"));
	assert_null(strstr(msg, "node-c"));
	json_decref(s);
	json_decref(nodes);
}

static void agent_failures_make_it_degraded_with_their_messages(void **state)
{
	json_t *nodes =
		parse("{\"node-a\":{\"generation\":3,\"state\":\"Enforced\",\"failures\":[]},"
		      "\"node-b\":{\"generation\":3,\"state\":\"Failed\",\"failures\":[{\"node\":"
		      "\"node-b\","
		      "\"pod\":\"shop/"
		      "web-2\",\"applier\":\"network\",\"field\":\"network.egress.rules[0]\","
		      "\"message\":\"map full\"}]}}");
	struct policy_observation o = {.generation = 3, .pods_matched = 2, .nodes = nodes};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_int_equal(num(s, "nodesEnforced"), 1);
	assert_int_equal(num(s, "nodesFailed"), 1);
	assert_string_equal(field(s, "Ready", "status"), "False");
	assert_string_equal(field(s, "Ready", "reason"), "AgentRejected");
	assert_string_equal(field(s, "Degraded", "status"), "True");
	assert_string_equal(field(s, "Degraded", "reason"), "AgentRejected");
	assert_string_equal(field(s, "Degraded", "message"),
			    "node-b: shop/web-2: network: network.egress.rules[0]: map full");
	json_decref(s);
	json_decref(nodes);
}

static void compile_errors_are_degraded_too(void **state)
{
	json_t *errors =
		parse("[{\"pod\":\"shop/web-1\",\"message\":\"spec.network: too many rules\"}]");
	struct policy_observation o = {
		.generation = 1, .pods_matched = 1, .compile_errors = errors};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_string_equal(field(s, "Ready", "reason"), "CompileFailed");
	assert_string_equal(field(s, "Degraded", "status"), "True");
	assert_string_equal(field(s, "Degraded", "reason"), "CompileFailed");
	assert_string_equal(field(s, "Degraded", "message"),
			    "shop/web-1: spec.network: too many rules");
	json_decref(s);
	json_decref(errors);
}

static void an_invalid_policy_says_why_and_counts_nothing(void **state)
{
	struct policy_observation o = {
		.generation = 4,
		.invalid = "spec.network.egress.rules[0].cidrs[0]: invalid CIDR",
		.pods_matched = 7};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_string_equal(field(s, "Ready", "status"), "False");
	assert_string_equal(field(s, "Ready", "reason"), "Invalid");
	assert_non_null(strstr(field(s, "Ready", "message"), "rules[0].cidrs[0]: invalid CIDR"));
	assert_int_equal(num(s, "podsMatched"), 0);
	assert_string_equal(field(s, "Degraded", "status"), "False");
	json_decref(s);
}

static void no_pods_is_ready(void **state)
{
	struct policy_observation o = {.generation = 1};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_string_equal(field(s, "Ready", "status"), "True");
	assert_string_equal(field(s, "Ready", "reason"), "NoPods");
	json_decref(s);
}

static void transition_times_move_only_with_the_status(void **state)
{
	json_t *nodes =
		parse("{\"node-a\":{\"generation\":1,\"state\":\"Enforced\",\"failures\":[]}}");
	struct policy_observation o = {.generation = 1, .pods_matched = 1, .nodes = nodes};
	json_t *s1 = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	/* Same observation later: identical status, so the writer has nothing to write. */
	json_t *s2 = policy_status_build(&o, s1, "2026-01-01T00:05:00Z");
	assert_true(json_equal(s1, s2));
	/* A new generation pending: Ready flips (new time), Degraded stays False (old time). */
	o.generation = 2;
	json_t *s3 = policy_status_build(&o, s2, "2026-01-01T00:10:00Z");
	assert_string_equal(field(s3, "Ready", "status"), "False");
	assert_string_equal(field(s3, "Ready", "lastTransitionTime"), "2026-01-01T00:10:00Z");
	assert_string_equal(field(s3, "Degraded", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(nodes);
}

static void messages_are_bounded(void **state)
{
	json_t *nodes = json_object();
	for (int i = 0; i < 200; i++) {
		char node[32], text[512];
		snprintf(node, sizeof(node), "node-%03d", i);
		snprintf(text, sizeof(text),
			 "{\"generation\":1,\"state\":\"Failed\",\"failures\":[{\"pod\":\"shop/"
			 "p%d\","
			 "\"applier\":\"network\",\"field\":\"\",\"message\":\"%0200d\"}]}",
			 i, 0);
		json_object_set_new(nodes, node, parse(text));
	}
	struct policy_observation o = {.generation = 1, .pods_matched = 200, .nodes = nodes};
	json_t *s = policy_status_build(&o, NULL, "2026-01-01T00:00:00Z");
	assert_int_equal(num(s, "nodesFailed"), 200);
	const char *msg = field(s, "Degraded", "message");
	assert_true(strlen(msg) <= POLICY_STATUS_MAX_MESSAGE);
	assert_non_null(strstr(msg, "and 190 more"));
	json_decref(s);
	json_decref(nodes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enforced_everywhere_is_ready),
		cmocka_unit_test(an_older_generation_or_a_missing_ack_is_pending),
		cmocka_unit_test(agent_failures_make_it_degraded_with_their_messages),
		cmocka_unit_test(compile_errors_are_degraded_too),
		cmocka_unit_test(an_invalid_policy_says_why_and_counts_nothing),
		cmocka_unit_test(no_pods_is_ready),
		cmocka_unit_test(transition_times_move_only_with_the_status),
		cmocka_unit_test(messages_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
