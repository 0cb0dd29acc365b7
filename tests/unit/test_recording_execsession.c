/* Matching a recorded session to the admission webhook's Requested ExecSession, and the
 * objects and status the agent writes (nodeagent/exec/execrec_kube.c, without an apiserver). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nodeagent/exec/execrec_kube.h"

/* 2026-11-21T12:00:00Z */
#define START_US (1795262400ull * 1000000ull)

static json_t *requested(const char *name, const char *created, const char *pod,
			 const char *container, const char *node, const char *phase,
			 const char *arg0)
{
	json_t *o = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:[s,s]},s:{s:s}}", "metadata", "name", name,
			      "creationTimestamp", created, "spec", "pod", pod, "container",
			      container, "command", arg0, "-i", "status", "phase", phase);
	if (node)
		json_object_set_new(json_object_get(o, "spec"), "node", json_string(node));
	return o;
}

static void test_match_picks_oldest_requested(void **state)
{
	json_t *items = json_array();
	json_array_append_new(items, requested("late", "2026-11-21T12:00:05Z", "web", "app", "n1",
					       "Requested", "sh"));
	json_array_append_new(items, requested("early", "2026-11-21T11:59:58Z", "web", "app", NULL,
					       "Requested", "sh"));
	json_array_append_new(items, requested("claimed", "2026-11-21T11:59:50Z", "web", "app",
					       "n1", "Recording", "sh"));
	json_array_append_new(items, requested("other-node", "2026-11-21T11:59:40Z", "web", "app",
					       "n2", "Requested", "sh"));
	json_array_append_new(items, requested("other-cmd", "2026-11-21T11:59:40Z", "web", "app",
					       "n1", "Requested", "bash"));
	json_array_append_new(items, requested("other-ctr", "2026-11-21T11:59:40Z", "web", "side",
					       "n1", "Requested", "sh"));
	json_array_append_new(items, requested("too-old", "2026-11-21T11:58:00Z", "web", "app",
					       "n1", "Requested", "sh"));
	json_t *cmd = json_pack("[s,s]", "sh", "-i");
	struct execsession_match_key k = {.pod = "web",
					  .container = "app",
					  .node = "n1",
					  .command = cmd,
					  .start_unix_us = START_US};
	json_t *m = execsession_find_requested(items, &k);
	assert_non_null(m);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(m, "metadata"), "name")),
		"early");
	/* Once it is taken, the next one. */
	json_object_set_new(json_object_get(m, "status"), "phase", json_string("Recording"));
	m = execsession_find_requested(items, &k);
	assert_non_null(m);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(m, "metadata"), "name")), "late");
	json_object_set_new(json_object_get(m, "status"), "phase", json_string("Recording"));
	assert_null(execsession_find_requested(items, &k));
	json_decref(cmd);
	json_decref(items);
}

/* The agent names a session's pod but not its container: such a session claims the request
 * for any container of the pod, still only with the same command and in the time window. */
static void test_match_without_container_name(void **state)
{
	json_t *items = json_array();
	json_array_append_new(items, requested("other-cmd", "2026-11-21T11:59:59Z", "web", "app",
					       "n1", "Requested", "bash"));
	json_array_append_new(items, requested("other-pod", "2026-11-21T11:59:59Z", "db", "app",
					       "n1", "Requested", "sh"));
	json_array_append_new(items, requested("side", "2026-11-21T12:00:01Z", "web", "side", "n1",
					       "Requested", "sh"));
	json_t *cmd = json_pack("[s,s]", "sh", "-i");
	struct execsession_match_key k = {.pod = "web",
					  .container = "",
					  .node = "n1",
					  .command = cmd,
					  .start_unix_us = START_US};
	json_t *m = execsession_find_requested(items, &k);
	assert_non_null(m);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(m, "metadata"), "name")), "side");
	/* A named container still has to be the requested one. */
	k.container = "app";
	assert_null(execsession_find_requested(items, &k));
	json_decref(cmd);
	json_decref(items);
}

static void test_objects_and_status(void **state)
{
	struct execrec_identity who = {.namespace = "prod", .pod = "web-0", .container = "app"};
	json_t *cmd = json_pack("[s]", "sh");
	struct execrec_session_info s = {
		.id = "n1-0001",
		.who = &who,
		.node = "n1",
		.command = cmd,
		.tty = true,
		.phase = EXECREC_RECORDING,
		.start_unix_us = START_US,
	};
	json_t *o = execsession_new_object(&s);
	assert_non_null(o);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
		"n1-0001");
	json_t *spec = json_object_get(o, "spec");
	assert_string_equal(json_string_value(json_object_get(spec, "pod")), "web-0");
	assert_true(json_equal(json_object_get(spec, "command"), cmd));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "user"), "username")),
		"unknown");
	json_decref(o);

	json_t *st = execsession_status(&s);
	assert_string_equal(json_string_value(json_object_get(st, "phase")), "Recording");
	assert_string_equal(json_string_value(json_object_get(st, "startTime")),
			    "2026-11-21T12:00:00Z");
	assert_null(json_object_get(st, "digest"));
	json_decref(st);

	s.phase = EXECREC_COMPLETED;
	s.end_unix_us = START_US + 2500000;
	s.bytes = 1234;
	s.lost_events = 2;
	s.gaps = 1;
	s.digest = "sha256:00";
	st = execsession_status(&s);
	assert_string_equal(json_string_value(json_object_get(st, "phase")), "Completed");
	assert_string_equal(json_string_value(json_object_get(st, "endTime")),
			    "2026-11-21T12:00:02Z");
	assert_true(json_real_value(json_object_get(st, "durationSeconds")) == 2.5);
	assert_int_equal(json_integer_value(json_object_get(st, "bytes")), 1234);
	assert_int_equal(json_integer_value(json_object_get(st, "lostEvents")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "gaps")), 1);
	assert_string_equal(json_string_value(json_object_get(st, "digest")), "sha256:00");
	json_decref(st);
	json_decref(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_picks_oldest_requested),
		cmocka_unit_test(test_match_without_container_name),
		cmocka_unit_test(test_objects_and_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
