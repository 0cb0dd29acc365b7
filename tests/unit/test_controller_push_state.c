/* The controller's per-node push state: which changes become which messages for which stream,
 * what a SNAPSHOT holds, how acknowledgements (ACK with failures, NACK, another epoch) decide
 * whether a node enforces a policy, and that a stream that cannot keep up is let go. The
 * streams are played by a recorder of the messages sent to them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/push_state.h"

struct stream {
	json_t *got; /* messages received, in order */
	bool full;   /* refuse the next message, as an overflowing queue does */
	int closed;
};

static int record_send(void *conn, const json_t *msg, uint64_t version, void *ud)
{
	struct stream *s = conn;
	if (s->full)
		return -ENOBUFS;
	assert_int_equal(json_integer_value(json_object_get(msg, "version")), version);
	json_array_append_new(s->got, json_deep_copy(msg));
	return 0;
}

static void record_close(void *conn, void *ud)
{
	((struct stream *)conn)->closed++;
}

static const struct push_state_ops ops = {.send = record_send, .close = record_close};

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A compiled pod policy as lib/policy makes them, reduced to what the state reads. */
static json_t *compiled(const char *name, const char *uid, const char *hash, int generation)
{
	return json_pack("{s:{s:s,s:s,s:s},s:[{s:s,s:s,s:i}],s:s}", "pod", "namespace", "shop",
			 "name", name, "uid", uid, "policies", "namespace", "shop", "name", "web",
			 "generation", generation, "hash", hash);
}

static const char *type_of(const struct stream *s, size_t i)
{
	return json_string_value(json_object_get(json_array_get(s->got, i), "type"));
}

static json_int_t version_of(const struct stream *s, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(s->got, i), "version"));
}

static json_t *ack(const char *epoch, json_int_t version, const char *result, json_t *failed)
{
	return json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "node", "node-a", "epoch", epoch, "version",
			 version, "result", result, "message", "because", "failed",
			 failed ? failed : json_array());
}

static const char *node_state(struct push_state *ps, const char *node, json_int_t *ret_gen)
{
	static char st[16];
	json_t *all = NULL;
	assert_int_equal(push_state_policy_nodes(ps, 10, &all), 0);
	json_t *rec = json_object_get(json_object_get(all, "shop/web"), node);
	snprintf(st, sizeof(st), "%s",
		 rec ? json_string_value(json_object_get(rec, "state")) : "-");
	if (ret_gen)
		*ret_gen = json_integer_value(json_object_get(rec, "generation"));
	json_decref(all);
	return st;
}

static void changes_become_messages_only_when_the_hash_changes(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	struct stream a = {.got = json_array()};
	assert_int_equal(push_state_attach(ps, "node-a", &a, 1000), 0);
	assert_int_equal(json_array_size(a.got), 1);
	assert_string_equal(type_of(&a, 0), "SNAPSHOT");

	json_t *c1 = compiled("web-1", "u1", HASH_A, 1);
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1, 1000), 1);
	/* The same hash again (a relist, a resync, a status-only change) sends nothing. */
	json_t *c1_again = compiled("web-1", "u1", HASH_A, 1);
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1_again, 1000),
			 0);
	json_t *c2 = compiled("web-1", "u1", HASH_B, 2);
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c2, 1000), 1);
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", NULL, 1000), 1);
	/* Removing what is not there sends nothing. */
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", NULL, 1000), 0);
	assert_int_equal(push_state_set_pod(ps, "node-b", "shop", "web-9", "u9", NULL, 1000), 0);

	assert_int_equal(json_array_size(a.got), 4);
	assert_string_equal(type_of(&a, 1), "UPSERT");
	assert_string_equal(type_of(&a, 2), "UPSERT");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(a.got, 2), "pod"), "hash")),
			    HASH_B);
	assert_string_equal(type_of(&a, 3), "DELETE");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(a.got, 3), "pod"), "uid")),
			    "u1");
	/* Versions grow message after message within the epoch. */
	for (size_t i = 1; i < 4; i++)
		assert_true(version_of(&a, i) > version_of(&a, i - 1));

	/* A compiled policy without a hash is refused. */
	json_t *bad = json_pack("{s:{s:s}}", "pod", "uid", "u2");
	assert_int_equal(push_state_set_pod(ps, "node-a", "shop", "x", "u2", bad, 1000), -EINVAL);
	json_decref(bad);

	json_decref(c1);
	json_decref(c1_again);
	json_decref(c2);
	json_decref(a.got);
	push_state_free(ps);
}

