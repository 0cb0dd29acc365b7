/* bulwark-launch: applies a Landlock ruleset to itself, one layer per selecting policy, then
 * execs the container's command with its arguments and environment untouched. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "cleanup.h"
#include "cli.h"
#include "landlock/abi.h"
#include "landlock/ruleset.h"
#include "landlock_compat.h"
#include "log.h"
#include "landlock/exec_files.h"

/* Exit codes, after env(1) and the shells: the launcher failed; the command was found but
 * cannot run; the command was not found. */
#define EXIT_LAUNCHER	 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND	 127

#define OPT_RULESET	 0x2000
#define OPT_ABI_MAX	 0x2001

static const char usage[] =
	"Usage: bulwark-launch --ruleset FILE [OPTIONS] -- COMMAND [ARG...]\n"
	"\n"
	"Applies the Landlock ruleset in FILE to itself (one Landlock layer per policy; the\n"
	"kernel intersects them), sets no_new_privs, then execs COMMAND (looked up in PATH\n"
	"like execvp) with its arguments and environment untouched. The command's own file\n"
	"and the interpreters the kernel loads with it get execute and read_file in every\n"
	"layer; everything else must be granted by the ruleset.\n"
	"\n"
	"Options:\n"
	"      --ruleset FILE   the compiled ruleset (JSON, at most 1 MiB)\n"
	"      --abi-max N      test only: act as if the kernel had at most Landlock ABI N\n"
	"                       (0: as if it had no Landlock)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        print the version and exit\n"
	"  -v, --v=N            log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Exit status: COMMAND's, or 125 when the ruleset cannot be applied (invalid, or a\n"
	"HardRequirement the kernel cannot meet), 126 when COMMAND cannot be executed,\n"
	"127 when it is not found, 2 on a usage error.\n"
	"\n"
	"Examples:\n"
	"  bulwark-launch --ruleset /bulwark/ruleset.json -- nginx -g 'daemon off;'\n"
	"  bulwark-launch --ruleset r.json --abi-max 3 -v 2 -- /bin/sh -c 'echo hi'\n";

static int read_ruleset(const char *path, struct landlock_ruleset **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		log_error(r, "cannot open the ruleset", "path", path);
		return r;
	}
	/* One byte more than the limit tells a too-large file from one exactly at it. */
	size_t cap = LANDLOCK_RULESET_MAX_BYTES + 1, len = 0;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			log_error(r, "cannot read the ruleset", "path", path);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break;
	}
	struct field_error err = {0};
	int r = landlock_ruleset_parse(data, len, ret, &err);
	if (r < 0) {
		char msg[800];
		log_error(r, "invalid ruleset", "path", path, "reason",
			  r == -EINVAL ? field_error_str(&err, msg, sizeof(msg)) : strerror(-r));
		return r;
	}
	return 0;
}

/* "fs:truncate,ioctl_dev net:bind_tcp" and the newest ABI any of them needs. */
static const char *format_rights(struct landlock_rights d, char *buf, size_t size,
				 int *ret_needed_abi)
{
	static const enum landlock_kind kinds[] = {LANDLOCK_KIND_FS, LANDLOCK_KIND_NET,
						   LANDLOCK_KIND_SCOPE};
	static const char *const prefix[] = {"fs:", "net:", "scope:"};
	const uint64_t bits[] = {d.fs, d.net, d.scope};
	size_t len = 0;
	int needed = 0;
	buf[0] = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		char names[256];
		if (!bits[k])
			continue;
		for (int b = 0; b < 64; b++)
			if ((bits[k] >> b) & 1) {
				int abi = landlock_right_abi(kinds[k], 1ULL << b);
				needed = abi > needed ? abi : needed;
			}
		landlock_rights_format(kinds[k], bits[k], names, sizeof(names));
		int w = snprintf(buf + len, size - len, "%s%s%s", len ? " " : "", prefix[k], names);
		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
	if (ret_needed_abi)
		*ret_needed_abi = needed;
	return buf;
}

