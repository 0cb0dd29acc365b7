/* Kubeconfig and in-cluster loading: each supported form, and each refusal with its exact
 * message naming the field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/config.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_kube_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *rel, const char *content)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	*slash = '/';
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* One cluster "c", one user "u", one context "ctx" that is current; the user and cluster
 * bodies are given (already indented by 4). */
static char *kubeconfig(const char *cluster, const char *user)
{
	char *s;
	assert_true(asprintf(&s,
			     "apiVersion: v1\n"
			     "kind: Config\n"
			     "current-context: ctx\n"
			     "contexts:\n"
			     "- name: other\n"
			     "  context: {cluster: c, user: u, namespace: elsewhere}\n"
			     "- name: ctx\n"
			     "  context:\n"
			     "    cluster: c\n"
			     "    user: u\n"
			     "    namespace: prod\n"
			     "clusters:\n"
			     "- name: c\n"
			     "  cluster:\n"
			     "%s"
			     "users:\n"
			     "- name: u\n"
			     "  user:\n"
			     "%s",
			     cluster, user) > 0);
	return s;
}

#define SERVER "    server: https://10.1.2.3:6443/\n"

/* Parses and expects an error: its errno and its "field: reason" text. */
static void expect_error(const char *yaml, int want_err, const char *want_msg)
{
	struct field_error err = {0};
	struct kube_config *c = NULL;
	char msg[800];
	assert_int_equal(kube_config_parse(yaml, strlen(yaml), tmpdir, NULL, &c, &err), want_err);
	assert_null(c);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)), want_msg);
}

