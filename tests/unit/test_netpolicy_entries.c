/* Compiled network policy -> BPF map entries: exact entries for a small policy, and for many
 * random policies, the verdict the entries give (evaluated the way the BPF program does) equals
 * the verdict of the rules evaluated directly. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netpolicy/cidr.h"
#include "nodeagent/net/net_entries.h"
#include "netpolicy/netpolicy.h"
#include "netpolicy/rule.h"

static json_t *compile_text(const char *text, bool audit)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr), *out = NULL;
	struct field_error err = {0};
	if (!j)
		fail_msg("bad test JSON: %s", jerr.text);
	struct policy_section s = {.policy = "ns/p", .audit = audit, .section = j};
	if (netpolicy_compile(&s, 1, &out, &err) < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);
	json_decref(j);
	return out;
}

static void build(const json_t *compiled, struct net_entries *e)
{
	struct field_error err = {0};
	if (net_entries_build(compiled, e, &err) < 0)
		fail_msg("entries: %s: %s", err.field, err.reason);
}

static void v4(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void exact_entries_for_a_small_policy(void **state)
{
	json_t *c = compile_text(
		"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":["
		"{\"cidrs\":[\"10.0.0.0/8\",\"10.3.0.0/16\"],\"except\":[\"10.1.0.0/16\"],"
		"\"protocol\":\"TCP\",\"ports\":[{\"port\":80},{\"port\":8000,\"endPort\":8003}]},"
		"{\"action\":\"Deny\",\"cidrs\":[\"10.2.0.0/16\"]}]}}",
		false);
	struct net_entries e;
	build(c, &e);
	const struct net_dir_entries *d = &e.dir[NP_EGRESS];

	/* Classes in the order of the sorted rules: the Allow TCP rule sorts first. */
	assert_int_equal(d->rules.allow_enforce, 1);
	assert_int_equal(d->rules.deny_enforce, 2);
	assert_int_equal(d->rules.allow_all, 1);
	assert_int_equal(d->rules.deny_all, 2);
	assert_int_equal(d->rules.any_proto, 2);
	assert_int_equal(d->rules.proto_all[NP_SLOT_TCP], 0);
	assert_int_equal(d->rules.port_protos, 1u << NP_SLOT_TCP);
	assert_int_equal(d->rules.default_deny, 1);
	assert_int_equal(d->rules.default_deny_all, 1);

	/* 10.3.0.0/16 adds nothing to its parent and is left out. */
	assert_int_equal(d->n_prefixes, 3);
	char buf[CIDR_STR_MAX];
	const struct {
		const char *cidr;
		uint64_t classes;
	} want[] = {{"10.0.0.0/8", 1}, {"10.1.0.0/16", 0}, {"10.2.0.0/16", 3}};
	for (size_t i = 0; i < 3; i++) {
		struct cidr cc = {.family = d->prefixes[i].family,
				  .prefixlen = d->prefixes[i].prefixlen};
		memcpy(cc.addr, d->prefixes[i].addr, 16);
		assert_string_equal(cidr_format(&cc, buf), want[i].cidr);
		assert_int_equal(d->prefixes[i].classes, want[i].classes);
	}
	/* Port 80 is one /16 entry; 8000-8003 one aligned /14 block. */
	assert_int_equal(d->n_ports, 2);
	assert_int_equal(d->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(d->ports[0].port, 80);
	assert_int_equal(d->ports[0].prefixlen, 16);
	assert_int_equal(d->ports[1].port, 8000);
	assert_int_equal(d->ports[1].prefixlen, 14);

	/* Ingress: nothing, default Allow. */
	assert_int_equal(e.dir[NP_INGRESS].n_prefixes, 0);
	assert_int_equal(e.dir[NP_INGRESS].rules.default_deny, 0);

	uint8_t a[16];
	v4("10.9.9.9", a);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_TCP, 8002),
			 NP_VERDICT_ALLOW);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_TCP, 8004),
			 NP_VERDICT_DENY);
	v4("10.1.2.3", a);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_TCP, 80),
			 NP_VERDICT_DENY);
	v4("10.2.2.3", a);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_TCP, 80),
			 NP_VERDICT_DENY);
	net_entries_free(&e);
	json_decref(c);
}

