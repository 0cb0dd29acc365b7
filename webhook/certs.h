/* Serving certificates without cert-manager: a self-managed CA and serving certificate
 * (lib/tls_certs.h: how they are issued and rotated) kept in a Secret, so every replica and
 * every restart serves the same pair, written to the files lib/httpd reloads at handshake
 * time, and the CA bundle patched into the webhook configurations so the apiserver trusts
 * it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tls_certs.h"

struct kube_client;

/* Where the material lives and who needs it. */
struct cert_target {
	const char *secret_namespace, *secret_name;
	const char *cert_file, *key_file; /* written for lib/httpd (NULL: not written) */
	const char *ca_file;		  /* optional: the bundle, for clients */
	const char *const *mutating;	  /* MutatingWebhookConfiguration names */
	size_t n_mutating;
	const char *const *validating; /* ValidatingWebhookConfiguration names */
	size_t n_validating;
	const char *const *apiservices; /* APIService names (spec.caBundle) */
	size_t n_apiservices;
};

/* One pass: reads the Secret, renews the material (creating or updating the Secret, retrying
 * a conflict with another replica by re-reading), writes the files when they differ, and sets
 * the caBundle of every webhook in the named configurations and of the named APIServices.
 * *ret_not_after (may be NULL) is the serving certificate's expiry. A configuration that does not
 * exist yet is reported as -ENOENT after everything else was done (the caller retries). 0 or
 * negative errno, with a message in errbuf. */
int certs_reconcile(struct kube_client *c, const struct cert_target *t,
		    const struct cert_options *opts, time_t now, time_t *ret_not_after,
		    char *errbuf, size_t size);
