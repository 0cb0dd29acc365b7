/* The pieces of the controller → agent recordings leg that need no network: the agent's
 * request paths and token comparison, the controller's parsing of the three stream headers,
 * and its per-node endpoint table (a newer stream of a node keeps its endpoint when the
 * older one closes). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/recordings/agent_recordings.h"
#include "nodeagent/exec/recordings_server.h"

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PIN   "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void request_paths(void **state)
{
	char id[RECORDING_ID_MAX + 1];
	const char *kind = "unset";
	struct field_error err = {0};

	assert_int_equal(recordings_request_parse("node-a-00000000000000ff", id, &kind, &err), 0);
	assert_string_equal(id, "node-a-00000000000000ff");
	assert_null(kind);
	assert_int_equal(recordings_request_parse("node-a-00000000000000ff.cast", id, &kind, &err),
			 0);
	assert_string_equal(id, "node-a-00000000000000ff");
	assert_string_equal(kind, "cast");
	/* Node names have dots; only the last suffix names the file. */
	assert_int_equal(recordings_request_parse("n1.example.com-01.log", id, &kind, &err), 0);
	assert_string_equal(id, "n1.example.com-01");
	assert_string_equal(kind, "log");
	assert_int_equal(recordings_request_parse("x.chain", id, &kind, &err), 0);
	assert_string_equal(kind, "chain");
	/* Another suffix is part of the id (and then unknown: 404, not 400). */
	assert_int_equal(recordings_request_parse("x.txt", id, &kind, &err), 0);
	assert_string_equal(id, "x.txt");
	assert_null(kind);

	static const char *const bad[] = {
		"",	     ".cast", "../etc/passwd", "..",   "a/b.cast", ".hidden.cast",
		"a..b.cast", "a b",   "a%2fb",	       "a\\b", "ü.cast",   "a\n.log",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		kind = "unset";
		assert_int_equal(recordings_request_parse(bad[i], id, &kind, &err), -EINVAL);
		assert_string_equal(err.field, "id");
		assert_string_equal(kind, "unset");
	}
	char long_id[RECORDING_ID_MAX + 8];
	memset(long_id, 'a', RECORDING_ID_MAX);
	long_id[RECORDING_ID_MAX] = '\0';
	assert_int_equal(recordings_request_parse(long_id, id, &kind, &err), 0);
	strcat(long_id, "a.cast");
	assert_int_equal(recordings_request_parse(long_id, id, &kind, &err), -EINVAL);
}

static void token_comparison(void **state)
{
	assert_true(recordings_token_equal(TOKEN, TOKEN));
	assert_false(recordings_token_equal(NULL, TOKEN));
	assert_false(recordings_token_equal("", TOKEN));
	assert_false(recordings_token_equal(TOKEN "0", TOKEN));
	char other[] = TOKEN;
	other[63] = 'e';
	assert_false(recordings_token_equal(other, TOKEN));
	other[63] = 'f';
	other[0] = '1';
	assert_false(recordings_token_equal(other, TOKEN));
}

static void expect_bad(const char *url, const char *pin, const char *token, const char *field)
{
	struct agent_recordings_ep ep = {.url = "untouched"};
	struct field_error err = {0};
	assert_int_equal(agent_recordings_ep_parse(url, pin, token, &ep, &err), -EINVAL);
	assert_string_equal(err.field, field);
	assert_true(err.reason[0]);
	assert_string_equal(ep.url, "untouched");
}

