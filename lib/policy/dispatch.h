/* The mechanisms a BulwarkPolicy section can configure, each with its validator and compiler
 * (docs/policy-api.md, "Interfaces in lib/"). lib/policy walks this table, so validation and
 * composition treat every mechanism alike and in one fixed order. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "policy_section.h"

struct policy_mechanism {
	const char *key; /* the spec key and the compiled policy's key: "network" */
	/* A section that sets none of these does nothing, which is a mistake worth naming (the
	 * CRD's CEL rules say the same); NULL-terminated, or NULL when an empty section means
	 * something (seccomp: {} is the RuntimeDefault profile). */
	const char *const *requires_one_of;
	int (*validate)(const json_t *section, const char *field, struct field_error *err);
	int (*compile)(const struct policy_section *sections, size_t n, json_t **ret,
		       struct field_error *err);
};

/* Terminated by an entry whose key is NULL. */
extern const struct policy_mechanism policy_mechanisms[];
