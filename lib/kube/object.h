/* Read-only accessors for Kubernetes objects held as json_t, and the cache key
 * "namespace/name" ("name" for cluster-scoped objects) that informers, workqueues and
 * controllers share, as client-go's MetaNamespaceKeyFunc does.
 *
 * Every accessor takes a borrowed object and returns a string or object borrowed from it,
 * valid as long as the caller holds a reference to obj. A missing or mistyped field reads
 * as NULL; none of these functions allocate. */
#pragma once

#include <stddef.h>

#include <jansson.h>

/* A namespace is a DNS label (<= 63), a name a DNS subdomain (<= 253), plus '/' and NUL. */
#define KUBE_KEY_MAX (63 + 1 + 253 + 1)

/* metadata.namespace, or NULL when absent or empty (a cluster-scoped object). */
const char *kube_object_namespace(const json_t *obj);
/* metadata.name, or NULL. */
const char *kube_object_name(const json_t *obj);
/* metadata.resourceVersion, or NULL. */
const char *kube_object_resource_version(const json_t *obj);
/* metadata.uid, or NULL. */
const char *kube_object_uid(const json_t *obj);
/* metadata.labels (a JSON object), or NULL. */
const json_t *kube_object_labels(const json_t *obj);
/* The value of one label, or NULL when the label is absent or not a string. */
const char *kube_object_label(const json_t *obj, const char *key);

/* "namespace/name", or "name" when the object has no namespace, into ret_key (size bytes).
 * 0; -EINVAL when obj is not an object or has no non-empty metadata.name, or when the
 * namespace or name contains '/'; -ENAMETOOLONG when the key does not fit (ret_key is
 * then untouched). A buffer of KUBE_KEY_MAX always fits a valid object. */
int kube_object_key(const json_t *obj, char *ret_key, size_t size);

/* Splits a key into its namespace (empty for a cluster-scoped key) and name, each into
 * a buffer of the given size. 0, -EINVAL for an empty key or one with more than one '/',
 * or -ENAMETOOLONG. */
int kube_key_split(const char *key, char *ret_namespace, size_t ns_size, char *ret_name,
		   size_t name_size);
