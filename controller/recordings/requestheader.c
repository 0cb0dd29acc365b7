#include "controller/recordings/requestheader.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define CONFIGMAP_NAMESPACE REQUESTHEADER_CONFIGMAP_NAMESPACE
#define CONFIGMAP_NAME	    REQUESTHEADER_CONFIGMAP_NAME
#define CA_FIELD	    "data.requestheader-client-ca-file"
#define PEM_CERT_BEGIN	    "-----BEGIN CERTIFICATE-----"

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
	if (!ca || !strstr(ca, PEM_CERT_BEGIN)) {
		r = field_error_set(err, CA_FIELD,
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

static bool list_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

bool requestheader_config_equal(const struct requestheader_config *a,
				const struct requestheader_config *b)
{
	return strcmp(a->client_ca_pem, b->client_ca_pem) == 0 &&
	       list_equal(a->allowed_names, a->n_allowed_names, b->allowed_names,
			  b->n_allowed_names) &&
	       list_equal(a->username_headers, a->n_username_headers, b->username_headers,
			  b->n_username_headers) &&
	       list_equal(a->group_headers, a->n_group_headers, b->group_headers,
			  b->n_group_headers);
}

int requestheader_configmap_get(struct kube_client *client, json_t **ret, struct field_error *err)
{
	struct kube_status st = {0};
	int r = kube_get(client, &KUBE_RES_CONFIGMAPS, CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, ret,
			 &st);
	if (r < 0)
		field_error_set(err, "configmaps/" CONFIGMAP_NAMESPACE "/" CONFIGMAP_NAME,
				"cannot read it: %s", st.message[0] ? st.message : strerror(-r));
	return r;
}

/* ---- one generation of the trust ----------------------------------------------------------- */

struct requestheader_trust {
	atomic_int refs;
	struct requestheader_config config;
	gnutls_x509_trust_list_t cas;
	size_t n_cas;
};

struct requestheader_trust *requestheader_trust_ref(struct requestheader_trust *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

struct requestheader_trust *requestheader_trust_unref(struct requestheader_trust *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return NULL;
	if (t->cas)
		gnutls_x509_trust_list_deinit(t->cas, 1);
	requestheader_config_done(&t->config);
	free(t);
	return NULL;
}

const struct requestheader_config *requestheader_trust_config(const struct requestheader_trust *t)
{
	return &t->config;
}

size_t requestheader_trust_n_cas(const struct requestheader_trust *t)
{
	return t->n_cas;
}

static size_t count_substr(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Every certificate of the bundle, as CAs of a new trust list. The API server writes a bundle
 * with the old and the new CA while it rotates, so each must parse: a bundle with one broken
 * block is refused whole rather than trusted in part. */
static int load_cas(const char *pem, gnutls_x509_trust_list_t *ret, size_t *ret_n,
		    struct field_error *err)
{
	size_t len = strlen(pem), blocks = count_substr(pem, PEM_CERT_BEGIN);
	if (len > REQUESTHEADER_MAX_CA_BYTES)
		return field_error_set(err, CA_FIELD, "%zu bytes, more than the %u allowed", len,
				       REQUESTHEADER_MAX_CA_BYTES);
	if (blocks > REQUESTHEADER_MAX_CAS)
		return field_error_set(err, CA_FIELD, "%zu certificates, more than the %d allowed",
				       blocks, REQUESTHEADER_MAX_CAS);
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	int g = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0)
		return field_error_set(err, CA_FIELD, "a certificate does not parse: %s",
				       gnutls_strerror(g));
	int r = 0;
	gnutls_x509_trust_list_t tl = NULL;
	if (n != blocks)
		r = field_error_set(err, CA_FIELD, "%u of %zu certificates parse", n, blocks);
	else if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		r = -ENOMEM;
	if (r < 0) {
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(crts[i]);
		gnutls_free(crts);
		return r;
	}
	/* The list owns the certificates from here, even when adding fails. */
	g = gnutls_x509_trust_list_add_cas(tl, crts, n, 0);
	gnutls_free(crts);
	if (g < 0 || (unsigned)g != n) {
		gnutls_x509_trust_list_deinit(tl, 1);
		return field_error_set(err, CA_FIELD, "%d of %u certificates usable as CAs", g, n);
	}
	*ret = tl;
	*ret_n = n;
	return 0;
}

int requestheader_trust_new(const json_t *configmap, struct requestheader_trust **ret,
			    struct field_error *err)
{
	struct requestheader_trust *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	int r = requestheader_config_parse(configmap, &t->config, err);
	if (r == 0)
		r = load_cas(t->config.client_ca_pem, &t->cas, &t->n_cas, err);
	if (r < 0) {
		requestheader_trust_unref(t);
		return r;
	}
	*ret = t;
	return 0;
}

static int verify_chain(gnutls_x509_trust_list_t cas, gnutls_x509_crt_t *crts, unsigned n,
			char *msg, size_t size)
{
	/* Chain, validity periods and key purpose, as the API server's own x509 authenticator
	 * checks a client (KeyUsages: client auth). */
	gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
					 .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
	unsigned status = 0;
	int g = gnutls_x509_trust_list_verify_crt2(cas, crts, n, &purpose, 1, 0, &status, NULL);
	if (g < 0) {
		snprintf(msg, size, "the client certificate cannot be verified: %s",
			 gnutls_strerror(g));
		return -EKEYREJECTED;
	}
	if (status == 0)
		return 0;
	gnutls_datum_t why = {0};
	if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) < 0)
		why.data = NULL;
	snprintf(msg, size, "the client certificate is not one of the front-proxy CA: %s",
		 why.data ? (const char *)why.data : "not verified");
	gnutls_free(why.data);
	return -EKEYREJECTED;
}

int requestheader_trust_verify(const struct requestheader_trust *t, const struct httpd_der *chain,
			       size_t n, char *ret_cn, size_t cn_size, char *msg, size_t msg_size)
{
	if (n == 0) {
		snprintf(msg, msg_size, "no client certificate");
		return -EKEYREJECTED;
	}
	if (n > REQUESTHEADER_MAX_CHAIN)
		n = REQUESTHEADER_MAX_CHAIN;
	gnutls_x509_crt_t crts[REQUESTHEADER_MAX_CHAIN] = {0};
	unsigned imported = 0;
	int r = 0;
	for (; imported < n; imported++) {
		gnutls_datum_t d = {(unsigned char *)chain[imported].data,
				    (unsigned)chain[imported].len};
		if (gnutls_x509_crt_init(&crts[imported]) < 0) {
			r = -ENOMEM;
			break;
		}
		if (gnutls_x509_crt_import(crts[imported], &d, GNUTLS_X509_FMT_DER) < 0) {
			imported++;
			snprintf(msg, msg_size, "client certificate %u does not parse", imported);
			r = -EKEYREJECTED;
			break;
		}
	}
	if (r == 0)
		r = verify_chain(t->cas, crts, imported, msg, msg_size);
	char cn[256];
	size_t cn_len = sizeof(cn);
	if (r == 0 && gnutls_x509_crt_get_dn_by_oid(crts[0], GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn,
						    &cn_len) < 0) {
		snprintf(msg, msg_size, "the client certificate has no common name");
		r = -EKEYREJECTED;
	}
	for (unsigned i = 0; i < imported; i++)
		gnutls_x509_crt_deinit(crts[i]);
	if (r < 0)
		return r;
	bool allowed = t->config.n_allowed_names == 0;
	for (size_t i = 0; i < t->config.n_allowed_names && !allowed; i++)
		allowed = strcmp(cn, t->config.allowed_names[i]) == 0;
	if (!allowed) {
		snprintf(msg, msg_size, "client certificate %s is not an allowed front-proxy name",
			 cn);
		return -EKEYREJECTED;
	}
	if (cn_len >= cn_size) {
		snprintf(msg, msg_size, "the client certificate's common name is too long");
		return -EKEYREJECTED;
	}
	memcpy(ret_cn, cn, cn_len + 1);
	return 0;
}

int requestheader_authenticate(const struct requestheader_trust *t, const struct httpd_request *req,
			       bool require_user, struct requestheader_user *ret, char *msg,
			       size_t size)
{
	if (!t) {
		snprintf(msg, size,
			 "no front-proxy trust: the API server's ConfigMap " CONFIGMAP_NAMESPACE
			 "/" CONFIGMAP_NAME " was deleted");
		return -ENOENT;
	}
	struct httpd_der chain[REQUESTHEADER_MAX_CHAIN];
	size_t n = httpd_request_client_chain(req, chain, REQUESTHEADER_MAX_CHAIN);
	if (n == 0) {
		snprintf(msg, size,
			 "only the API server's front proxy may call this server (no "
			 "client certificate)");
		return -ENOENT;
	}
	char cn[256];
	int r = requestheader_trust_verify(t, chain, n, cn, sizeof(cn), msg, size);
	if (r < 0)
		return r;
	const struct requestheader_config *c = &t->config;
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
		size_t n_groups = httpd_request_header_values(req, c->group_headers[i], groups,
							      REQUESTHEADER_MAX_GROUPS);
		for (size_t j = 0; j < n_groups && len < sizeof(u.groups); j++)
			len += (size_t)snprintf(u.groups + len, sizeof(u.groups) - len, "%s%s",
						len ? "," : "", groups[j]);
	}
	*ret = u;
	return 0;
}
