/* The webhook's serving certificates kept in a Secret (certs.h); the certificates themselves
 * come from lib/tls_certs. */
#include "webhook/certs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "buf.h"
#include "cleanup.h"
#include "fileio.h"
#include "kube/client.h"
#include "log.h"

#define PEM_MAX	      CERTS_PEM_MAX
#define CA_BUNDLE_MAX CERTS_BUNDLE_MAX

/* ---- the Secret, the files, the webhook configurations ---------------------------------- */

static const struct kube_resource secrets = {"", "v1", "secrets", true};
static const struct kube_resource mutating_configs = {"admissionregistration.k8s.io", "v1",
						      "mutatingwebhookconfigurations", false};
static const struct kube_resource validating_configs = {"admissionregistration.k8s.io", "v1",
							"validatingwebhookconfigurations", false};
static const struct kube_resource apiservices = {"apiregistration.k8s.io", "v1", "apiservices",
						 false};

/* Sets holder.caBundle; whether it changed (1), 0, or -ENOMEM. */
static int set_ca_bundle(json_t *holder, const char *bundle_b64)
{
	if (!json_is_object(holder))
		return 0;
	const char *have = json_string_value(json_object_get(holder, "caBundle"));
	if (have && strcmp(have, bundle_b64) == 0)
		return 0;
	return json_object_set_new(holder, "caBundle", json_string(bundle_b64)) < 0 ? -ENOMEM : 1;
}

static const struct {
	const char *key;
	size_t offset;
} secret_keys[] = {
	{"ca.crt", offsetof(struct cert_material, ca)},
	{"ca.key", offsetof(struct cert_material, ca_key)},
	{"tls.crt", offsetof(struct cert_material, cert)},
	{"tls.key", offsetof(struct cert_material, key)},
};

static char **material_field(struct cert_material *m, size_t i)
{
	return (char **)((char *)m + secret_keys[i].offset);
}

/* Fields that are not valid base64 read as absent: renewal replaces them. */
static int material_from_secret(const json_t *secret, struct cert_material *ret)
{
	const json_t *data = json_object_get(secret, "data");
	for (size_t i = 0; i < ARRAY_SIZE(secret_keys); i++) {
		const char *v = json_string_value(json_object_get(data, secret_keys[i].key));
		if (!v)
			continue;
		_cleanup_buf_ struct buf b = BUF_INIT(PEM_MAX * CA_BUNDLE_MAX);
		int r = base64_decode_append(&b, v, strlen(v));
		if (r == -ENOMEM)
			return r;
		if (r == 0 && b.data)
			*material_field(ret, i) = buf_steal(&b);
	}
	return 0;
}

static int secret_set_data(json_t *secret, struct cert_material *m)
{
	json_t *data = json_object();
	if (!data || json_object_set_new(secret, "data", data) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(secret_keys); i++) {
		const char *v = *material_field(m, i);
		_cleanup_buf_ struct buf b = BUF_INIT(PEM_MAX * CA_BUNDLE_MAX * 2);
		int r = base64_append(&b, (const unsigned char *)v, strlen(v));
		if (r < 0)
			return r;
		if (json_object_set_new(data, secret_keys[i].key, json_string(buf_str(&b))) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Reads, renews and stores the material, retrying a race with another replica. */
static int sync_secret(struct kube_client *c, const struct cert_target *t,
		       const struct cert_options *opts, time_t now, struct cert_material *ret,
		       char *errbuf, size_t size)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct kube_status st = {0};
		json_auto_t *secret = NULL;
		int r = kube_get(c, &secrets, t->secret_namespace, t->secret_name, &secret, &st);
		if (r < 0 && r != -ENOENT) {
			snprintf(errbuf, size, "reading Secret %s/%s: %s", t->secret_namespace,
				 t->secret_name, st.message);
			return r;
		}
		struct cert_material cur = {0}, next = {0};
		bool changed = false;
		const char *why = NULL;
		if (secret && (r = material_from_secret(secret, &cur)) < 0)
			return r;
		r = certs_renew(&cur, opts, now, &next, &changed, &why);
		cert_material_done(&cur);
		if (r < 0) {
			snprintf(errbuf, size, "issuing certificates: %s", strerror(-r));
			return r;
		}
		if (!changed) {
			*ret = next;
			return 0;
		}
		if (!secret) {
			secret = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:s}",
					   "apiVersion", "v1", "kind", "Secret", "metadata", "name",
					   t->secret_name, "namespace", t->secret_namespace,
					   "labels", "app.kubernetes.io/name", "bulwark",
					   "app.kubernetes.io/component", "webhook", "type",
					   "kubernetes.io/tls");
			if (!secret) {
				cert_material_done(&next);
				return -ENOMEM;
			}
		}
		if ((r = secret_set_data(secret, &next)) < 0) {
			cert_material_done(&next);
			return r;
		}
		r = json_object_get(json_object_get(secret, "metadata"), "resourceVersion")
			    ? kube_update(c, &secrets, t->secret_namespace, secret, NULL, &st)
			    : kube_create(c, &secrets, t->secret_namespace, secret, NULL, &st);
		if (r == -ESTALE || r == -EEXIST) {
			cert_material_done(&next);
			continue; /* another replica renewed first: use theirs */
		}
		if (r < 0) {
			cert_material_done(&next);
			snprintf(errbuf, size, "writing Secret %s/%s: %s", t->secret_namespace,
				 t->secret_name, st.message);
			return r;
		}
		log_info(0, "webhook certificates renewed", "secret", t->secret_name, "reason",
			 why);
		*ret = next;
		return 0;
	}
	snprintf(errbuf, size, "Secret %s/%s kept changing under us", t->secret_namespace,
		 t->secret_name);
	return -EAGAIN;
}

