#include "stream_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "kube/backoff.h"
#include "log.h"
#include "ndjson.h"

#define TOKEN_MAX     (64u * 1024)
#define ACK_QUEUE_MAX 256

/* Acks waiting to be posted, oldest first. */
struct ack_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *items[ACK_QUEUE_MAX];
	size_t head, n;
	bool done;
};

struct client {
	const struct stream_client_config *config;
	struct agent_sync *sync;
	volatile sig_atomic_t *stop;
	struct stream_client_stats *stats;
	struct ndjson lines;
	struct ack_queue acks;
	char token[TOKEN_MAX];
};

static void ack_push(struct ack_queue *q, json_t *ack)
{
	pthread_mutex_lock(&q->lock);
	if (q->n == ACK_QUEUE_MAX) {
		/* The controller is not taking acks; the oldest is the least useful, and the next
		 * snapshot re-reports everything anyway. */
		json_decref(q->items[q->head]);
		q->head = (q->head + 1) % ACK_QUEUE_MAX;
		q->n--;
	}
	q->items[(q->head + q->n) % ACK_QUEUE_MAX] = ack;
	q->n++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static json_t *ack_pop(struct ack_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (!q->n && !q->done)
		pthread_cond_wait(&q->cond, &q->lock);
	json_t *ack = NULL;
	if (q->done) {
		/* Shutting down: the controller will get a fresh snapshot's ack from the next
		 * agent process; posting stale ones now could only delay the exit. */
		while (q->n) {
			json_decref(q->items[q->head]);
			q->head = (q->head + 1) % ACK_QUEUE_MAX;
			q->n--;
		}
	} else if (q->n) {
		ack = q->items[q->head];
		q->head = (q->head + 1) % ACK_QUEUE_MAX;
		q->n--;
	}
	pthread_mutex_unlock(&q->lock);
	return ack;
}

static int read_token(struct client *c)
{
	c->token[0] = '\0';
	if (!c->config->token_file)
		return 0;
	_cleanup_buf_ struct buf b = BUF_INIT(TOKEN_MAX - 1);
	int r = read_file_capped(c->config->token_file, &b);
	if (r < 0)
		return r;
	size_t n = strcspn(buf_str(&b), "\r\n");
	memcpy(c->token, buf_str(&b), n);
	c->token[n] = '\0';
	return 0;
}

static CURL *new_handle(struct client *c, const char *path, struct curl_slist **ret_headers)
{
	char url[1024], auth[TOKEN_MAX + 32];
	snprintf(url, sizeof(url), "%s%s", c->config->url, path);
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	struct curl_slist *headers = NULL;
	if (c->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		headers = curl_slist_append(headers, auth);
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
			 c->config->allow_plain_http ? "https,http" : "https");
	if (c->config->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->config->ca_file);
	*ret_headers = headers;
	return h;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
	return size * n;
}

static void *ack_thread(void *arg)
{
	struct client *c = arg;
	for (json_t *ack; (ack = ack_pop(&c->acks));) {
		_cleanup_free_ char *body = json_dumps(ack, JSON_COMPACT);
		json_decref(ack);
		struct curl_slist *headers;
		CURL *h = body ? new_handle(c, "/v1/ack", &headers) : NULL;
		if (!h) {
			c->stats->acks_failed++;
			continue;
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		CURLcode rc = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status / 100 == 2) {
			c->stats->acks_sent++;
		} else {
			c->stats->acks_failed++;
			log_error(-EIO, "posting an ack failed", "status", LOG_INT(status), "curl",
				  curl_easy_strerror(rc));
		}
		curl_slist_free_all(headers);
		curl_easy_cleanup(h);
	}
	return NULL;
}

static int on_line(const char *line, size_t len, void *userdata)
{
	struct client *c = userdata;
	c->stats->messages++;
	json_t *ack = agent_sync_handle(c->sync, line, len);
	if (!ack)
		return 0; /* heartbeat */
	ack_push(&c->acks, ack);
	return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
	struct client *c = userdata;
	int r = ndjson_feed(&c->lines, data, size * n);
	if (r < 0) {
		log_error(r, "push stream line rejected, reconnecting");
		return 0; /* aborts the transfer */
	}
	return size * n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct client *c = userdata;
	return *c->stop ? 1 : 0;
}

/* Appends "name: value" to l; on failure l is kept as it was (the header is missing, which
 * the controller treats as "no recordings served"). */
static struct curl_slist *append_header(struct curl_slist *l, const char *name, const char *value)
{
	char line[256];
	snprintf(line, sizeof(line), "%s: %s", name, value);
	struct curl_slist *n = curl_slist_append(l, line);
	return n ? n : l;
}

/* One connection: returns when the stream ends, fails or *stop is set. */
static void stream_once(struct client *c)
{
	char path[512];
	snprintf(path, sizeof(path), "/v1/stream?node=%s", c->config->node);
	int r = read_token(c);
	if (r < 0) {
		log_error(r, "reading the ServiceAccount token failed", "path",
			  c->config->token_file);
		return;
	}
	struct curl_slist *headers;
	CURL *h = new_handle(c, path, &headers);
	if (!h)
		return;
	ndjson_reset(&c->lines);
	agent_sync_mark_unsynced(c->sync);
	const struct recordings_advert *rec = c->config->recordings;
	if (rec) {
		/* Only on the stream request: the controller keeps them while the stream lives. */
		headers = append_header(headers, "X-Bulwark-Recordings-URL", rec->url);
		headers = append_header(headers, "X-Bulwark-Recordings-Pin", rec->pin);
		headers = append_header(headers, "X-Bulwark-Recordings-Token", rec->token);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(
		h, CURLOPT_LOW_SPEED_TIME,
		(long)(c->config->heartbeat_timeout_s ? c->config->heartbeat_timeout_s : 30));
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	c->stats->connects++;
	log_info(1, "connecting to the controller", "url", c->config->url, "node", c->config->node);
	CURLcode rc = curl_easy_perform(h);
	if (!*c->stop) {
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		log_info(0, "push stream ended", "curl", curl_easy_strerror(rc), "status",
			 LOG_INT(status));
	}
	c->stats->disconnects++;
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
}

static void sleep_ms_unless_stopped(struct client *c, uint64_t ms)
{
	for (uint64_t slept = 0; slept < ms && !*c->stop; slept += 100) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int stream_client_run(const struct stream_client_config *config, struct agent_sync *sync,
		      volatile sig_atomic_t *stop, struct stream_client_stats *stats)
{
	if (!config->url || !config->node)
		return -EINVAL;
	struct stream_client_stats ignored = {0};
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct client){
		.config = config, .sync = sync, .stop = stop, .stats = stats ? stats : &ignored};
	pthread_mutex_init(&c->acks.lock, NULL);
	pthread_cond_init(&c->acks.cond, NULL);
	ndjson_init(&c->lines, PUSH_LINE_MAX, on_line, c);
	pthread_t acker;
	if (pthread_create(&acker, NULL, ack_thread, c) != 0) {
		ndjson_free(&c->lines);
		free(c);
		return -EAGAIN;
	}

	struct backoff b = BACKOFF_INIT(1000, 30000, BACKOFF_DECORRELATED);
	while (!*stop) {
		stream_once(c);
		if (*stop)
			break;
		if (agent_sync_synced(sync))
			backoff_reset(&b);
		sleep_ms_unless_stopped(c, backoff_next_ms(&b, NULL, NULL));
	}

	pthread_mutex_lock(&c->acks.lock);
	c->acks.done = true;
	pthread_cond_signal(&c->acks.cond);
	pthread_mutex_unlock(&c->acks.lock);
	pthread_join(acker, NULL);
	ndjson_free(&c->lines);
	pthread_cond_destroy(&c->acks.cond);
	pthread_mutex_destroy(&c->acks.lock);
	free(c);
	return 0;
}
