/* seccomp_profile: drives lib/seccomp from scripts (tests/kernel/test_seccomp_runc.sh,
 * bench/seccomp.sh).
 *
 *   seccomp_profile compile SECTION.json...         composed OCI profile on stdout (canonical)
 *   seccomp_profile store ROOT PROFILE.json          writes it into the profile store under ROOT,
 *                                                    prints its localhostProfile name
 *   seccomp_profile synth-args N                     an OCI profile of N argument-conditioned
 *                                                    allow rules (for the benchmark)
 *   seccomp_profile bench [--optimize] [--profile F] --workload getppid|mixed --iterations N
 *                                                    ns per iteration on stdout
 *   seccomp_profile run [--optimize] PROFILE -- CMD ARG...   applies PROFILE, then execs CMD
 *
 * A SECTION file is a spec.seccomp object, or a BulwarkPolicy (its spec.seccomp and spec.mode
 * are used). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "canonical.h"
#include "cleanup.h"
#include "error.h"
#include "policy_section.h"
#include "seccomp/load.h"
#include "seccomp/policy.h"
#include "seccomp/store.h"

#define SECTIONS_MAX 64

static const char usage[] =
	"usage: seccomp_profile compile SECTION.json...\n"
	"       seccomp_profile store ROOT PROFILE.json\n"
	"       seccomp_profile synth-args N\n"
	"       seccomp_profile bench [--optimize] [--profile FILE] --workload getppid|mixed "
	"--iterations N\n"
	"       seccomp_profile run [--optimize] PROFILE -- CMD [ARG...]\n";

static int cmd_compile(int argc, char **argv)
{
	if (argc < 1 || argc > SECTIONS_MAX) {
		fputs(usage, stderr);
		return 2;
	}
	json_t *docs[SECTIONS_MAX] = {0};
	struct policy_section sections[SECTIONS_MAX];
	json_auto_t *profile = NULL;
	_cleanup_free_ char *text = NULL;
	int rc = 1;
	for (int i = 0; i < argc; i++) {
		json_error_t jerr;
		docs[i] = json_load_file(argv[i], 0, &jerr);
		if (!docs[i]) {
			fprintf(stderr, "%s:%d: %s\n", argv[i], jerr.line, jerr.text);
			goto out;
		}
		const json_t *spec = json_object_get(docs[i], "spec");
		const char *mode = json_string_value(json_object_get(spec, "mode"));
		sections[i] = (struct policy_section){
			.policy = argv[i],
			.audit = mode && strcmp(mode, "Audit") == 0,
			.section = spec ? json_object_get(spec, "seccomp") : docs[i],
		};
		if (!sections[i].section) {
			fprintf(stderr, "%s: no spec.seccomp\n", argv[i]);
			goto out;
		}
	}
	struct field_error err = {0};
	int r = seccomp_policy_compile(sections, argc, &profile, &err);
	if (r < 0) {
		char msg[800];
		fprintf(stderr, "compile: %s\n",
			r == -EINVAL ? field_error_str(&err, msg, sizeof(msg)) : strerror(-r));
		goto out;
	}
	text = json_canonical_dump(profile);
	if (!text)
		goto out;
	puts(text);
	rc = 0;
out:
	for (int i = 0; i < argc; i++)
		json_decref(docs[i]);
	return rc;
}

static int cmd_store(int argc, char **argv)
{
	if (argc != 2) {
		fputs(usage, stderr);
		return 2;
	}
	json_error_t jerr;
	json_auto_t *profile = json_load_file(argv[1], 0, &jerr);
	if (!profile) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], jerr.line, jerr.text);
		return 1;
	}
	char name[SECCOMP_PROFILE_NAME_MAX];
	int r = seccomp_profile_store_write(argv[0], profile, name);
	if (r < 0) {
		fprintf(stderr, "store %s: %s\n", argv[0], strerror(-r));
		return 1;
	}
	puts(name);
	return 0;
}

/* N allow rules, each on its own syscall with an argument condition that always holds for the
 * benchmark's calls (arg0 != 0xdeadbeef): no rule is constant, so the kernel's allow-cache
 * cannot skip the filter and its length (or tree depth) is what a syscall pays. */