static void audit_only_would_deny(void **state)
{
	json_t *c = compile_text("{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"cidrs\":"
				 "[\"192.0.2.0/24\"]}]}}",
				 true);
	struct net_entries e;
	build(c, &e);
	uint8_t a[16];
	v4("192.0.2.7", a);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_UDP, 53),
			 NP_VERDICT_ALLOW);
	v4("198.51.100.7", a);
	assert_int_equal(net_entries_verdict(&e, NP_EGRESS, 4, a, IPPROTO_UDP, 53),
			 NP_VERDICT_AUDIT);
	net_entries_free(&e);
	json_decref(c);
}

static void rejects_malformed_compiled_input(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"egress\":{}}",
		"{\"egress\":{\"defaultAction\":\"Deny\",\"auditDefaultAction\":\"Deny\",\"rules\":"
		"[{"
		"\"action\":\"Allow\",\"audit\":false,\"protocol\":\"TCP\",\"ports\":[{\"port\":9,"
		"\"endPort\":8}],\"cidrs\":[],\"except\":[]}]},\"ingress\":{\"defaultAction\":"
		"\"Allow\",\"auditDefaultAction\":\"Allow\",\"rules\":[]}}",
		"{\"egress\":{\"defaultAction\":\"Deny\",\"auditDefaultAction\":\"Deny\",\"rules\":"
		"[{"
		"\"action\":\"Allow\",\"audit\":false,\"protocol\":\"TCP\",\"ports\":[],\"cidrs\":["
		"\"10.0.0.1/8\"],\"except\":[]}]},\"ingress\":{\"defaultAction\":\"Allow\","
		"\"auditDefaultAction\":\"Allow\",\"rules\":[]}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		struct net_entries e;
		struct field_error err = {0};
		assert_non_null(j);
		assert_int_equal(net_entries_build(j, &e, &err), -EINVAL);
		assert_true(err.field[0] != '\0');
		json_decref(j);
	}
}

/* ---- random policies against a direct evaluation of the compiled rules ---- */

static unsigned rnd(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) % n;
}

/* Addresses from a small universe so prefixes nest and overlap often. */
static void random_prefix(unsigned *seed, bool v6, char *out, size_t size, int min_len)
{
	unsigned plen = (unsigned)min_len + rnd(seed, (v6 ? 128u : 32u) - (unsigned)min_len + 1);
	struct cidr c = {.family = v6 ? 6 : 4, .prefixlen = (uint8_t)plen};
	if (v6) {
		c.addr[0] = 0x20;
		c.addr[1] = 0x01;
		c.addr[2] = (uint8_t)rnd(seed, 2);
		c.addr[15] = (uint8_t)rnd(seed, 4);
		c.addr[8] = (uint8_t)(rnd(seed, 2) << 7);
	} else {
		c.addr[0] = 10;
		c.addr[1] = (uint8_t)rnd(seed, 3);
		c.addr[2] = (uint8_t)(rnd(seed, 2) << 7);
		c.addr[3] = (uint8_t)rnd(seed, 8);
	}
	cidr_mask(&c);
	char buf[CIDR_STR_MAX];
	snprintf(out, size, "%s", cidr_format(&c, buf));
}

