/* A Kubernetes API client over libcurl: resource addressing, the verbs on json_t objects,
 * metav1.Status errors mapped to negative errno (table in kube/status.h).
 *
 * TLS verification is always on: the CA from the config (or the system store), client
 * certificate and key passed to curl as in-memory blobs, never written to disk. Every request
 * has a timeout. Request and response bodies are capped (options.max_body).
 *
 * Retries: the client retries only a 401 once after re-reading a token file (bound
 * service-account tokens rotate). Everything else is returned: a caller retries -ESTALE
 * (409 Conflict) by re-reading and re-applying its change, and transient errors
 * (kube_errno_is_transient()) with backoff (kube/backoff.h).
 *
 * Thread-safety: a struct kube_client may be used from any number of threads at once. Each
 * request borrows an easy handle from a small mutex-guarded pool (connections are reused per
 * handle); DNS and TLS sessions are shared between handles through a locked curl share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "kube/config.h"
#include "kube/status.h"

/* A resource type: group "" is the core API (/api/v1), anything else /apis/<group>/<ver>. */
struct kube_resource {
	const char *group;
	const char *version;
	const char *plural;
	bool namespaced;
};

extern const struct kube_resource KUBE_RES_CONFIGMAPS;
extern const struct kube_resource KUBE_RES_PODS;
extern const struct kube_resource KUBE_RES_NAMESPACES;
extern const struct kube_resource KUBE_RES_NODES;
extern const struct kube_resource KUBE_RES_LEASES;

struct kube_client_options {
	long timeout_ms;	 /* per request (not watches); default 30 s */
	long connect_timeout_ms; /* default 10 s */
	size_t max_body;	 /* response body cap; default 64 MiB (a list page) */
	const char *user_agent;	 /* default "bulwark/<version>" */
};

struct kube_client;

/* cfg is borrowed and must outlive the client. 0, -ENOMEM, or -EIO when curl cannot be set up. */
int kube_client_new(struct kube_config *cfg, const struct kube_client_options *opts,
		    struct kube_client **ret);
struct kube_client *kube_client_free(struct kube_client *c);
struct kube_config *kube_client_config(struct kube_client *c);

/* Query parameters; NULL / 0 members are left out. */
struct kube_query {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;
	const char *resource_version_match; /* "NotOlderThan", "Exact" */
	const char *continue_token;
	unsigned limit;
	bool watch;
	bool allow_bookmarks;
	unsigned timeout_seconds;
	const char *field_manager;
	bool force;
};

/* The URL of a resource, collection or subresource. ns NULL (or "") for a namespaced
 * resource means all namespaces (collections only); name NULL for the collection;
 * subresource NULL or "status", "scale", ... Path segments and query values are
 * percent-encoded. 0, -EINVAL (a name without a namespace for a namespaced resource, a
 * namespace for a cluster-scoped one, an empty segment), -ENOMEM. */
int kube_url_build(const char *server, const struct kube_resource *res, const char *ns,
		   const char *name, const char *subresource, const struct kube_query *q,
		   char **ret);

/* ---- verbs: st (may be NULL) receives the Status on failure ------------------------------- */

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, json_t **ret, struct kube_status *st);

struct kube_list_options {
	const char *label_selector;
	const char *field_selector;
	unsigned page_size; /* default 500 */
	size_t max_items;   /* default 1,000,000: -E2BIG beyond */
};
/* Every page of a list: the items (a new JSON array) and the list's resourceVersion (to start
 * a watch from; free()). A continue token that expired mid-way returns -EIDRM: relist. */
int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_options *opts, json_t **ret_items, char **ret_rv,
	      struct kube_status *st);

/* POST. ret (may be NULL) receives the created object. -EEXIST when the name is taken. */
int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const json_t *obj, json_t **ret, struct kube_status *st);
/* PUT of obj to its own name; obj must carry metadata.resourceVersion (optimistic
 * concurrency; -EINVAL without one): -ESTALE when someone else changed it first. */
int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const json_t *obj, json_t **ret, struct kube_status *st);
/* As kube_update() on the status subresource. */
int kube_update_status(struct kube_client *c, const struct kube_resource *res, const char *ns,
		       const json_t *obj, json_t **ret, struct kube_status *st);
/* JSON merge patch (RFC 7386). */
int kube_patch_merge(struct kube_client *c, const struct kube_resource *res, const char *ns,
		     const char *name, const json_t *patch, json_t **ret, struct kube_status *st);
/* Server-side apply of obj (a full intent, with apiVersion/kind/metadata.name) as
 * field_manager; force takes over fields owned by other managers. */
int kube_apply(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const json_t *obj, const char *field_manager, bool force, json_t **ret,
	       struct kube_status *st);

/* Optional preconditions: the delete happens only if the object still has this uid /
 * resourceVersion (else -ESTALE). propagation: NULL, "Foreground", "Background", "Orphan". */
struct kube_delete_options {
	const char *uid;
	const char *resource_version;
	const char *propagation;
};
int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const struct kube_delete_options *opts, struct kube_status *st);

/* The raw request under every verb: method, a full URL, an optional body and content type.
 * ret (may be NULL) receives the parsed 2xx body. */
int kube_request(struct kube_client *c, const char *method, const char *url,
		 const char *content_type, const json_t *body, json_t **ret,
		 struct kube_status *st);

/* ---- for streaming users (the reflector) ---------------------------------------------------- */

/* Configures an easy handle the caller owns for a GET of url with TLS, credentials,
 * connect timeout and user agent; *ret_headers must be freed (curl_slist_free_all) after the
 * transfer. The caller sets the write callback and the overall timeout. */
int kube_client_prepare_handle(struct kube_client *c, CURL *h, const char *url,
			       struct curl_slist **ret_headers);

/* CURLcode → negative errno (see kube/status.h). */
int kube_curl_errno(CURLcode code);
