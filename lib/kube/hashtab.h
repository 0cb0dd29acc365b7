/* An open-addressing hash table of pointers (linear probing, backward-shift deletion, no
 * tombstones) for the informer's cache and indexes. The table stores items and their hashes;
 * the caller owns the items and says how a key compares to one. Not thread-safe: the caller
 * locks.
 *
 * String hashes are seeded once per process from getrandom(), so object names chosen by a
 * user cannot be crafted to collide in every controller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashtab_slot {
	uint64_t hash;
	void *item; /* NULL: empty */
};

struct hashtab {
	struct hashtab_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t n;   /* items stored */
};

#define HASHTAB_INIT ((struct hashtab){0})

typedef bool (*hashtab_eq_fn)(const void *item, const void *key);

uint64_t hashtab_hash_str(const char *s);
uint64_t hashtab_hash_ptr(const void *p);

void hashtab_free(struct hashtab *t);

/* The item whose hash is hash and for which eq(item, key) holds, or NULL. */
void *hashtab_get(const struct hashtab *t, uint64_t hash, const void *key, hashtab_eq_fn eq);

/* Makes room for n items in total, so that the next puts up to n cannot fail. 0 or -ENOMEM. */
int hashtab_reserve(struct hashtab *t, size_t n);

/* Stores item (which must not be NULL nor already present). 0 or -ENOMEM. */
int hashtab_put(struct hashtab *t, uint64_t hash, void *item);

/* Removes and returns the matching item, or NULL. Never fails; may shrink the table. */
void *hashtab_remove(struct hashtab *t, uint64_t hash, const void *key, hashtab_eq_fn eq);

/* Iteration: for (size_t pos = 0; (item = hashtab_next(t, &pos));) — the table must not change
 * during the loop. */
void *hashtab_next(const struct hashtab *t, size_t *pos);

/* Bytes allocated for the slots. */
size_t hashtab_bytes(const struct hashtab *t);
