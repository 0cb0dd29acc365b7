/* Serving certificates (tls_certs.h), with GnuTLS. */
#include "tls_certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base64.h"
#include "buf.h"
#include "cleanup.h"
#include "log.h"

/* Certificates start a little in the past, so a node whose clock is slightly behind ours
 * accepts them at once. */
#define BACKDATE_S 300
/* CAs kept in the bundle: the signing one and those that may still verify a served
 * certificate. */
#define CA_BUNDLE_MAX		       CERTS_BUNDLE_MAX
#define PEM_MAX			       CERTS_PEM_MAX

#define DEFAULT_CA_VALIDITY_S	       (5L * 365 * 86400)
#define DEFAULT_CERT_VALIDITY_S	       (90L * 86400)
#define DEFAULT_CA_OVERLAP_S	       3600L
#define DEFAULT_SELF_SIGNED_VALIDITY_S (10L * 365 * 86400)

void cert_material_done(struct cert_material *m)
{
	free(m->ca);
	free(m->ca_key);
	free(m->cert);
	free(m->key);
	*m = (struct cert_material){0};
}

/* ---- parsing ---------------------------------------------------------------------------- */

struct crt_list {
	gnutls_x509_crt_t *crts;
	unsigned n;
};

static void crt_list_done(struct crt_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		gnutls_x509_crt_deinit(l->crts[i]);
	gnutls_free(l->crts);
	*l = (struct crt_list){0};
}

static void privkey_deinitp(gnutls_x509_privkey_t *k)
{
	if (*k)
		gnutls_x509_privkey_deinit(*k);
}
#define _cleanup_privkey_ _cleanup_(privkey_deinitp)
static void crt_deinitp(gnutls_x509_crt_t *c)
{
	if (*c)
		gnutls_x509_crt_deinit(*c);
}
#define _cleanup_crt_	   _cleanup_(crt_deinitp)
#define _cleanup_crt_list_ _cleanup_(crt_list_done)

/* Certificates from PEM (none for NULL or garbage: garbage is simply replaced). */
static void import_crts(const char *pem, struct crt_list *ret)
{
	*ret = (struct crt_list){0};
	if (!pem || !*pem)
		return;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strnlen(pem, PEM_MAX)};
	if (gnutls_x509_crt_list_import2(&ret->crts, &ret->n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		*ret = (struct crt_list){0};
}

static gnutls_x509_privkey_t import_key(const char *pem)
{
	gnutls_x509_privkey_t k = NULL;
	if (!pem || !*pem || gnutls_x509_privkey_init(&k) < 0)
		return NULL;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strnlen(pem, PEM_MAX)};
	if (gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) < 0) {
		gnutls_x509_privkey_deinit(k);
		return NULL;
	}
	return k;
}

static bool key_matches(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	return crt && key &&
	       gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &na) >= 0 &&
	       gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &nb) >= 0 &&
	       na == nb && memcmp(a, b, na) == 0;
}

static bool expired(gnutls_x509_crt_t crt, time_t now)
{
	time_t exp = gnutls_x509_crt_get_expiration_time(crt);
	return exp == (time_t)-1 || now >= exp;
}

/* Past 2/3 of its lifetime: time to replace it, with a third of its life left as margin. The
 * lifetime counts from issuance, not from the back-dated notBefore, so a short-lived
 * certificate is not due the moment it is made. */
static bool due(gnutls_x509_crt_t crt, time_t now)
{
	time_t act = gnutls_x509_crt_get_activation_time(crt);
	time_t exp = gnutls_x509_crt_get_expiration_time(crt);
	if (act == (time_t)-1 || exp == (time_t)-1)
		return true;
	time_t issued = act + BACKDATE_S;
	if (exp <= issued)
		return true;
	return now >= issued + (exp - issued) / 3 * 2;
}

/* Whether issuer's key signed crt (times are checked by the caller against its own clock). */
static bool signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t *issuers, unsigned n)
{
	unsigned status = 0;
	return n > 0 &&
	       gnutls_x509_crt_verify(crt, issuers, n,
				      GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
					      GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
				      &status) >= 0 &&
	       status == 0;
}

static int parse_ip(const char *s, unsigned char out[16], size_t *ret_len)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*ret_len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*ret_len = 16;
		return 0;
	}
	return -EINVAL;
}

