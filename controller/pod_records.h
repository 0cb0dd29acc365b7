/* What the controller remembers per pod between reconciles: its uid and node (to send a
 * DELETE when the pod goes or is recreated), the policies selecting it and a compile error (for
 * status). Plain C records, not JSON: at 10,000 pods a JSON object per pod costs tens of MiB.
 * Thread-safe (one mutex). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pod_records;

/* The previous state of a record, returned by put and remove ("" when there was none). */
struct pod_record_prev {
	char uid[64];
	char node[254];
};

struct pod_records *pod_records_new(void);
struct pod_records *pod_records_free(struct pod_records *r);

/* Stores the record of pod key ("namespace/name"). node may be NULL (not bound yet); active
 * is false for a finished pod; policies is a JSON array of the selecting policies' keys; error
 * (may be NULL) is why its policy could not be compiled. prev (may be NULL) receives what was
 * there. 0 or -ENOMEM (the old record stays). */
int pod_records_put(struct pod_records *r, const char *key, const char *uid, const char *node,
		    bool active, const json_t *policies, const char *error,
		    struct pod_record_prev *prev);
/* Forgets pod key; prev (may be NULL) receives what was there. */
void pod_records_remove(struct pod_records *r, const char *key, struct pod_record_prev *prev);

/* Per policy key, over active pods: {"pods": N, "errors": [{"pod","message"}…]} with at most
 * max_errors errors each. New reference or NULL on ENOMEM. */
json_t *pod_records_by_policy(struct pod_records *r, size_t max_errors);

size_t pod_records_count(struct pod_records *r);
