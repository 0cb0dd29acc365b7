/* The agent's stream client against the controller's two endpoints, played by our own HTTP
 * server on loopback: the stream is read and applied, acks are posted with the token,
 * a malformed line is NACKed, and a dropped stream is dialled again. */
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

#include "controller/recordings/agent_recordings.h"
#include "httpd.h"
#include "nodeagent/stream_client.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define POD(h) \
	"{\"pod\":{\"namespace\":\"shop\",\"name\":\"web\",\"uid\":\"u1\"},\"hash\":\"" h "\"}"

static const char *const scripts[][3] = {
	{"{\"type\":\"SNAPSHOT\",\"epoch\":\"e1\",\"version\":1,\"pods\":[" POD(H1) "]}\n",
	 "{\"type\":\"HEARTBEAT\",\"epoch\":\"e1\",\"version\":1}\n",
	 "{\"type\":\"UPSERT\",\"epoch\":\"e1\",\"version\":2,\"pod\":" POD(H2) "}\n"},
	{"{\"type\":\"UPSERT\",\"epoch\":\"e1\",\"vers\n", NULL, NULL},
};

struct controller {
	pthread_mutex_t lock;
	int connections;
	json_t *acks;
	char auth[256];
	char rec_url[128], rec_pin[128], rec_token[128]; /* the stream's X-Bulwark-Recordings-* */
	bool ack_had_recordings;
};

struct stream_state {
	int script, line;
};

static long stream_read(void *ctx, char *buf, size_t max)
{
	struct stream_state *s = ctx;
	if (s->script >= 2 || s->line >= 3 || !scripts[s->script][s->line])
		return -1;
	const char *l = scripts[s->script][s->line++];
	size_t n = strlen(l);
	assert_true(n <= max);
	memcpy(buf, l, n);
	return (long)n;
}

static int on_stream(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct controller *c = ud;
	struct stream_state *s = calloc(1, sizeof(*s));
	pthread_mutex_lock(&c->lock);
	s->script = c->connections++;
	const char *auth = httpd_request_header(req, "Authorization");
	snprintf(c->auth, sizeof(c->auth), "%s", auth ? auth : "");
	snprintf(c->rec_url, sizeof(c->rec_url), "%s",
		 httpd_request_header(req, "X-Bulwark-Recordings-URL") ?: "");
	snprintf(c->rec_pin, sizeof(c->rec_pin), "%s",
		 httpd_request_header(req, "X-Bulwark-Recordings-Pin") ?: "");
	snprintf(c->rec_token, sizeof(c->rec_token), "%s",
		 httpd_request_header(req, "X-Bulwark-Recordings-Token") ?: "");
	pthread_mutex_unlock(&c->lock);
	if (strcmp(httpd_request_query(req, "node") ?: "", "node-a") != 0)
		return httpd_respond_error(resp, 403, "wrong node");
	resp->stream = (struct httpd_stream){.read = stream_read, .free_ctx = free, .ctx = s};
	return 0;
}

static int on_ack(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct controller *c = ud;
	size_t len;
	const char *body = httpd_request_body(req, &len);
	json_t *ack = json_loadb(body, len, 0, NULL);
	if (!ack)
		return httpd_respond_error(resp, 400, "bad ack");
	pthread_mutex_lock(&c->lock);
	if (httpd_request_header(req, "X-Bulwark-Recordings-Token"))
		c->ack_had_recordings = true;
	json_array_append_new(c->acks, ack);
	pthread_mutex_unlock(&c->lock);
	return buf_append_str(&resp->body, "{}");
}

struct run {
	struct stream_client_config config;
	struct agent_sync *sync;
	volatile sig_atomic_t stop;
	struct stream_client_stats stats;
	int rc;
};

static void *client_thread(void *arg)
{
	struct run *r = arg;
	r->rc = stream_client_run(&r->config, r->sync, &r->stop, &r->stats);
	return NULL;
}

