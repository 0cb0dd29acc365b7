/* Canonical JSON and content hashes. Everything Bulwark names by content (seccomp profiles,
 * compiled pod policies) is hashed over this one serialization: compact, keys sorted, so the
 * same object always has the same bytes and the same name regardless of construction order. */
#pragma once

#include <jansson.h>

/* The canonical bytes of j (free() them); NULL on allocation failure. */
char *json_canonical_dump(const json_t *j);

/* Lowercase hex SHA-256 of data, into ret_hex (65 bytes with the NUL). 0 or negative errno. */
int sha256_hex(const void *data, size_t len, char ret_hex[65]);

/* sha256_hex() over json_canonical_dump(j). */
int json_canonical_sha256(const json_t *j, char ret_hex[65]);
