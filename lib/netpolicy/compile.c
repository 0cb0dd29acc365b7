/* Composition of every selecting policy's spec.network into one pod's compiled network
 * policy: allows are unioned, deny beats allow, a direction is default-deny if any Enforce
 * policy says so, and an Audit policy's rules and default only ever count as "would deny". */
#include "netpolicy/netpolicy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "cleanup.h"
#include "netpolicy/cidr.h"
#include "netpolicy/rule.h"

static const char *const direction_names[] = {"egress", "ingress"};

struct keyed_rule {
	char *key; /* canonical bytes: the sort and deduplication key */
	json_t *rule;
};

struct direction_acc {
	struct keyed_rule *rules;
	size_t n, cap;
	bool default_deny;	 /* an Enforce policy says Deny */
	bool audit_default_deny; /* any policy says Deny */
};

static int cidr_cmp_qsort(const void *a, const void *b)
{
	return cidr_compare(a, b);
}

/* Parsed, sorted, deduplicated, canonical text; NULL `list` means every address. */
static int normalize_cidrs(const json_t *list, bool every_if_absent, json_t **ret)
{
	_cleanup_free_ struct cidr *c = NULL;
	size_t n = 0, i;
	json_t *v;
	char why[128], text[CIDR_STR_MAX];

	json_auto_t *out = json_array();
	if (!out)
		return -ENOMEM;
	if (!list) {
		if (every_if_absent && (json_array_append_new(out, json_string("0.0.0.0/0")) < 0 ||
					json_array_append_new(out, json_string("::/0")) < 0))
			return -ENOMEM;
		*ret = TAKE_PTR(out);
		return 0;
	}
	c = calloc(json_array_size(list) + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	json_array_foreach (list, i, v) {
		if (cidr_parse(json_string_value(v), &c[n], why, sizeof(why)) < 0)
			return -EINVAL;
		n++;
	}
	qsort(c, n, sizeof(*c), cidr_cmp_qsort);
	for (i = 0; i < n; i++) {
		if (i > 0 && cidr_compare(&c[i - 1], &c[i]) == 0)
			continue;
		if (json_array_append_new(out, json_string(cidr_format(&c[i], text))) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

struct port_range {
	long long lo, hi;
};

static int range_cmp(const void *a, const void *b)
{
	const struct port_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sorted, with overlapping and adjacent ranges merged. */
static int normalize_ports(const json_t *list, json_t **ret)
{
	_cleanup_free_ struct port_range *r = NULL;
	size_t n = 0, i;
	json_t *v;

	json_auto_t *out = json_array();
	if (!out)
		return -ENOMEM;
	if (list && json_array_size(list) > 0) {
		r = calloc(json_array_size(list), sizeof(*r));
		if (!r)
			return -ENOMEM;
		json_array_foreach (list, i, v) {
			const json_t *end = json_object_get(v, "endPort");
			r[n].lo = json_integer_value(json_object_get(v, "port"));
			r[n].hi = end ? json_integer_value(end) : r[n].lo;
			n++;
		}
		qsort(r, n, sizeof(*r), range_cmp);
		size_t m = 0;
		for (i = 1; i < n; i++) {
			if (r[i].lo <= r[m].hi + 1) {
				if (r[i].hi > r[m].hi)
					r[m].hi = r[i].hi;
			} else
				r[++m] = r[i];
		}
		for (i = 0; i <= m; i++)
			if (json_array_append_new(out, json_pack("{sIsI}", "port", r[i].lo,
								 "endPort", r[i].hi)) < 0)
				return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

static int normalize_rule(const json_t *rule, bool audit, json_t **ret)
{
	const json_t *action = json_object_get(rule, "action");
	const json_t *protocol = json_object_get(rule, "protocol");
	json_t *cidrs = NULL, *except = NULL, *ports = NULL;
	int r;

	r = normalize_cidrs(json_object_get(rule, "cidrs"), true, &cidrs);
	if (r >= 0)
		r = normalize_cidrs(json_object_get(rule, "except"), false, &except);
	if (r >= 0)
		r = normalize_ports(json_object_get(rule, "ports"), &ports);
	if (r < 0) {
		json_decref(cidrs);
		json_decref(except);
		return r;
	}
	json_t *out = json_pack("{sssbsssososo}", "action",
				action ? json_string_value(action) : "Allow", "audit", audit,
				"protocol", protocol ? json_string_value(protocol) : "Any", "ports",
				ports, "cidrs", cidrs, "except", except);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

static int acc_add(struct direction_acc *acc, json_t *rule)
{
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 16;
		struct keyed_rule *p = realloc(acc->rules, cap * sizeof(*p));
		if (!p) {
			json_decref(rule);
			return -ENOMEM;
		}
		acc->rules = p;
		acc->cap = cap;
	}
	char *key = json_canonical_dump(rule);
	if (!key) {
		json_decref(rule);
		return -ENOMEM;
	}
	acc->rules[acc->n++] = (struct keyed_rule){.key = key, .rule = rule};
	return 0;
}

static void acc_free(struct direction_acc *acc)
{
	for (size_t i = 0; i < acc->n; i++) {
		free(acc->rules[i].key);
		json_decref(acc->rules[i].rule);
	}
	free(acc->rules);
}

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed_rule *)a)->key, ((const struct keyed_rule *)b)->key);
}

/* True when rule (an audit one) has an identical Enforce twin, which already makes the
 * "would" verdict what the audit copy asks for. */
static int has_enforce_twin(const struct direction_acc *acc, const json_t *rule, bool *ret)
{
	json_auto_t *twin = json_deep_copy(rule);
	if (!twin || json_object_set_new(twin, "audit", json_false()) < 0)
		return -ENOMEM;
	_cleanup_free_ char *key = json_canonical_dump(twin);
	if (!key)
		return -ENOMEM;
	struct keyed_rule probe = {.key = key};
	*ret = bsearch(&probe, acc->rules, acc->n, sizeof(*acc->rules), keyed_cmp) != NULL;
	return 0;
}

/* The rule's class key: rules sharing it share one bit in the maps. */
static char *class_key(const json_t *rule)
{
	json_auto_t *k = json_pack("{sOsOsOsO}", "action", json_object_get(rule, "action"), "audit",
				   json_object_get(rule, "audit"), "protocol",
				   json_object_get(rule, "protocol"), "ports",
				   json_object_get(rule, "ports"));
	return k ? json_canonical_dump(k) : NULL;
}

static int str_cmp_qsort(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int count_classes(const json_t *rules, size_t *ret)
{
	size_t n = json_array_size(rules), distinct = 0, i;
	char **keys = calloc(n ? n : 1, sizeof(*keys));
	int r = 0;

	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (!(keys[i] = class_key(json_array_get(rules, i)))) {
			r = -ENOMEM;
			goto out;
		}
	qsort(keys, n, sizeof(*keys), str_cmp_qsort);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(keys[i - 1], keys[i]) != 0)
			distinct++;
	*ret = distinct;
out:
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return r;
}

static int finish_direction(struct direction_acc *acc, const char *field, json_t **ret,
			    struct field_error *err)
{
	size_t prefixes = 0, classes = 0;
	int r;

	if (acc->n > 0)
		qsort(acc->rules, acc->n, sizeof(*acc->rules), keyed_cmp);
	json_auto_t *rules = json_array();
	if (!rules)
		return -ENOMEM;
	for (size_t i = 0; i < acc->n; i++) {
		json_t *rule = acc->rules[i].rule;
		if (i > 0 && strcmp(acc->rules[i - 1].key, acc->rules[i].key) == 0)
			continue;
		if (json_is_true(json_object_get(rule, "audit"))) {
			bool twin;
			r = has_enforce_twin(acc, rule, &twin);
			if (r < 0)
				return r;
			if (twin)
				continue;
		}
		prefixes += json_array_size(json_object_get(rule, "cidrs")) +
			    json_array_size(json_object_get(rule, "except"));
		if (json_array_append(rules, rule) < 0)
			return -ENOMEM;
	}
	if (prefixes > NETPOLICY_MAX_PREFIXES)
		return field_error_set(
			err, field,
			"the selecting policies hold %zu cidrs and excepts together; "
			"at most %d per direction",
			prefixes, NETPOLICY_MAX_PREFIXES);
	r = count_classes(rules, &classes);
	if (r < 0)
		return r;
	if (classes > NETPOLICY_MAX_CLASSES)
		return field_error_set(err, field,
				       "the selecting policies combine into %zu distinct (action, "
				       "protocol, ports) rule kinds; at most %d per direction",
				       classes, NETPOLICY_MAX_CLASSES);

	json_t *out = json_pack("{sssssO}", "defaultAction", acc->default_deny ? "Deny" : "Allow",
				"auditDefaultAction", acc->audit_default_deny ? "Deny" : "Allow",
				"rules", rules);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

static int add_section(struct direction_acc acc[2], const struct policy_section *s)
{
	for (size_t d = 0; d < 2; d++) {
		const json_t *dir = json_object_get(s->section, direction_names[d]);
		const json_t *def = json_object_get(dir, "defaultAction");
		if (def && netpolicy_action_is_deny(json_string_value(def)) == 1) {
			acc[d].audit_default_deny = true;
			if (!s->audit)
				acc[d].default_deny = true;
		}
		size_t i;
		json_t *rule;
		json_array_foreach (json_object_get(dir, "rules"), i, rule) {
			json_t *norm;
			int r = normalize_rule(rule, s->audit, &norm);
			if (r < 0)
				return r;
			r = acc_add(&acc[d], norm);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int netpolicy_compile(const struct policy_section *sections, size_t n, json_t **ret,
		      struct field_error *err)
{
	struct direction_acc acc[2] = {0};
	json_t *dirs[2] = {NULL, NULL};
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct field_error e = {0};
		r = netpolicy_validate(sections[i].section, "spec.network", &e);
		if (r < 0) {
			if (e.field[0])
				field_error_set(err, e.field, "policy %s: %s",
						sections[i].policy ? sections[i].policy : "?",
						e.reason);
			break;
		}
		r = add_section(acc, &sections[i]);
	}
	for (size_t d = 0; d < 2 && r >= 0; d++) {
		char field[64];
		snprintf(field, sizeof(field), "spec.network.%s", direction_names[d]);
		r = finish_direction(&acc[d], field, &dirs[d], err);
	}
	acc_free(&acc[0]);
	acc_free(&acc[1]);
	if (r < 0) {
		json_decref(dirs[0]);
		json_decref(dirs[1]);
		return r;
	}
	json_t *out = json_pack("{soso}", "egress", dirs[0], "ingress", dirs[1]);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
