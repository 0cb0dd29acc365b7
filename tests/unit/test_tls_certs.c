/* Self-managed certificates through a CA's whole life, with the clock passed in: issue, keep,
 * renew the serving certificate at 2/3 of its life, rotate the CA with an overlap in the
 * bundle, replace garbage, follow a change of names. Chains are checked with GnuTLS. Then
 * self-signed certificates and their public-key pins. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "base64.h"
#include "tls_certs.h"

static const char *const dns[] = {"bulwark-webhook.bulwark-system.svc"};
static const char *const ips[] = {"127.0.0.1"};
#define DAY 86400L

static struct cert_options options(void)
{
	return (struct cert_options){.dns_names = dns,
				     .n_dns_names = 1,
				     .ip_addresses = ips,
				     .n_ip_addresses = 1,
				     .ca_validity_s = 300 * DAY,
				     .cert_validity_s = 30 * DAY,
				     .ca_overlap_s = DAY};
}

static unsigned count_certs(const char *pem)
{
	unsigned n = 0;
	for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		n++;
	return n;
}

static gnutls_x509_crt_t first_cert(const char *pem)
{
	gnutls_x509_crt_t c;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
	return c;
}

/* The serving certificate chains to the bundle's CA number `which`, and only to it. */
static void assert_signed_by(const struct cert_material *m, unsigned which)
{
	gnutls_x509_crt_t *cas;
	unsigned n;
	gnutls_datum_t d = {(unsigned char *)m->ca, (unsigned)strlen(m->ca)};
	assert_true(gnutls_x509_crt_list_import2(&cas, &n, &d, GNUTLS_X509_FMT_PEM, 0) >= 0);
	assert_true(which < n);
	gnutls_x509_crt_t leaf = first_cert(m->cert);
	unsigned status = 1;
	assert_true(gnutls_x509_crt_verify(leaf, &cas[which], 1,
					   GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
						   GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
					   &status) >= 0);
	assert_int_equal(status, 0);
	gnutls_x509_crt_deinit(leaf);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
}

static struct cert_material step(const struct cert_material *cur, time_t now, bool expect_change,
				 const char *why_part)
{
	struct cert_options o = options();
	struct cert_material next = {0};
	bool changed = !expect_change;
	const char *why = NULL;
	assert_int_equal(certs_renew(cur, &o, now, &next, &changed, &why), 0);
	assert_int_equal(changed, expect_change);
	if (why_part) {
		assert_non_null(why);
		if (!strstr(why, why_part))
			fail_msg("reason \"%s\" lacks \"%s\"", why, why_part);
	}
	assert_non_null(next.ca);
	assert_non_null(next.ca_key);
	assert_non_null(next.cert);
	assert_non_null(next.key);
	return next;
}

