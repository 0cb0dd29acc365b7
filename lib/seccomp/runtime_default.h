/* `base: RuntimeDefault`: the container runtime's default seccomp profile as data, so a
 * Bulwark profile built on it behaves like the profile a pod gets with
 * `seccompProfile: {type: RuntimeDefault}` — plus what the policy adds and removes.
 *
 * The reference is the default profile of github.com/moby/profiles/seccomp, at the version
 * tests/seccomp-reference/go.mod pins (the only pin; seccomp_runtime_default_reference says
 * which version these tables encode, and the comparison test fails when the two disagree or
 * when the tables differ from the pinned reference in anything but the listed differences).
 * docs/seccomp-groups.md ("The RuntimeDefault base") says why this reference and how to bump
 * it. */
#pragma once

#include <stdint.h>

#include "seccomp/syscall_names.h"

/* "github.com/moby/profiles/seccomp v0.3.0": the reference and version the tables encode. */
extern const char seccomp_runtime_default_reference[];

/* One argument comparison, in OCI terms: op is "SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT",
 * "SCMP_CMP_MASKED_EQ" (value is the mask, value_two the expected result), … */
struct seccomp_arg_cmp {
	unsigned index;
	uint64_t value;
	uint64_t value_two;
	const char *op;
};

/* A rule that is more than "allow this name": an allow that holds only for some argument
 * values, or a fixed errno. */
struct seccomp_base_rule {
	const char *name;
	enum seccomp_action action;
	int errno_ret;		    /* with SECCOMP_ACTION_ERRNO */
	struct seccomp_arg_cmp arg; /* op NULL: no argument condition */
};

/* Unconditionally allowed names, separated by spaces. */
extern const char seccomp_runtime_default_allow[];
extern const struct seccomp_base_rule seccomp_runtime_default_rules[];
extern const unsigned seccomp_runtime_default_n_rules;

/* A deliberate difference from the reference: a syscall the reference allows for the default
 * capability set and the base leaves to its default (EPERM), and why. */
struct seccomp_base_difference {
	const char *name;
	const char *reason;
};
extern const struct seccomp_base_difference seccomp_runtime_default_differences[];
extern const unsigned seccomp_runtime_default_n_differences;

/* NULL when name is not one of the deliberate differences. */
const struct seccomp_base_difference *seccomp_runtime_default_difference(const char *name);

/* What the base alone does with a syscall. */
enum seccomp_base_verdict {
	SECCOMP_BASE_DEFAULT,	    /* not named: the default, Errno EPERM */
	SECCOMP_BASE_ALLOW,	    /* allowed */
	SECCOMP_BASE_ALLOW_IF_ARGS, /* allowed only for some argument values */
	SECCOMP_BASE_ERRNO,	    /* a fixed errno (clone3: ENOSYS), into *ret_errno */
};
enum seccomp_base_verdict seccomp_runtime_default_verdict(const char *name, int *ret_errno);
