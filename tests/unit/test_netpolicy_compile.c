/* Composition of spec.network sections into a pod's compiled network policy: normalization,
 * the composition rules (allows unioned, deny beats allow, default-deny if any Enforce policy
 * says so, Audit only ever "would deny"), determinism, and bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canonical.h"
#include "netpolicy/netpolicy.h"

struct input {
	const char *text;
	bool audit;
};

static int compile_inputs(const struct input *in, size_t n, json_t **ret, struct field_error *err)
{
	struct policy_section s[8];
	json_t *parsed[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		json_error_t jerr;
		parsed[i] = json_loads(in[i].text, 0, &jerr);
		if (!parsed[i])
			fail_msg("bad test JSON: %s", jerr.text);
		s[i] = (struct policy_section){
			.policy = "ns/p", .audit = in[i].audit, .section = parsed[i]};
	}
	int r = netpolicy_compile(s, n, ret, err);
	for (size_t i = 0; i < n; i++)
		json_decref(parsed[i]);
	return r;
}

/* Canonical text of the compiled policy (free() it). */
static char *compile_canonical(const struct input *in, size_t n)
{
	json_t *out = NULL;
	struct field_error err = {0};
	if (compile_inputs(in, n, &out, &err) < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);
	char *text = json_canonical_dump(out);
	json_decref(out);
	return text;
}

static void normalizes_one_policy(void **state)
{
	const struct input in[] = {{"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"cidrs\":"
				    "[\"fd00::/64\",\"10.96.0.10/32\",\"::ffff:10.0.0.0/104\","
				    "\"10.96.0.10/32\"],\"protocol\":\"UDP\",\"ports\":[{\"port\":"
				    "8050,\"endPort\":8100},{\"port\":53},{\"port\":8000,"
				    "\"endPort\":8049},{\"port\":54}]}]}}",
				    false}};
	char *text = compile_canonical(in, 1);
	assert_string_equal(
		text,
		"{\"egress\":{\"auditDefaultAction\":\"Deny\",\"defaultAction\":\"Deny\",\"rules\":"
		"[{"
		"\"action\":\"Allow\",\"audit\":false,\"cidrs\":[\"10.0.0.0/8\",\"10.96.0.10/32\","
		"\"fd00::/64\"],\"except\":[],\"ports\":[{\"endPort\":54,\"port\":53},{\"endPort\":"
		"8100,\"port\":8000}],\"protocol\":\"UDP\"}]},\"ingress\":{\"auditDefaultAction\":"
		"\"Allow\",\"defaultAction\":\"Allow\",\"rules\":[]}}");
	free(text);
}

static void rule_without_cidrs_means_every_address(void **state)
{
	const struct input in[] = {{"{\"ingress\":{\"rules\":[{\"protocol\":\"TCP\"}]}}", false}};
	char *text = compile_canonical(in, 1);
	assert_non_null(strstr(text, "\"cidrs\":[\"0.0.0.0/0\",\"::/0\"]"));
	free(text);
}

static void composition_rules(void **state)
{
	/* Enforce default Deny wins over Allow; an Audit Deny is only a would-deny. */
	const struct input in[] = {
		{"{\"egress\":{\"defaultAction\":\"Allow\"},\"ingress\":{\"defaultAction\":"
		 "\"Deny\"}}",
		 false},
		{"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"action\":\"Deny\","
		 "\"cidrs\":"
		 "[\"192.0.2.0/24\"]}]}}",
		 true},
		{"{\"ingress\":{\"defaultAction\":\"Allow\",\"rules\":[{\"cidrs\":[\"192.0.2.0/"
		 "24\"]}]}}",
		 false},
	};
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(compile_inputs(in, 3, &out, &err), 0);
	json_t *eg = json_object_get(out, "egress"), *ing = json_object_get(out, "ingress");
	assert_string_equal(json_string_value(json_object_get(eg, "defaultAction")), "Allow");
	assert_string_equal(json_string_value(json_object_get(eg, "auditDefaultAction")), "Deny");
	assert_string_equal(json_string_value(json_object_get(ing, "defaultAction")), "Deny");
	assert_string_equal(json_string_value(json_object_get(ing, "auditDefaultAction")), "Deny");
	/* Rules are unioned and keep their origin's mode. */
	json_t *er = json_object_get(eg, "rules");
	assert_int_equal(json_array_size(er), 1);
	assert_true(json_is_true(json_object_get(json_array_get(er, 0), "audit")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(er, 0), "action")),
			    "Deny");
	assert_int_equal(json_array_size(json_object_get(ing, "rules")), 1);
	json_decref(out);
}

