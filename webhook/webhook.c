/* Reviews per route, their metrics, and the HTTP wiring (see webhook.h). */
#include "webhook/webhook.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "daemon/health.h"
#include "httpd.h"
#include "kube/informer.h"
#include "log.h"
#include "metrics.h"
#include "policy/policy.h"
#include "recording/cast.h"

static const char *const route_paths[WEBHOOK_ROUTE_COUNT] = {
	[WEBHOOK_MUTATE_PODS] = "/mutate-pods",
	[WEBHOOK_VALIDATE_PODS] = "/validate-pods",
	[WEBHOOK_VALIDATE_POLICIES] = "/validate-policies",
	[WEBHOOK_EXEC] = "/exec",
	[WEBHOOK_ALLOW_ALL] = "/allow-all",
};
static const char *const route_names[WEBHOOK_ROUTE_COUNT] = {
	[WEBHOOK_MUTATE_PODS] = "mutate_pods",
	[WEBHOOK_VALIDATE_PODS] = "validate_pods",
	[WEBHOOK_VALIDATE_POLICIES] = "validate_policies",
	[WEBHOOK_EXEC] = "exec",
	[WEBHOOK_ALLOW_ALL] = "allow_all",
};

const char *webhook_route_path(enum webhook_route route)
{
	return (unsigned)route < WEBHOOK_ROUTE_COUNT ? route_paths[route] : NULL;
}

/* Fine resolution where the reviews live (tens to hundreds of microseconds), up to the
 * apiserver's 10 s webhook timeout: the benchmark reads quantiles from these buckets. */
static const double latency_buckets[] = {10e-6,	 20e-6,	 30e-6,	 50e-6,	 75e-6,	 100e-6, 150e-6,
					 200e-6, 300e-6, 400e-6, 500e-6, 750e-6, 1e-3,	 1.5e-3,
					 2e-3,	 3e-3,	 5e-3,	 7.5e-3, 10e-3,	 25e-3,	 50e-3,
					 100e-3, 250e-3, 500e-3, 1,	 2.5,	 5,	 10};

static void cache_free(void *cache)
{
	policy_cache_free(cache);
}

int webhook_init(struct webhook *w)
{
	*w = (struct webhook){.io = webhook_exec_io_kube};
	w->metrics = metrics_registry_new();
	if (!w->metrics)
		return -ENOMEM;
	static const char *const latency_labels[] = {"operation", "result", NULL};
	static const char *const review_labels[] = {"kind", "result", NULL};
	static const char *const session_labels[] = {"result", NULL};
	w->latency = metrics_register(
		w->metrics, METRIC_HISTOGRAM, "bulwark_webhook_admission_duration_seconds",
		"Time from a complete request body to the encoded answer, by route and result "
		"(allowed, patched, denied, invalid).",
		latency_labels, latency_buckets, ARRAY_SIZE(latency_buckets));
	w->reviews = metrics_register(w->metrics, METRIC_COUNTER, "bulwark_webhook_reviews_total",
				      "Admission reviews by the request's kind and the result.",
				      review_labels, NULL, 0);
	w->sessions = metrics_register(
		w->metrics, METRIC_COUNTER, "bulwark_webhook_exec_sessions_total",
		"ExecSessions the exec route created (created) or failed to create (failed).",
		session_labels, NULL, 0);
	if (!w->latency || !w->reviews || !w->sessions) {
		webhook_done(w);
		return -ENOMEM;
	}
	if (pthread_key_create(&w->cache_key, cache_free) != 0) {
		webhook_done(w);
		return -ENOMEM;
	}
	w->cache_key_set = true;
	return 0;
}

void webhook_done(struct webhook *w)
{
	if (w->cache_key_set) {
		/* The calling thread's cache; pool threads free theirs as they exit. */
		policy_cache_free(pthread_getspecific(w->cache_key));
		pthread_setspecific(w->cache_key, NULL);
		pthread_key_delete(w->cache_key);
		w->cache_key_set = false;
	}
	w->metrics = metrics_registry_free(w->metrics);
}

