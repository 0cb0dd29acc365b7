/* Agents' recordings endpoints and fetching from them (agent_recordings.h). */
#include "controller/recordings/agent_recordings.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "buf.h"
#include "cleanup.h"
#include "kube/hashtab.h"
#include "daemon/listen.h"
#include "log.h"
#include "recording/recording.h"

#define CONNECT_TIMEOUT_S 5L
#define LOW_SPEED_TIME_S  30L
/* How much of an error answer is kept for the message. */
#define ERROR_BODY_MAX 1024

/* ---- the headers ---------------------------------------------------------------------------- */

/* https://IPv4:PORT or https://[IPv6]:PORT, nothing else; written back canonically. */
static int parse_url(const char *url, char ret[AGENT_RECORDINGS_URL_MAX], struct field_error *err)
{
	static const char field[] = "X-Bulwark-Recordings-URL";
	if (strncmp(url, "https://", 8) != 0)
		return field_error_set(err, field, "must be https://IP:PORT");
	/* The agent announces the address it listens on: the listen-flag syntax, less the
	 * forms that only make sense for listening (every address, any free port). */
	struct listen_address a;
	const char *reason = "invalid";
	if (listen_address_parse(url + 8, &a, &reason) < 0)
		return field_error_set(err, field, "must be https://IP:PORT: %s", reason);
	if (url[8] == ':' || a.port == 0)
		return field_error_set(err, field,
				       "needs the agent's own IP address and a port 1-65535");
	/* Canonical form, so one agent address always reads the same in logs and URLs. */
	unsigned char bin[16];
	bool v6 = strchr(a.host, ':') != NULL;
	char canonical[INET6_ADDRSTRLEN];
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a.host, bin) != 1 ||
	    !inet_ntop(v6 ? AF_INET6 : AF_INET, bin, canonical, sizeof(canonical)))
		return field_error_set(err, field, "'%s' is not an IP address", a.host);
	snprintf(ret, AGENT_RECORDINGS_URL_MAX, v6 ? "https://[%s]:%u" : "https://%s:%u", canonical,
		 a.port);
	return 0;
}

static int parse_pin(const char *pin, char ret[CERTS_PIN_LEN], struct field_error *err)
{
	static const char field[] = "X-Bulwark-Recordings-Pin";
	if (strncmp(pin, "sha256//", 8) != 0 || strlen(pin) != CERTS_PIN_LEN - 1)
		return field_error_set(err, field, "must be sha256// and 44 base64 characters");
	_cleanup_buf_ struct buf raw = BUF_INIT(64);
	int r = base64_decode_append(&raw, pin + 8, strlen(pin + 8));
	if (r == -ENOMEM)
		return r;
	if (r < 0 || raw.len != 32)
		return field_error_set(err, field, "not the base64 of a SHA-256 digest");
	memcpy(ret, pin, CERTS_PIN_LEN);
	return 0;
}

static int parse_token(const char *token, char ret[AGENT_RECORDINGS_TOKEN_LEN + 1],
		       struct field_error *err)
{
	size_t n = strlen(token);
	if (n != AGENT_RECORDINGS_TOKEN_LEN || strspn(token, "0123456789abcdefABCDEF") != n)
		return field_error_set(err, "X-Bulwark-Recordings-Token",
				       "must be %d hexadecimal digits", AGENT_RECORDINGS_TOKEN_LEN);
	memcpy(ret, token, n + 1);
	return 0;
}

int agent_recordings_ep_parse(const char *url, const char *pin, const char *token,
			      struct agent_recordings_ep *ret, struct field_error *err)
{
	if (!url && !pin && !token)
		return -ENOENT;
	static const char *const names[] = {"X-Bulwark-Recordings-URL", "X-Bulwark-Recordings-Pin",
					    "X-Bulwark-Recordings-Token"};
	const char *values[] = {url, pin, token};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!values[i])
			return field_error_set(err, names[i],
					       "missing (the other two are present)");
	struct agent_recordings_ep ep = {0};
	int r = parse_url(url, ep.url, err);
	r = r ?: parse_pin(pin, ep.pin, err);
	r = r ?: parse_token(token, ep.token, err);
	if (r < 0)
		return r;
	*ret = ep;
	return 0;
}

/* ---- endpoints by node ---------------------------------------------------------------------- */

struct entry {
	char node[254];
	const void *owner;
	struct agent_recordings_ep ep;
};

struct agent_recordings {
	pthread_mutex_t lock;
	struct hashtab nodes; /* struct entry */
};

static bool entry_eq(const void *item, const void *key)
{
	return strcmp(((const struct entry *)item)->node, key) == 0;
}

int agent_recordings_new(struct agent_recordings **ret)
{
	struct agent_recordings *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->nodes = HASHTAB_INIT;
	*ret = r;
	return 0;
}

struct agent_recordings *agent_recordings_free(struct agent_recordings *r)
{
	if (!r)
		return NULL;
	size_t pos = 0;
	for (struct entry *e; (e = hashtab_next(&r->nodes, &pos));) {
		explicit_bzero(e->ep.token, sizeof(e->ep.token));
		free(e);
	}
	hashtab_free(&r->nodes);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

int agent_recordings_set(struct agent_recordings *r, const char *node, const void *owner,
			 const struct agent_recordings_ep *ep)
{
	if (strlen(node) >= sizeof(((struct entry *)0)->node))
		return -EINVAL;
	uint64_t hash = hashtab_hash_str(node);
	pthread_mutex_lock(&r->lock);
	struct entry *e = hashtab_get(&r->nodes, hash, node, entry_eq);
	int ret = 0;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || (ret = hashtab_put(&r->nodes, hash, e)) < 0) {
			free(e);
			pthread_mutex_unlock(&r->lock);
			return ret ?: -ENOMEM;
		}
		snprintf(e->node, sizeof(e->node), "%s", node);
	}
	e->owner = owner;
	e->ep = *ep;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void agent_recordings_drop(struct agent_recordings *r, const char *node, const void *owner)
{
	uint64_t hash = hashtab_hash_str(node);
	pthread_mutex_lock(&r->lock);
	struct entry *e = hashtab_get(&r->nodes, hash, node, entry_eq);
	if (e && e->owner == owner) {
		hashtab_remove(&r->nodes, hash, node, entry_eq);
		explicit_bzero(e->ep.token, sizeof(e->ep.token));
		free(e);
	}
	pthread_mutex_unlock(&r->lock);
}

