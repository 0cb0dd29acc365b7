/* policy_validate: every rejection names the exact field and says why, for what lib/policy
 * checks itself and for what it hands to each mechanism's validator. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy/policy.h"

/* A valid policy exercising every section, as the examples/ do. */
static const char valid[] =
	"{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"labels\":{\"x\":\"y\"}},"
	"\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"mode\":\"Enforce\","
	"\"network\":{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"cidrs\":"
	"[\"10.96.0.10/32\"],\"protocol\":\"UDP\",\"ports\":[{\"port\":53}]}]},"
	"\"ingress\":{\"rules\":[{\"protocol\":\"TCP\",\"ports\":[{\"port\":8080}]}]}},"
	"\"seccomp\":{\"base\":\"None\",\"defaultAction\":\"Errno\",\"allow\":"
	"[\"@system-service\"],\"deny\":[{\"syscalls\":[\"ptrace\"],\"action\":\"Errno\"}]},"
	"\"landlock\":{\"filesystem\":[{\"paths\":[\"/usr\"],\"access\":[\"read_file\"]}],"
	"\"network\":[{\"ports\":[8080],\"access\":[\"bind_tcp\"]}]},"
	"\"execRecording\":{\"enabled\":true,\"allowExec\":true}},"
	"\"status\":{\"podsMatched\":3}}";

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

/* Replaces (or, with value NULL, deletes) the member at a dotted path of the valid policy,
 * validates it, and returns the error's field ("" when it is valid). */
static const char *validate_with(const char *path, const char *value, struct field_error *err)
{
	json_t *p = parse(valid);
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *obj = p;
	char *save = NULL, *key = strtok_r(buf, ".", &save), *next;
	while ((next = strtok_r(NULL, ".", &save))) {
		obj = json_object_get(obj, key);
		assert_non_null(obj);
		key = next;
	}
	if (value)
		json_object_set_new(obj, key, parse(value));
	else
		json_object_del(obj, key);

	memset(err, 0, sizeof(*err));
	int r = policy_validate(p, err);
	json_decref(p);
	if (r == 0)
		return "";
	assert_int_equal(r, -EINVAL);
	return err->field;
}

#define assert_rejects(path, value, want_field, want_reason)                      \
	do {                                                                      \
		struct field_error _e;                                            \
		assert_string_equal(validate_with(path, value, &_e), want_field); \
		assert_string_equal(_e.reason, want_reason);                      \
	} while (0)

static void valid_policy_passes(void **state)
{
	json_t *p = parse(valid);
	struct field_error err = {0};
	assert_int_equal(policy_validate(p, &err), 0);
	assert_string_equal(err.field, "");
	assert_string_equal(err.reason, "");
	json_decref(p);

	struct field_error e;
	/* The smallest useful policy, generateName instead of name, no namespace (a file). */
	assert_string_equal(validate_with("spec.network", NULL, &e), "");
	assert_string_equal(validate_with("metadata.namespace", NULL, &e), "");
	json_t *gen = parse("{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
			    "\"metadata\":{\"generateName\":\"lock-\"},\"spec\":{\"podSelector\":"
			    "{},\"mode\":\"Audit\",\"execRecording\":{}}}");
	assert_int_equal(policy_validate(gen, NULL), 0);
	json_decref(gen);
}

static void object_level_errors(void **state)
{
	struct field_error err = {0};
	json_t *arr = parse("[]");
	assert_int_equal(policy_validate(arr, &err), -EINVAL);
	assert_string_equal(err.field, "");
	assert_string_equal(err.reason, "a BulwarkPolicy must be a JSON object");
	json_decref(arr);
	assert_int_equal(policy_validate(NULL, NULL), -EINVAL);

	assert_rejects("apiVersion", "\"bulwark.dev/v1\"", "apiVersion",
		       "must be bulwark.dev/v1alpha1");
	assert_rejects("apiVersion", NULL, "apiVersion", "must be bulwark.dev/v1alpha1");
	assert_rejects("kind", "\"NetworkPolicy\"", "kind", "must be BulwarkPolicy");
	assert_rejects("spek", "{}", "", "unknown field \"spek\" (did you mean \"spec\"?)");
	assert_rejects("data", "{}", "", "unknown field \"data\"");
}

