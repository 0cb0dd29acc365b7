#include "pod_spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "error.h"

#define POD_MAX_STRING (64 * 1024)

void harness_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t harness_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static void harness_strv_freep(char ***v)
{
	harness_strv_free(*v);
}
#define _cleanup_strv_ _cleanup_(harness_strv_freep)

static int strv_push(char ***v, size_t *n, size_t max, char *s)
{
	if (!s)
		return -ENOMEM;
	if (*n >= max) {
		free(s);
		return -E2BIG;
	}
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static const char *json_str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *o = json_object_get(obj, a);
	if (b)
		o = json_object_get(o, b);
	return json_string_value(o);
}

int podspec_meta(const json_t *pod, struct pod_meta *ret, struct field_error *err)
{
	struct pod_meta m = {
		.uid = json_str_at(pod, "metadata", "uid"),
		.name = json_str_at(pod, "metadata", "name"),
		.namespace = json_str_at(pod, "metadata", "namespace"),
		.node_name = json_str_at(pod, "spec", "nodeName"),
	};
	if (!json_is_object(pod))
		return field_error_set(err, "", "a Pod must be a JSON object");
	if (!m.name || !*m.name)
		return field_error_set(err, "metadata.name", "required");
	if (!m.uid || !*m.uid)
		return field_error_set(err, "metadata.uid", "required");
	if (strlen(m.uid) > 64)
		return field_error_set(err, "metadata.uid", "longer than 64 characters");
	for (const char *p = m.uid; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return field_error_set(err, "metadata.uid",
					       "may hold only letters, digits and '-', not %s",
					       m.uid);
	if (!m.namespace || !*m.namespace)
		m.namespace = "default";
	if (!json_is_object(json_object_get(pod, "spec")))
		return field_error_set(err, "spec", "required");
	*ret = m;
	return 0;
}

int podspec_quantity_parse(const char *s, long double *ret)
{
	static const struct {
		const char *suffix;
		long double mult;
	} suffixes[] = {
		{"Ki", 1024.0L},
		{"Mi", 1048576.0L},
		{"Gi", 1073741824.0L},
		{"Ti", 1099511627776.0L},
		{"Pi", 1125899906842624.0L},
		{"Ei", 1152921504606846976.0L},
		{"m", 1e-3L},
		{"k", 1e3L},
		{"M", 1e6L},
		{"G", 1e9L},
		{"T", 1e12L},
		{"P", 1e15L},
		{"E", 1e18L},
		{"", 1.0L},
	};
	if (!s || !*s || strlen(s) > 64)
		return -EINVAL;
	char *end;
	errno = 0;
	long double v = strtold(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(end, suffixes[i].suffix) == 0) {
			*ret = v * suffixes[i].mult;
			return 0;
		}
	return -EINVAL;
}

/* A quantity of cpu or memory that is set and not zero, as the kubelet counts them. */
static bool resource_value(const json_t *list, const char *name, long double *ret)
{
	const json_t *q = json_object_get(list, name);
	long double v;
	if (json_is_string(q)) {
		if (podspec_quantity_parse(json_string_value(q), &v) < 0)
			return false;
	} else if (json_is_number(q)) {
		v = json_number_value(q);
	} else {
		return false;
	}
	if (v == 0)
		return false;
	*ret = v;
	return true;
}

static bool quantities_equal(long double a, long double b)
{
	return fabsl(a - b) <= 1e-9L * fmaxl(fabsl(a), fabsl(b));
}

const char *podspec_qos_class(const json_t *pod)
{
	static const char *const names[] = {"cpu", "memory"};
	const char *set = json_str_at(pod, "status", "qosClass");
	if (set &&
	    (!strcmp(set, "Guaranteed") || !strcmp(set, "Burstable") || !strcmp(set, "BestEffort")))
		return set;

	long double req[2] = {0, 0}, lim[2] = {0, 0};
	bool has_req[2] = {false, false}, has_lim[2] = {false, false};
	bool guaranteed = true;
	const json_t *spec = json_object_get(pod, "spec");
	static const char *const lists[] = {"initContainers", "containers"};
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		const json_t *c;
		json_array_foreach (json_object_get(spec, lists[l]), i, c) {
			const json_t *res = json_object_get(c, "resources");
			const json_t *requests = json_object_get(res, "requests");
			const json_t *limits = json_object_get(res, "limits");
			bool found_lim[2] = {false, false};
			for (size_t k = 0; k < 2; k++) {
				long double v;
				/* The apiserver defaults a missing request to its limit; a pod read
				 * from a file has not been through defaulting, so do it here. */
				if (resource_value(requests, names[k], &v) ||
				    resource_value(limits, names[k], &v)) {
					req[k] += v;
					has_req[k] = true;
				}
				if (resource_value(limits, names[k], &v)) {
					lim[k] += v;
					has_lim[k] = true;
					found_lim[k] = true;
				}
			}
			if (!found_lim[0] || !found_lim[1])
				guaranteed = false;
		}
	}
	if (!has_req[0] && !has_req[1] && !has_lim[0] && !has_lim[1])
		return "BestEffort";
	for (size_t k = 0; k < 2 && guaranteed; k++)
		if (has_req[k] && (!has_lim[k] || !quantities_equal(req[k], lim[k])))
			guaranteed = false;
	if (guaranteed && has_req[0] == has_lim[0] && has_req[1] == has_lim[1])
		return "Guaranteed";
	return "Burstable";
}

