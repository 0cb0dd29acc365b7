#include "controller/requestheader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define CONFIGMAP_NAMESPACE "kube-system"
#define CONFIGMAP_NAME	    "extension-apiserver-authentication"

static void free_list(char **list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(list[i]);
	*n = 0;
}

void requestheader_config_done(struct requestheader_config *c)
{
	free(c->client_ca_pem);
	c->client_ca_pem = NULL;
	free_list(c->allowed_names, &c->n_allowed_names);
	free_list(c->username_headers, &c->n_username_headers);
	free_list(c->group_headers, &c->n_group_headers);
}

/* A data value holding a JSON array of strings (how the API server writes these lists); an
 * absent key is an empty list. */
static int parse_list(const json_t *data, const char *key, char **list, size_t *n,
		      struct field_error *err)
{
	char field[128];
	snprintf(field, sizeof(field), "data.%s", key);
	const char *s = json_string_value(json_object_get(data, key));
	if (!s)
		return 0;
	json_error_t je;
	json_auto_t *arr = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_array(arr))
		return field_error_set(err, field, "must be a JSON array of strings, got %s", s);
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return field_error_set(err, field, "item %zu is not a non-empty string", i);
		if (*n >= REQUESTHEADER_MAX_NAMES)
			return field_error_set(err, field, "more than %d names",
					       REQUESTHEADER_MAX_NAMES);
		if (!(list[*n] = strdup(json_string_value(v))))
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

int requestheader_config_parse(const json_t *configmap, struct requestheader_config *ret,
			       struct field_error *err)
{
	struct requestheader_config c = {0};
	const json_t *data = json_object_get(configmap, "data");
	const char *ca = json_string_value(json_object_get(data, "requestheader-client-ca-file"));
	int r;
	if (!ca || !strstr(ca, "-----BEGIN CERTIFICATE-----")) {
		r = field_error_set(err, "data.requestheader-client-ca-file",
				    "missing or not a PEM certificate: the API server runs "
				    "without --requestheader-client-ca-file, so it cannot "
				    "forward requests to an aggregated API");
		goto fail;
	}
	if (!(c.client_ca_pem = strdup(ca))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = parse_list(data, "requestheader-allowed-names", c.allowed_names,
			    &c.n_allowed_names, err)) < 0 ||
	    (r = parse_list(data, "requestheader-username-headers", c.username_headers,
			    &c.n_username_headers, err)) < 0 ||
	    (r = parse_list(data, "requestheader-group-headers", c.group_headers,
			    &c.n_group_headers, err)) < 0)
		goto fail;
	if (c.n_username_headers == 0) {
		r = field_error_set(err, "data.requestheader-username-headers",
				    "no header names the user (--requestheader-username-headers)");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	requestheader_config_done(&c);
	return r;
}

int requestheader_config_load(struct kube_client *client, struct requestheader_config *ret,
			      struct field_error *err)
{
	json_auto_t *cm = NULL;
	struct kube_status st = {0};
	int r = kube_get(client, &KUBE_RES_CONFIGMAPS, CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, &cm,
			 &st);
	if (r < 0) {
		field_error_set(err, "configmaps/" CONFIGMAP_NAMESPACE "/" CONFIGMAP_NAME,
				"cannot read it: %s", st.message[0] ? st.message : strerror(-r));
		return r;
	}
	return requestheader_config_parse(cm, ret, err);
}

int requestheader_authenticate(const struct requestheader_config *c,
			       const struct httpd_request *req, bool require_user,
			       struct requestheader_user *ret, char *msg, size_t size)
{
	char cn[256];
	int r = httpd_request_client_cert(req, cn, sizeof(cn));
	if (r == -ENOENT) {
		snprintf(msg, size,
			 "only the API server's front proxy may call this server (no "
			 "client certificate)");
		return -EACCES;
	}
	if (r < 0) {
		snprintf(msg, size, "the client certificate is not one of the front-proxy CA");
		return -EACCES;
	}
	bool allowed = c->n_allowed_names == 0;
	for (size_t i = 0; i < c->n_allowed_names && !allowed; i++)
		allowed = strcmp(cn, c->allowed_names[i]) == 0;
	if (!allowed) {
		snprintf(msg, size, "client certificate %s is not an allowed front-proxy name", cn);
		return -EACCES;
	}
	struct requestheader_user u = {0};
	for (size_t i = 0; i < c->n_username_headers && !u.name[0]; i++) {
		const char *v = httpd_request_header(req, c->username_headers[i]);
		if (v && *v)
			snprintf(u.name, sizeof(u.name), "%s", v);
	}
	if (require_user && !u.name[0]) {
		snprintf(msg, size, "the front proxy named no user");
		return -EACCES;
	}
	size_t len = 0;
	for (size_t i = 0; i < c->n_group_headers; i++) {
		const char *groups[REQUESTHEADER_MAX_GROUPS];
		size_t n = httpd_request_header_values(req, c->group_headers[i], groups,
						       REQUESTHEADER_MAX_GROUPS);
		for (size_t j = 0; j < n && len < sizeof(u.groups); j++)
			len += (size_t)snprintf(u.groups + len, sizeof(u.groups) - len, "%s%s",
						len ? "," : "", groups[j]);
	}
	*ret = u;
	return 0;
}
