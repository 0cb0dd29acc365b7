/* LIST + WATCH into an informer; see reflector.h for the state machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "log.h"
#include "kube/backoff.h"
#include "kube/reflector.h"
#include "kube/status.h"
#include "kube/watch_stream.h"

#define ERROR_BODY_MAX	  (64u << 10)
#define LIST_TIMEOUT_MS	  60000L
#define WATCH_SLACK_S	  60
#define WATCH_MIN_HEALTHY 1000 /* a watch shorter than this with no event counts as failing */
#define DEFAULT_MAX_LINE  (16u << 20)
#define DEFAULT_PAGE_SIZE 500u
#define DEFAULT_MAX_ITEMS 1000000u
#define DEFAULT_LIST_BODY (64u << 20)

enum phase { PHASE_IDLE, PHASE_LISTING, PHASE_WATCHING, PHASE_WAITING };

struct kube_reflector {
	struct kube_loop *loop;
	struct kube_client *client;
	struct kube_reflector_options opts;
	char *ns, *label_selector, *field_selector;

	enum phase phase;
	CURL *h;
	struct curl_slist *hdrs;
	long http;
	int abort_err;	  /* why our write callback stopped the transfer */
	bool need_relist; /* the watch saw something only a relist repairs */
	uint64_t started_ms;
	unsigned long events_at_start;

	struct buf body; /* a list page, or the Status body of a failed watch */
	json_t *items;	 /* pages gathered so far */
	char *continue_token;
	char list_rv[64];

	struct kube_watch_stream stream;
	struct backoff backoff;
	uint64_t timer;
	struct kube_reflector_stats stats;
};

static void start_list(void *userdata);
static void start_watch(void *userdata);

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int on_watch_event(enum kube_event_type type, json_t *obj, void *userdata);

int kube_reflector_new(struct kube_loop *loop, struct kube_client *client,
		       const struct kube_reflector_options *opts, struct kube_reflector **ret)
{
	if (!loop || !client || !opts || !opts->resource ||
	    (!opts->informer && !opts->callbacks.on_event && !opts->callbacks.on_replace))
		return -EINVAL;
	struct kube_reflector *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->client = client;
	r->opts = *opts;
	if (dup_opt(&r->ns, opts->namespace) < 0 ||
	    dup_opt(&r->label_selector, opts->label_selector) < 0 ||
	    dup_opt(&r->field_selector, opts->field_selector) < 0) {
		kube_reflector_free(r);
		return -ENOMEM;
	}
	struct kube_reflector_options *o = &r->opts;
	o->namespace = r->ns;
	o->label_selector = r->label_selector;
	o->field_selector = r->field_selector;
	if (!o->watch_timeout_min_s)
		o->watch_timeout_min_s = 300;
	if (o->watch_timeout_max_s < o->watch_timeout_min_s)
		o->watch_timeout_max_s = o->watch_timeout_min_s * 2;
	if (!o->page_size)
		o->page_size = DEFAULT_PAGE_SIZE;
	if (!o->max_line)
		o->max_line = DEFAULT_MAX_LINE;
	if (!o->max_list_items)
		o->max_list_items = DEFAULT_MAX_ITEMS;
	r->backoff =
		BACKOFF_INIT(o->backoff_base_ms ? o->backoff_base_ms : 1000,
			     o->backoff_cap_ms ? o->backoff_cap_ms : 30000, BACKOFF_DECORRELATED);
	buf_init(&r->body, DEFAULT_LIST_BODY);
	kube_watch_stream_init(&r->stream, o->max_line, on_watch_event, r);
	*ret = r;
	return 0;
}

static void transfer_abort(struct kube_reflector *r)
{
	if (r->h) {
		kube_loop_remove_transfer(r->loop, r->h);
		curl_easy_cleanup(r->h);
		r->h = NULL;
	}
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
}

