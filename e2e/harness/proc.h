/* Running the helper programs the harness drives (runc, ip) and waiting for exactly the
 * process it started: the harness is a child subreaper, so a bare wait() could steal a
 * container's exit status. */
#pragma once

#include <sys/types.h>

struct buf;

/* Runs argv[0] (looked up in PATH) with stdin from /dev/null and stdout+stderr captured
 * into out (may be NULL: discarded). Returns the exit code (>= 0; 128+N for signal N) or a
 * negative errno when it could not be started. */
int harness_run_cmd(char *const argv[], struct buf *out);
/* The same with the arguments listed, NULL-terminated. */
int harness_run_cmdl(struct buf *out, const char *arg0, ...) __attribute__((sentinel));

/* Starts argv with the given descriptors as its stdin/stdout/stderr; the pid is returned
 * for harness_wait(). */
int harness_spawn(char *const argv[], int in, int out, int err, pid_t *ret_pid);
/* Waits for pid; exit code or 128+signal, or a negative errno. */
int harness_wait(pid_t pid);
/* Exit code of a wait status: the code, or 128+signal like a shell. */
int harness_exit_code(int wstatus);