static json_t *random_section(unsigned *seed)
{
	static const char *const protos[] = {"Any", "TCP", "UDP", "ICMP", "SCTP"};
	json_t *section = json_object();
	for (int d = 0; d < 2; d++) {
		json_t *rules = json_array();
		unsigned n = rnd(seed, 6);
		for (unsigned i = 0; i < n; i++) {
			json_t *rule = json_object();
			bool v6 = rnd(seed, 3) == 0;
			json_object_set_new(rule, "action",
					    json_string(rnd(seed, 3) == 0 ? "Deny" : "Allow"));
			const char *proto = protos[rnd(seed, 5)];
			json_object_set_new(rule, "protocol", json_string(proto));
			if (rnd(seed, 5) != 0) {
				char p[64];
				json_t *cidrs = json_array();
				unsigned k = 1 + rnd(seed, 3);
				random_prefix(seed, v6, p, sizeof(p), v6 ? 16 : 8);
				json_array_append_new(cidrs, json_string(p));
				for (unsigned j = 1; j < k; j++) {
					random_prefix(seed, v6, p, sizeof(p), v6 ? 16 : 8);
					json_array_append_new(cidrs, json_string(p));
				}
				json_object_set_new(rule, "cidrs", cidrs);
				/* An except inside the first cidr: a longer prefix of it. */
				if (rnd(seed, 2)) {
					struct cidr base, e;
					char why[64], buf[CIDR_STR_MAX];
					cidr_parse(json_string_value(json_array_get(cidrs, 0)),
						   &base, why, sizeof(why));
					e = base;
					unsigned max = cidr_max_prefixlen(base.family);
					e.prefixlen =
						(uint8_t)(base.prefixlen +
							  rnd(seed, max - base.prefixlen + 1));
					e.addr[base.family == 4 ? 3 : 15] ^= (uint8_t)rnd(seed, 4);
					e.addr[base.family == 4 ? 2 : 8] ^=
						(uint8_t)(rnd(seed, 2) << 7);
					/* Restore the bits base fixes, then mask to e's length. */
					struct cidr fixed = e;
					for (unsigned b = 0; b < base.prefixlen; b++) {
						uint8_t m = (uint8_t)(0x80 >> (b % 8));
						fixed.addr[b / 8] =
							(uint8_t)((fixed.addr[b / 8] & ~m) |
								  (base.addr[b / 8] & m));
					}
					cidr_mask(&fixed);
					json_object_set_new(
						rule, "except",
						json_pack("[s]", cidr_format(&fixed, buf)));
				}
			}
			if ((!strcmp(proto, "TCP") || !strcmp(proto, "UDP") ||
			     !strcmp(proto, "SCTP")) &&
			    rnd(seed, 2)) {
				json_t *ports = json_array();
				unsigned k = 1 + rnd(seed, 3);
				for (unsigned j = 0; j < k; j++) {
					unsigned lo = 1 + rnd(seed, 100);
					json_array_append_new(ports, json_pack("{sisi}", "port", lo,
									       "endPort",
									       lo + rnd(seed, 40)));
				}
				json_object_set_new(rule, "ports", ports);
			}
			json_array_append_new(rules, rule);
		}
		json_t *dir = json_pack("{ssso}", "defaultAction", rnd(seed, 2) ? "Deny" : "Allow",
					"rules", rules);
		json_object_set_new(section, d ? "ingress" : "egress", dir);
	}
	return section;
}

static bool list_contains(const json_t *list, uint8_t family, const uint8_t *addr)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		struct cidr c,
			a = {.family = family, .prefixlen = (uint8_t)cidr_max_prefixlen(family)};
		char why[64];
		memcpy(a.addr, addr, 16);
		assert_int_equal(cidr_parse(json_string_value(v), &c, why, sizeof(why)), 0);
		if (cidr_contains(&c, &a))
			return true;
	}
	return false;
}

