/* Kubeconfig and in-cluster configuration; see config.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "base64.h"
#include "buf.h"
#include "cleanup.h"
#include "kube/config.h"

#define YAML_MAX_DEPTH 32

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads a whole regular file of at most max bytes. -EFBIG when larger. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	_cleanup_buf_ struct buf b = BUF_INIT(max);
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		int r = buf_append(&b, chunk, (size_t)n);
		if (r == -EMSGSIZE)
			return -EFBIG;
		if (r < 0)
			return r;
	}
	size_t len = b.len;
	char *data = b.data ? buf_steal(&b) : strdup("");
	if (!data)
		return -ENOMEM;
	*ret = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* ---- YAML → JSON ---------------------------------------------------------------------------- */

/* Every scalar becomes a JSON string (kubeconfig values are strings) except a plain empty,
 * "~" or "null", which becomes null. Aliases are refused: expanding them is how a tiny YAML
 * file turns into gigabytes. */
static int yaml_to_json(const char *data, size_t len, json_t **ret, struct field_error *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	json_t *stack[YAML_MAX_DEPTH];
	char *keys[YAML_MAX_DEPTH];
	int depth = 0, r = 0;
	json_t *root = NULL;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	memset(keys, 0, sizeof(keys));

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = field_error_set(err, "kubeconfig", "invalid YAML at line %zu: %s",
					    parser.problem_mark.line + 1,
					    parser.problem ? parser.problem : "parse error");
			break;
		}
		json_t *node = NULL;
		bool push = false;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_END_EVENT:
			/* Only the first document counts, as for kubectl. */
			done = root != NULL;
			break;
		case YAML_ALIAS_EVENT:
			r = field_error_set(err, "kubeconfig",
					    "YAML aliases are not supported (line %zu)",
					    ev.start_mark.line + 1);
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			if (plain && (!v[0] || strcmp(v, "~") == 0 || strcmp(v, "null") == 0))
				node = json_null();
			else
				node = json_stringn(v, ev.data.scalar.length);
			break;
		}
		case YAML_MAPPING_START_EVENT:
			node = json_object();
			push = true;
			break;
		case YAML_SEQUENCE_START_EVENT:
			node = json_array();
			push = true;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			free(keys[depth]);
			keys[depth] = NULL;
			break;
		default: break;
		}
		if (r == 0 && (ev.type == YAML_SCALAR_EVENT || push) && !node)
			r = -ENOMEM;
		if (r == 0 && node) {
			if (depth == 0) {
				if (!root)
					root = json_incref(node);
			} else {
				json_t *parent = stack[depth - 1];
				if (json_is_array(parent)) {
					if (json_array_append(parent, node) < 0)
						r = -ENOMEM;
				} else if (!keys[depth - 1]) {
					/* A mapping key: only scalars make sense in a kubeconfig.
					 */
					if (!json_is_string(node))
						r = field_error_set(err, "kubeconfig",
								    "mapping keys must be strings "
								    "(line %zu)",
								    ev.start_mark.line + 1);
					else if (!(keys[depth - 1] =
							   strdup(json_string_value(node))))
						r = -ENOMEM;
				} else {
					if (json_object_set(parent, keys[depth - 1], node) < 0)
						r = -ENOMEM;
					free(keys[depth - 1]);
					keys[depth - 1] = NULL;
				}
			}
			if (r == 0 && push) {
				if (depth >= YAML_MAX_DEPTH)
					r = field_error_set(err, "kubeconfig",
							    "nested deeper than %d levels",
							    YAML_MAX_DEPTH);
				else
					stack[depth++] = node;
			}
		}
		json_decref(node);
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	for (int i = 0; i < YAML_MAX_DEPTH; i++)
		free(keys[i]);
	yaml_parser_delete(&parser);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return field_error_set(err, "kubeconfig", "not a YAML mapping");
	}
	*ret = root;
	return 0;
}

/* ---- kubeconfig ------------------------------------------------------------------------------ */

static struct kube_config *config_new(void)
{
	struct kube_config *c = calloc(1, sizeof(*c));
	if (c)
		pthread_mutex_init(&c->token_lock, NULL);
	return c;
}

struct kube_config *kube_config_free(struct kube_config *c)
{
	if (!c)
		return NULL;
	free(c->server);
	free(c->ca_pem);
	free(c->cert_pem);
	if (c->key_pem) {
		explicit_bzero(c->key_pem, c->key_len);
		free(c->key_pem);
	}
	free(c->namespace);
	free(c->context);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	pthread_mutex_destroy(&c->token_lock);
	free(c);
	return NULL;
}

static void kube_config_freep(struct kube_config **c)
{
	kube_config_free(*c);
}

