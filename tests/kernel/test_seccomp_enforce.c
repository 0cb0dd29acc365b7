/* Generated seccomp profiles in the real kernel: each case compiles a policy, loads the
 * profile into a forked child with lib/seccomp/load, and checks what real syscalls return. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "seccomp/load.h"
#include "seccomp/policy.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static json_t *compile_text(const char *text, bool audit)
{
	json_error_t jerr;
	json_t *section = json_loads(text, 0, &jerr);
	assert_non_null(section);
	struct policy_section s = {.policy = "test/p", .audit = audit, .section = section};
	json_t *profile = NULL;
	struct field_error err = {0};
	int r = seccomp_policy_compile(&s, 1, &profile, &err);
	if (r < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);
	json_decref(section);
	return profile;
}

/* Each check in the child records the line of the first one that failed in memory shared
 * with the parent, so the parent can say which expectation broke (0: all held). */
#define EXPECT(cond)                             \
	do {                                     \
		if (!(cond) && !*failed_line)    \
			*failed_line = __LINE__; \
	} while (0)
#define EXPECT_ERRNO(call, e) EXPECT((call) == -1 && errno == (e))
static int *failed_line;

/* Runs fn in a child under profile; fails the test with the child's failing line. */
static void run_confined(const json_t *profile, unsigned flags, void (*fn)(void))
{
	if (!failed_line) {
		failed_line = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(failed_line != MAP_FAILED);
	}
	*failed_line = 0;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (seccomp_profile_apply(profile, flags, NULL) < 0)
			_exit(254);
		fn();
		_exit(*failed_line ? 1 : 0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child died with signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) == 254)
		fail_msg("child could not apply the profile");
	if (WEXITSTATUS(status) != 0)
		fail_msg("expectation at %s:%d failed in the child", __FILE__, *failed_line);
}

static void ordinary_io_works(void)
{
	int p[2];
	char c = 0;
	EXPECT(pipe(p) == 0);
	EXPECT(write(p[1], "x", 1) == 1);
	EXPECT(read(p[0], &c, 1) == 1 && c == 'x');
	EXPECT(getpid() > 1);
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	EXPECT(fd >= 0);
	EXPECT(close(fd) == 0);
}

static char scratch[64];

static void denied_calls_fail_with_eperm(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/x", scratch);
	EXPECT_ERRNO(mkdir(path, 0755), EPERM);
	EXPECT_ERRNO(syscall(SYS_mkdirat, AT_FDCWD, path, 0755), EPERM);
	EXPECT_ERRNO(unshare(CLONE_NEWUTS), EPERM);
	EXPECT_ERRNO(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	EXPECT_ERRNO(rmdir(scratch), EACCES);
	ordinary_io_works();
}

static void policy_deny_list(void **state)
{
	snprintf(scratch, sizeof(scratch), "/tmp/bulwark-seccomp-XXXXXX");
	assert_non_null(mkdtemp(scratch));
	json_t *p = compile_text("{\"base\":\"None\",\"defaultAction\":\"Allow\",\"deny\":["
				 "{\"syscalls\":[\"mkdir\",\"mkdirat\",\"unshare\",\"ptrace\"],"
				 "\"action\":\"Errno\",\"errno\":\"EPERM\"},"
				 "{\"syscalls\":[\"rmdir\"],\"errno\":\"EACCES\"}]}",
				 false);
	run_confined(p, 0, denied_calls_fail_with_eperm);
	run_confined(p, SECCOMP_LOAD_OPTIMIZE, denied_calls_fail_with_eperm);
	/* The same calls work without the filter (we are root): the filter made the difference. */
	char path[128];
	snprintf(path, sizeof(path), "%s/x", scratch);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(scratch), 0);
	json_decref(p);
}

static void runtime_default_behaviour(void)
{
	EXPECT_ERRNO(unshare(CLONE_NEWUTS), EPERM);
	EXPECT_ERRNO(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0), EPERM);
	EXPECT_ERRNO(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	EXPECT_ERRNO(syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL), EPERM);
	/* clone3 says ENOSYS so libc falls back to clone, whose flags the filter can see */
	struct clone_args ca = {.exit_signal = SIGCHLD};
	EXPECT_ERRNO(syscall(SYS_clone3, &ca, sizeof(ca)), ENOSYS);
	/* clone with a CLONE_NEW* flag is refused, plain fork works */
	EXPECT_ERRNO(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0), EPERM);
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	int status = 0;
	EXPECT(pid > 0 && waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7);
	/* personality: query allowed, switching to another personality is not */
	EXPECT(personality(0xffffffff) != -1);
	EXPECT_ERRNO(personality(PER_BSD), EPERM);
	/* sockets: every family but vsock */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT(s >= 0);
	close(s);
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM);
	ordinary_io_works();
}

