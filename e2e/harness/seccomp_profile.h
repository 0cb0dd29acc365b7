/* The seccomp part of a container's OCI config, the way containerd's CRI builds it:
 * a Localhost profile (Docker/OCI profile JSON under <kubelet-root>/seccomp) is converted
 * to runtime-spec linux.seccomp; RuntimeDefault is the upstream reference profile. */
#pragma once

#include <jansson.h>

struct field_error;

#define SECCOMP_PROFILE_MAX_BYTES (1024 * 1024)

/* Converts a profile: defaultAction, defaultErrnoRet, architectures (or archMap entries for
 * the host architecture), flags, and syscalls (name/names, action, errnoRet, args), dropping
 * syscall entries whose includes/excludes (arches, caps, minKernel) do not match this host
 * and the container's capabilities. caps is a JSON array of "CAP_X" names. -EINVAL with the
 * offending field on an unknown action, operator or shape. */
int harness_seccomp_convert(const json_t *profile, const json_t *caps, json_t **ret,
			    struct field_error *err);

/* Reads <kubelet_root>/seccomp/<localhost> (bounded) and converts it. -ENOENT when missing. */
int harness_seccomp_load(const char *kubelet_root, const char *localhost, const json_t *caps,
			 json_t **ret, struct field_error *err);

/* What RuntimeDefault means here: the runtime's default profile as the upstream reference
 * defines it, not Bulwark's own encoding of it (that would compare Bulwark with itself). The
 * environment variable names a file with the output of tests/seccomp-reference/build.sh json
 * (e2e/harness/harness.sh sets it); its profile for this architecture is converted like a
 * Localhost one. -EINVAL with err filled when it is unset, unreadable or lacks the profile. */
#define HARNESS_SECCOMP_REFERENCE_ENV "BULWARK_SECCOMP_REFERENCE"
int harness_seccomp_runtime_default(const json_t *caps, json_t **ret, struct field_error *err);
