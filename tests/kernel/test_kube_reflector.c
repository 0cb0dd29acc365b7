/* The reflector's state machine against a scripted HTTPS apiserver on loopback: LIST, WATCH
 * from the list's resourceVersion, resume from a BOOKMARK's resourceVersion after a normal end,
 * backoff on 429, a malformed line skipped, relist on an ERROR 410 event, on an oversized line
 * and on an HTTP 410; the informer ends up equal to the last list plus the events after it.
 * Real sockets and TLS (a throwaway CA made with openssl), hence the kernel tier. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "httpd.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/loop.h"
#include "kube/reflector.h"

/* The limit of a wait for a condition: generous, since a wait ends when the condition holds. */
#define WAIT_MS 60000

static char dir[64];

/* What the fake apiserver saw, one line per request: "LIST rv=" or "WATCH rv=N". */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char seen[4096];
static int step;
static struct kube_loop *loop;

static void cm(struct buf *b, const char *type, const char *name, const char *rv)
{
	buf_printf(
		b,
		"{\"type\":\"%s\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
		"\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"resourceVersion\":\"%s\"}}}"
		"\n",
		type, name, rv);
}

struct stream {
	struct buf data;
	size_t off;
	bool hold; /* keep the connection open once the data is sent */
};

static long stream_read(void *ctx, char *out, size_t max)
{
	struct stream *s = ctx;
	if (s->off < s->data.len) {
		size_t n = s->data.len - s->off;
		/* Small pieces, so events straddle reads. */
		if (n > 37)
			n = 37;
		if (n > max)
			n = max;
		memcpy(out, s->data.data + s->off, n);
		s->off += n;
		return (long)n;
	}
	if (s->hold) {
		usleep(20000);
		return 0;
	}
	return -1;
}

static void stream_free(void *ctx)
{
	struct stream *s = ctx;
	buf_free(&s->data);
	free(s);
}

static void stop_loop(void *userdata)
{
	kube_loop_stop(userdata);
}

/* Ends the loop once the reflector has seen the script's last event (the DELETED at rv 401 on
 * the last watch); until then it looks again every 20 ms. A stopped loop stays stopped, so the
 * wait has to happen inside the one run. */
static void stop_when_done(void *userdata)
{
	struct kube_reflector_stats st;
	kube_reflector_get_stats(userdata, &st);
	if (!strcmp(st.resource_version, "401"))
		kube_loop_stop(loop);
	else
		kube_loop_timer_add(loop, 20, stop_when_done, userdata);
}

static int list_body(struct httpd_response *resp, const char *items, const char *rv)
{
	return buf_printf(&resp->body,
			  "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
			  "{\"resourceVersion\":\"%s\"},\"items\":[%s]}",
			  rv, items);
}

#define ITEM(name, rv)                                                                             \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"" \
	"}}"