static void runtime_default(void **state)
{
	json_t *p = compile_text("{}", false);
	run_confined(p, 0, runtime_default_behaviour);
	run_confined(p, SECCOMP_LOAD_OPTIMIZE, runtime_default_behaviour);
	json_decref(p);
}

static void audit_mode_logs_instead_of_denying(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/audit", scratch);
	EXPECT(mkdir(path, 0755) == 0); /* logged, not refused */
	EXPECT(rmdir(path) == 0);
	EXPECT_ERRNO(unshare(CLONE_NEWUTS), EPERM); /* the base still refuses what it refuses */
}

static void audit_policy(void **state)
{
	snprintf(scratch, sizeof(scratch), "/tmp/bulwark-seccomp-XXXXXX");
	assert_non_null(mkdtemp(scratch));
	json_t *p = compile_text("{\"deny\":[{\"syscalls\":[\"mkdir\",\"rmdir\"]}]}", true);
	/* Audit mode: the profile's default refuses nothing */
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_LOG");
	json_decref(p);
	/* an Enforce RuntimeDefault policy next to the Audit one keeps the base enforced */
	json_error_t jerr;
	json_t *a = json_loads("{\"deny\":[{\"syscalls\":[\"mkdir\",\"rmdir\"]}]}", 0, &jerr);
	json_t *e = json_loads("{}", 0, &jerr);
	struct policy_section s[2] = {{"t/audit", true, a}, {"t/enforce", false, e}};
	struct field_error err = {0};
	assert_int_equal(seccomp_policy_compile(s, 2, &p, &err), 0);
	run_confined(p, 0, audit_mode_logs_instead_of_denying);
	assert_int_equal(rmdir(scratch), 0);
	json_decref(p);
	json_decref(a);
	json_decref(e);
}

/* Runs argv under profile in a child; returns its exit status and its stdout+stderr in out. */
static int run_program(const json_t *profile, char *const argv[], char *out, size_t size)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (seccomp_profile_apply(profile, SECCOMP_LOAD_OPTIMIZE, NULL) < 0)
			_exit(254);
		execv(argv[0], argv);
		_exit(255);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t k;
	while (len + 1 < size && (k = read(p[0], out + len, size - 1 - len)) > 0)
		len += k;
	out[len] = '\0';
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void system_service_runs_real_programs(void **state)
{
	if (access("/bin/busybox", X_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
		skip();
	json_t *p = compile_text("{\"base\":\"None\",\"defaultAction\":\"Errno\","
				 "\"allow\":[\"@system-service\"]}",
				 false);
	char out[4096], hostname[256] = "";
	FILE *f = fopen("/etc/hostname", "re");
	if (f) {
		if (!fgets(hostname, sizeof(hostname), f))
			hostname[0] = '\0';
		fclose(f);
	}
	char *sh[] = {"/bin/busybox", "sh", "-c", "ls / && cat /etc/hostname", NULL};
	assert_int_equal(run_program(p, sh, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "proc"));
	assert_non_null(strstr(out, hostname));
	char *py[] = {"/usr/bin/python3", "-c", "print(1)", NULL};
	assert_int_equal(run_program(p, py, out, sizeof(out)), 0);
	assert_string_equal(out, "1\n");
	json_decref(p);

	/* Without @process and @file-system the same shell cannot work: the filter is real. */
	p = compile_text("{\"base\":\"None\",\"defaultAction\":\"Errno\","
			 "\"allow\":[\"@default\",\"@basic-io\"]}",
			 false);
	assert_int_not_equal(run_program(p, sh, out, sizeof(out)), 0);
	json_decref(p);

	/* And a deny on top of the allow-list bites inside the real program. */
	p = compile_text("{\"base\":\"None\",\"defaultAction\":\"Errno\","
			 "\"allow\":[\"@system-service\"],"
			 "\"deny\":[{\"syscalls\":[\"mkdir\",\"mkdirat\"]}]}",
			 false);
	char *mk[] = {"/bin/busybox", "mkdir", "/tmp/bulwark-seccomp-denied", NULL};
	assert_int_not_equal(run_program(p, mk, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "Operation not permitted"));
	assert_int_equal(access("/tmp/bulwark-seccomp-denied", F_OK), -1);
	json_decref(p);
}

int main(void)
{
	if (geteuid() != 0) {
		puts("SKIP: seccomp kernel tests need root (they compare against unfiltered root)");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_deny_list),
		cmocka_unit_test(runtime_default),
		cmocka_unit_test(audit_policy),
		cmocka_unit_test(system_service_runs_real_programs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
