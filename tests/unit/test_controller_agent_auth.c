/* Who may hold a node's push stream: TokenReview answers turned into an identity, the checks
 * (authenticated, the agent ServiceAccount, bound to the node asked for) with 401 vs 403, and
 * the review cache: keyed by the token's hash, expiring, bounded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/agent_auth.h"

#define AGENT "system:serviceaccount:bulwark-system:bulwark-agent"

static json_t *review(bool authenticated, const char *user, const char *node)
{
	json_t *r = json_pack("{s:{s:b,s:{s:s,s:{}}}}", "status", "authenticated", authenticated,
			      "user", "username", user, "extra");
	if (node)
		json_object_set_new(
			json_object_get(json_object_get(json_object_get(r, "status"), "user"),
					"extra"),
			AGENT_AUTH_NODE_EXTRA, json_pack("[s]", node));
	return r;
}

static void identity_from_a_review(void **state)
{
	json_t *r = review(true, AGENT, "node-a");
	struct token_identity id;
	assert_int_equal(token_identity_from_review(r, &id), 0);
	assert_true(id.authenticated);
	assert_string_equal(id.username, AGENT);
	assert_string_equal(id.node, "node-a");
	json_decref(r);

	/* Two node names is not a node binding. */
	r = review(true, AGENT, "node-a");
	json_array_append_new(
		json_object_get(
			json_object_get(json_object_get(json_object_get(r, "status"), "user"),
					"extra"),
			AGENT_AUTH_NODE_EXTRA),
		json_string("node-b"));
	assert_int_equal(token_identity_from_review(r, &id), 0);
	assert_string_equal(id.node, "");
	json_decref(r);

	r = json_pack("{s:s}", "kind", "Status");
	assert_int_equal(token_identity_from_review(r, &id), -EINVAL);
	json_decref(r);
	r = json_pack("{s:{s:b,s:s}}", "status", "authenticated", 0, "error", "token expired");
	assert_int_equal(token_identity_from_review(r, &id), 0);
	assert_false(id.authenticated);
	assert_string_equal(id.error, "token expired");
	json_decref(r);
}

static void the_checks_and_their_status_codes(void **state)
{
	char msg[512];
	struct token_identity ok = {.authenticated = true, .username = AGENT, .node = "node-a"};
	assert_int_equal(agent_auth_check(&ok, AGENT, "node-a", msg, sizeof(msg)), 0);

	struct token_identity bad = {.authenticated = false, .error = "invalid bearer token"};
	assert_int_equal(agent_auth_check(&bad, AGENT, "node-a", msg, sizeof(msg)), -EACCES);
	assert_non_null(strstr(msg, "invalid bearer token"));

	struct token_identity other = {.authenticated = true,
				       .username = "system:serviceaccount:default:default",
				       .node = "node-a"};
	assert_int_equal(agent_auth_check(&other, AGENT, "node-a", msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "system:serviceaccount:default:default may not"));

	assert_int_equal(agent_auth_check(&ok, AGENT, "node-b", msg, sizeof(msg)), -EPERM);
	assert_string_equal(msg, "token is bound to node node-a, not to node-b");

	struct token_identity unbound = {.authenticated = true, .username = AGENT};
	assert_int_equal(agent_auth_check(&unbound, AGENT, "node-a", msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "not bound to a node"));
}

static void the_cache_expires_and_keeps_no_token(void **state)
{
	struct token_cache *c = token_cache_new(8, 60000, 5000);
	struct token_identity ok = {.authenticated = true, .username = AGENT, .node = "node-a"};
	struct token_identity denied = {.authenticated = false};
	struct token_identity got;
	assert_int_equal(token_cache_get(c, "tok-1", 0, &got), -ENOENT);
	assert_int_equal(token_cache_put(c, "tok-1", &ok, 1000), 0);
	assert_int_equal(token_cache_put(c, "tok-2", &denied, 1000), 0);
	assert_int_equal(token_cache_get(c, "tok-1", 60999, &got), 0);
	assert_string_equal(got.node, "node-a");
	assert_int_equal(token_cache_get(c, "tok-1", 61000, &got), -ENOENT);
	/* A refusal is remembered briefly: a token may become valid. */
	assert_int_equal(token_cache_get(c, "tok-2", 5999, &got), 0);
	assert_false(got.authenticated);
	assert_int_equal(token_cache_get(c, "tok-2", 6000, &got), -ENOENT);
	/* Another token never matches. */
	assert_int_equal(token_cache_get(c, "tok-3", 1000, &got), -ENOENT);
	token_cache_free(c);
}

static void the_cache_is_bounded(void **state)
{
	struct token_cache *c = token_cache_new(4, 60000, 5000);
	struct token_identity ok = {.authenticated = true, .username = AGENT};
	char tok[32];
	for (int i = 0; i < 100; i++) {
		snprintf(tok, sizeof(tok), "tok-%d", i);
		/* Later tokens expire later, so the oldest is the one evicted. */
		assert_int_equal(token_cache_put(c, tok, &ok, (uint64_t)i * 10), 0);
		assert_true(token_cache_size(c) <= 4);
	}
	struct token_identity got;
	assert_int_equal(token_cache_get(c, "tok-99", 1000, &got), 0);
	assert_int_equal(token_cache_get(c, "tok-96", 1000, &got), 0);
	assert_int_equal(token_cache_get(c, "tok-95", 1000, &got), -ENOENT);
	/* Expired entries are dropped first when room is needed. */
	assert_int_equal(token_cache_put(c, "late", &ok, 70000), 0);
	assert_int_equal(token_cache_size(c), 1);
	token_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_from_a_review),
		cmocka_unit_test(the_checks_and_their_status_codes),
		cmocka_unit_test(the_cache_expires_and_keeps_no_token),
		cmocka_unit_test(the_cache_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
