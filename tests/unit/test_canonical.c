/* Canonical JSON: the same object built in any order has the same bytes and hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canonical.h"

static void key_order_does_not_matter(void **state)
{
	json_t *a = json_pack("{s:i, s:{s:s, s:[i,i]}}", "b", 1, "a", "y", "z", "x", 1, 2);
	json_t *b = json_pack("{s:{s:[i,i], s:s}, s:i}", "a", "x", 1, 2, "y", "z", "b", 1);
	char *da = json_canonical_dump(a), *db = json_canonical_dump(b);
	assert_string_equal(da, "{\"a\":{\"x\":[1,2],\"y\":\"z\"},\"b\":1}");
	assert_string_equal(da, db);
	char ha[65], hb[65];
	assert_int_equal(json_canonical_sha256(a, ha), 0);
	assert_int_equal(json_canonical_sha256(b, hb), 0);
	assert_string_equal(ha, hb);
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
}

static void sha256_known_vector(void **state)
{
	char h[65];
	assert_int_equal(sha256_hex("abc", 3, h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_order_does_not_matter),
		cmocka_unit_test(sha256_known_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
