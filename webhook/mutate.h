/* Pod mutation at admission: what each kernel mechanism needs in the pod spec for the policies
 * that select it (docs/policy-api.md), as a JSON Patch.
 *
 * Each mechanism is a pod_mutator that edits a private copy of the pod; the patch is the
 * difference between the pod as received and the copy. Mutators therefore never reason about
 * patch-op order or shifting array indexes, and re-admitting an already mutated pod yields no
 * patch at all whenever every mutator is idempotent on its own output (each one recognises what
 * it added: the Localhost profile, the launcher prefix, its reserved volume and container
 * names). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "policy/policy.h"

#define MUTATE_ANNOTATION_POLICIES "bulwark.dev/policies"
#define MUTATE_ANNOTATION_HASH	   "bulwark.dev/policy-hash"
#define MUTATE_ANNOTATION_RULESET  "bulwark.dev/landlock-ruleset"
/* Names Bulwark reserves in a mutated pod. */
#define MUTATE_LAUNCHER_CONTAINER "bulwark-launcher"
#define MUTATE_LAUNCHER_VOLUME	  "bulwark-launcher"
#define MUTATE_RULESET_VOLUME	  "bulwark-landlock"
#define MUTATE_LAUNCHER_DIR	  "/bulwark/bin"
#define MUTATE_LAUNCHER		  "/bulwark/bin/bulwark-launch"
#define MUTATE_RULESET_DIR	  "/bulwark/landlock"
#define MUTATE_RULESET_FILE	  "/bulwark/landlock/ruleset.json"
/* Annotations share 256 KiB per object with everyone else's; a ruleset beyond this is refused
 * with the size, rather than by the apiserver with a less helpful message. */
#define MUTATE_RULESET_MAX (192u << 10)
/* Warnings are shown by kubectl one per line; past this many, one more says how many were cut. */
#define MUTATE_WARNINGS_MAX 16

struct mutate_options {
	const char *launcher_image; /* the image holding the static bulwark-launch */
	const char *launcher_path;  /* bulwark-launch's path in that image */
};

/* What every mutator sees. */
struct pod_mutation {
	const struct mutate_options *opts;
	const json_t *compiled;	  /* policy_compile_pod() of the pod */
	json_t *const *selecting; /* the policies selecting the pod */
	size_t n_selecting;
	json_t *warnings; /* array of strings, appended to */
};

/* One mechanism's edit of the pod. 0; -EPERM with err naming the field and what to change
 * when the pod cannot be admitted under an Enforce policy; -ENOMEM. */
struct pod_mutator {
	const char *name;
	int (*mutate)(const struct pod_mutation *m, json_t *pod, struct field_error *err);
};

extern const struct pod_mutator mutator_seccomp;
extern const struct pod_mutator mutator_landlock;
extern const struct pod_mutator mutator_provenance;

/* The mutation of pod (a CREATE's request.object; namespace is request.namespace for a pod
 * that does not carry one) under policies[0..n) (valid policies; others' namespaces are
 * ignored). cache may be NULL. *ret_patch is a JSON Patch array, or NULL when nothing
 * changes (no policy selects the pod, or it is already mutated). Warnings go to warnings.
 * 0; -EPERM with err (deny, saying what to change); -EINVAL with err when the pod or a
 * policy cannot be compiled; -ENOMEM. */
int mutate_pod(const struct mutate_options *opts, struct policy_cache *cache, const json_t *pod,
	       const char *namespace, json_t *const *policies, size_t n, json_t **ret_patch,
	       json_t *warnings, struct field_error *err);

/* Guards what Bulwark wrote at admission on an UPDATE: 0 when old and new carry the same
 * bulwark.dev/ annotations, -EPERM with err naming the first one that changed. */
int mutate_check_update(const json_t *old_pod, const json_t *new_pod, struct field_error *err);

/* ---- helpers shared by the mutators ----------------------------------------------------- */

/* Whether the mechanism ("seccomp", "landlock") is enforced: some selecting policy with that
 * section is in Enforce mode. The names of the policies with the section, comma-separated,
 * go to ret_names. */
bool mutate_mechanism_enforced(const struct pod_mutation *m, const char *section, char *ret_names,
			       size_t size);
/* Appends a warning (printf-style), up to MUTATE_WARNINGS_MAX. */
void mutate_warn(const struct pod_mutation *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A (new or existing) object member of parent, created when absent or not an object. NULL on
 * ENOMEM. */
json_t *mutate_object_member(json_t *parent, const char *key);

/* RFC 6902 ops turning a into b, appended to ops (paths relative to prefix, "" for the
 * root). Objects are compared member by member, arrays element by element when their lengths
 * match (else the array is replaced). 0 or -ENOMEM. */
int json_patch_diff(const json_t *a, const json_t *b, const char *prefix, json_t *ops);