struct kube_reflector *kube_reflector_free(struct kube_reflector *r)
{
	if (!r)
		return NULL;
	transfer_abort(r);
	kube_loop_timer_cancel(r->loop, r->timer);
	json_decref(r->items);
	free(r->continue_token);
	buf_free(&r->body);
	kube_watch_stream_free(&r->stream);
	free(r->ns);
	free(r->label_selector);
	free(r->field_selector);
	free(r);
	return NULL;
}

void kube_reflector_get_stats(const struct kube_reflector *r, struct kube_reflector_stats *ret)
{
	*ret = r->stats;
}

static void set_rv(struct kube_reflector *r, const char *rv)
{
	if (rv && rv[0] && strlen(rv) < sizeof(r->stats.resource_version))
		snprintf(r->stats.resource_version, sizeof(r->stats.resource_version), "%s", rv);
}

/* Retries step after a jittered backoff; err is what failed. */
static void retry_later(struct kube_reflector *r, kube_loop_fn step, int err)
{
	uint64_t delay = backoff_next_ms(&r->backoff, NULL, NULL);
	r->stats.errors++;
	r->stats.last_error = err;
	r->phase = PHASE_WAITING;
	log_info(4, "kube reflector retrying", "resource", r->opts.resource->plural, "delay_ms",
		 LOG_INT(delay), "errno", LOG_INT(-err));
	r->timer = kube_loop_timer_add(r->loop, delay, step, r);
	if (!r->timer)
		/* Out of memory for a timer: try again now rather than stall forever. */
		kube_loop_post(r->loop, step, r);
}

static void on_done(CURL *h, CURLcode cc, void *userdata);

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct kube_reflector *r = userdata;
	if (!r->http)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->http);
	if (r->phase == PHASE_WATCHING && r->http == 200) {
		int e = kube_watch_stream_feed(&r->stream, p, n);
		if (e < 0) {
			r->abort_err = e;
			return 0;
		}
		return n;
	}
	if (buf_append(&r->body, p, n) < 0) {
		r->abort_err = -EMSGSIZE;
		return 0;
	}
	return n;
}

/* Opens a transfer of url; on failure schedules retry_step. */
static int begin_transfer(struct kube_reflector *r, const char *url, long timeout_ms)
{
	int e;
	r->http = 0;
	r->abort_err = 0;
	buf_reset(&r->body);
	r->h = curl_easy_init();
	if (!r->h)
		return -ENOMEM;
	e = kube_client_prepare_handle(r->client, r->h, url, &r->hdrs);
	if (e < 0)
		goto fail;
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	e = kube_loop_add_transfer(r->loop, r->h, on_done, r);
	if (e < 0)
		goto fail;
	r->started_ms = kube_loop_now_ms();
	return 0;
fail:
	curl_easy_cleanup(r->h);
	r->h = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	return e;
}

static void list_page(struct kube_reflector *r)
{
	struct kube_query q = {
		.label_selector = r->label_selector,
		.field_selector = r->field_selector,
		.limit = r->opts.page_size,
		.continue_token = r->continue_token,
	};
	_cleanup_free_ char *url = NULL;
	int e = kube_url_build(kube_client_config(r->client)->server, r->opts.resource, r->ns, NULL,
			       NULL, &q, &url);
	if (e == 0)
		e = begin_transfer(r, url, LIST_TIMEOUT_MS);
	if (e < 0)
		retry_later(r, start_list, e);
}

static void start_list(void *userdata)
{
	struct kube_reflector *r = userdata;
	r->timer = 0;
	r->phase = PHASE_LISTING;
	r->need_relist = false;
	json_decref(r->items);
	r->items = json_array();
	free(r->continue_token);
	r->continue_token = NULL;
	r->list_rv[0] = '\0';
	if (!r->items) {
		retry_later(r, start_list, -ENOMEM);
		return;
	}
	list_page(r);
}

