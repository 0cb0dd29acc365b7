/* The push protocol's validation and the agent's sync engine: apply-once per hash, removals
 * from snapshots, NACKs that change nothing, rollback across appliers, persistence. The
 * appliers here record calls instead of touching the kernel (the kernel side has its own
 * tests). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nodeagent/sync.h"
#include "push.h"

#define H1   "1111111111111111111111111111111111111111111111111111111111111111"
#define H2   "2222222222222222222222222222222222222222222222222222222222222222"
#define PROF "bulwark/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"

struct recorder {
	char log[4096];
	const char *fail_uid; /* apply_pod fails for this uid */
	int profile_applies;
};

static void record(struct recorder *r, const char *fmt, ...)
{
	size_t n = strlen(r->log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->log + n, sizeof(r->log) - n, fmt, ap);
	va_end(ap);
}

static const char *uid_of(const json_t *c)
{
	return json_string_value(json_object_get(json_object_get(c, "pod"), "uid"));
}

static int rec_apply(void *ctx, const json_t *c, const json_t *prev, struct field_error *err)
{
	struct recorder *r = ctx;
	if (r->fail_uid && strcmp(r->fail_uid, uid_of(c)) == 0)
		return field_error_set(err, "network.egress", "map full");
	record(r, "apply %s %.4s;", uid_of(c), json_string_value(json_object_get(c, "hash")));
	return 0;
}

static int rec_remove(void *ctx, const json_t *c)
{
	record(ctx, "remove %s;", uid_of(c));
	return 0;
}

static int rec_adopt(void *ctx, const json_t *c)
{
	record(ctx, "adopt %s;", uid_of(c));
	return 0;
}

static int rec_profiles(void *ctx, const json_t *profiles, struct field_error *err)
{
	((struct recorder *)ctx)->profile_applies++;
	return 0;
}

static char *pod(const char *uid, const char *hash)
{
	char *s;
	if (asprintf(&s,
		     "{\"pod\":{\"namespace\":\"shop\",\"name\":\"web-%s\",\"uid\":\"%s\"},"
		     "\"hash\":\"%s\"}",
		     uid, uid, hash) < 0)
		return NULL;
	return s;
}

static json_t *handle(struct agent_sync *s, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	assert_true(vasprintf(&line, fmt, ap) >= 0);
	va_end(ap);
	json_t *a = agent_sync_handle(s, line, strlen(line));
	free(line);
	return a;
}

static const char *result(json_t *ack)
{
	return json_string_value(json_object_get(ack, "result"));
}

static void snapshot_applies_once_and_removes_absent(void **state)
{
	struct recorder rec = {0};
	struct agent_sync *s;
	assert_int_equal(agent_sync_new("node-a", NULL, &s), 0);
	agent_sync_add_applier(s, &(struct applier){.name = "network",
						    .ctx = &rec,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .apply_profiles = rec_profiles});
	char *a = pod("a", H1), *b = pod("b", H1), *b2 = pod("b", H2);

	json_t *ack =
		handle(s,
		       "{\"type\":\"SNAPSHOT\",\"epoch\":\"e1\",\"version\":1,\"pods\":[%s,%s],"
		       "\"profiles\":{\"" PROF "\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}}}",
		       a, b);
	assert_string_equal(result(ack), "ACK");
	assert_int_equal(json_integer_value(json_object_get(ack, "applied")), 2);
	json_decref(ack);
	assert_string_equal(rec.log, "apply a 1111;apply b 1111;");
	assert_int_equal(rec.profile_applies, 1);

	/* The same snapshot again (a reconnect): nothing is applied twice. */
	rec.log[0] = '\0';
	json_decref(
		handle(s, "{\"type\":\"SNAPSHOT\",\"epoch\":\"e2\",\"version\":1,\"pods\":[%s,%s]}",
		       a, b));
	assert_string_equal(rec.log, "");

	/* b changed, a vanished. */
	json_decref(handle(
		s, "{\"type\":\"SNAPSHOT\",\"epoch\":\"e2\",\"version\":2,\"pods\":[%s]}", b2));
	assert_string_equal(rec.log, "remove a;apply b 2222;");
	assert_int_equal(agent_sync_pod_count(s), 1);
	assert_string_equal(agent_sync_epoch(s), "e2");
	assert_int_equal(agent_sync_version(s), 2);
	free(a);
	free(b);
	free(b2);
	agent_sync_free(s);
}

