/* What every Bulwark binary shares on its command line: --help with examples, --version,
 * and -v N / --v=N verbosity. A binary lists CLI_COMMON_OPTIONS in its getopt_long table,
 * puts CLI_COMMON_SHORT in its short option string, and lets cli_common_option() handle
 * those cases. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

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

/* A duration flag: an integer with a unit, s, m, h or d ("720h", "30d"); a bare "0" is zero.
 * 0 with *ret_s in seconds, or -EINVAL (no unit, unknown unit, overflow, anything else). */
int cli_parse_duration_s(const char *s, uint64_t *ret_s);
/* A size flag: an integer, optionally with Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T
 * (powers of 1000), as Kubernetes quantities write them. 0 or -EINVAL. */
int cli_parse_bytes(const char *s, uint64_t *ret);

const char *bulwark_version(void);
