/* Applies a Docker/OCI seccomp profile (what seccomp_policy_compile() makes) to the calling
 * process with libseccomp, translating it the way runc does. This is how tests and benchmarks
 * put a generated profile into the real kernel without a container runtime. */
#pragma once

#include <jansson.h>
#include <seccomp.h>

enum {
	/* libseccomp's binary-tree syscall dispatch (SCMP_FLTATR_CTL_OPTIMIZE = 2): O(log n)
	 * instead of a linear walk through the rules. */
	SECCOMP_LOAD_OPTIMIZE = 1 << 0,
};

/* Builds the filter into *ret_ctx (seccomp_release() it). Names libseccomp cannot resolve on
 * this machine are skipped like runc skips them, and counted in ret_skipped (may be NULL).
 * 0, -EINVAL for a malformed profile, or another negative errno. */
int seccomp_profile_build(const json_t *profile, unsigned flags, scmp_filter_ctx *ret_ctx,
			  unsigned *ret_skipped);

/* seccomp_profile_build(), then loads the filter into the kernel for the calling thread (and
 * sets no_new_privs, as runc does for unprivileged containers). Irreversible. Names newer than
 * libseccomp (statmount, mseal, …) that build skips are answered on the native architecture by
 * number instead (an unconditional rule each), as with a libseccomp that knows them; they are
 * not counted in ret_skipped. */
int seccomp_profile_apply(const json_t *profile, unsigned flags, unsigned *ret_skipped);