/* The rules' meaning, straight from the compiled JSON. */
static enum np_verdict direct_verdict(const json_t *dir, uint8_t family, const uint8_t *addr,
				      uint8_t proto, uint16_t port)
{
	bool deny_e = false, allow_e = false, deny_a = false, allow_a = false;
	size_t i;
	json_t *rule;

	json_array_foreach (json_object_get(dir, "rules"), i, rule) {
		int p = netpolicy_protocol_from_name(
			json_string_value(json_object_get(rule, "protocol")));
		if (p != NETPOLICY_PROTO_ANY && netpolicy_protocol_number(p) != proto)
			continue;
		json_t *ports = json_object_get(rule, "ports"), *r;
		size_t j;
		bool port_ok = json_array_size(ports) == 0;
		json_array_foreach (ports, j, r)
			port_ok = port_ok ||
				  (port >= json_integer_value(json_object_get(r, "port")) &&
				   port <= json_integer_value(json_object_get(r, "endPort")));
		if (!port_ok || !list_contains(json_object_get(rule, "cidrs"), family, addr) ||
		    list_contains(json_object_get(rule, "except"), family, addr))
			continue;
		bool deny = !strcmp(json_string_value(json_object_get(rule, "action")), "Deny");
		bool audit = json_is_true(json_object_get(rule, "audit"));
		if (deny) {
			deny_a = true;
			deny_e = deny_e || !audit;
		} else {
			allow_a = true;
			allow_e = allow_e || !audit;
		}
	}
	bool def = !strcmp(json_string_value(json_object_get(dir, "defaultAction")), "Deny");
	bool def_a = def ||
		     !strcmp(json_string_value(json_object_get(dir, "auditDefaultAction")), "Deny");
	bool deny = deny_e ? true : allow_e ? false : def;
	bool would = deny_a ? true : allow_a ? false : def_a;
	return deny ? NP_VERDICT_DENY : would ? NP_VERDICT_AUDIT : NP_VERDICT_ALLOW;
}

static void entries_agree_with_rules(void **state)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_SCTP, 47};
	unsigned seed = 12345;
	size_t checked = 0;

	for (int round = 0; round < 300; round++) {
		struct policy_section s[3];
		json_t *sections[3];
		unsigned n = 1 + rnd(&seed, 3);
		for (unsigned i = 0; i < n; i++) {
			sections[i] = random_section(&seed);
			s[i] = (struct policy_section){.policy = "ns/r",
						       .audit = rnd(&seed, 3) == 0,
						       .section = sections[i]};
		}
		json_t *compiled = NULL;
		struct field_error err = {0};
		if (netpolicy_compile(s, n, &compiled, &err) < 0)
			fail_msg("round %d: %s: %s", round, err.field, err.reason);
		struct net_entries e;
		build(compiled, &e);
		for (int k = 0; k < 200; k++) {
			uint8_t addr[16] = {0}, family = rnd(&seed, 3) == 0 ? 6 : 4;
			if (family == 4) {
				addr[0] = 10;
				addr[1] = (uint8_t)rnd(&seed, 4);
				addr[2] = (uint8_t)(rnd(&seed, 2) << 7 | rnd(&seed, 2));
				addr[3] = (uint8_t)rnd(&seed, 9);
			} else {
				addr[0] = 0x20;
				addr[1] = 0x01;
				addr[2] = (uint8_t)rnd(&seed, 3);
				addr[8] = (uint8_t)(rnd(&seed, 2) << 7);
				addr[15] = (uint8_t)rnd(&seed, 5);
			}
			uint8_t proto = protos[rnd(&seed, 5)];
			uint16_t port = (uint16_t)(1 + rnd(&seed, 150));
			for (int d = 0; d < NP_DIRECTIONS; d++) {
				const json_t *dir =
					json_object_get(compiled, d ? "ingress" : "egress");
				enum np_verdict want =
					direct_verdict(dir, family, addr, proto, port);
				enum np_verdict got =
					net_entries_verdict(&e, d, family, addr, proto, port);
				if (want != got) {
					char *t = json_dumps(dir, JSON_COMPACT);
					fail_msg(
						"round %d dir %d proto %u port %u addr %u.%u.%u.%u/"
						"%02x%02x: want %d got %d\n%s",
						round, d, proto, port, addr[0], addr[1], addr[2],
						addr[3], addr[8], addr[15], want, got, t);
				}
				checked++;
			}
		}
		net_entries_free(&e);
		json_decref(compiled);
		for (unsigned i = 0; i < n; i++)
			json_decref(sections[i]);
	}
	assert_int_equal(checked, 300 * 200 * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_entries_for_a_small_policy),
		cmocka_unit_test(audit_only_would_deny),
		cmocka_unit_test(rejects_malformed_compiled_input),
		cmocka_unit_test(entries_agree_with_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
