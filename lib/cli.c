#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef BULWARK_VERSION
#define BULWARK_VERSION "0.0.0-dev"
#endif

const char *bulwark_version(void)
{
	return BULWARK_VERSION;
}

int cli_common_option(int opt, const char *arg, const char *prog, const char *usage)
{
	switch (opt) {
	case 'h': fputs(usage, stdout); return 0;
	case CLI_OPT_VERSION: printf("%s %s\n", prog, bulwark_version()); return 0;
	case 'v': {
		char *end;
		errno = 0;
		long v = strtol(arg, &end, 10);
		if (errno || *end || v < 0 || v > 10) {
			cli_usage_error(prog, "-v takes a verbosity from 0 to 10, not '%s'", arg);
			return -EINVAL;
		}
		log_set_verbosity((int)v);
		return 1;
	}
	default: return -ENOENT;
	}
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return 2;
}

/* The integer at the start of s (decimal digits only), with *end after it. */
static int leading_u64(const char *s, uint64_t *ret, const char **end)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*ret = v;
	*end = p;
	return 0;
}

static int scaled(uint64_t v, uint64_t unit, uint64_t *ret)
{
	if (unit && v > UINT64_MAX / unit)
		return -EINVAL;
	*ret = v * unit;
	return 0;
}

int cli_parse_duration_s(const char *s, uint64_t *ret_s)
{
	static const struct {
		const char *suffix;
		uint64_t seconds;
	} units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
	uint64_t v;
	const char *end;
	if (leading_u64(s, &v, &end) < 0)
		return -EINVAL;
	if (!*end && v == 0) {
		*ret_s = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			return scaled(v, units[i].seconds, ret_s);
	return -EINVAL;
}

int cli_parse_bytes(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t unit;
	} units[] = {{"", 1},
		     {"Ki", 1ull << 10},
		     {"Mi", 1ull << 20},
		     {"Gi", 1ull << 30},
		     {"Ti", 1ull << 40},
		     {"k", 1000},
		     {"M", 1000000},
		     {"G", 1000000000},
		     {"T", 1000000000000ull}};
	uint64_t v;
	const char *end;
	if (leading_u64(s, &v, &end) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			return scaled(v, units[i].unit, ret);
	return -EINVAL;
}