static void stream_headers(void **state)
{
	struct agent_recordings_ep ep;
	struct field_error err = {0};
	assert_int_equal(
		agent_recordings_ep_parse("https://10.244.1.7:9444", PIN, TOKEN, &ep, &err), 0);
	assert_string_equal(ep.url, "https://10.244.1.7:9444");
	assert_string_equal(ep.pin, PIN);
	assert_string_equal(ep.token, TOKEN);
	/* IPv6 is written back canonically. */
	assert_int_equal(
		agent_recordings_ep_parse("https://[fd00:0::1]:443", PIN, TOKEN, &ep, &err), 0);
	assert_string_equal(ep.url, "https://[fd00::1]:443");
	assert_int_equal(agent_recordings_ep_parse(NULL, NULL, NULL, &ep, &err), -ENOENT);

	static const char url[] = "X-Bulwark-Recordings-URL", pin[] = "X-Bulwark-Recordings-Pin",
			  token[] = "X-Bulwark-Recordings-Token";
	expect_bad(NULL, PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:9444", NULL, TOKEN, pin);
	expect_bad("https://10.0.0.1:9444", PIN, NULL, token);
	expect_bad("http://10.0.0.1:9444", PIN, TOKEN, url);
	expect_bad("https://agent.example:9444", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:0", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:65536", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:9444/x", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:94a4", PIN, TOKEN, url);
	expect_bad("https://fd00::1:9444", PIN, TOKEN, url);
	expect_bad("https://[fd00::1:9444", PIN, TOKEN, url);
	expect_bad("https://user@10.0.0.1:9444", PIN, TOKEN, url);
	expect_bad("https://10.0.0.1:9444",
		   "sha1//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", TOKEN, pin);
	expect_bad("https://10.0.0.1:9444", "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		   TOKEN, pin);
	expect_bad("https://10.0.0.1:9444",
		   "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8=", TOKEN, pin);
	expect_bad("https://10.0.0.1:9444", PIN, "0123", token);
	expect_bad("https://10.0.0.1:9444", PIN,
		   "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", token);
	expect_bad("https://10.0.0.1:9444", PIN, TOKEN "00", token);
}

static void endpoints_by_node(void **state)
{
	struct agent_recordings *r;
	assert_int_equal(agent_recordings_new(&r), 0);
	struct agent_recordings_ep a = {.url = "https://10.0.0.1:9444", .pin = PIN, .token = TOKEN};
	struct agent_recordings_ep b = {.url = "https://10.0.0.2:9444", .pin = PIN, .token = TOKEN};
	struct agent_recordings_ep got;
	int old_stream, new_stream;

	assert_int_equal(agent_recordings_get(r, "node-a", &got), -ENOENT);
	assert_int_equal(agent_recordings_set(r, "node-a", &old_stream, &a), 0);
	assert_int_equal(agent_recordings_get(r, "node-a", &got), 0);
	assert_string_equal(got.url, a.url);
	assert_int_equal(agent_recordings_get(r, "node-b", &got), -ENOENT);

	/* The agent reconnected: the new stream's endpoint replaces the old, and the old
	 * stream closing afterwards does not remove it. */
	assert_int_equal(agent_recordings_set(r, "node-a", &new_stream, &b), 0);
	agent_recordings_drop(r, "node-a", &old_stream);
	assert_int_equal(agent_recordings_get(r, "node-a", &got), 0);
	assert_string_equal(got.url, b.url);
	agent_recordings_drop(r, "node-a", &new_stream);
	assert_int_equal(agent_recordings_get(r, "node-a", &got), -ENOENT);

	/* Many nodes. */
	char node[32];
	for (int i = 0; i < 500; i++) {
		snprintf(node, sizeof(node), "node-%d", i);
		assert_int_equal(agent_recordings_set(r, node, &old_stream, &a), 0);
	}
	for (int i = 0; i < 500; i += 2) {
		snprintf(node, sizeof(node), "node-%d", i);
		agent_recordings_drop(r, node, &old_stream);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(node, sizeof(node), "node-%d", i);
		assert_int_equal(agent_recordings_get(r, node, &got), i % 2 ? 0 : -ENOENT);
	}
	assert_null(agent_recordings_free(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_paths),
		cmocka_unit_test(token_comparison),
		cmocka_unit_test(stream_headers),
		cmocka_unit_test(endpoints_by_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
