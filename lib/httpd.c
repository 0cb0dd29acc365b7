#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"

#define DEFAULT_MAX_BODY  (1u << 20)
#define RESPONSE_BODY_MAX (64u << 20)
#define CERT_FILE_MAX	  (1u << 20)
#define CERT_CERTS_MAX	  16
/* Handshakes may still use a superseded certificate briefly, and GnuTLS does not tell us when
 * it is done with one, so old generations are kept until they are this old and beyond the
 * newest few. */
#define CERT_KEEP_GENERATIONS 8
#define CERT_KEEP_SECONDS     600

struct route {
	char *method; /* NULL: any */
	char *path;   /* trailing '*': prefix */
	httpd_handler_fn fn;
	void *userdata;
};

/* One loaded certificate + key. */
struct cert_gen {
	gnutls_pcert_st pcerts[CERT_CERTS_MAX];
	unsigned n_pcerts;
	gnutls_privkey_t key;
	time_t superseded_at; /* 0 while current */
	struct cert_gen *older;
};

struct httpd {
	struct httpd_config config;
	char *address, *cert_file, *key_file, *client_ca_pem;
	struct MHD_Daemon *daemon;
	struct route *routes;
	size_t n_routes;
	uint16_t port;

	pthread_mutex_t cert_lock;
	struct cert_gen *cert; /* newest first */
	struct timespec cert_checked;
	struct stat cert_stat, key_stat;
};

struct httpd_request {
	struct MHD_Connection *conn;
	const char *method, *path;
	struct buf body;
	bool too_large;
};

/* ---- certificates --------------------------------------------------------------------------- */

static void cert_gen_free(struct cert_gen *g)
{
	while (g) {
		struct cert_gen *older = g->older;
		for (unsigned i = 0; i < g->n_pcerts; i++)
			gnutls_pcert_deinit(&g->pcerts[i]);
		if (g->key)
			gnutls_privkey_deinit(g->key);
		free(g);
		g = older;
	}
}

static bool key_matches_cert(gnutls_privkey_t key, const gnutls_pcert_st *pcert)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	gnutls_pubkey_t pub;
	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	bool ok = gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
		  gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &na) >= 0 &&
		  gnutls_pubkey_get_key_id(pcert->pubkey, GNUTLS_KEYID_USE_SHA256, b, &nb) >= 0 &&
		  na == nb && memcmp(a, b, na) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

