/* Duration and size flags (lib/cli.c): the units operators type, and everything else refused
 * rather than guessed (a bare number of seconds, a negative, an overflow, a unit of the wrong
 * case). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli.h"

static void test_durations(void **state)
{
	uint64_t v = 7;
	assert_int_equal(cli_parse_duration_s("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_duration_s("45s", &v), 0);
	assert_int_equal(v, 45);
	assert_int_equal(cli_parse_duration_s("90m", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(cli_parse_duration_s("720h", &v), 0);
	assert_int_equal(v, 720 * 3600);
	assert_int_equal(cli_parse_duration_s("30d", &v), 0);
	assert_int_equal(v, 30 * 86400);
	v = 7;
	static const char *const bad[] = {"",
					  "30",
					  "-1d",
					  "1.5h",
					  "1H",
					  "d",
					  "1 d",
					  "1dd",
					  "1w",
					  " 1d",
					  "0x1d",
					  "99999999999999999999d",
					  "213503982334602d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cli_parse_duration_s(bad[i], &v), -EINVAL);
	assert_int_equal(cli_parse_duration_s(NULL, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_sizes(void **state)
{
	uint64_t v = 7;
	assert_int_equal(cli_parse_bytes("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_bytes("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_bytes("10Gi", &v), 0);
	assert_int_equal(v, 10ull << 30);
	assert_int_equal(cli_parse_bytes("512Mi", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(cli_parse_bytes("2Ti", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(cli_parse_bytes("3k", &v), 0);
	assert_int_equal(v, 3000);
	assert_int_equal(cli_parse_bytes("5G", &v), 0);
	assert_int_equal(v, 5000000000ull);
	v = 7;
	static const char *const bad[] = {
		"",    "Gi",   "-1",   "1.5Gi",	     "1gi",
		"1GB", "1 Gi", "1Gi ", "16777216Ti", "18446744073709551616"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cli_parse_bytes(bad[i], &v), -EINVAL);
	assert_int_equal(v, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
