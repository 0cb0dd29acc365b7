/* kubectl bulwark explain: which policies select a pod, and for each syscall they name what
 * the compiled profile does and which policy (entry, group) is responsible. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/explain.h"

static const char pod_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":"
	"\"shop\","
	"\"uid\":\"u-1\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"node-a\","
	"\"containers\":"
	"[{\"name\":\"app\",\"image\":\"busybox\"},{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}";

static json_t *policy(const char *name, const char *mode, const char *selector,
		      const char *spec_rest)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"bulwark.dev/"
		 "v1alpha1\",\"kind\":\"BulwarkPolicy\",\"metadata\":{\"name\":"
		 "\"%s\",\"namespace\":\"shop\",\"generation\":3},\"spec\":{\"podSelector\":%s,"
		 "\"mode\":\"%s\","
		 "%s}}",
		 name, selector, mode, spec_rest);
	json_t *p = json_loads(buf, 0, NULL);
	assert_non_null(p);
	return p;
}

static char *explain(const char *pod_text, json_t **policies, size_t n, int *ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *pod = json_loads(pod_text, 0, NULL);
	struct field_error err = {0};
	*ret = explain_pod(pod, policies, n, f, &err);
	if (*ret < 0)
		fprintf(f, "ERROR %s: %s\n", err.field, err.reason);
	fclose(f);
	json_decref(pod);
	return text;
}

static void provenance_of_each_named_syscall(void **state)
{
	json_t *p[3] = {
		policy("web", "Enforce", "{\"matchLabels\":{\"app\":\"web\"}}",
		       "\"seccomp\":{\"deny\":[{\"syscalls\":[\"mkdir\",\"@mount\"]}]}"),
		policy("audit", "Audit", "{}",
		       "\"seccomp\":{\"deny\":[{\"syscalls\":[\"chmod\"]}]}"),
		policy("db", "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
		       "\"seccomp\":{\"deny\":[{\"syscalls\":[\"chown\"]}]}"),
	};
	int r;
	char *out = explain(pod_json, p, 3, &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(
		out, "shop/web                                 Enforce generation 3: seccomp\n"));
	assert_non_null(strstr(
		out, "shop/audit                               Audit   generation 3: seccomp\n"));
	assert_null(strstr(out, "shop/db")); /* it does not select the pod */
	assert_non_null(strstr(out, "containers: app sidecar\n"));
	assert_non_null(strstr(out, "    mkdir                  SCMP_ACT_ERRNO(1) (default)\n"
				    "      denied by shop/web (deny[0]: Errno EPERM)\n"));
	assert_non_null(strstr(out,
			       "    mount                  SCMP_ACT_ERRNO(1) (default)\n"
			       "      denied by shop/web (deny[0]: Errno EPERM, via @mount)\n"));
	/* RuntimeDefault allows chmod; the Audit policy turns it into a logged call. */
	assert_non_null(strstr(out,
			       "    chmod                  SCMP_ACT_LOG\n"
			       "      logged, not denied, by shop/audit (deny[0]: Errno EPERM)\n"));
	assert_null(strstr(out, "chown"));
	/* The base: which upstream version it follows, and what it decides on its own. */
	assert_non_null(strstr(out,
			       "  base: RuntimeDefault, following "
			       "github.com/moby/profiles/seccomp v0.3.0 (deliberate differences: "
			       "process_vm_readv process_vm_writev ptrace)\n"));
	assert_non_null(strstr(out, "    mkdir                  SCMP_ACT_ERRNO(1) (default)\n"
				    "      denied by shop/web (deny[0]: Errno EPERM)\n"
				    "      allowed by the RuntimeDefault base (follows "
				    "github.com/moby/profiles/seccomp v0.3.0)\n"));
	assert_non_null(strstr(out, "    clone3                 SCMP_ACT_ERRNO(38)\n"
				    "      Errno ENOSYS by the RuntimeDefault base (follows "
				    "github.com/moby/profiles/seccomp v0.3.0)\n"));
	assert_non_null(strstr(out,
			       "    socket                 SCMP_ACT_ALLOW with argument "
			       "conditions\n"
			       "      allowed for some argument values only by the RuntimeDefault "
			       "base (follows github.com/moby/profiles/seccomp v0.3.0)\n"));
	assert_non_null(strstr(out,
			       "    ptrace                 SCMP_ACT_ERRNO(1) (default)\n"
			       "      refused by the RuntimeDefault base: a deliberate difference "
			       "from github.com/moby/profiles/seccomp v0.3.0 (the reference allows "
			       "it on kernels >= 4.8"));
	/* A syscall the reference blocks and no policy names is not listed. */
	assert_null(strstr(out, "io_uring"));
	assert_non_null(strstr(out, "Compiled policy hash: "));
	free(out);
	for (size_t i = 0; i < 3; i++)
		json_decref(p[i]);
}

static void unselected_pod_has_nothing_enforced(void **state)
{
	json_t *p = policy("db", "Enforce", "{\"matchLabels\":{\"app\":\"db\"}}",
			   "\"seccomp\":{\"deny\":[{\"syscalls\":[\"chown\"]}]}");
	int r;
	char *out = explain(pod_json, &p, 1, &r);
	assert_int_equal(r, 0);
	assert_non_null(
		strstr(out, "No BulwarkPolicy selects this pod: nothing is enforced on it."));
	free(out);
	json_decref(p);
}

static void unknown_syscall_is_an_error_naming_the_policy(void **state)
{
	json_t *p = policy("web", "Enforce", "{}",
			   "\"seccomp\":{\"deny\":[{\"syscalls\":[\"mkdri\"]}]}");
	int r;
	char *out = explain(pod_json, &p, 1, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(out, "ERROR "));
	assert_non_null(strstr(out, "mkdri"));
	free(out);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(provenance_of_each_named_syscall),
		cmocka_unit_test(unselected_pod_has_nothing_enforced),
		cmocka_unit_test(unknown_syscall_is_an_error_naming_the_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
