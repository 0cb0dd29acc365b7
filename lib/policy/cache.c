#include "policy/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct policy_cache_slot {
	char key[65]; /* "" when empty */
	json_t *value;
};

struct policy_cache {
	struct policy_cache_slot *slots;
	size_t n_slots;
	unsigned long hits, misses;
};

int policy_cache_new(size_t slots, struct policy_cache **ret)
{
	if (slots == 0 || slots > POLICY_CACHE_MAX_SLOTS)
		return -EINVAL;
	struct policy_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->slots = calloc(slots, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return -ENOMEM;
	}
	c->n_slots = slots;
	*ret = c;
	return 0;
}

struct policy_cache *policy_cache_free(struct policy_cache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_slots; i++)
		json_decref(c->slots[i].value);
	free(c->slots);
	free(c);
	return NULL;
}

void policy_cache_stats(const struct policy_cache *c, unsigned long *ret_hits,
			unsigned long *ret_misses)
{
	*ret_hits = c->hits;
	*ret_misses = c->misses;
}

/* The key is a SHA-256, so its first hex digits are as good a slot index as any. */
static struct policy_cache_slot *slot_of(struct policy_cache *c, const char *key_hex)
{
	unsigned long long v = 0;
	for (int i = 0; i < 15 && key_hex[i]; i++) {
		char ch = key_hex[i];
		v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
	}
	return &c->slots[v % c->n_slots];
}

json_t *policy_cache_get(struct policy_cache *c, const char *key_hex)
{
	struct policy_cache_slot *s = slot_of(c, key_hex);
	if (s->value && strcmp(s->key, key_hex) == 0) {
		c->hits++;
		return s->value;
	}
	c->misses++;
	return NULL;
}

void policy_cache_put(struct policy_cache *c, const char *key_hex, json_t *value)
{
	struct policy_cache_slot *s = slot_of(c, key_hex);
	json_decref(s->value);
	s->value = json_incref(value);
	memcpy(s->key, key_hex, sizeof(s->key) - 1);
	s->key[sizeof(s->key) - 1] = '\0';
}
