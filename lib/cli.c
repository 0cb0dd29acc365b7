#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
