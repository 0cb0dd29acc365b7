/* Paths in Landlock rules: absolute, and spelled the one way the kernel will resolve them,
 * so a policy's text is what a reviewer sees enforced. */
#pragma once

#include <stddef.h>

/* Longest path a rule may name, including the NUL (PATH_MAX). */
#define LANDLOCK_PATH_MAX 4096

/* Normalizes path into ret (size bytes): collapses "//" and "/./", drops a trailing "/".
 * Returns 0, -EINVAL for an empty or relative path, -EPERM for a ".." component (lexical
 * resolution would be wrong across symbolic links, so we refuse rather than guess), or
 * -ENAMETOOLONG when the path or the result does not fit. */
int landlock_path_normalize(const char *path, char *ret, size_t size);

/* Checks that path is absolute and already normalized. Returns 0, or a negative errno as
 * above (-EILSEQ: absolute but not normalized), and writes a reason such as
 * `must be an absolute path, not "tmp"` into reason. */
int landlock_path_check(const char *path, char *reason, size_t reason_size);