/* An optional string field: NULL when absent or null, -EINVAL when present but not a string. */
static int get_str(const json_t *obj, const char *key, const char *path, const char **ret,
		   struct field_error *err)
{
	const json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return field_error_set(err, path, "must be a string");
	*ret = json_string_value(v);
	return 0;
}

/* Finds the entry of a named list (contexts, clusters, users): its index and inner object. */
static int find_named(const json_t *root, const char *list, const char *inner, const char *name,
		      const json_t **ret, size_t *ret_index, struct field_error *err)
{
	const json_t *arr = json_object_get(root, list);
	if (arr && !json_is_null(arr) && !json_is_array(arr))
		return field_error_set(err, list, "must be a list");
	size_t i;
	const json_t *e;
	json_array_foreach (arr, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (!n || strcmp(n, name) != 0)
			continue;
		const json_t *in = json_object_get(e, inner);
		if (!json_is_object(in)) {
			char field[64];
			snprintf(field, sizeof(field), "%s[%zu].%s", list, i, inner);
			return field_error_set(err, field, "missing or not a mapping");
		}
		*ret = in;
		*ret_index = i;
		return 0;
	}
	return field_error_set(err, list, "no entry named \"%s\"", name);
}

static int resolve_path(const char *dir, const char *p, char **ret)
{
	char *s;
	if (p[0] == '/' || !dir || !dir[0])
		s = strdup(p);
	else if (asprintf(&s, "%s/%s", dir, p) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* A credential given either inline (base64 in "<key>-data") or as a file ("<key>"); the
 * inline form wins, as in client-go. */
static int load_blob(const json_t *obj, const char *prefix, const char *file_key,
		     const char *data_key, const char *dir, char **ret, size_t *ret_len,
		     struct field_error *err)
{
	char field[128];
	const char *data = NULL, *file = NULL;
	int r;

	snprintf(field, sizeof(field), "%s.%s", prefix, data_key);
	r = get_str(obj, data_key, field, &data, err);
	if (r < 0)
		return r;
	if (data) {
		struct buf decoded = BUF_INIT(strlen(data));
		r = base64_decode_lenient_append(&decoded, data, strlen(data));
		if (r == 0) {
			*ret_len = decoded.len;
			*ret = buf_steal(&decoded);
			r = *ret ? 0 : -ENOMEM;
		}
		buf_free(&decoded);
		if (r == -EINVAL)
			return field_error_set(err, field, "not valid base64");
		if (r == 0 && *ret_len == 0) {
			free(*ret);
			*ret = NULL;
			return field_error_set(err, field, "empty");
		}
		return r;
	}
	snprintf(field, sizeof(field), "%s.%s", prefix, file_key);
	r = get_str(obj, file_key, field, &file, err);
	if (r < 0)
		return r;
	if (!file || !file[0])
		return 0;
	_cleanup_free_ char *path = NULL;
	r = resolve_path(dir, file, &path);
	if (r < 0)
		return r;
	r = read_file(path, KUBE_CONFIG_MAX_SIZE, ret, ret_len);
	if (r < 0) {
		field_error_set(err, field, "cannot read %s: %s", path,
				r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	return 0;
}

static int check_server(const char *server, const char *field, struct field_error *err)
{
	if (!server || !server[0])
		return field_error_set(err, field, "missing");
	if (strncmp(server, "https://", 8) != 0)
		return field_error_set(err, field,
				       "must be an https:// URL (TLS is required), not \"%.100s\"",
				       server);
	if (strlen(server) > 2048 || strpbrk(server, " \t\r\n?#"))
		return field_error_set(err, field, "not a valid URL");
	return 0;
}

static int strdup_to(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);
	while (n > 8 && s[n - 1] == '/')
		s[--n] = '\0';
	return 0;
}

int kube_config_parse(const char *data, size_t len, const char *dir, const char *context,
		      struct kube_config **ret, struct field_error *err)
{
	json_t *root = NULL;
	_cleanup_(kube_config_freep) struct kube_config *c = NULL;
	const json_t *ctx, *cluster, *user;
	size_t ci, ki, ui;
	const char *s;
	char f[128];
	int r;

	if (len > KUBE_CONFIG_MAX_SIZE)
		return field_error_set(err, "kubeconfig", "larger than %u bytes",
				       KUBE_CONFIG_MAX_SIZE);
	r = yaml_to_json(data, len, &root, err);
	if (r < 0)
		return r;

	if (!context) {
		r = get_str(root, "current-context", "current-context", &context, err);
		if (r < 0)
			goto out;
		if (!context || !context[0]) {
			r = field_error_set(err, "current-context", "not set and no context given");
			goto out;
		}
	}
	r = find_named(root, "contexts", "context", context, &ctx, &ci, err);
	if (r < 0)
		goto out;

	r = -ENOMEM;
	if (!(c = config_new()) || strdup_to(&c->context, context) < 0)
		goto out;

	const char *cluster_name = NULL, *user_name = NULL, *ns = NULL;
	snprintf(f, sizeof(f), "contexts[%zu].context.cluster", ci);
	if ((r = get_str(ctx, "cluster", f, &cluster_name, err)) < 0)
		goto out;
	if (!cluster_name) {
		r = field_error_set(err, f, "missing");
		goto out;
	}
	snprintf(f, sizeof(f), "contexts[%zu].context.user", ci);
	if ((r = get_str(ctx, "user", f, &user_name, err)) < 0)
		goto out;
	snprintf(f, sizeof(f), "contexts[%zu].context.namespace", ci);
	if ((r = get_str(ctx, "namespace", f, &ns, err)) < 0)
		goto out;
	if ((r = strdup_to(&c->namespace, ns && ns[0] ? ns : "default")) < 0)
		goto out;

	/* Cluster. */
	if ((r = find_named(root, "clusters", "cluster", cluster_name, &cluster, &ki, err)) < 0)
		goto out;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "clusters[%zu].cluster", ki);
	snprintf(f, sizeof(f), "%s.server", prefix);
	if ((r = get_str(cluster, "server", f, &s, err)) < 0 || (r = check_server(s, f, err)) < 0)
		goto out;
	if ((r = strdup_to(&c->server, s)) < 0)
		goto out;
	strip_trailing_slashes(c->server);
	const json_t *insecure = json_object_get(cluster, "insecure-skip-tls-verify");
	if (insecure && !json_is_null(insecure)) {
		const char *v = json_string_value(insecure);
		snprintf(f, sizeof(f), "%s.insecure-skip-tls-verify", prefix);
		if (!v || (strcmp(v, "false") && strcmp(v, "False") && strcmp(v, "FALSE"))) {
			r = field_error_set(err, f,
					    "refused: TLS verification cannot be disabled; "
					    "set certificate-authority(-data) instead");
			goto out;
		}
	}
	static const char *const unsupported_cluster[] = {"tls-server-name", "proxy-url"};
	for (size_t i = 0; i < ARRAY_SIZE(unsupported_cluster); i++) {
		const json_t *v = json_object_get(cluster, unsupported_cluster[i]);
		if (v && !json_is_null(v)) {
			snprintf(f, sizeof(f), "%s.%s", prefix, unsupported_cluster[i]);
			r = field_error_set(err, f, "not supported");
			goto out;
		}
	}
	r = load_blob(cluster, prefix, "certificate-authority", "certificate-authority-data", dir,
		      &c->ca_pem, &c->ca_len, err);
	if (r < 0)
		goto out;

	/* User (optional: a context may have none, e.g. an anonymous test cluster). */
	if (user_name && user_name[0]) {
		if ((r = find_named(root, "users", "user", user_name, &user, &ui, err)) < 0)
			goto out;
		snprintf(prefix, sizeof(prefix), "users[%zu].user", ui);
		static const char *const unsupported[] = {"exec", "auth-provider", "username",
							  "password"};
		for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
			const json_t *v = json_object_get(user, unsupported[i]);
			if (v && !json_is_null(v)) {
				snprintf(f, sizeof(f), "%s.%s", prefix, unsupported[i]);
				r = field_error_set(err, f,
						    "not supported (user \"%s\"); use a client "
						    "certificate, token or tokenFile",
						    user_name);
				goto out;
			}
		}
		r = load_blob(user, prefix, "client-certificate", "client-certificate-data", dir,
			      &c->cert_pem, &c->cert_len, err);
		if (r < 0)
			goto out;
		r = load_blob(user, prefix, "client-key", "client-key-data", dir, &c->key_pem,
			      &c->key_len, err);
		if (r < 0)
			goto out;
		if (!c->cert_pem != !c->key_pem) {
			snprintf(f, sizeof(f), "%s.%s", prefix,
				 c->cert_pem ? "client-key" : "client-certificate");
			r = field_error_set(err, f, "missing (a client certificate needs its key)");
			goto out;
		}
		snprintf(f, sizeof(f), "%s.token", prefix);
		if ((r = get_str(user, "token", f, &s, err)) < 0 ||
		    (r = strdup_to(&c->token, s && s[0] ? s : NULL)) < 0)
			goto out;
		snprintf(f, sizeof(f), "%s.tokenFile", prefix);
		if ((r = get_str(user, "tokenFile", f, &s, err)) < 0)
			goto out;
		/* As client-go: the file, once read, takes precedence over an inline token. */
		if (s && s[0]) {
			if ((r = resolve_path(dir, s, &c->token_file)) < 0)
				goto out;
			/* Read it now so a missing file is reported at load, naming the field. */
			_cleanup_free_ char *tok = NULL;
			r = kube_config_token(c, 1, &tok);
			if (r < 0) {
				field_error_set(err, f, "cannot read %s: %s", c->token_file,
						strerror(-r));
				goto out;
			}
		}
	}
	*ret = TAKE_PTR(c);
	r = 0;
out:
	json_decref(root);
	return r;
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **ret,
			  struct field_error *err)
{
	_cleanup_free_ char *data = NULL, *dir = NULL;
	size_t len;
	int r = read_file(path, KUBE_CONFIG_MAX_SIZE, &data, &len);
	if (r < 0) {
		field_error_set(err, "kubeconfig", "cannot read %s: %s", path,
				r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	const char *slash = strrchr(path, '/');
	if (slash && !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))))
		return -ENOMEM;
	return kube_config_parse(data, len, dir, context, ret, err);
}