static int cmd_synth_args(int argc, char **argv)
{
	if (argc != 1) {
		fputs(usage, stderr);
		return 2;
	}
	int n = atoi(argv[0]);
	json_auto_t *syscalls = json_array();
	int added = 0;
	for (int nr = 0; nr < 1024 && added < n; nr++) {
		_cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (!name)
			continue;
		/* Calls the process needs to exit and report must work unconditionally. */
		if (strcmp(name, "exit_group") == 0 || strcmp(name, "exit") == 0)
			continue;
		json_array_append_new(
			syscalls, json_pack("{s:[s], s:s, s:[{s:i, s:I, s:s}]}", "names", name,
					    "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value",
					    (json_int_t)0xdeadbeef, "op", "SCMP_CMP_NE"));
		added++;
	}
	json_array_append_new(syscalls, json_pack("{s:[s,s], s:s}", "names", "exit", "exit_group",
						  "action", "SCMP_ACT_ALLOW"));
	json_auto_t *profile = json_pack("{s:s, s:i, s:[s], s:O}", "defaultAction",
					 "SCMP_ACT_ERRNO", "defaultErrnoRet", 1, "architectures",
					 "SCMP_ARCH_X86_64", "syscalls", syscalls);
	_cleanup_free_ char *text = profile ? json_canonical_dump(profile) : NULL;
	if (!text)
		return 1;
	puts(text);
	return 0;
}

static int apply_file(const char *path, bool optimize)
{
	json_error_t jerr;
	json_auto_t *profile = json_load_file(path, 0, &jerr);
	if (!profile) {
		fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	unsigned skipped = 0;
	int r = seccomp_profile_apply(profile, optimize ? SECCOMP_LOAD_OPTIMIZE : 0, &skipped);
	if (r < 0)
		fprintf(stderr, "%s: cannot apply: %s\n", path, strerror(-r));
	return r;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmd_bench(int argc, char **argv)
{
	const char *profile = NULL, *workload = NULL;
	long iterations = 0;
	bool optimize = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--optimize") == 0)
			optimize = true;
		else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
			profile = argv[++i];
		else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc)
			workload = argv[++i];
		else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			iterations = atol(argv[++i]);
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	bool mixed = workload && strcmp(workload, "mixed") == 0;
	if (!workload || (!mixed && strcmp(workload, "getppid") != 0) || iterations <= 0) {
		fputs(usage, stderr);
		return 2;
	}
	/* A small regular file every machine has. */
	const char *file = "/etc/hostname";
	if (profile && apply_file(profile, optimize) < 0)
		return 1;

	double start = now_ns();
	if (!mixed) {
		for (long i = 0; i < iterations; i++)
			syscall(SYS_getppid, 0);
	} else {
		char buf[256];
		struct stat st;
		for (long i = 0; i < iterations; i++) {
			int fd = open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0 || stat(file, &st) < 0) {
				fprintf(stderr, "mixed workload failed: %s\n", strerror(errno));
				return 1;
			}
			close(fd);
		}
	}
	double ns = (now_ns() - start) / (double)iterations;
	printf("%.1f\n", ns);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	bool optimize = false;
	int i = 0;
	if (i < argc && strcmp(argv[i], "--optimize") == 0) {
		optimize = true;
		i++;
	}
	if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (apply_file(argv[i], optimize) < 0)
		return 1;
	execvp(argv[i + 2], argv + i + 2);
	fprintf(stderr, "exec %s: %s\n", argv[i + 2], strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "compile") == 0)
		return cmd_compile(argc - 2, argv + 2);
	if (strcmp(argv[1], "store") == 0)
		return cmd_store(argc - 2, argv + 2);
	if (strcmp(argv[1], "synth-args") == 0)
		return cmd_synth_args(argc - 2, argv + 2);
	if (strcmp(argv[1], "bench") == 0)
		return cmd_bench(argc - 2, argv + 2);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	fputs(usage, stderr);
	return 2;
}