static size_t n_acks(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = json_array_size(c->acks);
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void stream_apply_ack_and_reconnect(void **state)
{
	struct controller c = {.lock = PTHREAD_MUTEX_INITIALIZER, .acks = json_array()};
	struct httpd *h;
	struct httpd_config cfg = {.address = "127.0.0.1",
				   .threading = HTTPD_THREAD_PER_CONNECTION};
	assert_int_equal(httpd_new(&cfg, &h), 0);
	httpd_route(h, "GET", "/v1/stream", on_stream, &c);
	httpd_route(h, "POST", "/v1/ack", on_ack, &c);
	assert_int_equal(httpd_start(h), 0);

	char token_file[] = "/tmp/bulwark-token-XXXXXX";
	int fd = mkstemp(token_file);
	assert_int_equal(write(fd, "secret-token\n", 13), 13);
	close(fd);

	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", httpd_port(h));
	static const struct recordings_advert adv = {
		.url = "https://10.244.0.9:9444",
		.pin = "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		.token = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};
	struct run r = {.config = {.url = url,
				   .token_file = token_file,
				   .node = "node-a",
				   .allow_plain_http = true,
				   .recordings = &adv}};
	assert_int_equal(agent_sync_new("node-a", NULL, &r.sync), 0);
	pthread_t t;
	pthread_create(&t, NULL, client_thread, &r);
	/* Two acks from the first stream, a NACK from the second (after a >= 1 s backoff). */
	for (int i = 0; i < 100 && n_acks(&c) < 3; i++)
		usleep(100 * 1000);
	r.stop = 1;
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);

	assert_int_equal(json_array_size(c.acks), 3);
	json_t *a0 = json_array_get(c.acks, 0), *a1 = json_array_get(c.acks, 1),
	       *a2 = json_array_get(c.acks, 2);
	assert_string_equal(json_string_value(json_object_get(a0, "result")), "ACK");
	assert_int_equal(json_integer_value(json_object_get(a0, "version")), 1);
	assert_int_equal(json_integer_value(json_object_get(a1, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(a2, "result")), "NACK");
	assert_non_null(
		strstr(json_string_value(json_object_get(a2, "message")), "malformed JSON"));
	assert_string_equal(c.auth, "Bearer secret-token");
	/* The recordings endpoint rides on the stream request only, in a form the controller
	 * accepts. */
	assert_string_equal(c.rec_url, adv.url);
	assert_string_equal(c.rec_pin, adv.pin);
	assert_string_equal(c.rec_token, adv.token);
	assert_false(c.ack_had_recordings);
	struct agent_recordings_ep ep;
	struct field_error err = {0};
	assert_int_equal(agent_recordings_ep_parse(c.rec_url, c.rec_pin, c.rec_token, &ep, &err),
			 0);
	assert_true(c.connections >= 2);
	assert_true(r.stats.connects >= 2);
	assert_string_equal(
		json_string_value(json_object_get(agent_sync_pod(r.sync, "u1"), "hash")), H2);

	agent_sync_free(r.sync);
	httpd_free(h);
	json_decref(c.acks);
	unlink(token_file);
}

static void plain_http_is_refused_unless_allowed(void **state)
{
	struct run r = {.config = {.url = "http://127.0.0.1:1", .node = "node-a"}};
	assert_int_equal(agent_sync_new("node-a", NULL, &r.sync), 0);
	pthread_t t;
	pthread_create(&t, NULL, client_thread, &r);
	usleep(300 * 1000);
	r.stop = 1;
	pthread_join(t, NULL);
	/* It tried, and got no stream (curl refuses the scheme before connecting). */
	assert_true(r.stats.connects >= 1);
	assert_int_equal(r.stats.messages, 0);
	agent_sync_free(r.sync);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_apply_ack_and_reconnect),
		cmocka_unit_test(plain_http_is_refused_unless_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
