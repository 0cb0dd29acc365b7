/* Listen-address flags (--listen, --metrics-listen, --api-listen, --recordings-listen), parsed
 * one way for every daemon, as Go's net.SplitHostPort would: HOST:PORT, where HOST is an IPv4
 * address, a bracketed IPv6 address ("[::1]:8443"), or empty for every IPv4 address
 * (":8443"), and PORT is a decimal number 0..65535 (0: any free port, for tests). */
#pragma once

#include <stdint.h>

#define LISTEN_HOST_MAX 64 /* longer than any IPv6 literal */

struct listen_address {
	char host[LISTEN_HOST_MAX]; /* without brackets; "0.0.0.0" for an empty HOST */
	uint16_t port;
};

/* 0, or -EINVAL with *ret_reason (a static string, may be NULL) saying what is wrong. */
int listen_address_parse(const char *s, struct listen_address *ret, const char **ret_reason);

/* The same for a command-line flag: 0, or the exit status of a usage error that names the flag
 * and the reason (cli_usage_error()). */
int listen_address_flag(const char *prog, const char *flag, const char *value,
			struct listen_address *ret);
