/* RuntimeDefault's behaviour in the real kernel, next to the reference it follows: a probe
 * makes the calls where the reference changed (io_uring, AF_ALG sockets, the 6.x calls,
 * namespaced clone, clone3) in three forked children: unconfined (what the kernel says),
 * under Bulwark's compiled `seccomp: {}`, and under the reference profile for this
 * architecture as tests/seccomp-reference prints it from the upstream module. Both filters are
 * loaded with lib/seccomp/load. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cleanup.h"
#include "seccomp/load.h"
#include "seccomp/policy.h"

#ifndef AF_ALG
#define AF_ALG 38
#endif
/* Newer than Debian 12's kernel headers; the numbers x86-64 and arm64 share. */
#define NR_io_uring_setup 425
#define NR_fchmodat2	  452
#define NR_statmount	  457

#if defined(__x86_64__)
#define HOST_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define HOST_ARCH "SCMP_ARCH_AARCH64"
#else
#error "the reference probe knows x86_64 and aarch64"
#endif

enum probe {
	PROBE_IO_URING_SETUP,
	PROBE_SOCKET_AF_ALG,
	PROBE_FCHMODAT2,
	PROBE_STATMOUNT,
	PROBE_CLONE_NEWUSER,
	PROBE_CLONE3,
	_PROBE_MAX,
};
static const char *const probe_names[] = {"io_uring_setup", "socket(AF_ALG)",	    "fchmodat2",
					  "statmount",	    "clone(CLONE_NEWUSER)", "clone3"};

/* errno of each probe, 0 for success; in memory shared with the children. */
struct results {
	int err[_PROBE_MAX];
};

static char scratch_file[64];

static int result(long r)
{
	return r < 0 ? errno : 0;
}

static void probe(struct results *out)
{
	char params[120] = {0}; /* struct io_uring_params */
	long fd = syscall(NR_io_uring_setup, 1, params);
	out->err[PROBE_IO_URING_SETUP] = result(fd);
	if (fd >= 0)
		close((int)fd);
	int s = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	out->err[PROBE_SOCKET_AF_ALG] = result(s);
	if (s >= 0)
		close(s);
	out->err[PROBE_FCHMODAT2] = result(syscall(NR_fchmodat2, AT_FDCWD, scratch_file, 0600, 0));
	/* A request of size 0: the kernel refuses it as malformed (EINVAL), after the filter. */
	out->err[PROBE_STATMOUNT] = result(syscall(NR_statmount, NULL, NULL, 0, 0));
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	out->err[PROBE_CLONE_NEWUSER] = result(pid);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	struct clone_args ca = {.exit_signal = SIGCHLD};
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		_exit(0);
	out->err[PROBE_CLONE3] = result(pid);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
}

/* Runs the probe in a child, under profile unless it is NULL. */
static void run_probe(const json_t *profile, struct results *ret)
{
	struct results *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	for (int i = 0; i < _PROBE_MAX; i++)
		shared->err[i] = -1;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (profile && seccomp_profile_apply(profile, 0, NULL) < 0)
			_exit(254);
		probe(shared);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the probe child failed (status 0x%x; 254: the profile did not load)",
			 status);
	*ret = *shared;
	munmap(shared, sizeof(*shared));
}

static json_t *reference_profile(int *ret_default_errno)
{
	const char *root = getenv("BULWARK_ROOT") ?: ".";
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "'%s/tests/seccomp-reference/build.sh' json", root);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	_cleanup_buf_ struct buf out = BUF_INIT(4 * 1024 * 1024);
	char chunk[65536];
	size_t k;
	while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0)
		assert_int_equal(buf_append(&out, chunk, k), 0);
	if (pclose(p) != 0)
		fail_msg("%s failed: the reference could not be built", cmd);
	json_error_t jerr;
	json_t *doc = json_loadb(buf_str(&out), out.len, 0, &jerr);
	if (!doc)
		fail_msg("the reference is not JSON: %s", jerr.text);
	json_t *profile = json_incref(json_object_get(json_object_get(doc, "profiles"), HOST_ARCH));
	if (!profile)
		fail_msg("the reference has no profile for %s", HOST_ARCH);
	*ret_default_errno = (int)json_integer_value(json_object_get(profile, "defaultErrnoRet"));
	json_decref(doc);
	return profile;
}

