/* Which pods a BulwarkPolicy selects: its namespace only, and its podSelector with the
 * Kubernetes label selector semantics (an empty selector selects the whole namespace). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy/policy.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

static json_t *policy_with_selector(const char *ns, const char *selector)
{
	json_t *sel = parse(selector);
	json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:o, s:{}}}", "apiVersion",
			      POLICY_API_VERSION, "kind", POLICY_KIND, "metadata", "name", "p",
			      "namespace", ns, "spec", "podSelector", sel, "execRecording");
	assert_non_null(p);
	return p;
}

static json_t *pod(const char *ns, const char *labels)
{
	json_t *p = json_pack("{s:{s:s, s:s}}", "metadata", "namespace", ns, "name", "pod-1");
	if (labels)
		json_object_set_new(json_object_get(p, "metadata"), "labels", parse(labels));
	return p;
}

/* selects(policy namespace, selector, pod namespace, pod labels or NULL) */
static int selects(const char *pns, const char *selector, const char *ns, const char *labels)
{
	json_t *p = policy_with_selector(pns, selector);
	json_t *q = pod(ns, labels);
	int r = policy_selects_pod(p, q);
	json_decref(p);
	json_decref(q);
	return r;
}

static void empty_selector_selects_every_pod_of_the_namespace(void **state)
{
	assert_int_equal(selects("shop", "{}", "shop", "{\"app\":\"web\"}"), 1);
	assert_int_equal(selects("shop", "{}", "shop", NULL), 1);
	assert_int_equal(selects("shop", "{}", "shop", "{}"), 1);
	assert_int_equal(
		selects("shop", "{\"matchLabels\":{}, \"matchExpressions\":[]}", "shop", NULL), 1);
}

static void other_namespace_is_never_selected(void **state)
{
	assert_int_equal(selects("shop", "{}", "bank", NULL), 0);
	assert_int_equal(
		selects("shop", "{\"matchLabels\":{\"app\":\"web\"}}", "bank", "{\"app\":\"web\"}"),
		0);
	/* A prefix of the namespace is another namespace. */
	assert_int_equal(selects("shop", "{}", "shop2", NULL), 0);
}

static void match_labels(void **state)
{
	const char *sel = "{\"matchLabels\":{\"app\":\"web\",\"tier\":\"frontend\"}}";
	assert_int_equal(
		selects("ns", sel, "ns", "{\"app\":\"web\",\"tier\":\"frontend\",\"x\":\"y\"}"), 1);
	assert_int_equal(selects("ns", sel, "ns", "{\"app\":\"web\"}"), 0);
	assert_int_equal(selects("ns", sel, "ns", "{\"app\":\"web\",\"tier\":\"backend\"}"), 0);
	assert_int_equal(selects("ns", sel, "ns", NULL), 0);
	/* An empty value matches only an empty value. */
	assert_int_equal(selects("ns", "{\"matchLabels\":{\"a\":\"\"}}", "ns", "{\"a\":\"\"}"), 1);
	assert_int_equal(selects("ns", "{\"matchLabels\":{\"a\":\"\"}}", "ns", NULL), 0);
}

static void match_expressions(void **state)
{
	const char *in = "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\","
			 "\"values\":[\"frontend\",\"edge\"]}]}";
	assert_int_equal(selects("ns", in, "ns", "{\"tier\":\"edge\"}"), 1);
	assert_int_equal(selects("ns", in, "ns", "{\"tier\":\"backend\"}"), 0);
	assert_int_equal(selects("ns", in, "ns", NULL), 0);

	const char *notin = "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\","
			    "\"values\":[\"frontend\"]}]}";
	assert_int_equal(selects("ns", notin, "ns", "{\"tier\":\"backend\"}"), 1);
	assert_int_equal(selects("ns", notin, "ns", "{\"tier\":\"frontend\"}"), 0);
	/* NotIn is satisfied by a pod without the label, as in Kubernetes. */
	assert_int_equal(selects("ns", notin, "ns", NULL), 1);

	const char *exists =
		"{\"matchExpressions\":[{\"key\":\"canary\",\"operator\":\"Exists\"}]}";
	assert_int_equal(selects("ns", exists, "ns", "{\"canary\":\"\"}"), 1);
	assert_int_equal(selects("ns", exists, "ns", "{\"other\":\"x\"}"), 0);

	const char *absent =
		"{\"matchExpressions\":[{\"key\":\"canary\",\"operator\":\"DoesNotExist\"}]}";
	assert_int_equal(selects("ns", absent, "ns", "{\"other\":\"x\"}"), 1);
	assert_int_equal(selects("ns", absent, "ns", "{\"canary\":\"1\"}"), 0);
}

