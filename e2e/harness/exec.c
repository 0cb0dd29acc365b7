#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "pod_runner.h"
#include "proc.h"

#define EXEC_MAX_ARGS 200

static int container_id(const struct harness_config *cfg, const struct exec_request *req,
			char out[65])
{
	json_auto_t *rec = NULL;
	int r = harness_find_pod(cfg, req->pod, &rec);
	if (r < 0)
		return r;
	size_t i;
	const json_t *c;
	json_array_foreach (json_object_get(rec, "containers"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *id = json_string_value(json_object_get(c, "id"));
		bool init = json_is_true(json_object_get(c, "init"));
		if (!name || !id || !*id)
			continue;
		if (req->container ? !strcmp(name, req->container) : !init) {
			snprintf(out, 65, "%s", id);
			return 0;
		}
	}
	return -ESRCH;
}

static int recv_fd(int sock)
{
	char data[256];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		return -errno;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies between the caller and the pty master until the process side closes. */
static void proxy(int master, bool stdin_open)
{
	struct pollfd fds[2] = {
		{.fd = master, .events = POLLIN},
		{.fd = stdin_open ? 0 : -1, .events = POLLIN},
	};
	char chunk[8192];
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[0].revents) {
			ssize_t n = read(master, chunk, sizeof(chunk));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return; /* EIO: the last slave fd closed, the process is done */
			if (write_all(1, chunk, (size_t)n) < 0)
				return;
		}
		if (fds[1].fd >= 0 && fds[1].revents) {
			ssize_t n = read(0, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* End of input: send the terminal's EOF character, as a terminal
				 * would on ^D, and keep reading output. */
				(void)write_all(master, "\x04", 1);
				fds[1].fd = -1;
			} else if (write_all(master, chunk, (size_t)n) < 0) {
				return;
			}
		}
	}
}

/* Like the CRI's shim: runc exec -d with a console socket hands us the pty master; the exec'd
 * process is orphaned to us (a subreaper) when runc exits, so its exit code is ours to reap. */
static int exec_tty(const struct harness_config *cfg, const char *id,
		    const struct exec_request *req)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char pidfile[PATH_MAX];
	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/exec-%d.sock",
			     cfg->state_dir, (int)getpid()) >= sizeof(addr.sun_path) ||
	    (size_t)snprintf(pidfile, sizeof(pidfile), "%s/exec-%d.pid", cfg->state_dir,
			     (int)getpid()) >= sizeof(pidfile))
		return -ENAMETOOLONG;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	_cleanup_close_ int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		return -errno;
	unlink(addr.sun_path);
	if (bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lsock, 1) < 0)
		return -errno;

	char *argv[EXEC_MAX_ARGS + 12];
	size_t n = 0;
	argv[n++] = "runc";
	argv[n++] = "--root";
	argv[n++] = (char *)cfg->runc_root;
	argv[n++] = "exec";
	argv[n++] = "-t";
	argv[n++] = "-d";
	argv[n++] = "--console-socket";
	argv[n++] = addr.sun_path;
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	argv[n++] = (char *)id;
	for (char **a = req->argv; *a && n < EXEC_MAX_ARGS; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t runc_pid;
	int r = harness_spawn(argv, null, null, 2, &runc_pid);
	if (r < 0) {
		unlink(addr.sun_path);
		return r;
	}
	/* runc connects once it made the pty; it exits non-zero on an error instead. */
	struct pollfd pfd = {.fd = lsock, .events = POLLIN};
	int master = -ETIMEDOUT;
	for (int tries = 0; tries < 300; tries++) {
		if (poll(&pfd, 1, 100) > 0) {
			_cleanup_close_ int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
			master = conn >= 0 ? recv_fd(conn) : -errno;
			break;
		}
		if (waitpid(runc_pid, NULL, WNOHANG) == runc_pid) {
			runc_pid = 0;
			master = -EIO;
			break;
		}
	}
	unlink(addr.sun_path);
	if (runc_pid > 0) {
		if (master < 0)
			kill(runc_pid, SIGKILL);
		r = harness_wait(runc_pid);
		if (r != 0 && master >= 0) {
			close(master);
			master = -EIO;
		}
	}
	char pidbuf[32] = "";
	_cleanup_close_ int pfd_file = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (pfd_file >= 0 && read(pfd_file, pidbuf, sizeof(pidbuf) - 1) < 0)
		pidbuf[0] = '\0';
	unlink(pidfile);
	pid_t pid = (pid_t)atoi(pidbuf);
	if (master < 0)
		return master;
	if (pid <= 0) {
		close(master);
		return -EIO;
	}
	struct termios saved;
	bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	proxy(master, req->stdin_open);
	close(master);
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	return harness_wait(pid);
}

int harness_exec(const struct harness_config *cfg, const struct exec_request *req)
{
	char id[65];
	int r = container_id(cfg, req, id);
	if (r < 0)
		return r;
	if (req->tty)
		return exec_tty(cfg, id, req);
	char *argv[EXEC_MAX_ARGS + 10];
	size_t n = 0;
	argv[n++] = "runc";
	argv[n++] = "--root";
	argv[n++] = (char *)cfg->runc_root;
	argv[n++] = "exec";
	argv[n++] = id;
	for (char **a = req->argv; *a && n < EXEC_MAX_ARGS; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid;
	if ((r = harness_spawn(argv, req->stdin_open ? 0 : null, 1, 2, &pid)) < 0)
		return r;
	return harness_wait(pid);
}