static bool layer_handles_anything(const struct landlock_layer *l)
{
	return !landlock_rights_empty(l->handled);
}

/* Clears what the kernel lacks from every layer; refuses with HardRequirement. */
static int downgrade_layers(struct landlock_ruleset *rs, int abi)
{
	for (size_t i = 0; i < rs->n_layers; i++) {
		struct landlock_layer *l = &rs->layers[i];
		struct landlock_rights dropped = landlock_layer_downgrade(l, abi);
		if (landlock_rights_empty(dropped))
			continue;
		char what[512];
		int needed;
		format_rights(dropped, what, sizeof(what), &needed);
		if (rs->hard_requirement && !l->audit) {
			log_error(-EOPNOTSUPP,
				  "the kernel's Landlock lacks rights this ruleset requires "
				  "(compatibility HardRequirement), refusing to run the command",
				  "layer", LOG_INT(i), "policy", l->policy, "abi", LOG_INT(abi),
				  "needsAbi", LOG_INT(needed), "missing", what);
			return -EOPNOTSUPP;
		}
		log_warn("the kernel's Landlock lacks these rights, so the layer cannot restrict "
			 "them (compatibility BestEffort)",
			 "layer", LOG_INT(i), "policy", l->policy, "abi", LOG_INT(abi), "needsAbi",
			 LOG_INT(needed), "dropped", what);
	}
	return 0;
}

static void report_audit_layer(const struct landlock_layer *l, size_t i,
			       const struct layer_stats *st)
{
	char handled[512];
	format_rights(l->handled, handled, sizeof(handled), NULL);
	log_warn("layer from an Audit policy: built but not enforced; this is what it would "
		 "restrict",
		 "layer", LOG_INT(i), "policy", l->policy, "handled", handled, "pathRules",
		 LOG_INT(st->path_rules), "portRules", LOG_INT(st->port_rules), "skippedPaths",
		 LOG_INT(st->skipped_paths));
}

static int enforce_layers(struct landlock_ruleset *rs, int abi,
			  const struct landlock_exec_files *exec)
{
	bool nnp = false;
	/* Without this flag, denials by the command after our execve() would not be audited. */
	uint32_t flags = landlock_abi_restrict_flags(abi) & LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON;

	for (size_t i = 0; i < rs->n_layers; i++) {
		const struct landlock_layer *l = &rs->layers[i];
		if (!layer_handles_anything(l)) {
			log_info(1, "layer restricts nothing on this kernel, skipping", "layer",
				 LOG_INT(i), "policy", l->policy);
			continue;
		}
		/* An Audit layer is only reported, so nothing in it can make the pod fail. */
		const struct layer_apply a = {.abi = abi,
					      .hard_requirement = rs->hard_requirement && !l->audit,
					      .exec = exec};
		struct layer_stats st;
		_cleanup_close_ int fd = -1;
		int r = layer_build(l, i, &a, &fd, &st);
		if (r < 0 && l->audit) {
			log_warn("layer from an Audit policy cannot be built; in Enforce mode the "
				 "command would not start",
				 "layer", LOG_INT(i), "policy", l->policy, "reason", strerror(-r));
			continue;
		}
		if (r < 0)
			return r;
		if (l->audit) {
			report_audit_layer(l, i, &st);
			continue;
		}
		if (!nnp) {
			/* Landlock requires it of unprivileged callers, and it keeps a setuid
			 * binary from shedding the domain. */
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
				r = -errno;
				log_error(r, "cannot set no_new_privs");
				return r;
			}
			nnp = true;
		}
		if (landlock_restrict_self(fd, flags) < 0) {
			r = -errno;
			log_error(r, "cannot enforce the Landlock layer", "layer", LOG_INT(i),
				  "policy", l->policy);
			return r;
		}
		log_info(1, "Landlock layer enforced", "layer", LOG_INT(i), "policy", l->policy,
			 "abi", LOG_INT(abi), "pathRules", LOG_INT(st.path_rules), "portRules",
			 LOG_INT(st.port_rules));
	}
	return 0;
}

