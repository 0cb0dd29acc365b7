/* Kubernetes API client over libcurl; see client.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "log.h"
#include "kube/client.h"

#define DEFAULT_TIMEOUT_MS	   30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY	   (64u << 20)
#define DEFAULT_PAGE_SIZE	   500u
#define DEFAULT_MAX_ITEMS	   1000000u
#define POOL_MAX		   8
#define URL_MAX			   8192

const struct kube_resource KUBE_RES_CONFIGMAPS = {"", "v1", "configmaps", true};
const struct kube_resource KUBE_RES_PODS = {"", "v1", "pods", true};
const struct kube_resource KUBE_RES_NAMESPACES = {"", "v1", "namespaces", false};
const struct kube_resource KUBE_RES_NODES = {"", "v1", "nodes", false};
const struct kube_resource KUBE_RES_LEASES = {"coordination.k8s.io", "v1", "leases", true};

struct kube_client {
	struct kube_config *cfg;
	struct kube_client_options opts;
	char user_agent[128];
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *pool[POOL_MAX];
	unsigned pool_len;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct kube_client *c = userp;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct kube_client *c = userp;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_locks[data]);
}

int kube_client_new(struct kube_config *cfg, const struct kube_client_options *opts,
		    struct kube_client **ret)
{
	pthread_once(&curl_once, curl_init_once);
	struct kube_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	if (opts)
		c->opts = *opts;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!c->opts.max_body)
		c->opts.max_body = DEFAULT_MAX_BODY;
	snprintf(c->user_agent, sizeof(c->user_agent), "%s",
		 c->opts.user_agent ? c->opts.user_agent : "bulwark/" BULWARK_VERSION);
	c->opts.user_agent = c->user_agent;
	pthread_mutex_init(&c->pool_lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	c->share = curl_share_init();
	if (!c->share) {
		kube_client_free(c);
		return -EIO;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*ret = c;
	return 0;
}

struct kube_client *kube_client_free(struct kube_client *c)
{
	if (!c)
		return NULL;
	for (unsigned i = 0; i < c->pool_len; i++)
		curl_easy_cleanup(c->pool[i]);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	pthread_mutex_destroy(&c->pool_lock);
	free(c);
	return NULL;
}

struct kube_config *kube_client_config(struct kube_client *c)
{
	return c->cfg;
}

int kube_curl_errno(CURLcode code)
{
	switch (code) {
	case CURLE_OK: return 0;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM: return -ECONNRESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR: return -EKEYREJECTED;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED: return -EMSGSIZE;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return -EIO;
	}
}

/* ---- URLs ----------------------------------------------------------------------------------- */

/* RFC 3986 unreserved characters pass; everything else is percent-encoded. */
static int append_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int r;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~')
			r = buf_append(b, s, 1);
		else
			r = buf_append(b, (char[3]){'%', hex[ch >> 4], hex[ch & 15]}, 3);
		if (r < 0)
			return r;
	}
	return 0;
}