/* The certificate names exactly the wanted DNS names and IP addresses. */
static bool sans_match(gnutls_x509_crt_t crt, const struct cert_options *o)
{
	size_t found = 0;
	for (unsigned seq = 0;; seq++) {
		char san[512];
		size_t size = sizeof(san) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, san, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0)
			return false;
		bool wanted = false;
		if (type == GNUTLS_SAN_DNSNAME) {
			san[size] = '\0';
			for (size_t i = 0; i < o->n_dns_names && !wanted; i++)
				wanted = strcmp(san, o->dns_names[i]) == 0;
		} else if (type == GNUTLS_SAN_IPADDRESS) {
			for (size_t i = 0; i < o->n_ip_addresses && !wanted; i++) {
				unsigned char ip[16];
				size_t n;
				wanted = parse_ip(o->ip_addresses[i], ip, &n) == 0 && n == size &&
					 memcmp(ip, san, n) == 0;
			}
		}
		if (!wanted)
			return false;
		found++;
	}
	return found == o->n_dns_names + o->n_ip_addresses;
}

/* ---- issuing ---------------------------------------------------------------------------- */

static int new_key(gnutls_x509_privkey_t *ret)
{
	gnutls_x509_privkey_t k;
	if (gnutls_x509_privkey_init(&k) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		gnutls_x509_privkey_deinit(k);
		return -EIO;
	}
	*ret = k;
	return 0;
}

/* A certificate for key: a CA or a serving certificate, signed by issuer/issuer_key (issuer
 * NULL: self-signed), valid from now - BACKDATE_S to not_after. */
static int issue(gnutls_x509_privkey_t key, bool ca, const char *cn, time_t now, time_t not_after,
		 const struct cert_options *o, gnutls_x509_crt_t issuer,
		 gnutls_x509_privkey_t issuer_key, gnutls_x509_crt_t *ret)
{
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	unsigned char serial[16], id[64];
	size_t id_len = sizeof(id);
	int e = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01;
	if (e >= 0)
		e = gnutls_x509_crt_set_version(crt, 3);
	if (e >= 0)
		e = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (e >= 0)
		e = gnutls_x509_crt_set_activation_time(crt, now - BACKDATE_S);
	if (e >= 0)
		e = gnutls_x509_crt_set_expiration_time(crt, not_after);
	if (e >= 0)
		e = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						  (unsigned)strlen(cn));
	if (e >= 0)
		e = gnutls_x509_crt_set_key(crt, key);
	if (e >= 0)
		e = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, id, &id_len);
	if (e >= 0)
		e = gnutls_x509_crt_set_subject_key_id(crt, id, id_len);
	if (e >= 0 && ca) {
		e = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
		if (e >= 0)
			e = gnutls_x509_crt_set_key_usage(
				crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
					     GNUTLS_KEY_DIGITAL_SIGNATURE);
	} else if (e >= 0) {
		e = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
		if (e >= 0)
			e = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
		if (e >= 0)
			e = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
		for (size_t i = 0; e >= 0 && i < o->n_dns_names; i++)
			e = gnutls_x509_crt_set_subject_alt_name(
				crt, GNUTLS_SAN_DNSNAME, o->dns_names[i],
				(unsigned)strlen(o->dns_names[i]), GNUTLS_FSAN_APPEND);
		for (size_t i = 0; e >= 0 && i < o->n_ip_addresses; i++) {
			unsigned char ip[16];
			size_t n;
			if (parse_ip(o->ip_addresses[i], ip, &n) < 0) {
				gnutls_x509_crt_deinit(crt);
				return -EINVAL;
			}
			e = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip,
								 (unsigned)n, GNUTLS_FSAN_APPEND);
		}
		/* A self-signed certificate's authority key is its own (id still holds it). */
		id_len = issuer ? sizeof(id) : id_len;
		if (e >= 0 && issuer)
			e = gnutls_x509_crt_get_subject_key_id(issuer, id, &id_len, NULL);
		if (e >= 0)
			e = gnutls_x509_crt_set_authority_key_id(crt, id, id_len);
	}
	if (e >= 0)
		e = gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, issuer_key ? issuer_key : key,
					  GNUTLS_DIG_SHA256, 0);
	if (e < 0) {
		log_info(4, "issuing a certificate failed", "err", gnutls_strerror(e));
		gnutls_x509_crt_deinit(crt);
		return -EIO;
	}
	*ret = crt;
	return 0;
}

static int export_crts(gnutls_x509_crt_t *crts, unsigned n, char **ret)
{
	_cleanup_buf_ struct buf out = BUF_INIT(PEM_MAX * CA_BUNDLE_MAX);
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t d = {0};
		if (gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_PEM, &d) < 0)
			return -EIO;
		int r = buf_append(&out, d.data, d.size);
		gnutls_free(d.data);
		if (r < 0)
			return r;
	}
	*ret = buf_steal(&out);
	return *ret ? 0 : -ENOMEM;
}

