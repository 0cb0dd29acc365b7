#include "nodeagent/net/net_entries.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "netpolicy/cidr.h"
#include "netpolicy/netpolicy.h"
#include "netpolicy/rule.h"

#define FIELD_MAX 256

static const char *const direction_names[NP_DIRECTIONS] = {"egress", "ingress"};

struct parsed_rule {
	bool deny, audit;
	enum netpolicy_protocol proto;
	const json_t *ports; /* normalized list, borrowed from the compiled JSON */
	unsigned class_id;
};

/* One cidr or except of one rule. */
struct tag {
	struct cidr c;
	uint32_t rule;
	bool except;
};

struct builder {
	struct parsed_rule *rules;
	size_t n_rules;
	uint32_t *cidr_hits;		     /* per rule: cidrs on the trie path */
	uint32_t *except_hits;		     /* per rule: excepts on the trie path */
	uint32_t class_hits[NP_MAX_CLASSES]; /* per class: rules covering the path */
};

static int slot_of(enum netpolicy_protocol p)
{
	switch (p) {
	case NETPOLICY_PROTO_TCP: return NP_SLOT_TCP;
	case NETPOLICY_PROTO_UDP: return NP_SLOT_UDP;
	case NETPOLICY_PROTO_ICMP: return NP_SLOT_ICMP;
	case NETPOLICY_PROTO_ICMPV6: return NP_SLOT_ICMPV6;
	case NETPOLICY_PROTO_SCTP: return NP_SLOT_SCTP;
	default: return -1;
	}
}

static int slot_of_number(uint8_t proto)
{
	for (int p = 0; p < NETPOLICY_PROTOS; p++)
		if (p != NETPOLICY_PROTO_ANY && netpolicy_protocol_number(p) == proto)
			return slot_of(p);
	return -1;
}

static bool covers(const struct builder *b, uint32_t r)
{
	return b->cidr_hits[r] > 0 && b->except_hits[r] == 0;
}

/* Enter (delta 1) or leave (delta -1) a trie node carrying tags. */
static void apply_tags(struct builder *b, const struct tag *t, size_t n, int delta)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t r = t[i].rule;
		bool before = covers(b, r);
		if (t[i].except)
			b->except_hits[r] += (uint32_t)delta;
		else
			b->cidr_hits[r] += (uint32_t)delta;
		bool after = covers(b, r);
		if (before != after)
			b->class_hits[b->rules[r].class_id] += after ? 1u : (uint32_t)-1;
	}
}

static uint64_t covered_classes(const struct builder *b)
{
	uint64_t m = 0;
	for (unsigned c = 0; c < NP_MAX_CLASSES; c++)
		if (b->class_hits[c])
			m |= 1ull << c;
	return m;
}

static int tag_cmp(const void *a, const void *b)
{
	return cidr_compare(&((const struct tag *)a)->c, &((const struct tag *)b)->c);
}

/* Depth-first walk over the distinct prefixes (sorted order is trie order), keeping the
 * ancestors on a stack; see entries.h for why each node's bitmap is what a lookup needs. */
static int build_prefixes(struct builder *b, struct tag *tags, size_t n_tags,
			  struct net_dir_entries *out)
{
	struct {
		size_t first, n;
		uint64_t bits;
	} stack[130];
	size_t depth = 0;

	qsort(tags, n_tags, sizeof(*tags), tag_cmp);
	out->prefixes = calloc(n_tags ? n_tags : 1, sizeof(*out->prefixes));
	if (!out->prefixes)
		return -ENOMEM;
	for (size_t i = 0; i < n_tags;) {
		size_t j = i + 1;
		while (j < n_tags && cidr_compare(&tags[i].c, &tags[j].c) == 0)
			j++;
		while (depth > 0 && !cidr_contains(&tags[stack[depth - 1].first].c, &tags[i].c)) {
			depth--;
			apply_tags(b, &tags[stack[depth].first], stack[depth].n, -1);
		}
		uint64_t parent = depth > 0 ? stack[depth - 1].bits : 0;
		apply_tags(b, &tags[i], j - i, 1);
		uint64_t bits = covered_classes(b);
		if (bits != parent) {
			struct net_prefix_entry *e = &out->prefixes[out->n_prefixes++];
			e->family = tags[i].c.family;
			e->prefixlen = tags[i].c.prefixlen;
			memcpy(e->addr, tags[i].c.addr, sizeof(e->addr));
			e->classes = bits;
		}
		/* Nesting is bounded by the prefix lengths: at most 129 distinct levels. */
		stack[depth].first = i;
		stack[depth].n = j - i;
		stack[depth].bits = bits;
		depth++;
		i = j;
	}
	while (depth > 0) {
		depth--;
		apply_tags(b, &tags[stack[depth].first], stack[depth].n, -1);
	}
	return 0;
}