static void nacks_change_nothing(void **state)
{
	struct recorder rec = {0};
	struct agent_sync *s;
	assert_int_equal(agent_sync_new("node-a", NULL, &s), 0);
	agent_sync_add_applier(s, &(struct applier){.name = "network",
						    .ctx = &rec,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .apply_profiles = NULL});
	char *a = pod("a", H1);
	json_decref(handle(s, "{\"type\":\"UPSERT\",\"epoch\":\"e\",\"version\":1,\"pod\":%s}", a));
	rec.log[0] = '\0';

	static const char *const bad[][2] = {
		{"{\"type\":\"UPSERT\",\"epoch\":\"e\",\"version\":2,\"pod\":{\"pod\":{"
		 "\"namespace\":\"x\",\"name\":\"y\"},\"hash\":\"" H1 "\"}}",
		 "pod.pod.uid: missing"},
		{"{\"type\":\"UPSERT\",\"epoch\":\"e\",\"version\":2,\"pod\":{\"pod\":{"
		 "\"namespace\":\"x\",\"name\":\"y\",\"uid\":\"u\"},\"hash\":\"xyz\"}}",
		 "pod.hash: must be 64 lowercase hex digits"},
		{"{\"type\":\"EXPLODE\",\"epoch\":\"e\",\"version\":2}",
		 "type: unknown message type \"EXPLODE\""},
		{"{\"type\":\"UPSERT\",\"epoch\":\"e\",\"version\":-1,\"pod\":{}}",
		 "version: must be a non-negative integer"},
		{"{\"type\":\"UPSERT\",\"epoch\":\"e\",\"vers", "malformed JSON"},
		{"{\"type\":\"DELETE\",\"epoch\":\"e\",\"version\":2,\"pod\":{\"namespace\":"
		 "\"shop\",\"name\":\"ghost\",\"uid\":\"zz\"}}",
		 "DELETE of unknown pod shop/ghost (uid zz)"},
		{"{\"type\":\"PROFILES\",\"epoch\":\"e\",\"version\":2,\"profiles\":{\"../../etc/"
		 "passwd\":{\"defaultAction\":\"x\"}}}",
		 "name must be bulwark/<sha256>.json"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *ack = agent_sync_handle(s, bad[i][0], strlen(bad[i][0]));
		assert_string_equal(result(ack), "NACK");
		const char *msg = json_string_value(json_object_get(ack, "message"));
		if (!strstr(msg, bad[i][1]))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, msg, bad[i][1]);
		json_decref(ack);
	}
	assert_string_equal(rec.log, "");
	assert_int_equal(agent_sync_version(s), 1);
	assert_non_null(agent_sync_pod(s, "a"));
	free(a);
	agent_sync_free(s);
}

