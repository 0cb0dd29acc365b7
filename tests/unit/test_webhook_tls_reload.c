/* A renewal as the webhook writes it (the new key first, then the new certificate, each file
 * replaced atomically) against lib/httpd's reload at handshake time: in the moment between the
 * two renames the files do not belong together, and the server must keep serving the previous
 * pair rather than one whose key cannot sign for its certificate (every handshake would fail).
 * Then the new pair is served. Certificates come from certs_renew(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fileio.h"
#include "httpd.h"
#include "webhook/certs.h"

static char dir[] = "/tmp/bulwark-tls-reload-XXXXXX";
static char ca_file[256], cert_file[256], key_file[256];

static int ok_handler(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	return buf_append_str(&resp->body, "ok");
}

/* A handshake and a request; the served certificate's PEM into ret_pem (may be NULL). */
static CURLcode get(uint16_t port, char *ret_pem, size_t size)
{
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", port);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	FILE *sink = fopen("/dev/null", "we");
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	CURLcode rc = curl_easy_perform(c);
	struct curl_certinfo *ci = NULL;
	if (ret_pem && rc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK &&
	    ci && ci->num_of_certs > 0)
		for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
			if (strncmp(s->data, "Cert:", 5) == 0)
				snprintf(ret_pem, size, "%s", s->data + 5);
	curl_easy_cleanup(c);
	fclose(sink);
	return rc;
}

static void write_str(const char *path, const char *s)
{
	assert_int_equal(write_file_atomic(path, s, strlen(s), 0600), 0);
}

static void same_pem(const char *served, const char *file_pem)
{
	/* curl prints the PEM with its own line breaks; compare without whitespace. */
	char a[8192], b[8192];
	size_t na = 0, nb = 0;
	for (const char *p = served; *p && na + 1 < sizeof(a); p++)
		if (*p != '\n' && *p != '\r')
			a[na++] = *p;
	for (const char *p = file_pem; *p && nb + 1 < sizeof(b); p++)
		if (*p != '\n' && *p != '\r')
			b[nb++] = *p;
	a[na] = b[nb] = '\0';
	assert_string_equal(a, b);
}

static void key_before_certificate(void **state)
{
	static const char *const ips[] = {"127.0.0.1"};
	struct cert_options o = {.ip_addresses = ips, .n_ip_addresses = 1};
	time_t now = time(NULL);
	struct cert_material empty = {0}, first = {0}, second = {0};
	bool changed = false;
	assert_int_equal(certs_renew(&empty, &o, now, &first, &changed, NULL), 0);
	/* A forced re-issue by the same CA: ask for an extra name. */
	static const char *const dns[] = {"renewed.test"};
	struct cert_options o2 = o;
	o2.dns_names = dns;
	o2.n_dns_names = 1;
	assert_int_equal(certs_renew(&first, &o2, now, &second, &changed, NULL), 0);
	assert_true(changed);
	assert_string_equal(second.ca, first.ca);

	write_str(ca_file, first.ca);
	write_str(key_file, first.key);
	write_str(cert_file, first.cert);
	struct httpd_config cfg = {
		.address = "127.0.0.1", .cert_file = cert_file, .key_file = key_file};
	struct httpd *h = NULL;
	assert_int_equal(httpd_new(&cfg, &h), 0);
	assert_int_equal(httpd_route(h, "GET", "/", ok_handler, NULL), 0);
	assert_int_equal(httpd_start(h), 0);
	uint16_t port = httpd_port(h);
	char pem[8192] = "";
	assert_int_equal(get(port, pem, sizeof(pem)), CURLE_OK);
	same_pem(pem, first.cert);

	/* Mid-renewal: the new key next to the old certificate, past the reload interval. */
	write_str(key_file, second.key);
	sleep(2);
	for (int i = 0; i < 3; i++) {
		pem[0] = '\0';
		assert_int_equal(get(port, pem, sizeof(pem)), CURLE_OK);
		same_pem(pem, first.cert);
	}

	/* The certificate follows: the new pair is served. */
	write_str(cert_file, second.cert);
	sleep(2);
	pem[0] = '\0';
	assert_int_equal(get(port, pem, sizeof(pem)), CURLE_OK);
	same_pem(pem, second.cert);

	httpd_free(h);
	cert_material_done(&first);
	cert_material_done(&second);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca_file, sizeof(ca_file), "%s/ca.crt", dir);
	snprintf(cert_file, sizeof(cert_file), "%s/tls.crt", dir);
	snprintf(key_file, sizeof(key_file), "%s/tls.key", dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	unlink(ca_file);
	unlink(cert_file);
	unlink(key_file);
	rmdir(dir);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_before_certificate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