static void lifecycle(void **state)
{
	time_t t0 = 1800000000;
	struct cert_material empty = {0};
	struct cert_material m = step(&empty, t0, true, "no valid CA");
	assert_int_equal(count_certs(m.ca), 1);
	assert_signed_by(&m, 0);
	assert_true(strstr(m.key, "-----BEGIN PRIVATE KEY-----") != NULL);

	/* The SANs and lifetime the options ask for. */
	gnutls_x509_crt_t leaf = first_cert(m.cert);
	char san[256];
	size_t size = sizeof(san);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(leaf, 0, san, &size, NULL),
			 GNUTLS_SAN_DNSNAME);
	assert_memory_equal(san, dns[0], strlen(dns[0]));
	size = sizeof(san);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(leaf, 1, san, &size, NULL),
			 GNUTLS_SAN_IPADDRESS);
	assert_int_equal(size, 4);
	assert_memory_equal(san, "\x7f\x00\x00\x01", 4);
	assert_int_equal(gnutls_x509_crt_get_expiration_time(leaf), t0 + 30 * DAY);
	assert_int_equal(gnutls_x509_crt_get_ca_status(leaf, NULL), 0);
	gnutls_x509_crt_deinit(leaf);
	assert_int_equal(certs_not_after(m.cert), t0 + 30 * DAY);

	/* Nothing to do the next minute, nor just before 2/3 of the serving certificate's life
	 * (which starts 5 minutes back-dated). */
	struct cert_material same = step(&m, t0 + 60, false, NULL);
	assert_string_equal(same.cert, m.cert);
	cert_material_done(&same);
	same = step(&m, t0 + 20 * DAY - 400, false, NULL);
	cert_material_done(&same);

	/* Past 2/3: a new serving certificate from the same CA; the bundle does not move. */
	struct cert_material renewed = step(&m, t0 + 20 * DAY, true, "serving certificate");
	assert_string_equal(renewed.ca, m.ca);
	assert_string_equal(renewed.ca_key, m.ca_key);
	assert_string_not_equal(renewed.cert, m.cert);
	assert_string_not_equal(renewed.key, m.key);
	assert_signed_by(&renewed, 0);
	cert_material_done(&m);
	m = renewed;

	/* Past 2/3 of the CA's life: a new CA leads the bundle, the old stays, and the serving
	 * certificate (still signed by the old CA, not due) is kept during the overlap. */
	time_t t1 = t0 + 200 * DAY;
	struct cert_material rotating = step(&m, t0 + 20 * DAY + 60, false, NULL);
	cert_material_done(&rotating);
	/* Keep the serving certificate young so only the CA is due. */
	struct cert_material young = step(&m, t1 - 10 * DAY, true, "serving certificate");
	cert_material_done(&m);
	m = young;
	rotating = step(&m, t1, true, "CA is past 2/3");
	assert_int_equal(count_certs(rotating.ca), 2);
	assert_string_equal(rotating.cert, m.cert);
	assert_string_not_equal(rotating.ca_key, m.ca_key);
	assert_signed_by(&rotating, 1);
	cert_material_done(&m);
	m = rotating;

	/* Within the overlap: no change. After it: re-issued by the new CA, both still trusted. */
	same = step(&m, t1 + DAY / 2, false, NULL);
	cert_material_done(&same);
	struct cert_material switched = step(&m, t1 + DAY + 1, true, "serving certificate");
	assert_int_equal(count_certs(switched.ca), 2);
	assert_signed_by(&switched, 0);
	cert_material_done(&m);
	m = switched;

	/* When the old CA expires it leaves the bundle. */
	struct cert_material trimmed = step(&m, t0 + 300 * DAY + 1, true, NULL);
	assert_int_equal(count_certs(trimmed.ca), 1);
	cert_material_done(&trimmed);
	cert_material_done(&m);
}

static void garbage_and_names(void **state)
{
	time_t t0 = 1800000000;
	struct cert_material garbage = {.ca = "not a certificate",
					.ca_key = "-----BEGIN PRIVATE KEY-----\nxx\n",
					.cert = "",
					.key = NULL};
	struct cert_material m = step(&garbage, t0, true, "no valid CA");
	assert_signed_by(&m, 0);

	/* A key that is not the certificate's: re-issued. */
	struct cert_material mixed = {
		.ca = m.ca, .ca_key = m.ca_key, .cert = m.cert, .key = m.ca_key};
	struct cert_material fixed = step(&mixed, t0 + 60, true, "serving certificate");
	assert_string_equal(fixed.ca, m.ca);
	cert_material_done(&fixed);

	/* Other names wanted: re-issued by the same CA. */
	static const char *const other_dns[] = {"webhook.example"};
	struct cert_options o = options();
	o.dns_names = other_dns;
	struct cert_material next = {0};
	bool changed = false;
	assert_int_equal(certs_renew(&m, &o, t0 + 60, &next, &changed, NULL), 0);
	assert_true(changed);
	assert_string_equal(next.ca, m.ca);
	cert_material_done(&next);

	/* Bad options. */
	o = options();
	o.n_dns_names = 0;
	o.n_ip_addresses = 0;
	assert_int_equal(certs_renew(&m, &o, t0, &next, &changed, NULL), -EINVAL);
	static const char *const bad_ip[] = {"300.1.1.1"};
	o = options();
	o.ip_addresses = bad_ip;
	assert_int_equal(certs_renew(&m, &o, t0, &next, &changed, NULL), -EINVAL);
	cert_material_done(&m);
}

/* A self-signed serving certificate: verifies with its own key, names exactly the SANs, is
 * not a CA, and its key matches the key file. */
