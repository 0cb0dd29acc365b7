/* The Landlock ruleset file that bulwark-launch reads: an ordered list of layers, one per
 * selecting BulwarkPolicy, each in the landlockconfig JSON vocabulary (docs/architecture.md,
 * "Landlock", says where it differs from landlockconfig):
 *
 *   {"compatibility": "BestEffort",
 *    "policies": [{"name": "shop/web", "mode": "Enforce"}],
 *    "layers": [{"ruleset": [{"handledAccessFs": [...], "handledAccessNet": [...],
 *                             "scoped": [...]}],
 *                "pathBeneath": [{"allowedAccess": [...], "parent": ["/usr", ...]}],
 *                "netPort": [{"allowedAccess": ["connect_tcp"], "port": [5432]}]}]}
 *
 * policies[i] says where layers[i] came from and whether it is enforced. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "landlock/access.h"

/* Limits on what a ruleset file can make us allocate or ask of the kernel. */
#define LANDLOCK_RULESET_MAX_BYTES (1024 * 1024)
#define LANDLOCK_MAX_LAYERS	   16	/* the kernel's LANDLOCK_MAX_NUM_LAYERS */
#define LANDLOCK_MAX_RULES	   1024 /* per layer, of each type */
#define LANDLOCK_MAX_RULE_ITEMS	   1024 /* paths or ports in one rule */

struct landlock_path_rule {
	uint64_t access; /* LANDLOCK_ACCESS_FS_* */
	char **paths;
	size_t n_paths;
};

struct landlock_port_rule {
	uint64_t access; /* LANDLOCK_ACCESS_NET_* */
	uint64_t *ports;
	size_t n_ports;
};

struct landlock_layer {
	char *policy; /* "namespace/name" */
	bool audit;   /* from an Audit-mode policy: validated and reported, never enforced */
	struct landlock_rights handled;
	struct landlock_path_rule *path_rules;
	size_t n_path_rules;
	struct landlock_port_rule *port_rules;
	size_t n_port_rules;
};

struct landlock_ruleset {
	bool hard_requirement; /* compatibility: HardRequirement */
	struct landlock_layer *layers;
	size_t n_layers;
};

/* Parses and validates a ruleset file's bytes. Errors name the field, e.g.
 * `layers[1].pathBeneath[0].parent[2]: must be an absolute path, not "tmp"`. */
int landlock_ruleset_parse(const char *data, size_t len, struct landlock_ruleset **ret,
			   struct field_error *err);
int landlock_ruleset_from_json(const json_t *root, struct landlock_ruleset **ret,
			       struct field_error *err);

struct landlock_ruleset *landlock_ruleset_free(struct landlock_ruleset *rs);
static inline void landlock_ruleset_freep(struct landlock_ruleset **rs)
{
	landlock_ruleset_free(*rs);
}
#define _cleanup_landlock_ruleset_ __attribute__((cleanup(landlock_ruleset_freep)))

static inline bool landlock_rights_empty(struct landlock_rights r)
{
	return !r.fs && !r.net && !r.scope;
}

/* Clears every right ABI abi lacks from the layer's handled sets and from its rules (a
 * rule never allows what its layer does not handle); port rules go when the layer no
 * longer handles any network right. Returns the handled rights it cleared. A pure
 * function of (layer, abi), so the downgrade policy is unit-tested without a kernel. */
struct landlock_rights landlock_layer_downgrade(struct landlock_layer *layer, int abi);