static int export_key(gnutls_x509_privkey_t key, char **ret)
{
	gnutls_datum_t d = {0};
	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &d) < 0)
		return -EIO;
	*ret = strndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return *ret ? 0 : -ENOMEM;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int certs_renew(const struct cert_material *cur, const struct cert_options *opts, time_t now,
		struct cert_material *ret, bool *ret_changed, const char **ret_why)
{
	struct cert_options o = *opts;
	if (o.ca_validity_s <= 0)
		o.ca_validity_s = DEFAULT_CA_VALIDITY_S;
	if (o.cert_validity_s <= 0)
		o.cert_validity_s = DEFAULT_CERT_VALIDITY_S;
	if (o.ca_overlap_s <= 0)
		o.ca_overlap_s = DEFAULT_CA_OVERLAP_S;
	if (o.n_dns_names + o.n_ip_addresses == 0)
		return -EINVAL;
	for (size_t i = 0; i < o.n_ip_addresses; i++) {
		unsigned char ip[16];
		size_t n;
		if (parse_ip(o.ip_addresses[i], ip, &n) < 0)
			return -EINVAL;
	}

	_cleanup_crt_list_ struct crt_list cas, leaf;
	import_crts(cur->ca, &cas);
	import_crts(cur->cert, &leaf);
	_cleanup_privkey_ gnutls_x509_privkey_t ca_key = import_key(cur->ca_key);
	_cleanup_privkey_ gnutls_x509_privkey_t leaf_key = import_key(cur->key);
	const char *why = NULL;
	int r;

	/* The bundle to trust, signing CA first; ours own their certificates. */
	gnutls_x509_crt_t bundle[CA_BUNDLE_MAX] = {0};
	unsigned n_bundle = 0;
	_cleanup_crt_ gnutls_x509_crt_t new_ca = NULL;
	_cleanup_privkey_ gnutls_x509_privkey_t new_ca_key = NULL;
	bool signing_ok = cas.n > 0 && key_matches(cas.crts[0], ca_key) &&
			  gnutls_x509_crt_get_ca_status(cas.crts[0], NULL) == 1 &&
			  !expired(cas.crts[0], now);
	if (!signing_ok || due(cas.crts[0], now)) {
		why = signing_ok ? "the CA is past 2/3 of its lifetime" : "no valid CA";
		char cn[64];
		snprintf(cn, sizeof(cn), "bulwark-webhook-ca-%lld", (long long)now);
		if ((r = new_key(&new_ca_key)) < 0 ||
		    (r = issue(new_ca_key, true, cn, now, now + o.ca_validity_s, &o, NULL, NULL,
			       &new_ca)) < 0)
			return r;
		bundle[n_bundle++] = new_ca;
	}
	/* Older CAs stay while they may still verify the certificate being served. */
	for (unsigned i = 0; i < cas.n && n_bundle < CA_BUNDLE_MAX; i++) {
		if (!signing_ok && i == 0)
			continue;
		if (expired(cas.crts[i], now)) {
			why = why ? why : "an expired CA left the bundle";
			continue;
		}
		bundle[n_bundle++] = cas.crts[i];
	}
	if (n_bundle < cas.n + (new_ca ? 1 : 0) - (!signing_ok && cas.n ? 1 : 0))
		why = why ? why : "the CA bundle was trimmed";
	gnutls_x509_crt_t signer = bundle[0];
	gnutls_x509_privkey_t signer_key = new_ca ? new_ca_key : ca_key;

	/* The serving certificate: ours, for the right names, not due, trusted by the bundle,
	 * and signed by the signing CA once that CA has been published long enough. */
	bool leaf_ok = leaf.n > 0 && key_matches(leaf.crts[0], leaf_key) &&
		       sans_match(leaf.crts[0], &o) && !due(leaf.crts[0], now) &&
		       signed_by(leaf.crts[0], bundle, n_bundle);
	if (leaf_ok && !signed_by(leaf.crts[0], &signer, 1)) {
		time_t published = gnutls_x509_crt_get_activation_time(signer) + BACKDATE_S;
		leaf_ok = now < published + o.ca_overlap_s;
	}
	_cleanup_crt_ gnutls_x509_crt_t new_leaf = NULL;
	_cleanup_privkey_ gnutls_x509_privkey_t new_leaf_key = NULL;
	if (!leaf_ok) {
		why = why ? why : "the serving certificate is missing, due, or not for these names";
		time_t not_after = now + o.cert_validity_s;
		time_t ca_exp = gnutls_x509_crt_get_expiration_time(signer);
		if (ca_exp < not_after)
			not_after = ca_exp;
		if ((r = new_key(&new_leaf_key)) < 0 ||
		    (r = issue(new_leaf_key, false, "bulwark-webhook", now, not_after, &o, signer,
			       signer_key, &new_leaf)) < 0)
			return r;
	}

