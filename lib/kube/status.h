/* metav1.Status, the body the apiserver sends with every error, and how an HTTP status plus
 * its reason becomes a negative errno:
 *
 *   HTTP  reason                     errno          what a caller does
 *   400   BadRequest                 -EINVAL        fix the request
 *   401   Unauthorized               -EACCES        credentials rejected (re-read the token)
 *   403   Forbidden                  -EPERM         RBAC denies it
 *   404   NotFound                   -ENOENT        gone; a delete may treat it as success
 *   405   MethodNotAllowed           -EOPNOTSUPP
 *   409   AlreadyExists              -EEXIST        create of an existing name
 *   409   Conflict (and other 409s)  -ESTALE        re-read, re-apply the change, retry
 *   410   Gone / Expired             -EIDRM         resourceVersion compacted: relist
 *   413   RequestEntityTooLarge      -E2BIG
 *   415   UnsupportedMediaType       -EOPNOTSUPP
 *   422   Invalid                    -EINVAL        the Status message names the field
 *   429   TooManyRequests            -EAGAIN        back off and retry
 *   5xx                              -EAGAIN        back off and retry (504 included)
 *   other 4xx                        -EPROTO
 * Transport failures (client.c): timeout -ETIMEDOUT, connection refused/reset -ECONNREFUSED /
 * -ECONNRESET, TLS verification failure -EKEYREJECTED, body over the cap -EMSGSIZE, anything
 * else -EIO. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

struct kube_status {
	int code;	   /* HTTP status (or Status.code); 0 for transport errors */
	char reason[64];   /* Status.reason, e.g. "Conflict", "Expired" */
	char message[512]; /* Status.message, or the transport error text */
};

/* Fills st from a metav1.Status object (a watch ERROR event's object, an error body). When
 * obj is not a Status, keeps http_code and a generic message. Never fails. */
void kube_status_from_json(struct kube_status *st, int http_code, const json_t *obj);

/* Negative errno for an HTTP status and Status.reason (reason may be NULL or ""); 0 for 2xx. */
int kube_status_to_errno(int http_code, const char *reason);

/* True for errors worth retrying with backoff: -EAGAIN, timeouts, connection failures. */
bool kube_errno_is_transient(int err);
