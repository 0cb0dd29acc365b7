/* What every Bulwark binary shares on its command line: --help with examples, --version,
 * and -v N / --v=N verbosity. A binary lists CLI_COMMON_OPTIONS in its getopt_long table,
 * puts CLI_COMMON_SHORT in its short option string, and lets cli_common_option() handle
 * those cases. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#define CLI_COMMON_SHORT "hv:"
#define CLI_OPT_VERSION	 0x1000
#define CLI_COMMON_OPTIONS                                                                 \
	{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, CLI_OPT_VERSION}, \
	{                                                                                  \
		"v", required_argument, NULL, 'v'                                          \
	}

/* Handles 'h', 'v' and CLI_OPT_VERSION; the usage text is printed for --help and on errors.
 * Returns 1 when the option was handled and the program should go on, 0 when it was handled
 * and the program should exit successfully (--help, --version), -EINVAL on a bad value, and
 * -ENOENT when the option is not a common one. */
int cli_common_option(int opt, const char *arg, const char *prog, const char *usage);

/* Prints "prog: reason" and the usage hint to stderr; returns the exit code 2. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *bulwark_version(void);
