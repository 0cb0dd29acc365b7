#include "landlock/landlock_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "landlock/access.h"
#include "landlock/field.h"
#include "landlock/path.h"
#include "landlock/ruleset.h"

#define MAX_POLICY_RULES 256 /* filesystem or network rules in one policy */

/* One item of a rule's list: a path (filesystem rules) or a port (network rules). */
typedef int (*item_check_fn)(const json_t *v, const char *field, struct field_error *err);

static int check_path(const json_t *v, const char *field, struct field_error *err)
{
	char reason[512];
	if (!json_is_string(v))
		return field_error_set(err, field, "must be a string");
	if (landlock_path_check(json_string_value(v), reason, sizeof(reason)) < 0)
		return field_error_set(err, field, "%s", reason);
	return 0;
}

static int check_port(const json_t *v, const char *field, struct field_error *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
		return field_error_set(err, field, "must be an integer 0..65535");
	return 0;
}

/* {ITEMS: [...], access: [...]}: the shape both filesystem and network rules have. */
static int validate_rule(const json_t *o, const char *field, const char *items_key,
			 item_check_fn check_item, enum landlock_kind kind, struct field_error *err)
{
	const char *const keys[] = {items_key, "access", NULL};
	landlock_field_t f;
	uint64_t bits;
	if (!json_is_object(o))
		return field_error_set(err, field, "must be an object");
	int r = landlock_check_keys(o, field, keys, err);
	if (r < 0)
		return r;
	const json_t *items = json_object_get(o, items_key);
	const json_t *access = json_object_get(o, "access");
	if (!items)
		return field_error_set(err, landlock_field(f, field, items_key, -1), "is required");
	if (!access)
		return field_error_set(err, landlock_field(f, field, "access", -1), "is required");
	r = landlock_check_array(items, landlock_field(f, field, items_key, -1),
				 LANDLOCK_MAX_RULE_ITEMS, true, err);
	size_t i;
	json_t *v;
	json_array_foreach (items, i, v) {
		if (r < 0)
			break;
		r = check_item(v, landlock_field(f, field, items_key, (long)i), err);
	}
	return r
		       ?: landlock_rights_from_json(access, kind,
						    landlock_field(f, field, "access", -1), true,
						    &bits, err);
}

