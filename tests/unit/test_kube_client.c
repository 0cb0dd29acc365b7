/* The client's pure parts: metav1.Status decoding, the HTTP → errno table, curl error
 * mapping, and URL building for core/group, namespaced/cluster-scoped resources with
 * selectors and escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/client.h"
#include "kube/status.h"

static void status_to_errno_table(void **state)
{
	static const struct {
		int code;
		const char *reason;
		int err;
	} table[] = {
		{200, NULL, 0},
		{201, "", 0},
		{400, "BadRequest", -EINVAL},
		{401, "Unauthorized", -EACCES},
		{403, "Forbidden", -EPERM},
		{404, "NotFound", -ENOENT},
		{405, "MethodNotAllowed", -EOPNOTSUPP},
		{409, "AlreadyExists", -EEXIST},
		{409, "Conflict", -ESTALE},
		{409, NULL, -ESTALE},
		{410, "Expired", -EIDRM},
		{410, "Gone", -EIDRM},
		{413, "RequestEntityTooLarge", -E2BIG},
		{415, "UnsupportedMediaType", -EOPNOTSUPP},
		{422, "Invalid", -EINVAL},
		{429, "TooManyRequests", -EAGAIN},
		{500, "InternalError", -EAGAIN},
		{503, "ServiceUnavailable", -EAGAIN},
		{504, "Timeout", -EAGAIN},
		{418, NULL, -EPROTO},
		{302, NULL, -EPROTO},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (kube_status_to_errno(table[i].code, table[i].reason) != table[i].err)
			fail_msg("HTTP %d %s: got %d, want %d", table[i].code,
				 table[i].reason ? table[i].reason : "(null)",
				 kube_status_to_errno(table[i].code, table[i].reason),
				 table[i].err);
	assert_true(kube_errno_is_transient(-EAGAIN));
	assert_true(kube_errno_is_transient(-ETIMEDOUT));
	assert_true(kube_errno_is_transient(-ECONNREFUSED));
	assert_false(kube_errno_is_transient(-ESTALE));
	assert_false(kube_errno_is_transient(-EINVAL));
	assert_false(kube_errno_is_transient(-EIDRM));
}

static void status_body_is_decoded(void **state)
{
	json_t *body = json_loads("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
				  "\"Failure\",\"message\":\"Operation cannot be fulfilled on "
				  "configmaps \\\"x\\\": the object has been modified\",\"reason\":"
				  "\"Conflict\",\"details\":{\"name\":\"x\"},\"code\":409}",
				  0, NULL);
	assert_non_null(body);
	struct kube_status st;
	kube_status_from_json(&st, 409, body);
	assert_int_equal(st.code, 409);
	assert_string_equal(st.reason, "Conflict");
	assert_string_equal(st.message, "Operation cannot be fulfilled on configmaps \"x\": the "
					"object has been modified");
	json_decref(body);

	/* Not a Status (an HTML error page from a proxy, or nothing): the code stays. */
	kube_status_from_json(&st, 502, NULL);
	assert_int_equal(st.code, 502);
	assert_string_equal(st.reason, "");
	assert_string_equal(st.message, "HTTP 502");
	/* Silly values do not leak through. */
	body = json_loads("{\"code\":-5,\"reason\":7}", 0, NULL);
	kube_status_from_json(&st, 500, body);
	assert_int_equal(st.code, 500);
	assert_string_equal(st.reason, "");
	json_decref(body);
	/* A long message is truncated, not overflowed. */
	char *longmsg = malloc(5000);
	memset(longmsg, 'm', 4999);
	longmsg[4999] = '\0';
	body = json_pack("{s:s,s:i}", "message", longmsg, "code", 422);
	kube_status_from_json(&st, 422, body);
	assert_int_equal(strlen(st.message), sizeof(st.message) - 1);
	json_decref(body);
	free(longmsg);
}

static void curl_errors_map(void **state)
{
	assert_int_equal(kube_curl_errno(CURLE_OK), 0);
	assert_int_equal(kube_curl_errno(CURLE_OPERATION_TIMEDOUT), -ETIMEDOUT);
	assert_int_equal(kube_curl_errno(CURLE_COULDNT_CONNECT), -ECONNREFUSED);
	assert_int_equal(kube_curl_errno(CURLE_PEER_FAILED_VERIFICATION), -EKEYREJECTED);
	assert_int_equal(kube_curl_errno(CURLE_WRITE_ERROR), -EMSGSIZE);
	assert_int_equal(kube_curl_errno(CURLE_RECV_ERROR), -ECONNRESET);
	assert_int_equal(kube_curl_errno(CURLE_UNSUPPORTED_PROTOCOL), -EIO);
}