/* Writes path only when its content differs, so lib/httpd reloads only real changes. */
static int write_if_changed(const char *path, const char *content, mode_t mode)
{
	if (!path)
		return 0;
	_cleanup_buf_ struct buf old = BUF_INIT(PEM_MAX * CA_BUNDLE_MAX);
	if (read_file_capped(path, &old) == 0 && strcmp(buf_str(&old), content) == 0)
		return 0;
	return write_file_atomic(path, content, strlen(content), mode);
}

static int patch_ca_bundle(struct kube_client *c, const struct kube_resource *res, const char *name,
			   const char *bundle_b64, char *errbuf, size_t size)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct kube_status st = {0};
		json_auto_t *cfg = NULL;
		int r = kube_get(c, res, NULL, name, &cfg, &st);
		if (r < 0) {
			snprintf(errbuf, size, "reading %s %s: %s", res->plural, name, st.message);
			return r;
		}
		bool changed = false;
		/* An APIService has one bundle in its spec; a webhook configuration one per
		 * webhook. */
		if (res == &apiservices) {
			if ((r = set_ca_bundle(json_object_get(cfg, "spec"), bundle_b64)) < 0)
				return r;
			changed = r > 0;
		}
		size_t i;
		json_t *wh;
		json_array_foreach (json_object_get(cfg, "webhooks"), i, wh) {
			if ((r = set_ca_bundle(json_object_get(wh, "clientConfig"), bundle_b64)) <
			    0)
				return r;
			changed |= r > 0;
		}
		if (!changed)
			return 0;
		r = kube_update(c, res, NULL, cfg, NULL, &st);
		if (r == -ESTALE)
			continue;
		if (r < 0) {
			snprintf(errbuf, size, "updating %s %s: %s", res->plural, name, st.message);
			return r;
		}
		log_info(1, "caBundle set", "configuration", name);
		return 0;
	}
	snprintf(errbuf, size, "%s %s kept changing under us", res->plural, name);
	return -EAGAIN;
}

int certs_reconcile(struct kube_client *c, const struct cert_target *t,
		    const struct cert_options *opts, time_t now, time_t *ret_not_after,
		    char *errbuf, size_t size)
{
	struct cert_material m = {0};
	int r = sync_secret(c, t, opts, now, &m, errbuf, size);
	if (r < 0)
		return r;
	/* The key first: lib/httpd refuses a certificate whose key does not match, so the
	 * moment between the two renames serves the old pair, never a broken one. */
	if ((r = write_if_changed(t->key_file, m.key, 0600)) < 0 ||
	    (r = write_if_changed(t->cert_file, m.cert, 0644)) < 0 ||
	    (r = write_if_changed(t->ca_file, m.ca, 0644)) < 0) {
		snprintf(errbuf, size, "writing the certificate files: %s", strerror(-r));
		cert_material_done(&m);
		return r;
	}
	if (ret_not_after)
		*ret_not_after = certs_not_after(m.cert);

	_cleanup_buf_ struct buf b64 = BUF_INIT(PEM_MAX * CA_BUNDLE_MAX * 2);
	r = base64_append(&b64, (const unsigned char *)m.ca, strlen(m.ca));
	cert_material_done(&m);
	if (r < 0)
		return r;
	int missing = 0;
	const struct {
		const struct kube_resource *res;
		const char *const *names;
		size_t n;
	} holders[] = {
		{&mutating_configs, t->mutating, t->n_mutating},
		{&validating_configs, t->validating, t->n_validating},
		{&apiservices, t->apiservices, t->n_apiservices},
	};
	for (size_t k = 0; k < sizeof(holders) / sizeof(*holders); k++)
		for (size_t i = 0; i < holders[k].n; i++) {
			r = patch_ca_bundle(c, holders[k].res, holders[k].names[i], buf_str(&b64),
					    errbuf, size);
			if (r == -ENOENT)
				missing = r;
			else if (r < 0)
				return r;
		}
	return missing;
}
