/* The hash chain over a recording's records: each record's hash is
 * sha256(previous hash || the record's bytes), starting from 32 zero bytes, so the last hash
 * commits to every record and to their order. A record is one line of a recording file
 * without its newline. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CHAIN_HASH_LEN 32

struct hash_chain {
	unsigned char head[CHAIN_HASH_LEN];
	uint64_t records;
};

void hash_chain_init(struct hash_chain *c);
/* Appends one record. 0 or -EIO when the hash cannot be computed. */
int hash_chain_append(struct hash_chain *c, const void *record, size_t len);

void hash_hex(const unsigned char h[CHAIN_HASH_LEN], char ret[2 * CHAIN_HASH_LEN + 1]);
/* 0, or -EINVAL when hex is not 64 hex digits. */
int hash_from_hex(const char *hex, unsigned char ret[CHAIN_HASH_LEN]);

/* The recording's digest, "sha256:<hex>", from the heads of its cast and log chains:
 * sha256("bulwark-recording-v1\n" || cast head || log head). */
int recording_digest(const struct hash_chain *cast, const struct hash_chain *log,
		     char ret[7 + 2 * CHAIN_HASH_LEN + 1]);
