/* The webhook's reviews end to end, body in and HTTP status + AdmissionReview out: strict
 * decoding (400 naming the field, the uid always echoed), policy validation, pod mutation through
 * the policy store, and pods/exec with the I/O stubbed at the Kubernetes API boundary. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/informer.h"
#include "log.h"
#include "metrics.h"
#include "base64.h"
#include "webhook/webhook.h"

struct fixture {
	struct webhook w;
	struct policy_store *store;
	json_t *pod;	   /* what get_pod returns; NULL: -ENOENT */
	int get_pod_error; /* forced error */
	int create_error;  /* forced error */
	json_t *sessions;  /* created sessions */
};

static struct fixture *current;

static int stub_get_pod(struct webhook *w, const char *ns, const char *name, json_t **ret,
			char *errbuf, size_t size)
{
	if (current->get_pod_error) {
		snprintf(errbuf, size, "connection refused");
		return current->get_pod_error;
	}
	if (!current->pod)
		return -ENOENT;
	*ret = json_incref(current->pod);
	return 0;
}

static int stub_create_session(struct webhook *w, const char *ns, const json_t *session,
			       char *errbuf, size_t size)
{
	if (current->create_error) {
		snprintf(errbuf, size, "forbidden by RBAC");
		return current->create_error;
	}
	json_array_append(current->sessions, (json_t *)session);
	return 0;
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s\n%s", e.text, text);
	return j;
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(webhook_init(&f.w), 0);
	assert_int_equal(policy_store_new(&f.store), 0);
	f.w.policies = f.store;
	f.w.mutate = (struct mutate_options){"registry.test/bulwark:1", "/bulwark-launch"};
	f.w.io = (struct webhook_exec_io){stub_get_pod, stub_create_session};
	f.sessions = json_array();
	json_t *p = parse(
		"{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		"\"metadata\":{\"name\":\"lockdown\",\"namespace\":\"shop\",\"generation\":1},"
		"\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"vault\"}},"
		"\"execRecording\":{\"enabled\":true,\"allowExec\":false}}}");
	json_t *rec =
		parse("{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		      "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":2},"
		      "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
		      "\"seccomp\":{},\"execRecording\":{\"enabled\":true}}}");
	json_t *invalid =
		parse("{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","
		      "\"metadata\":{\"name\":\"broken\",\"namespace\":\"shop\"},"
		      "\"spec\":{\"podSelector\":{},\"mode\":\"Sometimes\",\"seccomp\":{}}}");
	assert_int_equal(policy_store_put(f.store, p), 0);
	assert_int_equal(policy_store_put(f.store, rec), 0);
	assert_int_equal(policy_store_put(f.store, invalid), 0);
	size_t valid, inv;
	policy_store_counts(f.store, &valid, &inv);
	assert_int_equal(valid, 2);
	assert_int_equal(inv, 1);
	json_decref(p);
	json_decref(rec);
	json_decref(invalid);
	current = &f;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	webhook_done(&f->w);
	policy_store_free(f->store);
	json_decref(f->pod);
	json_decref(f->sessions);
	return 0;
}

struct answer {
	int status;
	json_t *body;
};

static struct answer review(struct fixture *f, enum webhook_route route, const char *body)
{
	struct buf out = BUF_INIT(1 << 24);
	struct answer a = {.status = webhook_review(&f->w, route, body, strlen(body), &out)};
	a.body = json_loads(buf_str(&out), 0, NULL);
	if (!a.body)
		fail_msg("answer is not JSON: %s", buf_str(&out));
	buf_free(&out);
	return a;
}