static void failure_rolls_back_earlier_appliers(void **state)
{
	struct recorder net = {0}, sec = {.fail_uid = "b"};
	struct agent_sync *s;
	assert_int_equal(agent_sync_new("node-a", NULL, &s), 0);
	agent_sync_add_applier(s, &(struct applier){.name = "network",
						    .ctx = &net,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .apply_profiles = NULL});
	agent_sync_add_applier(s, &(struct applier){.name = "seccomp",
						    .ctx = &sec,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .apply_profiles = NULL});
	char *b = pod("b", H1);
	json_t *ack =
		handle(s, "{\"type\":\"UPSERT\",\"epoch\":\"e\",\"version\":1,\"pod\":%s}", b);
	assert_string_equal(result(ack), "ACK");
	json_t *f = json_array_get(json_object_get(ack, "failed"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "applier")), "seccomp");
	assert_string_equal(json_string_value(json_object_get(f, "field")), "network.egress");
	assert_string_equal(json_string_value(json_object_get(f, "message")), "map full");
	json_decref(ack);
	/* network applied, then was told to remove the new pod again. */
	assert_string_equal(net.log, "apply b 1111;remove b;");
	assert_null(agent_sync_pod(s, "b"));
	free(b);
	agent_sync_free(s);
}

static void state_persists_across_restart(void **state)
{
	char dir[] = "/tmp/bulwark-sync-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	struct recorder rec = {0};
	struct agent_sync *s;
	assert_int_equal(agent_sync_new("node-a", path, &s), 0);
	agent_sync_add_applier(s, &(struct applier){.name = "network",
						    .ctx = &rec,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .apply_profiles = NULL});
	char *a = pod("a", H1);
	json_decref(handle(
		s, "{\"type\":\"SNAPSHOT\",\"epoch\":\"e1\",\"version\":7,\"pods\":[%s]}", a));
	agent_sync_free(s);

	/* A restarted agent adopts the state without applying, then a snapshot with the same
	 * content applies nothing. */
	rec.log[0] = '\0';
	assert_int_equal(agent_sync_new("node-a", path, &s), 0);
	agent_sync_add_applier(s, &(struct applier){.name = "network",
						    .ctx = &rec,
						    .apply_pod = rec_apply,
						    .remove_pod = rec_remove,
						    .adopt_pod = rec_adopt});
	assert_int_equal(agent_sync_load(s), 0);
	/* Each applier learns the persisted pod without applying it. */
	assert_string_equal(rec.log, "adopt a;");
	rec.log[0] = '\0';
	assert_int_equal(agent_sync_version(s), 7);
	assert_string_equal(agent_sync_epoch(s), "e1");
	assert_non_null(agent_sync_pod(s, "a"));
	json_t *features = json_pack("{s:{s:i}}", "landlock", "abi", 7);
	agent_sync_set_features(s, features);
	json_decref(features);
	json_t *ack = handle(
		s, "{\"type\":\"SNAPSHOT\",\"epoch\":\"e9\",\"version\":1,\"pods\":[%s]}", a);
	assert_string_equal(rec.log, "");
	/* Every ack carries the node's kernel features. */
	json_t *landlock = json_object_get(json_object_get(ack, "features"), "landlock");
	assert_int_equal(json_integer_value(json_object_get(landlock, "abi")), 7);
	json_decref(ack);
	agent_sync_free(s);

	/* Another node's state file is refused. */
	assert_int_equal(agent_sync_new("node-b", path, &s), 0);
	assert_int_equal(agent_sync_load(s), -EBADMSG);
	agent_sync_free(s);
	unlink(path);
	rmdir(dir);
	free(a);
}

static void snapshot_with_duplicate_uid_is_refused(void **state)
{
	struct push_message m;
	struct field_error err = {0};
	char *a = pod("a", H1);
	char *line;
	assert_true(
		asprintf(&line,
			 "{\"type\":\"SNAPSHOT\",\"epoch\":\"e\",\"version\":1,\"pods\":[%s,%s]}",
			 a, a) > 0);
	assert_int_equal(push_message_parse(line, strlen(line), &m, &err), -EINVAL);
	assert_string_equal(err.field, "pods[1]");
	free(line);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(snapshot_applies_once_and_removes_absent),
		cmocka_unit_test(nacks_change_nothing),
		cmocka_unit_test(failure_rolls_back_earlier_appliers),
		cmocka_unit_test(state_persists_across_restart),
		cmocka_unit_test(snapshot_with_duplicate_uid_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
