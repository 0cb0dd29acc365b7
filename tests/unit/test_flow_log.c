/* The agent's flow log: rotation on append, reading the newest flows across the rotated file,
 * per-pod filtering and limits; and the CLI's table of them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/flows.h"
#include "nodeagent/net/flow_log.h"

static char dir[64];
static char path[128], old[140];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bulwark-flowlog-XXXXXX"); /* mkdtemp rewrites it */
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	unlink(old);
	return rmdir(dir);
}

static void write_lines(const char *p, const char *text)
{
	FILE *f = fopen(p, "we");
	fputs(text, f);
	fclose(f);
}

static void tail_spans_rotation_filters_and_limits(void **state)
{
	write_lines(old, "{\"pod\":\"shop/a\",\"n\":1}\n{\"pod\":\"shop/b\",\"n\":2}\n"
			 "{\"pod\":\"shop/a\",\"n\":3}\n");
	write_lines(path, "not json\n{\"pod\":\"shop/a\",\"n\":4}\n{\"pod\":\"shop/b\",\"n\":5}\n");
	json_t *flows;
	assert_int_equal(flow_log_tail(path, "shop/a", 2, &flows), 0);
	assert_int_equal(json_array_size(flows), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(flows, 0), "n")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(flows, 1), "n")), 4);
	json_decref(flows);

	assert_int_equal(flow_log_tail(path, NULL, 100, &flows), 0);
	assert_int_equal(json_array_size(flows), 5); /* the malformed line is skipped */
	json_decref(flows);

	assert_int_equal(flow_log_tail(path, NULL, 0, &flows), -EINVAL);
	assert_int_equal(flow_log_tail(path, NULL, FLOW_LOG_TAIL_MAX + 1, &flows), -EINVAL);
}

static void missing_log_is_empty(void **state)
{
	json_t *flows;
	assert_int_equal(flow_log_tail(path, NULL, 10, &flows), 0);
	assert_int_equal(json_array_size(flows), 0);
	json_decref(flows);
}

static void append_rotates_a_full_log(void **state)
{
	write_lines(path, "x\n");
	assert_int_equal(truncate(path, FLOW_LOG_MAX + 1), 0);
	FILE *f = flow_log_open_append(path);
	assert_non_null(f);
	fclose(f);
	struct stat st;
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(st.st_size, FLOW_LOG_MAX + 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void table_shows_each_flow(void **state)
{
	json_t *resp = json_loads(
		"{\"node\":\"n1\",\"flows\":[{\"ts\":1.5,\"pod\":\"shop/"
		"web\",\"direction\":\"egress\","
		"\"verdict\":\"deny\",\"proto\":17,\"src\":\"127.0.0.1\",\"sport\":1234,\"dst\":"
		"\"127.0.0.2\",\"dport\":9,\"len\":29}]}",
		0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	flows_print(resp, f);
	fclose(f);
	assert_non_null(strstr(text, "shop/web"));
	assert_non_null(strstr(text, "egress   deny    UDP   127.0.0.1:1234 -> 127.0.0.2:9"));
	assert_non_null(strstr(text, " 29\n"));
	free(text);
	json_decref(resp);

	resp = json_loads("{\"node\":\"n1\",\"flows\":[]}", 0, NULL);
	f = open_memstream(&text, &len);
	flows_print(resp, f);
	fclose(f);
	assert_non_null(strstr(text, "no flows sampled yet on node n1"));
	free(text);
	json_decref(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tail_spans_rotation_filters_and_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(missing_log_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(append_rotates_a_full_log, setup, teardown),
		cmocka_unit_test(table_shows_each_flow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
