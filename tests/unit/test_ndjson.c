/* Line splitting: every split point of a stream gives the same lines; caps; CRLF; blanks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndjson.h"

struct lines {
	char all[4096];
	int n;
};

static int collect(const char *line, size_t len, void *ud)
{
	struct lines *l = ud;
	assert_int_equal(strlen(line), len);
	strncat(l->all, line, sizeof(l->all) - strlen(l->all) - 2);
	strcat(l->all, "|");
	l->n++;
	return 0;
}

static void every_split_point_gives_the_same_lines(void **state)
{
	const char stream[] = "{\"a\":1}\n\n{\"b\":\"two\"}\r\n{\"c\":[1,2,3]}\n";
	const char *want = "{\"a\":1}|{\"b\":\"two\"}|{\"c\":[1,2,3]}|";
	size_t len = strlen(stream);
	for (size_t i = 0; i <= len; i++)
		for (size_t j = i; j <= len; j++) {
			struct lines l = {0};
			struct ndjson s;
			ndjson_init(&s, 64, collect, &l);
			assert_int_equal(ndjson_feed(&s, stream, i), 0);
			assert_int_equal(ndjson_feed(&s, stream + i, j - i), 0);
			assert_int_equal(ndjson_feed(&s, stream + j, len - j), 0);
			assert_int_equal(ndjson_finish(&s), 0);
			assert_string_equal(l.all, want);
			ndjson_free(&s);
		}
}

static void oversized_line_is_an_error(void **state)
{
	struct lines l = {0};
	struct ndjson s;
	ndjson_init(&s, 8, collect, &l);
	assert_int_equal(ndjson_feed(&s, "12345678\n", 9), 0);
	assert_int_equal(ndjson_feed(&s, "12345", 5), 0);
	assert_int_equal(ndjson_feed(&s, "6789\n", 5), -EMSGSIZE);
	/* The stream can be reset and reused on a new connection. */
	ndjson_reset(&s);
	assert_int_equal(ndjson_feed(&s, "ok\n", 3), 0);
	assert_string_equal(l.all, "12345678|ok|");
	ndjson_free(&s);
}

static void truncated_stream_is_reported(void **state)
{
	struct lines l = {0};
	struct ndjson s;
	ndjson_init(&s, 64, collect, &l);
	assert_int_equal(ndjson_feed(&s, "{\"a\":1}\n{\"b\"", 12), 0);
	assert_int_equal(ndjson_finish(&s), -EPIPE);
	assert_int_equal(l.n, 1);
	ndjson_free(&s);
}

static int stop_at_second(const char *line, size_t len, void *ud)
{
	return ++*(int *)ud == 2 ? -ECANCELED : 0;
}

static void callback_error_stops_feed(void **state)
{
	int calls = 0;
	struct ndjson s;
	ndjson_init(&s, 64, stop_at_second, &calls);
	assert_int_equal(ndjson_feed(&s, "a\nb\nc\n", 6), -ECANCELED);
	assert_int_equal(calls, 2);
	ndjson_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_split_point_gives_the_same_lines),
		cmocka_unit_test(oversized_line_is_an_error),
		cmocka_unit_test(truncated_stream_is_reported),
		cmocka_unit_test(callback_error_stops_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
