#include "landlock/ruleset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "landlock/field.h"
#include "landlock/path.h"

/* "namespace/name": a DNS label, a slash, a DNS subdomain. */
#define POLICY_NAME_MAX (63 + 1 + 253)

/* allowedAccess must be a subset of what the layer handles, as the kernel demands. */
static int check_subset(const json_t *a, enum landlock_kind kind, uint64_t handled,
			const char *field, const char *handled_key, struct field_error *err)
{
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		uint64_t bit;
		landlock_field_t f;
		landlock_right_from_name(kind, json_string_value(v), &bit);
		if (!(bit & handled))
			return field_error_set(err, landlock_field(f, field, "", (long)i),
					       "\"%s\" is not in this layer's ruleset %s",
					       json_string_value(v), handled_key);
	}
	return 0;
}

static int parse_handled(const json_t *a, const char *field, struct landlock_rights *ret,
			 struct field_error *err)
{
	static const char *const keys[] = {"handledAccessFs", "handledAccessNet", "scoped", NULL};
	static const enum landlock_kind kinds[] = {LANDLOCK_KIND_FS, LANDLOCK_KIND_NET,
						   LANDLOCK_KIND_SCOPE};
	struct landlock_rights handled = {0};
	int r = landlock_check_array(a, field, 64, true, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *entry;
	json_array_foreach (a, i, entry) {
		landlock_field_t f;
		landlock_field(f, field, "", (long)i);
		if (!json_is_object(entry))
			return field_error_set(err, f, "must be an object");
		if (json_object_size(entry) == 0)
			return field_error_set(err, f, "must handle something");
		r = landlock_check_keys(entry, f, keys, err);
		if (r < 0)
			return r;
		uint64_t *dst[] = {&handled.fs, &handled.net, &handled.scope};
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			const json_t *v = json_object_get(entry, keys[k]);
			uint64_t bits;
			landlock_field_t fk;
			if (!v)
				continue;
			r = landlock_rights_from_json(
				v, kinds[k], landlock_field(fk, f, keys[k], -1), true, &bits, err);
			if (r < 0)
				return r;
			*dst[k] |= bits;
		}
	}
	*ret = handled;
	return 0;
}

/* What pathBeneath and netPort rules share: {allowedAccess: [...], ITEMS: [...]}, the rights
 * a subset of what the layer handles, the items a non-empty bounded array (returned). */
static int parse_rule_head(const json_t *o, const char *field, const char *items_key,
			   enum landlock_kind kind, uint64_t handled, const char *handled_name,
			   uint64_t *ret_bits, const json_t **ret_items, struct field_error *err)
{
	const char *const keys[] = {"allowedAccess", items_key, NULL};
	landlock_field_t f;
	if (!json_is_object(o))
		return field_error_set(err, field, "must be an object");
	int r = landlock_check_keys(o, field, keys, err);
	if (r < 0)
		return r;
	const json_t *access = json_object_get(o, "allowedAccess");
	const json_t *items = json_object_get(o, items_key);
	if (!access)
		return field_error_set(err, landlock_field(f, field, "allowedAccess", -1),
				       "is required");
	if (!items)
		return field_error_set(err, landlock_field(f, field, items_key, -1), "is required");
	r = landlock_rights_from_json(access, kind, landlock_field(f, field, "allowedAccess", -1),
				      true, ret_bits, err);
	r = r ?: check_subset(access, kind, handled, f, handled_name, err);
	r = r
		    ?: landlock_check_array(items, landlock_field(f, field, items_key, -1),
					    LANDLOCK_MAX_RULE_ITEMS, true, err);
	if (r == 0)
		*ret_items = items;
	return r;
}

static int parse_path_rule(const json_t *o, const char *field, uint64_t handled_fs,
			   struct landlock_path_rule *ret, struct field_error *err)
{
	landlock_field_t f;
	const json_t *parent;
	uint64_t bits;
	int r = parse_rule_head(o, field, "parent", LANDLOCK_KIND_FS, handled_fs, "handledAccessFs",
				&bits, &parent, err);
	if (r < 0)
		return r;