static void a_node_without_a_stream_gets_everything_in_its_snapshot(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	json_t *c1 = compiled("web-1", "u1", HASH_A, 1), *c2 = compiled("web-2", "u2", HASH_B, 1);
	push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1, 1000);
	push_state_set_pod(ps, "node-a", "shop", "web-2", "u2", c2, 1000);
	push_state_set_pod(ps, "node-b", "shop", "web-3", "u3", c1, 1000);
	json_t *profile = json_pack("{s:s}", "defaultAction", "SCMP_ACT_ERRNO");
	assert_int_equal(push_state_set_policy_profile(ps, "shop/web", profile, 1000), 0);

	struct stream a = {.got = json_array()};
	assert_int_equal(push_state_attach(ps, "node-a", &a, 1000), 0);
	assert_int_equal(json_array_size(a.got), 1);
	json_t *snap = json_array_get(a.got, 0);
	assert_string_equal(type_of(&a, 0), "SNAPSHOT");
	assert_string_equal(json_string_value(json_object_get(snap, "epoch")), "e1");
	/* Only node-a's pods; every profile. */
	assert_int_equal(json_array_size(json_object_get(snap, "pods")), 2);
	assert_int_equal(json_object_size(json_object_get(snap, "profiles")), 1);

	/* A second stream for the node replaces the first, which is closed and gets no more. */
	struct stream a2 = {.got = json_array()};
	assert_int_equal(push_state_attach(ps, "node-a", &a2, 1000), 0);
	assert_int_equal(a.closed, 1);
	push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", NULL, 1000);
	assert_int_equal(json_array_size(a.got), 1);
	assert_int_equal(json_array_size(a2.got), 2);
	/* Detaching a stream that was already replaced changes nothing. */
	push_state_detach(ps, "node-a", &a);
	push_state_set_pod(ps, "node-a", "shop", "web-2", "u2", NULL, 1000);
	assert_int_equal(json_array_size(a2.got), 3);

	struct push_state_stats st;
	push_state_get_stats(ps, &st);
	assert_int_equal(st.nodes, 2);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.attached, 1);
	push_state_detach_all(ps);
	assert_int_equal(a2.closed, 1);
	push_state_get_stats(ps, &st);
	assert_int_equal(st.attached, 0);

	json_decref(profile);
	json_decref(c1);
	json_decref(c2);
	json_decref(a.got);
	json_decref(a2.got);
	push_state_free(ps);
}

static void profiles_are_broadcast_once_and_counted(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	struct stream a = {.got = json_array()}, b = {.got = json_array()};
	push_state_attach(ps, "node-a", &a, 1000);
	push_state_attach(ps, "node-b", &b, 1000);
	json_t *p1 = json_pack("{s:s}", "defaultAction", "SCMP_ACT_ERRNO");
	json_t *p2 = json_pack("{s:s}", "defaultAction", "SCMP_ACT_LOG");
	/* Two policies with the same profile: one broadcast, to every node. */
	push_state_set_policy_profile(ps, "shop/one", p1, 1000);
	push_state_set_policy_profile(ps, "shop/two", p1, 1000);
	assert_int_equal(json_array_size(a.got), 2);
	assert_int_equal(json_array_size(b.got), 2);
	assert_string_equal(type_of(&a, 1), "PROFILES");
	json_t *profiles = json_object_get(json_array_get(a.got, 1), "profiles");
	assert_int_equal(json_object_size(profiles), 1);
	const char *name = json_object_iter_key(json_object_iter(profiles));
	assert_non_null(strstr(name, "bulwark/"));
	assert_true(json_equal(json_object_get(profiles, name), p1));

	struct push_state_stats st;
	push_state_get_stats(ps, &st);
	assert_int_equal(st.profiles, 1);
	/* One policy changes to another profile: a new broadcast; the old one is still used. */
	push_state_set_policy_profile(ps, "shop/one", p2, 1000);
	assert_int_equal(json_array_size(a.got), 3);
	push_state_get_stats(ps, &st);
	assert_int_equal(st.profiles, 2);
	/* The last user of p1 goes: later snapshots leave it out. */
	push_state_set_policy_profile(ps, "shop/two", NULL, 1000);
	push_state_get_stats(ps, &st);
	assert_int_equal(st.profiles, 1);
	struct stream a2 = {.got = json_array()};
	push_state_attach(ps, "node-a", &a2, 1000);
	json_t *snap_profiles = json_object_get(json_array_get(a2.got, 0), "profiles");
	assert_int_equal(json_object_size(snap_profiles), 1);
	assert_null(json_object_get(snap_profiles, name));

	json_decref(p1);
	json_decref(p2);
	json_decref(a.got);
	json_decref(a2.got);
	json_decref(b.got);
	push_state_free(ps);
}

