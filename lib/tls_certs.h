/* Serving certificates made by Bulwark itself, with GnuTLS (ECDSA P-256 keys, SHA-256
 * signatures, PKCS#8 keys, everything PEM):
 *
 * - certs_renew(): a self-managed CA and a serving certificate it signs (the webhook keeps
 *   them in a Secret, webhook/certs.h). Rotation happens before expiry, at 2/3 of a
 *   certificate's lifetime:
 *     - the serving certificate is re-issued by the current CA; the bundle does not change,
 *       so nothing else has to move;
 *     - the CA is replaced by a new one that is added to the bundle next to the old one (the
 *       old one keeps verifying the serving certificate it signed); only after ca_overlap has
 *       passed, time for clients to see the new bundle, is the serving certificate re-issued
 *       by the new CA. Expired CAs leave the bundle.
 *   The decision is a pure function of the material and the time, so tests step through a
 *   CA's whole life without waiting.
 * - certs_self_signed(): a fresh key and a self-signed serving certificate, for a server its
 *   clients authenticate by a pin of its public key instead of a CA (the agent's recordings
 *   listener); certs_pin() computes that pin. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A PEM certificate or key is read up to this size; a bundle holds at most CERTS_BUNDLE_MAX. */
#define CERTS_PEM_MAX	 (64u << 10)
#define CERTS_BUNDLE_MAX 3
/* "sha256//" + base64 of 32 bytes + NUL. */
#define CERTS_PIN_LEN (8 + 44 + 1)

/* Everything PEM. ca: every CA clients should trust, the signing one first. */
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
	long cert_validity_s; /* default 90 days (certs_self_signed: 10 years) */
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

/* A new key and a self-signed serving certificate for opts' names, valid from a little before
 * now for opts->cert_validity_s (its CA fields are ignored). Nobody checks its chain or dates:
 * clients pin its public key, and every call makes a new key. *ret_cert_pem and *ret_key_pem
 * are malloc'd. 0, -EINVAL (no SAN, an IP that does not parse), -EIO, -ENOMEM. */
int certs_self_signed(const struct cert_options *opts, time_t now, char **ret_cert_pem,
		      char **ret_key_pem);

/* The pin of the first certificate in cert_pem: "sha256//" + base64 of the SHA-256 of its
 * DER SubjectPublicKeyInfo, the format of libcurl's CURLOPT_PINNEDPUBLICKEY (and of
 * `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary |
 * base64`). 0, -EINVAL when cert_pem holds no certificate, -EIO, -ENOMEM. */
int certs_pin(const char *cert_pem, char ret[CERTS_PIN_LEN]);