static const char *str(const json_t *j, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(j, a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

static void expect_bad(struct fixture *f, const char *body, const char *message)
{
	struct answer a = review(f, WEBHOOK_MUTATE_PODS, body);
	assert_int_equal(a.status, 400);
	const char *err = str(a.body, "error", NULL, NULL);
	assert_non_null(err);
	if (!strstr(err, message))
		fail_msg("error \"%s\" lacks \"%s\"", err, message);
	json_decref(a.body);
}

static void decode_errors(void **state)
{
	struct fixture *f = *state;
	expect_bad(f, "{", "body: invalid JSON");
	expect_bad(f, "[1]", "body: must be a JSON object");
	expect_bad(f, "", "body: empty");
	expect_bad(f, "{\"kind\":\"AdmissionReview\"}", "apiVersion: required");
	expect_bad(f, "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\"}",
		   "apiVersion: must be admission.k8s.io/v1, not \"admission.k8s.io/v1beta1\"");
	expect_bad(f, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}",
		   "kind: must be AdmissionReview, not \"Pod\"");
	expect_bad(f, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
		   "request: required");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":\"x\"}",
		   "request: must be an object");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{}}",
		   "request.uid: required");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"a b\"}}",
		   "request.uid: must be a non-empty string");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"u1\"}}",
		   "request.kind: required");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"u1\",\"kind\":{\"kind\":\"Pod\"},\"resource\":"
		   "{\"resource\":\"pods\"},\"operation\":\"PATCH\"}}",
		   "request.operation: must be CREATE, UPDATE, DELETE or CONNECT");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"u1\",\"kind\":{\"kind\":\"Pod\"},\"resource\":"
		   "{\"resource\":\"pods\"},\"operation\":\"CREATE\",\"object\":[]}}",
		   "request.object: must be an object");
	expect_bad(f,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"apiVersion\":\"admission.k8s.io/v1\"}",
		   "duplicate");
	/* Oversized bodies are refused before parsing (httpd caps them earlier still). */
	struct buf out = BUF_INIT(1 << 20);
	size_t big = ADMISSION_MAX_BODY + 1;
	char *body = malloc(big);
	memset(body, ' ', big);
	assert_int_equal(webhook_review(&f->w, WEBHOOK_EXEC, body, big, &out), 413);
	free(body);
	buf_free(&out);
	/* Each refusal is counted under kind "invalid". */
	const char *labels[] = {"invalid", "invalid"};
	assert_true(metric_value(f->w.reviews, labels) >= 15);
}

static char *pod_review(const char *uid, const char *op, const char *labels_json,
			const char *container)
{
	char *s = NULL;
	assert_true(
		asprintf(&s,
			 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			 "\"request\":{\"uid\":\"%s\",\"kind\":{\"group\":\"\",\"version\":\"v1\","
			 "\"kind\":\"Pod\"},\"resource\":{\"group\":\"\",\"version\":\"v1\","
			 "\"resource\":\"pods\"},\"namespace\":\"shop\",\"operation\":\"%s\","
			 "\"object\":{\"metadata\":{\"name\":\"p\",\"labels\":%s},\"spec\":"
			 "{\"containers\":[%s]}}}}",
			 uid, op, labels_json, container) > 0);
	return s;
}

static void mutate_route(void **state)
{
	struct fixture *f = *state;
	/* Selected (seccomp: {}): patched, with the uid echoed. */
	char *body = pod_review("uid-1", "CREATE", "{\"app\":\"web\"}",
				"{\"name\":\"c\",\"image\":\"busybox\"}");
	struct answer a = review(f, WEBHOOK_MUTATE_PODS, body);
	free(body);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "apiVersion", NULL, NULL), "admission.k8s.io/v1");
	assert_string_equal(str(a.body, "kind", NULL, NULL), "AdmissionReview");
	assert_string_equal(str(a.body, "response", "uid", NULL), "uid-1");
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_string_equal(str(a.body, "response", "patchType", NULL), "JSONPatch");
	const char *b64 = str(a.body, "response", "patch", NULL);
	struct buf patch = BUF_INIT(1 << 20);
	assert_int_equal(base64_decode_append(&patch, b64, strlen(b64)), 0);
	assert_non_null(strstr(buf_str(&patch), "\"localhostProfile\":\"bulwark/"));
	buf_free(&patch);
	json_decref(a.body);

	/* Not selected: allowed, no patch. */
	body = pod_review("uid-2", "CREATE", "{\"app\":\"other\"}",
			  "{\"name\":\"c\",\"image\":\"busybox\"}");
	a = review(f, WEBHOOK_MUTATE_PODS, body);
	free(body);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "response", "uid", NULL), "uid-2");
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_null(json_object_get(json_object_get(a.body, "response"), "patch"));
	json_decref(a.body);

	/* A review of something else on this route: the configuration is wrong, say so. */
	a = review(f, WEBHOOK_MUTATE_PODS,
		   "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"u3\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\","
		   "\"kind\":\"Deployment\"},\"resource\":{\"resource\":\"deployments\"},"
		   "\"operation\":\"CREATE\"}}");
	assert_int_equal(a.status, 200);
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_non_null(strstr(str(a.body, "response", "status", "message"),
			       "fix the webhook configuration's rules"));
	json_decref(a.body);

	const char *labels[] = {"Pod", "patched"};
	assert_true(metric_value(f->w.reviews, labels) >= 1);
}