static void acks_decide_enforced_failed_and_pending(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	struct stream a = {.got = json_array()};
	push_state_attach(ps, "node-a", &a, 1000);
	json_t *c1 = compiled("web-1", "u1", HASH_A, 1), *c2 = compiled("web-2", "u2", HASH_A, 1);
	push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1, 1000);
	push_state_set_pod(ps, "node-a", "shop", "web-2", "u2", c2, 1000);
	json_int_t v1 = version_of(&a, 1), v2 = version_of(&a, 2);
	assert_string_equal(node_state(ps, "node-a", NULL), "Pending");

	/* web-1's message acked, web-2's not yet: still pending. */
	struct field_error err = {0};
	int64_t latency = 0;
	json_t *k = ack("e1", v1, "ACK", NULL);
	assert_int_equal(push_state_ack(ps, "node-a", k, 1250, &latency, &err), 0);
	assert_int_equal(latency, 250);
	json_decref(k);
	assert_string_equal(node_state(ps, "node-a", NULL), "Pending");

	/* web-2 failed in the network applier. */
	json_t *failed = json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s}]", "uid", "u2", "namespace", "shop",
				   "name", "web-2", "applier", "network", "field",
				   "network.egress.rules[0]", "message", "map full");
	k = ack("e1", v2, "ACK", failed);
	assert_int_equal(push_state_ack(ps, "node-a", k, 1300, NULL, &err), 0);
	json_decref(k);
	assert_string_equal(node_state(ps, "node-a", NULL), "Failed");
	json_t *all = NULL;
	push_state_policy_nodes(ps, 10, &all);
	json_t *f = json_array_get(
		json_object_get(json_object_get(json_object_get(all, "shop/web"), "node-a"),
				"failures"),
		0);
	assert_string_equal(json_string_value(json_object_get(f, "pod")), "shop/web-2");
	assert_string_equal(json_string_value(json_object_get(f, "node")), "node-a");
	assert_string_equal(json_string_value(json_object_get(f, "applier")), "network");
	assert_string_equal(json_string_value(json_object_get(f, "field")),
			    "network.egress.rules[0]");
	assert_string_equal(json_string_value(json_object_get(f, "message")), "map full");
	json_decref(all);

	/* A new compiled policy for web-2 clears its failure until the agent answers. */
	json_t *c2b = compiled("web-2", "u2", HASH_B, 2);
	push_state_set_pod(ps, "node-a", "shop", "web-2", "u2", c2b, 1400);
	json_int_t gen;
	assert_string_equal(node_state(ps, "node-a", &gen), "Pending");
	/* The node counts under the oldest generation its pods run: web-1 still has 1. */
	assert_int_equal(gen, 1);

	/* An ack from a previous controller (another epoch) is ignored. */
	k = ack("e0", version_of(&a, 3), "ACK", NULL);
	assert_int_equal(push_state_ack(ps, "node-a", k, 1500, NULL, &err), 0);
	json_decref(k);
	assert_string_equal(node_state(ps, "node-a", NULL), "Pending");

	k = ack("e1", version_of(&a, 3), "ACK", NULL);
	assert_int_equal(push_state_ack(ps, "node-a", k, 1500, NULL, &err), 0);
	json_decref(k);
	assert_string_equal(node_state(ps, "node-a", NULL), "Enforced");

	/* A NACK fails whatever the refused message carried, with the agent's reason. */
	json_t *c1b = compiled("web-1", "u1", HASH_B, 2);
	push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1b, 1600);
	k = ack("e1", version_of(&a, 4), "NACK", NULL);
	assert_int_equal(push_state_ack(ps, "node-a", k, 1700, NULL, &err), 0);
	json_decref(k);
	assert_string_equal(node_state(ps, "node-a", NULL), "Failed");

	json_decref(c1);
	json_decref(c2);
	json_decref(c2b);
	json_decref(c1b);
	json_decref(a.got);
	push_state_free(ps);
}

