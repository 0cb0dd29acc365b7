/* Bytes -> JSON -> seccomp_policy_validate + seccomp_policy_compile (alone, and next to a
 * RuntimeDefault section and as Audit): never a crash, a leak, or an error without a reason;
 * every compiled profile builds into a libseccomp filter (not loaded); and the same bytes
 * read as an OCI profile never crash the loader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seccomp/load.h"
#include "seccomp/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	json_t *section = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!section)
		return 0;
	struct field_error err = {0};
	int r = seccomp_policy_validate(section, "spec.seccomp", &err);
	if (r == -EINVAL && err.reason[0] == '\0')
		abort();

	json_t *rd = json_object();
	struct policy_section s[2] = {{"fuzz/a", size % 2 == 0, section}, {"fuzz/b", false, rd}};
	for (size_t n = 1; n <= 2; n++) {
		json_t *profile = NULL;
		struct field_error cerr = {0};
		int c = seccomp_policy_compile(s, n, &profile, &cerr);
		/* compile accepts exactly what validate accepts */
		if ((c == 0) != (r == 0) && c != -ENOMEM && r != -ENOMEM)
			abort();
		if (c == 0 && !json_is_array(json_object_get(profile, "syscalls")))
			abort();
		scmp_filter_ctx ctx = NULL;
		if (c == 0 && seccomp_profile_build(profile, SECCOMP_LOAD_OPTIMIZE, &ctx, NULL) < 0)
			abort();
		if (ctx)
			seccomp_release(ctx);
		json_decref(profile);
	}
	json_decref(rd);

	scmp_filter_ctx ctx = NULL;
	if (seccomp_profile_build(section, 0, &ctx, NULL) == 0)
		seccomp_release(ctx);
	json_decref(section);
	return 0;
}
