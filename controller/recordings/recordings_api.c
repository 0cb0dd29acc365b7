#include "controller/recordings/recordings_api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulwark_resources.h"
#include "cleanup.h"
#include "controller/recordings/agent_recordings.h"
#include "log.h"

#define GROUP_VERSION	  RECORDINGS_API_GROUP "/" RECORDINGS_API_VERSION
#define RECORDING_ANNOT	  "bulwark.dev/recording"
#define SUMMARY_MAX_BYTES (64u << 10)

/* ---- paths ---------------------------------------------------------------------------------- */

/* A DNS label (namespaces) or subdomain (object names), as the API server validates them. */
static bool dns_name_valid(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-' && !(dots && ch == '.'))
			return false;
		if (!alnum && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* Copies the segment starting at *p up to the next '/' (or the end) into out. */
static int next_segment(const char **p, char *out, size_t size)
{
	const char *end = strchr(*p, '/');
	size_t n = end ? (size_t)(end - *p) : strlen(*p);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n + (end ? 1 : 0);
	return end ? 1 : 0; /* 1: more follows */
}

int recordings_path_parse(const char *path, struct recordings_path *ret, struct field_error *err)
{
	struct recordings_path rp = {0};
	static const char prefix[] = "/apis/" GROUP_VERSION "/namespaces/";
	if (strcmp(path, "/apis") == 0 || strcmp(path, "/apis/") == 0)
		rp.kind = RECORDINGS_PATH_GROUP_LIST;
	else if (strcmp(path, "/apis/" RECORDINGS_API_GROUP) == 0)
		rp.kind = RECORDINGS_PATH_GROUP;
	else if (strcmp(path, "/apis/" GROUP_VERSION) == 0)
		rp.kind = RECORDINGS_PATH_RESOURCES;
	else if (strncmp(path, prefix, sizeof(prefix) - 1) == 0) {
		const char *p = path + sizeof(prefix) - 1;
		char resource[32];
		int more = next_segment(&p, rp.namespace, sizeof(rp.namespace));
		if (more < 0 || !dns_name_valid(rp.namespace, 63, false))
			return field_error_set(err, "namespace",
					       "must be a DNS label (a-z, 0-9, '-'; at most 63)");
		if (more == 0 || next_segment(&p, resource, sizeof(resource)) <= 0 ||
		    strcmp(resource, "recordings") != 0)
			return -ENOENT;
		more = next_segment(&p, rp.name, sizeof(rp.name));
		if (more < 0 || !dns_name_valid(rp.name, 253, true))
			return field_error_set(err, "name",
					       "must be an ExecSession name (a DNS subdomain)");
		if (more) {
			if (next_segment(&p, rp.subresource, sizeof(rp.subresource)) != 0 ||
			    (strcmp(rp.subresource, "cast") != 0 &&
			     strcmp(rp.subresource, "log") != 0 &&
			     strcmp(rp.subresource, "chain") != 0))
				return field_error_set(err, "subresource",
						       "must be cast, log or chain");
		}
		rp.kind = RECORDINGS_PATH_RECORDING;
	} else {
		return -ENOENT;
	}
	*ret = rp;
	return 0;
}

/* ---- discovery ------------------------------------------------------------------------------ */

static json_t *group_version(void)
{
	return json_pack("{s:s,s:s}", "groupVersion", GROUP_VERSION, "version",
			 RECORDINGS_API_VERSION);
}

json_t *recordings_api_group(void)
{
	return json_pack("{s:s,s:s,s:s,s:[o],s:o}", "kind", "APIGroup", "apiVersion", "v1", "name",
			 RECORDINGS_API_GROUP, "versions", group_version(), "preferredVersion",
			 group_version());
}

json_t *recordings_api_group_list(void)
{
	return json_pack("{s:s,s:s,s:[o]}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
			 recordings_api_group());
}

json_t *recordings_api_resources(void)
{
	json_t *resources = json_array();
	static const char *const names[] = {"recordings", "recordings/cast", "recordings/log",
					    "recordings/chain"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		json_array_append_new(resources, json_pack("{s:s,s:s,s:b,s:s,s:[s]}", "name",
							   names[i], "singularName",
							   i == 0 ? "recording" : "", "namespaced",
							   1, "kind", "Recording", "verbs", "get"));
	return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", GROUP_VERSION, "resources", resources);
}

/* ---- responses ------------------------------------------------------------------------------ */

static int respond_json(struct httpd_response *resp, int status, json_t *j)
{
	if (!j)
		return -ENOMEM;
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	resp->status = status;
	resp->content_type = "application/json";
	int r = buf_append_str(&resp->body, s);
	free(s);
	return r;
}

/* A metav1.Status, which kubectl prints as "Error from server (Reason): message". */
__attribute__((format(printf, 4, 5))) static int
respond_status(struct httpd_response *resp, int code, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_reset(&resp->body);
	return respond_json(resp, code,
			    json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status",
				      "apiVersion", "v1", "metadata", "status", "Failure",
				      "message", msg, "reason", reason, "code", code));
}

/* ---- streaming a file from the agent -------------------------------------------------------- */

/* One transfer: a thread runs the agent fetch into a pipe, the response reads the other end. A
 * transfer that fails part-way ends the response with HTTPD_STREAM_ABORT, so the auditor
 * sees a broken download, never a short file. */
struct transfer {
	atomic_int refs;
	struct agent_recordings_ep ep;
	char id[128], kind[8], node[254], what[320];
	int rfd, wfd;
	atomic_bool failed;
	struct metric *bytes; /* may be NULL */
};

static void transfer_unref(struct transfer *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (t->rfd >= 0)
		close(t->rfd);
	if (t->wfd >= 0)
		close(t->wfd);
	free(t);
}

static void *transfer_thread(void *arg)
{
	struct transfer *t = arg;
	int status = 0;
	char err[256] = "";
	int r = agent_recordings_fetch(&t->ep, t->id, t->kind, t->wfd, &status, err, sizeof(err));
	if (r < 0 || status != 200) {
		atomic_store(&t->failed, true);
		log_warn("recording transfer from the agent failed", "recording", t->what, "node",
			 t->node, "status", LOG_INT(status), "reason",
			 r < 0 ? err : "agent status");
	}
	close(t->wfd);
	t->wfd = -1;
	transfer_unref(t);
	return NULL;
}

static long transfer_read(void *ctx, char *buf, size_t max)
{
	struct transfer *t = ctx;
	for (;;) {
		ssize_t n = read(t->rfd, buf, max);
		if (n > 0) {
			if (t->bytes)
				metric_add(t->bytes, NULL, (double)n);
			return n;
		}
		if (n == 0)
			return atomic_load(&t->failed) ? HTTPD_STREAM_ABORT : -1;
		if (errno != EINTR)
			return HTTPD_STREAM_ABORT;
	}
}

static void transfer_free(void *ctx)
{
	struct transfer *t = ctx;
	close(t->rfd); /* an auditor who went away: the fetch thread's next write fails */
	t->rfd = -1;
	transfer_unref(t);
}

/* The agent's JSON summary of a recording (small), through a memory file. */
static int fetch_summary(const struct agent_recordings_ep *ep, const char *id, json_t **ret,
			 int *ret_status, char *err, size_t size)
{
	_cleanup_close_ int fd = memfd_create("bulwark-recording-summary", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = agent_recordings_fetch(ep, id, NULL, fd, ret_status, err, size);
	if (r < 0)
		return r;
	if (*ret_status != 200)
		return 0;
	off_t len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len > (off_t)SUMMARY_MAX_BYTES) {
		snprintf(err, size, "the agent's summary has %lld bytes", (long long)len);
		return -EBADMSG;
	}
	_cleanup_free_ char *data = malloc((size_t)len);
	if (!data)
		return -ENOMEM;
	if (pread(fd, data, (size_t)len, 0) != len)
		return -EIO;
	json_error_t je;
	*ret = json_loadb(data, (size_t)len, 0, &je);
	if (!json_is_object(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		snprintf(err, size, "the agent's summary is not a JSON object: %s", je.text);
		return -EBADMSG;
	}
	return 0;
}

/* ---- the handler ---------------------------------------------------------------------------- */

struct api {
	struct controller *c;
	struct requestheader_reload *trust;
	struct recordings_api_metrics m;
};

static int on_discovery(const struct recordings_path *rp, struct httpd_response *resp)
{
	switch (rp->kind) {
	case RECORDINGS_PATH_GROUP_LIST:
		return respond_json(resp, 200, recordings_api_group_list());
	case RECORDINGS_PATH_GROUP: return respond_json(resp, 200, recordings_api_group());
	default: return respond_json(resp, 200, recordings_api_resources());
	}
}

/* Where the recording of ExecSession ns/name is: its node and recording id, with the object
 * (for the summary). 0, or a response already written. */
static int find_session(struct api *a, const struct recordings_path *rp, json_t **ret_session,
			const char **ret_node, const char **ret_id, struct httpd_response *resp)
{
	json_t *es = NULL;
	struct kube_status st = {0};
	int r = kube_get(a->c->client, &BULWARK_RES_EXECSESSIONS, rp->namespace, rp->name, &es,
			 &st);
	if (r == -ENOENT)
		return respond_status(resp, 404, "NotFound",
				      "execsessions.bulwark.dev \"%s\" not found in namespace %s",
				      rp->name, rp->namespace)
			       ?: 1;
	if (r < 0)
		return respond_status(resp, 503, "ServiceUnavailable",
				      "cannot read ExecSession %s/%s: %s", rp->namespace, rp->name,
				      st.message[0] ? st.message : strerror(-r))
			       ?: 1;
	const char *id = json_string_value(json_object_get(
		json_object_get(json_object_get(es, "metadata"), "annotations"), RECORDING_ANNOT));
	const char *node = json_string_value(json_object_get(json_object_get(es, "spec"), "node"));
	if (!id || !node || !*node) {
		const char *phase =
			json_string_value(json_object_get(json_object_get(es, "status"), "phase"));
		json_decref(es);
		return respond_status(resp, 404, "NotFound",
				      "ExecSession %s/%s has no recording (phase %s): no agent "
				      "recorded it yet",
				      rp->namespace, rp->name, phase ? phase : "unset")
			       ?: 1;
	}
	*ret_session = es;
	*ret_node = node;
	*ret_id = id;
	return 0;
}

/* The recording must be of this namespace: the agent read it from the .cast header it wrote,
 * so an ExecSession annotation pointing at another namespace's recording reads nothing. */
static bool summary_matches(const json_t *summary, const struct recordings_path *rp)
{
	const char *ns = json_string_value(
		json_object_get(json_object_get(summary, "kubernetes"), "namespace"));
	return ns && strcmp(ns, rp->namespace) == 0;
}

static json_t *recording_object(const struct recordings_path *rp, const json_t *es,
				const char *node, const char *id, const json_t *summary)
{
	const json_t *status = json_object_get(es, "status");
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:O?,s:O?,s:O?}", "apiVersion",
			      GROUP_VERSION, "kind", "Recording", "metadata", "name", rp->name,
			      "namespace", rp->namespace, "node", node, "recordingID", id,
			      "complete", json_object_get(summary, "complete"), "files",
			      json_object_get(summary, "files"), "kubernetes",
			      json_object_get(summary, "kubernetes"));
	if (o && json_is_object(status)) {
		json_t *keep = json_object_get(status, "digest");
		if (keep)
			json_object_set(o, "digest", keep);
		if ((keep = json_object_get(status, "phase")))
			json_object_set(o, "phase", keep);
	}
	return o;
}

static int on_recording(struct api *a, const struct recordings_path *rp,
			const struct requestheader_user *user, struct httpd_response *resp)
{
	json_auto_t *es = NULL;
	const char *node, *id;
	int r = find_session(a, rp, &es, &node, &id, resp);
	if (r != 0)
		return r < 0 ? r : 0;
	struct agent_recordings_ep ep;
	if (!a->c->agent_recordings || agent_recordings_get(a->c->agent_recordings, node, &ep) < 0)
		return respond_status(resp, 503, "ServiceUnavailable",
				      "the agent of node %s is not connected to this controller "
				      "(it is down, or this replica is not the leader); try again",
				      node);
	json_auto_t *summary = NULL;
	int status = 0;
	char err[256] = "";
	r = fetch_summary(&ep, id, &summary, &status, err, sizeof(err));
	if (r < 0)
		return respond_status(resp, 503, "ServiceUnavailable",
				      "cannot reach the agent of node %s: %s", node, err);
	if (status == 404)
		return respond_status(
			resp, 404, "NotFound",
			"recording %s of ExecSession %s/%s is not on node %s (removed "
			"by retention?)",
			id, rp->namespace, rp->name, node);
	if (status != 200)
		return respond_status(resp, 503, "ServiceUnavailable",
				      "the agent of node %s answered %d", node, status);
	if (!summary_matches(summary, rp)) {
		log_warn("ExecSession names a recording of another namespace", "execsession",
			 rp->name, "namespace", rp->namespace, "recording", id, "node", node);
		return respond_status(resp, 403, "Forbidden",
				      "recording %s does not belong to namespace %s", id,
				      rp->namespace);
	}
	log_info(0, "recording read", "user", user->name, "groups", user->groups, "namespace",
		 rp->namespace, "execsession", rp->name, "part",
		 rp->subresource[0] ? rp->subresource : "summary", "node", node, "recording", id);
	if (!rp->subresource[0])
		return respond_json(resp, 200, recording_object(rp, es, node, id, summary));

	struct transfer *t = calloc(1, sizeof(*t));
	int fds[2];
	if (!t)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(t);
		return -errno;
	}
	*t = (struct transfer){
		.refs = 2, .ep = ep, .rfd = fds[0], .wfd = fds[1], .bytes = a->m.bytes};
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->kind, sizeof(t->kind), "%s", rp->subresource);
	snprintf(t->node, sizeof(t->node), "%s", node);
	snprintf(t->what, sizeof(t->what), "%s/%s", rp->namespace, rp->name);
	pthread_t tid;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&tid, &attr, transfer_thread, t);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		t->refs = 1;
		transfer_unref(t);
		return r;
	}
	resp->content_type = strcmp(rp->subresource, "cast") == 0 ? "application/x-asciicast"
								  : "application/x-ndjson";
	resp->stream =
		(struct httpd_stream){.read = transfer_read, .free_ctx = transfer_free, .ctx = t};
	return 0;
}

