/* The controller's per-pod records (what a pod was, for the DELETE when it goes, and what
 * selects it, for status) and the trimming of watched objects to the fields the controller
 * reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "controller/cache_trim.h"
#include "controller/pod_records.h"

static void records_remember_the_previous_pod(void **state)
{
	struct pod_records *r = pod_records_new();
	json_t *web = json_pack("[s]", "shop/web"),
	       *both = json_pack("[s,s]", "shop/web", "shop/db");
	struct pod_record_prev prev;
	assert_int_equal(pod_records_put(r, "shop/p1", "u1", NULL, true, web, NULL, &prev), 0);
	assert_string_equal(prev.uid, "");
	assert_string_equal(prev.node, "");
	/* Bound to a node now. */
	assert_int_equal(pod_records_put(r, "shop/p1", "u1", "node-a", true, web, NULL, &prev), 0);
	assert_string_equal(prev.uid, "u1");
	assert_string_equal(prev.node, "");
	/* Recreated under the same name: the caller learns the old uid and node. */
	assert_int_equal(pod_records_put(r, "shop/p1", "u2", "node-b", true, both, NULL, &prev), 0);
	assert_string_equal(prev.uid, "u1");
	assert_string_equal(prev.node, "node-a");
	assert_int_equal(pod_records_count(r), 1);
	pod_records_remove(r, "shop/p1", &prev);
	assert_string_equal(prev.uid, "u2");
	assert_string_equal(prev.node, "node-b");
	pod_records_remove(r, "shop/p1", &prev);
	assert_string_equal(prev.uid, "");
	assert_int_equal(pod_records_count(r), 0);
	json_decref(web);
	json_decref(both);
	pod_records_free(r);
}

static void records_count_active_pods_per_policy(void **state)
{
	struct pod_records *r = pod_records_new();
	json_t *web = json_pack("[s]", "shop/web"),
	       *both = json_pack("[s,s]", "shop/web", "shop/db");
	pod_records_put(r, "shop/p1", "u1", "node-a", true, web, NULL, NULL);
	pod_records_put(r, "shop/p2", "u2", NULL, true, both, NULL, NULL);
	pod_records_put(r, "shop/p3", "u3", "node-a", true, both, "spec.network: too many rules",
			NULL);
	/* A finished pod is not matched any more. */
	pod_records_put(r, "shop/p4", "u4", "node-b", false, both, NULL, NULL);
	json_t *m = pod_records_by_policy(r, 10);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(m, "shop/web"), "pods")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "shop/db"), "pods")),
			 2);
	json_t *errors = json_object_get(json_object_get(m, "shop/db"), "errors");
	assert_int_equal(json_array_size(errors), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "pod")),
			    "shop/p3");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(errors, 0), "message")),
		"spec.network: too many rules");
	json_decref(m);
	m = pod_records_by_policy(r, 0);
	assert_int_equal(json_array_size(json_object_get(json_object_get(m, "shop/db"), "errors")),
			 0);
	json_decref(m);
	json_decref(web);
	json_decref(both);
	pod_records_free(r);
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void a_pod_keeps_only_what_selection_and_placement_read(void **state)
{
	json_t *pod = parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\","
		"\"namespace\":\"shop\",\"uid\":\"u1\",\"resourceVersion\":\"42\",\"labels\":{"
		"\"app\":"
		"\"web\"},\"annotations\":{\"a\":\"b\"},\"managedFields\":[{\"manager\":"
		"\"kubectl\"}],"
		"\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},\"spec\":{\"nodeName\":\"node-a\","
		"\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],\"dnsPolicy\":"
		"\"ClusterFirst\"},"
		"\"status\":{\"phase\":\"Running\",\"conditions\":[]}}");
	assert_int_equal(cache_trim_pod(pod, NULL), 0);
	json_t *want =
		parse("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u1\","
		      "\"resourceVersion\":\"42\",\"labels\":{\"app\":\"web\"}},"
		      "\"spec\":{\"nodeName\":\"node-a\"},\"status\":{\"phase\":\"Running\"}}");
	assert_true(json_equal(pod, want));
	json_decref(pod);
	json_decref(want);
}

static void a_policy_loses_only_bookkeeping(void **state)
{
	json_t *p = parse(
		"{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":2,"
		"\"managedFields\":[{}],\"annotations\":{\"kubectl.kubernetes.io/"
		"last-applied-configuration\":\"{...}\",\"team\":\"a\"}},\"spec\":{\"podSelector\":"
		"{}},\"status\":{\"podsMatched\":1}}");
	assert_int_equal(cache_trim_policy(p, NULL), 0);
	json_t *want =
		parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":2,"
		      "\"annotations\":{\"team\":\"a\"}},\"spec\":{\"podSelector\":{}},"
		      "\"status\":{\"podsMatched\":1}}");
	assert_true(json_equal(p, want));
	json_decref(p);
	json_decref(want);

	/* Objects missing the trimmed parts are left as they are. */
	json_t *odd = parse("{\"metadata\":\"x\",\"spec\":[]}");
	assert_int_equal(cache_trim_pod(odd, NULL), 0);
	assert_int_equal(cache_trim_policy(odd, NULL), 0);
	assert_int_equal(cache_trim_namespace(odd, NULL), 0);
	json_decref(odd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_remember_the_previous_pod),
		cmocka_unit_test(records_count_active_pods_per_policy),
		cmocka_unit_test(a_pod_keeps_only_what_selection_and_placement_read),
		cmocka_unit_test(a_policy_loses_only_bookkeeping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