static int append_segment(struct buf *b, const char *seg)
{
	if (!seg || !seg[0] || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
		return -EINVAL;
	int r = buf_append_str(b, "/");
	return r < 0 ? r : append_escaped(b, seg);
}

static int append_param(struct buf *b, bool *first, const char *key, const char *value)
{
	if (!value)
		return 0;
	int r = buf_printf(b, "%c%s=", *first ? '?' : '&', key);
	*first = false;
	return r < 0 ? r : append_escaped(b, value);
}

static int url_build(struct buf *b, const char *server, const struct kube_resource *res,
		     const char *ns, const char *name, const char *subresource,
		     const struct kube_query *q)
{
	int r;

	if (ns && !ns[0])
		ns = NULL;
	if (!res || !res->version || !res->plural || (name && !name[0]))
		return -EINVAL;
	if (!res->namespaced && ns)
		return -EINVAL;
	if (res->namespaced && name && !ns)
		return -EINVAL;
	if (subresource && !name)
		return -EINVAL;

	if ((r = buf_append_str(b, server)) < 0)
		return r;
	if (!res->group || !res->group[0])
		r = buf_append_str(b, "/api");
	else if ((r = buf_append_str(b, "/apis")) == 0)
		r = append_segment(b, res->group);
	if (r < 0 || (r = append_segment(b, res->version)) < 0)
		return r;
	if (ns && ((r = append_segment(b, "namespaces")) < 0 || (r = append_segment(b, ns)) < 0))
		return r;
	if ((r = append_segment(b, res->plural)) < 0)
		return r;
	if (name && (r = append_segment(b, name)) < 0)
		return r;
	if (subresource && (r = append_segment(b, subresource)) < 0)
		return r;

	if (q) {
		bool first = true;
		char num[24];
		if ((r = append_param(b, &first, "labelSelector", q->label_selector)) < 0 ||
		    (r = append_param(b, &first, "fieldSelector", q->field_selector)) < 0 ||
		    (r = append_param(b, &first, "resourceVersion", q->resource_version)) < 0 ||
		    (r = append_param(b, &first, "resourceVersionMatch",
				      q->resource_version_match)) < 0 ||
		    (r = append_param(b, &first, "continue", q->continue_token)) < 0)
			return r;
		if (q->limit) {
			snprintf(num, sizeof(num), "%u", q->limit);
			if ((r = append_param(b, &first, "limit", num)) < 0)
				return r;
		}
		if (q->watch && (r = append_param(b, &first, "watch", "true")) < 0)
			return r;
		if (q->allow_bookmarks &&
		    (r = append_param(b, &first, "allowWatchBookmarks", "true")) < 0)
			return r;
		if (q->timeout_seconds) {
			snprintf(num, sizeof(num), "%u", q->timeout_seconds);
			if ((r = append_param(b, &first, "timeoutSeconds", num)) < 0)
				return r;
		}
		if ((r = append_param(b, &first, "fieldManager", q->field_manager)) < 0)
			return r;
		if (q->force && (r = append_param(b, &first, "force", "true")) < 0)
			return r;
	}
	return r;
}

int kube_url_build(const char *server, const struct kube_resource *res, const char *ns,
		   const char *name, const char *subresource, const struct kube_query *q,
		   char **ret)
{
	_cleanup_buf_ struct buf b = BUF_INIT(URL_MAX);
	int r = url_build(&b, server, res, ns, name, subresource, q);
	if (r < 0)
		return r == -EMSGSIZE ? -ENAMETOOLONG : r;
	char *s = buf_steal(&b);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* ---- requests ------------------------------------------------------------------------------ */

static CURL *handle_get(struct kube_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->pool_lock);
	if (c->pool_len)
		h = c->pool[--c->pool_len];
	pthread_mutex_unlock(&c->pool_lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(struct kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_lock);
	if (c->pool_len < POOL_MAX) {
		c->pool[c->pool_len++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

int kube_client_prepare_handle(struct kube_client *c, CURL *h, const char *url,
			       struct curl_slist **ret_headers)
{
	struct kube_config *cfg = c->cfg;
	struct curl_slist *hdrs = NULL, *t;
	_cleanup_free_ char *token = NULL;
	int r;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* HTTP/1.1: with libcurl 7.88 a long LIST over HTTP/2 was seen to stall mid-body until the
	 * request timed out (3 runs in 6 of the 10k-pod benchmark; none over HTTP/1.1). One
	 * connection per watch is what client-go's HTTP/1.1 mode does too. */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (cfg->ca_pem) {
		struct curl_blob ca = {
			.data = cfg->ca_pem, .len = cfg->ca_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (cfg->cert_pem) {
		struct curl_blob cert = {
			.data = cfg->cert_pem, .len = cfg->cert_len, .flags = CURL_BLOB_NOCOPY};
		struct curl_blob key = {
			.data = cfg->key_pem, .len = cfg->key_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (!(t = curl_slist_append(hdrs, "Accept: application/json")))
		goto oom;
	hdrs = t;
	r = kube_config_token(cfg, 0, &token);
	if (r < 0) {
		curl_slist_free_all(hdrs);
		return r;
	}
	if (token) {
		_cleanup_free_ char *auth = NULL;
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
			auth = NULL;
			goto oom;
		}
		t = curl_slist_append(hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		if (!t)
			goto oom;
		hdrs = t;
	}
	*ret_headers = hdrs;
	return 0;
oom:
	curl_slist_free_all(hdrs);
	return -ENOMEM;
}

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	/* A short count makes curl fail the transfer with CURLE_WRITE_ERROR → -EMSGSIZE. */
	return buf_append(b, ptr, nmemb) < 0 ? 0 : nmemb;
}

/* One attempt; *ret_http is the status (0 on transport errors). */
static int perform(struct kube_client *c, const char *method, const char *url,
		   const char *content_type, const char *body, struct buf *resp, long *ret_http,
		   struct kube_status *st)
{
	struct curl_slist *hdrs = NULL, *t;
	CURL *h = handle_get(c);
	int r;

	if (!h)
		return -ENOMEM;
	r = kube_client_prepare_handle(c, h, url, &hdrs);
	if (r < 0)
		goto out;
	if (content_type) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		if (!(t = curl_slist_append(hdrs, ct))) {
			r = -ENOMEM;
			goto out;
		}
		hdrs = t;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);

	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode cc = curl_easy_perform(h);
	*ret_http = 0;
	if (cc != CURLE_OK) {
		r = kube_curl_errno(cc);
		if (st) {
			memset(st, 0, sizeof(*st));
			snprintf(st->message, sizeof(st->message), "%s %s: %s", method, url,
				 r == -EMSGSIZE ? "response body over the size limit"
				 : errbuf[0]	? errbuf
						: curl_easy_strerror(cc));
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_http);
	r = 0;
out:
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	handle_put(c, h);
	curl_slist_free_all(hdrs);
	return r;
}

int kube_request(struct kube_client *c, const char *method, const char *url,
		 const char *content_type, const json_t *body, json_t **ret, struct kube_status *st)
{
	_cleanup_free_ char *payload = NULL;
	_cleanup_buf_ struct buf resp = BUF_INIT(c->opts.max_body);
	long http = 0;
	int r;

	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		if (!payload)
			return -ENOMEM;
		if (strlen(payload) > c->opts.max_body)
			return -E2BIG;
	}
	for (int attempt = 0;; attempt++) {
		buf_reset(&resp);
		r = perform(c, method, url, content_type, payload, &resp, &http, st);
		if (r < 0) {
			log_info(5, "kube request failed", "method", method, "url", url);
			return r;
		}
		/* A rotated token: re-read the file once and try again. */
		if (http == 401 && attempt == 0 && c->cfg->token_file) {
			_cleanup_free_ char *tok = NULL;
			if (kube_config_token(c->cfg, 1, &tok) == 0)
				continue;
		}
		break;
	}
	json_error_t jerr;
	json_t *parsed = resp.len ? json_loadb(resp.data, resp.len, 0, &jerr) : NULL;
	if (http < 200 || http >= 300) {
		struct kube_status tmp, *s = st ? st : &tmp;
		kube_status_from_json(s, (int)http, parsed);
		/* The HTTP status decides, Status.reason refines a 409. */
		r = kube_status_to_errno((int)http, s->reason);
		json_decref(parsed);
		log_info(5, "kube request rejected", "method", method, "url", url, "code",
			 LOG_INT(http));
		return r;
	}
	if (!parsed && ret) {
		if (st) {
			memset(st, 0, sizeof(*st));
			st->code = (int)http;
			snprintf(st->message, sizeof(st->message), "%s %s: response is not JSON",
				 method, url);
		}
		return -EBADMSG;
	}
	if (ret)
		*ret = parsed;
	else
		json_decref(parsed);
	return 0;
}

/* ---- verbs --------------------------------------------------------------------------------- */

static const char *obj_meta(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, json_t **ret, struct kube_status *st)
{
	_cleanup_free_ char *url = NULL;
	int r = kube_url_build(c->cfg->server, res, ns, name, NULL, NULL, &url);
	return r < 0 ? r : kube_request(c, "GET", url, NULL, NULL, ret, st);
}

int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_options *opts, json_t **ret_items, char **ret_rv,
	      struct kube_status *st)
{
	struct kube_list_options o = opts ? *opts : (struct kube_list_options){0};
	json_t *items = json_array();
	_cleanup_free_ char *token = NULL, *rv = NULL;
	int r;

	if (!items)
		return -ENOMEM;
	if (!o.page_size)
		o.page_size = DEFAULT_PAGE_SIZE;
	if (!o.max_items)
		o.max_items = DEFAULT_MAX_ITEMS;
	for (;;) {
		struct kube_query q = {
			.label_selector = o.label_selector,
			.field_selector = o.field_selector,
			.limit = o.page_size,
			.continue_token = token,
		};
		_cleanup_free_ char *url = NULL;
		json_t *page = NULL;
		r = kube_url_build(c->cfg->server, res, ns, NULL, NULL, &q, &url);
		if (r < 0)
			goto fail;
		r = kube_request(c, "GET", url, NULL, NULL, &page, st);
		if (r < 0)
			goto fail;
		json_t *page_items = json_object_get(page, "items");
		const char *page_rv = obj_meta(page, "resourceVersion");
		const char *next = obj_meta(page, "continue");
		/* An empty list may come with "items": null. */
		if (page_items && !json_is_array(page_items) && !json_is_null(page_items)) {
			json_decref(page);
			r = -EBADMSG;
			goto fail;
		}
		if (json_array_size(items) + json_array_size(page_items) > o.max_items) {
			json_decref(page);
			r = -E2BIG;
			goto fail;
		}
		if (json_is_array(page_items) && json_array_extend(items, page_items) < 0) {
			json_decref(page);
			r = -ENOMEM;
			goto fail;
		}
		/* The first page's resourceVersion is the snapshot the whole list reflects. */
		if (!rv && page_rv && !(rv = strdup(page_rv))) {
			json_decref(page);
			r = -ENOMEM;
			goto fail;
		}
		free(token);
		token = next && next[0] ? strdup(next) : NULL;
		bool more = next && next[0];
		json_decref(page);
		if (more && !token) {
			r = -ENOMEM;
			goto fail;
		}
		if (!more)
			break;
	}
	*ret_items = items;
	if (ret_rv)
		*ret_rv = TAKE_PTR(rv);
	return 0;
fail:
	json_decref(items);
	return r;
}

static int write_object(struct kube_client *c, const char *method, const struct kube_resource *res,
			const char *ns, const char *name, const char *sub,
			const struct kube_query *q, const char *content_type, const json_t *body,
			json_t **ret, struct kube_status *st)
{
	_cleanup_free_ char *url = NULL;
	int r = kube_url_build(c->cfg->server, res, ns, name, sub, q, &url);
	if (r < 0)
		return r;
	return kube_request(c, method, url, content_type, body, ret, st);
}

int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const json_t *obj, json_t **ret, struct kube_status *st)
{
	return write_object(c, "POST", res, ns, NULL, NULL, NULL, "application/json", obj, ret, st);
}

static int update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		  const char *sub, const json_t *obj, json_t **ret, struct kube_status *st)
{
	const char *name = obj_meta(obj, "name");
	const char *rv = obj_meta(obj, "resourceVersion");
	if (!name || !rv || !rv[0])
		return -EINVAL;
	return write_object(c, "PUT", res, ns, name, sub, NULL, "application/json", obj, ret, st);
}

int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const json_t *obj, json_t **ret, struct kube_status *st)
{
	return update(c, res, ns, NULL, obj, ret, st);
}

int kube_update_status(struct kube_client *c, const struct kube_resource *res, const char *ns,
		       const json_t *obj, json_t **ret, struct kube_status *st)
{
	return update(c, res, ns, "status", obj, ret, st);
}

int kube_patch_merge(struct kube_client *c, const struct kube_resource *res, const char *ns,
		     const char *name, const json_t *patch, json_t **ret, struct kube_status *st)
{
	return write_object(c, "PATCH", res, ns, name, NULL, NULL, "application/merge-patch+json",
			    patch, ret, st);
}

int kube_apply(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const json_t *obj, const char *field_manager, bool force, json_t **ret,
	       struct kube_status *st)
{
	const char *name = obj_meta(obj, "name");
	if (!name || !field_manager || !field_manager[0])
		return -EINVAL;
	struct kube_query q = {.field_manager = field_manager, .force = force};
	/* JSON is YAML, so the apply content type takes our JSON body as is. */
	return write_object(c, "PATCH", res, ns, name, NULL, &q, "application/apply-patch+yaml",
			    obj, ret, st);
}

int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const struct kube_delete_options *opts, struct kube_status *st)
{
	json_t *body = NULL;
	int r;
	if (opts && (opts->uid || opts->resource_version || opts->propagation)) {
		body = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
		json_t *pre = json_object();
		if (!body || !pre) {
			json_decref(body);
			json_decref(pre);
			return -ENOMEM;
		}
		if (opts->uid)
			json_object_set_new(pre, "uid", json_string(opts->uid));
		if (opts->resource_version)
			json_object_set_new(pre, "resourceVersion",
					    json_string(opts->resource_version));
		if (json_object_size(pre))
			json_object_set_new(body, "preconditions", pre);
		else
			json_decref(pre);
		if (opts->propagation)
			json_object_set_new(body, "propagationPolicy",
					    json_string(opts->propagation));
	}
	r = write_object(c, "DELETE", res, ns, name, NULL, NULL, body ? "application/json" : NULL,
			 body, NULL, st);
	json_decref(body);
	return r;
}