static int cert_gen_load(const char *cert_file, const char *key_file, struct cert_gen **ret)
{
	_cleanup_buf_ struct buf cert_pem = BUF_INIT(CERT_FILE_MAX);
	_cleanup_buf_ struct buf key_pem = BUF_INIT(CERT_FILE_MAX);
	int r = read_file_capped(cert_file, &cert_pem);
	if (r < 0)
		return r;
	r = read_file_capped(key_file, &key_pem);
	if (r < 0)
		return r;

	struct cert_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	gnutls_datum_t cert_datum = {(unsigned char *)cert_pem.data, (unsigned)cert_pem.len};
	gnutls_datum_t key_datum = {(unsigned char *)key_pem.data, (unsigned)key_pem.len};
	g->n_pcerts = CERT_CERTS_MAX;
	if (gnutls_pcert_list_import_x509_raw(g->pcerts, &g->n_pcerts, &cert_datum,
					      GNUTLS_X509_FMT_PEM, 0) < 0) {
		g->n_pcerts = 0;
		cert_gen_free(g);
		return -EBADMSG;
	}
	if (gnutls_privkey_init(&g->key) < 0 ||
	    gnutls_privkey_import_x509_raw(g->key, &key_datum, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		cert_gen_free(g);
		return -EBADMSG;
	}
	/* Files replaced one at a time (a renewal, a Secret volume's update) pass through a
	 * moment where the key does not belong to the certificate; serving that pair would fail
	 * every handshake, so it is refused and the current pair kept. */
	if (!key_matches_cert(g->key, &g->pcerts[0])) {
		cert_gen_free(g);
		return -EKEYREJECTED;
	}
	*ret = g;
	return 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Called with cert_lock held: reloads the files if they changed (at most once a second). */
static void cert_maybe_reload(struct httpd *h)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (h->cert && now.tv_sec == h->cert_checked.tv_sec)
		return;
	h->cert_checked = now;

	struct stat cs, ks;
	if (stat(h->cert_file, &cs) < 0 || stat(h->key_file, &ks) < 0)
		return; /* mid-rotation: keep serving the old pair */
	if (h->cert && same_file_state(&cs, &h->cert_stat) && same_file_state(&ks, &h->key_stat))
		return;

	struct cert_gen *g;
	int r = cert_gen_load(h->cert_file, h->key_file, &g);
	if (r < 0) {
		/* A half-written pair is normal during rotation; the next handshake tries again. */
		log_info(2, "certificate reload failed, keeping the current one", "cert",
			 h->cert_file, "err", strerror(-r));
		return;
	}
	time_t wall = time(NULL);
	if (h->cert)
		h->cert->superseded_at = wall;
	g->older = h->cert;
	h->cert = g;
	h->cert_stat = cs;
	h->key_stat = ks;
	log_info(1, "serving certificate loaded", "cert", h->cert_file);

	/* Drop generations beyond the newest few that were superseded long ago. */
	unsigned kept = 0;
	for (struct cert_gen **p = &h->cert; *p; p = &(*p)->older) {
		if (++kept > CERT_KEEP_GENERATIONS && (*p)->superseded_at &&
		    wall - (*p)->superseded_at > CERT_KEEP_SECONDS) {
			cert_gen_free(*p);
			*p = NULL;
			break;
		}
	}
}

/* The server's certificate callback, per handshake. GnuTLS gives it no user data, so
 * on_connection() attaches the server to each TLS session before its handshake starts. */
static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			 gnutls_pcert_st **ret_pcert, unsigned int *ret_n,
			 gnutls_privkey_t *ret_key)
{
	struct httpd *h = gnutls_session_get_ptr(session);
	if (!h)
		return -1;
	pthread_mutex_lock(&h->cert_lock);
	cert_maybe_reload(h);
	struct cert_gen *g = h->cert;
	pthread_mutex_unlock(&h->cert_lock);
	if (!g)
		return -1;
	*ret_pcert = g->pcerts;
	*ret_n = g->n_pcerts;
	*ret_key = g->key;
	return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

const char *httpd_request_method(const struct httpd_request *req)
{
	return req->method;
}
const char *httpd_request_path(const struct httpd_request *req)
{
	return req->path;
}

const char *httpd_request_header(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct header_values {
	const char *name;
	const char **out;
	size_t max, n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct header_values *v = cls;
	(void)kind;
	if (value && strcasecmp(key, v->name) == 0 && v->n < v->max)
		v->out[v->n++] = value;
	return MHD_YES;
}

size_t httpd_request_header_values(const struct httpd_request *req, const char *name,
				   const char **ret, size_t max)
{
	struct header_values v = {.name = name, .out = ret, .max = max};
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &v);
	return v.n;
}

int httpd_request_client_cert(const struct httpd_request *req, char *ret_cn, size_t size)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session = info ? info->tls_session : NULL;
	if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
		return -ENOENT;
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);
	if (!chain || n == 0)
		return -ENOENT;
	/* Chain, validity period and key purpose, against the server's trust list. */
	gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
					 .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
	unsigned status = 0;
	if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) < 0 || status != 0)
		return -EACCES;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	char cn[256];
	size_t cn_len = sizeof(cn);
	int r = gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0 ||
				gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
							      0, cn, &cn_len) < 0
			? -EACCES
			: 0;
	gnutls_x509_crt_deinit(crt);
	if (r < 0)
		return r;
	if (cn_len >= size)
		return -ENAMETOOLONG;
	memcpy(ret_cn, cn, cn_len);
	ret_cn[cn_len] = '\0';
	return 0;
}

size_t httpd_request_client_chain(const struct httpd_request *req, struct httpd_der *ret,
				  size_t max)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session = info ? info->tls_session : NULL;
	if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
		return 0;
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);
	if (!chain)
		return 0;
	size_t i;
	for (i = 0; i < n && i < max; i++)
		ret[i] = (struct httpd_der){chain[i].data, chain[i].size};
	return i;
}

