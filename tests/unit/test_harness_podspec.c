/* The node harness reading a Pod like the kubelet: quantities and the QoS class, command/args
 * over the image's entrypoint/cmd with $(VAR) expansion, the environment, fieldRefs and the
 * downwardAPI map format, seccomp profile precedence, and the kubelet's cgroup names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "../../e2e/harness/cgroup_layout.h"
#include "../../e2e/harness/pod_spec.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (!j)
		fail_msg("bad test JSON at line %d: %s", jerr.line, jerr.text);
	return j;
}

static void quantities(void **state)
{
	long double v;
	assert_int_equal(podspec_quantity_parse("500m", &v), 0);
	assert_true(v > 0.4999L && v < 0.5001L);
	assert_int_equal(podspec_quantity_parse("1.5Gi", &v), 0);
	assert_true(v == 1.5L * 1073741824.0L);
	assert_int_equal(podspec_quantity_parse("2e3", &v), 0);
	assert_true(v == 2000.0L);
	assert_int_equal(podspec_quantity_parse("64Mi", &v), 0);
	assert_true(v == 67108864.0L);
	const char *bad[] = {"", "abc", "1x", "-1", "1 Gi", "1Gi ", "nan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(podspec_quantity_parse(bad[i], &v), -EINVAL);
}

static const char *qos_of(const char *containers)
{
	static char out[32];
	char text[2048];
	snprintf(text, sizeof(text), "{\"spec\": {%s}}", containers);
	json_t *pod = parse(text);
	snprintf(out, sizeof(out), "%s", podspec_qos_class(pod));
	json_decref(pod);
	return out;
}

static void qos_classes(void **state)
{
	assert_string_equal(qos_of("\"containers\": [{\"name\": \"a\"}]"), "BestEffort");
	/* Limits only: requests default to them, so both resources match → Guaranteed. */
	assert_string_equal(
		qos_of("\"containers\": [{\"resources\": {\"limits\": {\"cpu\": \"100m\", "
		       "\"memory\": \"64Mi\"}}}]"),
		"Guaranteed");
	assert_string_equal(
		qos_of("\"containers\": [{\"resources\": {\"requests\": {\"cpu\": \"0.1\", "
		       "\"memory\": \"67108864\"}, \"limits\": {\"cpu\": \"100m\", "
		       "\"memory\": \"64Mi\"}}}]"),
		"Guaranteed");
	assert_string_equal(
		qos_of("\"containers\": [{\"resources\": {\"requests\": {\"cpu\": \"50m\"}, "
		       "\"limits\": {\"cpu\": \"100m\", \"memory\": \"64Mi\"}}}]"),
		"Burstable");
	assert_string_equal(
		qos_of("\"containers\": [{\"resources\": {\"requests\": {\"memory\": \"1Mi\"}}}]"),
		"Burstable");
	/* One container without limits makes the whole pod Burstable. */
	assert_string_equal(qos_of("\"containers\": [{\"resources\": {\"limits\": {\"cpu\": \"1\", "
				   "\"memory\": \"1Gi\"}}}, {\"name\": \"b\"}]"),
			    "Burstable");
	/* Init containers count too. */
	assert_string_equal(
		qos_of("\"initContainers\": [{\"resources\": {\"requests\": {\"cpu\": \"1\"}}}], "
		       "\"containers\": [{\"name\": \"a\"}]"),
		"Burstable");
	/* A zero quantity counts as unset. */
	assert_string_equal(
		qos_of("\"containers\": [{\"resources\": {\"requests\": {\"cpu\": \"0\"}}}]"),
		"BestEffort");
	json_t *pod = parse(
		"{\"spec\": {\"containers\": []}, \"status\": {\"qosClass\": \"Burstable\"}}");
	assert_string_equal(podspec_qos_class(pod), "Burstable");
	json_decref(pod);
}

static const char *const busybox_cmd[] = {"sh", NULL};
static const char *const no_entrypoint[] = {NULL};

static char *argv_of(const char *container, char *const *env, struct field_error *err, int *rc)
{
	json_t *c = parse(container);
	char **argv = NULL;
	*rc = podspec_container_argv(c, no_entrypoint, busybox_cmd, env, &argv, err);
	json_decref(c);
	if (*rc < 0)
		return NULL;
	/* "a|b|c|" */
	size_t len = 1;
	for (char **a = argv; *a; a++)
		len += strlen(*a) + 1;
	char *joined = calloc(1, len);
	for (char **a = argv; *a; a++) {
		strcat(joined, *a);
		strcat(joined, "|");
	}
	harness_strv_free(argv);
	return joined;
}