/* $(VAR) → the value of VAR in env, $$(VAR) → the literal $(VAR), an unknown reference stays
 * as written: the kubelet's expansion rules (third_party/forked/golang/expansion). */
static int expand_refs(const char *in, char *const *env, char **ret)
{
	_cleanup_buf_ struct buf out = BUF_INIT(POD_MAX_STRING);
	int r = buf_append(&out, "", 0);
	for (const char *p = in; *p && r >= 0;) {
		if (p[0] == '$' && p[1] == '$') {
			r = buf_append(&out, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			if (close) {
				size_t len = (size_t)(close - (p + 2));
				const char *value = NULL;
				for (char *const *e = env; e && *e; e++)
					if (!strncmp(*e, p + 2, len) && (*e)[len] == '=')
						value = *e + len + 1; /* the last definition wins */
				if (value) {
					r = buf_append_str(&out, value);
					p = close + 1;
					continue;
				}
				r = buf_append(&out, p, (size_t)(close + 1 - p));
				p = close + 1;
				continue;
			}
		}
		r = buf_append(&out, p, 1);
		p++;
	}
	if (r < 0)
		return r;
	*ret = buf_steal(&out);
	return *ret ? 0 : -ENOMEM;
}

static int push_expanded(char ***v, size_t *n, const json_t *arr, const char *field,
			 char *const *env, struct field_error *err)
{
	size_t i;
	const json_t *a;
	json_array_foreach (arr, i, a) {
		if (!json_is_string(a))
			return field_error_set(err, field, "[%zu] must be a string", i);
		char *s;
		int r = expand_refs(json_string_value(a), env, &s);
		if (r < 0)
			return r;
		r = strv_push(v, n, POD_MAX_ARGS, s);
		if (r == -E2BIG)
			return field_error_set(err, field, "more than %d arguments", POD_MAX_ARGS);
		if (r < 0)
			return r;
	}
	return 0;
}

int podspec_container_argv(const json_t *container, const char *const *image_entrypoint,
			   const char *const *image_cmd, char *const *env, char ***ret,
			   struct field_error *err)
{
	const json_t *command = json_object_get(container, "command");
	const json_t *args = json_object_get(container, "args");
	if (command && !json_is_array(command))
		return field_error_set(err, "command", "must be a list of strings");
	if (args && !json_is_array(args))
		return field_error_set(err, "args", "must be a list of strings");
	_cleanup_strv_ char **v = NULL;
	size_t n = 0;
	int r;
	bool has_command = json_array_size(command) > 0;
	bool has_args = json_array_size(args) > 0;
	if (has_command) {
		/* command replaces the entrypoint, and the image's cmd with it. */
		r = push_expanded(&v, &n, command, "command", env, err);
		if (r == 0 && has_args)
			r = push_expanded(&v, &n, args, "args", env, err);
	} else {
		for (const char *const *e = image_entrypoint; e && *e; e++)
			if ((r = strv_push(&v, &n, POD_MAX_ARGS, strdup(*e))) < 0)
				return r;
		if (has_args) {
			r = push_expanded(&v, &n, args, "args", env, err);
		} else {
			r = 0;
			for (const char *const *c = image_cmd; c && *c && r == 0; c++)
				r = strv_push(&v, &n, POD_MAX_ARGS, strdup(*c));
		}
	}
	if (r < 0)
		return r;
	if (n == 0)
		return field_error_set(err, "command",
				       "no command: neither the pod nor the image names one");
	*ret = TAKE_PTR(v);
	return 0;
}

static int map_key_value(const json_t *pod, const char *map, const char *path, size_t prefix,
			 char **ret)
{
	/* metadata.labels['key'] */
	const char *open = path + prefix;
	size_t len = strlen(open);
	if (len < 4 || open[0] != '[' || open[1] != '\'' || open[len - 1] != ']' ||
	    open[len - 2] != '\'')
		return -ENOENT;
	_cleanup_free_ char *key = strndup(open + 2, len - 4);
	if (!key)
		return -ENOMEM;
	const char *v = json_str_at(json_object_get(pod, "metadata"), map, key);
	*ret = strdup(v ? v : "");
	return *ret ? 0 : -ENOMEM;
}

int podspec_field_value(const json_t *pod, const char *pod_ip, const char *path, char **ret)
{
	static const struct {
		const char *path, *a, *b;
	} simple[] = {
		{"metadata.name", "metadata", "name"},
		{"metadata.namespace", "metadata", "namespace"},
		{"metadata.uid", "metadata", "uid"},
		{"spec.nodeName", "spec", "nodeName"},
		{"spec.serviceAccountName", "spec", "serviceAccountName"},
	};
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(path, simple[i].path)) {
			const char *v = json_str_at(pod, simple[i].a, simple[i].b);
			if (!strcmp(path, "metadata.namespace") && !v)
				v = "default";
			*ret = strdup(v ? v : "");
			return *ret ? 0 : -ENOMEM;
		}
	if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) {
		*ret = strdup(pod_ip ? pod_ip : "");
		return *ret ? 0 : -ENOMEM;
	}
	if (!strncmp(path, "metadata.labels[", 16))
		return map_key_value(pod, "labels", path, 15, ret);
	if (!strncmp(path, "metadata.annotations[", 21))
		return map_key_value(pod, "annotations", path, 20, ret);
	if (!strcmp(path, "metadata.labels"))
		return podspec_map_format(
			json_object_get(json_object_get(pod, "metadata"), "labels"), ret);
	if (!strcmp(path, "metadata.annotations"))
		return podspec_map_format(
			json_object_get(json_object_get(pod, "metadata"), "annotations"), ret);
	return -ENOENT;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's %q for the characters labels and annotations can hold. */
