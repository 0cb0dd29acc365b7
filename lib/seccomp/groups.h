/* Named syscall groups ("@file-system", "@network-io", …) that policies allow or deny by
 * name, modelled on systemd's SystemCallFilter= sets. A group lists syscall names and other
 * groups; expansion follows the nesting, and reports cycles and unknown groups. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"

struct syscall_group {
	const char *name;	 /* "@file-system" */
	const char *description; /* one line, for docs and `kubectl explain` */
	const char *members;	 /* syscall names and "@group" names, separated by spaces;
				    NULL for @known, which libseccomp's tables define */
};

extern const struct syscall_group syscall_groups[];
extern const size_t syscall_groups_count;

/* NULL when name is not a group. */
const struct syscall_group *syscall_group_find(const char *name);

/* Adds every syscall that group name (with its leading '@') stands for to the set (a JSON
 * object used as a set of keys). Errors name field: unknown group, or a cycle in the
 * nesting. 0 or -EINVAL (with err filled), -ENOMEM. */
int syscall_group_expand(const char *name, json_t *set, const char *field, struct field_error *err);

/* The same over another table, so tests can exercise cycles the built-in table does not
 * have. */
int syscall_group_expand_in(const struct syscall_group *groups, size_t n_groups, const char *name,
			    json_t *set, const char *field, struct field_error *err);