static void inline_data(void **state)
{
	/* "CA-PEM", "CERT-PEM", "KEY-PEM" in base64. */
	char *y = kubeconfig(SERVER "    certificate-authority-data: Q0EtUEVN\n"
				    "    insecure-skip-tls-verify: false\n",
			     "    client-certificate-data: Q0VSVC1QRU0=\n"
			     "    client-key-data: |\n      S0VZLVBF\n      TQ==\n");
	struct field_error err = {0};
	struct kube_config *c = NULL;
	assert_int_equal(kube_config_parse(y, strlen(y), NULL, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://10.1.2.3:6443");
	assert_int_equal(c->ca_len, 6);
	assert_memory_equal(c->ca_pem, "CA-PEM", 6);
	assert_int_equal(c->cert_len, 8);
	assert_memory_equal(c->cert_pem, "CERT-PEM", 8);
	assert_int_equal(c->key_len, 7);
	assert_memory_equal(c->key_pem, "KEY-PEM", 7);
	assert_string_equal(c->namespace, "prod");
	assert_string_equal(c->context, "ctx");
	char *tok = (char *)1;
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_null(tok);
	kube_config_free(c);

	/* An explicit context wins over current-context. */
	assert_int_equal(kube_config_parse(y, strlen(y), NULL, "other", &c, &err), 0);
	assert_string_equal(c->namespace, "elsewhere");
	kube_config_free(c);
	free(y);
}

static void relative_file_paths_resolve_against_the_kubeconfig(void **state)
{
	write_file("kc/pki/ca.crt", "FILE-CA");
	write_file("kc/pki/client.crt", "FILE-CERT");
	write_file("abs.key", "FILE-KEY");
	char user[256];
	snprintf(user, sizeof(user),
		 "    client-certificate: pki/client.crt\n    client-key: %s/abs.key\n", tmpdir);
	char *y = kubeconfig(SERVER "    certificate-authority: pki/ca.crt\n", user);
	write_file("kc/config", y);
	free(y);

	/* Run from elsewhere: the paths must not depend on the working directory. */
	char path[256];
	snprintf(path, sizeof(path), "%s/kc/config", tmpdir);
	struct field_error err = {0};
	struct kube_config *c = NULL;
	assert_int_equal(kube_config_load_file(path, NULL, &c, &err), 0);
	assert_int_equal(c->ca_len, 7);
	assert_memory_equal(c->ca_pem, "FILE-CA", 7);
	assert_memory_equal(c->cert_pem, "FILE-CERT", 9);
	assert_memory_equal(c->key_pem, "FILE-KEY", 8);
	kube_config_free(c);
}

static void token_and_token_file(void **state)
{
	char *y = kubeconfig(SERVER, "    token: abc.def\n");
	struct field_error err = {0};
	struct kube_config *c = NULL;
	char *tok = NULL;
	assert_int_equal(kube_config_parse(y, strlen(y), NULL, NULL, &c, &err), 0);
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_string_equal(tok, "abc.def");
	free(tok);
	kube_config_free(c);
	free(y);

	write_file("tok/token", "first-token\n");
	y = kubeconfig(SERVER, "    tokenFile: tok/token\n");
	assert_int_equal(kube_config_parse(y, strlen(y), tmpdir, NULL, &c, &err), 0);
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_string_equal(tok, "first-token");
	free(tok);
	/* Rotated on disk: the cached token serves until the refresh period or a forced read. */
	write_file("tok/token", "second-token");
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_string_equal(tok, "first-token");
	free(tok);
	assert_int_equal(kube_config_token(c, 1, &tok), 0);
	assert_string_equal(tok, "second-token");
	free(tok);
	/* A vanished file keeps the last good token. */
	char path[256];
	snprintf(path, sizeof(path), "%s/tok/token", tmpdir);
	unlink(path);
	assert_int_equal(kube_config_token(c, 1, &tok), 0);
	assert_string_equal(tok, "second-token");
	free(tok);
	kube_config_free(c);

	/* Both given: the file wins, as in client-go. */
	write_file("tok/token", "from-file\n");
	free(y);
	y = kubeconfig(SERVER, "    token: inline\n    tokenFile: tok/token\n");
	assert_int_equal(kube_config_parse(y, strlen(y), tmpdir, NULL, &c, &err), 0);
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_string_equal(tok, "from-file");
	free(tok);
	kube_config_free(c);
	free(y);
	unlink(path);
	y = kubeconfig(SERVER, "    tokenFile: tok/token\n");

	/* Missing at load: an error naming the field and the path. */
	char want[512];
	snprintf(want, sizeof(want),
		 "users[0].user.tokenFile: cannot read %s/tok/token: No such file or directory",
		 tmpdir);
	expect_error(y, -ENOENT, want);
	free(y);
}

static void refusals_name_the_field(void **state)
{
	char *y;

	expect_error("apiVersion: v1\nclusters: []\n", -EINVAL,
		     "current-context: not set and no context given");
	expect_error("current-context: nope\ncontexts:\n- name: ctx\n  context: {cluster: c}\n",
		     -EINVAL, "contexts: no entry named \"nope\"");
	expect_error("current-context: ctx\ncontexts:\n- name: ctx\n  context: {cluster: c}\n"
		     "clusters: []\n",
		     -EINVAL, "clusters: no entry named \"c\"");

	y = kubeconfig(SERVER, "    exec:\n      command: aws\n      args: [eks, get-token]\n");
	expect_error(y, -EINVAL,
		     "users[0].user.exec: not supported (user \"u\"); use a client certificate, "
		     "token or tokenFile");
	free(y);
	y = kubeconfig(SERVER, "    auth-provider: {name: gcp}\n");
	expect_error(y, -EINVAL,
		     "users[0].user.auth-provider: not supported (user \"u\"); use a client "
		     "certificate, token or tokenFile");
	free(y);
	y = kubeconfig(SERVER, "    client-certificate-data: Q0VSVA==\n"
			       "    client-key-data: not*base64\n");
	expect_error(y, -EINVAL, "users[0].user.client-key-data: not valid base64");
	free(y);
	y = kubeconfig(SERVER, "    client-certificate-data: Q0VSVA=\n");
	expect_error(y, -EINVAL, "users[0].user.client-certificate-data: not valid base64");
	free(y);
	y = kubeconfig(SERVER, "    client-certificate-data: Q0VSVA==\n");
	expect_error(y, -EINVAL,
		     "users[0].user.client-key: missing (a client certificate needs its key)");
	free(y);
	y = kubeconfig(SERVER "    insecure-skip-tls-verify: true\n", "    token: t\n");
	expect_error(y, -EINVAL,
		     "clusters[0].cluster.insecure-skip-tls-verify: refused: TLS verification "
		     "cannot be disabled; set certificate-authority(-data) instead");
	free(y);
	y = kubeconfig("    server: http://10.1.2.3:8080\n", "    token: t\n");
	expect_error(y, -EINVAL,
		     "clusters[0].cluster.server: must be an https:// URL (TLS is required), not "
		     "\"http://10.1.2.3:8080\"");
	free(y);
	y = kubeconfig("    certificate-authority-data: Q0E=\n", "    token: t\n");
	expect_error(y, -EINVAL, "clusters[0].cluster.server: missing");
	free(y);
	y = kubeconfig(SERVER "    certificate-authority: missing/ca.crt\n", "    token: t\n");
	char want[512];
	snprintf(want, sizeof(want),
		 "clusters[0].cluster.certificate-authority: cannot read %s/missing/ca.crt: No "
		 "such file or directory",
		 tmpdir);
	expect_error(y, -ENOENT, want);
	free(y);

	expect_error("current-context: ctx\ncontexts: [\n", -EINVAL,
		     "kubeconfig: invalid YAML at line 3: did not find expected node content");
	expect_error("a: &x [1]\nb: *x\n", -EINVAL,
		     "kubeconfig: YAML aliases are not supported "
		     "(line 2)");
	expect_error("- just\n- a list\n", -EINVAL, "kubeconfig: not a YAML mapping");
	expect_error("current-context: [1]\n", -EINVAL, "current-context: must be a string");
}

static void size_limit(void **state)
{
	size_t n = KUBE_CONFIG_MAX_SIZE + 2;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	write_file("big/config", big);
	struct field_error err = {0};
	struct kube_config *c = NULL;
	char path[256], msg[800];
	snprintf(path, sizeof(path), "%s/big/config", tmpdir);
	assert_int_equal(kube_config_load_file(path, NULL, &c, &err), -EFBIG);
	char want[512];
	snprintf(want, sizeof(want), "kubeconfig: cannot read %s: larger than 1 MiB", path);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)), want);
	memset(&err, 0, sizeof(err));
	assert_int_equal(kube_config_parse(big, n, NULL, NULL, &c, &err), -EINVAL);
	free(big);
}

