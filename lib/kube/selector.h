/* Kubernetes label selectors: the metav1.LabelSelector JSON form (a policy's podSelector) and
 * the string form of list/watch's labelSelector query parameter, parsed into one
 * representation and matched against an object's metadata.labels.
 *
 * Semantics, as in Kubernetes (apimachinery's LabelSelectorAsSelector and labels.Parse):
 *   - Requirements are ANDed. An empty selector ({} or "") matches every object; a null
 *     selector (absent, or JSON null) matches none.
 *   - In: the label exists and has one of the values. NotIn: the label is absent or has none
 *     of them. Exists / DoesNotExist: the label is present / absent. Gt / Lt (string form
 *     only, "replicas>3"): the label's value is an integer greater / less than the operand.
 *   - matchLabels {k: v} is "k In (v)".
 * String form:  "app=web,tier in (a,b),!canary,env!=prod,release notin (x),track"
 *   =, == and != take one value (possibly empty); in / notin a parenthesised, non-empty,
 *   comma-separated list; !key is DoesNotExist and a bare key Exists. Spaces are allowed
 *   around tokens.
 * Keys are qualified names ([prefix/]name: a DNS subdomain prefix of at most 253 characters,
 * a name of 1..63 alphanumerics, '-', '_', '.', starting and ending alphanumeric); values
 * are empty or follow the name rule. Every rejection names the field and the reason, e.g.
 *   spec.podSelector.matchExpressions[1].values: must be non-empty for operator In
 *
 * A parsed selector is immutable, so it may be shared by threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

#define KUBE_SELECTOR_MAX_STRING       4096 /* bytes in the string form */
#define KUBE_SELECTOR_MAX_REQUIREMENTS 256
#define KUBE_SELECTOR_MAX_VALUES       256 /* per requirement */

struct kube_selector;

/* Parses a metav1.LabelSelector. json may be NULL or JSON null (the null selector, which
 * matches nothing). field is the selector's path for errors ("spec.podSelector").
 * 0, -EINVAL with err filled, or -ENOMEM. */
int kube_selector_from_json(const json_t *json, const char *field,
			    struct kube_selector **ret_selector, struct field_error *err);

/* Parses the string form; field names it in errors ("labelSelector"), whose reason gives the
 * byte offset. 0, -EINVAL with err filled, or -ENOMEM. */
int kube_selector_parse(const char *s, const char *field, struct kube_selector **ret_selector,
			struct field_error *err);

/* Accepts NULL; returns NULL. */
struct kube_selector *kube_selector_free(struct kube_selector *sel);

/* Whether an object with these labels (a JSON object of strings, or NULL for none) is
 * selected. A label whose value is not a string counts as absent. */
bool kube_selector_matches(const struct kube_selector *sel, const json_t *labels);

/* True for the empty selector (matches everything). */
bool kube_selector_is_everything(const struct kube_selector *sel);
/* True for the null selector (matches nothing). */
bool kube_selector_is_nothing(const struct kube_selector *sel);

/* Appends the canonical string form (requirements sorted by key, values sorted and unique)
 * to out: what a list/watch labelSelector parameter carries, and a stable text for logs and
 * content hashes. 0, -EDOM for the null selector (no string selects nothing), -EMSGSIZE,
 * -ENOMEM. */
int kube_selector_format(const struct kube_selector *sel, struct buf *out);
