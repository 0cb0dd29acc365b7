/* Serving certificates without cert-manager: a self-managed CA and serving certificate kept in
 * a Secret (so every replica and every restart serves the same pair), written to the files
 * lib/httpd reloads at handshake time, and the CA bundle patched into the webhook
 * configurations so the apiserver trusts it.
 *
 * Rotation happens before expiry, at 2/3 of a certificate's lifetime:
 *   - the serving certificate is re-issued by the current CA; the bundle does not change, so
 *     nothing else has to move;
 *   - the CA is replaced by a new one that is added to the bundle next to the old one (the old
 *     one keeps verifying the serving certificate it signed); only after ca_overlap has passed,
 *     time for the apiserver to see the new bundle, is the serving certificate re-issued by the
 *     new CA. Expired CAs leave the bundle.
 * The decision (certs_renew) is a pure function of the material and the time, so tests step
 * through a CA's whole life without waiting. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct kube_client;

/* Everything PEM. ca: every CA the apiserver should trust, the signing one first. */
struct cert_material {
	char *ca;
	char *ca_key;
	char *cert;
	char *key;
};

struct cert_options {
	const char *const *dns_names; /* subjectAltNames of the serving certificate */
	size_t n_dns_names;
	const char *const *ip_addresses;
	size_t n_ip_addresses;
	long ca_validity_s;   /* default 5 years */
	long cert_validity_s; /* default 90 days */
	long ca_overlap_s;    /* default 1 hour */
};

void cert_material_done(struct cert_material *m);

/* The material to serve at time now, from cur (any field may be NULL, unparsable or stale).
 * *ret is a full new copy; *ret_changed says whether it differs from cur, and why (a short
 * reason) goes to ret_why when it does. 0, -EINVAL for bad options (no SAN, an IP that does not
 * parse), -EIO when GnuTLS fails, -ENOMEM. */
int certs_renew(const struct cert_material *cur, const struct cert_options *opts, time_t now,
		struct cert_material *ret, bool *ret_changed, const char **ret_why);

/* The serving certificate's expiry (notAfter), or 0 when it cannot be read. */
time_t certs_not_after(const char *cert_pem);

/* Where the material lives and who needs it. */
struct cert_target {
	const char *secret_namespace, *secret_name;
	const char *cert_file, *key_file; /* written for lib/httpd (NULL: not written) */
	const char *ca_file;		  /* optional: the bundle, for clients */
	const char *const *mutating;	  /* MutatingWebhookConfiguration names */
	size_t n_mutating;
	const char *const *validating; /* ValidatingWebhookConfiguration names */
	size_t n_validating;
};

/* One pass: reads the Secret, renews the material (creating or updating the Secret, retrying
 * a conflict with another replica by re-reading), writes the files when they differ, and sets
 * the caBundle of every webhook in the named configurations. *ret_not_after (may be NULL) is
 * the serving certificate's expiry. A configuration that does not exist yet is reported as
 * -ENOENT after everything else was done (the caller retries). 0 or negative errno, with a
 * message in errbuf. */
int certs_reconcile(struct kube_client *c, const struct cert_target *t,
		    const struct cert_options *opts, time_t now, time_t *ret_not_after,
		    char *errbuf, size_t size);