static void validate_policies_route(void **state)
{
	struct fixture *f = *state;
#define POLICY_REVIEW(SECTION)                                                               \
	"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","              \
	"\"request\":{\"uid\":\"v1\",\"kind\":{\"group\":\"bulwark.dev\",\"version\":"       \
	"\"v1alpha1\",\"kind\":\"BulwarkPolicy\"},\"resource\":{\"group\":\"bulwark.dev\","  \
	"\"resource\":\"bulwarkpolicies\"},\"namespace\":\"shop\",\"operation\":\"CREATE\"," \
	"\"object\":{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\","    \
	"\"metadata\":{\"name\":\"p\"},\"spec\":{\"podSelector\":{}," SECTION "}}}}"
	struct answer a = review(
		f, WEBHOOK_VALIDATE_POLICIES,
		POLICY_REVIEW(
			"\"network\":{\"egress\":{\"rules\":[{\"cidrs\":[\"10.0.0.0/33\"]}]}}"));
	assert_int_equal(a.status, 200);
	const json_t *resp = json_object_get(a.body, "response");
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(resp, "status"), "code")), 422);
	const char *msg = str(a.body, "response", "status", "message");
	if (!strstr(msg, "spec.network.egress.rules[0].cidrs[0]"))
		fail_msg("message does not name the field: %s", msg);
	json_decref(a.body);

	a = review(f, WEBHOOK_VALIDATE_POLICIES,
		   POLICY_REVIEW("\"seccomp\":{\"allow\":[\"read\"]}"));
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);

	/* A NUL byte would cut the path short ("/tmp\0/x" read as "/tmp"): the review is
	 * readable, and the answer is a denial naming the field, not an HTTP error. */
	a = review(f, WEBHOOK_VALIDATE_POLICIES,
		   POLICY_REVIEW("\"landlock\":{\"filesystem\":[{\"paths\":[\"/\"],"
				 "\"access\":[\"read_file\"]},{\"paths\":[\"/tmp\\u0000/x\"],"
				 "\"access\":[\"read_file\"]}]}"));
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "response", "uid", NULL), "v1");
	resp = json_object_get(a.body, "response");
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(resp, "status"), "code")), 422);
	msg = str(a.body, "response", "status", "message");
	if (!strstr(msg, "spec.landlock.filesystem[1].paths[0]: holds a NUL byte"))
		fail_msg("message does not name the field: %s", msg);
	json_decref(a.body);
}

/* Every route reads the review the same way: a NUL in the object is denied naming the field
 * (map keys in brackets), a NUL in the envelope is a malformed review. */
static void nul_bytes(void **state)
{
	struct fixture *f = *state;
	char *body =
		pod_review("uid-nul", "CREATE", "{\"app\":\"web\",\"bulwark.dev/x\":\"a\\u0000\"}",
			   "{\"name\":\"c\",\"image\":\"busybox\"}");
	struct answer a = review(f, WEBHOOK_MUTATE_PODS, body);
	free(body);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "response", "uid", NULL), "uid-nul");
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	const char *msg = str(a.body, "response", "status", "message");
	if (!strstr(msg, "metadata.labels[bulwark.dev/x]: holds a NUL byte"))
		fail_msg("message does not name the field: %s", msg);
	json_decref(a.body);

	/* An escaped backslash before "u0000" is six plain characters, not a NUL. */
	body = pod_review("uid-esc", "CREATE", "{\"app\":\"other\",\"note\":\"a\\\\u0000\"}",
			  "{\"name\":\"c\",\"image\":\"busybox\"}");
	a = review(f, WEBHOOK_MUTATE_PODS, body);
	free(body);
	assert_int_equal(a.status, 200);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);

	body = pod_review("uid-nul\\u0000x", "CREATE", "{}",
			  "{\"name\":\"c\",\"image\":\"busybox\"}");
	expect_bad(f, body, "request.uid: holds a NUL byte");
	free(body);
}

