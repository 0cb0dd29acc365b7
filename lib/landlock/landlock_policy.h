/* spec.landlock of a BulwarkPolicy: validation, and compilation of every selecting policy's
 * section into the ruleset file bulwark-launch applies (landlock/ruleset.h). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "policy_section.h"

/* Checks one spec.landlock section; field is its JSON path ("spec.landlock"), so errors read
 * `spec.landlock.filesystem[1].paths[0]: must be an absolute path, not "tmp"`. */
int landlock_policy_validate(const json_t *section, const char *field, struct field_error *err);

/* One layer per section, ordered by policy name so the output does not depend on the order
 * of sections. A section that lists `filesystem` handles every filesystem right (paths not
 * listed get none); one that lists `network` handles bind_tcp and connect_tcp (ports not
 * listed get none); `scope` entries are scoped. The ruleset is HardRequirement when any
 * Enforce section asks for it. Errors name the field as "<policy>: spec.landlock...". */
int landlock_policy_compile(const struct policy_section *sections, size_t n, json_t **ret,
			    struct field_error *err);