static void start_watch(void *userdata)
{
	struct kube_reflector *r = userdata;
	r->timer = 0;
	r->phase = PHASE_WATCHING;
	unsigned span = r->opts.watch_timeout_max_s - r->opts.watch_timeout_min_s;
	unsigned timeout_s = r->opts.watch_timeout_min_s +
			     (span ? backoff_rand32_default(NULL) % (span + 1) : 0);
	struct kube_query q = {
		.label_selector = r->label_selector,
		.field_selector = r->field_selector,
		.resource_version = r->stats.resource_version,
		.watch = true,
		.allow_bookmarks = true,
		.timeout_seconds = timeout_s,
	};
	_cleanup_free_ char *url = NULL;
	kube_watch_stream_reset(&r->stream);
	r->events_at_start = r->stats.events;
	int e = kube_url_build(kube_client_config(r->client)->server, r->opts.resource, r->ns, NULL,
			       NULL, &q, &url);
	/* The server ends the watch after timeoutSeconds; the local timeout only catches a
	 * connection that died silently. */
	if (e == 0)
		e = begin_transfer(r, url, (long)(timeout_s + WATCH_SLACK_S) * 1000);
	if (e < 0) {
		retry_later(r, start_watch, e);
		return;
	}
	r->stats.watches++;
}

int kube_reflector_start(struct kube_reflector *r)
{
	if (r->phase != PHASE_IDLE)
		return -EALREADY;
	start_list(r);
	return 0;
}

static int on_watch_event(enum kube_event_type type, json_t *obj, void *userdata)
{
	struct kube_reflector *r = userdata;
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (type == KUBE_EVENT_ERROR) {
		struct kube_status st;
		kube_status_from_json(&st, 0, obj);
		if (st.code == 410) {
			r->stats.gone++;
			r->need_relist = true;
			return -EIDRM;
		}
		/* Any other error ends this watch; it is retried after a backoff. */
		return st.code ? kube_status_to_errno(st.code, st.reason) : -EPROTO;
	}
	if (r->opts.transform && type != KUBE_EVENT_BOOKMARK &&
	    r->opts.transform(obj, r->opts.userdata) < 0) {
		r->stats.skipped++;
		set_rv(r, rv);
		return 0;
	}
	if (r->opts.informer) {
		int e = kube_informer_apply(r->opts.informer, type, obj);
		if (e == -EINVAL) {
			/* An object without a usable key cannot be cached; skipping it only
			 * loses that object. */
			r->stats.skipped++;
		} else if (e < 0) {
			/* The cache no longer matches the stream: only a relist repairs it. */
			r->need_relist = true;
			return e;
		}
	}
	if (r->opts.callbacks.on_event)
		r->opts.callbacks.on_event(type, obj, r->opts.userdata);
	set_rv(r, rv);
	r->stats.events++;
	backoff_reset(&r->backoff);
	return 0;
}

/* opts.transform over a freshly parsed page, dropping the objects it refuses. */
static void transform_items(struct kube_reflector *r, json_t *items)
{
	if (!r->opts.transform)
		return;
	for (size_t i = 0; i < json_array_size(items);) {
		if (r->opts.transform(json_array_get(items, i), r->opts.userdata) < 0) {
			json_array_remove(items, i);
			r->stats.skipped++;
		} else {
			i++;
		}
	}
}