static int append_quoted(struct buf *b, const char *s)
{
	int r = buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p && r >= 0; p++) {
		switch (*p) {
		case '"': r = buf_append_str(b, "\\\""); break;
		case '\\': r = buf_append_str(b, "\\\\"); break;
		case '\n': r = buf_append_str(b, "\\n"); break;
		case '\t': r = buf_append_str(b, "\\t"); break;
		case '\r': r = buf_append_str(b, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				r = buf_printf(b, "\\x%02x", *p);
			else
				r = buf_append(b, p, 1);
		}
	}
	return r < 0 ? r : buf_append(b, "\"", 1);
}

int podspec_map_format(const json_t *map, char **ret)
{
	size_t n = json_object_size(map), i = 0;
	_cleanup_free_ const char **keys = calloc(n + 1, sizeof(char *));
	if (!keys)
		return -ENOMEM;
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)map, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(char *), cmp_str);
	_cleanup_buf_ struct buf b = BUF_INIT(1024 * 1024);
	int r = buf_append(&b, "", 0);
	for (i = 0; i < n && r >= 0; i++) {
		const char *val = json_string_value(json_object_get(map, keys[i]));
		r = buf_printf(&b, "%s%s=", i ? "\n" : "", keys[i]);
		if (r >= 0)
			r = append_quoted(&b, val ? val : "");
	}
	if (r < 0)
		return r;
	*ret = buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

