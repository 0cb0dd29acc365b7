/* bulwark-webhook: the admission webhook: binds profiles to pods, validates policies, records who
 * execs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"

static const char usage[] =
	"Usage: bulwark-webhook [OPTIONS]\n"
	"\n"
	"the admission webhook: binds profiles to pods, validates policies, records who execs.\n"
	"\n"
	"Options:\n"
	"  -h, --help       show this help and exit\n"
	"      --version    print the version and exit\n"
	"  -v, --v=N        log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Examples:\n"
	"  bulwark-webhook --version\n";

int main(int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_OPTIONS, {0}};
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		int r = cli_common_option(opt, optarg, "bulwark-webhook", usage);
		if (r == 0)
			return EXIT_SUCCESS;
		if (r < 0)
			return r == -ENOENT ? cli_usage_error("bulwark-webhook", "unknown option")
					    : 2;
	}
	return cli_usage_error("bulwark-webhook",
			       "nothing to do yet: this build only answers --help and --version");
}