	size_t n = json_array_size(parent);
	char **paths = calloc(n, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	size_t i;
	json_t *v;
	json_array_foreach (parent, i, v) {
		char reason[512];
		landlock_field(f, field, "parent", (long)i);
		if (!json_is_string(v))
			r = field_error_set(err, f, "must be a string");
		else if (landlock_path_check(json_string_value(v), reason, sizeof(reason)) < 0)
			r = field_error_set(err, f, "%s", reason);
		else if (!(paths[i] = strdup(json_string_value(v))))
			r = -ENOMEM;
		if (r < 0) {
			for (size_t k = 0; k < i; k++)
				free(paths[k]);
			free(paths);
			return r;
		}
	}
	*ret = (struct landlock_path_rule){.access = bits, .paths = paths, .n_paths = n};
	return 0;
}

static int parse_port_rule(const json_t *o, const char *field, uint64_t handled_net,
			   struct landlock_port_rule *ret, struct field_error *err)
{
	landlock_field_t f;
	const json_t *port;
	uint64_t bits;
	int r = parse_rule_head(o, field, "port", LANDLOCK_KIND_NET, handled_net,
				"handledAccessNet", &bits, &port, err);
	if (r < 0)
		return r;

	size_t n = json_array_size(port);
	_cleanup_free_ uint64_t *ports = calloc(n, sizeof(*ports));
	if (!ports)
		return -ENOMEM;
	size_t i;
	json_t *v;
	json_array_foreach (port, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535)
			return field_error_set(err, landlock_field(f, field, "port", (long)i),
					       "must be an integer 0..65535");
		ports[i] = (uint64_t)json_integer_value(v);
	}
	*ret = (struct landlock_port_rule){.access = bits, .ports = TAKE_PTR(ports), .n_ports = n};
	return 0;
}

static int parse_layer(const json_t *o, const char *field, struct landlock_layer *layer,
		       struct field_error *err)
{
	static const char *const keys[] = {"ruleset", "pathBeneath", "netPort", NULL};
	landlock_field_t f;
	int r;
	if (!json_is_object(o))
		return field_error_set(err, field, "must be an object");
	r = landlock_check_keys(o, field, keys, err);
	if (r < 0)
		return r;

	/* The handled rights come first: rules are checked against them. */
	const json_t *handled = json_object_get(o, "ruleset");
	if (handled) {
		r = parse_handled(handled, landlock_field(f, field, "ruleset", -1), &layer->handled,
				  err);
		if (r < 0)
			return r;
	}

	const json_t *rules = json_object_get(o, "pathBeneath");
	if (rules) {
		r = landlock_check_array(rules, landlock_field(f, field, "pathBeneath", -1),
					 LANDLOCK_MAX_RULES, true, err);
		if (r < 0)
			return r;
		layer->path_rules = calloc(json_array_size(rules), sizeof(*layer->path_rules));
		if (!layer->path_rules)
			return -ENOMEM;
		size_t i;
		json_t *v;
		json_array_foreach (rules, i, v) {
			r = parse_path_rule(v, landlock_field(f, field, "pathBeneath", (long)i),
					    layer->handled.fs, &layer->path_rules[i], err);
			if (r < 0)
				return r;
			layer->n_path_rules++;
		}
	}

	rules = json_object_get(o, "netPort");
	if (rules) {
		r = landlock_check_array(rules, landlock_field(f, field, "netPort", -1),
					 LANDLOCK_MAX_RULES, true, err);
		if (r < 0)
			return r;
		layer->port_rules = calloc(json_array_size(rules), sizeof(*layer->port_rules));
		if (!layer->port_rules)
			return -ENOMEM;
		size_t i;
		json_t *v;
		json_array_foreach (rules, i, v) {
			r = parse_port_rule(v, landlock_field(f, field, "netPort", (long)i),
					    layer->handled.net, &layer->port_rules[i], err);
			if (r < 0)
				return r;
			layer->n_port_rules++;
		}
	}
	return 0;
}

static int parse_provenance(const json_t *o, const char *field, struct landlock_layer *layer,
			    struct field_error *err)
{
	static const char *const keys[] = {"name", "mode", NULL};
	landlock_field_t f;
	int r;
	if (!json_is_object(o))
		return field_error_set(err, field, "must be an object");
	r = landlock_check_keys(o, field, keys, err);
	if (r < 0)
		return r;
	const char *name = json_string_value(json_object_get(o, "name"));
	if (!name || !name[0] || strlen(name) > POLICY_NAME_MAX)
		return field_error_set(err, landlock_field(f, field, "name", -1),
				       "must be a \"namespace/name\" string");
	const char *mode = json_string_value(json_object_get(o, "mode"));
	if (!mode || (strcmp(mode, "Enforce") != 0 && strcmp(mode, "Audit") != 0))
		return field_error_set(err, landlock_field(f, field, "mode", -1),
				       "must be Enforce or Audit");
	layer->policy = strdup(name);
	if (!layer->policy)
		return -ENOMEM;
	layer->audit = strcmp(mode, "Audit") == 0;
	return 0;
}