static void command_and_args(void **state)
{
	char *env[] = {"FOO=a b", "EMPTY=", NULL};
	struct field_error err = {0};
	int rc;
	char *s =
		argv_of("{\"command\": [\"sh\", \"-c\"], \"args\": [\"echo $(FOO)\", \"$$(FOO)\", "
			"\"$(NOPE)\", \"$(EMPTY)x\", \"$(FOO\"]}",
			env, &err, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "sh|-c|echo a b|$(FOO)|$(NOPE)|x|$(FOO|");
	free(s);
	/* args without command: the image's entrypoint (none for busybox) + args. */
	s = argv_of("{\"args\": [\"sleep\", \"1\"]}", env, &err, &rc);
	assert_string_equal(s, "sleep|1|");
	free(s);
	/* Neither: the image's cmd. */
	s = argv_of("{}", env, &err, &rc);
	assert_string_equal(s, "sh|");
	free(s);
	/* command without args drops the image's cmd. */
	s = argv_of("{\"command\": [\"true\"]}", env, &err, &rc);
	assert_string_equal(s, "true|");
	free(s);
	s = argv_of("{\"command\": \"sh -c x\"}", env, &err, &rc);
	assert_null(s);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err.field, "command");
	memset(&err, 0, sizeof(err));
	s = argv_of("{\"args\": [\"ok\", 3]}", env, &err, &rc);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err.field, "args");
	assert_non_null(strstr(err.reason, "[1]"));
}

static void environment(void **state)
{
	json_t *pod = parse(
		"{\"metadata\": {\"name\": \"p\", \"uid\": \"u-1\", \"labels\": {\"app\": \"x\"}},"
		" \"spec\": {\"nodeName\": \"n1\"}}");
	json_t *c = parse("{\"env\": [{\"name\": \"A\", \"value\": \"1\"},"
			  " {\"name\": \"B\", \"value\": \"$(A)-$(PATH)\"},"
			  " {\"name\": \"NS\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": "
			  "\"metadata.namespace\"}}},"
			  " {\"name\": \"IP\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": "
			  "\"status.podIP\"}}},"
			  " {\"name\": \"APP\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": "
			  "\"metadata.labels['app']\"}}},"
			  " {\"name\": \"NODE\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": "
			  "\"spec.nodeName\"}}}]}");
	const char *image_env[] = {"PATH=/bin", NULL};
	char **env = NULL;
	struct field_error err = {0};
	assert_int_equal(podspec_container_env(pod, c, "198.19.0.2", image_env, &env, &err), 0);
	const char *want[] = {"PATH=/bin",     "A=1",	"B=1-/bin", "NS=default",
			      "IP=198.19.0.2", "APP=x", "NODE=n1",  NULL};
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(env[i], want[i]);
	assert_null(env[7]);
	harness_strv_free(env);
	json_decref(c);

	c = parse("{\"env\": [{\"name\": \"S\", \"valueFrom\": {\"secretKeyRef\": {\"name\": "
		  "\"s\", \"key\": \"k\"}}}]}");
	assert_int_equal(podspec_container_env(pod, c, NULL, image_env, &env, &err), -EINVAL);
	assert_string_equal(err.field, "env[0]");
	json_decref(c);
	memset(&err, 0, sizeof(err));
	c = parse("{\"env\": [{\"name\": \"X\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": "
		  "\"spec.bogus\"}}}]}");
	assert_int_equal(podspec_container_env(pod, c, NULL, image_env, &env, &err), -EINVAL);
	assert_non_null(strstr(err.reason, "spec.bogus"));
	json_decref(c);
	json_decref(pod);
}

