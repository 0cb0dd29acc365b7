/* The watch-stream parser: a realistic stream split at every byte boundary (and fed one byte
 * at a time) yields exactly the events of the whole stream; an oversized line is an error, not
 * growth; malformed lines are skipped and the stream goes on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "kube/watch_stream.h"

/* Events as "TYPE <compact object>\n" lines, so two runs compare with one string compare. */
static int record(enum kube_event_type type, json_t *obj, void *userdata)
{
	struct buf *out = userdata;
	char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(s);
	assert_int_equal(buf_printf(out, "%s %s\n", kube_event_type_name(type), s), 0);
	free(s);
	return 0;
}

static char *configmap(const char *type, const char *name, const char *rv, size_t pad)
{
	char *big = malloc(pad + 1);
	assert_non_null(big);
	for (size_t i = 0; i < pad; i++)
		big[i] = (char)('a' + i % 26);
	big[pad] = '\0';
	json_t *ev =
		json_pack("{s:s,s:{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s}},s:{s:s,s:s,s:s}}}", "type",
			  type, "object", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			  "name", name, "namespace", "default", "resourceVersion", rv, "uid",
			  "6f1c2a7e-2b1d-4c55-9a0e-0d7f3f7a1c11", "labels", "app", "web", "data",
			  "big", big, "quote", "line1\nline2 \"q\" \\ \u00e9\u2603", "empty", "");
	free(big);
	char *s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	return s;
}

/* What an apiserver sends: a multi-KB object, escapes and non-ASCII, a BOOKMARK, a DELETED,
 * and an ERROR (410 Expired) at the end. */
static char *recorded_stream(size_t *ret_len)
{
	struct buf b = BUF_INIT(1 << 20);
	char *a = configmap("ADDED", "web-config", "1001", 6000);
	char *m = configmap("MODIFIED", "web-config", "1002", 40);
	char *d = configmap("DELETED", "web-config", "1004", 0);
	assert_int_equal(buf_printf(&b, "%s\n%s\n", a, m), 0);
	assert_int_equal(buf_append_str(&b,
					"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\","
					"\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
					"\"1003\",\"annotations\":{\"k8s.io/initial-events-end\":"
					"\"true\"}}}}\n"),
			 0);
	assert_int_equal(buf_printf(&b, "%s\n", d), 0);
	assert_int_equal(buf_append_str(&b, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
					    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
					    "\"Failure\",\"message\":\"too old resource version: 1 "
					    "(1004)\",\"reason\":\"Expired\",\"code\":410}}\n"),
			 0);
	free(a);
	free(m);
	free(d);
	*ret_len = b.len;
	return buf_steal(&b);
}

static void whole(const char *s, size_t len, struct buf *out)
{
	struct kube_watch_stream ws;
	kube_watch_stream_init(&ws, 1 << 20, record, out);
	assert_int_equal(kube_watch_stream_feed(&ws, s, len), 0);
	assert_int_equal(kube_watch_stream_finish(&ws), 0);
	assert_int_equal(ws.skipped, 0);
	kube_watch_stream_free(&ws);
}

