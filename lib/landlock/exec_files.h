/* The program bulwark-launch will exec, and the files the kernel itself opens to run it.
 *
 * The launcher restricts itself before execve(), so the exec needs execute and read_file on
 * the program and on whatever the kernel loads with it: the ELF interpreter named by
 * PT_INTERP (the dynamic loader) and, for a "#!" script, the script's interpreter (up to the
 * kernel's 4 levels). Those files, and only those, are granted automatically; libraries are
 * opened by the loader after exec, on the workload's behalf, so the policy grants them. */
#pragma once

#include <limits.h>
#include <stddef.h>

/* The program, up to 4 script interpreters, one ELF loader; with room to spare. */
#define LANDLOCK_EXEC_MAX_FILES 8

struct landlock_exec_files {
	char path[LANDLOCK_EXEC_MAX_FILES][PATH_MAX];
	size_t n;
};

/* Resolves cmd like execvp(): a name with a '/' is used as is, otherwise the first
 * executable regular file in $PATH (or /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:
 * /sbin:/bin when PATH is unset). Returns 0 with the path in ret, -ENOENT when nothing was
 * found, -EACCES when only non-executable candidates were, -ENAMETOOLONG. */
int landlock_exec_resolve(const char *cmd, char ret[PATH_MAX]);

/* The program itself, then its interpreters and loaders. Unreadable or unrecognised files
 * end the chain without an error: the execve() that follows reports the real problem. */
int landlock_exec_files(const char *program, struct landlock_exec_files *ret);