/* Authenticates, then answers; the caller counts the answer. */
static int serve(struct api *a, const struct httpd_request *req, const struct recordings_path *rp,
		 int parsed, const struct field_error *fe, struct httpd_response *resp)
{
	bool recording = parsed == 0 && rp->kind == RECORDINGS_PATH_RECORDING;
	struct requestheader_user user;
	char msg[512];
	/* Authentication first, so nobody but the front proxy learns even which paths exist.
	 * The request keeps the trust generation it started with while a reload swaps. */
	struct requestheader_trust *t = requestheader_reload_current(a->trust);
	int r = requestheader_authenticate(t, req, recording, &user, msg, sizeof(msg));
	bool no_trust = !t;
	requestheader_trust_unref(t);
	if (r < 0) {
		/* A certificate refused may be one of a CA the API server has just rotated to,
		 * and a deleted ConfigMap may be back: re-read it soon (rate-limited). */
		if (r == -EKEYREJECTED || no_trust)
			requestheader_reload_trigger(a->trust);
		log_warn("recordings API request refused", "path", httpd_request_path(req),
			 "reason", msg);
		return respond_status(resp, 401, "Unauthorized", "%s", msg);
	}
	if (parsed == -ENOENT)
		return respond_status(resp, 404, "NotFound", "the server could not find %s",
				      httpd_request_path(req));
	if (parsed < 0)
		return respond_status(resp, 400, "BadRequest", "%s: %s", fe->field, fe->reason);
	if (strcmp(httpd_request_method(req), "GET") != 0)
		return respond_status(resp, 405, "MethodNotAllowed",
				      "%s is not supported: recordings are read-only (get)",
				      httpd_request_method(req));
	return recording ? on_recording(a, rp, &user, resp) : on_discovery(rp, resp);
}

