/* AdmissionReview v1 (admission.k8s.io/v1) on the wire: a strict, bounded decoder of what the
 * apiserver sends and the encoder of what we answer. Decoding never trusts the body: wrong
 * apiVersion or kind, a missing request.uid, a mistyped field or malformed JSON is an error that
 * names the field, which the server turns into 400. Every answer carries the request's uid. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

#define ADMISSION_API_VERSION "admission.k8s.io/v1"
#define ADMISSION_KIND	      "AdmissionReview"
/* The apiserver's own cap on a request it will store is ~3 MiB; a review wraps the object
 * (and for UPDATE the old one too), so 7 MiB covers the largest legitimate review. */
#define ADMISSION_MAX_BODY (7u << 20)
/* Kubernetes UIDs are 36 characters; anything much longer is not from an apiserver. */
#define ADMISSION_UID_MAX 128
/* The answer: the patch of a pod is at most the size of a few copies of the pod. */
#define ADMISSION_MAX_RESPONSE (16u << 20)

/* A decoded request. Strings and objects are borrowed from review, which owns them. */
struct admission_request {
	json_t *review;
	const char *uid;
	const char *operation;	  /* CREATE, UPDATE, DELETE or CONNECT */
	const char *group;	  /* request.kind.group ("" for the core API) */
	const char *version;	  /* request.kind.version */
	const char *kind;	  /* request.kind.kind: Pod, BulwarkPolicy, PodExecOptions, ... */
	const char *resource;	  /* request.resource.resource: pods, bulwarkpolicies */
	const char *sub_resource; /* request.subResource: "exec", "attach", or "" */
	const char *namespace;	  /* request.namespace, or NULL */
	const char *name;	  /* request.name, or NULL (a CREATE with generateName) */
	const json_t *object;	  /* request.object, or NULL */
	const json_t *old_object; /* request.oldObject, or NULL */
	const json_t *user_info;  /* request.userInfo, or NULL */
	bool dry_run;
	/* Set (field non-empty) when request.object holds a string with a NUL byte: the review
	 * is well formed, the object is not, and the answer is a denial naming its field. */
	struct field_error object_error;
};

/* Decodes body[0..len). 0 with *ret filled (admission_request_done() releases it); -EINVAL with
 * err naming the field ("request.uid: required", "body: invalid JSON at line 1 column 3: ...");
 * -EMSGSIZE over ADMISSION_MAX_BODY; -ENOMEM. A NUL byte (\u0000) in a string of the envelope
 * is -EINVAL naming it; one in request.object fills ret->object_error instead. */
int admission_decode(const char *body, size_t len, struct admission_request *ret,
		     struct field_error *err);
void admission_request_done(struct admission_request *req);

/* What we answer. code/reason/message make the response's status (shown by kubectl) and are
 * used only when allowed is false; patch (a JSON Patch array, non-empty) and warnings (an
 * array of strings) may be NULL and are borrowed. */
struct admission_response {
	bool allowed;
	int code;	    /* default 403 */
	const char *reason; /* default "Forbidden" */
	char message[1024];
	const json_t *patch;
	const json_t *warnings;
};

/* Sets allowed = false and the message (printf-style). */
void admission_deny(struct admission_response *resp, int code, const char *reason, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

/* Appends the AdmissionReview answering uid to out. 0, -EMSGSIZE, -ENOMEM. */
int admission_encode(const char *uid, const struct admission_response *resp, struct buf *out);