static void metadata_errors(void **state)
{
	assert_rejects("metadata", NULL, "metadata", "required object");
	assert_rejects("metadata", "\"web\"", "metadata", "required object");
	assert_rejects("metadata.name", NULL, "metadata.name", "required");
	assert_rejects("metadata.name", "7", "metadata.name", "must be a string");
	assert_rejects("metadata.name", "\"Web_1\"", "metadata.name",
		       "invalid name \"Web_1\": must be a lowercase RFC 1123 subdomain (a-z, 0-9, "
		       "'-' and '.', starting and ending alphanumeric, at most 253 characters)");
	struct field_error e;
	assert_string_equal(validate_with("metadata.name", "\"web.v2-a\"", &e), "");
	assert_string_equal(validate_with("metadata.name", "\"web.\"", &e), "metadata.name");
	assert_string_equal(validate_with("metadata.name", "\"-web\"", &e), "metadata.name");
	assert_string_equal(validate_with("metadata.name", "\"\"", &e), "metadata.name");
	/* 253 characters in labels of at most 63 pass; one more does not, nor a 64-long label. */
	char long_name[300];
	size_t len = 0;
	long_name[len++] = '"';
	for (size_t i = 0; i < 253; i++)
		long_name[len++] = (i % 64 == 63) ? '.' : 'a';
	long_name[len++] = '"';
	long_name[len] = '\0';
	assert_string_equal(validate_with("metadata.name", long_name, &e), "");
	long_name[len - 1] = 'a';
	long_name[len++] = '"';
	long_name[len] = '\0';
	assert_string_equal(validate_with("metadata.name", long_name, &e), "metadata.name");
	char label64[80] = "\"";
	memset(label64 + 1, 'a', 64);
	memcpy(label64 + 65, "\"", 2);
	assert_string_equal(validate_with("metadata.name", label64, &e), "metadata.name");

	assert_rejects("metadata.namespace", "\"Shop\"", "metadata.namespace",
		       "must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 "
		       "characters)");
	assert_rejects("metadata.namespace", "\"a.b\"", "metadata.namespace",
		       "must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 "
		       "characters)");
}

static void spec_errors(void **state)
{
	assert_rejects("spec", NULL, "spec", "required object");
	assert_rejects("spec", "[]", "spec", "required object");
	assert_rejects("spec.netwrok", "{}", "spec",
		       "unknown field \"netwrok\" (did you mean \"network\"?)");
	assert_rejects("spec.execrecording", "{}", "spec",
		       "unknown field \"execrecording\" (did you mean \"execRecording\"?)");
	assert_rejects("spec.selector", "{}", "spec", "unknown field \"selector\"");
	assert_rejects("spec.podSelector", NULL, "spec.podSelector",
		       "required: {} selects every pod in the namespace");
	assert_rejects("spec.podSelector", "\"app=web\"", "spec.podSelector",
		       "must be a label selector object ({} selects every pod)");
	assert_rejects("spec.mode", "\"enforce\"", "spec.mode",
		       "must be Enforce or Audit, not \"enforce\"");
	assert_rejects("spec.mode", "true", "spec.mode", "must be the string Enforce or Audit");
}

static void at_least_one_section(void **state)
{
	json_t *p = parse("{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
			  "\"metadata\":{\"name\":\"a\"},\"spec\":{\"podSelector\":{}}}");
	struct field_error err = {0};
	assert_int_equal(policy_validate(p, &err), -EINVAL);
	assert_string_equal(err.field, "spec");
	assert_string_equal(err.reason, "must set at least one of network, seccomp, landlock, "
					"execRecording: a policy without them enforces nothing");
	json_decref(p);
}

