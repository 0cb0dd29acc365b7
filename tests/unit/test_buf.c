/* The bounded buffer: growth, the hard cap, consumption of a prefix, stealing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void append_grows_and_terminates(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT(1 << 20);
	assert_string_equal(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(b.len, 3000);
	assert_int_equal(b.data[3000], '\0');
	assert_memory_equal(b.data + 2997, "abc", 3);
}

static void cap_is_enforced_without_changing_contents(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT(8);
	assert_int_equal(buf_append_str(&b, "12345678"), 0);
	assert_int_equal(buf_append_str(&b, "9"), -EMSGSIZE);
	assert_string_equal(buf_str(&b), "12345678");
	assert_true(b.alloc <= 9 + 64);
	assert_int_equal(buf_printf(&b, "%d", 1), -EMSGSIZE);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), 0);
	assert_string_equal(buf_str(&b), "ab-42");
	/* A single append larger than the cap, and a size that would overflow. */
	assert_int_equal(buf_append(&b, "0123456789", 10), -EMSGSIZE);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), -EMSGSIZE);
	assert_string_equal(buf_str(&b), "ab-42");
}

static void consume_keeps_the_rest(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT(64);
	assert_int_equal(buf_append_str(&b, "line1\nline2\npartial"), 0);
	buf_consume(&b, 6);
	assert_string_equal(buf_str(&b), "line2\npartial");
	buf_consume(&b, 6);
	assert_string_equal(buf_str(&b), "partial");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
}

static void steal_hands_over_ownership(void **state)
{
	struct buf b = BUF_INIT(64);
	assert_int_equal(buf_append_str(&b, "owned"), 0);
	char *s = buf_steal(&b);
	assert_string_equal(s, "owned");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_grows_and_terminates),
		cmocka_unit_test(cap_is_enforced_without_changing_contents),
		cmocka_unit_test(consume_keeps_the_rest),
		cmocka_unit_test(steal_hands_over_ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
