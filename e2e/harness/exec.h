/* `exec`: what the CRI does for kubectl exec, with runc exec into a running container.
 * Without a tty the caller's stdin (with -i) and stdout/stderr are the process's; with -t
 * runc hands the pty master over a console socket and we copy between it and the caller,
 * putting the caller's terminal in raw mode and passing its window size. */
#pragma once

#include <stdbool.h>

#include "harness.h"

struct exec_request {
	const char *pod;       /* namespace/name, name, or uid */
	const char *container; /* NULL: the first regular container */
	bool tty;
	bool stdin_open;
	char **argv;
};

/* The process's exit code (>= 0), or a negative errno when it could not run. */
int harness_exec(const struct harness_config *cfg, const struct exec_request *req);