static void section_errors_name_the_full_field(void **state)
{
	/* What lib/policy checks before handing a section on. */
	assert_rejects("spec.network", "[]", "spec.network", "must be an object");
	assert_rejects("spec.seccomp", "null", "spec.seccomp", "must be an object");
	assert_rejects("spec.landlock", "\"ro\"", "spec.landlock", "must be an object");
	assert_rejects("spec.execRecording", "true", "spec.execRecording", "must be an object");
	assert_rejects("spec.execRecording.enabled", "\"yes\"", "spec.execRecording.enabled",
		       "must be true or false");
	assert_rejects("spec.execRecording.allowExec", "0", "spec.execRecording.allowExec",
		       "must be true or false");
	assert_rejects("spec.execRecording.record", "true", "spec.execRecording",
		       "unknown field \"record\"");
	assert_rejects("spec.execRecording.allowexec", "true", "spec.execRecording",
		       "unknown field \"allowexec\" (did you mean \"allowExec\"?)");

	/* Sections that would do nothing. seccomp: {} is the RuntimeDefault profile. */
	assert_rejects("spec.network", "{}", "spec.network",
		       "must set at least one of egress, ingress: an empty section does nothing");
	assert_rejects("spec.landlock", "{\"compatibility\":\"HardRequirement\"}", "spec.landlock",
		       "must set at least one of filesystem, network, scope: an empty section "
		       "does nothing");
	struct field_error e;
	assert_string_equal(validate_with("spec.seccomp", "{}", &e), "");
	assert_string_equal(validate_with("spec.landlock", "{\"scope\":[\"signal\"]}", &e), "");
	assert_string_equal(validate_with("spec.network", "{\"ingress\":{}}", &e), "");

	/* What each mechanism's validator reports comes back under spec.<section>. */
	assert_string_equal(validate_with("spec.network.egress.rules",
					  "[{\"cidrs\":[\"10.0.0.0/8\",\"10.0.0.0/33\"]}]", &e),
			    "spec.network.egress.rules[0].cidrs[1]");
	assert_non_null(strstr(e.reason, "10.0.0.0/33"));
	assert_string_equal(validate_with("spec.network.egress.defaultAction", "\"Drop\"", &e),
			    "spec.network.egress.defaultAction");
	assert_string_equal(validate_with("spec.seccomp.allow", "[\"read\",\"mkdri\"]", &e),
			    "spec.seccomp.allow[1]");
	assert_non_null(strstr(e.reason, "mkdri"));
	assert_string_equal(
		validate_with("spec.landlock.filesystem",
			      "[{\"paths\":[\"/usr\",\"tmp\"],\"access\":[\"read_file\"]}]", &e),
		"spec.landlock.filesystem[0].paths[1]");
	assert_non_null(strstr(e.reason, "absolute"));
}

static void first_error_wins(void **state)
{
	/* Two mistakes: the one earlier in the object is reported, and only it. */
	json_t *p = parse(valid);
	json_object_set_new(json_object_get(p, "spec"), "mode", json_string("Block"));
	json_object_set_new(json_object_get(p, "spec"), "landlock", json_null());
	struct field_error err = {0};
	assert_int_equal(policy_validate(p, &err), -EINVAL);
	assert_string_equal(err.field, "spec.mode");
	json_decref(p);
}

static void mode_and_key(void **state)
{
	enum policy_mode mode = POLICY_MODE_AUDIT;
	json_t *p = parse(valid);
	assert_int_equal(policy_mode(p, &mode), 0);
	assert_int_equal(mode, POLICY_MODE_ENFORCE);
	json_object_set_new(json_object_get(p, "spec"), "mode", json_string("Audit"));
	assert_int_equal(policy_mode(p, &mode), 0);
	assert_int_equal(mode, POLICY_MODE_AUDIT);
	json_object_del(json_object_get(p, "spec"), "mode");
	mode = POLICY_MODE_AUDIT;
	assert_int_equal(policy_mode(p, &mode), 0);
	assert_int_equal(mode, POLICY_MODE_ENFORCE); /* the CRD's default */
	json_object_set_new(json_object_get(p, "spec"), "mode", json_string("Off"));
	mode = POLICY_MODE_AUDIT;
	assert_int_equal(policy_mode(p, &mode), -EINVAL);
	assert_int_equal(mode, POLICY_MODE_AUDIT); /* untouched on failure */

	char key[POLICY_KEY_MAX];
	assert_int_equal(policy_key(p, key), 0);
	assert_string_equal(key, "shop/web");
	json_object_del(json_object_get(p, "metadata"), "namespace");
	assert_int_equal(policy_key(p, key), -EINVAL);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_policy_passes),
		cmocka_unit_test(object_level_errors),
		cmocka_unit_test(metadata_errors),
		cmocka_unit_test(spec_errors),
		cmocka_unit_test(at_least_one_section),
		cmocka_unit_test(section_errors_name_the_full_field),
		cmocka_unit_test(first_error_wins),
		cmocka_unit_test(mode_and_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
