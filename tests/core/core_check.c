/* The CO-RE check: every BPF object of the build, relocated against the BTF of every kernel
 * of the matrix (tests/core/kernel-btf.sh extracts them from Debian's kernel packages), then
 * handed to this machine's verifier. Prints TAP, one case per object and kernel.
 *
 *   core_check KERNEL=BTF_FILE... -- OBJECT...
 *
 * Why load, and not only relocate: libbpf does not fail a relocation that matches nothing, it
 * poisons the instruction (a call to a helper that does not exist), because code guarded by
 * bpf_core_field_exists() and friends is meant to hold such instructions in branches that a
 * kernel never takes. Only the verifier knows which branches are dead, so a poisoned
 * instruction that is reachable ("failed to resolve CO-RE relocation") is found by loading.
 * btf_custom_path makes libbpf relocate against the given kernel's BTF instead of this
 * machine's; the programs still attach to (and are verified against) this machine's kernel,
 * which is why each of them is loaded but never attached. Every program is loaded, knobs at
 * their defaults: that is the variant with the most reachable code. */
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's, not in userspace headers */
#endif
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libbpf's messages of the current case, shown only when it fails. */
static char log_buf[1 << 16];
static size_t log_len;

static int collect_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || log_len >= sizeof(log_buf) - 1)
		return 0;
	int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
	if (n > 0)
		log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n
								 : sizeof(log_buf) - 1 - log_len;
	return 0;
}

static void print_diagnostics(void)
{
	const char *line = log_buf;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		printf("#   %.*s\n", (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
}

static const char *const trampoline_sections[] = {"fentry/", "fexit/", "fmod_ret/"};

static bool is_trampoline(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	for (size_t i = 0; i < sizeof(trampoline_sections) / sizeof(*trampoline_sections); i++)
		if (strncmp(sec, trampoline_sections[i], strlen(trampoline_sections[i])) == 0)
			return true;
	return false;
}

/* Loads obj_path's programs with CO-RE relocated against btf_path (NULL: this kernel's);
 * only its fentry/fexit programs when trampolines_only. */
static int load(const char *obj_path, const char *btf_path, bool trampolines_only)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path);
	struct bpf_object *obj = bpf_object__open_file(obj_path, &opts);
	if (!obj)
		return -errno;
	struct bpf_program *prog;
	int n = 0;
	bpf_object__for_each_program (prog, obj) {
		bool load = !trampolines_only || is_trampoline(prog);
		bpf_program__set_autoload(prog, load);
		n += load;
	}
	int err = n ? bpf_object__load(obj) : -ENOENT;
	bpf_object__close(obj);
	return err;
}

/* Whether this kernel loads fentry/fexit programs at all (some refuse BPF trampolines before
 * verifying anything): the first object that has some tells. Where it does not, they are
 * verified as kprobe programs: the same instructions, the same relocations, their context
 * read as the raw argument array it is; what the verifier then proves is that no unresolved
 * relocation is reachable, which is what this check is for. Their attaching is the kernel
 * tier's job. A handler of our own for their sections takes precedence over libbpf's, and so
 * they are opened as kprobes, with no attach target looked up. */
static bool trampolines_refused(char **objects, int n)
{
	for (int i = 0; i < n; i++) {
		int err = load(objects[i], NULL, true);
		if (err == -ENOENT)
			continue;
		if (err != -EPERM && err != -EOPNOTSUPP && err != -ENOTSUPP)
			return false;
		for (size_t j = 0; j < sizeof(trampoline_sections) / sizeof(*trampoline_sections);
		     j++)
			if (libbpf_register_prog_handler(trampoline_sections[j],
							 BPF_PROG_TYPE_KPROBE, 0, NULL) < 0)
				return false;
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	int sep = 1;
	while (sep < argc && strcmp(argv[sep], "--") != 0)
		sep++;
	int kernels = sep - 1, objects = argc - sep - 1;
	if (kernels < 1 || objects < 1) {
		fprintf(stderr, "usage: %s KERNEL=BTF_FILE... -- OBJECT...\n", argv[0]);
		return 2;
	}
	libbpf_set_print(collect_log);
	bool as_kprobes = trampolines_refused(argv + sep + 1, objects);
	printf("1..%d\n", kernels * objects);
	int n = 0, failed = 0;
	for (int k = 1; k < sep; k++) {
		const char *eq = strchr(argv[k], '=');
		if (!eq || eq == argv[k] || !eq[1]) {
			fprintf(stderr, "%s: '%s': expected KERNEL=BTF_FILE\n", argv[0], argv[k]);
			return 2;
		}
		for (int o = sep + 1; o < argc; o++) {
			const char *base = strrchr(argv[o], '/');
			base = base ? base + 1 : argv[o];
			log_len = 0;
			log_buf[0] = '\0';
			int err = load(argv[o], eq + 1, false);
			printf("%s %d - %s relocates and verifies against %.*s%s\n",
			       err ? "not ok" : "ok", ++n, base, (int)(eq - argv[k]), argv[k],
			       as_kprobes ? " (fentry/fexit as kprobes: this kernel refuses them)"
					  : "");
			if (err) {
				failed++;
				printf("# %s\n", strerror(-err));
				print_diagnostics();
			}
		}
	}
	return failed ? 1 : 0;
}