int podspec_container_env(const json_t *pod, const json_t *container, const char *pod_ip,
			  const char *const *image_env, char ***ret, struct field_error *err)
{
	_cleanup_strv_ char **v = NULL;
	size_t n = 0;
	int r;
	for (const char *const *e = image_env; e && *e; e++)
		if ((r = strv_push(&v, &n, POD_MAX_ENV, strdup(*e))) < 0)
			return r;
	size_t i;
	const json_t *e;
	json_array_foreach (json_object_get(container, "env"), i, e) {
		char field[64];
		snprintf(field, sizeof(field), "env[%zu]", i);
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!name || !*name)
			return field_error_set(err, field, "name is required");
		const json_t *from = json_object_get(e, "valueFrom");
		_cleanup_free_ char *value = NULL;
		if (from) {
			const char *path = json_str_at(from, "fieldRef", "fieldPath");
			if (!path)
				return field_error_set(err, field,
						       "valueFrom: only fieldRef is supported by "
						       "the node harness");
			r = podspec_field_value(pod, pod_ip, path, &value);
			if (r == -ENOENT)
				return field_error_set(err, field, "unsupported fieldPath %s",
						       path);
			if (r < 0)
				return r;
		} else {
			const char *raw = json_string_value(json_object_get(e, "value"));
			r = expand_refs(raw ? raw : "", v, &value);
			if (r < 0)
				return r;
		}
		char *kv;
		if (asprintf(&kv, "%s=%s", name, value) < 0)
			return -ENOMEM;
		r = strv_push(&v, &n, POD_MAX_ENV, kv);
		if (r == -E2BIG)
			return field_error_set(err, "env", "more than %d variables", POD_MAX_ENV);
		if (r < 0)
			return r;
	}
	if (!v && !(v = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret = TAKE_PTR(v);
	return 0;
}

const json_t *podspec_security_field(const json_t *pod, const json_t *container, const char *field)
{
	const json_t *v = json_object_get(json_object_get(container, "securityContext"), field);
	if (v && !json_is_null(v))
		return v;
	v = json_object_get(json_object_get(json_object_get(pod, "spec"), "securityContext"),
			    field);
	return json_is_null(v) ? NULL : v;
}

int podspec_container_seccomp(const json_t *pod, const json_t *container,
			      enum seccomp_kind *ret_kind, const char **ret_localhost,
			      struct field_error *err)
{
	const json_t *profile = podspec_security_field(pod, container, "seccompProfile");
	if (!profile) {
		*ret_kind = SECCOMP_UNCONFINED;
		*ret_localhost = NULL;
		return 0;
	}
	const char *type = json_string_value(json_object_get(profile, "type"));
	if (!type)
		return field_error_set(err, "securityContext.seccompProfile.type", "required");
	if (!strcmp(type, "Unconfined")) {
		*ret_kind = SECCOMP_UNCONFINED;
		*ret_localhost = NULL;
		return 0;
	}
	if (!strcmp(type, "RuntimeDefault")) {
		*ret_kind = SECCOMP_RUNTIME_DEFAULT;
		*ret_localhost = NULL;
		return 0;
	}
	if (strcmp(type, "Localhost"))
		return field_error_set(err, "securityContext.seccompProfile.type",
				       "must be Unconfined, RuntimeDefault or Localhost, not %s",
				       type);
	const char *path = json_string_value(json_object_get(profile, "localhostProfile"));
	if (!path || !*path)
		return field_error_set(err, "securityContext.seccompProfile.localhostProfile",
				       "required for type Localhost");
	/* The kubelet joins it under <root>/seccomp; a ".." would leave that directory. */
	if (path[0] == '/' || strstr(path, ".."))
		return field_error_set(err, "securityContext.seccompProfile.localhostProfile",
				       "must be a relative path without '..', not %s", path);
	*ret_kind = SECCOMP_LOCALHOST;
	*ret_localhost = path;
	return 0;
}