static void duplicates_collapse(void **state)
{
	const char *rule = "{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/8\"]}]}}";
	/* The same rule twice, once from an Audit policy: one Enforce rule remains. */
	const struct input in[] = {{rule, false}, {rule, false}, {rule, true}};
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(compile_inputs(in, 3, &out, &err), 0);
	json_t *rules = json_object_get(json_object_get(out, "egress"), "rules");
	assert_int_equal(json_array_size(rules), 1);
	assert_true(json_is_false(json_object_get(json_array_get(rules, 0), "audit")));
	json_decref(out);
}

static void deterministic_in_any_order(void **state)
{
	const struct input a = {"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"cidrs\":["
				"\"10.0.0.0/8\"],\"protocol\":\"TCP\",\"ports\":[{\"port\":443}]},"
				"{\"action\":\"Deny\",\"cidrs\":[\"10.1.0.0/16\"]}]}}",
				false};
	const struct input b = {"{\"ingress\":{\"rules\":[{\"cidrs\":[\"2001:db8::/32\"],"
				"\"except\":[\"2001:db8:1::/48\"]}]},\"egress\":{\"rules\":[{"
				"\"cidrs\":[\"192.0.2.0/24\"]}]}}",
				true};
	const struct input c = {"{\"egress\":{\"rules\":[{\"protocol\":\"ICMP\"}]}}", false};
	const struct input orders[][3] = {{a, b, c}, {c, b, a}, {b, a, c}, {c, a, b}};
	char *first = compile_canonical(orders[0], 3);
	for (size_t i = 1; i < 4; i++) {
		char *t = compile_canonical(orders[i], 3);
		assert_string_equal(first, t);
		free(t);
	}
	free(first);
}

static void invalid_section_names_policy_and_field(void **state)
{
	const struct input in[] = {
		{"{}", false}, {"{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/33\"]}]}}", false}};
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(compile_inputs(in, 2, &out, &err), -EINVAL);
	assert_null(out);
	assert_string_equal(err.field, "spec.network.egress.rules[0].cidrs[0]");
	assert_string_equal(
		err.reason,
		"policy ns/p: invalid CIDR \"10.0.0.0/33\": prefix length must be 0..32");
}

static void too_many_rule_kinds(void **state)
{
	json_t *rules = json_array();
	for (int i = 0; i <= NETPOLICY_MAX_CLASSES; i++)
		json_array_append_new(
			rules, json_pack("{sss[{si}]}", "protocol", "TCP", "ports", "port", i + 1));
	json_t *section = json_pack("{s{so}}", "egress", "rules", rules);
	struct policy_section s = {.policy = "ns/p", .section = section};
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(netpolicy_compile(&s, 1, &out, &err), -EINVAL);
	assert_string_equal(err.field, "spec.network.egress");
	assert_non_null(strstr(err.reason, "65 distinct"));
	json_decref(section);
}

static void no_sections_allow_everything(void **state)
{
	json_t *out = NULL;
	struct field_error err = {0};
	assert_int_equal(netpolicy_compile(NULL, 0, &out, &err), 0);
	char *t = json_canonical_dump(out);
	assert_string_equal(t, "{\"egress\":{\"auditDefaultAction\":\"Allow\",\"defaultAction\":"
			       "\"Allow\",\"rules\":[]},\"ingress\":{\"auditDefaultAction\":"
			       "\"Allow\",\"defaultAction\":\"Allow\",\"rules\":[]}}");
	free(t);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalizes_one_policy),
		cmocka_unit_test(rule_without_cidrs_means_every_address),
		cmocka_unit_test(composition_rules),
		cmocka_unit_test(duplicates_collapse),
		cmocka_unit_test(deterministic_in_any_order),
		cmocka_unit_test(invalid_section_names_policy_and_field),
		cmocka_unit_test(too_many_rule_kinds),
		cmocka_unit_test(no_sections_allow_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
