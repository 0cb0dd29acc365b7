/* spec.network validation: every rejection names the exact field and the reason; CIDR parsing
 * edge cases (/0, /32, /128, IPv4-mapped, host bits, malformed prefixes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netpolicy/cidr.h"
#include "netpolicy/netpolicy.h"

/* The "field: reason" message for section text, or "" when it is valid. */
static const char *validate_text(const char *text, char out[1024])
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	struct field_error err = {0};

	if (!j)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	int r = netpolicy_validate(j, "spec.network", &err);
	json_decref(j);
	if (r == 0) {
		assert_string_equal(err.field, "");
		out[0] = '\0';
		return out;
	}
	assert_int_equal(r, -EINVAL);
	return field_error_str(&err, out, 1024);
}

static void rejects_with_exact_messages(void **state)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
		{"{\"egress\":{\"rules\":[{},{},{\"cidrs\":[\"10.0.0.0/33\"]}]}}",
		 "spec.network.egress.rules[2].cidrs[0]: invalid CIDR \"10.0.0.0/33\": prefix "
		 "length "
		 "must be 0..32"},
		{"{\"ingress\":{\"rules\":[{\"cidrs\":[\"fd00::/129\"]}]}}",
		 "spec.network.ingress.rules[0].cidrs[0]: invalid CIDR \"fd00::/129\": prefix "
		 "length "
		 "must be 0..128"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.1\"]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: invalid CIDR \"10.0.0.1\": missing \"/\" "
		 "and "
		 "prefix length"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.1/8\"]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: invalid CIDR \"10.0.0.1/8\": host bits "
		 "set "
		 "after the prefix (the network is \"10.0.0.0/8\")"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0/8\"]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: invalid CIDR \"10.0.0/8\": not an IPv4 or "
		 "IPv6 address"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/08\"]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: invalid CIDR \"10.0.0.0/08\": prefix "
		 "length "
		 "must be 0..32"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/-1\"]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: invalid CIDR \"10.0.0.0/-1\": prefix "
		 "length "
		 "must be 0..32"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[42]}]}}",
		 "spec.network.egress.rules[0].cidrs[0]: must be a CIDR string"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[]}]}}",
		 "spec.network.egress.rules[0].cidrs: must not be empty (leave it out to mean "
		 "every "
		 "address)"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/8\"],\"except\":[\"10.1.0.0/16\","
		 "\"11.0.0.0/16\"]}]}}",
		 "spec.network.egress.rules[0].except[1]: \"11.0.0.0/16\" is not inside any of the "
		 "rule's cidrs of the same address family"},
		{"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/8\"],\"except\":[\"::/0\"]}]}}",
		 "spec.network.egress.rules[0].except[0]: \"::/0\" is not inside any of the rule's "
		 "cidrs of the same address family"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"TCP\",\"ports\":[{\"port\":0}]}]}}",
		 "spec.network.egress.rules[0].ports[0].port: must be an integer 1..65535"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"TCP\",\"ports\":[{\"port\":65536}]}]}}",
		 "spec.network.egress.rules[0].ports[0].port: must be an integer 1..65535"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"UDP\",\"ports\":[{\"port\":80,"
		 "\"endPort\":"
		 "79}]}]}}",
		 "spec.network.egress.rules[0].ports[0].endPort: must be >= port (80), not 79"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"ICMP\",\"ports\":[{\"port\":80}]}]}}",
		 "spec.network.egress.rules[0].ports: ports need protocol TCP, UDP or SCTP, not "
		 "ICMP"},
		{"{\"egress\":{\"rules\":[{\"ports\":[{\"port\":80}]}]}}",
		 "spec.network.egress.rules[0].ports: ports need protocol TCP, UDP or SCTP, not "
		 "Any"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"tcp\"}]}}",
		 "spec.network.egress.rules[0].protocol: must be one of TCP, UDP, ICMP, ICMPv6, "
		 "SCTP, "
		 "Any"},
		{"{\"egress\":{\"rules\":[{\"action\":\"Drop\"}]}}",
		 "spec.network.egress.rules[0].action: must be Allow or Deny"},
		{"{\"ingress\":{\"defaultAction\":\"Reject\"}}",
		 "spec.network.ingress.defaultAction: must be Allow or Deny"},
		{"{\"egress\":{\"rules\":[{\"cidr\":[\"10.0.0.0/8\"]}]}}",
		 "spec.network.egress.rules[0]: unknown field \"cidr\""},
		{"{\"outbound\":{}}", "spec.network: unknown field \"outbound\""},
		{"{\"egress\":[]}", "spec.network.egress: must be an object"},
		{"[]", "spec.network: must be an object"},
		{"{\"egress\":{\"rules\":[{\"protocol\":\"TCP\",\"ports\":[{\"endPort\":80}]}]}}",
		 "spec.network.egress.rules[0].ports[0].port: required"},
	};
	char out[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(validate_text(cases[i].text, out), cases[i].message);
}

