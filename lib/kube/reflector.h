/* A reflector keeps a local copy of one resource in step with the apiserver, as client-go's
 * Reflector: LIST (paged), then WATCH from the list's resourceVersion with bookmarks, and
 * forever after:
 *   - every event's resourceVersion (BOOKMARKs included) becomes the resume point;
 *   - a watch that ends normally (the server's randomised timeoutSeconds, 5–10 min) is
 *     re-opened from the last resourceVersion, at once: no event is missed or repeated;
 *   - 410 Gone (as the HTTP status or an ERROR event), a line over the size cap, or a cache
 *     update that fails → relist, and the relist replaces the cache (deletions that
 *     happened meanwhile are delivered by the informer's replace);
 *   - 429, 5xx, connection errors, timeouts → retry the same step after a backoff with
 *     decorrelated jitter (1 s … 30 s), reset by the first successful event or list.
 *
 * Many reflectors share one kube_loop (one thread, one curl multi handle; HTTP/2 multiplexes
 * their watches over one connection when the server offers it).
 *
 * Output: the informer cache (kube_informer_replace / kube_informer_apply), and/or callbacks
 * with the same meaning (for tools that print events). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "kube/client.h"
#include "kube/event.h"
#include "kube/informer.h"
#include "kube/loop.h"

struct kube_reflector_callbacks {
	/* A relist completed: items is the whole collection (borrowed). */
	void (*on_replace)(json_t *items, const char *resource_version, void *userdata);
	/* A watch event (not ERROR) that was applied. obj is borrowed. */
	void (*on_event)(enum kube_event_type type, json_t *obj, void *userdata);
};

struct kube_reflector_options {
	const struct kube_resource *resource;
	const char *namespace; /* NULL: all namespaces (or cluster-scoped) */
	const char *label_selector;
	const char *field_selector;
	struct kube_informer *informer; /* may be NULL when callbacks are given */
	struct kube_reflector_callbacks callbacks;
	void *userdata;
	/* Optional: called on every listed or watched object (not bookmarks or errors) before
	 * it is cached or passed on, while it is still the reflector's alone, so it may modify
	 * it in place: a controller drops the fields it never reads (managedFields, most of a
	 * pod's spec), which is most of a cache's memory. A negative return skips the object. */
	int (*transform)(json_t *obj, void *userdata);
	unsigned watch_timeout_min_s; /* default 300 */
	unsigned watch_timeout_max_s; /* default 600 */
	unsigned page_size;	      /* default 500 */
	size_t max_line;	      /* one watch event; default 16 MiB */
	size_t max_list_items;	      /* default 1,000,000 */
	uint64_t backoff_base_ms;     /* default 1000 */
	uint64_t backoff_cap_ms;      /* default 30000 */
};

struct kube_reflector_stats {
	unsigned long lists;	   /* completed relists */
	unsigned long watches;	   /* watch requests started */
	unsigned long events;	   /* watch events applied (bookmarks included) */
	unsigned long gone;	   /* 410s seen */
	unsigned long errors;	   /* failed lists/watches that were retried after a backoff */
	unsigned long skipped;	   /* malformed stream lines or unusable objects */
	char resource_version[64]; /* the resume point */
	int last_error;		   /* negative errno of the last failure, 0 if none */
};

struct kube_reflector;

/* Strings in opts are copied; client, loop and informer are borrowed and must outlive the
 * reflector. Does not start anything. 0, -EINVAL, -ENOMEM. */
int kube_reflector_new(struct kube_loop *loop, struct kube_client *client,
		       const struct kube_reflector_options *opts, struct kube_reflector **ret);
/* Loop thread (or before the loop runs): begins with a LIST. 0 or -EALREADY. */
int kube_reflector_start(struct kube_reflector *r);
/* Loop thread, or after the loop stopped: aborts the transfer, cancels timers. Accepts NULL;
 * returns NULL. */
struct kube_reflector *kube_reflector_free(struct kube_reflector *r);

/* Loop thread: a snapshot of the counters. */
void kube_reflector_get_stats(const struct kube_reflector *r, struct kube_reflector_stats *ret);
