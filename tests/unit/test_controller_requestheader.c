/* The front-proxy trust and its reload: certificates checked per request against the current
 * CA generation (a bundle of two CAs accepts both, a removed CA is refused after the swap, a
 * malformed or unreadable ConfigMap keeps the old trust, a deleted one removes it), the
 * reload thread woken by a refused certificate, the reload counter, and the whole path over
 * TLS: a listener started with CA A accepts a client of CA B once the ConfigMap adds B.
 * Certificates are made with openssl in a temp dir; the ConfigMap comes from a stub fetch. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "controller/recordings/recordings_api.h"
#include "controller/recordings/requestheader.h"
#include "controller/recordings/requestheader_reload.h"
#include "metrics.h"

#define CERTS_MAX (64 << 10)

static char dir[] = "/tmp/bulwark-requestheader-XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A whole file (DER holds NUL bytes), NUL-terminated. */
static char *slurp(const char *name, size_t *ret_len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *data = malloc(CERTS_MAX + 1);
	assert_non_null(data);
	size_t n = fread(data, 1, CERTS_MAX, f);
	fclose(f);
	assert_true(n > 0 && n < CERTS_MAX);
	data[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return data;
}

static void make_ca(const char *name)
{
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-subj /CN=%s -days 1 -keyout %s.key -out %s.crt 2>/dev/null && "
	   "openssl x509 -in %s.crt -outform DER -out %s.der",
	   dir, name, name, name, name, name);
}

/* A certificate for cn signed by ca with the extensions given, as PEM and DER. */
static void issue(const char *name, const char *ca, const char *cn, const char *ext)
{
	sh("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-subj /CN=%s -keyout %s.key -out %s.csr 2>/dev/null && "
	   "printf '%s\\n' > %s.ext && "
	   "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -set_serial 7 -days 1 "
	   "-extfile %s.ext -out %s.crt 2>/dev/null && "
	   "openssl x509 -in %s.crt -outform DER -out %s.der",
	   dir, cn, name, name, ext, name, name, ca, ca, name, name, name, name);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	make_ca("ca-a");
	make_ca("ca-b");
	make_ca("serving-ca");
	issue("client-a", "ca-a", "front-proxy-client", "extendedKeyUsage=clientAuth");
	issue("client-b", "ca-b", "front-proxy-client", "extendedKeyUsage=clientAuth");
	issue("intruder", "ca-a", "intruder", "extendedKeyUsage=clientAuth");
	issue("server-only", "ca-a", "front-proxy-client", "extendedKeyUsage=serverAuth");
	issue("serving", "serving-ca", "127.0.0.1", "subjectAltName=IP:127.0.0.1");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	sh("rm -rf %s", dir);
	curl_global_cleanup();
	return 0;
}

/* ---- the stub ConfigMap --------------------------------------------------------------------- */

struct stub {
	char *ca;	   /* requestheader-client-ca-file */
	const char *names; /* requestheader-allowed-names */
	int fail;	   /* a negative errno the fetch returns instead */
	unsigned fetches;  /* calls */
};

static int stub_fetch(void *ud, json_t **ret, struct field_error *err)
{
	struct stub *s = ud;
	__atomic_add_fetch(&s->fetches, 1, __ATOMIC_SEQ_CST);
	if (s->fail) {
		field_error_set(err, "configmaps/kube-system/extension-apiserver-authentication",
				"stub failure");
		return s->fail;
	}
	*ret = json_pack("{s:{s:s,s:s,s:s,s:s}}", "data", "requestheader-client-ca-file", s->ca,
			 "requestheader-allowed-names", s->names, "requestheader-username-headers",
			 "[\"X-Remote-User\"]", "requestheader-group-headers",
			 "[\"X-Remote-Group\"]");
	return *ret ? 0 : -ENOMEM;
}

static void set_ca(struct stub *s, const char *first, const char *second)
{
	free(s->ca);
	char *a = slurp(first, NULL);
	if (!second) {
		s->ca = a;
		return;
	}
	char *b = slurp(second, NULL);
	assert_true(asprintf(&s->ca, "%s%s", a, b) > 0);
	free(a);
	free(b);
}

/* Verifies the DER certificate name.der against the current generation: 0 or -EKEYREJECTED. */
static int verify_with(struct requestheader_trust *t, const char *name)
{
	char file[64];
	snprintf(file, sizeof(file), "%s.der", name);
	size_t len;
	char *der = slurp(file, &len);
	struct httpd_der chain = {(const unsigned char *)der, len};
	char cn[64], msg[512];
	int r = requestheader_trust_verify(t, &chain, 1, cn, sizeof(cn), msg, sizeof(msg));
	if (r == 0)
		assert_string_equal(cn, "front-proxy-client");
	else
		assert_true(msg[0] != '\0');
	free(der);
	return r;
}