static bool ruleset_enforces_anything(const struct landlock_ruleset *rs)
{
	for (size_t i = 0; i < rs->n_layers; i++)
		if (!rs->layers[i].audit && layer_handles_anything(&rs->layers[i]))
			return true;
	return false;
}

static int parse_abi_max(const char *arg, int *ret)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < 0 || v > 1000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"ruleset", required_argument, NULL, OPT_RULESET},
		{"abi-max", required_argument, NULL, OPT_ABI_MAX},
		{0},
	};
	const char *ruleset_path = NULL;
	int abi_max = -1, opt;

	/* "+": options end at the command, whose own options are not ours. */
	while ((opt = getopt_long(argc, argv, "+" CLI_COMMON_SHORT, options, NULL)) != -1) {
		switch (opt) {
		case OPT_RULESET: ruleset_path = optarg; break;
		case OPT_ABI_MAX:
			if (parse_abi_max(optarg, &abi_max) < 0)
				return cli_usage_error(
					"bulwark-launch",
					"--abi-max takes an ABI version >= 0, not '%s'", optarg);
			break;
		default: {
			int r = cli_common_option(opt, optarg, "bulwark-launch", usage);
			if (r == 0)
				return EXIT_SUCCESS;
			if (r < 0)
				return r == -ENOENT
					       ? cli_usage_error("bulwark-launch", "unknown option")
					       : 2;
		}
		}
	}
	if (!ruleset_path)
		return cli_usage_error("bulwark-launch", "--ruleset FILE is required");
	if (optind >= argc)
		return cli_usage_error("bulwark-launch", "no command to run after --");
	char **cmd = argv + optind;

	_cleanup_landlock_ruleset_ struct landlock_ruleset *rs = NULL;
	if (read_ruleset(ruleset_path, &rs) < 0)
		return EXIT_LAUNCHER;

	char program[PATH_MAX];
	int r = landlock_exec_resolve(cmd[0], program);
	if (r < 0) {
		log_error(r, "cannot find the command", "command", cmd[0]);
		return r == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	}

	int abi = landlock_abi_probe();
	const char *unavailable = abi < 0 ? landlock_abi_unavailable_hint(abi) : NULL;
	if (abi > 0 && abi_max >= 0 && abi > abi_max) {
		log_info(1, "pretending the kernel has an older Landlock ABI (--abi-max)", "abi",
			 LOG_INT(abi), "abiMax", LOG_INT(abi_max));
		abi = abi_max;
		if (abi == 0)
			unavailable = "--abi-max 0 asks to act as if the kernel had no Landlock";
	}

	if (unavailable) {
		if (rs->hard_requirement && ruleset_enforces_anything(rs)) {
			log_error(
				abi < 0 ? abi : -ENOSYS,
				"Landlock is unavailable (compatibility HardRequirement), refusing "
				"to run the command",
				"hint", unavailable);
			return EXIT_LAUNCHER;
		}
		if (rs->n_layers)
			log_warn("Landlock is unavailable, running the command without it "
				 "(compatibility BestEffort)",
				 "hint", unavailable);
	} else {
		struct landlock_exec_files exec;
		if (downgrade_layers(rs, abi) < 0)
			return EXIT_LAUNCHER;
		r = landlock_exec_files(program, &exec);
		if (r < 0) {
			log_error(r, "cannot find the files the command needs to start", "command",
				  program);
			return EXIT_LAUNCHER;
		}
		if (enforce_layers(rs, abi, &exec) < 0)
			return EXIT_LAUNCHER;
	}

	/* The ruleset is no longer needed, and the command should not inherit its memory. */
	rs = landlock_ruleset_free(rs);
	execv(program, cmd);
	r = -errno;
	log_error(r, "cannot execute the command", "command", program);
	return r == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}
