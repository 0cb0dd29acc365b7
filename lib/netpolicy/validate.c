/* Semantic validation of spec.network: shapes, enums, CIDRs, ports and bounds, each error
 * naming the exact field. */
#include "netpolicy/netpolicy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "netpolicy/cidr.h"
#include "netpolicy/rule.h"

#define FIELD_MAX 256

/* A child field path; over-long paths are cut, which only shortens an error message. */
__attribute__((format(printf, 2, 3))) static const char *subfield(char out[FIELD_MAX],
								  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, FIELD_MAX, fmt, ap);
	va_end(ap);
	return out;
}

static int check_keys(const json_t *obj, const char *field, const char *const *allowed,
		      struct field_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)obj, key, v) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			known = known || strcmp(key, *a) == 0;
		if (!known)
			return field_error_set(err, field, "unknown field \"%.64s\"", key);
	}
	return 0;
}

static int parse_cidr_at(const json_t *v, const char *field, struct cidr *ret,
			 struct field_error *err)
{
	char why[128];

	if (!json_is_string(v))
		return field_error_set(err, field, "must be a CIDR string");
	const char *s = json_string_value(v);
	if (strlen(s) > NETPOLICY_MAX_CIDR_STRLEN)
		return field_error_set(err, field, "invalid CIDR \"%.64s...\": too long", s);
	if (cidr_parse(s, ret, why, sizeof(why)) < 0)
		return field_error_set(err, field, "invalid CIDR \"%s\": %s", s, why);
	return 0;
}

static int cidr_cmp_qsort(const void *a, const void *b)
{
	return cidr_compare(a, b);
}

/* Whether e lies inside one of the sorted prefixes: try every shorter prefix of e. */
static bool inside_any(const struct cidr *sorted, size_t n, const struct cidr *e)
{
	for (int plen = e->prefixlen; plen >= 0; plen--) {
		struct cidr probe = *e;
		probe.prefixlen = (uint8_t)plen;
		cidr_mask(&probe);
		if (bsearch(&probe, sorted, n, sizeof(*sorted), cidr_cmp_qsort))
			return true;
	}
	return false;
}

static int validate_ports(const json_t *ports, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"port", "endPort", NULL};
	char f[FIELD_MAX];
	size_t i;
	json_t *p;

	if (!json_is_array(ports))
		return field_error_set(err, field, "must be a list");
	if (json_array_size(ports) > NETPOLICY_MAX_PORTS)
		return field_error_set(err, field, "at most %d entries, not %zu",
				       NETPOLICY_MAX_PORTS, json_array_size(ports));
	json_array_foreach (ports, i, p) {
		subfield(f, "%s[%zu]", field, i);
		if (!json_is_object(p))
			return field_error_set(err, f, "must be an object with port and endPort");
		int r = check_keys(p, f, keys, err);
		if (r < 0)
			return r;
		const json_t *port = json_object_get(p, "port"),
			     *end = json_object_get(p, "endPort");
		subfield(f, "%s[%zu].port", field, i);
		if (!port)
			return field_error_set(err, f, "required");
		if (!json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535)
			return field_error_set(err, f, "must be an integer 1..65535");
		if (end) {
			subfield(f, "%s[%zu].endPort", field, i);
			if (!json_is_integer(end) || json_integer_value(end) > 65535)
				return field_error_set(err, f, "must be an integer 1..65535");
			if (json_integer_value(end) < json_integer_value(port))
				return field_error_set(err, f, "must be >= port (%lld), not %lld",
						       (long long)json_integer_value(port),
						       (long long)json_integer_value(end));
		}
	}
	return 0;
}