	struct cert_material m = {0};
	if (!why) {
		m.ca = dup_or_null(cur->ca);
		m.ca_key = dup_or_null(cur->ca_key);
		m.cert = dup_or_null(cur->cert);
		m.key = dup_or_null(cur->key);
		if (!m.ca || !m.ca_key || !m.cert || !m.key) {
			cert_material_done(&m);
			return -ENOMEM;
		}
		*ret = m;
		*ret_changed = false;
		if (ret_why)
			*ret_why = NULL;
		return 0;
	}
	r = export_crts(bundle, n_bundle, &m.ca);
	if (r == 0)
		r = new_ca ? export_key(new_ca_key, &m.ca_key)
			   : ((m.ca_key = dup_or_null(cur->ca_key)) ? 0 : -ENOMEM);
	if (r == 0)
		r = new_leaf ? export_crts(&new_leaf, 1, &m.cert)
			     : ((m.cert = dup_or_null(cur->cert)) ? 0 : -ENOMEM);
	if (r == 0)
		r = new_leaf ? export_key(new_leaf_key, &m.key)
			     : ((m.key = dup_or_null(cur->key)) ? 0 : -ENOMEM);
	if (r < 0) {
		cert_material_done(&m);
		return r;
	}
	*ret = m;
	*ret_changed = true;
	if (ret_why)
		*ret_why = why;
	return 0;
}

time_t certs_not_after(const char *cert_pem)
{
	_cleanup_crt_list_ struct crt_list l;
	import_crts(cert_pem, &l);
	return l.n ? gnutls_x509_crt_get_expiration_time(l.crts[0]) : 0;
}

/* ---- self-signed certificates and pins -------------------------------------------------- */

static int check_names(const struct cert_options *o)
{
	if (o->n_dns_names + o->n_ip_addresses == 0)
		return -EINVAL;
	for (size_t i = 0; i < o->n_ip_addresses; i++) {
		unsigned char ip[16];
		size_t n;
		if (parse_ip(o->ip_addresses[i], ip, &n) < 0)
			return -EINVAL;
	}
	return 0;
}

int certs_self_signed(const struct cert_options *opts, time_t now, char **ret_cert_pem,
		      char **ret_key_pem)
{
	int r = check_names(opts);
	if (r < 0)
		return r;
	long validity =
		opts->cert_validity_s > 0 ? opts->cert_validity_s : DEFAULT_SELF_SIGNED_VALIDITY_S;
	_cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	if ((r = new_key(&key)) < 0 || (r = issue(key, false, "bulwark-agent", now, now + validity,
						  opts, NULL, NULL, &crt)) < 0)
		return r;
	_cleanup_free_ char *cert_pem = NULL, *key_pem = NULL;
	if ((r = export_crts(&crt, 1, &cert_pem)) < 0 || (r = export_key(key, &key_pem)) < 0)
		return r;
	*ret_cert_pem = TAKE_PTR(cert_pem);
	*ret_key_pem = TAKE_PTR(key_pem);
	return 0;
}

static void pubkey_deinitp(gnutls_pubkey_t *k)
{
	if (*k)
		gnutls_pubkey_deinit(*k);
}

int certs_pin(const char *cert_pem, char ret[CERTS_PIN_LEN])
{
	_cleanup_crt_list_ struct crt_list l;
	import_crts(cert_pem, &l);
	if (!l.n)
		return -EINVAL;
	_cleanup_(pubkey_deinitp) gnutls_pubkey_t pub = NULL;
	if (gnutls_pubkey_init(&pub) < 0)
		return -ENOMEM;
	gnutls_datum_t spki = {0};
	if (gnutls_pubkey_import_x509(pub, l.crts[0], 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0)
		return -EIO;
	unsigned char digest[32];
	int e = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, digest);
	gnutls_free(spki.data);
	if (e < 0)
		return -EIO;
	_cleanup_buf_ struct buf b = BUF_INIT(CERTS_PIN_LEN);
	int r = buf_append_str(&b, "sha256//");
	r = r ?: base64_append(&b, digest, sizeof(digest));
	if (r < 0)
		return r;
	if (b.len + 1 != CERTS_PIN_LEN)
		return -EIO;
	memcpy(ret, b.data, b.len + 1);
	return 0;
}
