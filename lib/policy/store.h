/* The valid BulwarkPolicies, grouped by namespace: the one answer to "which policies may be
 * applied" that the controller and the webhook share. Each policy is validated once per
 * resourceVersion (policy_validate()), when an informer event brings it; readers on many
 * threads get a snapshot of a namespace, rebuilt once after a change, so a relist of n
 * policies costs O(n), not O(n^2).
 *
 * A policy that fails validation is left out of every snapshot (the controller reports it in
 * the policy's status, with the reason the store keeps); it never fails the admission or the
 * compile of the pods it would select. Thread-safe (one mutex). */
#pragma once

#include <stddef.h>

#include <jansson.h>

struct policy_store;
struct kube_informer;

int policy_store_new(struct policy_store **ret);
/* Accepts NULL; returns NULL. */
struct policy_store *policy_store_free(struct policy_store *s);

/* Adds or replaces a policy (validating it, unless the store holds this resourceVersion
 * already), or removes one. 0 (an invalid policy is kept out, with its reason), -EINVAL for
 * an object without namespace/name, -ENOMEM. */
int policy_store_put(struct policy_store *s, const json_t *policy);
int policy_store_remove(struct policy_store *s, const json_t *policy);

/* Feeds the store from an informer's events. Attach it before any handler that reads the
 * store, so those handlers see the policy their event is about. 0 or -ENOMEM. */
int policy_store_attach(struct policy_store *s, struct kube_informer *inf);

/* A new reference to the array (possibly empty) of valid policies in namespace ns, or NULL on
 * ENOMEM. The elements are shared read-only. */
json_t *policy_store_namespace(struct policy_store *s, const char *ns);

/* Whether policy (a cached object) is valid: 1, or 0 with the reason ("field: message") in
 * error (may be NULL). Answered from the store when it holds that resourceVersion, else
 * validated now. Negative errno when validation itself failed (-ENOMEM). */
int policy_store_check(struct policy_store *s, const json_t *policy, char *error, size_t size);

void policy_store_counts(struct policy_store *s, size_t *ret_valid, size_t *ret_invalid);
