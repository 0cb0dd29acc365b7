/* The agent's recordings listener (recordings_server.h). */
#include "nodeagent/exec/recordings_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "fileio.h"
#include "httpd.h"
#include "log.h"

#define ROUTE_PREFIX "/v1/recordings/"
/* The trailer is the chain file's last line and is small; more than this is not a trailer. */
#define TRAILER_MAX 4096
#define HEADER_MAX  (64 << 10) /* a cast header: env, kubernetes identity, command */

struct recordings_server {
	struct httpd *httpd;
	char *recordings_dir;
	char cert_file[4096], key_file[4096];
	char ip[INET6_ADDRSTRLEN]; /* advertised; empty: none */
	struct recordings_advert advert;
};

static const struct {
	const char *kind;
	const char *content_type;
} kinds[] = {
	{"cast", "application/x-asciicast"},
	{"log", "application/x-ndjson"},
	{"chain", "application/x-ndjson"},
};

/* ---- requests ------------------------------------------------------------------------------- */

int recordings_request_parse(const char *rest, char ret_id[RECORDING_ID_MAX + 1],
			     const char **ret_kind, struct field_error *err)
{
	size_t n = rest ? strlen(rest) : 0;
	const char *kind = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t k = strlen(kinds[i].kind);
		if (n > k + 1 && rest[n - k - 1] == '.' &&
		    strcmp(rest + n - k, kinds[i].kind) == 0) {
			kind = kinds[i].kind;
			n -= k + 1;
			break;
		}
	}
	char id[RECORDING_ID_MAX + 2];
	if (n == 0 || n > RECORDING_ID_MAX)
		return field_error_set(err, "id", "a recording id has 1 to %d characters",
				       RECORDING_ID_MAX);
	memcpy(id, rest, n);
	id[n] = '\0';
	/* recording_id_valid() already rules out '/' and a leading dot; ".." anywhere is refused
	 * too, so no id can ever look like a path step to anything downstream. */
	if (!recording_id_valid(id) || strstr(id, ".."))
		return field_error_set(err, "id",
				       "a recording id is [A-Za-z0-9._-] without a leading dot or "
				       "\"..\"");
	memcpy(ret_id, id, n + 1);
	*ret_kind = kind;
	return 0;
}

bool recordings_token_equal(const char *presented, const char *secret)
{
	if (!presented || strlen(presented) != RECORDINGS_TOKEN_HEX_LEN ||
	    strlen(secret) != RECORDINGS_TOKEN_HEX_LEN)
		return false;
	/* Every byte is looked at whatever differs, so the time says nothing about the secret
	 * (its length is public). */
	volatile unsigned char diff = 0;
	for (size_t i = 0; i < RECORDINGS_TOKEN_HEX_LEN; i++)
		diff |= (unsigned char)(presented[i] ^ secret[i]);
	return diff == 0;
}

/* ---- responses ------------------------------------------------------------------------------ */

static long file_read(void *ctx, char *buf, size_t max)
{
	int fd = (int)(intptr_t)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, max);
		if (n > 0)
			return (long)n;
		if (n < 0 && errno == EINTR)
			continue;
		/* An I/O error aborts the response (no final chunk): the client fails the
		 * transfer rather than keeping a short copy. */
		if (n < 0) {
			log_error(-errno, "reading a recording failed");
			return HTTPD_STREAM_ABORT;
		}
		return -1;
	}
}

static void file_close(void *ctx)
{
	close((int)(intptr_t)ctx);
}

/* Opens dir/id.kind read-only without following a link; -ENOENT when absent. */
static int open_recording(const char *dir, const char *id, const char *kind, struct stat *ret_st)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s.%s", dir, id, kind) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Whether the chain file's last line is the trailer {"final":true,...}. */
static bool chain_complete(int fd, off_t size)
{
	char buf[TRAILER_MAX + 1];
	off_t start = size > TRAILER_MAX ? size - TRAILER_MAX : 0;
	ssize_t n = pread(fd, buf, (size_t)(size - start), start);
	if (n <= 0)
		return false;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	const char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	json_t *j = json_loads(line, 0, NULL);
	bool complete = json_is_true(json_object_get(j, "final"));
	json_decref(j);
	return complete;
}

