/* The recordings API's pure parts: which paths it serves (and refuses), the discovery
 * documents the aggregator reads, and the front-proxy trust read from the API server's
 * ConfigMap. The served path end to end is e2e/test_chain_exec.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "controller/recordings/recordings_api.h"
#include "controller/recordings/requestheader.h"
#include "metrics.h"

#define BASE "/apis/recordings.bulwark.dev/v1/namespaces/"

static void paths(void **state)
{
	struct recordings_path rp;
	struct field_error fe = {0};
	assert_int_equal(recordings_path_parse("/apis", &rp, &fe), 0);
	assert_int_equal(rp.kind, RECORDINGS_PATH_GROUP_LIST);
	assert_int_equal(recordings_path_parse("/apis/recordings.bulwark.dev", &rp, &fe), 0);
	assert_int_equal(rp.kind, RECORDINGS_PATH_GROUP);
	assert_int_equal(recordings_path_parse("/apis/recordings.bulwark.dev/v1", &rp, &fe), 0);
	assert_int_equal(rp.kind, RECORDINGS_PATH_RESOURCES);

	assert_int_equal(recordings_path_parse(BASE "team-a/recordings/es-1", &rp, &fe), 0);
	assert_int_equal(rp.kind, RECORDINGS_PATH_RECORDING);
	assert_string_equal(rp.namespace, "team-a");
	assert_string_equal(rp.name, "es-1");
	assert_string_equal(rp.subresource, "");
	const char *subs[] = {"cast", "log", "chain"};
	for (size_t i = 0; i < 3; i++) {
		char p[256];
		snprintf(p, sizeof(p), BASE "ns/recordings/node-1.abc/%s", subs[i]);
		assert_int_equal(recordings_path_parse(p, &rp, &fe), 0);
		assert_string_equal(rp.subresource, subs[i]);
		assert_string_equal(rp.name, "node-1.abc");
	}

	/* Not ours: 404. */
	const char *foreign[] = {"/apis/bulwark.dev/v1alpha1",
				 "/api/v1",
				 BASE "ns/pods/x",
				 BASE "ns",
				 BASE "ns/recordings",
				 "/apis/recordings.bulwark.dev/v2"};
	for (size_t i = 0; i < sizeof(foreign) / sizeof(*foreign); i++)
		assert_int_equal(recordings_path_parse(foreign[i], &rp, &fe), -ENOENT);

	/* Ours but malformed: 400 naming the part. */
	struct {
		const char *path, *field;
	} bad[] = {
		{BASE "Team/recordings/x", "namespace"},
		{BASE "../recordings/x", "namespace"},
		{BASE "ns/recordings/../../etc", "name"},
		{BASE "ns/recordings/a_b", "name"},
		{BASE "ns/recordings/x/stdin", "subresource"},
		{BASE "ns/recordings/x/cast/more", "subresource"},
		{BASE "ns/recordings/-x", "name"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct field_error e = {0};
		assert_int_equal(recordings_path_parse(bad[i].path, &rp, &e), -EINVAL);
		assert_string_equal(e.field, bad[i].field);
	}
	char longname[400] = BASE "ns/recordings/";
	memset(longname + strlen(longname), 'a', 300);
	assert_int_equal(recordings_path_parse(longname, &rp, &fe), -EINVAL);
}

static void discovery(void **state)
{
	json_t *list = recordings_api_group_list();
	assert_string_equal(json_string_value(json_object_get(list, "kind")), "APIGroupList");
	json_t *g = json_array_get(json_object_get(list, "groups"), 0);
	assert_string_equal(json_string_value(json_object_get(g, "name")),
			    "recordings.bulwark.dev");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(g, "preferredVersion"), "groupVersion")),
			    "recordings.bulwark.dev/v1");
	json_decref(list);

	json_t *res = recordings_api_resources();
	assert_string_equal(json_string_value(json_object_get(res, "groupVersion")),
			    "recordings.bulwark.dev/v1");
	json_t *rs = json_object_get(res, "resources");
	assert_int_equal(json_array_size(rs), 4);
	/* The names RBAC rules use, each namespaced and get-only. */
	const char *names[] = {"recordings", "recordings/cast", "recordings/log",
			       "recordings/chain"};
	for (size_t i = 0; i < 4; i++) {
		json_t *r = json_array_get(rs, i);
		assert_string_equal(json_string_value(json_object_get(r, "name")), names[i]);
		assert_true(json_is_true(json_object_get(r, "namespaced")));
		json_t *verbs = json_object_get(r, "verbs");
		assert_int_equal(json_array_size(verbs), 1);
		assert_string_equal(json_string_value(json_array_get(verbs, 0)), "get");
	}
	json_decref(res);
}

static json_t *configmap(const char *ca, const char *names, const char *users)
{
	json_t *data = json_object();
	if (ca)
		json_object_set_new(data, "requestheader-client-ca-file", json_string(ca));
	if (names)
		json_object_set_new(data, "requestheader-allowed-names", json_string(names));
	if (users)
		json_object_set_new(data, "requestheader-username-headers", json_string(users));
	json_object_set_new(data, "requestheader-group-headers",
			    json_string("[\"X-Remote-Group\"]"));
	return json_pack("{s:o}", "data", data);
}