static int on_request(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct api *a = ud;
	struct recordings_path rp;
	struct field_error fe = {0};
	int parsed = recordings_path_parse(httpd_request_path(req), &rp, &fe);
	int r = serve(a, req, &rp, parsed, &fe, resp);
	const char *sub = NULL;
	if (parsed == 0)
		sub = rp.kind != RECORDINGS_PATH_RECORDING ? "discovery"
		      : rp.subresource[0]		   ? rp.subresource
							   : "summary";
	/* What httpd sends: a failed handler without a status is a 500. */
	int code = resp->status ? resp->status : 200;
	if (r < 0 && (code < 400 || code > 599))
		code = 500;
	recordings_api_count_request(&a->m, sub, code);
	return r;
}

/* ---- metrics -------------------------------------------------------------------------------- */

int recordings_api_metrics_register(struct metrics_registry *r, struct recordings_api_metrics *ret)
{
	static const char *const request_labels[] = {"subresource", "code", NULL};
	static const char *const result[] = {"result", NULL};
	struct recordings_api_metrics m = {
		.requests =
			metrics_register(r, METRIC_COUNTER, "bulwark_recordings_api_requests_total",
					 "Recordings API requests by subresource and HTTP status.",
					 request_labels, NULL, 0),
		.bytes = metrics_register(
			r, METRIC_COUNTER, "bulwark_recordings_api_bytes_total",
			"Recording bytes (cast, log, chain) streamed to auditors.", NULL, NULL, 0),
		.trust_reloads = metrics_register(
			r, METRIC_COUNTER, "bulwark_recordings_api_trust_reloads_total",
			"Reads of the front-proxy trust ConfigMap by result (ok: read, changed or "
			"not; error: unreadable or malformed, the previous trust kept, or "
			"deleted).",
			result, NULL, 0),
	};
	if (!m.requests || !m.bytes || !m.trust_reloads)
		return -ENOMEM;
	/* Series that exist from the start, at zero, so rate() and alerts see the first
	 * increment. */
	int err = metric_add(m.bytes, NULL, 0);
	err = err ?: metric_add(m.trust_reloads, (const char *const[]){"ok"}, 0);
	err = err ?: metric_add(m.trust_reloads, (const char *const[]){"error"}, 0);
	if (err < 0)
		return err;
	*ret = m;
	return 0;
}

