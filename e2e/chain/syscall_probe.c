/* syscall-probe: makes the system calls busybox has no applet for and prints, per call,
 * "NAME: ok" or "NAME: <strerror>", so an e2e test can tell a seccomp denial (EPERM from the
 * filter) from success inside a container. Built static by the test (the container image is
 * busybox, without a libc to link against). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

static int call(const char *name)
{
	if (strcmp(name, "ptrace") == 0)
		return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	if (strcmp(name, "unshare") == 0)
		return unshare(CLONE_NEWUSER);
	if (strcmp(name, "mkdir") == 0)
		return mkdir("/tmp/syscall-probe", 0700) == 0 || errno == EEXIST ? 0 : -1;
	errno = EINVAL;
	return -1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (call(argv[i]) == 0)
			printf("%s: ok\n", argv[i]);
		else
			printf("%s: %s\n", argv[i], strerror(errno));
	}
	return 0;
}
