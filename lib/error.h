/* Validation errors that name the field and the reason, e.g.
 *   field "spec.network.egress[2].cidrs[0]", reason "invalid CIDR \"10.0.0.0/33\": prefix
 *   length must be 0..32".
 * Functions that validate take a struct field_error * (may be NULL) and return -EINVAL after
 * filling it. Only the first error is kept: it is the one a user fixes first. */
#pragma once

#include <errno.h>

struct field_error {
	char field[256];
	char reason[512];
};

/* Fills err (when not NULL and still empty) and returns -EINVAL, so callers can write
 *   return field_error_set(err, "spec.mode", "must be Enforce or Audit, not %s", mode); */
int field_error_set(struct field_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "spec.mode: must be ..." into out. */
const char *field_error_str(const struct field_error *err, char *out, unsigned long size);