#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static void front_proxy_trust(void **state)
{
	struct requestheader_config c;
	struct field_error fe = {0};
	json_t *cm = configmap(PEM, "[\"front-proxy-client\"]", "[\"X-Remote-User\"]");
	assert_int_equal(requestheader_config_parse(cm, &c, &fe), 0);
	assert_string_equal(c.client_ca_pem, PEM);
	assert_int_equal(c.n_allowed_names, 1);
	assert_string_equal(c.allowed_names[0], "front-proxy-client");
	assert_int_equal(c.n_username_headers, 1);
	assert_string_equal(c.username_headers[0], "X-Remote-User");
	assert_int_equal(c.n_group_headers, 1);
	requestheader_config_done(&c);
	json_decref(cm);

	/* No allowed names: any certificate of the CA. */
	cm = configmap(PEM, "[]", "[\"X-Remote-User\"]");
	assert_int_equal(requestheader_config_parse(cm, &c, &fe), 0);
	assert_int_equal(c.n_allowed_names, 0);
	requestheader_config_done(&c);
	json_decref(cm);

	struct {
		const char *ca, *names, *users, *field;
	} bad[] = {
		{NULL, "[]", "[\"X-Remote-User\"]", "data.requestheader-client-ca-file"},
		{"not a pem", "[]", "[\"X-Remote-User\"]", "data.requestheader-client-ca-file"},
		{PEM, "front-proxy-client", "[\"X-Remote-User\"]",
		 "data.requestheader-allowed-names"},
		{PEM, "[1]", "[\"X-Remote-User\"]", "data.requestheader-allowed-names"},
		{PEM, "[]", "[]", "data.requestheader-username-headers"},
		{PEM, "[]", NULL, "data.requestheader-username-headers"},
		{PEM, "[]", "[\"\"]", "data.requestheader-username-headers"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct field_error e = {0};
		cm = configmap(bad[i].ca, bad[i].names, bad[i].users);
		assert_int_equal(requestheader_config_parse(cm, &c, &e), -EINVAL);
		assert_string_equal(e.field, bad[i].field);
		json_decref(cm);
	}

	/* A PEM header is not a certificate: the trust refuses what the parse let through. */
	struct requestheader_trust *t = NULL;
	struct field_error e = {0};
	cm = configmap(PEM, "[]", "[\"X-Remote-User\"]");
	assert_int_equal(requestheader_trust_new(cm, &t, &e), -EINVAL);
	assert_null(t);
	assert_string_equal(e.field, "data.requestheader-client-ca-file");
	json_decref(cm);
}

/* What /metrics shows for the API: requests by subresource and status, streamed bytes. */
static void metrics_text(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct recordings_api_metrics m;
	assert_int_equal(recordings_api_metrics_register(reg, &m), 0);
	/* Registered once per registry: a second API on it would double-count. */
	struct recordings_api_metrics again;
	assert_int_equal(recordings_api_metrics_register(reg, &again), -ENOMEM);

	recordings_api_count_request(&m, "cast", 200);
	recordings_api_count_request(&m, "cast", 200);
	recordings_api_count_request(&m, "summary", 404);
	recordings_api_count_request(&m, "chain", 401);
	recordings_api_count_request(&m, NULL, 404);
	recordings_api_count_request(&m, "discovery", 200);
	metric_add(m.bytes, NULL, 4096);
	metric_add(m.bytes, NULL, 17);
	struct buf out = BUF_INIT(1 << 20);
	assert_int_equal(metrics_render(reg, &out), 0);
	const char *text = buf_str(&out);
	assert_non_null(strstr(text, "# TYPE bulwark_recordings_api_requests_total counter\n"));
	assert_non_null(strstr(
		text,
		"bulwark_recordings_api_requests_total{subresource=\"cast\",code=\"200\"} 2\n"));
	assert_non_null(strstr(
		text,
		"bulwark_recordings_api_requests_total{subresource=\"summary\",code=\"404\"} 1\n"));
	assert_non_null(strstr(
		text,
		"bulwark_recordings_api_requests_total{subresource=\"chain\",code=\"401\"} 1\n"));
	assert_non_null(strstr(
		text,
		"bulwark_recordings_api_requests_total{subresource=\"other\",code=\"404\"} 1\n"));
	assert_non_null(strstr(text, "bulwark_recordings_api_requests_total{subresource="
				     "\"discovery\",code=\"200\"} 1\n"));
	assert_null(strstr(text, "subresource=\"log\""));
	assert_non_null(strstr(text, "# TYPE bulwark_recordings_api_bytes_total counter\n"
				     "bulwark_recordings_api_bytes_total 4113\n"));
	assert_non_null(strstr(text,
			       "# TYPE bulwark_recordings_api_trust_reloads_total counter\n"
			       "bulwark_recordings_api_trust_reloads_total{result=\"error\"} 0\n"
			       "bulwark_recordings_api_trust_reloads_total{result=\"ok\"} 0\n"));
	buf_free(&out);
	metrics_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths),
		cmocka_unit_test(discovery),
		cmocka_unit_test(front_proxy_trust),
		cmocka_unit_test(metrics_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
