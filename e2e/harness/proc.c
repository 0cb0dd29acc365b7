#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"

#define PROC_MAX_ARGS 64

int harness_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

int harness_spawn(char *const argv[], int in, int out, int err, pid_t *ret_pid)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* dup2 clears O_CLOEXEC on the copies, which is what lets them cross execvp. */
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

int harness_wait(pid_t pid)
{
	int wstatus;
	for (;;) {
		if (waitpid(pid, &wstatus, 0) == pid)
			return harness_exit_code(wstatus);
		if (errno != EINTR)
			return -errno;
	}
}

int harness_run_cmd(char *const argv[], struct buf *out)
{
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -errno;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid;
	int r = harness_spawn(argv, null, pipefd[1], pipefd[1], &pid);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	char chunk[4096];
	for (;;) {
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Output past the cap is drained and dropped: the child must never block on us. */
		if (out)
			(void)buf_append(out, chunk, (size_t)n);
	}
	close(pipefd[0]);
	return harness_wait(pid);
}

int harness_run_cmdl(struct buf *out, const char *arg0, ...)
{
	char *argv[PROC_MAX_ARGS + 1];
	size_t n = 0;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		if (n == PROC_MAX_ARGS) {
			va_end(ap);
			return -E2BIG;
		}
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	return harness_run_cmd(argv, out);
}
