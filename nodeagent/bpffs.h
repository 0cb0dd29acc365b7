/* The BPF filesystem the agent pins its programs' links and maps in, so enforcement outlives
 * the agent process (kill -9, upgrade) and a restarted agent adopts what is there. */
#pragma once

#include <stdbool.h>

/* True when path is on a bpf filesystem. */
bool bpffs_is_bpffs(const char *path);

/* Makes dir (e.g. /sys/fs/bpf/bulwark/net) exist on a bpf filesystem, mode 0700, mounting bpffs
 * on the parent of dir's top-most missing level when that parent is not bpffs yet (the
 * usual /sys/fs/bpf). 0 or negative errno. */
int bpffs_prepare_dir(const char *dir);

/* Unpins every pin directly in dir (a pinned link detaches its program when it was the last
 * reference) and removes dir. Refuses (-EXDEV) when dir is not on bpffs. A missing dir is
 * fine. */
int bpffs_unpin_dir(const char *dir);
