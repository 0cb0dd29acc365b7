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
 * which the role extension-apiserver-authentication-reader may read. The API server rewrites
 * it when its front-proxy CA changes, so the trust is a generation (struct requestheader_trust)
 * that requestheader_reload.h replaces while requests are served: the certificate is checked
 * here, per request, against the generation current when the request arrived, not by the TLS
 * library whose trust list is fixed when the listener starts. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "httpd.h"
#include "kube/client.h"

#define REQUESTHEADER_MAX_NAMES	 32
#define REQUESTHEADER_MAX_GROUPS 32
/* A CA bundle holds at most this many certificates, in at most this many bytes (a rotation
 * lists two or three). */
#define REQUESTHEADER_MAX_CAS	   16
#define REQUESTHEADER_MAX_CA_BYTES (256u << 10)
/* Certificates of a client chain looked at (leaf and intermediates). */
#define REQUESTHEADER_MAX_CHAIN		  8

#define REQUESTHEADER_CONFIGMAP_NAMESPACE "kube-system"
#define REQUESTHEADER_CONFIGMAP_NAME	  "extension-apiserver-authentication"

struct requestheader_config {
	char *client_ca_pem; /* PEM bundle, every certificate a CA the front proxy may use */
	char *allowed_names[REQUESTHEADER_MAX_NAMES];
	size_t n_allowed_names; /* 0: any certificate of the CA */
	char *username_headers[REQUESTHEADER_MAX_NAMES];
	size_t n_username_headers;
	char *group_headers[REQUESTHEADER_MAX_NAMES];
	size_t n_group_headers;
};

/* From the ConfigMap object. -EINVAL with err naming the key (a missing CA, a list that is not
 * a JSON array of strings, no username header), -ENOMEM. The CA bundle is only looked at for
 * a PEM header here; requestheader_trust_new() parses its certificates. */
int requestheader_config_parse(const json_t *configmap, struct requestheader_config *ret,
			       struct field_error *err);
void requestheader_config_done(struct requestheader_config *c);
/* Whether two configurations trust the same CAs, names and headers. */
bool requestheader_config_equal(const struct requestheader_config *a,
				const struct requestheader_config *b);

/* GET kube-system/extension-apiserver-authentication: 0 with the object, -ENOENT when it does
 * not exist, another negative errno with err saying why. */
int requestheader_configmap_get(struct kube_client *client, json_t **ret, struct field_error *err);

/* One immutable generation of the trust: the configuration and its parsed CA set. Shared by
 * reference, so a request keeps the generation it started with while a reload swaps in the
 * next one; every function here may be called from any thread. */
struct requestheader_trust;

/* Parses the ConfigMap and every certificate of its CA bundle (PEM blocks of anything but
 * certificates, an unparsable certificate, an empty or oversized bundle: -EINVAL naming
 * data.requestheader-client-ca-file). -ENOMEM. */
int requestheader_trust_new(const json_t *configmap, struct requestheader_trust **ret,
			    struct field_error *err);
struct requestheader_trust *requestheader_trust_ref(struct requestheader_trust *t);
/* NULL-safe; returns NULL. */
struct requestheader_trust *requestheader_trust_unref(struct requestheader_trust *t);
const struct requestheader_config *requestheader_trust_config(const struct requestheader_trust *t);
/* Certificates in the CA bundle. */
size_t requestheader_trust_n_cas(const struct requestheader_trust *t);

/* Checks a client chain (DER, leaf first, intermediates after it) against the CA set: the
 * chain, validity periods and the client-authentication key purpose, then the allowed names.
 * 0 with the leaf's common name in ret_cn; -EKEYREJECTED with the reason in msg. */
int requestheader_trust_verify(const struct requestheader_trust *t, const struct httpd_der *chain,
			       size_t n, char *ret_cn, size_t cn_size, char *msg, size_t msg_size);

/* Who kube-apiserver says is calling. */
struct requestheader_user {
	char name[256];
	char groups[1024]; /* comma-separated, for logs */
};

/* 0 with *ret filled when the request comes from the front proxy and names a user; the reason
 * in msg otherwise (answer 401): -ENOENT no client certificate (or no trust: t NULL),
 * -EKEYREJECTED a certificate this trust refuses (worth re-reading the ConfigMap: the CA may
 * have been rotated), -EACCES no user. require_user false accepts the front proxy's own
 * requests (discovery, availability checks), which carry no user. */
int requestheader_authenticate(const struct requestheader_trust *t, const struct httpd_request *req,
			       bool require_user, struct requestheader_user *ret, char *msg,
			       size_t size);
