/* The node's seccomp profile store: <root>/bulwark/<sha256>.json, where root is the
 * kubelet's seccomp directory (/var/lib/kubelet/seccomp) and the file holds exactly the
 * canonical JSON bytes whose SHA-256 is its name. Profiles are written atomically and never
 * edited; unused ones are collected after a grace period. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#define SECCOMP_STORE_DIR "bulwark"
/* "bulwark/<64 hex>.json" and the NUL: what a pod's localhostProfile says. */
#define SECCOMP_PROFILE_NAME_MAX (sizeof(SECCOMP_STORE_DIR "/") + 64 + sizeof(".json") - 1)
/* Profiles are small (a few KiB); a bigger one is a bug, not a workload. */
#define SECCOMP_PROFILE_SIZE_MAX (1024 * 1024)

/* Writes profile (if that content is not there yet) and returns its localhostProfile name
 * "bulwark/<sha256>.json" in ret_name. An existing file with the right bytes is not rewritten,
 * only its mtime refreshed (so the GC grace period counts from the last time it was wanted);
 * one with wrong bytes (a torn copy from elsewhere) is replaced. 0 or negative errno. */
int seccomp_profile_store_write(const char *root_dir, const json_t *profile,
				char ret_name[SECCOMP_PROFILE_NAME_MAX]);

/* Removes <root>/bulwark/<sha256>.json files whose name ("bulwark/<sha>.json" or "<sha>.json")
 * is not in in_use and whose mtime is more than grace_seconds ago, and stale temporary files
 * of interrupted writes. Files not named like a profile are left alone. Returns the number
 * removed in ret_removed (may be NULL). 0 or negative errno. */
int seccomp_profile_store_gc(const char *root_dir, const char *const *in_use, size_t n_in_use,
			     unsigned grace_seconds, unsigned *ret_removed);