static int validate_rule(const json_t *rule, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"action", "cidrs", "except", "protocol", "ports", NULL};
	char f[FIELD_MAX];
	int proto = NETPOLICY_PROTO_ANY, r;

	if (!json_is_object(rule))
		return field_error_set(err, field, "must be an object");
	r = check_keys(rule, field, keys, err);
	if (r < 0)
		return r;

	const json_t *action = json_object_get(rule, "action");
	if (action) {
		subfield(f, "%s.action", field);
		if (!json_is_string(action) ||
		    netpolicy_action_is_deny(json_string_value(action)) < 0)
			return field_error_set(err, f, "must be Allow or Deny");
	}
	const json_t *protocol = json_object_get(rule, "protocol");
	if (protocol) {
		subfield(f, "%s.protocol", field);
		if (!json_is_string(protocol) ||
		    (proto = netpolicy_protocol_from_name(json_string_value(protocol))) < 0)
			return field_error_set(err, f,
					       "must be one of TCP, UDP, ICMP, ICMPv6, SCTP, Any");
	}

	const json_t *ports = json_object_get(rule, "ports");
	if (ports) {
		subfield(f, "%s.ports", field);
		r = validate_ports(ports, f, err);
		if (r < 0)
			return r;
		if (json_array_size(ports) > 0 && !netpolicy_protocol_has_ports(proto))
			return field_error_set(err, f,
					       "ports need protocol TCP, UDP or SCTP, not %s",
					       netpolicy_protocol_name(proto));
	}

	const json_t *cidrs = json_object_get(rule, "cidrs"),
		     *except = json_object_get(rule, "except");
	_cleanup_free_ struct cidr *parsed = NULL;
	size_t n = 0, i;
	json_t *v;
	if (cidrs) {
		subfield(f, "%s.cidrs", field);
		if (!json_is_array(cidrs))
			return field_error_set(err, f, "must be a list of CIDRs");
		if (json_array_size(cidrs) == 0)
			return field_error_set(
				err, f, "must not be empty (leave it out to mean every address)");
		if (json_array_size(cidrs) > NETPOLICY_MAX_CIDRS)
			return field_error_set(err, f, "at most %d entries, not %zu",
					       NETPOLICY_MAX_CIDRS, json_array_size(cidrs));
		parsed = calloc(json_array_size(cidrs), sizeof(*parsed));
		if (!parsed)
			return -ENOMEM;
		json_array_foreach (cidrs, i, v) {
			subfield(f, "%s.cidrs[%zu]", field, i);
			r = parse_cidr_at(v, f, &parsed[n++], err);
			if (r < 0)
				return r;
		}
		qsort(parsed, n, sizeof(*parsed), cidr_cmp_qsort);
	}
	if (except) {
		subfield(f, "%s.except", field);
		if (!json_is_array(except))
			return field_error_set(err, f, "must be a list of CIDRs");
		if (json_array_size(except) > NETPOLICY_MAX_EXCEPT)
			return field_error_set(err, f, "at most %d entries, not %zu",
					       NETPOLICY_MAX_EXCEPT, json_array_size(except));
		json_array_foreach (except, i, v) {
			struct cidr e;
			subfield(f, "%s.except[%zu]", field, i);
			r = parse_cidr_at(v, f, &e, err);
			if (r < 0)
				return r;
			if (cidrs && !inside_any(parsed, n, &e))
				return field_error_set(
					err, f,
					"\"%s\" is not inside any of the rule's cidrs "
					"of the same address family",
					json_string_value(v));
		}
	}
	return 0;
}

static int validate_direction(const json_t *dir, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"defaultAction", "rules", NULL};
	char f[FIELD_MAX];
	size_t i;
	json_t *rule;
	int r;

	if (!json_is_object(dir))
		return field_error_set(err, field, "must be an object");
	r = check_keys(dir, field, keys, err);
	if (r < 0)
		return r;
	const json_t *def = json_object_get(dir, "defaultAction");
	if (def) {
		subfield(f, "%s.defaultAction", field);
		if (!json_is_string(def) || netpolicy_action_is_deny(json_string_value(def)) < 0)
			return field_error_set(err, f, "must be Allow or Deny");
	}
	const json_t *rules = json_object_get(dir, "rules");
	if (!rules)
		return 0;
	subfield(f, "%s.rules", field);
	if (!json_is_array(rules))
		return field_error_set(err, f, "must be a list");
	if (json_array_size(rules) > NETPOLICY_MAX_RULES)
		return field_error_set(err, f, "at most %d rules, not %zu", NETPOLICY_MAX_RULES,
				       json_array_size(rules));
	json_array_foreach (rules, i, rule) {
		subfield(f, "%s.rules[%zu]", field, i);
		r = validate_rule(rule, f, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int netpolicy_validate(const json_t *section, const char *field, struct field_error *err)
{
	static const char *const keys[] = {"egress", "ingress", NULL};
	static const char *const dirs[] = {"egress", "ingress"};
	char f[FIELD_MAX];
	int r;

	if (!json_is_object(section))
		return field_error_set(err, field, "must be an object");
	r = check_keys(section, field, keys, err);
	if (r < 0)
		return r;
	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		const json_t *dir = json_object_get(section, dirs[d]);
		if (!dir)
			continue;
		subfield(f, "%s.%s", field, dirs[d]);
		r = validate_direction(dir, f, err);
		if (r < 0)
			return r;
	}
	return 0;
}
