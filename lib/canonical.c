#include "canonical.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>

char *json_canonical_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
				     JSON_REAL_PRECISION(17));
}

int sha256_hex(const void *data, size_t len, char ret_hex[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(digest); i++) {
		ret_hex[2 * i] = hex[digest[i] >> 4];
		ret_hex[2 * i + 1] = hex[digest[i] & 15];
	}
	ret_hex[64] = '\0';
	return 0;
}

int json_canonical_sha256(const json_t *j, char ret_hex[65])
{
	char *s = json_canonical_dump(j);
	if (!s)
		return -ENOMEM;
	int r = sha256_hex(s, strlen(s), ret_hex);
	free(s);
	return r;
}
