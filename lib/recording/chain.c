#include "recording/chain.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>

void hash_chain_init(struct hash_chain *c)
{
	memset(c, 0, sizeof(*c));
}

int hash_chain_append(struct hash_chain *c, const void *record, size_t len)
{
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -EIO;
	if (gnutls_hash(h, c->head, sizeof(c->head)) < 0 ||
	    (len && gnutls_hash(h, record, len) < 0)) {
		gnutls_hash_deinit(h, NULL);
		return -EIO;
	}
	gnutls_hash_deinit(h, c->head);
	c->records++;
	return 0;
}

void hash_hex(const unsigned char h[CHAIN_HASH_LEN], char ret[2 * CHAIN_HASH_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < CHAIN_HASH_LEN; i++) {
		ret[2 * i] = digits[h[i] >> 4];
		ret[2 * i + 1] = digits[h[i] & 15];
	}
	ret[2 * CHAIN_HASH_LEN] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hash_from_hex(const char *hex, unsigned char ret[CHAIN_HASH_LEN])
{
	unsigned char out[CHAIN_HASH_LEN];
	if (!hex || strlen(hex) != 2 * CHAIN_HASH_LEN)
		return -EINVAL;
	for (size_t i = 0; i < CHAIN_HASH_LEN; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	memcpy(ret, out, sizeof(out));
	return 0;
}

int recording_digest(const struct hash_chain *cast, const struct hash_chain *log,
		     char ret[7 + 2 * CHAIN_HASH_LEN + 1])
{
	static const char tag[] = "bulwark-recording-v1\n";
	unsigned char in[sizeof(tag) - 1 + 2 * CHAIN_HASH_LEN], out[CHAIN_HASH_LEN];
	memcpy(in, tag, sizeof(tag) - 1);
	memcpy(in + sizeof(tag) - 1, cast->head, CHAIN_HASH_LEN);
	memcpy(in + sizeof(tag) - 1 + CHAIN_HASH_LEN, log->head, CHAIN_HASH_LEN);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in, sizeof(in), out) < 0)
		return -EIO;
	memcpy(ret, "sha256:", 7);
	hash_hex(out, ret + 7);
	return 0;
}
