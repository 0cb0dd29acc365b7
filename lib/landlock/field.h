/* Field paths and JSON shape checks shared by the policy validator and the ruleset parser,
 * so both phrase errors the same way ("layers[1].pathBeneath[0].parent[2]: ..."). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "landlock/access.h"

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

/* An array of access-right names of one kind (at most 64, non-empty when nonempty is set) as
 * bits; an unknown name is an error that lists the known ones. */
int landlock_rights_from_json(const json_t *a, enum landlock_kind kind, const char *field,
			      bool nonempty, uint64_t *ret, struct field_error *err);