static const char *errname(int e)
{
	static char b[4][32];
	static int i;
	i = (i + 1) % 4;
	if (e == 0)
		return "ok";
	snprintf(b[i], sizeof(b[i]), "%s", strerrorname_np(e) ?: "?");
	return b[i];
}

static void runtime_default_behaves_like_the_reference(void **state)
{
	int ref_errno = 0;
	json_t *ref = reference_profile(&ref_errno);
	assert_int_equal(ref_errno, EPERM);
	json_t *section = json_object();
	struct policy_section s = {.policy = "test/runtime-default", .section = section};
	json_t *ours = NULL;
	struct field_error err = {0};
	if (seccomp_policy_compile(&s, 1, &ours, &err) < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);

	snprintf(scratch_file, sizeof(scratch_file), "/tmp/bulwark-rd-probe-XXXXXX");
	int fd = mkstemp(scratch_file);
	assert_true(fd >= 0);
	close(fd);

	struct results kernel, bulwark, reference;
	run_probe(NULL, &kernel);
	run_probe(ours, &bulwark);
	run_probe(ref, &reference);
	unlink(scratch_file);
	for (int i = 0; i < _PROBE_MAX; i++)
		printf("# %-22s kernel %-10s Bulwark %-10s reference %s\n", probe_names[i],
		       errname(kernel.err[i]), errname(bulwark.err[i]), errname(reference.err[i]));

	/* Unconfined root can do what the filters refuse: the refusals are the filters'. Inside a
	 * chroot (the vm tier runs the kernel tier in one) the kernel itself refuses a new user
	 * namespace with EPERM; then only the filters' answers are checked for it. */
	assert_int_equal(kernel.err[PROBE_IO_URING_SETUP], 0);
	if (kernel.err[PROBE_CLONE_NEWUSER] == EPERM)
		printf("# clone(CLONE_NEWUSER) is refused unconfined too (a chroot?): the filters' "
		       "refusal cannot be told apart from the kernel's here\n");
	else
		assert_int_equal(kernel.err[PROBE_CLONE_NEWUSER], 0);
	assert_int_equal(kernel.err[PROBE_CLONE3], 0);

	/* io_uring is refused, by the default errno */
	assert_int_equal(bulwark.err[PROBE_IO_URING_SETUP], ref_errno);
	assert_int_equal(reference.err[PROBE_IO_URING_SETUP], ref_errno);
	/* an AF_ALG socket is refused with the reference's errno, whatever the kernel says */
	assert_int_equal(bulwark.err[PROBE_SOCKET_AF_ALG], ref_errno);
	assert_int_equal(reference.err[PROBE_SOCKET_AF_ALG], ref_errno);
	/* fchmodat2 and statmount are allowed: the kernel answers, not the filter */
	for (int p = PROBE_FCHMODAT2; p <= PROBE_STATMOUNT; p++) {
		if (bulwark.err[p] != kernel.err[p] || reference.err[p] != kernel.err[p])
			fail_msg("%s: kernel %s, Bulwark %s, reference %s", probe_names[p],
				 errname(kernel.err[p]), errname(bulwark.err[p]),
				 errname(reference.err[p]));
		assert_int_not_equal(bulwark.err[p], EPERM);
	}
	/* new namespaces are refused; clone3 says ENOSYS so libc falls back to clone */
	assert_int_equal(bulwark.err[PROBE_CLONE_NEWUSER], EPERM);
	assert_int_equal(reference.err[PROBE_CLONE_NEWUSER], EPERM);
	assert_int_equal(bulwark.err[PROBE_CLONE3], ENOSYS);
	assert_int_equal(reference.err[PROBE_CLONE3], ENOSYS);

	json_decref(ours);
	json_decref(section);
	json_decref(ref);
}

int main(void)
{
	if (geteuid() != 0) {
		puts("SKIP: the reference probe needs root (it compares against unconfined root)");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runtime_default_behaves_like_the_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
