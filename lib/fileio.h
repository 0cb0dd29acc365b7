/* File I/O every component needs: a read with a size cap, and an atomic replace that never
 * leaves a half-written file behind (seccomp profiles the kubelet may read at any moment,
 * the agent's persisted state across kill -9). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Appends the whole file to out; -EMSGSIZE when it exceeds out's cap, -errno otherwise. */
int read_file_capped(const char *path, struct buf *out);

/* Writes data to path atomically: a temp file in the same directory, fsync, rename over
 * path, fsync of the directory. Readers see the old or the new content, never a mix; after
 * a crash, one of the two is on disk. mode applies to the new file. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The same inside an open directory: name is a plain file name in dirfd, and neither the
 * temp file nor the target is followed if it is a symlink, so a directory others can write
 * to (the kubelet's seccomp folder) cannot redirect the write. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* mkdir -p with mode for each created level; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);