const char *httpd_request_query(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *httpd_request_body(const struct httpd_request *req, size_t *ret_len)
{
	if (ret_len)
		*ret_len = req->body.len;
	return buf_str(&req->body);
}

const char *httpd_request_bearer_token(const struct httpd_request *req)
{
	const char *auth = httpd_request_header(req, "Authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return *auth ? auth : NULL;
}

int httpd_respond_error(struct httpd_response *resp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	json_t *j = json_pack("{s:s}", "error", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r = s ? buf_append_str(&resp->body, s) : -ENOMEM;
	r = r ?: buf_append_str(&resp->body, "\n");
	free(s);
	json_decref(j);
	return r;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct httpd_stream *s = cls;
	long n = s->read(s->ctx, buf, max);
	if (n == HTTPD_STREAM_ABORT)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct httpd_stream *s = cls;
	if (s->free_ctx)
		s->free_ctx(s->ctx);
	free(s);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct httpd_response *resp)
{
	struct MHD_Response *mr;
	if (resp->stream.read) {
		struct httpd_stream *s = malloc(sizeof(*s));
		if (!s)
			return MHD_NO;
		*s = resp->stream;
		resp->stream.read = NULL; /* the response owns it now */
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader,
						       s, stream_free);
		if (!mr) {
			stream_free(s);
			return MHD_NO;
		}
	} else {
		size_t len = resp->body.len;
		mr = MHD_create_response_from_buffer(len, buf_steal(&resp->body),
						     MHD_RESPMEM_MUST_FREE);
		if (!mr)
			return MHD_NO;
	}
	MHD_add_response_header(mr, "Content-Type",
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)(resp->status ?: 200), mr);
	MHD_destroy_response(mr);
	return ret;
}

static const struct route *find_route(const struct httpd *h, const char *method, const char *path)
{
	for (size_t i = 0; i < h->n_routes; i++) {
		const struct route *r = &h->routes[i];
		if (r->method && strcmp(r->method, method) != 0)
			continue;
		size_t n = strlen(r->path);
		if (n && r->path[n - 1] == '*' ? strncmp(r->path, path, n - 1) == 0
					       : strcmp(r->path, path) == 0)
			return r;
	}
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct httpd_request *req = *con_cls;
	struct httpd_response resp = {.status = 200, .body = BUF_INIT(RESPONSE_BODY_MAX)};

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->conn = conn;
		req->method = method;
		req->path = url;
		buf_init(&req->body, h->config.max_body);
		*con_cls = req;
		/* Refuse an announced oversized body before reading any of it. */
		const char *cl =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > h->config.max_body) {
			req->too_large = true;
			httpd_respond_error(&resp, 413, "request body exceeds %zu bytes",
					    h->config.max_body);
			return send_response(conn, &resp);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!req->too_large && buf_append(&req->body, upload_data, *upload_data_size) < 0) {
			req->too_large = true;
			buf_free(&req->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->too_large) {
		httpd_respond_error(&resp, 413, "request body exceeds %zu bytes",
				    h->config.max_body);
		return send_response(conn, &resp);
	}

	const struct route *route = find_route(h, method, url);
	if (!route) {
		httpd_respond_error(&resp, 404, "no handler for %s %s", method, url);
		return send_response(conn, &resp);
	}
	int r = route->fn(req, &resp, route->userdata);
	if (r < 0 && (resp.status < 400 || resp.status > 599)) {
		log_error(r, "request handler failed", "method", method, "path", url);
		httpd_respond_error(&resp, 500, "internal error: %s", strerror(-r));
	}
	enum MHD_Result ret = send_response(conn, &resp);
	buf_free(&resp.body);
	if (resp.stream.read && resp.stream.free_ctx)
		resp.stream.free_ctx(resp.stream.ctx);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd_request *req = *con_cls;
	if (!req)
		return;
	buf_free(&req->body);
	free(req);
	*con_cls = NULL;
}

/* Attaches the server to each new TLS session so cert_callback can find it. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED || !h->cert_file)
		return;
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (info && info->tls_session)
		gnutls_session_set_ptr(info->tls_session, h);
}

__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	if (!log_enabled(4))
		return;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_info(4, "libmicrohttpd", "detail", msg);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int httpd_new(const struct httpd_config *config, struct httpd **ret)
{
	if (!config->cert_file != !config->key_file)
		return -EINVAL;
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->config = *config;
	if (!h->config.max_body)
		h->config.max_body = DEFAULT_MAX_BODY;
	if (!h->config.threads)
		h->config.threads = 4;
	if (!h->config.timeout_s)
		h->config.timeout_s = 10;
	if (!h->config.max_connections)
		h->config.max_connections = 1024;
	pthread_mutex_init(&h->cert_lock, NULL);
	h->address = strdup(config->address ? config->address : "0.0.0.0");
	h->cert_file = config->cert_file ? strdup(config->cert_file) : NULL;
	h->key_file = config->key_file ? strdup(config->key_file) : NULL;
	h->client_ca_pem = config->client_ca_pem ? strdup(config->client_ca_pem) : NULL;
	h->config.client_ca_pem = NULL; /* only the copy above is kept */
	if (config->client_ca_pem && !config->cert_file) {
		httpd_free(h);
		return -EINVAL;
	}
	if (!h->address || (config->cert_file && (!h->cert_file || !h->key_file)) ||
	    (config->client_ca_pem && !h->client_ca_pem)) {
		httpd_free(h);
		return -ENOMEM;
	}
	if (h->cert_file) {
		/* Fail early on an unusable pair instead of at the first handshake. */
		pthread_mutex_lock(&h->cert_lock);
		cert_maybe_reload(h);
		pthread_mutex_unlock(&h->cert_lock);
		if (!h->cert) {
			httpd_free(h);
			return -EBADMSG;
		}
	}
	*ret = h;
	return 0;
}