static void in_cluster(void **state)
{
	struct field_error err = {0};
	struct kube_config *c = NULL;
	char root[128];
	snprintf(root, sizeof(root), "%s/sa", tmpdir);
	write_file("sa/token", "sa-token-1\n");
	write_file("sa/ca.crt", "SA-CA");
	write_file("sa/namespace", "bulwark-system\n");

	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(root, &c, &err), -ENXIO);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(root, &c, &err), 0);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_memory_equal(c->ca_pem, "SA-CA", 5);
	assert_string_equal(c->namespace, "bulwark-system");
	char *tok = NULL;
	assert_int_equal(kube_config_token(c, 0, &tok), 0);
	assert_string_equal(tok, "sa-token-1");
	free(tok);
	/* The kubelet rotates the projected token: a forced re-read (after a 401) sees it. */
	write_file("sa/token", "sa-token-2\n");
	assert_int_equal(kube_config_token(c, 1, &tok), 0);
	assert_string_equal(tok, "sa-token-2");
	free(tok);
	kube_config_free(c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(root, &c, &err), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	kube_config_free(c);

	char msg[800], want[512];
	snprintf(want, sizeof(want),
		 "ca.crt: cannot read %s/nope/ca.crt: No such file or directory", tmpdir);
	snprintf(root, sizeof(root), "%s/nope", tmpdir);
	assert_int_equal(kube_config_in_cluster(root, &c, &err), -ENOENT);
	assert_string_equal(field_error_str(&err, msg, sizeof(msg)), want);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inline_data),
		cmocka_unit_test(relative_file_paths_resolve_against_the_kubeconfig),
		cmocka_unit_test(token_and_token_file),
		cmocka_unit_test(refusals_name_the_field),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(in_cluster),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
