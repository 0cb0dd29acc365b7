/* The feature probes against this machine's real kernel: every answer is checked against an
 * independent observation (a real syscall or filesystem), so a probe that lies fails here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup2.h"
#include "nodeagent/probes.h"

static char cgroup2[64];

static void probes_match_the_kernel(void **state)
{
	const struct node_features *f = node_features_probe(cgroup2, "/nonexistent");
	assert_int_equal(f->btf, access("/sys/kernel/btf/vmlinux", R_OK) == 0);
	assert_false(f->bpffs); /* not a bpffs */

	long abi = syscall(444, NULL, 0, 1);
	assert_int_equal(f->landlock_abi, abi < 0 ? 0 : abi);
	if (abi < 0)
		assert_true(strlen(f->landlock_reason) > 0);

	FILE *status = fopen("/proc/self/status", "re");
	char line[256];
	bool kernel_has_seccomp = false;
	while (fgets(line, sizeof(line), status))
		if (strncmp(line, "Seccomp:", 8) == 0)
			kernel_has_seccomp = true;
	fclose(status);
	assert_int_equal(f->seccomp, kernel_has_seccomp);

	/* The BPF features exec recording needs, against the kernel version that brought each
	 * (Debian's kernels neither backport nor drop them). */
	struct utsname u;
	unsigned major = 0, minor = 0;
	assert_int_equal(uname(&u), 0);
	assert_string_equal(f->kernel, u.release);
	assert_int_equal(sscanf(u.release, "%u.%u", &major, &minor), 2);
	unsigned v = major * 1000 + minor;
	assert_int_equal(f->bpf_loop, v >= 5017);
	assert_int_equal(f->cgroup_ancestors, f->btf && v >= 6000);
	assert_int_equal(f->kernel_supported, v >= 6001);
	assert_int_equal(node_features_execrec_missing(f) == NULL,
			 f->btf && f->ringbuf && v >= 6000);

	/* The result is cached: a second call with other paths returns the first answer. */
	assert_ptr_equal(node_features_probe("/", "/"), f);

	json_t *j = node_features_to_json(f);
	assert_non_null(j);
	/* For the kernel matrix (docs/kernel-matrix.md): what this kernel offers. */
	char *dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(dump);
	printf("# features: %s\n", dump);
	free(dump);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "landlock"), "abi")),
			 f->landlock_abi);
	json_decref(j);
}

static void cgroup2_is_recognised(void **state)
{
	/* The cached probe above saw the cgroup2 mount that mountinfo names. */
	const struct node_features *f = node_features_probe(NULL, NULL);
	FILE *m = fopen("/proc/self/mounts", "re");
	char line[512], needle[300];
	bool mounted = false;
	snprintf(needle, sizeof(needle), " %s cgroup2 ", cgroup2);
	while (fgets(line, sizeof(line), m))
		if (strstr(line, needle))
			mounted = true;
	fclose(m);
	assert_int_equal(f->cgroup2, mounted);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP feature probes need root\n");
		return 77;
	}
	if (test_cgroup2_mount(cgroup2, sizeof(cgroup2)) < 0) {
		printf("1..0 # SKIP no cgroup2 filesystem mounted (at a path of under 64 bytes) in "
		       "/proc/self/mountinfo\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probes_match_the_kernel),
		cmocka_unit_test(cgroup2_is_recognised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
