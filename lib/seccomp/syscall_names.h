/* The vocabulary of seccomp policies: syscall names checked against libseccomp for every
 * architecture a Bulwark profile covers, errno names, and the policy API's action names with
 * their OCI (Docker profile) spelling. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The architectures every generated profile lists, so one profile (and one content hash) fits
 * x86-64 and arm64 nodes alike; a filter never matches an architecture the node lacks. */
extern const char *const seccomp_profile_arches[];
extern const unsigned seccomp_profile_n_arches;

/* 0 when libseccomp knows name on at least one profile architecture (or the name is a syscall
 * newer than the libseccomp we build with, see syscall_names.c); -ENOENT for a name nobody
 * knows; -EXDEV for a name that exists only on architectures we do not cover (ppc, s390…). */
int seccomp_syscall_check(const char *name);

/* The native architecture's number of a syscall newer than libseccomp 2.5.4 (statmount: 457),
 * for loading a filter with a libseccomp that cannot resolve the name; -ENOENT for any other
 * name, or one the native architecture lacks. */
int seccomp_syscall_newer_nr(const char *name);

/* Adds every syscall name known on a profile architecture (libseccomp's tables plus the newer
 * names above) to set, a JSON object used as a set of keys. 0 or -ENOMEM. */
int seccomp_syscalls_known(json_t *set);

/* Errno by name ("EPERM") into ret; -ENOENT when unknown. */
int seccomp_errno_from_name(const char *name, int *ret);
/* "EPERM" for 1, NULL for numbers without a name in our table. */
const char *seccomp_errno_to_name(int errnum);
#define SECCOMP_ERRNO_MAX 4095 /* the kernel's MAX_ERRNO: SECCOMP_RET_DATA errnos above fail */

/* Actions, ordered from the most permissive to the strictest, so composition can pick the
 * strictest with a comparison. */
enum seccomp_action {
	SECCOMP_ACTION_ALLOW,
	SECCOMP_ACTION_LOG,
	SECCOMP_ACTION_ERRNO,
	SECCOMP_ACTION_TRAP,
	SECCOMP_ACTION_KILL_THREAD,
	SECCOMP_ACTION_KILL_PROCESS,
	_SECCOMP_ACTION_MAX,
};

/* Policy API name ("KillProcess") to action; -ENOENT when unknown. */
int seccomp_action_from_name(const char *name, enum seccomp_action *ret);
const char *seccomp_action_name(enum seccomp_action a);
/* OCI spelling ("SCMP_ACT_KILL_PROCESS") both ways. */
const char *seccomp_action_oci(enum seccomp_action a);
int seccomp_action_from_oci(const char *oci, enum seccomp_action *ret);