struct port_event {
	uint32_t at; /* first port of a change, 0..65536 */
	unsigned class_id;
	int delta;
};

static int event_cmp(const void *a, const void *b)
{
	const struct port_event *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

static int emit_port_segment(struct net_dir_entries *out, size_t *cap, uint8_t proto, uint32_t lo,
			     uint32_t hi, uint64_t classes)
{
	while (lo <= hi) {
		unsigned k = 0;
		/* The largest aligned block starting at lo that stays inside the segment. */
		while (k < 16 && (lo & ((2u << k) - 1)) == 0 && lo + (2u << k) - 1 <= hi)
			k++;
		if (out->n_ports == *cap) {
			size_t ncap = *cap ? *cap * 2 : 32;
			struct net_port_entry *p = realloc(out->ports, ncap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			out->ports = p;
			*cap = ncap;
		}
		out->ports[out->n_ports++] = (struct net_port_entry){.proto = proto,
								     .prefixlen = (uint8_t)(16 - k),
								     .port = (uint16_t)lo,
								     .classes = classes};
		lo += 1u << k;
	}
	return 0;
}

static int build_ports(const struct builder *b, struct net_dir_entries *out)
{
	static const enum netpolicy_protocol with_ports[] = {
		NETPOLICY_PROTO_TCP, NETPOLICY_PROTO_UDP, NETPOLICY_PROTO_SCTP};
	size_t cap = 0;

	for (size_t p = 0; p < ARRAY_SIZE(with_ports); p++) {
		size_t n_events = 0, i;
		for (i = 0; i < b->n_rules; i++)
			if (b->rules[i].proto == with_ports[p])
				n_events += 2 * json_array_size(b->rules[i].ports);
		if (n_events == 0)
			continue;
		_cleanup_free_ struct port_event *ev = calloc(n_events, sizeof(*ev));
		if (!ev)
			return -ENOMEM;
		size_t k = 0;
		for (i = 0; i < b->n_rules; i++) {
			const json_t *range;
			size_t j;
			if (b->rules[i].proto != with_ports[p])
				continue;
			json_array_foreach (b->rules[i].ports, j, range) {
				uint32_t lo = (uint32_t)json_integer_value(
					json_object_get(range, "port"));
				uint32_t hi = (uint32_t)json_integer_value(
					json_object_get(range, "endPort"));
				ev[k++] = (struct port_event){lo, b->rules[i].class_id, 1};
				ev[k++] = (struct port_event){hi + 1, b->rules[i].class_id, -1};
			}
		}
		qsort(ev, n_events, sizeof(*ev), event_cmp);
		uint32_t hits[NP_MAX_CLASSES] = {0};
		for (i = 0; i < n_events;) {
			uint32_t at = ev[i].at;
			for (; i < n_events && ev[i].at == at; i++)
				hits[ev[i].class_id] += (uint32_t)ev[i].delta;
			if (i == n_events || at > 65535)
				break;
			uint64_t m = 0;
			for (unsigned c = 0; c < NP_MAX_CLASSES; c++)
				if (hits[c])
					m |= 1ull << c;
			if (!m)
				continue;
			int r = emit_port_segment(out, &cap,
						  netpolicy_protocol_number(with_ports[p]), at,
						  ev[i].at - 1, m);
			if (r < 0)
				return r;
		}
		out->rules.port_protos |= (uint8_t)(1u << slot_of(with_ports[p]));
	}
	return 0;
}

static int parse_action(const json_t *dir, const char *key, const char *field, bool *ret,
			struct field_error *err)
{
	const json_t *v = json_object_get(dir, key);
	int deny = json_is_string(v) ? netpolicy_action_is_deny(json_string_value(v)) : -EINVAL;
	if (deny < 0)
		return field_error_set(err, field, "%s must be Allow or Deny", key);
	*ret = deny;
	return 0;
}

/* Class ids in order of first appearance; the compiled rules are sorted, so ids are stable. */
static int assign_class(struct parsed_rule *rules, size_t i, unsigned *n_classes)
{
	for (size_t j = 0; j < i; j++) {
		const struct parsed_rule *o = &rules[j];
		if (o->deny == rules[i].deny && o->audit == rules[i].audit &&
		    o->proto == rules[i].proto && json_equal(o->ports, rules[i].ports)) {
			rules[i].class_id = o->class_id;
			return 0;
		}
	}
	if (*n_classes >= NP_MAX_CLASSES)
		return -E2BIG;
	rules[i].class_id = (*n_classes)++;
	return 0;
}

static int parse_ports(const json_t *ports, const char *field, struct field_error *err)
{
	size_t i;
	const json_t *p;

	if (!json_is_array(ports) || json_array_size(ports) > NETPOLICY_MAX_PORTS)
		return field_error_set(err, field, "must be a list of at most %d port ranges",
				       NETPOLICY_MAX_PORTS);
	json_array_foreach (ports, i, p) {
		const json_t *lo = json_object_get(p, "port"), *hi = json_object_get(p, "endPort");
		if (!json_is_integer(lo) || !json_is_integer(hi) || json_integer_value(lo) < 1 ||
		    json_integer_value(hi) > 65535 ||
		    json_integer_value(hi) < json_integer_value(lo))
			return field_error_set(err, field,
					       "entry %zu must be {port, endPort} with "
					       "1 <= port <= endPort <= 65535",
					       i);
	}
	return 0;
}

static int add_tags(const json_t *list, const char *field, uint32_t rule, bool except,
		    struct tag *tags, size_t *n, size_t cap, struct field_error *err)
{
	size_t i;
	const json_t *v;
	char why[128];

	if (!json_is_array(list))
		return field_error_set(err, field, "must be a list of CIDRs");
	json_array_foreach (list, i, v) {
		if (*n >= cap)
			return field_error_set(err, field, "more than %d cidrs and excepts",
					       NETPOLICY_MAX_PREFIXES);
		if (!json_is_string(v) ||
		    cidr_parse(json_string_value(v), &tags[*n].c, why, sizeof(why)) < 0)
			return field_error_set(err, field, "entry %zu is not a canonical CIDR", i);
		tags[*n].rule = rule;
		tags[*n].except = except;
		(*n)++;
	}
	return 0;
}

static int build_direction(const json_t *dir, const char *field, struct net_dir_entries *out,
			   struct field_error *err)
{
	char f[FIELD_MAX];
	bool def, def_all;
	unsigned n_classes = 0;
	int r;

	if (!json_is_object(dir))
		return field_error_set(err, field, "must be an object");
	r = parse_action(dir, "defaultAction", field, &def, err);
	if (r < 0)
		return r;
	r = parse_action(dir, "auditDefaultAction", field, &def_all, err);
	if (r < 0)
		return r;
	out->rules.default_deny = def;
	out->rules.default_deny_all = def || def_all;

	const json_t *rules = json_object_get(dir, "rules");
	snprintf(f, sizeof(f), "%s.rules", field);
	if (!json_is_array(rules))
		return field_error_set(err, f, "must be a list");
	size_t n = json_array_size(rules), n_tags = 0, i;
	struct builder b = {.n_rules = n};
	_cleanup_free_ struct parsed_rule *parsed = calloc(n ? n : 1, sizeof(*parsed));
	_cleanup_free_ uint32_t *cidr_hits = calloc(n ? n : 1, sizeof(uint32_t));
	_cleanup_free_ uint32_t *except_hits = calloc(n ? n : 1, sizeof(uint32_t));
	if (!parsed || !cidr_hits || !except_hits)
		return -ENOMEM;
	b.rules = parsed;
	b.cidr_hits = cidr_hits;
	b.except_hits = except_hits;

	for (i = 0; i < n; i++) {
		const json_t *rule = json_array_get(rules, i);
		snprintf(f, sizeof(f), "%s.rules[%zu]", field, i);
		const json_t *action = json_object_get(rule, "action");
		const json_t *proto = json_object_get(rule, "protocol");
		int p = json_is_string(proto)
				? netpolicy_protocol_from_name(json_string_value(proto))
				: -EINVAL;
		int deny = json_is_string(action)
				   ? netpolicy_action_is_deny(json_string_value(action))
				   : -EINVAL;
		if (p < 0 || deny < 0 || !json_is_boolean(json_object_get(rule, "audit")))
			return field_error_set(err, f, "needs action, audit and protocol");
		parsed[i] =
			(struct parsed_rule){.deny = deny,
					     .audit = json_is_true(json_object_get(rule, "audit")),
					     .proto = p,
					     .ports = json_object_get(rule, "ports")};
		snprintf(f, sizeof(f), "%s.rules[%zu].ports", field, i);
		r = parse_ports(parsed[i].ports, f, err);
		if (r < 0)
			return r;
		if (json_array_size(parsed[i].ports) > 0 && !netpolicy_protocol_has_ports(p))
			return field_error_set(err, f, "ports need protocol TCP, UDP or SCTP");
		if (assign_class(parsed, i, &n_classes) < 0)
			return field_error_set(err, field, "more than %d distinct rule kinds",
					       NP_MAX_CLASSES);
		n_tags += json_array_size(json_object_get(rule, "cidrs")) +
			  json_array_size(json_object_get(rule, "except"));
	}
	if (n_tags > NETPOLICY_MAX_PREFIXES)
		return field_error_set(err, field, "more than %d cidrs and excepts",
				       NETPOLICY_MAX_PREFIXES);

	_cleanup_free_ struct tag *tags = calloc(n_tags ? n_tags : 1, sizeof(*tags));
	if (!tags)
		return -ENOMEM;
	size_t k = 0;
	for (i = 0; i < n; i++) {
		const json_t *rule = json_array_get(rules, i);
		snprintf(f, sizeof(f), "%s.rules[%zu].cidrs", field, i);
		r = add_tags(json_object_get(rule, "cidrs"), f, (uint32_t)i, false, tags, &k,
			     n_tags, err);
		if (r < 0)
			return r;
		snprintf(f, sizeof(f), "%s.rules[%zu].except", field, i);
		r = add_tags(json_object_get(rule, "except"), f, (uint32_t)i, true, tags, &k,
			     n_tags, err);
		if (r < 0)
			return r;
	}

	for (i = 0; i < n; i++) {
		uint64_t bit = 1ull << parsed[i].class_id;
		int slot = slot_of(parsed[i].proto);
		if (parsed[i].deny) {
			out->rules.deny_all |= bit;
			if (!parsed[i].audit)
				out->rules.deny_enforce |= bit;
		} else {
			out->rules.allow_all |= bit;
			if (!parsed[i].audit)
				out->rules.allow_enforce |= bit;
		}
		if (slot < 0)
			out->rules.any_proto |= bit;
		else if (json_array_size(parsed[i].ports) == 0)
			out->rules.proto_all[slot] |= bit;
	}

	r = build_prefixes(&b, tags, k, out);
	if (r < 0)
		return r;
	return build_ports(&b, out);
}

void net_entries_free(struct net_entries *e)
{
	if (!e)
		return;
	for (int d = 0; d < NP_DIRECTIONS; d++) {
		free(e->dir[d].prefixes);
		free(e->dir[d].ports);
	}
	memset(e, 0, sizeof(*e));
}

int net_entries_build(const json_t *compiled, struct net_entries *ret, struct field_error *err)
{
	struct net_entries e = {0};
	char field[64];
	int r = 0;

	if (!json_is_object(compiled))
		return field_error_set(err, "network", "must be an object");
	for (int d = 0; d < NP_DIRECTIONS && r >= 0; d++) {
		snprintf(field, sizeof(field), "network.%s", direction_names[d]);
		r = build_direction(json_object_get(compiled, direction_names[d]), field, &e.dir[d],
				    err);
	}
	if (r < 0) {
		net_entries_free(&e);
		return r;
	}
	*ret = e;
	return 0;
}

static bool addr_in(const struct net_prefix_entry *p, uint8_t family, const uint8_t *addr)
{
	struct cidr outer = {.family = p->family, .prefixlen = p->prefixlen};
	struct cidr inner = {.family = family, .prefixlen = (uint8_t)cidr_max_prefixlen(family)};
	memcpy(outer.addr, p->addr, 16);
	memcpy(inner.addr, addr, family == 4 ? 4 : 16);
	return cidr_contains(&outer, &inner);
}

/* Mirrors matching_classes() and handle() in nodeagent/net/net.bpf.c, longest-prefix lookups
 * done by scanning. */
enum np_verdict net_entries_verdict(const struct net_entries *e, enum np_direction dir,
				    uint8_t family, const uint8_t addr[16], uint8_t proto,
				    uint16_t port)
{
	const struct net_dir_entries *de = &e->dir[dir];
	const struct np_dir_rules *d = &de->rules;
	uint64_t proto_bits = d->any_proto, cidr_bits = 0;
	int slot = slot_of_number(proto), best = -1;

	if (slot >= 0) {
		uint64_t port_bits = 0;
		for (size_t i = 0; i < de->n_ports; i++) {
			const struct net_port_entry *p = &de->ports[i];
			uint32_t span = 1u << (16 - p->prefixlen);
			if (p->proto == proto && port >= p->port && port < p->port + span &&
			    p->prefixlen > best) {
				best = p->prefixlen;
				port_bits = p->classes;
			}
		}
		proto_bits |= d->proto_all[slot] | port_bits;
	}
	best = -1;
	for (size_t i = 0; i < de->n_prefixes; i++) {
		const struct net_prefix_entry *p = &de->prefixes[i];
		if (p->prefixlen > best && addr_in(p, family, addr)) {
			best = p->prefixlen;
			cidr_bits = p->classes;
		}
	}
	uint64_t m = cidr_bits & proto_bits;
	bool deny = m & d->deny_enforce ? true : m & d->allow_enforce ? false : d->default_deny;
	bool would = m & d->deny_all ? true : m & d->allow_all ? false : d->default_deny_all;
	return deny ? NP_VERDICT_DENY : would ? NP_VERDICT_AUDIT : NP_VERDICT_ALLOW;
}
