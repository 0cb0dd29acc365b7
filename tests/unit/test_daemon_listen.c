/* Listen-address flags (lib/daemon/listen.c): the forms operators type, and everything else
 * refused with a reason rather than guessed (an empty port used to mean port 0 in one daemon,
 * "any free port", which is never what a deployment wants). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/listen.h"

static void check(const char *s, const char *host, uint16_t port)
{
	struct listen_address a;
	const char *reason = NULL;
	int r = listen_address_parse(s, &a, &reason);
	if (r != 0)
		fail_msg("%s refused: %s", s, reason ? reason : "(no reason)");
	assert_string_equal(a.host, host);
	assert_int_equal(a.port, port);
}

static void good(void **state)
{
	check("127.0.0.1:8443", "127.0.0.1", 8443);
	check("0.0.0.0:9443", "0.0.0.0", 9443);
	check(":8443", "0.0.0.0", 8443); /* every IPv4 address */
	check("127.0.0.1:0", "127.0.0.1", 0);
	check("[::1]:8443", "::1", 8443);
	check("[::]:65535", "::", 65535);
	check("198.18.0.1:00080", "198.18.0.1", 80);
}

static void bad(void **state)
{
	static const struct {
		const char *input, *reason;
	} cases[] = {
		{"", "no port"},
		{"127.0.0.1", "no port"},
		{"127.0.0.1:", "decimal number"}, /* the webhook took this as port 0 */
		{":", "decimal number"},
		{"127.0.0.1:65536", "decimal number"},
		{"127.0.0.1:99999999999999999999", "decimal number"},
		{"127.0.0.1:-1", "decimal number"},
		{"127.0.0.1:+80", "decimal number"},
		{"127.0.0.1: 80", "decimal number"},
		{"127.0.0.1:80 ", "decimal number"},
		{"127.0.0.1:0x50", "decimal number"},
		{"::1:8443", "brackets"},
		{"[::1:8443", "brackets"},
		{"::1]:8443", "brackets"},
		{"[]:8443", "IPv6"},
		{"[127.0.0.1]:8443", "IPv6"},
		{"localhost:8443", "IPv4"},
		{"256.0.0.1:8443", "IPv4"},
		{"1.2.3.4.5:8443", "IPv4"},
		{"012345678901234567890123456789012345678901234567890123456789012345678:1", "IP"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct listen_address a = {.host = "untouched", .port = 7};
		const char *reason = NULL;
		int r = listen_address_parse(cases[i].input, &a, &reason);
		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d, not -EINVAL", cases[i].input, r);
		if (!reason || !strstr(reason, cases[i].reason))
			fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", cases[i].input,
				 reason ? reason : "(none)", cases[i].reason);
		/* ret is written only on success. */
		assert_string_equal(a.host, "untouched");
		assert_int_equal(a.port, 7);
	}
	assert_int_equal(listen_address_parse(NULL, &(struct listen_address){0}, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