static char *exec_review(const char *uid, const char *pod, const char *sub)
{
	char *s = NULL;
	assert_true(
		asprintf(&s,
			 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			 "\"request\":{\"uid\":\"%s\",\"kind\":{\"group\":\"\",\"version\":\"v1\","
			 "\"kind\":\"PodExecOptions\"},\"resource\":{\"group\":\"\",\"version\":"
			 "\"v1\",\"resource\":\"pods\"},\"subResource\":\"%s\",\"name\":\"%s\","
			 "\"namespace\":\"shop\",\"operation\":\"CONNECT\",\"userInfo\":"
			 "{\"username\":\"alice@example.com\",\"uid\":\"u-42\",\"groups\":"
			 "[\"devs\",\"system:authenticated\"]},\"object\":{\"kind\":"
			 "\"PodExecOptions\",\"apiVersion\":\"v1\",\"stdin\":true,\"tty\":true,"
			 "\"container\":\"app\",\"command\":[\"sh\",\"-c\",\"id\"]}}}",
			 uid, sub, pod) > 0);
	return s;
}

static json_t *labelled_pod(const char *app)
{
	return json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s}]}}", "metadata", "name", "p",
			 "namespace", "shop", "labels", "app", app, "spec", "nodeName", "node-a",
			 "containers", "name", "app");
}

/* jansson's parse error quotes the bytes near the error; when they are not UTF-8 the answer
 * must still be JSON (found by fuzz_admission_review: an invalid \u escape before a UTF-8
 * lead byte whose character was cut). */
static void error_quoting_invalid_utf8(void **state)
{
	struct fixture *f = *state;
	expect_bad(f, "{\"request\": {\"uid\": \"debu\\u000\xd0\x94ger\"}}", "body: invalid JSON");
	expect_bad(f, "{\"request\": \"\xff\xfe\"", "body: invalid JSON");
}

static void exec_denied_by_policy(void **state)
{
	struct fixture *f = *state;
	f->pod = labelled_pod("vault");
	size_t before = json_array_size(f->sessions);
	char *body = exec_review("e1", "p", "exec");
	struct answer a = review(f, WEBHOOK_EXEC, body);
	free(body);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "response", "uid", NULL), "e1");
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	const char *msg = str(a.body, "response", "status", "message");
	if (!strstr(msg, "forbidden by BulwarkPolicy [\"shop/lockdown\"]") ||
	    !strstr(msg, "allowExec: false"))
		fail_msg("denial does not name the policy: %s", msg);
	assert_int_equal(json_array_size(f->sessions), before); /* denied: no session */
	json_decref(a.body);
	json_decref(f->pod);
	f->pod = NULL;
}

static void exec_records_identity(void **state)
{
	struct fixture *f = *state;
	f->pod = labelled_pod("web");
	char *body = exec_review("Req_UID-9", "p", "attach");
	struct answer a = review(f, WEBHOOK_EXEC, body);
	free(body);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);
	assert_int_equal(json_array_size(f->sessions), 1);
	json_t *s = json_array_get(f->sessions, 0);
	assert_string_equal(str(s, "kind", NULL, NULL), "ExecSession");
	assert_string_equal(str(s, "metadata", "name", NULL), "exec-req-uid-9");
	assert_string_equal(str(s, "metadata", "namespace", NULL), "shop");
	assert_string_equal(str(s, "spec", "pod", NULL), "p");
	assert_string_equal(str(s, "spec", "container", NULL), "app");
	assert_string_equal(str(s, "spec", "node", NULL), "node-a");
	assert_string_equal(str(s, "spec", "requestUID", NULL), "Req_UID-9");
	assert_string_equal(str(s, "spec", "user", "username"), "alice@example.com");
	assert_string_equal(str(s, "spec", "user", "uid"), "u-42");
	const json_t *spec = json_object_get(s, "spec");
	assert_int_equal(json_array_size(json_object_get(json_object_get(spec, "user"), "groups")),
			 2);
	assert_true(json_is_true(json_object_get(spec, "tty")));
	assert_true(json_is_true(json_object_get(spec, "stdin")));
	json_t *cmd = json_pack("[s,s,s]", "sh", "-c", "id");
	assert_true(json_equal(json_object_get(spec, "command"), cmd));
	json_decref(cmd);

	/* The session cannot be written: refused, saying why (an unrecorded session is what
	 * recording prevents). */
	f->create_error = -EPERM;
	body = exec_review("e3", "p", "exec");
	a = review(f, WEBHOOK_EXEC, body);
	free(body);
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_non_null(strstr(str(a.body, "response", "status", "message"), "forbidden by RBAC"));
	json_decref(a.body);
	f->create_error = 0;

	/* The pod cannot be read: refused (fail closed), retry advised. */
	f->get_pod_error = -ECONNREFUSED;
	body = exec_review("e4", "p", "exec");
	a = review(f, WEBHOOK_EXEC, body);
	free(body);
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_non_null(strstr(str(a.body, "response", "status", "message"), "retry"));
	json_decref(a.body);
	f->get_pod_error = 0;

	/* An unselected pod: allowed, nothing recorded. */
	json_decref(f->pod);
	f->pod = labelled_pod("other");
	body = exec_review("e5", "p", "exec");
	a = review(f, WEBHOOK_EXEC, body);
	free(body);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_int_equal(json_array_size(f->sessions), 1);
	json_decref(a.body);
	json_decref(f->pod);
	f->pod = NULL;
}

