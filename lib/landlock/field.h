/* Field paths and JSON shape checks shared by the policy validator and the ruleset parser,
 * so both phrase errors the same way ("layers[1].pathBeneath[0].parent[2]: ..."). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef char landlock_field_t[256];

/* parent + "." + key, or parent + "." + key + "[index]" when index >= 0 (no "." when either
 * side is empty). Long paths are cut to fit. */
const char *landlock_field(landlock_field_t out, const char *parent, const char *key, long index);

/* -EINVAL (with err naming the first unknown key) unless every key of obj is in known
 * (NULL-terminated). */
int landlock_check_keys(const json_t *obj, const char *field, const char *const *known,
			struct field_error *err);

/* -EINVAL unless a is an array of at most max items, and not empty when nonempty is set. */
int landlock_check_array(const json_t *a, const char *field, size_t max, bool nonempty,
			 struct field_error *err);