static int verify_current(struct requestheader_reload *rl, const char *name)
{
	struct requestheader_trust *t = requestheader_reload_current(rl);
	assert_non_null(t);
	int r = verify_with(t, name);
	requestheader_trust_unref(t);
	return r;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void verification(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-a.crt", NULL);
	struct requestheader_reload_options o = {.fetch = stub_fetch, .userdata = &s};
	struct requestheader_reload *rl = NULL;
	struct field_error fe = {0};
	assert_int_equal(requestheader_reload_new(&o, &rl, &fe), 0);

	assert_int_equal(verify_current(rl, "client-a"), 0);
	assert_int_equal(verify_current(rl, "client-b"), -EKEYREJECTED); /* another CA */
	assert_int_equal(verify_current(rl, "intruder"), -EKEYREJECTED); /* not an allowed name */
	assert_int_equal(verify_current(rl, "server-only"), -EKEYREJECTED); /* not for clients */
	/* A CA certificate is not a client, nor is garbage. */
	assert_int_equal(verify_current(rl, "ca-a"), -EKEYREJECTED);
	struct requestheader_trust *t = requestheader_reload_current(rl);
	struct httpd_der junk = {(const unsigned char *)"\x30\x03\x02\x01\x01", 5};
	char cn[64], msg[256];
	assert_int_equal(requestheader_trust_verify(t, &junk, 1, cn, sizeof(cn), msg, sizeof(msg)),
			 -EKEYREJECTED);
	assert_int_equal(requestheader_trust_verify(t, NULL, 0, cn, sizeof(cn), msg, sizeof(msg)),
			 -EKEYREJECTED);
	requestheader_trust_unref(t);

	/* No allowed names: any client certificate of the CA. */
	s.names = "[]";
	assert_int_equal(requestheader_reload_once(rl), 1);
	size_t len;
	char *der = slurp("intruder.der", &len);
	struct httpd_der intruder = {(const unsigned char *)der, len};
	t = requestheader_reload_current(rl);
	assert_int_equal(
		requestheader_trust_verify(t, &intruder, 1, cn, sizeof(cn), msg, sizeof(msg)), 0);
	assert_string_equal(cn, "intruder");
	/* ...but not past the caller's buffer. */
	assert_int_equal(requestheader_trust_verify(t, &intruder, 1, cn, 4, msg, sizeof(msg)),
			 -EKEYREJECTED);
	requestheader_trust_unref(t);
	free(der);
	assert_int_equal(verify_current(rl, "client-b"), -EKEYREJECTED); /* the CA still counts */
	requestheader_reload_free(rl);
	free(s.ca);
}

static void rotation(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-a.crt", NULL);
	struct metrics_registry *reg = metrics_registry_new();
	struct recordings_api_metrics m;
	assert_int_equal(recordings_api_metrics_register(reg, &m), 0);
	struct requestheader_reload_options o = {
		.fetch = stub_fetch, .userdata = &s, .reloads = m.trust_reloads};
	struct requestheader_reload *rl = NULL;
	struct field_error fe = {0};
	assert_int_equal(requestheader_reload_new(&o, &rl, &fe), 0);
	assert_int_equal(verify_current(rl, "client-b"), -EKEYREJECTED);

	/* Unchanged: no new generation. */
	struct requestheader_trust *first = requestheader_reload_current(rl);
	assert_int_equal(requestheader_reload_once(rl), 0);
	struct requestheader_trust *again = requestheader_reload_current(rl);
	assert_ptr_equal(first, again);
	requestheader_trust_unref(again);

	/* The rotation: A and B in one bundle, certificates of either accepted. */
	set_ca(&s, "ca-a.crt", "ca-b.crt");
	assert_int_equal(requestheader_reload_once(rl), 1);
	struct requestheader_trust *both = requestheader_reload_current(rl);
	assert_int_equal(requestheader_trust_n_cas(both), 2);
	assert_int_equal(verify_with(both, "client-a"), 0);
	assert_int_equal(verify_with(both, "client-b"), 0);

	/* A dropped: its certificates are refused by the new generation, while a request that
	 * started before the swap still holds (and may use) the generation it had. */
	set_ca(&s, "ca-b.crt", NULL);
	assert_int_equal(requestheader_reload_once(rl), 1);
	assert_int_equal(verify_current(rl, "client-a"), -EKEYREJECTED);
	assert_int_equal(verify_current(rl, "client-b"), 0);
	assert_int_equal(verify_with(first, "client-a"), 0);
	assert_int_equal(verify_with(both, "client-a"), 0);
	requestheader_trust_unref(first);
	requestheader_trust_unref(both);

	/* Malformed ConfigMaps keep the current trust (B). */
	char *good = s.ca;
	const char *broken[] = {
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"no certificate at all",
	};
	for (size_t i = 0; i < 2; i++) {
		s.ca = (char *)broken[i];
		assert_int_equal(requestheader_reload_once(rl), -EINVAL);
		assert_int_equal(verify_current(rl, "client-b"), 0);
		assert_int_equal(verify_current(rl, "client-a"), -EKEYREJECTED);
	}
	/* One good and one broken certificate: refused whole, not trusted in part. */
	char *half;
	assert_true(asprintf(&half, "%s%s", good, broken[0]) > 0);
	s.ca = half;
	assert_int_equal(requestheader_reload_once(rl), -EINVAL);
	free(half);
	s.ca = good;
	s.names = "not a list";
	assert_int_equal(requestheader_reload_once(rl), -EINVAL);
	s.names = "[\"front-proxy-client\"]";
	assert_int_equal(verify_current(rl, "client-b"), 0);

	/* An API server that cannot be reached: kept too. */
	s.fail = -ETIMEDOUT;
	assert_int_equal(requestheader_reload_once(rl), -ETIMEDOUT);
	assert_int_equal(verify_current(rl, "client-b"), 0);
	/* A deleted ConfigMap: no trust at all, until it is back. */
	s.fail = -ENOENT;
	assert_int_equal(requestheader_reload_once(rl), -ENOENT);
	assert_null(requestheader_reload_current(rl));
	s.fail = 0;
	assert_int_equal(requestheader_reload_once(rl), 1);
	assert_int_equal(verify_current(rl, "client-b"), 0);

	/* new + 6 ok (unchanged, two swaps, back) ... and 6 errors. */
	double ok = metric_value(m.trust_reloads, (const char *const[]){"ok"});
	double err = metric_value(m.trust_reloads, (const char *const[]){"error"});
	assert_int_equal((int)ok, 5);
	assert_int_equal((int)err, 6);
	struct buf out = BUF_INIT(1 << 20);
	assert_int_equal(metrics_render(reg, &out), 0);
	assert_non_null(strstr(buf_str(&out), "# TYPE bulwark_recordings_api_trust_reloads_total "
					      "counter\n"));
	assert_non_null(strstr(buf_str(&out),
			       "bulwark_recordings_api_trust_reloads_total{result=\"error\"} 6\n"
			       "bulwark_recordings_api_trust_reloads_total{result=\"ok\"} 5\n"));
	buf_free(&out);
	requestheader_reload_free(rl);
	metrics_registry_free(reg);
	free(s.ca);
}

/* A refused certificate wakes the thread: with an hour between periodic reads, the re-read
 * that picks up the new CA can only come from the trigger. */
static void trigger_wakes_the_thread(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-a.crt", NULL);
	struct requestheader_reload_options o = {
		.fetch = stub_fetch, .userdata = &s, .interval_s = 3600, .min_interval_s = 1};
	struct requestheader_reload *rl = NULL;
	struct field_error fe = {0};
	assert_int_equal(requestheader_reload_new(&o, &rl, &fe), 0);
	assert_int_equal(requestheader_reload_start(rl), 0);
	set_ca(&s, "ca-a.crt", "ca-b.crt");
	assert_int_equal(verify_current(rl, "client-b"), -EKEYREJECTED);
	/* Many triggers, one read: they are coalesced and rate-limited. */
	for (int i = 0; i < 100; i++)
		requestheader_reload_trigger(rl);
	int r = -EKEYREJECTED;
	for (int i = 0; i < 100 && r != 0; i++) { /* up to 10 s on a loaded machine */
		usleep(100 * 1000);
		r = verify_current(rl, "client-b");
	}
	assert_int_equal(r, 0);
	unsigned fetches = __atomic_load_n(&s.fetches, __ATOMIC_SEQ_CST);
	assert_true(fetches >= 2 && fetches <= 3);
	requestheader_reload_free(rl);
	free(s.ca);
}

/* ---- over TLS ------------------------------------------------------------------------------- */

static int whoami(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct requestheader_reload *rl = ud;
	struct requestheader_trust *t = requestheader_reload_current(rl);
	struct requestheader_user u;
	char msg[512];
	int r = requestheader_authenticate(t, req, true, &u, msg, sizeof(msg));
	requestheader_trust_unref(t);
	if (r < 0) {
		resp->status = 401;
		return buf_printf(&resp->body, "%d %s", r, msg);
	}
	return buf_printf(&resp->body, "%s|%s", u.name, u.groups);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* GET path as the front proxy would send it, with client's certificate (NULL: none). */
static long get(uint16_t port, const char *path, const char *client, struct buf *body)
{
	char url[256], crt[512], key[512], ca[512];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", port, path);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, client ? client : "");
	snprintf(key, sizeof(key), "%s/%s.key", dir, client ? client : "");
	snprintf(ca, sizeof(ca), "%s/serving-ca.crt", dir);
	buf_reset(body);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "X-Remote-User: alice");
	h = curl_slist_append(h, "X-Remote-Group: auditors");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (client) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	long status = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? status : -(long)rc;
}

static void rotation_over_tls(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-a.crt", NULL);
	struct requestheader_reload_options o = {.fetch = stub_fetch, .userdata = &s};
	struct requestheader_reload *rl = NULL;
	struct field_error fe = {0};
	assert_int_equal(requestheader_reload_new(&o, &rl, &fe), 0);

	char cert[512], key[512];
	snprintf(cert, sizeof(cert), "%s/serving.crt", dir);
	snprintf(key, sizeof(key), "%s/serving.key", dir);
	/* The listener's own trust list stays A for its whole life. */
	struct httpd_config hc = {.address = "127.0.0.1",
				  .cert_file = cert,
				  .key_file = key,
				  .client_ca_pem = s.ca,
				  .threading = HTTPD_THREAD_PER_CONNECTION};
	struct httpd *h = NULL;
	assert_int_equal(httpd_new(&hc, &h), 0);
	assert_int_equal(httpd_route(h, "GET", "/whoami", whoami, rl), 0);
	assert_int_equal(httpd_start(h), 0);
	uint16_t port = httpd_port(h);
	struct buf body = BUF_INIT(1 << 16);

	assert_int_equal(get(port, "/whoami", "client-a", &body), 200);
	assert_string_equal(buf_str(&body), "alice|auditors");
	assert_int_equal(get(port, "/whoami", "client-b", &body), 401);
	assert_non_null(strstr(buf_str(&body), "not one of the front-proxy CA"));

	set_ca(&s, "ca-a.crt", "ca-b.crt");
	assert_int_equal(requestheader_reload_once(rl), 1);
	assert_int_equal(get(port, "/whoami", "client-a", &body), 200);
	assert_int_equal(get(port, "/whoami", "client-b", &body), 200);
	assert_string_equal(buf_str(&body), "alice|auditors");

	set_ca(&s, "ca-b.crt", NULL);
	assert_int_equal(requestheader_reload_once(rl), 1);
	assert_int_equal(get(port, "/whoami", "client-a", &body), 401);
	assert_int_equal(get(port, "/whoami", "client-b", &body), 200);
	assert_int_equal(get(port, "/whoami", "intruder", &body), 401);

	buf_free(&body);
	httpd_free(h);
	requestheader_reload_free(rl);
	free(s.ca);
}

/* Requests verify while reloads swap generations under them: every one sees a whole
 * generation (ASan would see a freed one), and B, in both, is never refused. */
struct verifier {
	struct requestheader_reload *rl;
	volatile bool stop;
	int ok, refused;
};

static void *verify_loop(void *arg)
{
	struct verifier *v = arg;
	while (!v->stop) {
		if (verify_current(v->rl, "client-b") == 0)
			__atomic_add_fetch(&v->ok, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_add_fetch(&v->refused, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void swaps_under_load(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-b.crt", NULL);
	struct requestheader_reload_options o = {.fetch = stub_fetch, .userdata = &s};
	struct verifier v = {0};
	struct field_error fe = {0};
	assert_int_equal(requestheader_reload_new(&o, &v.rl, &fe), 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_loop, &v), 0);
	for (int i = 0; i < 100; i++) {
		if (i % 2)
			set_ca(&s, "ca-b.crt", NULL);
		else
			set_ca(&s, "ca-a.crt", "ca-b.crt");
		assert_int_equal(requestheader_reload_once(v.rl), 1);
	}
	v.stop = true;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(v.refused, 0);
	assert_true(v.ok > 0);
	requestheader_reload_free(v.rl);
	free(s.ca);
}

#define BASE "/apis/recordings.bulwark.dev/v1/namespaces/"

/* The value of the sample line starting with series in an exposition text, -1 if absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; (p = strstr(p, series)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* The recordings API itself: refusals, discovery and the trigger, as counted on /metrics. */
static void api_refuses_counts_and_reloads(void **state)
{
	struct stub s = {.names = "[\"front-proxy-client\"]"};
	set_ca(&s, "ca-a.crt", NULL);
	char cert[512], key[512];
	snprintf(cert, sizeof(cert), "%s/serving.crt", dir);
	snprintf(key, sizeof(key), "%s/serving.key", dir);
	struct controller c = {
		.cfg = {.api_address = "127.0.0.1", .tls_cert = cert, .tls_key = key},
		.registry = metrics_registry_new()};
	struct requestheader_reload_options o = {
		.fetch = stub_fetch, .userdata = &s, .interval_s = 3600, .min_interval_s = 1};
	struct recordings_api *api = NULL;
	assert_int_equal(recordings_api_start_with(&c, &o, &api), 0);
	uint16_t port = recordings_api_port(api);
	struct buf body = BUF_INIT(1 << 16);

	assert_int_equal(get(port, "/apis", "client-a", &body), 200);
	assert_non_null(strstr(buf_str(&body), "\"APIGroupList\""));
	assert_int_equal(get(port, "/apis/recordings.bulwark.dev/v1", NULL, &body), 401);
	assert_non_null(strstr(buf_str(&body), "no client certificate"));
	assert_int_equal(get(port, "/apis/other.example/v1", "client-a", &body), 404);
	assert_int_equal(get(port, BASE "Bad/recordings/x", "client-a", &body), 400);
	assert_non_null(strstr(buf_str(&body), "namespace"));

	/* The API server rotates to B: the first request with B's certificate is refused and
	 * makes the controller re-read the ConfigMap, so the next ones are served. */
	set_ca(&s, "ca-a.crt", "ca-b.crt");
	unsigned before = __atomic_load_n(&s.fetches, __ATOMIC_SEQ_CST);
	assert_int_equal(get(port, BASE "team-a/recordings/es-1/cast", "client-b", &body), 401);
	assert_non_null(strstr(buf_str(&body), "\"Unauthorized\""));
	long status = 0;
	for (int i = 0; i < 100 && status != 200; i++) { /* up to 10 s on a loaded machine */
		usleep(100 * 1000);
		status = get(port, "/apis/recordings.bulwark.dev", "client-b", &body);
	}
	assert_int_equal(status, 200);
	assert_true(__atomic_load_n(&s.fetches, __ATOMIC_SEQ_CST) > before);

	struct buf text = BUF_INIT(1 << 20);
	assert_int_equal(metrics_render(c.registry, &text), 0);
	const char *t = buf_str(&text);
#define REQUESTS "bulwark_recordings_api_requests_total"
	assert_true(sample(t, REQUESTS "{subresource=\"other\",code=\"404\"}") == 1);
	assert_true(sample(t, REQUESTS "{subresource=\"other\",code=\"400\"}") == 1);
	assert_true(sample(t, REQUESTS "{subresource=\"cast\",code=\"401\"}") == 1);
	assert_true(sample(t, REQUESTS "{subresource=\"discovery\",code=\"200\"}") == 2);
	/* The request without a certificate, and polls before the re-read. */
	assert_true(sample(t, REQUESTS "{subresource=\"discovery\",code=\"401\"}") >= 1);
	assert_true(sample(t, "bulwark_recordings_api_trust_reloads_total{result=\"ok\"}") >= 2);
	assert_true(sample(t, "bulwark_recordings_api_trust_reloads_total{result=\"error\"}") == 0);
	/* Nothing was streamed: the series exists, at zero. */
	assert_true(sample(t, "bulwark_recordings_api_bytes_total") == 0);
	buf_free(&text);
	buf_free(&body);
	recordings_api_free(api);
	metrics_registry_free(c.registry);
	free(s.ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verification),
		cmocka_unit_test(rotation),
		cmocka_unit_test(trigger_wakes_the_thread),
		cmocka_unit_test(rotation_over_tls),
		cmocka_unit_test(swaps_under_load),
		cmocka_unit_test(api_refuses_counts_and_reloads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