static char *ephemeral_review(const char *uid, const char *app)
{
	char *s = NULL;
	assert_true(
		asprintf(&s,
			 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
			 "\"request\":{\"uid\":\"%s\",\"kind\":{\"group\":\"\",\"version\":\"v1\","
			 "\"kind\":\"Pod\"},\"resource\":{\"group\":\"\",\"version\":\"v1\","
			 "\"resource\":\"pods\"},\"subResource\":\"ephemeralcontainers\","
			 "\"name\":\"p\",\"namespace\":\"shop\",\"operation\":\"UPDATE\","
			 "\"object\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"shop\","
			 "\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":"
			 "\"app\"}],\"ephemeralContainers\":[{\"name\":\"debugger\"}]}},"
			 "\"oldObject\":{\"metadata\":{\"name\":\"p\"}}}}",
			 uid, app) > 0);
	return s;
}

static void ephemeral_containers(void **state)
{
	struct fixture *f = *state;
	char *body = ephemeral_review("d1", "vault");
	struct answer a = review(f, WEBHOOK_VALIDATE_PODS, body);
	free(body);
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	const char *msg = str(a.body, "response", "status", "message");
	if (!strstr(msg, "ephemeral containers (kubectl debug) to pod shop/p is forbidden by "
			 "BulwarkPolicy [\"shop/lockdown\"]"))
		fail_msg("unexpected message: %s", msg);
	json_decref(a.body);

	body = ephemeral_review("d2", "web");
	a = review(f, WEBHOOK_VALIDATE_PODS, body);
	free(body);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);
}

static void refuses_until_synced(void **state)
{
	struct fixture *f = *state;
	struct kube_informer *inf = kube_informer_new("bulwarkpolicies");
	assert_non_null(inf);
	f->w.informer = inf;
	char *body = pod_review("s1", "CREATE", "{\"app\":\"other\"}",
				"{\"name\":\"c\",\"image\":\"busybox\"}");
	struct answer a = review(f, WEBHOOK_MUTATE_PODS, body);
	assert_int_equal(a.status, 200);
	assert_string_equal(str(a.body, "response", "uid", NULL), "s1");
	assert_true(json_is_false(json_object_get(json_object_get(a.body, "response"), "allowed")));
	assert_non_null(strstr(str(a.body, "response", "status", "message"), "not synced yet"));
	json_decref(a.body);

	/* Policies are validated without the store: that route works at once. */
	a = review(f, WEBHOOK_VALIDATE_PODS, body);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);

	/* After the first list, reviews go through. */
	json_t *empty = json_array();
	assert_int_equal(kube_informer_replace(inf, empty, "1"), 0);
	json_decref(empty);
	a = review(f, WEBHOOK_MUTATE_PODS, body);
	assert_true(json_is_true(json_object_get(json_object_get(a.body, "response"), "allowed")));
	json_decref(a.body);
	free(body);
	f->w.informer = NULL;
	kube_informer_free(inf);
}

int main(void)
{
	log_set_verbosity(-1);
	/* One test per line. */
	// clang-format off
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_errors),
		cmocka_unit_test(mutate_route),
		cmocka_unit_test(validate_policies_route),
		cmocka_unit_test(nul_bytes),
		cmocka_unit_test(error_quoting_invalid_utf8),
		cmocka_unit_test(exec_denied_by_policy),
		cmocka_unit_test(exec_records_identity),
		cmocka_unit_test(ephemeral_containers),
		cmocka_unit_test(refuses_until_synced),
	};
	// clang-format on
	return cmocka_run_group_tests(tests, setup, teardown);
}
