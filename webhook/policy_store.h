/* The webhook's view of BulwarkPolicies: every valid policy, grouped by namespace, as an
 * informer sees them. Reviews run on many threads and read a snapshot; informer events (one
 * thread) update the set and mark the snapshot stale, and the next reader rebuilds it once,
 * so a relist of n policies costs O(n), not O(n^2).
 *
 * A policy that fails policy_validate() is left out (the controller reports it in the
 * policy's status); it never fails the admission of pods it would select. */
#pragma once

#include <stddef.h>

#include <jansson.h>

struct policy_store;
struct kube_informer;

int policy_store_new(struct policy_store **ret);
/* Accepts NULL; returns NULL. */
struct policy_store *policy_store_free(struct policy_store *s);

/* Adds or replaces a policy (validating it first), or removes one. 0 (an invalid policy is
 * dropped, and counted), -EINVAL for an object without namespace/name, -ENOMEM. */
int policy_store_put(struct policy_store *s, const json_t *policy);
int policy_store_remove(struct policy_store *s, const json_t *policy);

/* Feeds the store from an informer's events. 0 or -ENOMEM. */
int policy_store_attach(struct policy_store *s, struct kube_informer *inf);

/* A new reference to the array (possibly empty) of valid policies in namespace ns, or NULL on
 * ENOMEM. The elements are shared read-only. */
json_t *policy_store_namespace(struct policy_store *s, const char *ns);

void policy_store_counts(struct policy_store *s, size_t *ret_valid, size_t *ret_invalid);