int agent_recordings_get(struct agent_recordings *r, const char *node,
			 struct agent_recordings_ep *ret)
{
	pthread_mutex_lock(&r->lock);
	struct entry *e = hashtab_get(&r->nodes, hashtab_hash_str(node), node, entry_eq);
	if (e)
		*ret = e->ep;
	pthread_mutex_unlock(&r->lock);
	return e ? 0 : -ENOENT;
}

/* ---- fetching ------------------------------------------------------------------------------- */

struct transfer {
	CURL *h;
	int fd;
	int write_errno;
	long status;	     /* known at the first body byte */
	struct buf err_body; /* a non-2xx answer, kept for the message */
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * n;
	if (!t->status)
		curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
	if (t->status / 100 != 2) {
		size_t room = ERROR_BODY_MAX - t->err_body.len;
		if (room && buf_append(&t->err_body, data, len < room ? len : room) < 0)
			return 0;
		return len;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(t->fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			t->write_errno = errno;
			return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
		}
		off += (size_t)w;
	}
	return len;
}

static bool valid_kind(const char *kind)
{
	return !kind || strcmp(kind, "cast") == 0 || strcmp(kind, "log") == 0 ||
	       strcmp(kind, "chain") == 0;
}

/* The reason an agent gave for a non-2xx answer: its {"error": "..."} or the raw text. */
static void error_from_body(const struct buf *body, long status, char *err, size_t size)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	snprintf(err, size, "the agent answered %ld: %.*s", status,
		 msg ? (int)strlen(msg) : (int)body->len, msg ? msg : buf_str(body));
	json_decref(j);
}

static int curl_failure(struct transfer *t, CURLcode rc, const struct agent_recordings_ep *ep,
			const char *detail, char *err, size_t size)
{
	long os_errno = 0;
	switch (rc) {
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		snprintf(err, size,
			 "%s: the agent's TLS key does not match the pin it announced (%s)",
			 ep->url, ep->pin);
		return -EKEYREJECTED;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(t->h, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(err, size, "%s: cannot connect: %s", ep->url,
			 os_errno ? strerror((int)os_errno) : detail);
		return os_errno ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, size, "%s: timed out: %s", ep->url, detail);
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		if (t->write_errno) {
			snprintf(err, size, "writing the recording out: %s",
				 strerror(t->write_errno));
			return -t->write_errno;
		}
		snprintf(err, size, "%s: %s", ep->url, detail);
		return -EIO;
	default: snprintf(err, size, "%s: %s", ep->url, detail); return -EIO;
	}
}

int agent_recordings_fetch(const struct agent_recordings_ep *ep, const char *id, const char *kind,
			   int out_fd, int *ret_http_status, char *err, size_t err_size)
{
	if (!id || !recording_id_valid(id) || strstr(id, "..") || !valid_kind(kind)) {
		snprintf(err, err_size, "not a recording id and kind: %s%s%s", id ? id : "(null)",
			 kind ? "." : "", kind ? kind : "");
		return -EINVAL;
	}
	char url[AGENT_RECORDINGS_URL_MAX + RECORDING_ID_MAX + 32];
	snprintf(url, sizeof(url), "%s/v1/recordings/%s%s%s", ep->url, id, kind ? "." : "",
		 kind ? kind : "");
	char auth[AGENT_RECORDINGS_TOKEN_LEN + 32];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ep->token);
	struct curl_slist *headers = curl_slist_append(NULL, auth);
	explicit_bzero(auth, sizeof(auth));
	struct transfer t = {
		.h = curl_easy_init(), .fd = out_fd, .err_body = BUF_INIT(ERROR_BODY_MAX)};
	if (!t.h || !headers) {
		curl_easy_cleanup(t.h);
		curl_slist_free_all(headers);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	char detail[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(t.h, CURLOPT_URL, url);
	curl_easy_setopt(t.h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(t.h, CURLOPT_PROXY, ""); /* the agent's pod IP, never through a proxy */
	curl_easy_setopt(t.h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(t.h, CURLOPT_PINNEDPUBLICKEY, ep->pin);
	/* No CA signed the agent's certificate and no name in it is checked: the pin, announced
	 * on the authenticated push stream, is the whole of the agent's authentication. */
	curl_easy_setopt(t.h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(t.h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(t.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t.h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(t.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(t.h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
	curl_easy_setopt(t.h, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(t.h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t.h, CURLOPT_WRITEDATA, &t);
	CURLcode rc = curl_easy_perform(t.h);
	int r = 0;
	if (rc != CURLE_OK) {
		r = curl_failure(&t, rc, ep, detail[0] ? detail : curl_easy_strerror(rc), err,
				 err_size);
	} else {
		curl_easy_getinfo(t.h, CURLINFO_RESPONSE_CODE, &t.status);
		if (t.status / 100 != 2)
			error_from_body(&t.err_body, t.status, err, err_size);
		*ret_http_status = (int)t.status;
	}
	buf_free(&t.err_body);
	curl_slist_free_all(headers);
	curl_easy_cleanup(t.h);
	return r;
}