static void list_page_done(struct kube_reflector *r, CURLcode cc)
{
	json_error_t jerr;

	if (cc != CURLE_OK) {
		retry_later(r, start_list, r->abort_err ? r->abort_err : kube_curl_errno(cc));
		return;
	}
	json_t *page = json_loadb(buf_str(&r->body), r->body.len, 0, &jerr);
	buf_reset(&r->body);
	if (r->http != 200) {
		struct kube_status st;
		kube_status_from_json(&st, (int)r->http, page);
		json_decref(page);
		int e = kube_status_to_errno((int)r->http, st.reason);
		if (e == -EIDRM && r->continue_token) {
			/* The continue token expired between pages: start over at once. */
			r->stats.gone++;
			start_list(r);
			return;
		}
		retry_later(r, start_list, e ? e : -EPROTO);
		return;
	}
	json_t *md = json_object_get(page, "metadata");
	json_t *items = json_object_get(page, "items");
	const char *cont = json_string_value(json_object_get(md, "continue"));
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	int e = 0;
	if (!json_is_object(page) || (items && !json_is_array(items) && !json_is_null(items)))
		e = -EBADMSG;
	else if (json_array_size(r->items) + json_array_size(items) > r->opts.max_list_items)
		e = -E2BIG;
	if (e == 0 && json_is_array(items))
		transform_items(r, items);
	if (e == 0 && json_is_array(items) && json_array_extend(r->items, items) < 0)
		e = -ENOMEM;
	if (e == 0 && !r->list_rv[0] && rv) {
		if (strlen(rv) >= sizeof(r->list_rv))
			e = -EBADMSG;
		else
			snprintf(r->list_rv, sizeof(r->list_rv), "%s", rv);
	}
	free(r->continue_token);
	r->continue_token = cont && cont[0] ? strdup(cont) : NULL;
	if (e == 0 && cont && cont[0] && !r->continue_token)
		e = -ENOMEM;
	json_decref(page);
	if (e < 0) {
		retry_later(r, start_list, e);
		return;
	}
	if (r->continue_token) {
		list_page(r);
		return;
	}
	if (!r->list_rv[0]) {
		retry_later(r, start_list, -EBADMSG);
		return;
	}
	if (r->opts.informer) {
		e = kube_informer_replace(r->opts.informer, r->items, r->list_rv);
		if (e < 0) {
			retry_later(r, start_list, e);
			return;
		}
	}
	if (r->opts.callbacks.on_replace)
		r->opts.callbacks.on_replace(r->items, r->list_rv, r->opts.userdata);
	json_decref(r->items);
	r->items = NULL;
	set_rv(r, r->list_rv);
	r->stats.lists++;
	backoff_reset(&r->backoff);
	start_watch(r);
}

static void watch_done(struct kube_reflector *r, CURLcode cc)
{
	/* A partial line at the end is an event the server never finished sending; the resume
	 * point is the last complete one, so it will be sent again. */
	kube_watch_stream_finish(&r->stream);
	r->stats.skipped = r->stream.skipped;

	if (r->need_relist) {
		if (r->abort_err == -EIDRM) {
			start_list(r);
			return;
		}
		retry_later(r, start_list, r->abort_err ? r->abort_err : -EIO);
		return;
	}
	if (r->abort_err == -EMSGSIZE) {
		/* An event larger than the line cap is lost: the cache is no longer exact. */
		retry_later(r, start_list, -EMSGSIZE);
		return;
	}
	if (cc == CURLE_OK && r->http != 200) {
		struct kube_status st;
		json_error_t jerr;
		json_t *body = json_loadb(buf_str(&r->body), r->body.len, 0, &jerr);
		kube_status_from_json(&st, (int)r->http, body);
		json_decref(body);
		int e = kube_status_to_errno((int)r->http, st.reason);
		if (e == -EIDRM) {
			r->stats.gone++;
			start_list(r);
			return;
		}
		retry_later(r, start_watch, e ? e : -EPROTO);
		return;
	}
	if (cc != CURLE_OK) {
		retry_later(r, start_watch, r->abort_err ? r->abort_err : kube_curl_errno(cc));
		return;
	}
	/* A normal end (timeoutSeconds). One that ends at once without an event is a server
	 * that is not really serving: back off rather than spin. */
	if (r->stats.events == r->events_at_start &&
	    kube_loop_now_ms() - r->started_ms < WATCH_MIN_HEALTHY) {
		retry_later(r, start_watch, -ECONNRESET);
		return;
	}
	start_watch(r);
}

static void on_done(CURL *h, CURLcode cc, void *userdata)
{
	struct kube_reflector *r = userdata;
	if (!r->http)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->http);
	curl_easy_cleanup(h);
	r->h = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (r->http == 401) {
		/* A rotated token file: read it now, not when the cached copy ages out. */
		char *tok = NULL;
		if (kube_config_token(kube_client_config(r->client), 1, &tok) == 0)
			free(tok);
	}
	if (r->phase == PHASE_LISTING)
		list_page_done(r, cc);
	else
		watch_done(r, cc);
}