static int handler(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	const char *watch = httpd_request_query(req, "watch");
	const char *rv = httpd_request_query(req, "resourceVersion");
	const char *bm = httpd_request_query(req, "allowWatchBookmarks");
	pthread_mutex_lock(&lock);
	int n = step++;
	size_t len = strlen(seen);
	snprintf(seen + len, sizeof(seen) - len, "%s rv=%s%s\n", watch ? "WATCH" : "LIST",
		 rv ? rv : "", watch && (!bm || strcmp(bm, "true")) ? " NO-BOOKMARKS" : "");
	pthread_mutex_unlock(&lock);

	struct stream *s = calloc(1, sizeof(*s));
	buf_init(&s->data, 1 << 20);
	resp->content_type = "application/json";
	switch (n) {
	case 0: /* the first list */
		free(s->data.data), free(s);
		return list_body(resp, ITEM("a", "10") "," ITEM("b", "11"), "100");
	case 1: /* watch: an add, a bookmark, then a normal end */
		cm(&s->data, "ADDED", "c", "101");
		buf_append_str(&s->data,
			       "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\","
			       "\"metadata\":{\"resourceVersion\":\"105\"}}}\n");
		break;
	case 2: /* overloaded */
		free(s->data.data), free(s);
		resp->status = 429;
		return buf_append_str(&resp->body, "{\"kind\":\"Status\",\"code\":429,\"reason\":"
						   "\"TooManyRequests\"}");
	case 3: /* garbage is skipped, then the history is gone */
		buf_append_str(&s->data, "this is not json\n");
		cm(&s->data, "MODIFIED", "a", "106");
		buf_append_str(&s->data, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
					 "\"code\":410,\"reason\":\"Expired\"}}\n");
		s->hold = true;
		break;
	case 4: /* relist: b is gone */
		free(s->data.data), free(s);
		return list_body(resp, ITEM("a", "106") "," ITEM("c", "101"), "200");
	case 5: { /* a line over the reflector's cap */
		buf_append_str(&s->data, "{\"type\":\"ADDED\",\"object\":{\"pad\":\"");
		for (int i = 0; i < 3000; i++)
			buf_append_str(&s->data, "x");
		buf_append_str(&s->data, "\"}}\n");
		cm(&s->data, "ADDED", "never", "201");
		s->hold = true;
		break;
	}
	case 6: /* relist */
		free(s->data.data), free(s);
		return list_body(resp, ITEM("a", "106") "," ITEM("c", "101"), "300");
	case 7: /* HTTP 410 on the watch request itself */
		free(s->data.data), free(s);
		resp->status = 410;
		return buf_append_str(&resp->body, "{\"kind\":\"Status\",\"code\":410,\"reason\":"
						   "\"Expired\"}");
	case 8: /* relist: c deleted meanwhile, d created */
		free(s->data.data), free(s);
		return list_body(resp, ITEM("a", "106") "," ITEM("d", "390"), "400");
	default: /* the last watch stays open; the test ends once its DELETED is in */
		cm(&s->data, "DELETED", "a", "401");
		s->hold = true;
		break;
	}
	resp->stream =
		(struct httpd_stream){.read = stream_read, .free_ctx = stream_free, .ctx = s};
	return 0;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_kube_reflector.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
		 "/CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
		 "-extfile ext -out srv.crt 2>/dev/null",
		 dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "SKIP: openssl cannot make a test certificate\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void reflector_follows_the_protocol(void **state)
{
	char crt[128], key[128], kc[2048];
	snprintf(crt, sizeof(crt), "%s/srv.crt", dir);
	snprintf(key, sizeof(key), "%s/srv.key", dir);
	struct httpd_config hc = {.address = "127.0.0.1",
				  .cert_file = crt,
				  .key_file = key,
				  .threading = HTTPD_THREAD_PER_CONNECTION,
				  .timeout_s = 30};
	struct httpd *h = NULL;
	assert_int_equal(httpd_new(&hc, &h), 0);
	assert_int_equal(httpd_route(h, "GET", "/api/v1/namespaces/ns/configmaps", handler, NULL),
			 0);
	assert_int_equal(httpd_start(h), 0);

	snprintf(kc, sizeof(kc),
		 "current-context: t\ncontexts:\n- name: t\n  context: {cluster: t, user: u}\n"
		 "clusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:%u\n"
		 "    certificate-authority: ca.crt\nusers:\n- name: u\n  user: {token: tok}\n",
		 httpd_port(h));
	struct field_error err = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *c = NULL;
	assert_int_equal(kube_config_parse(kc, strlen(kc), dir, NULL, &cfg, &err), 0);
	assert_int_equal(kube_client_new(cfg, NULL, &c), 0);
	assert_int_equal(kube_loop_new(&loop), 0);
	struct kube_informer *inf = kube_informer_new("configmaps");
	assert_non_null(inf);
	struct kube_reflector_options o = {
		.resource = &KUBE_RES_CONFIGMAPS,
		.namespace = "ns",
		.informer = inf,
		.max_line = 2048,
		.backoff_base_ms = 10,
		.backoff_cap_ms = 50,
	};
	struct kube_reflector *r = NULL;
	assert_int_equal(kube_reflector_new(loop, c, &o, &r), 0);
	assert_int_equal(kube_reflector_start(r), 0);
	/* The loop runs until the script's last event is in, or for WAIT_MS at most. */
	kube_loop_timer_add(loop, 20, stop_when_done, r);
	kube_loop_timer_add(loop, WAIT_MS, stop_loop, loop);
	assert_int_equal(kube_loop_run(loop), 0);

	struct kube_reflector_stats st;
	pthread_mutex_lock(&lock);
	assert_string_equal(seen, "LIST rv=\n"
				  "WATCH rv=100\n" /* from the list */
				  "WATCH rv=105\n" /* from the BOOKMARK, after a normal end */
				  "WATCH rv=105\n" /* after the 429, with backoff */
				  "LIST rv=\n"	   /* ERROR 410 event */
				  "WATCH rv=200\n"
				  "LIST rv=\n" /* the oversized line */
				  "WATCH rv=300\n"
				  "LIST rv=\n" /* HTTP 410 */
				  "WATCH rv=400\n");
	pthread_mutex_unlock(&lock);

	kube_reflector_get_stats(r, &st);
	assert_string_equal(st.resource_version, "401");
	assert_int_equal(st.lists, 4);
	assert_int_equal(st.gone, 2);
	assert_int_equal(st.skipped, 1);
	assert_true(st.errors >= 2); /* the 429 and the oversized line */
	assert_true(kube_informer_synced(inf));
	/* The last list held a and d; the last watch deleted a. */
	assert_int_equal(kube_informer_count(inf), 1);
	json_t *d = kube_informer_get(inf, "ns/d");
	assert_non_null(d);
	json_decref(d);
	assert_null(kube_informer_get(inf, "ns/a"));
	assert_null(kube_informer_get(inf, "ns/never"));

	kube_reflector_free(r);
	kube_loop_free(loop);
	kube_informer_free(inf);
	kube_client_free(c);
	kube_config_free(cfg);
	httpd_free(h);
}

int main(void)
{
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		printf("SKIP: openssl is needed to make the test certificates\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reflector_follows_the_protocol),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
