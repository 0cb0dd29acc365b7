/* kubectl-bulwark's recording commands: where a recording is read from and what is done
 * with it (replay in the terminal, export, verify, list). */
#pragma once

#include <stdbool.h>

struct replay_opts {
	double speed;	   /* 1.0: real time */
	double idle_limit; /* seconds; longer pauses are shortened to this (0: keep them) */
};

/* Plays the "o" events of dir/<id>.cast to out_fd with their timing. 0 or negative errno. */
int cli_replay(const char *dir, const char *id, const struct replay_opts *o, int out_fd);
/* Copies dir/<id>.cast to path (mode 0600, refuses to overwrite). */
int cli_export(const char *dir, const char *id, const char *path);
/* Verifies and prints the verdict; returns 0 when intact, 1 when not, negative errno when it
 * could not check. expected_digest may be NULL. */
int cli_verify(const char *dir, const char *id, const char *expected_digest, bool json);
/* Prints the table of the recordings in dir (age, namespace/pod, container, command,
 * duration, size). */
int cli_sessions_local(const char *dir);