/* The cast header's "kubernetes" object (namespace, pod, container, ...), which the
 * controller checks against the ExecSession that asked for this recording. NULL when the
 * header is unreadable. */
static json_t *cast_identity(int fd)
{
	_cleanup_free_ char *buf = malloc(HEADER_MAX + 1);
	ssize_t n = buf ? pread(fd, buf, HEADER_MAX, 0) : -1;
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (!nl)
		return NULL;
	*nl = '\0';
	json_t *header = json_loads(buf, 0, NULL);
	json_t *k = json_incref(json_object_get(header, "kubernetes"));
	json_decref(header);
	if (!json_is_object(k)) {
		json_decref(k);
		return NULL;
	}
	return k;
}

static int serve_summary(struct recordings_server *s, const char *id, struct httpd_response *resp)
{
	json_t *files = json_object();
	json_t *body =
		files ? json_pack("{s:s,s:o,s:b}", "id", id, "files", files, "complete", 0) : NULL;
	if (!body)
		return -ENOMEM;
	bool any = false;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct stat st;
		int fd = open_recording(s->recordings_dir, id, kinds[i].kind, &st);
		if (fd < 0)
			continue;
		any = true;
		json_object_set_new(files, kinds[i].kind, json_integer((json_int_t)st.st_size));
		if (strcmp(kinds[i].kind, "chain") == 0)
			json_object_set_new(body, "complete",
					    json_boolean(chain_complete(fd, st.st_size)));
		json_t *who;
		if (strcmp(kinds[i].kind, "cast") == 0 && (who = cast_identity(fd)))
			json_object_set_new(body, "kubernetes", who);
		close(fd);
	}
	if (!any) {
		json_decref(body);
		return httpd_respond_error(resp, 404, "recording %s: not on this node", id);
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	int r = text ? buf_append_str(&resp->body, text) : -ENOMEM;
	free(text);
	return r;
}

static int on_recording(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct recordings_server *s = ud;
	const char *path = httpd_request_path(req);
	if (!recordings_token_equal(httpd_request_bearer_token(req), s->advert.token)) {
		bool missing = !httpd_request_bearer_token(req);
		log_warn("recordings request refused", "path", path, "reason",
			 missing ? "no bearer token" : "wrong bearer token");
		return httpd_respond_error(resp, 401, "%s",
					   missing ? "missing bearer token" : "wrong bearer token");
	}
	char id[RECORDING_ID_MAX + 1];
	const char *kind;
	struct field_error err = {0};
	if (recordings_request_parse(path + strlen(ROUTE_PREFIX), id, &kind, &err) < 0) {
		char msg[800];
		return httpd_respond_error(resp, 400, "%s",
					   field_error_str(&err, msg, sizeof(msg)));
	}
	if (!kind)
		return serve_summary(s, id, resp);

	struct stat st;
	int fd = open_recording(s->recordings_dir, id, kind, &st);
	if (fd == -ENOENT)
		return httpd_respond_error(resp, 404, "recording %s.%s: not on this node", id,
					   kind);
	if (fd < 0)
		return httpd_respond_error(resp, 500, "opening recording %s.%s: %s", id, kind,
					   strerror(-fd));
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			resp->content_type = kinds[i].content_type;
	log_info(2, "serving a recording", "id", id, "kind", kind, "bytes", LOG_INT(st.st_size));
	resp->stream = (struct httpd_stream){
		.read = file_read, .free_ctx = file_close, .ctx = (void *)(intptr_t)fd};
	return 0;
}

/* ---- the server ----------------------------------------------------------------------------- */

static bool is_wildcard(const char *address)
{
	return !address || !*address || strcmp(address, "0.0.0.0") == 0 ||
	       strcmp(address, "::") == 0;
}