static void accepts_the_documented_example(void **state)
{
	char out[1024];
	assert_string_equal(
		validate_text(
			"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"action\":\"Allow\","
			"\"cidrs\":[\"10.96.0.10/32\",\"fd00::/64\"],\"except\":[\"10.96.0.10/"
			"32\"],\"protocol\":\"UDP\",\"ports\":[{\"port\":53},{\"port\":8000,"
			"\"endPort\":8100}]}]},\"ingress\":{\"defaultAction\":\"Deny\",\"rules\":"
			"[]}}",
			out),
		"");
	assert_string_equal(validate_text("{}", out), "");
	/* except without cidrs is inside "every address". */
	assert_string_equal(
		validate_text("{\"egress\":{\"rules\":[{\"except\":[\"10.0.0.0/8\"]}]}}", out), "");
}

static void bounds_are_enforced(void **state)
{
	json_t *rules = json_array();
	for (int i = 0; i <= NETPOLICY_MAX_RULES; i++)
		json_array_append_new(rules, json_object());
	json_t *section = json_pack("{s{so}}", "egress", "rules", rules);
	struct field_error err = {0};
	assert_int_equal(netpolicy_validate(section, "spec.network", &err), -EINVAL);
	assert_string_equal(err.field, "spec.network.egress.rules");
	json_decref(section);

	json_t *ports = json_array();
	for (int i = 0; i <= NETPOLICY_MAX_PORTS; i++)
		json_array_append_new(ports, json_pack("{si}", "port", i + 1));
	section = json_pack("{s{s[{ssso}]}}", "egress", "rules", "protocol", "TCP", "ports", ports);
	memset(&err, 0, sizeof(err));
	assert_int_equal(netpolicy_validate(section, "spec.network", &err), -EINVAL);
	assert_string_equal(err.field, "spec.network.egress.rules[0].ports");
	json_decref(section);
}

static void cidr_edge_cases(void **state)
{
	static const struct {
		const char *in, *canonical;
	} ok[] = {
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::/0", "::/0"},
		{"192.0.2.1/32", "192.0.2.1/32"},
		{"2001:db8::1/128", "2001:db8::1/128"},
		{"2001:0db8:0000::/32", "2001:db8::/32"},
		/* IPv4-mapped prefixes are the IPv4 traffic they name. */
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"::ffff:192.0.2.1/128", "192.0.2.1/32"},
		/* Shorter than /96 it also covers non-mapped addresses: stays IPv6. */
		{"::/80", "::/80"},
	};
	char buf[CIDR_STR_MAX], why[128];
	struct cidr c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (cidr_parse(ok[i].in, &c, why, sizeof(why)) < 0)
			fail_msg("%s: %s", ok[i].in, why);
		assert_string_equal(cidr_format(&c, buf), ok[i].canonical);
	}
	static const char *const bad[] = {"",
					  "/8",
					  "10.0.0.0/",
					  "10.0.0.0/+8",
					  "10.0.0.0/8/8",
					  "10.0.0.0 /8",
					  "1.2.3.4.5/32",
					  "::g/64",
					  "10.0.0.0/1234"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &c, why, sizeof(why)), -EINVAL);

	struct cidr outer, inner;
	assert_int_equal(cidr_parse("10.0.0.0/8", &outer, why, sizeof(why)), 0);
	assert_int_equal(cidr_parse("10.255.0.0/16", &inner, why, sizeof(why)), 0);
	assert_true(cidr_contains(&outer, &inner));
	assert_false(cidr_contains(&inner, &outer));
	assert_true(cidr_contains(&outer, &outer));
	assert_int_equal(cidr_parse("0.0.0.0/0", &outer, why, sizeof(why)), 0);
	assert_true(cidr_contains(&outer, &inner));
	assert_int_equal(cidr_parse("::/0", &outer, why, sizeof(why)), 0);
	assert_false(cidr_contains(&outer, &inner)); /* families never mix */
	assert_true(cidr_compare(&inner, &outer) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rejects_with_exact_messages),
		cmocka_unit_test(accepts_the_documented_example),
		cmocka_unit_test(bounds_are_enforced),
		cmocka_unit_test(cidr_edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