int landlock_ruleset_from_json(const json_t *root, struct landlock_ruleset **ret,
			       struct field_error *err)
{
	static const char *const keys[] = {"compatibility", "policies", "layers", NULL};
	_cleanup_landlock_ruleset_ struct landlock_ruleset *rs = NULL;
	int r;

	if (!json_is_object(root))
		return field_error_set(err, "", "a ruleset must be a JSON object");
	r = landlock_check_keys(root, "", keys, err);
	if (r < 0)
		return r;

	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;

	const json_t *compat = json_object_get(root, "compatibility");
	if (compat) {
		const char *c = json_string_value(compat);
		if (!c || (strcmp(c, "BestEffort") != 0 && strcmp(c, "HardRequirement") != 0))
			return field_error_set(err, "compatibility",
					       "must be BestEffort or HardRequirement");
		rs->hard_requirement = strcmp(c, "HardRequirement") == 0;
	}

	const json_t *layers = json_object_get(root, "layers");
	const json_t *policies = json_object_get(root, "policies");
	if (!json_is_array(layers))
		return field_error_set(err, "layers", "must be an array");
	if (json_array_size(layers) > LANDLOCK_MAX_LAYERS)
		return field_error_set(
			err, "layers",
			"must have at most %d items (the kernel's layer limit), not %zu",
			LANDLOCK_MAX_LAYERS, json_array_size(layers));
	if (!json_is_array(policies))
		return field_error_set(err, "policies", "must be an array");
	if (json_array_size(policies) != json_array_size(layers))
		return field_error_set(err, "policies",
				       "must have one entry per layer (%zu), not %zu",
				       json_array_size(layers), json_array_size(policies));

	size_t n = json_array_size(layers);
	if (n) {
		rs->layers = calloc(n, sizeof(*rs->layers));
		if (!rs->layers)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		landlock_field_t f;
		rs->n_layers++;
		r = parse_provenance(json_array_get(policies, i),
				     landlock_field(f, "", "policies", (long)i), &rs->layers[i],
				     err);
		if (r < 0)
			return r;
		r = parse_layer(json_array_get(layers, i), landlock_field(f, "", "layers", (long)i),
				&rs->layers[i], err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(rs);
	return 0;
}

int landlock_ruleset_parse(const char *data, size_t len, struct landlock_ruleset **ret,
			   struct field_error *err)
{
	if (len > LANDLOCK_RULESET_MAX_BYTES)
		return field_error_set(err, "", "ruleset is %zu bytes, more than the %d allowed",
				       len, LANDLOCK_RULESET_MAX_BYTES);
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return field_error_set(err, "", "invalid JSON at line %d column %d: %s", jerr.line,
				       jerr.column, jerr.text);
	int r = landlock_ruleset_from_json(root, ret, err);
	json_decref(root);
	return r;
}

static void layer_clear(struct landlock_layer *l)
{
	for (size_t i = 0; i < l->n_path_rules; i++) {
		for (size_t k = 0; k < l->path_rules[i].n_paths; k++)
			free(l->path_rules[i].paths[k]);
		free(l->path_rules[i].paths);
	}
	free(l->path_rules);
	for (size_t i = 0; i < l->n_port_rules; i++)
		free(l->port_rules[i].ports);
	free(l->port_rules);
	free(l->policy);
}

struct landlock_ruleset *landlock_ruleset_free(struct landlock_ruleset *rs)
{
	if (!rs)
		return NULL;
	for (size_t i = 0; i < rs->n_layers; i++)
		layer_clear(&rs->layers[i]);
	free(rs->layers);
	free(rs);
	return NULL;
}

struct landlock_rights landlock_layer_downgrade(struct landlock_layer *layer, int abi)
{
	struct landlock_rights supported = landlock_abi_rights(abi < 0 ? 0 : abi);
	struct landlock_rights dropped = {
		.fs = layer->handled.fs & ~supported.fs,
		.net = layer->handled.net & ~supported.net,
		.scope = layer->handled.scope & ~supported.scope,
	};
	layer->handled.fs &= supported.fs;
	layer->handled.net &= supported.net;
	layer->handled.scope &= supported.scope;
	for (size_t i = 0; i < layer->n_path_rules; i++)
		layer->path_rules[i].access &= layer->handled.fs;
	for (size_t i = 0; i < layer->n_port_rules; i++)
		layer->port_rules[i].access &= layer->handled.net;
	if (!layer->handled.net) {
		for (size_t i = 0; i < layer->n_port_rules; i++)
			free(layer->port_rules[i].ports);
		free(layer->port_rules);
		layer->port_rules = NULL;
		layer->n_port_rules = 0;
	}
	return dropped;
}
