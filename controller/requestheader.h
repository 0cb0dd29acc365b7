/* Trusting the API server's aggregation layer (front proxy), as every aggregated API server
 * does: a request for recordings.bulwark.dev reaches the controller from kube-apiserver, which
 * has already authenticated the caller and authorized the request against RBAC, and which
 * names the caller in X-Remote-User / X-Remote-Group headers. Those headers are believed only
 * on a connection whose client certificate chains to the front-proxy CA and, when the API
 * server publishes a list of allowed names, carries one of them as its common name; anyone
 * else could write the same headers.
 *
 * The API server publishes that trust in the ConfigMap kube-system/
 * extension-apiserver-authentication (keys requestheader-client-ca-file,
 * requestheader-allowed-names, requestheader-username-headers, requestheader-group-headers),
 * which the role extension-apiserver-authentication-reader may read. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "httpd.h"
#include "kube/client.h"

#define REQUESTHEADER_MAX_NAMES	 32
#define REQUESTHEADER_MAX_GROUPS 32

struct requestheader_config {
	char *client_ca_pem; /* PEM bundle, for httpd_config.client_ca_pem */
	char *allowed_names[REQUESTHEADER_MAX_NAMES];
	size_t n_allowed_names; /* 0: any certificate of the CA */
	char *username_headers[REQUESTHEADER_MAX_NAMES];
	size_t n_username_headers;
	char *group_headers[REQUESTHEADER_MAX_NAMES];
	size_t n_group_headers;
};

/* From the ConfigMap object. -EINVAL with err naming the key (a missing CA, a list that is not
 * a JSON array of strings, no username header), -ENOMEM. */
int requestheader_config_parse(const json_t *configmap, struct requestheader_config *ret,
			       struct field_error *err);
/* GET kube-system/extension-apiserver-authentication and parse it. */
int requestheader_config_load(struct kube_client *client, struct requestheader_config *ret,
			      struct field_error *err);
void requestheader_config_done(struct requestheader_config *c);

/* Who kube-apiserver says is calling. */
struct requestheader_user {
	char name[256];
	char groups[1024]; /* comma-separated, for logs */
};

/* 0 with *ret filled when the request comes from the front proxy and names a user; -EACCES
 * with the reason in msg otherwise (answer 401). require_user false accepts the front proxy's
 * own requests (discovery, availability checks), which carry no user. */
int requestheader_authenticate(const struct requestheader_config *c,
			       const struct httpd_request *req, bool require_user,
			       struct requestheader_user *ret, char *msg, size_t size);