static void labels_and_expressions_must_all_hold(void **state)
{
	const char *sel = "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
			  "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"frontend\"]},"
			  "{\"key\":\"debug\",\"operator\":\"DoesNotExist\"}]}";
	assert_int_equal(selects("ns", sel, "ns", "{\"app\":\"web\",\"tier\":\"frontend\"}"), 1);
	assert_int_equal(
		selects("ns", sel, "ns", "{\"app\":\"web\",\"tier\":\"frontend\",\"debug\":\"1\"}"),
		0);
	assert_int_equal(selects("ns", sel, "ns", "{\"app\":\"api\",\"tier\":\"frontend\"}"), 0);
}

static void malformed_selector_selects_nothing(void **state)
{
	assert_int_equal(selects("ns", "[]", "ns", NULL), -EINVAL);
	assert_int_equal(selects("ns", "{\"matchLabels\":[\"app\"]}", "ns", NULL), -EINVAL);
	assert_int_equal(selects("ns", "{\"matchLabels\":{\"app\":1}}", "ns", "{\"app\":\"1\"}"),
			 -EINVAL);
	assert_int_equal(selects("ns",
				 "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Has\"}]}",
				 "ns", "{\"a\":\"1\"}"),
			 -EINVAL);
	assert_int_equal(selects("ns", "{\"matchExpressions\":{}}", "ns", NULL), -EINVAL);

	json_t *p = policy_with_selector("ns", "{}");
	json_t *q = parse("{\"metadata\":{\"name\":\"x\"}}");
	assert_int_equal(policy_selects_pod(p, q), -EINVAL);
	json_object_del(json_object_get(p, "spec"), "podSelector");
	json_object_set_new(json_object_get(q, "metadata"), "namespace", json_string("ns"));
	assert_int_equal(policy_selects_pod(p, q), -EINVAL);
	json_decref(p);
	json_decref(q);
}

/* validate(selector): policy_validate's error field for a policy with that selector, "" when
 * valid. The selector rules themselves are lib/kube/selector's; this checks that a policy
 * reports them under spec.podSelector. */
static const char *validate(const char *selector, struct field_error *err)
{
	memset(err, 0, sizeof(*err));
	json_t *p = policy_with_selector("ns", selector);
	int r = policy_validate(p, err);
	json_decref(p);
	if (r == 0)
		return "";
	assert_int_equal(r, -EINVAL);
	return err->field;
}

static void selector_errors_name_the_field(void **state)
{
	struct field_error err;
	assert_string_equal(validate("{}", &err), "");
	assert_string_equal(
		validate("{\"matchLabels\":{\"app.kubernetes.io/name\":\"web\",\"a\":\"\"}}", &err),
		"");
	assert_string_equal(validate("[]", &err), "spec.podSelector");
	assert_string_equal(validate("null", &err), "spec.podSelector");
	assert_string_equal(validate("{\"matchLabels\":{\"app\":\"no spaces\"}}", &err),
			    "spec.podSelector.matchLabels[app]");
	assert_string_equal(
		validate("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}", &err),
		"spec.podSelector.matchExpressions[0].values");
	assert_string_equal(validate("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"in\","
				     "\"values\":[\"x\"]}]}",
				     &err),
			    "spec.podSelector.matchExpressions[0].operator");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_selector_selects_every_pod_of_the_namespace),
		cmocka_unit_test(other_namespace_is_never_selected),
		cmocka_unit_test(match_labels),
		cmocka_unit_test(match_expressions),
		cmocka_unit_test(labels_and_expressions_must_all_hold),
		cmocka_unit_test(malformed_selector_selects_nothing),
		cmocka_unit_test(selector_errors_name_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