static void downward_api_values(void **state)
{
	json_t *pod =
		parse("{\"metadata\": {\"name\": \"p\", \"namespace\": \"ns\", \"uid\": \"u\","
		      " \"annotations\": {\"z\": \"last\", \"a.b/c\": \"q\\\"uote\\nline\\\\\","
		      " \"bulwark.dev/ruleset\": \"{\\\"x\\\": 1}\"}}, \"spec\": {}}");
	char *v = NULL;
	assert_int_equal(podspec_field_value(pod, NULL, "metadata.annotations", &v), 0);
	assert_string_equal(v, "a.b/c=\"q\\\"uote\\nline\\\\\"\nbulwark.dev/ruleset=\"{\\\"x\\\": "
			       "1}\"\nz=\"last\"");
	free(v);
	assert_int_equal(
		podspec_field_value(pod, NULL, "metadata.annotations['bulwark.dev/ruleset']", &v),
		0);
	assert_string_equal(v, "{\"x\": 1}");
	free(v);
	assert_int_equal(podspec_field_value(pod, NULL, "metadata.annotations['missing']", &v), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(podspec_field_value(pod, NULL, "metadata.labels", &v), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(podspec_field_value(pod, NULL, "metadata.uid", &v), 0);
	assert_string_equal(v, "u");
	free(v);
	assert_int_equal(podspec_field_value(pod, NULL, "metadata.annotations[x]", &v), -ENOENT);
	assert_int_equal(podspec_field_value(pod, NULL, "status.hostIP", &v), -ENOENT);
	json_decref(pod);
}

static void seccomp_precedence(void **state)
{
	json_t *pod = parse("{\"spec\": {\"securityContext\": {\"seccompProfile\": {\"type\": "
			    "\"RuntimeDefault\"}}}}");
	json_t *plain = parse("{\"name\": \"a\"}");
	json_t *local = parse("{\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\","
			      " \"localhostProfile\": \"bulwark/abc.json\"}}}");
	json_t *unconf =
		parse("{\"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\"}}}");
	enum seccomp_kind kind;
	const char *path;
	struct field_error err = {0};
	assert_int_equal(podspec_container_seccomp(pod, plain, &kind, &path, &err), 0);
	assert_int_equal(kind, SECCOMP_RUNTIME_DEFAULT);
	assert_int_equal(podspec_container_seccomp(pod, local, &kind, &path, &err), 0);
	assert_int_equal(kind, SECCOMP_LOCALHOST);
	assert_string_equal(path, "bulwark/abc.json");
	assert_int_equal(podspec_container_seccomp(pod, unconf, &kind, &path, &err), 0);
	assert_int_equal(kind, SECCOMP_UNCONFINED);
	json_t *nopod = parse("{\"spec\": {}}");
	assert_int_equal(podspec_container_seccomp(nopod, plain, &kind, &path, &err), 0);
	assert_int_equal(kind, SECCOMP_UNCONFINED);

	const char *bad[] = {
		"{\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\", "
		"\"localhostProfile\": \"../etc/x\"}}}",
		"{\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\", "
		"\"localhostProfile\": \"/abs\"}}}",
		"{\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\"}}}",
		"{\"securityContext\": {\"seccompProfile\": {\"type\": \"Strict\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *c = parse(bad[i]);
		memset(&err, 0, sizeof(err));
		assert_int_equal(podspec_container_seccomp(nopod, c, &kind, &path, &err), -EINVAL);
		assert_non_null(strstr(err.field, "seccompProfile"));
		json_decref(c);
	}
	json_decref(nopod);
	json_decref(pod);
	json_decref(plain);
	json_decref(local);
	json_decref(unconf);
}

static void pod_identity(void **state)
{
	struct pod_meta m;
	struct field_error err = {0};
	json_t *pod =
		parse("{\"metadata\": {\"name\": \"p\", \"uid\": \"0a1b-2c\"}, \"spec\": {}}");
	assert_int_equal(podspec_meta(pod, &m, &err), 0);
	assert_string_equal(m.namespace, "default");
	assert_null(m.node_name);
	json_decref(pod);
	const char *bad[] = {
		"{\"metadata\": {\"name\": \"p\", \"uid\": \"../../x\"}, \"spec\": {}}",
		"{\"metadata\": {\"name\": \"p\"}, \"spec\": {}}",
		"{\"metadata\": {\"uid\": \"u\"}, \"spec\": {}}",
		"{\"metadata\": {\"name\": \"p\", \"uid\": \"u\"}}",
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pod = parse(bad[i]);
		assert_int_equal(podspec_meta(pod, &m, &err), -EINVAL);
		json_decref(pod);
	}
}

static void cgroup_names(void **state)
{
	static const struct {
		enum harness_cgroup_driver d;
		const char *qos, *pod, *container;
	} cases[] = {
		{HARNESS_CGROUP_CGROUPFS, "Guaranteed", "kubepods/pod0a-1b",
		 "kubepods/pod0a-1b/c0ffee"},
		{HARNESS_CGROUP_CGROUPFS, "Burstable", "kubepods/burstable/pod0a-1b",
		 "kubepods/burstable/pod0a-1b/c0ffee"},
		{HARNESS_CGROUP_CGROUPFS, "BestEffort", "kubepods/besteffort/pod0a-1b",
		 "kubepods/besteffort/pod0a-1b/c0ffee"},
		{HARNESS_CGROUP_SYSTEMD, "Guaranteed", "kubepods.slice/kubepods-pod0a_1b.slice",
		 "kubepods.slice/kubepods-pod0a_1b.slice/cri-containerd-c0ffee.scope"},
		{HARNESS_CGROUP_SYSTEMD, "Burstable",
		 "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a_1b.slice",
		 "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a_1b.slice/"
		 "cri-containerd-c0ffee.scope"},
		{HARNESS_CGROUP_SYSTEMD, "BestEffort",
		 "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a_1b.slice",
		 "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a_1b.slice/"
		 "cri-containerd-c0ffee.scope"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char pod[256], c[300];
		assert_int_equal(harness_cgroup_pod_path(cases[i].d, cases[i].qos, "0a-1b", pod,
							 sizeof(pod)),
				 0);
		assert_string_equal(pod, cases[i].pod);
		assert_int_equal(
			harness_cgroup_container_path(cases[i].d, pod, "c0ffee", c, sizeof(c)), 0);
		assert_string_equal(c, cases[i].container);
	}
	char small[8];
	assert_int_equal(harness_cgroup_pod_path(HARNESS_CGROUP_CGROUPFS, "BestEffort", "0a-1b",
						 small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_int_equal(harness_cgroup_pod_path(HARNESS_CGROUP_CGROUPFS, "Platinum", "u", small,
						 sizeof(small)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quantities),	       cmocka_unit_test(qos_classes),
		cmocka_unit_test(command_and_args),    cmocka_unit_test(environment),
		cmocka_unit_test(downward_api_values), cmocka_unit_test(seccomp_precedence),
		cmocka_unit_test(pod_identity),	       cmocka_unit_test(cgroup_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
