/* The JSON Patch (RFC 6902) between two versions of a pod: the difference the mutators made. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "webhook/mutate.h"

/* RFC 6901: '~' is written "~0" and '/' "~1" in a path segment. */
static int path_append(struct buf *path, const char *segment)
{
	int r = buf_append(path, "/", 1);
	for (const char *p = segment; r == 0 && *p; p++) {
		if (*p == '~')
			r = buf_append(path, "~0", 2);
		else if (*p == '/')
			r = buf_append(path, "~1", 2);
		else
			r = buf_append(path, p, 1);
	}
	return r;
}

static int op_append(json_t *ops, const char *op, const char *path, const json_t *value)
{
	json_t *o = value ? json_pack("{s:s, s:s, s:O}", "op", op, "path", path, "value", value)
			  : json_pack("{s:s, s:s}", "op", op, "path", path);
	return o && json_array_append_new(ops, o) == 0 ? 0 : -ENOMEM;
}

static int diff_at(const json_t *a, const json_t *b, struct buf *path, json_t *ops)
{
	if (json_equal(a, b))
		return 0;
	size_t mark = path->len;
	int r = 0;
	if (json_is_object(a) && json_is_object(b)) {
		const char *key;
		json_t *va;
		json_object_foreach ((json_t *)a, key, va) {
			if (json_object_get(b, key))
				continue;
			if ((r = path_append(path, key)) < 0 ||
			    (r = op_append(ops, "remove", buf_str(path), NULL)) < 0)
				return r;
			path->len = mark;
			path->data[mark] = '\0';
		}
		json_t *vb;
		json_object_foreach ((json_t *)b, key, vb) {
			const json_t *old = json_object_get(a, key);
			if ((r = path_append(path, key)) < 0)
				return r;
			r = old ? diff_at(old, vb, path, ops)
				: op_append(ops, "add", buf_str(path), vb);
			if (r < 0)
				return r;
			path->len = mark;
			path->data[mark] = '\0';
		}
		return 0;
	}
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			char idx[24];
			snprintf(idx, sizeof(idx), "%zu", i);
			if ((r = path_append(path, idx)) < 0 ||
			    (r = diff_at(json_array_get(a, i), json_array_get(b, i), path, ops)) <
				    0)
				return r;
			path->len = mark;
			path->data[mark] = '\0';
		}
		return 0;
	}
	return op_append(ops, "replace", path->len ? buf_str(path) : "", b);
}

int json_patch_diff(const json_t *a, const json_t *b, const char *prefix, json_t *ops)
{
	/* Pod paths are short; the cap only bounds a hostile key. Storage is reserved first so
	 * diff_at can truncate back to the prefix even when the prefix is "". */
	_cleanup_buf_ struct buf path = BUF_INIT(1u << 20);
	int r = buf_append(&path, "/", 1);
	if (r < 0)
		return r;
	buf_reset(&path);
	if ((r = buf_append_str(&path, prefix ? prefix : "")) < 0)
		return r;
	return diff_at(a, b, &path, ops);
}