/* Trims the trailing newline a token or namespace file usually ends with. */
static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

int kube_config_in_cluster(const char *root, struct kube_config **ret, struct field_error *err)
{
	_cleanup_(kube_config_freep) struct kube_config *c = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	_cleanup_free_ char *path = NULL;
	int r;

	if (!host || !host[0] || !port || !port[0])
		return -ENXIO;
	if (!root)
		root = KUBE_SERVICEACCOUNT_ROOT;
	if (!(c = config_new()) || strdup_to(&c->context, "in-cluster") < 0)
		return -ENOMEM;
	/* An IPv6 service address needs brackets in a URL. */
	bool v6 = strchr(host, ':') != NULL;
	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) <
	    0) {
		c->server = NULL;
		return -ENOMEM;
	}
	if ((r = check_server(c->server, "KUBERNETES_SERVICE_HOST", err)) < 0)
		return r;

	if (asprintf(&path, "%s/ca.crt", root) < 0)
		return -ENOMEM;
	r = read_file(path, KUBE_CONFIG_MAX_SIZE, &c->ca_pem, &c->ca_len);
	if (r < 0) {
		field_error_set(err, "ca.crt", "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	free(path);
	if (asprintf(&path, "%s/namespace", root) < 0)
		return -ENOMEM;
	r = read_file(path, 256, &c->namespace, NULL);
	if (r < 0 && (r = strdup_to(&c->namespace, "default")) < 0)
		return r;
	chomp(c->namespace);
	free(path);
	path = NULL;
	if (asprintf(&c->token_file, "%s/token", root) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	_cleanup_free_ char *tok = NULL;
	r = kube_config_token(c, 1, &tok);
	if (r < 0) {
		field_error_set(err, "token", "cannot read %s: %s", c->token_file, strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int kube_config_load_default(const char *path, const char *context, struct kube_config **ret,
			     struct field_error *err)
{
	_cleanup_free_ char *first = NULL, *home_path = NULL;
	if (!path) {
		const char *env = getenv("KUBECONFIG");
		if (env && env[0]) {
			if (!(first = strndup(env, strcspn(env, ":"))))
				return -ENOMEM;
			path = first;
		}
	}
	if (!path) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST");
		if (h && h[0])
			return kube_config_in_cluster(NULL, ret, err);
		const char *home = getenv("HOME");
		if (!home || asprintf(&home_path, "%s/.kube/config", home) < 0) {
			home_path = NULL;
			return field_error_set(err, "kubeconfig",
					       "no --kubeconfig, $KUBECONFIG, in-cluster "
					       "environment or $HOME");
		}
		path = home_path;
	}
	return kube_config_load_file(path, context, ret, err);
}

int kube_config_token(struct kube_config *c, int force, char **ret)
{
	int r = 0;
	pthread_mutex_lock(&c->token_lock);
	uint64_t now = now_ms();
	if (c->token_file &&
	    (force || !c->token || now - c->token_read_ms >= KUBE_TOKEN_REFRESH_SEC * 1000ULL)) {
		char *fresh = NULL;
		r = read_file(c->token_file, KUBE_CONFIG_MAX_SIZE, &fresh, NULL);
		if (r == 0) {
			chomp(fresh);
			if (!fresh[0]) {
				free(fresh);
				r = -ENODATA;
			} else {
				if (c->token) {
					explicit_bzero(c->token, strlen(c->token));
					free(c->token);
				}
				c->token = fresh;
				c->token_read_ms = now;
			}
		}
		/* A failed re-read keeps the token we have: it may still be valid. */
		if (r < 0 && c->token)
			r = 0;
	}
	char *copy = NULL;
	if (r == 0 && c->token && !(copy = strdup(c->token)))
		r = -ENOMEM;
	pthread_mutex_unlock(&c->token_lock);
	if (r == 0)
		*ret = copy;
	return r;
}