/* This thread's compile cache: pods of one workload compile once per thread. NULL (compile
 * without a cache) when it cannot be made. */
static struct policy_cache *thread_cache(struct webhook *w)
{
	struct policy_cache *c = pthread_getspecific(w->cache_key);
	if (!c && policy_cache_new(256, &c) == 0 && pthread_setspecific(w->cache_key, c) != 0)
		c = policy_cache_free(c);
	return c;
}

/* A review sent to the wrong route: the webhook configuration's rules are wrong. Denied, so
 * the mistake is visible instead of silently unenforced. */
static void deny_misrouted(struct admission_response *resp, const struct admission_request *req,
			   enum webhook_route route)
{
	admission_deny(resp, 400, "BadRequest",
		       "bulwark-webhook %s does not review %s %s%s%s (%s/%s %s); fix the webhook "
		       "configuration's rules",
		       route_paths[route], req->operation, req->resource,
		       *req->sub_resource ? "/" : "", req->sub_resource, req->group, req->version,
		       req->kind);
}

static void review_mutate_pods(struct webhook *w, const struct admission_request *req,
			       struct admission_response *resp, json_t *warnings,
			       json_t **ret_patch)
{
	if (strcmp(req->resource, "pods") != 0 || *req->sub_resource || *req->group) {
		deny_misrouted(resp, req, WEBHOOK_MUTATE_PODS);
		return;
	}
	/* Only creation binds profiles: containers and their commands are immutable after. */
	if (strcmp(req->operation, "CREATE") != 0) {
		resp->allowed = true;
		return;
	}
	const char *ns = req->namespace;
	if (!ns)
		ns = json_string_value(
			json_object_get(json_object_get(req->object, "metadata"), "namespace"));
	json_auto_t *policies = policy_store_namespace(w->policies, ns);
	if (!policies) {
		admission_deny(resp, 500, "InternalError", "out of memory");
		return;
	}
	size_t n = json_array_size(policies);
	_cleanup_free_ json_t **items = n ? calloc(n, sizeof(*items)) : NULL;
	if (n && !items) {
		admission_deny(resp, 500, "InternalError", "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(policies, i);
	struct field_error err = {0};
	int r = mutate_pod(&w->mutate, thread_cache(w), req->object, ns, items, n, ret_patch,
			   warnings, &err);
	if (r == -ENOMEM) {
		admission_deny(resp, 500, "InternalError", "out of memory");
		return;
	}
	if (r < 0) {
		char msg[800];
		admission_deny(resp, r == -EPERM ? 403 : 422, r == -EPERM ? "Forbidden" : "Invalid",
			       "bulwark: %s", field_error_str(&err, msg, sizeof(msg)));
		return;
	}
	resp->allowed = true;
	resp->patch = *ret_patch;
}

static void review_validate_pods(struct webhook *w, const struct admission_request *req,
				 struct admission_response *resp, json_t *warnings)
{
	bool ephemeral = strcmp(req->sub_resource, "ephemeralcontainers") == 0;
	if (strcmp(req->resource, "pods") != 0 || (*req->sub_resource && !ephemeral) ||
	    *req->group) {
		deny_misrouted(resp, req, WEBHOOK_VALIDATE_PODS);
		return;
	}
	if (ephemeral) {
		if (w->informer && !kube_informer_synced(w->informer))
			admission_deny(
				resp, 503, "ServiceUnavailable",
				"bulwark-webhook is starting: BulwarkPolicies are not synced "
				"yet; retry");
		else
			webhook_review_ephemeral(w, req, resp, warnings);
		return;
	}
	struct field_error err = {0};
	if (strcmp(req->operation, "UPDATE") == 0 &&
	    mutate_check_update(req->old_object, req->object, &err) < 0) {
		char msg[800];
		admission_deny(resp, 403, "Forbidden", "bulwark: %s",
			       field_error_str(&err, msg, sizeof(msg)));
		return;
	}
	resp->allowed = true;
}

static void review_validate_policies(const struct admission_request *req,
				     struct admission_response *resp)
{
	if (strcmp(req->resource, "bulwarkpolicies") != 0 ||
	    strcmp(req->group, "bulwark.dev") != 0 || *req->sub_resource) {
		deny_misrouted(resp, req, WEBHOOK_VALIDATE_POLICIES);
		return;
	}
	if (strcmp(req->operation, "CREATE") != 0 && strcmp(req->operation, "UPDATE") != 0) {
		resp->allowed = true;
		return;
	}
	if (!req->object) {
		admission_deny(resp, 400, "BadRequest", "request.object: required for %s",
			       req->operation);
		return;
	}
	/* A manifest without metadata.namespace is created in the request's namespace. */
	json_auto_t *policy = json_incref((json_t *)req->object);
	const json_t *md = json_object_get(policy, "metadata");
	if (req->namespace && json_is_object(md) && !json_object_get(md, "namespace")) {
		json_decref(policy);
		policy = json_deep_copy(req->object);
		if (!policy || json_object_set_new(json_object_get(policy, "metadata"), "namespace",
						   json_string(req->namespace)) < 0) {
			admission_deny(resp, 500, "InternalError", "out of memory");
			return;
		}
	}
	struct field_error err = {0};
	int r = policy_validate(policy, &err);
	if (r == -ENOMEM) {
		admission_deny(resp, 500, "InternalError", "out of memory");
		return;
	}
	if (r < 0) {
		char msg[800];
		admission_deny(resp, 422, "Invalid", "%s", field_error_str(&err, msg, sizeof(msg)));
		return;
	}
	resp->allowed = true;
}

static double elapsed_s(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

static void observe(struct webhook *w, enum webhook_route route, const char *kind,
		    const char *result, const struct timespec *start)
{
	const char *lat[] = {route_names[route], result};
	const char *rev[] = {kind, result};
	metric_observe(w->latency, lat, elapsed_s(start));
	metric_add(w->reviews, rev, 1);
}

static int answer_error(struct buf *out, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int answer_error(struct buf *out, int status, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The message can quote the request (jansson's parse errors do) or be cut inside a
	 * character; a JSON string must be UTF-8, so invalid bytes become U+FFFD. */
	struct buf utf8 = BUF_INIT(4 * sizeof(msg));
	struct utf8_carry carry = {0};
	json_auto_t *body = utf8_sanitize(&carry, msg, strlen(msg), true, &utf8, NULL) == 0
				    ? json_pack("{s:s}", "error", buf_str(&utf8))
				    : NULL;
	buf_free(&utf8);
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	buf_reset(out);
	if (text)
		buf_append_str(out, text);
	return status;
}

int webhook_review(struct webhook *w, enum webhook_route route, const char *body, size_t len,
		   struct buf *out)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if ((unsigned)route >= WEBHOOK_ROUTE_COUNT)
		return answer_error(out, 404, "no such route");

	struct admission_request req;
	struct field_error err = {0};
	int r = admission_decode(body, len, &req, &err);
	if (r < 0) {
		char msg[800];
		field_error_str(&err, msg, sizeof(msg));
		observe(w, route, "invalid", "invalid", &start);
		log_info(2, "refused a malformed admission review", "route", route_paths[route],
			 "reason", msg);
		if (r == -EMSGSIZE)
			return answer_error(out, 413, "%s", msg);
		if (r == -ENOMEM)
			return answer_error(out, 500, "out of memory");
		return answer_error(out, 400, "not a valid AdmissionReview v1: %s", msg);
	}

	struct admission_response resp = {0};
	json_auto_t *warnings = json_array();
	json_auto_t *patch = NULL;
	/* Before the first policy list arrived, "no policy selects this pod" would be a guess:
	 * refuse (failurePolicy decides) rather than admit a pod unprotected. /readyz says the
	 * same, so a Service sends nothing here until then. */
	bool needs_policies = route == WEBHOOK_MUTATE_PODS || route == WEBHOOK_EXEC;
	char msg[800];
	if (req.object_error.field[0])
		admission_deny(&resp, 422, "Invalid", "%s",
			       field_error_str(&req.object_error, msg, sizeof(msg)));
	else if (needs_policies && w->informer && !kube_informer_synced(w->informer))
		admission_deny(
			&resp, 503, "ServiceUnavailable",
			"bulwark-webhook is starting: BulwarkPolicies are not synced yet; retry");
	else
		switch (route) {
		case WEBHOOK_MUTATE_PODS:
			review_mutate_pods(w, &req, &resp, warnings, &patch);
			break;
		case WEBHOOK_VALIDATE_PODS: review_validate_pods(w, &req, &resp, warnings); break;
		case WEBHOOK_VALIDATE_POLICIES: review_validate_policies(&req, &resp); break;
		case WEBHOOK_EXEC: webhook_review_exec(w, &req, &resp, warnings); break;
		case WEBHOOK_ALLOW_ALL:
		default: resp.allowed = true; break;
		}
	resp.warnings = warnings;

	buf_reset(out);
	r = admission_encode(req.uid, &resp, out);
	const char *result = !resp.allowed ? "denied" : resp.patch ? "patched" : "allowed";
	observe(w, route, req.kind, result, &start);
	if (!resp.allowed)
		log_info(1, "admission denied", "route", route_paths[route], "uid", req.uid, "kind",
			 req.kind, "namespace", req.namespace ? req.namespace : "", "name",
			 req.name ? req.name : "", "reason", resp.message);
	admission_request_done(&req);
	if (r < 0)
		return answer_error(out, 500, "cannot encode the answer: %s", strerror(-r));
	return 200;
}

/* ---- HTTP ----------------------------------------------------------------------------- */

struct route_ctx {
	struct webhook *w;
	enum webhook_route route;
};

static struct route_ctx route_ctxs[WEBHOOK_ROUTE_COUNT];
/* Like the route contexts: the one server of the process borrows it. */
static struct daemon_health health;

static int handle_review(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	const struct route_ctx *rc = ud;
	const char *ctype = httpd_request_header(req, "Content-Type");
	if (ctype && strncmp(ctype, "application/json", 16) != 0) {
		resp->status =
			answer_error(&resp->body, 415,
				     "Content-Type must be application/json, not %.64s", ctype);
		return 0;
	}
	size_t len;
	const char *body = httpd_request_body(req, &len);
	resp->status = webhook_review(rc->w, rc->route, body, len, &resp->body);
	return 0;
}

static bool ready(void *ud, char *reason, size_t size)
{
	struct webhook *w = ud;
	if (w->informer && !kube_informer_synced(w->informer)) {
		snprintf(reason, size, "waiting for the BulwarkPolicy informer to sync");
		return false;
	}
	return true;
}

static int policies_collector(struct buf *out, void *ud)
{
	struct webhook *w = ud;
	size_t valid = 0, invalid = 0;
	policy_store_counts(w->policies, &valid, &invalid);
	static const char *const labels[] = {"state", NULL};
	const char *v[] = {"valid"}, *i[] = {"invalid"};
	int r = metrics_write_header(out, "bulwark_webhook_policies",
				     "BulwarkPolicies the webhook knows, valid or not.", "gauge");
	if (r == 0)
		r = metrics_write_sample(out, "bulwark_webhook_policies", labels, v, (double)valid);
	if (r == 0)
		r = metrics_write_sample(out, "bulwark_webhook_policies", labels, i,
					 (double)invalid);
	return r;
}

int webhook_register(struct webhook *w, struct httpd *h, bool bench_routes)
{
	int r;
	for (int i = 0; i < WEBHOOK_ROUTE_COUNT; i++) {
		if (i == WEBHOOK_ALLOW_ALL && !bench_routes)
			continue;
		route_ctxs[i] = (struct route_ctx){.w = w, .route = i};
		if ((r = httpd_route(h, "POST", route_paths[i], handle_review, &route_ctxs[i])) < 0)
			return r;
	}
	if (w->policies && (r = metrics_add_collector(w->metrics, policies_collector, w)) < 0)
		return r;
	health = (struct daemon_health){.registry = w->metrics, .ready = ready, .userdata = w};
	return daemon_health_routes(h, &health);
}
