/* `base: RuntimeDefault`: the container runtime's default seccomp profile as data, so a
 * Bulwark profile built on it behaves like the profile a pod gets with
 * `seccompProfile: {type: RuntimeDefault}` — plus what the policy adds and removes. */
#pragma once

#include <stdint.h>

#include "seccomp/syscall_names.h"

/* One argument comparison, in OCI terms: op is "SCMP_CMP_EQ", "SCMP_CMP_NE",
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