static void split_at_every_byte_gives_identical_events(void **state)
{
	size_t len;
	char *s = recorded_stream(&len);
	assert_true(len > 6000);
	_cleanup_buf_ struct buf want = BUF_INIT(1 << 20);
	whole(s, len, &want);
	/* Five events, in order, with the BOOKMARK and the ERROR's Status intact. */
	const char *p = want.data;
	const char *types[] = {"ADDED ", "MODIFIED ", "BOOKMARK ", "DELETED ", "ERROR "};
	for (size_t i = 0; i < 5; i++) {
		assert_non_null(p);
		assert_memory_equal(p, types[i], strlen(types[i]));
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	assert_string_equal(p, "");
	assert_non_null(strstr(want.data, "\"code\":410"));
	assert_non_null(strstr(want.data, "line1\\nline2 \\\"q\\\" \\\\ \u00e9\u2603"));

	_cleanup_buf_ struct buf got = BUF_INIT(1 << 20);
	for (size_t cut = 0; cut <= len; cut++) {
		struct kube_watch_stream ws;
		buf_reset(&got);
		kube_watch_stream_init(&ws, 1 << 20, record, &got);
		assert_int_equal(kube_watch_stream_feed(&ws, s, cut), 0);
		assert_int_equal(kube_watch_stream_feed(&ws, s + cut, len - cut), 0);
		assert_int_equal(kube_watch_stream_finish(&ws), 0);
		kube_watch_stream_free(&ws);
		if (got.len != want.len || memcmp(got.data, want.data, want.len) != 0)
			fail_msg("events differ when the stream is split at byte %zu", cut);
	}

	/* One byte at a time: every boundary at once. */
	struct kube_watch_stream ws;
	buf_reset(&got);
	kube_watch_stream_init(&ws, 1 << 20, record, &got);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(kube_watch_stream_feed(&ws, s + i, 1), 0);
	assert_int_equal(kube_watch_stream_finish(&ws), 0);
	kube_watch_stream_free(&ws);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	free(s);
}

static void oversized_line_is_an_error_not_growth(void **state)
{
	_cleanup_buf_ struct buf got = BUF_INIT(1 << 20);
	struct kube_watch_stream ws;
	char *big = configmap("ADDED", "big", "1", 5000);
	kube_watch_stream_init(&ws, 4096, record, &got);
	/* In chunks: the carried-over part hits the cap. */
	size_t n = strlen(big), i;
	int r = 0;
	for (i = 0; i < n && r == 0; i += 1000)
		r = kube_watch_stream_feed(&ws, big + i, n - i < 1000 ? n - i : 1000);
	assert_int_equal(r, -EMSGSIZE);
	assert_true(ws.line.alloc <= 4096 + 4096);
	assert_int_equal(got.len, 0);
	/* In one piece with its newline: rejected without buffering. */
	kube_watch_stream_reset(&ws);
	char *line = NULL;
	assert_true(asprintf(&line, "%s\n", big) > 0);
	assert_int_equal(kube_watch_stream_feed(&ws, line, strlen(line)), -EMSGSIZE);
	/* A line exactly at the cap is fine. */
	kube_watch_stream_free(&ws);
	kube_watch_stream_init(&ws, n, record, &got);
	assert_int_equal(kube_watch_stream_feed(&ws, line, 10), 0);
	assert_int_equal(kube_watch_stream_feed(&ws, line + 10, n + 1 - 10), 0);
	assert_non_null(strstr(got.data, "ADDED "));
	kube_watch_stream_free(&ws);
	free(line);
	free(big);
}

static void malformed_lines_are_skipped_and_counted(void **state)
{
	_cleanup_buf_ struct buf got = BUF_INIT(1 << 20);
	struct kube_watch_stream ws;
	kube_watch_stream_init(&ws, 1 << 16, record, &got);
	const char *in = "{\"type\":\"ADDED\",\"object\":{\"a\":1}\n"	  /* truncated JSON */
			 "not json at all\n"				  /* garbage */
			 "{\"object\":{\"a\":2}}\n"			  /* no type */
			 "{\"type\":\"ADDED\"}\n"			  /* no object */
			 "{\"type\":\"ADDED\",\"object\":[1]}\n"	  /* object not an object */
			 "{\"type\":\"RENAMED\",\"object\":{}}\n"	  /* unknown type */
			 "[\"type\",\"ADDED\"]\n"			  /* not an object */
			 "{\"type\":7,\"object\":{}}\n"			  /* type not a string */
			 "\n  \r\n"					  /* blank lines: ignored */
			 "{\"type\":\"ADDED\",\"object\":{\"a\":3}}\r\n"  /* valid, CRLF */
			 "{\"type\":\"DELETED\",\"object\":{\"a\":4}}\n"; /* valid */
	assert_int_equal(kube_watch_stream_feed(&ws, in, strlen(in)), 0);
	assert_int_equal(ws.skipped, 8);
	assert_int_equal(ws.events, 2);
	assert_string_equal(ws.last_error, "type: missing or not a string");
	assert_string_equal(buf_str(&got), "ADDED {\"a\":3}\nDELETED {\"a\":4}\n");
	/* A cut-off final line is reported at the end of the stream. */
	assert_int_equal(kube_watch_stream_feed(&ws, "{\"type\":\"ADD", 12), 0);
	assert_int_equal(kube_watch_stream_finish(&ws), -EPIPE);
	assert_int_equal(kube_watch_stream_finish(&ws), 0);
	kube_watch_stream_free(&ws);
}

static void unknown_type_reason_names_it(void **state)
{
	struct kube_watch_stream ws;
	kube_watch_stream_init(&ws, 1 << 16, NULL, NULL);
	const char *in = "{\"type\":\"RENAMED\",\"object\":{}}\n";
	assert_int_equal(kube_watch_stream_feed(&ws, in, strlen(in)), 0);
	assert_string_equal(ws.last_error, "type: unknown event type \"RENAMED\"");
	kube_watch_stream_free(&ws);
}

static int stop_after_one(enum kube_event_type type, json_t *obj, void *userdata)
{
	int *n = userdata;
	return ++*n == 1 ? -ECANCELED : 0;
}

static void callback_error_stops_the_feed(void **state)
{
	struct kube_watch_stream ws;
	int n = 0;
	kube_watch_stream_init(&ws, 1 << 16, stop_after_one, &n);
	const char *in = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n";
	assert_int_equal(kube_watch_stream_feed(&ws, in, strlen(in)), -ECANCELED);
	assert_int_equal(n, 1);
	kube_watch_stream_free(&ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_at_every_byte_gives_identical_events),
		cmocka_unit_test(oversized_line_is_an_error_not_growth),
		cmocka_unit_test(malformed_lines_are_skipped_and_counted),
		cmocka_unit_test(unknown_type_reason_names_it),
		cmocka_unit_test(callback_error_stops_the_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
