/* kubectl-bulwark: the kubectl plugin for auditors and operators (sessions, replay, verify,
 * explain). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"

static const char usage[] =
	"Usage: kubectl-bulwark [OPTIONS]\n"
	"\n"
	"the kubectl plugin for auditors and operators (sessions, replay, verify, explain).\n"
	"\n"
	"Options:\n"
	"  -h, --help       show this help and exit\n"
	"      --version    print the version and exit\n"
	"  -v, --v=N        log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Examples:\n"
	"  kubectl-bulwark --version\n";

int main(int argc, char **argv)
{
	static const struct option options[] = {CLI_COMMON_OPTIONS, {0}};
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		int r = cli_common_option(opt, optarg, "kubectl-bulwark", usage);
		if (r == 0)
			return EXIT_SUCCESS;
		if (r < 0)
			return r == -ENOENT ? cli_usage_error("kubectl-bulwark", "unknown option")
					    : 2;
	}
	return cli_usage_error("kubectl-bulwark",
			       "nothing to do yet: this build only answers --help and --version");
}