void recordings_api_count_request(const struct recordings_api_metrics *m, const char *subresource,
				  int code)
{
	if (!m->requests)
		return;
	char status[16];
	snprintf(status, sizeof(status), "%d", code);
	metric_add(m->requests, (const char *const[]){subresource ? subresource : "other", status},
		   1);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

struct recordings_api {
	struct api api;
	struct httpd *server;
};

static int fetch_configmap(void *ud, json_t **ret, struct field_error *err)
{
	struct controller *c = ud;
	return requestheader_configmap_get(c->client, ret, err);
}

int recordings_api_start(struct controller *c, struct recordings_api **ret)
{
	struct requestheader_reload_options trust = {.fetch = fetch_configmap, .userdata = c};
	return recordings_api_start_with(c, &trust, ret);
}

uint16_t recordings_api_port(const struct recordings_api *ra)
{
	return httpd_port(ra->server);
}

int recordings_api_start_with(struct controller *c,
			      const struct requestheader_reload_options *trust,
			      struct recordings_api **ret)
{
	struct recordings_api *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -ENOMEM;
	ra->api.c = c;
	int r = recordings_api_metrics_register(c->registry, &ra->api.m);
	if (r < 0) {
		log_error(r, "cannot register the recordings API metrics");
		goto fail;
	}
	struct field_error fe = {0};
	struct requestheader_reload_options ro = *trust;
	ro.reloads = ra->api.m.trust_reloads;
	if ((r = requestheader_reload_new(&ro, &ra->api.trust, &fe)) < 0) {
		log_error(r, "cannot serve the recordings API: no front-proxy trust", "field",
			  fe.field, "reason", fe.reason);
		goto fail;
	}
	struct requestheader_trust *t = requestheader_reload_current(ra->api.trust);
	const struct requestheader_config *rh = requestheader_trust_config(t);
	/* The CAs at start only make GnuTLS ask for a certificate and name these CAs in the
	 * request; the API server's client (client-go) sends its certificate whatever the names,
	 * and serve() verifies it against the current generation, so a rotated CA needs no new
	 * listener. */
	struct httpd_config hc = {
		.address = c->cfg.api_address,
		.port = c->cfg.api_port,
		.cert_file = c->cfg.tls_cert,
		.key_file = c->cfg.tls_key,
		.client_ca_pem = rh->client_ca_pem,
		.max_body = 64 << 10, /* reads only */
		.timeout_s = 60,      /* a slow auditor's download */
		.max_connections = 256,
		.threading = HTTPD_THREAD_PER_CONNECTION, /* a transfer blocks on its agent */
	};
	size_t n_names = rh->n_allowed_names, n_cas = requestheader_trust_n_cas(t);
	r = httpd_new(&hc, &ra->server); /* copies the CA bundle */
	requestheader_trust_unref(t);
	if (r < 0 || (r = httpd_route(ra->server, NULL, "/apis*", on_request, &ra->api)) < 0 ||
	    (r = httpd_start(ra->server)) < 0) {
		log_error(r, "cannot serve the recordings API", "address", c->cfg.api_address,
			  "port", LOG_INT(c->cfg.api_port));
		goto fail;
	}
	if ((r = requestheader_reload_start(ra->api.trust)) < 0) {
		log_error(r, "cannot start reloading the front-proxy trust");
		goto fail;
	}
	log_info(0, "serving the recordings API", "address", c->cfg.api_address, "port",
		 LOG_INT(httpd_port(ra->server)), "group", GROUP_VERSION, "front_proxy_cas",
		 LOG_INT(n_cas), "front_proxy_names", LOG_INT(n_names));
	*ret = ra;
	return 0;
fail:
	recordings_api_free(ra);
	return r;
}

struct recordings_api *recordings_api_free(struct recordings_api *ra)
{
	if (!ra)
		return NULL;
	/* The server first: its handlers use the trust. */
	httpd_free(ra->server);
	requestheader_reload_free(ra->api.trust);
	free(ra);
	return NULL;
}