int landlock_policy_validate(const json_t *section, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"compatibility", "filesystem", "network", "scope", NULL};
	landlock_field_t f;
	int r;
	if (!json_is_object(section))
		return field_error_set(err, field, "must be an object");
	r = landlock_check_keys(section, field, keys, err);
	if (r < 0)
		return r;

	const json_t *compat = json_object_get(section, "compatibility");
	if (compat) {
		const char *c = json_string_value(compat);
		if (!c || (strcmp(c, "BestEffort") != 0 && strcmp(c, "HardRequirement") != 0))
			return field_error_set(
				err, landlock_field(f, field, "compatibility", -1),
				"must be BestEffort or HardRequirement, not %s%.64s%s",
				c ? "\"" : "", c ? c : "a non-string", c ? "\"" : "");
	}

	const json_t *rules = json_object_get(section, "filesystem");
	if (rules) {
		r = landlock_check_array(rules, landlock_field(f, field, "filesystem", -1),
					 MAX_POLICY_RULES, false, err);
		if (r < 0)
			return r;
		size_t i;
		json_t *v;
		json_array_foreach (rules, i, v) {
			r = validate_rule(v, landlock_field(f, field, "filesystem", (long)i),
					  "paths", check_path, LANDLOCK_KIND_FS, err);
			if (r < 0)
				return r;
		}
	}

	rules = json_object_get(section, "network");
	if (rules) {
		r = landlock_check_array(rules, landlock_field(f, field, "network", -1),
					 MAX_POLICY_RULES, false, err);
		if (r < 0)
			return r;
		size_t i;
		json_t *v;
		json_array_foreach (rules, i, v) {
			r = validate_rule(v, landlock_field(f, field, "network", (long)i), "ports",
					  check_port, LANDLOCK_KIND_NET, err);
			if (r < 0)
				return r;
		}
	}

	const json_t *scope = json_object_get(section, "scope");
	if (scope) {
		uint64_t bits;
		r = landlock_rights_from_json(scope, LANDLOCK_KIND_SCOPE,
					      landlock_field(f, field, "scope", -1), false, &bits,
					      err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- compilation: a validated section into one landlockconfig layer ---- */

static uint64_t rights_bits(const json_t *a, enum landlock_kind kind)
{
	uint64_t bits = 0, bit;
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		if (landlock_right_from_name(kind, json_string_value(v), &bit) == 0)
			bits |= bit;
	}
	return bits;
}

static int add_new(json_t *to, const char *key, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_set_new(to, key, v) < 0 ? -ENOMEM : 0;
}

static int append_new(json_t *to, json_t *v)
{
	if (!v)
		return -ENOMEM;
	return json_array_append_new(to, v) < 0 ? -ENOMEM : 0;
}

/* Paths keep the policy's order; a path repeated within a rule is listed once. */
static json_t *paths_json(const json_t *paths)
{
	json_t *out = json_array();
	size_t i, k;
	json_t *v, *seen;
	if (!out)
		return NULL;
	json_array_foreach (paths, i, v) {
		bool dup = false;
		json_array_foreach (out, k, seen) {
			dup = dup || json_equal(seen, v);
		}
		if (!dup && json_array_append(out, v) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int cmp_int(const void *a, const void *b)
{
	json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
	return (x > y) - (x < y);
}

/* Ports sorted and unique, so equivalent policies compile to equal bytes. */
static json_t *ports_json(const json_t *ports)
{
	size_t n = json_array_size(ports);
	_cleanup_free_ json_int_t *v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array();
	if (!v || !out) {
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_integer_value(json_array_get(ports, i));
	qsort(v, n, sizeof(*v), cmp_int);
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || v[i] != v[i - 1]) &&
		    json_array_append_new(out, json_integer(v[i])) < 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

/* rules ({ITEMS, access} from the policy) as a landlockconfig list under key: each becomes
 * {allowedAccess, OUT_KEY: convert(ITEMS)}. Nothing is added for an empty list. */
static int emit_rules(json_t *layer, const char *key, const json_t *rules, enum landlock_kind kind,
		      const char *items_key, const char *out_key,
		      json_t *(*convert)(const json_t *))
{
	if (json_array_size(rules) == 0)
		return 0;
	json_t *list = json_array();
	int r = add_new(layer, key, list);
	size_t i;
	json_t *rule;
	json_array_foreach (rules, i, rule) {
		if (r < 0)
			break;
		json_t *o = json_object();
		uint64_t bits = rights_bits(json_object_get(rule, "access"), kind);
		r = append_new(list, o);
		r = r ?: add_new(o, "allowedAccess", landlock_rights_to_json(kind, bits));
		r = r ?: add_new(o, out_key, convert(json_object_get(rule, items_key)));
	}
	return r;
}

static int compile_layer(const json_t *section, json_t **ret)
{
	json_auto_t *layer = json_object();
	json_auto_t *handled = json_object();
	int r;
	if (!layer || !handled)
		return -ENOMEM;

	const json_t *fs = json_object_get(section, "filesystem");
	const json_t *net = json_object_get(section, "network");
	const json_t *scope = json_object_get(section, "scope");
	uint64_t scoped = scope ? rights_bits(scope, LANDLOCK_KIND_SCOPE) : 0;

	if (fs && (r = add_new(handled, "handledAccessFs",
			       landlock_rights_to_json(LANDLOCK_KIND_FS,
						       landlock_kind_all(LANDLOCK_KIND_FS)))) < 0)
		return r;
	if (net && (r = add_new(handled, "handledAccessNet",
				landlock_rights_to_json(LANDLOCK_KIND_NET,
							landlock_kind_all(LANDLOCK_KIND_NET)))) < 0)
		return r;
	if (scoped && (r = add_new(handled, "scoped",
				   landlock_rights_to_json(LANDLOCK_KIND_SCOPE, scoped))) < 0)
		return r;
	if (json_object_size(handled) > 0) {
		json_t *list = json_array();
		if ((r = add_new(layer, "ruleset", list)) < 0 ||
		    json_array_append(list, handled) < 0)
			return r < 0 ? r : -ENOMEM;
	}

	if ((r = emit_rules(layer, "pathBeneath", fs, LANDLOCK_KIND_FS, "paths", "parent",
			    paths_json)) < 0 ||
	    (r = emit_rules(layer, "netPort", net, LANDLOCK_KIND_NET, "ports", "port",
			    ports_json)) < 0)
		return r;
	*ret = json_incref(layer);
	return 0;
}

static int cmp_section(const void *a, const void *b)
{
	const struct policy_section *x = *(const struct policy_section *const *)a;
	const struct policy_section *y = *(const struct policy_section *const *)b;
	return strcmp(x->policy, y->policy);
}

int landlock_policy_compile(const struct policy_section *sections, size_t n, json_t **ret,
			    struct field_error *err)
{
	if (n > LANDLOCK_MAX_LAYERS)
		return field_error_set(
			err, "spec.landlock",
			"%zu policies with a landlock section select this pod; Landlock "
			"stacks at most %d layers",
			n, LANDLOCK_MAX_LAYERS);

	_cleanup_free_ const struct policy_section **sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &sections[i];
	qsort(sorted, n, sizeof(*sorted), cmp_section);

	json_auto_t *root = json_object();
	json_t *policies = json_array(), *layers = json_array();
	int r;
	if (!root || (r = add_new(root, "policies", policies)) < 0 ||
	    (r = add_new(root, "layers", layers)) < 0)
		return -ENOMEM;

	bool hard = false;
	for (size_t i = 0; i < n; i++) {
		const struct policy_section *s = sorted[i];
		struct field_error inner = {0};
		r = landlock_policy_validate(s->section, "spec.landlock", &inner);
		if (r < 0) {
			char f[256];
			snprintf(f, sizeof(f), "%.100s: %.150s", s->policy, inner.field);
			if (err && !err->field[0] && !err->reason[0]) {
				snprintf(err->field, sizeof(err->field), "%s", f);
				snprintf(err->reason, sizeof(err->reason), "%s", inner.reason);
			}
			return r;
		}
		const char *c = json_string_value(json_object_get(s->section, "compatibility"));
		if (!s->audit && c && strcmp(c, "HardRequirement") == 0)
			hard = true;

		json_t *layer = NULL;
		r = compile_layer(s->section, &layer);
		if (r < 0)
			return r;
		if ((r = append_new(layers, layer)) < 0 ||
		    (r = append_new(policies, json_pack("{s:s, s:s}", "name", s->policy, "mode",
							s->audit ? "Audit" : "Enforce"))) < 0)
			return r;
	}
	if ((r = add_new(root, "compatibility",
			 json_string(hard ? "HardRequirement" : "BestEffort"))) < 0)
		return r;
	*ret = json_incref(root);
	return 0;
}
