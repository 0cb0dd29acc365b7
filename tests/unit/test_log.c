/* Structured logs: one JSON object per line with ts/caller/v/msg/err and key/values, escaped,
 * and messages above the verbosity dropped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

static char *captured;
static size_t captured_len;
static FILE *capture;

static int setup(void **state)
{
	capture = open_memstream(&captured, &captured_len);
	log_set_stream(capture);
	return 0;
}

static int teardown(void **state)
{
	log_set_stream(NULL);
	fclose(capture);
	free(captured);
	log_set_verbosity(0);
	return 0;
}

static json_t *last_line(void)
{
	fflush(capture);
	assert_non_null(captured);
	assert_int_equal(captured[captured_len - 1], '\n');
	json_error_t jerr;
	json_t *j = json_loadb(captured, captured_len, 0, &jerr);
	if (!j)
		fail_msg("log line is not one JSON object: %s (%s)", jerr.text, captured);
	return j;
}

static void fields_and_escaping(void **state)
{
	log_error(-ENOENT, "opening \"kubeconfig\"\n", "path", "/tmp/a\tb", "count", LOG_INT(-42));
	json_t *j = last_line();
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "opening \"kubeconfig\"\n");
	assert_string_equal(json_string_value(json_object_get(j, "err")), strerror(ENOENT));
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/tmp/a\tb");
	assert_string_equal(json_string_value(json_object_get(j, "count")), "-42");
	assert_int_equal(json_integer_value(json_object_get(j, "v")), 0);
	assert_true(json_is_number(json_object_get(j, "ts")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "caller")), "test_log.c:"));
	json_decref(j);
}

static void control_characters_are_escaped(void **state)
{
	log_warn("bell\a and \x01", "k", "\x1f");
	json_t *j = last_line();
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "bell\a and \x01");
	assert_string_equal(json_string_value(json_object_get(j, "k")), "\x1f");
	json_decref(j);
}

static void verbosity_filters(void **state)
{
	log_set_verbosity(2);
	log_info(3, "too verbose");
	fflush(capture);
	assert_int_equal(captured_len, 0);
	log_info(2, "shown");
	json_t *j = last_line();
	assert_int_equal(json_integer_value(json_object_get(j, "v")), 2);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fields_and_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(control_characters_are_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(verbosity_filters, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
