/* AdmissionReview v1 decoding and encoding (see admission.h). */
#include "webhook/admission.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "base64.h"

static int optional_string(const json_t *parent, const char *key, const char *field,
			   const char **ret, struct field_error *err)
{
	const json_t *v = json_object_get(parent, key);
	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return field_error_set(err, field, "must be a string");
	*ret = json_string_value(v);
	return 0;
}

static int optional_object(const json_t *parent, const char *key, const char *field,
			   const json_t **ret, struct field_error *err)
{
	const json_t *v = json_object_get(parent, key);
	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_object(v))
		return field_error_set(err, field, "must be an object");
	*ret = v;
	return 0;
}

/* The uid goes back to the apiserver verbatim, and into object names and logs: only the
 * characters a UID has. */
static bool uid_valid(const char *uid)
{
	size_t n = strlen(uid);
	if (n == 0 || n > ADMISSION_UID_MAX)
		return false;
	for (const char *p = uid; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* Members are ".key", or "[key]" when the key has other characters than letters, digits, '_'
 * and '-' (as Kubernetes writes map keys: metadata.annotations[bulwark.dev/x]). */
static bool plain_key(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* True when a string under v, outside skip_a and skip_b, holds a NUL byte; path (len bytes of
 * it are v's own path) then ends with that string's path. Depth is bounded by jansson's
 * parser (2048 levels). */
static bool find_nul(const json_t *v, const json_t *skip_a, const json_t *skip_b, char *path,
		     size_t len, size_t size)
{
	if (v == skip_a || v == skip_b)
		return false;
	if (json_is_string(v))
		return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL;
	if (json_is_object(v)) {
		const char *key;
		json_t *m;
		json_object_foreach ((json_t *)v, key, m) {
			int n = snprintf(path + len, size - len, plain_key(key) ? "%s%s" : "%s[%s]",
					 plain_key(key) && len ? "." : "", key);
			size_t end = n < 0		      ? len
				     : len + (size_t)n < size ? len + (size_t)n
							      : size - 1;
			if (find_nul(m, skip_a, skip_b, path, end, size))
				return true;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach (v, i, m) {
			int n = snprintf(path + len, size - len, "[%zu]", i);
			size_t end = n < 0		      ? len
				     : len + (size_t)n < size ? len + (size_t)n
							      : size - 1;
			if (find_nul(m, skip_a, skip_b, path, end, size))
				return true;
		}
	}
	path[len] = '\0';
	return false;
}

#define NUL_REASON "holds a NUL byte (\\u0000), which no name, path or value may contain"

/* The body is loaded with JSON_ALLOW_NUL, so that a NUL in the object is the object's fault
 * (a denial naming the field) rather than an unreadable review; but a C string stops at its
 * NUL, so "/etc\u0000x" would read as "/etc". Hence every string is checked here first: in the
 * envelope a NUL makes the review malformed; in request.object it makes the object invalid.
 * request.oldObject is what is stored already and is not judged. Object keys cannot hold one:
 * jansson refuses those at load ("NUL byte in object key not supported"). */
static int check_nul(const json_t *review, struct admission_request *r, struct field_error *err)
{
	const json_t *request = json_object_get(review, "request");
	const json_t *object = json_object_get(request, "object");
	const json_t *old = json_object_get(request, "oldObject");
	char path[sizeof(err->field)] = "";
	if (find_nul(review, object, old, path, 0, sizeof(path)))
		return field_error_set(err, path, NUL_REASON);
	if (object && find_nul(object, NULL, NULL, path, 0, sizeof(path)))
		field_error_set(&r->object_error, path, NUL_REASON);
	return 0;
}

static int decode_request(const json_t *review, struct admission_request *r,
			  struct field_error *err)
{
	const char *api_version = json_string_value(json_object_get(review, "apiVersion"));
	if (!api_version)
		return field_error_set(err, "apiVersion", "required: %s", ADMISSION_API_VERSION);
	if (strcmp(api_version, ADMISSION_API_VERSION) != 0)
		return field_error_set(err, "apiVersion", "must be %s, not \"%.64s\"",
				       ADMISSION_API_VERSION, api_version);
	const char *kind = json_string_value(json_object_get(review, "kind"));
	if (!kind)
		return field_error_set(err, "kind", "required: %s", ADMISSION_KIND);
	if (strcmp(kind, ADMISSION_KIND) != 0)
		return field_error_set(err, "kind", "must be %s, not \"%.64s\"", ADMISSION_KIND,
				       kind);

	const json_t *request = json_object_get(review, "request");
	if (!request || json_is_null(request))
		return field_error_set(err, "request", "required");
	if (!json_is_object(request))
		return field_error_set(err, "request", "must be an object");

	const json_t *uid = json_object_get(request, "uid");
	if (!uid)
		return field_error_set(err, "request.uid", "required");
	if (!json_is_string(uid) || !uid_valid(json_string_value(uid)))
		return field_error_set(err, "request.uid",
				       "must be a non-empty string of at most %d letters, digits, "
				       "'-', '_' or '.'",
				       ADMISSION_UID_MAX);
	r->uid = json_string_value(uid);

	const json_t *kind_obj = json_object_get(request, "kind");
	if (!json_is_object(kind_obj))
		return field_error_set(err, "request.kind", "required: an object with kind");
	int e;
	if ((e = optional_string(kind_obj, "group", "request.kind.group", &r->group, err)) < 0 ||
	    (e = optional_string(kind_obj, "version", "request.kind.version", &r->version, err)) <
		    0 ||
	    (e = optional_string(kind_obj, "kind", "request.kind.kind", &r->kind, err)) < 0)
		return e;
	if (!r->kind || !*r->kind)
		return field_error_set(err, "request.kind.kind", "required");
	if (!r->group)
		r->group = "";
	if (!r->version)
		r->version = "";

	const json_t *resource = json_object_get(request, "resource");
	if (!json_is_object(resource))
		return field_error_set(err, "request.resource",
				       "required: an object with resource");
	if ((e = optional_string(resource, "resource", "request.resource.resource", &r->resource,
				 err)) < 0)
		return e;
	if (!r->resource || !*r->resource)
		return field_error_set(err, "request.resource.resource", "required");
	if ((e = optional_string(request, "subResource", "request.subResource", &r->sub_resource,
				 err)) < 0)
		return e;
	if (!r->sub_resource)
		r->sub_resource = "";

	if ((e = optional_string(request, "operation", "request.operation", &r->operation, err)) <
	    0)
		return e;
	static const char *const operations[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
	bool known = false;
	for (size_t i = 0; r->operation && i < ARRAY_SIZE(operations); i++)
		known |= strcmp(r->operation, operations[i]) == 0;
	if (!known)
		return field_error_set(err, "request.operation",
				       "must be CREATE, UPDATE, DELETE or CONNECT");

	if ((e = optional_string(request, "namespace", "request.namespace", &r->namespace, err)) <
		    0 ||
	    (e = optional_string(request, "name", "request.name", &r->name, err)) < 0 ||
	    (e = optional_object(request, "object", "request.object", &r->object, err)) < 0 ||
	    (e = optional_object(request, "oldObject", "request.oldObject", &r->old_object, err)) <
		    0 ||
	    (e = optional_object(request, "userInfo", "request.userInfo", &r->user_info, err)) < 0)
		return e;
	if (r->namespace && !*r->namespace)
		r->namespace = NULL;
	if (r->name && !*r->name)
		r->name = NULL;

	const json_t *dry_run = json_object_get(request, "dryRun");
	if (dry_run && !json_is_null(dry_run) && !json_is_boolean(dry_run))
		return field_error_set(err, "request.dryRun", "must be a boolean");
	r->dry_run = json_is_true(dry_run);
	return 0;
}

int admission_decode(const char *body, size_t len, struct admission_request *ret,
		     struct field_error *err)
{
	if (len > ADMISSION_MAX_BODY) {
		field_error_set(err, "body", "larger than %u bytes", ADMISSION_MAX_BODY);
		return -EMSGSIZE;
	}
	if (!body || len == 0)
		return field_error_set(err, "body", "empty: expected an AdmissionReview");

	json_error_t jerr;
	json_t *review = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!review)
		return field_error_set(err, "body", "invalid JSON at line %d column %d: %s",
				       jerr.line, jerr.column, jerr.text);
	if (!json_is_object(review)) {
		json_decref(review);
		return field_error_set(err, "body", "must be a JSON object (an AdmissionReview)");
	}
	struct admission_request r = {.review = review};
	/* JSON writes a NUL only as \u0000: without one in the body, no string can hold one. */
	int e = memmem(body, len, "\\u0000", 6) ? check_nul(review, &r, err) : 0;
	if (e == 0)
		e = decode_request(review, &r, err);
	if (e < 0) {
		json_decref(review);
		return e;
	}
	*ret = r;
	return 0;
}

void admission_request_done(struct admission_request *req)
{
	json_decref(req->review);
	*req = (struct admission_request){0};
}

void admission_deny(struct admission_response *resp, int code, const char *reason, const char *fmt,
		    ...)
{
	va_list ap;
	resp->allowed = false;
	resp->code = code;
	resp->reason = reason;
	va_start(ap, fmt);
	vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
	va_end(ap);
}

/* The envelope is written directly rather than built as a json_t and dumped: the patch is
 * already base64 (nothing to escape) and can be kilobytes, and re-scanning it for escapes was
 * a third of a mutation review's cost. Only the message and warnings need JSON escaping. The uid
 * was checked to hold only letters, digits, '-', '_' and '.' (uid_valid). */
int admission_encode(const char *uid, const struct admission_response *resp, struct buf *out)
{
	int r = buf_printf(out,
			   "{\"apiVersion\":\"" ADMISSION_API_VERSION
			   "\",\"kind\":\"" ADMISSION_KIND
			   "\",\"response\":{\"uid\":\"%s\",\"allowed\":%s",
			   uid ? uid : "", resp->allowed ? "true" : "false");
	if (r < 0)
		return r;
	if (!resp->allowed) {
		json_auto_t *status = json_pack(
			"{s:i, s:s, s:s}", "code", resp->code ? resp->code : 403, "reason",
			resp->reason ? resp->reason : "Forbidden", "message", resp->message);
		_cleanup_free_ char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
		if (!text)
			return -ENOMEM;
		if ((r = buf_printf(out, ",\"status\":%s", text)) < 0)
			return r;
	}
	if (resp->allowed && resp->patch && json_array_size(resp->patch) > 0) {
		_cleanup_free_ char *patch = json_dumps(resp->patch, JSON_COMPACT);
		if (!patch)
			return -ENOMEM;
		if ((r = buf_append_str(out, ",\"patchType\":\"JSONPatch\",\"patch\":\"")) < 0 ||
		    (r = base64_append(out, (const unsigned char *)patch, strlen(patch))) < 0 ||
		    (r = buf_append_str(out, "\"")) < 0)
			return r;
	}
	if (resp->warnings && json_array_size(resp->warnings) > 0) {
		_cleanup_free_ char *text = json_dumps(resp->warnings, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		if ((r = buf_printf(out, ",\"warnings\":%s", text)) < 0)
			return r;
	}
	return buf_append_str(out, "}}");
}
