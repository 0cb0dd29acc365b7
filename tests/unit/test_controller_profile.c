/* The seccomp profile the controller sends for a policy as soon as it exists must be the very
 * profile (same bytes, same content-addressed name) that a pod selected by that policy gets in
 * its compiled policy, or the node would hold a profile nobody refers to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/controller.h"
#include "policy/policy.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

static void check_same_profile(const char *mode, const char *seccomp)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		 "\"metadata\":{\"namespace\":\"shop\",\"name\":\"web\",\"generation\":1},"
		 "\"spec\":{\"mode\":\"%s\",\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
		 "\"seccomp\":%s}}",
		 mode, seccomp);
	json_t *p = parse(text);
	/* A second selecting policy without seccomp must not change the profile. */
	json_t *q = parse("{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
			  "\"metadata\":{\"namespace\":\"shop\",\"name\":\"net\"},"
			  "\"spec\":{\"podSelector\":{},\"network\":{\"egress\":{\"defaultAction\":"
			  "\"Deny\"}}}}");
	json_t *pod =
		parse("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"u1\","
		      "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"node-a\"}}");
	json_t *own = NULL;
	assert_int_equal(controller_policy_profile(p, &own), 0);
	assert_non_null(own);
	char own_name[POLICY_PROFILE_NAME_MAX];
	assert_int_equal(policy_seccomp_profile_name(own, own_name), 0);

	json_t *policies[] = {p, q};
	for (size_t n = 1; n <= 2; n++) {
		json_t *compiled = NULL;
		struct field_error err = {0};
		assert_int_equal(policy_compile_pod(pod, policies, n, &compiled, &err), 0);
		const json_t *sc = json_object_get(compiled, "seccomp");
		assert_string_equal(json_string_value(json_object_get(sc, "profileName")),
				    own_name);
		assert_true(json_equal(json_object_get(sc, "profile"), own));
		json_decref(compiled);
	}
	json_decref(own);
	json_decref(p);
	json_decref(q);
	json_decref(pod);
}

static void enforce_policy_profile_matches_the_pods(void **state)
{
	check_same_profile("Enforce", "{\"allow\":[\"@system-service\"],\"deny\":[{\"syscalls\":"
				      "[\"mkdir\"]}]}");
	check_same_profile("Enforce", "{}");
}

static void audit_policy_profile_matches_the_pods(void **state)
{
	check_same_profile("Audit", "{\"deny\":[{\"syscalls\":[\"ptrace\"]}]}");
}

static void no_seccomp_section_no_profile(void **state)
{
	json_t *p = parse("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"net\"},"
			  "\"spec\":{\"podSelector\":{},\"network\":{}}}");
	json_t *own = (json_t *)1;
	assert_int_equal(controller_policy_profile(p, &own), 0);
	assert_null(own);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enforce_policy_profile_matches_the_pods),
		cmocka_unit_test(audit_policy_profile_matches_the_pods),
		cmocka_unit_test(no_seccomp_section_no_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
