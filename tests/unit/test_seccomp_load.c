/* lib/seccomp/load: translating OCI profiles into libseccomp filters (built, not loaded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "seccomp/load.h"
#include "seccomp/policy.h"
#include "seccomp/syscall_names.h"

static int build_text(const char *text, unsigned flags, unsigned *skipped)
{
	json_error_t jerr;
	json_t *profile = json_loads(text, 0, &jerr);
	if (!profile)
		fail_msg("bad test JSON: %s", jerr.text);
	scmp_filter_ctx ctx = NULL;
	int r = seccomp_profile_build(profile, flags, &ctx, skipped);
	if (r == 0) {
		assert_non_null(ctx);
		seccomp_release(ctx);
	} else {
		assert_null(ctx);
	}
	json_decref(profile);
	return r;
}

/* Names of profile that this machine's libseccomp cannot resolve; each must be one of the
 * newer syscalls lib/seccomp accepts by name. */
static unsigned unresolvable_names(const json_t *profile)
{
	unsigned n = 0;
	size_t i, j;
	json_t *e, *name;
	json_array_foreach (json_object_get(profile, "syscalls"), i, e)
		json_array_foreach (json_object_get(e, "names"), j, name) {
			const char *s = json_string_value(name);
			if (seccomp_syscall_resolve_name(s) != __NR_SCMP_ERROR)
				continue;
			if (seccomp_syscall_check(s) != 0)
				fail_msg("%s is neither in libseccomp nor a known newer syscall",
					 s);
			n++;
		}
	return n;
}

static void compiled_profiles_build(void **state)
{
	json_t *section = json_object();
	struct policy_section s = {.policy = "t/rd", .section = section};
	json_t *profile = NULL;
	assert_int_equal(seccomp_policy_compile(&s, 1, &profile, NULL), 0);
	for (unsigned flags = 0; flags <= SECCOMP_LOAD_OPTIMIZE; flags++) {
		scmp_filter_ctx ctx = NULL;
		unsigned skipped = 99;
		assert_int_equal(seccomp_profile_build(profile, flags, &ctx, &skipped), 0);
		/* only names newer than the libseccomp we build with are skipped, as runc skips
		 * them */
		assert_int_equal(skipped, unresolvable_names(profile));
		/* the filter covers both x86 compat ABIs and arm next to the native one */
		assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X86), 0);
		assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_AARCH64), 0);
		seccomp_release(ctx);
	}
	json_decref(profile);
	json_decref(section);
}

static void unknown_names_are_skipped_and_counted(void **state)
{
	unsigned skipped = 0;
	assert_int_equal(
		build_text("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":"
			   "[\"read\",\"not_a_syscall\",\"statmount\"],\"action\":"
			   "\"SCMP_ACT_ALLOW\"}]}",
			   0, &skipped),
		0);
	assert_int_equal(skipped, 2);
}

static void rules_equal_to_the_default_are_dropped(void **state)
{
	assert_int_equal(build_text("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
				    "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":"
				    "\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
				    0, NULL),
			 0);
}

static void malformed_profiles_are_rejected(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"defaultAction\":\"SCMP_ACT_NOPE\"}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":{}}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":\"read\","
		"\"action\":\"SCMP_ACT_ALLOW\"}]}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		"\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":0,\"op\":"
		"\"SCMP_CMP_EQ\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		"\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":"
		"\"SCMP_CMP_SOMETIMES\"}]}]}",
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[7],"
		"\"action\":\"SCMP_ACT_ALLOW\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (build_text(bad[i], 0, NULL) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compiled_profiles_build),
		cmocka_unit_test(unknown_names_are_skipped_and_counted),
		cmocka_unit_test(rules_equal_to_the_default_are_dropped),
		cmocka_unit_test(malformed_profiles_are_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
