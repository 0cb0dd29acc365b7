#include "netpolicy/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void cidr_mask(struct cidr *c)
{
	unsigned bits = c->prefixlen;

	for (unsigned i = 0; i < sizeof(c->addr); i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		c->addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

int cidr_parse(const char *s, struct cidr *ret, char *why, size_t why_size)
{
	char addr[INET6_ADDRSTRLEN + 1];
	struct cidr c = {0};
	const char *slash = strchr(s, '/');

	if (!slash) {
		snprintf(why, why_size, "missing \"/\" and prefix length");
		return -EINVAL;
	}
	size_t alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, why_size, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = 4;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = 6;
	else {
		snprintf(why, why_size, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}

	unsigned max = cidr_max_prefixlen(c.family), plen = 0;
	const char *p = slash + 1;
	/* Digits only, no sign, no leading zero: "/08" is more likely a typo than a choice. */
	if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
		goto bad_prefix;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad_prefix;
		plen = plen * 10 + (unsigned)(*p - '0');
	}
	if (plen > max)
		goto bad_prefix;
	c.prefixlen = (uint8_t)plen;

	struct cidr masked = c;
	cidr_mask(&masked);
	if (memcmp(masked.addr, c.addr, sizeof(c.addr)) != 0) {
		char buf[CIDR_STR_MAX];
		snprintf(why, why_size, "host bits set after the prefix (the network is \"%s\")",
			 cidr_format(&masked, buf));
		return -EINVAL;
	}

	if (c.family == 6 && c.prefixlen >= 96 &&
	    memcmp(c.addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		c.family = 4;
		c.prefixlen -= 96;
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
	}
	*ret = c;
	return 0;

bad_prefix:
	snprintf(why, why_size, "prefix length must be 0..%u", max);
	return -EINVAL;
}

const char *cidr_format(const struct cidr *c, char out[CIDR_STR_MAX])
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr)))
		addr[0] = '\0';
	snprintf(out, CIDR_STR_MAX, "%s/%u", addr, c->prefixlen);
	return out;
}

int cidr_compare(const struct cidr *a, const struct cidr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r < 0 ? -1 : 1;
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return 0;
}

bool cidr_contains(const struct cidr *outer, const struct cidr *inner)
{
	if (outer->family != inner->family || outer->prefixlen > inner->prefixlen)
		return false;
	struct cidr t = *inner;
	t.prefixlen = outer->prefixlen;
	cidr_mask(&t);
	return memcmp(t.addr, outer->addr, sizeof(t.addr)) == 0;
}
