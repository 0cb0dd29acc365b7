/* The memo behind policy_compile_pod_cached(): compiled mechanism sections by the SHA-256 of
 * what the selecting policies say (see compile.c for the key). Direct-mapped: a key has one
 * slot, a newer entry evicts an older one, so memory is bounded by the slot count and a
 * lookup is one comparison. */
#pragma once

#include <jansson.h>

#include "policy/policy.h"

/* The entry for key_hex (64 hex digits), borrowed from the cache, or NULL. */
json_t *policy_cache_get(struct policy_cache *cache, const char *key_hex);

/* Stores value (a reference is taken) under key_hex, evicting whatever held its slot. */
void policy_cache_put(struct policy_cache *cache, const char *key_hex, json_t *value);