static int make_secret(char ret[RECORDINGS_TOKEN_HEX_LEN + 1])
{
	unsigned char raw[RECORDINGS_TOKEN_HEX_LEN / 2];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(ret + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* A new key and self-signed certificate in the state dir; the key is written first and both
 * are 0600 (nothing but this process needs to read either). */
static int make_certificate(struct recordings_server *s, const char *state_dir)
{
	const char *dns[] = {"bulwark-agent"};
	const char *ips[] = {s->ip};
	struct cert_options o = {.dns_names = dns,
				 .n_dns_names = 1,
				 .ip_addresses = ips,
				 .n_ip_addresses = s->ip[0] ? 1 : 0};
	_cleanup_free_ char *cert = NULL, *key = NULL;
	int r = certs_self_signed(&o, time(NULL), &cert, &key);
	if (r < 0)
		return r;
	r = certs_pin(cert, s->advert.pin);
	if (r < 0)
		return r;
	snprintf(s->cert_file, sizeof(s->cert_file), "%s/recordings-tls.crt", state_dir);
	snprintf(s->key_file, sizeof(s->key_file), "%s/recordings-tls.key", state_dir);
	r = write_file_atomic(s->key_file, key, strlen(key), 0600);
	r = r ?: write_file_atomic(s->cert_file, cert, strlen(cert), 0600);
	explicit_bzero(key, strlen(key));
	return r;
}

int recordings_server_new(const struct recordings_server_config *cfg,
			  struct recordings_server **ret)
{
	if (!cfg->recordings_dir || !cfg->state_dir)
		return -EINVAL;
	const char *ip = cfg->advertise_ip && *cfg->advertise_ip ? cfg->advertise_ip
			 : is_wildcard(cfg->address)		 ? NULL
								 : cfg->address;
	unsigned char bin[16];
	if (ip && inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		return -EINVAL;
	struct recordings_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (ip)
		snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->recordings_dir = strdup(cfg->recordings_dir);
	int r = s->recordings_dir ? 0 : -ENOMEM;
	r = r ?: make_secret(s->advert.token);
	r = r ?: make_certificate(s, cfg->state_dir);
	if (r < 0) {
		recordings_server_free(s);
		return r;
	}
	struct httpd_config hc = {
		.address = cfg->address,
		.port = cfg->port,
		.cert_file = s->cert_file,
		.key_file = s->key_file,
		.max_body = 4096, /* GET only */
		.threads = 2,
		.timeout_s = 60,
		.max_connections = 64,
		.threading = HTTPD_THREAD_POOL,
	};
	r = httpd_new(&hc, &s->httpd);
	r = r ?: httpd_route(s->httpd, "GET", ROUTE_PREFIX "*", on_recording, s);
	r = r ?: httpd_start(s->httpd);
	if (r < 0) {
		recordings_server_free(s);
		return r;
	}
	if (s->ip[0])
		snprintf(s->advert.url, sizeof(s->advert.url),
			 strchr(s->ip, ':') ? "https://[%s]:%u" : "https://%s:%u", s->ip,
			 (unsigned)httpd_port(s->httpd));
	*ret = s;
	return 0;
}

struct recordings_server *recordings_server_free(struct recordings_server *s)
{
	if (!s)
		return NULL;
	httpd_free(s->httpd);
	if (s->key_file[0])
		unlink(s->key_file);
	if (s->cert_file[0])
		unlink(s->cert_file);
	explicit_bzero(s->advert.token, sizeof(s->advert.token));
	free(s->recordings_dir);
	free(s);
	return NULL;
}

uint16_t recordings_server_port(const struct recordings_server *s)
{
	return httpd_port(s->httpd);
}

int recordings_server_advert(const struct recordings_server *s, struct recordings_advert *ret)
{
	if (!s->advert.url[0])
		return -ENOENT;
	*ret = s->advert;
	return 0;
}