static void url(const char *want, const struct kube_resource *res, const char *ns, const char *name,
		const char *sub, const struct kube_query *q)
{
	char *got = NULL;
	assert_int_equal(kube_url_build("https://h:6443", res, ns, name, sub, q, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void urls_for_every_kind_of_resource(void **state)
{
	const struct kube_resource policies = {"bulwark.dev", "v1alpha1", "bulwarkpolicies", true};
	const struct kube_resource crds = {"apiextensions.k8s.io", "v1",
					   "customresourcedefinitions", false};

	url("https://h:6443/api/v1/namespaces/default/configmaps", &KUBE_RES_CONFIGMAPS, "default",
	    NULL, NULL, NULL);
	url("https://h:6443/api/v1/configmaps", &KUBE_RES_CONFIGMAPS, NULL, NULL, NULL, NULL);
	url("https://h:6443/api/v1/configmaps", &KUBE_RES_CONFIGMAPS, "", NULL, NULL, NULL);
	url("https://h:6443/api/v1/namespaces/kube-system/pods/p-1/status", &KUBE_RES_PODS,
	    "kube-system", "p-1", "status", NULL);
	url("https://h:6443/api/v1/nodes/node.example.com", &KUBE_RES_NODES, NULL,
	    "node.example.com", NULL, NULL);
	url("https://h:6443/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", &KUBE_RES_LEASES,
	    "ns", "l", NULL, NULL);
	url("https://h:6443/apis/bulwark.dev/v1alpha1/bulwarkpolicies", &policies, NULL, NULL, NULL,
	    NULL);
	url("https://h:6443/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
	    "bulwarkpolicies.bulwark.dev",
	    &crds, NULL, "bulwarkpolicies.bulwark.dev", NULL, NULL);

	struct kube_query q = {
		.label_selector = "app in (web,db),tier!=cache",
		.field_selector = "spec.nodeName=node-1",
		.limit = 500,
		.continue_token = "eyJ2Ijoi+/=",
	};
	url("https://h:6443/api/v1/pods?labelSelector=app%20in%20%28web%2Cdb%29%2Ctier%21%3Dcache"
	    "&fieldSelector=spec.nodeName%3Dnode-1&continue=eyJ2Ijoi%2B%2F%3D&limit=500",
	    &KUBE_RES_PODS, NULL, NULL, NULL, &q);
	struct kube_query w = {.resource_version = "12345",
			       .watch = true,
			       .allow_bookmarks = true,
			       .timeout_seconds = 347};
	url("https://h:6443/api/v1/namespaces/a/configmaps?resourceVersion=12345&watch=true"
	    "&allowWatchBookmarks=true&timeoutSeconds=347",
	    &KUBE_RES_CONFIGMAPS, "a", NULL, NULL, &w);
	struct kube_query apply = {.field_manager = "bulwark controller", .force = true};
	url("https://h:6443/apis/bulwark.dev/v1alpha1/namespaces/n/bulwarkpolicies/p"
	    "?fieldManager=bulwark%20controller&force=true",
	    &policies, "n", "p", NULL, &apply);
	/* Names are path segments: anything odd is escaped, never a path separator. */
	url("https://h:6443/api/v1/namespaces/a%2Fb/configmaps/x%3Fy%23z%20%25",
	    &KUBE_RES_CONFIGMAPS, "a/b", "x?y#z %", NULL, NULL);
	url("https://h:6443/api/v1/namespaces/n/configmaps/%C3%A9", &KUBE_RES_CONFIGMAPS, "n",
	    "\xc3\xa9", NULL, NULL);
}

static void bad_addresses_are_refused(void **state)
{
	char *u = NULL;
	const char *s = "https://h";
	/* A namespaced object needs a namespace; a cluster-scoped one must not have one. */
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, NULL, "p", NULL, NULL, &u), -EINVAL);
	assert_int_equal(kube_url_build(s, &KUBE_RES_NODES, "ns", NULL, NULL, NULL, &u), -EINVAL);
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, "ns", "", NULL, NULL, &u), -EINVAL);
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, "ns", "..", NULL, NULL, &u), -EINVAL);
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, "..", "p", NULL, NULL, &u), -EINVAL);
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, "ns", NULL, "status", NULL, &u),
			 -EINVAL);
	char *huge = malloc(10000);
	memset(huge, 'a', 9999);
	huge[9999] = '\0';
	assert_int_equal(kube_url_build(s, &KUBE_RES_PODS, "ns", huge, NULL, NULL, &u),
			 -ENAMETOOLONG);
	free(huge);
	assert_null(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_to_errno_table),
		cmocka_unit_test(status_body_is_decoded),
		cmocka_unit_test(curl_errors_map),
		cmocka_unit_test(urls_for_every_kind_of_resource),
		cmocka_unit_test(bad_addresses_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