int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler_fn fn,
		void *userdata)
{
	struct route *grown = realloc(h->routes, (h->n_routes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	h->routes = grown;
	struct route *r = &h->routes[h->n_routes];
	*r = (struct route){.fn = fn, .userdata = userdata};
	r->method = method ? strdup(method) : NULL;
	r->path = strdup(path);
	if ((method && !r->method) || !r->path) {
		free(r->method);
		free(r->path);
		return -ENOMEM;
	}
	h->n_routes++;
	return 0;
}

int httpd_start(struct httpd *h)
{
	struct sockaddr_storage ss = {0};
	bool v6 = strchr(h->address, ':') != NULL;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(h->config.port);
		if (inet_pton(AF_INET6, h->address, &a->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(h->config.port);
		if (inet_pton(AF_INET, h->address, &a->sin_addr) != 1)
			return -EINVAL;
	}

	unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_INTERNAL_POLLING_THREAD;
	if (h->config.threading == HTTPD_THREAD_PER_CONNECTION)
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	else
		flags |= MHD_USE_EPOLL;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (h->cert_file)
		flags |= MHD_USE_TLS;

	struct MHD_OptionItem opts[16];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, h->config.timeout_s, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, h->config.max_connections,
					    NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, h};
	if (h->config.threading == HTTPD_THREAD_POOL)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, h->config.threads,
						    NULL};
	if (h->cert_file) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
						    (void *)cert_callback};
		/* With a trust list libmicrohttpd asks every client for a certificate (optional)
		 * and GnuTLS names these CAs, so a client picks the right one. */
		if (h->client_ca_pem)
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
							    h->client_ca_pem};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
				     MHD_OPTION_END);
	if (!h->daemon)
		return -EADDRNOTAVAIL;
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : h->config.port;
	return 0;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}

struct httpd *httpd_free(struct httpd *h)
{
	if (!h)
		return NULL;
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	for (size_t i = 0; i < h->n_routes; i++) {
		free(h->routes[i].method);
		free(h->routes[i].path);
	}
	free(h->routes);
	cert_gen_free(h->cert);
	pthread_mutex_destroy(&h->cert_lock);
	free(h->address);
	free(h->cert_file);
	free(h->client_ca_pem);
	free(h->key_file);
	free(h);
	return NULL;
}