static void malformed_acks_name_the_field(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	struct {
		const char *json, *field;
	} cases[] = {
		{"[]", "ack"},
		{"{\"version\":1,\"result\":\"ACK\"}", "epoch"},
		{"{\"epoch\":\"e1\",\"version\":-1,\"result\":\"ACK\"}", "version"},
		{"{\"epoch\":\"e1\",\"version\":1,\"result\":\"MAYBE\"}", "result"},
		{"{\"epoch\":\"e1\",\"version\":1,\"result\":\"ACK\",\"failed\":{}}", "failed"},
		{"{\"epoch\":\"e1\",\"version\":1,\"result\":\"ACK\",\"failed\":[{}]}",
		 "failed[0].uid"},
		{"{\"node\":\"node-b\",\"epoch\":\"e1\",\"version\":1,\"result\":\"ACK\"}", "node"},
		/* A version we never sent cannot be acknowledged. */
		{"{\"epoch\":\"e1\",\"version\":99,\"result\":\"ACK\"}", "version"},
	};
	struct stream a = {.got = json_array()};
	push_state_attach(ps, "node-a", &a, 1000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *k = json_loads(cases[i].json, 0, NULL);
		struct field_error err = {0};
		assert_int_equal(push_state_ack(ps, "node-a", k, 1000, NULL, &err), -EINVAL);
		assert_string_equal(err.field, cases[i].field);
		json_decref(k);
	}
	json_decref(a.got);
	push_state_free(ps);
}

static void a_stream_that_cannot_keep_up_is_detached(void **state)
{
	struct push_state *ps;
	assert_int_equal(push_state_new("e1", &ops, NULL, &ps), 0);
	struct stream a = {.got = json_array()};
	push_state_attach(ps, "node-a", &a, 1000);
	a.full = true;
	json_t *c1 = compiled("web-1", "u1", HASH_A, 1), *c2 = compiled("web-2", "u2", HASH_B, 1);
	push_state_set_pod(ps, "node-a", "shop", "web-1", "u1", c1, 1000);
	struct push_state_stats st;
	push_state_get_stats(ps, &st);
	assert_int_equal(st.attached, 0);
	/* Nothing more is offered to it, even once it has room again. */
	a.full = false;
	push_state_set_pod(ps, "node-a", "shop", "web-2", "u2", c2, 1000);
	assert_int_equal(json_array_size(a.got), 1);
	/* The reconnect's snapshot has both pods. */
	struct stream a2 = {.got = json_array()};
	push_state_attach(ps, "node-a", &a2, 1000);
	assert_int_equal(json_array_size(json_object_get(json_array_get(a2.got, 0), "pods")), 2);
	json_decref(c1);
	json_decref(c2);
	json_decref(a.got);
	json_decref(a2.got);
	push_state_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_become_messages_only_when_the_hash_changes),
		cmocka_unit_test(a_node_without_a_stream_gets_everything_in_its_snapshot),
		cmocka_unit_test(profiles_are_broadcast_once_and_counted),
		cmocka_unit_test(acks_decide_enforced_failed_and_pending),
		cmocka_unit_test(malformed_acks_name_the_field),
		cmocka_unit_test(a_stream_that_cannot_keep_up_is_detached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
