/* The node harness turning a Localhost seccomp profile (Docker/OCI profile JSON) into the OCI
 * runtime spec's linux.seccomp the way containerd's CRI does, and its RuntimeDefault. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "../../e2e/harness/seccomp_profile.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!j)
		fail_msg("bad test JSON at line %d: %s", jerr.line, jerr.text);
	return j;
}

static json_t *convert(const char *profile, const char *caps, struct field_error *err, int *rc)
{
	json_t *p = parse(profile), *c = parse(caps), *out = NULL;
	*rc = harness_seccomp_convert(p, c, &out, err);
	json_decref(p);
	json_decref(c);
	return out;
}

static void assert_json(const json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
		fail_msg("got  %s\nwant %s", g, w);
	}
	json_decref(want);
}

static void docker_profile_becomes_oci(void **state)
{
	struct field_error err = {0};
	int rc;
	json_t *out =
		convert("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
			" \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\", "
			"\"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},"
			"               {\"architecture\": \"SCMP_ARCH_AARCH64\", "
			"\"subArchitectures\": [\"SCMP_ARCH_ARM\"]}],"
			" \"syscalls\": ["
			"  {\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
			"  {\"name\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
			"  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\","
			"   \"args\": [{\"index\": 0, \"value\": 8, \"valueTwo\": 0, \"op\": "
			"\"SCMP_CMP_EQ\"}]},"
			"  {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
			"{\"caps\": [\"CAP_SYS_ADMIN\"]}},"
			"  {\"names\": [\"chroot\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
			"{\"caps\": [\"CAP_SYS_CHROOT\"]}},"
			"  {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": "
			"{\"caps\": [\"CAP_SYS_CHROOT\"]}},"
			"  {\"names\": [\"s390_only\"], \"action\": \"SCMP_ACT_ALLOW\", "
			"\"includes\": {\"arches\": [\"s390x\"]}},"
			"  {\"names\": [\"old\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
			"{\"minKernel\": \"2.6\"}},"
			"  {\"names\": [\"future\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": "
			"{\"minKernel\": \"99.0\"}}]}",
			"[\"CAP_SYS_CHROOT\"]", &err, &rc);
	assert_int_equal(rc, 0);
#if defined(__x86_64__)
	const char *arches = "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]";
#else
	const char *arches = "[\"SCMP_ARCH_AARCH64\", \"SCMP_ARCH_ARM\"]";
#endif
	char want[2048];
	snprintf(want, sizeof(want),
		 "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1, "
		 "\"architectures\": %s,"
		 " \"syscalls\": ["
		 "  {\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
		 "  {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
		 "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\","
		 "   \"args\": [{\"index\": 0, \"value\": 8, \"valueTwo\": 0, \"op\": "
		 "\"SCMP_CMP_EQ\"}]},"
		 "  {\"names\": [\"chroot\"], \"action\": \"SCMP_ACT_ALLOW\"},"
		 "  {\"names\": [\"old\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
		 arches);
	assert_json(out, want);
	json_decref(out);
}

static void explicit_architectures_and_flags(void **state)
{
	struct field_error err = {0};
	int rc;
	json_t *out = convert(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
		" \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"]}",
		"[]", &err, &rc);
	assert_int_equal(rc, 0);
	assert_json(
		out,
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
		" \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": []}");
	json_decref(out);
}

static void errors_name_the_field(void **state)
{
	static const struct {
		const char *profile, *field, *reason;
	} cases[] = {
		{"[]", "", "JSON object"},
		{"{}", "defaultAction", "unknown action"},
		{"{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "defaultAction", "SCMP_ACT_NOPE"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": -1}",
		 "defaultErrnoRet", "non-negative"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", "syscalls", "list"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": "
		 "\"SCMP_ACT_ALLOW\"}]}",
		 "syscalls[0]", "names is required"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"\"], "
		 "\"action\": \"SCMP_ACT_ALLOW\"}]}",
		 "syscalls[0]", "names[0]"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], "
		 "\"action\": \"ALLOW\"}]}",
		 "syscalls[0]", "unknown action ALLOW"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], "
		 "\"action\": \"SCMP_ACT_ALLOW\","
		 " \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
		 "syscalls[0].args[0]", "0..5"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], "
		 "\"action\": \"SCMP_ACT_ALLOW\","
		 " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"EQ\"}]}]}",
		 "syscalls[0].args[0]", "unknown op EQ"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], "
		 "\"action\": \"SCMP_ACT_ERRNO\","
		 " \"errnoRet\": \"EPERM\"}]}",
		 "syscalls[0]", "errnoRet"},
		{"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": "
		 "[\"SECCOMP_FILTER_FLAG_BOGUS\"]}",
		 "flags", "not a known"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct field_error err = {0};
		int rc;
		json_t *out = convert(cases[i].profile, "[]", &err, &rc);
		if (rc != -EINVAL || out)
			fail_msg("case %zu: rc %d", i, rc);
		if (strcmp(err.field, cases[i].field) || !strstr(err.reason, cases[i].reason))
			fail_msg("case %zu: got \"%s: %s\"", i, err.field, err.reason);
	}
}

#if defined(__x86_64__)
#define HOST_ARCH  "SCMP_ARCH_X86_64"
#define GUEST_ARCH "SCMP_ARCH_AARCH64"
#else
#define HOST_ARCH  "SCMP_ARCH_AARCH64"
#define GUEST_ARCH "SCMP_ARCH_X86_64"
#endif

/* Writes text to a temporary file and points the harness's reference variable at it. */
static void set_reference(const char *text, char *path, size_t size)
{
	snprintf(path, size, "/tmp/bulwark-harness-ref-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(setenv(HARNESS_SECCOMP_REFERENCE_ENV, path, 1), 0);
}

static void runtime_default(void **state)
{
	char path[64];
	/* The reference's profile for this architecture, not the other one, nor Bulwark's own
	 * table: the harness applies what the upstream reference says. */
	set_reference("{\"module\":\"m\",\"version\":\"v1\",\"profiles\":{"
		      "\"" HOST_ARCH "\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
		      "\"defaultErrnoRet\":1,\"architectures\":[\"" HOST_ARCH "\"],"
		      "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
		      "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]},"
		      "\"" GUEST_ARCH "\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[]}}}",
		      path, sizeof(path));
	json_t *caps = json_array(), *rd = NULL;
	struct field_error err = {0};
	assert_int_equal(harness_seccomp_runtime_default(caps, &rd, &err), 0);
	json_t *want = json_loads("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
				  "\"architectures\":[\"" HOST_ARCH "\"],\"syscalls\":["
				  "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
				  "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\","
				  "\"errnoRet\":38}]}",
				  0, NULL);
	assert_non_null(want);
	if (!json_equal(rd, want))
		fail_msg("got %s", json_dumps(rd, JSON_COMPACT));
	json_decref(want);
	json_decref(rd);
	unlink(path);

	/* No profile for this architecture, a missing file, no variable: errors that say so. */
	set_reference("{\"profiles\":{\"" GUEST_ARCH "\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}",
		      path, sizeof(path));
	rd = NULL;
	assert_int_equal(harness_seccomp_runtime_default(caps, &rd, &err), -EINVAL);
	assert_null(rd);
	assert_non_null(strstr(err.reason, "has no profile for " HOST_ARCH));
	unlink(path);
	err = (struct field_error){0};
	assert_int_equal(harness_seccomp_runtime_default(caps, &rd, &err), -EINVAL);
	assert_non_null(strstr(err.reason, "cannot read"));
	unsetenv(HARNESS_SECCOMP_REFERENCE_ENV);
	err = (struct field_error){0};
	assert_int_equal(harness_seccomp_runtime_default(caps, &rd, &err), -EINVAL);
	assert_string_equal(err.field, "seccompProfile");
	assert_non_null(strstr(err.reason, "tests/seccomp-reference/build.sh json"));
	json_decref(caps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(docker_profile_becomes_oci),
		cmocka_unit_test(explicit_architectures_and_flags),
		cmocka_unit_test(errors_name_the_field),
		cmocka_unit_test(runtime_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
