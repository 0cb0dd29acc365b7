/* spec.seccomp of BulwarkPolicy: validation, and composition of every selecting policy's
 * section into one Docker/OCI seccomp profile (the JSON a kubelet Localhost profile and runc's
 * linux.seccomp take). See docs/policy-api.md and NOTES for the composition rules. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "policy_section.h"

/* Bounds on what one section can make us allocate. */
#define SECCOMP_POLICY_ALLOW_MAX	 1024 /* entries in allow */
#define SECCOMP_POLICY_DENY_MAX		 256  /* entries in deny */
#define SECCOMP_POLICY_DENY_SYSCALLS_MAX 1024 /* syscalls in one deny entry */

/* Checks one spec.seccomp; field is its JSON path ("spec.seccomp"), so errors read like
 *   spec.seccomp.deny[0].syscalls[2]: unknown syscall "mkdri"
 * 0 or -EINVAL with err filled (-ENOMEM on allocation failure). */
int seccomp_policy_validate(const json_t *section, const char *field, struct field_error *err);

/* Composes sections (n >= 1) into an OCI seccomp profile, into *ret_profile (json_decref it).
 * The same sections in any order give canonically identical JSON. */
int seccomp_policy_compile(const struct policy_section *sections, size_t n, json_t **ret_profile,
			   struct field_error *err);
