/* IPv4 and IPv6 CIDR prefixes: strict parsing with a reason a user can act on, canonical
 * formatting, ordering and containment. An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96+) is
 * turned into the IPv4 prefix it names, because such traffic leaves the host as IPv4. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_STR_MAX 64 /* "ffff:...:ffff/128" with room to spare */

struct cidr {
	uint8_t family;	   /* 4 or 6 */
	uint8_t prefixlen; /* 0..32 or 0..128 */
	uint8_t addr[16];  /* network order; IPv4 in the first 4 bytes, the rest zero */
};

/* 0, or -EINVAL with the reason (without the CIDR itself) in why. */
int cidr_parse(const char *s, struct cidr *ret, char *why, size_t why_size);

/* Canonical text: "10.0.0.0/8", "2001:db8::/32". */
const char *cidr_format(const struct cidr *c, char out[CIDR_STR_MAX]);

/* Orders by family, then address, then prefix length: a prefix sorts before every prefix it
 * contains, which is the depth-first order of a binary trie. */
int cidr_compare(const struct cidr *a, const struct cidr *b);

/* outer contains inner (same family, outer no longer, same leading bits). */
bool cidr_contains(const struct cidr *outer, const struct cidr *inner);

/* Clears every bit after the first prefixlen bits of c->addr. */
void cidr_mask(struct cidr *c);

static inline unsigned cidr_max_prefixlen(uint8_t family)
{
	return family == 4 ? 32 : 128;
}
