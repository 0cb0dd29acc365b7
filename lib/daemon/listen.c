/* Listen-address flags (listen.h). */
#include "daemon/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int refuse(const char **ret_reason, const char *reason)
{
	if (ret_reason)
		*ret_reason = reason;
	return -EINVAL;
}

int listen_address_parse(const char *s, struct listen_address *ret, const char **ret_reason)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon)
		return refuse(ret_reason, "no port");
	const char *p = colon + 1;
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || p[digits])
		return refuse(ret_reason, "the port must be a decimal number 0..65535");
	unsigned long port = 0;
	for (size_t i = 0; i < digits && port <= 65535; i++)
		port = port * 10 + (unsigned long)(p[i] - '0');
	if (port > 65535)
		return refuse(ret_reason, "the port must be a decimal number 0..65535");

	const char *h = s;
	size_t n = (size_t)(colon - s);
	bool bracketed = n >= 2 && h[0] == '[' && h[n - 1] == ']';
	if (bracketed) {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n) || memchr(h, '[', n) || memchr(h, ']', n)) {
		return refuse(ret_reason, "an IPv6 address goes in brackets ([::1]:PORT)");
	}
	struct listen_address a = {.port = (uint16_t)port};
	if (n == 0 && !bracketed) {
		snprintf(a.host, sizeof(a.host), "0.0.0.0");
	} else {
		if (n >= sizeof(a.host))
			return refuse(ret_reason, "the host is not an IP address");
		memcpy(a.host, h, n);
		a.host[n] = '\0';
		unsigned char bin[16];
		if (inet_pton(bracketed ? AF_INET6 : AF_INET, a.host, bin) != 1)
			return refuse(ret_reason, bracketed ? "not an IPv6 address in the brackets"
							    : "the host is not an IPv4 address "
							      "(a name is not resolved)");
	}
	*ret = a;
	return 0;
}

int listen_address_flag(const char *prog, const char *flag, const char *value,
			struct listen_address *ret)
{
	const char *reason = "invalid";
	if (listen_address_parse(value, ret, &reason) == 0)
		return 0;
	return cli_usage_error(prog, "%s: %s (expected HOST:PORT, got '%s')", flag, reason, value);
}
