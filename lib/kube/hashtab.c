/* Open addressing with linear probing; see hashtab.h. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kube/hashtab.h"

#define MIN_CAP 8

static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec;
	}
}

/* The finaliser of MurmurHash3: spreads every input bit over the low bits we index with. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t hashtab_hash_str(const char *s)
{
	pthread_once(&seed_once, seed_init);
	/* FNV-1a from a secret offset basis, then a full-avalanche finaliser. */
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return mix64(h ^ seed);
}

uint64_t hashtab_hash_ptr(const void *p)
{
	return mix64((uint64_t)(uintptr_t)p);
}

void hashtab_free(struct hashtab *t)
{
	free(t->slots);
	*t = HASHTAB_INIT;
}

void *hashtab_get(const struct hashtab *t, uint64_t hash, const void *key, hashtab_eq_fn eq)
{
	if (t->cap == 0)
		return NULL;
	size_t mask = t->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		const struct hashtab_slot *s = &t->slots[i];
		if (!s->item)
			return NULL;
		if (s->hash == hash && eq(s->item, key))
			return s->item;
	}
}

static void insert_slot(struct hashtab_slot *slots, size_t cap, uint64_t hash, void *item)
{
	size_t mask = cap - 1;
	size_t i = hash & mask;
	while (slots[i].item)
		i = (i + 1) & mask;
	slots[i] = (struct hashtab_slot){.hash = hash, .item = item};
}

static int rehash(struct hashtab *t, size_t cap)
{
	struct hashtab_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].item)
			insert_slot(slots, cap, t->slots[i].hash, t->slots[i].item);
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Keeps the load factor at most 3/4, where linear probing stays short. */
static size_t cap_for(size_t n)
{
	size_t cap = MIN_CAP;
	while (cap - cap / 4 < n) {
		if (cap > SIZE_MAX / 2 / sizeof(struct hashtab_slot))
			return 0;
		cap *= 2;
	}
	return cap;
}

int hashtab_reserve(struct hashtab *t, size_t n)
{
	if (n <= t->cap - t->cap / 4 && t->cap)
		return 0;
	size_t cap = cap_for(n);
	if (cap == 0)
		return -ENOMEM;
	return rehash(t, cap);
}

int hashtab_put(struct hashtab *t, uint64_t hash, void *item)
{
	int r = hashtab_reserve(t, t->n + 1);
	if (r < 0)
		return r;
	insert_slot(t->slots, t->cap, hash, item);
	t->n++;
	return 0;
}

void *hashtab_remove(struct hashtab *t, uint64_t hash, const void *key, hashtab_eq_fn eq)
{
	if (t->cap == 0)
		return NULL;
	size_t mask = t->cap - 1;
	size_t i = hash & mask;
	for (;; i = (i + 1) & mask) {
		if (!t->slots[i].item)
			return NULL;
		if (t->slots[i].hash == hash && eq(t->slots[i].item, key))
			break;
	}
	void *item = t->slots[i].item;
	/* Backward shift: pull later members of the probe run into the hole so lookups never
	 * stop early at it. */
	for (size_t j = (i + 1) & mask; t->slots[j].item; j = (j + 1) & mask) {
		size_t home = t->slots[j].hash & mask;
		/* j's item may move to i only if its home is not in the cyclic range (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_range) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = (struct hashtab_slot){0};
	t->n--;
	/* Give memory back after mass deletes; failing to shrink is harmless. */
	if (t->n == 0) {
		hashtab_free(t);
	} else if (t->cap > MIN_CAP && t->n < t->cap / 8) {
		size_t cap = cap_for(t->n * 2);
		if (cap && cap < t->cap)
			(void)rehash(t, cap);
	}
	return item;
}

void *hashtab_next(const struct hashtab *t, size_t *pos)
{
	for (; *pos < t->cap; (*pos)++)
		if (t->slots[*pos].item)
			return t->slots[(*pos)++].item;
	return NULL;
}

size_t hashtab_bytes(const struct hashtab *t)
{
	return t->slots ? malloc_usable_size(t->slots) : 0;
}
