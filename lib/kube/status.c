/* metav1.Status decoding and the HTTP → errno table; see status.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kube/status.h"

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void kube_status_from_json(struct kube_status *st, int http_code, const json_t *obj)
{
	memset(st, 0, sizeof(*st));
	st->code = http_code;
	if (!json_is_object(obj)) {
		if (http_code)
			snprintf(st->message, sizeof(st->message), "HTTP %d", http_code);
		return;
	}
	const json_t *code = json_object_get(obj, "code");
	if (json_is_integer(code) && json_integer_value(code) > 0 &&
	    json_integer_value(code) < 1000)
		st->code = (int)json_integer_value(code);
	copy_str(st->reason, sizeof(st->reason), json_string_value(json_object_get(obj, "reason")));
	copy_str(st->message, sizeof(st->message),
		 json_string_value(json_object_get(obj, "message")));
	if (!st->message[0] && st->code)
		snprintf(st->message, sizeof(st->message), "HTTP %d", st->code);
}

int kube_status_to_errno(int http_code, const char *reason)
{
	if (http_code >= 200 && http_code < 300)
		return 0;
	switch (http_code) {
	case 400: return -EINVAL;
	case 401: return -EACCES;
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 405: return -EOPNOTSUPP;
	case 409: return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
	case 410: return -EIDRM;
	case 413: return -E2BIG;
	case 415: return -EOPNOTSUPP;
	case 422: return -EINVAL;
	case 429: return -EAGAIN;
	default: break;
	}
	if (http_code >= 500 && http_code < 600)
		return -EAGAIN;
	return -EPROTO;
}

bool kube_errno_is_transient(int err)
{
	switch (err) {
	case -EAGAIN:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EIO:
	case -EPIPE: return true;
	default: return false;
	}
}