static void self_signed(void **state)
{
	static const char *const agent_dns[] = {"bulwark-agent"};
	static const char *const agent_ips[] = {"10.1.2.3"};
	struct cert_options o = {.dns_names = agent_dns,
				 .n_dns_names = 1,
				 .ip_addresses = agent_ips,
				 .n_ip_addresses = 1};
	time_t now = 1700000000;
	char *cert = NULL, *key = NULL;
	assert_int_equal(certs_self_signed(&o, now, &cert, &key), 0);
	assert_int_equal(count_certs(cert), 1);
	assert_non_null(strstr(key, "-----BEGIN PRIVATE KEY-----"));

	gnutls_x509_crt_t crt = first_cert(cert);
	unsigned status = 1;
	assert_true(gnutls_x509_crt_verify(crt, &crt, 1, 0, &status) >= 0);
	assert_int_equal(status, 0);
	assert_int_equal(gnutls_x509_crt_get_ca_status(crt, NULL), 0);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) > now + 365 * DAY);
	assert_true(gnutls_x509_crt_check_hostname(crt, "bulwark-agent"));
	assert_true(gnutls_x509_crt_check_ip(crt, (const unsigned char[]){10, 1, 2, 3}, 4, 0));
	assert_false(gnutls_x509_crt_check_ip(crt, (const unsigned char[]){10, 1, 2, 4}, 4, 0));

	gnutls_x509_privkey_t k;
	gnutls_datum_t d = {(unsigned char *)key, (unsigned)strlen(key)};
	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_import(k, &d, GNUTLS_X509_FMT_PEM), 0);
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	assert_int_equal(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &na), 0);
	assert_int_equal(gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, b, &nb), 0);
	assert_memory_equal(a, b, na);
	gnutls_x509_privkey_deinit(k);
	gnutls_x509_crt_deinit(crt);

	/* Every call makes a new key. */
	char *cert2 = NULL, *key2 = NULL;
	assert_int_equal(certs_self_signed(&o, now, &cert2, &key2), 0);
	assert_string_not_equal(key, key2);

	/* Bad names. */
	static const char *const bad_ip[] = {"10.1.2"};
	o.ip_addresses = bad_ip;
	char *none = NULL;
	assert_int_equal(certs_self_signed(&o, now, &none, &none), -EINVAL);
	o.n_dns_names = o.n_ip_addresses = 0;
	assert_int_equal(certs_self_signed(&o, now, &none, &none), -EINVAL);
	assert_null(none);
	free(cert);
	free(key);
	free(cert2);
	free(key2);
}

/* The pin: "sha256//" and the base64 of a 32-byte digest; the same for the same key, another
 * for another key. (That it is the SPKI digest curl expects is checked against curl and the
 * openssl CLI in tests/kernel/test_agent_recordings.c.) */
static void pin(void **state)
{
	struct cert_options o = {.dns_names = (const char *const[]){"bulwark-agent"},
				 .n_dns_names = 1};
	char *c1, *k1, *c2, *k2;
	assert_int_equal(certs_self_signed(&o, 1700000000, &c1, &k1), 0);
	assert_int_equal(certs_self_signed(&o, 1700000000, &c2, &k2), 0);
	char p1[CERTS_PIN_LEN], p1again[CERTS_PIN_LEN], p2[CERTS_PIN_LEN];
	assert_int_equal(certs_pin(c1, p1), 0);
	assert_int_equal(certs_pin(c1, p1again), 0);
	assert_int_equal(certs_pin(c2, p2), 0);
	assert_string_equal(p1, p1again);
	assert_string_not_equal(p1, p2);
	assert_int_equal(strlen(p1), CERTS_PIN_LEN - 1);
	assert_memory_equal(p1, "sha256//", 8);
	struct buf raw = BUF_INIT(64);
	assert_int_equal(base64_decode_append(&raw, p1 + 8, strlen(p1 + 8)), 0);
	assert_int_equal(raw.len, 32);
	buf_free(&raw);

	char none[CERTS_PIN_LEN];
	assert_int_equal(certs_pin("not a certificate", none), -EINVAL);
	assert_int_equal(certs_pin(NULL, none), -EINVAL);
	free(c1);
	free(k1);
	free(c2);
	free(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle),
		cmocka_unit_test(garbage_and_names),
		cmocka_unit_test(self_signed),
		cmocka_unit_test(pin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
