#include "seccomp/load.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "seccomp/syscall_names.h"

#define PROFILE_ENTRIES_MAX 4096
#define ENTRY_NAMES_MAX	    4096
#define ARGS_MAX	    6
#define NEWER_MAX	    32 /* newer-than-libseccomp calls one filter adds by number */

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int arch_token(const char *name, uint32_t *ret)
{
	static const struct {
		const char *name;
		uint32_t token;
	} arches[] = {
		{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},	  {"SCMP_ARCH_X86", SCMP_ARCH_X86},
		{"SCMP_ARCH_X32", SCMP_ARCH_X32},	  {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
		{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},	  {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
		{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},	  {"SCMP_ARCH_S390", SCMP_ARCH_S390},
		{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if (strcmp(name, arches[i].name) == 0) {
			*ret = arches[i].token;
			return 0;
		}
	return -EINVAL;
}

static int cmp_op(const char *name, enum scmp_compare *ret)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{"SCMP_CMP_NE", SCMP_CMP_NE},
		{"SCMP_CMP_LT", SCMP_CMP_LT},
		{"SCMP_CMP_LE", SCMP_CMP_LE},
		{"SCMP_CMP_EQ", SCMP_CMP_EQ},
		{"SCMP_CMP_GE", SCMP_CMP_GE},
		{"SCMP_CMP_GT", SCMP_CMP_GT},
		{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(name, ops[i].name) == 0) {
			*ret = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* The libseccomp action for an OCI action and errnoRet (EPERM when absent, as in runc). */
static int action_of(const json_t *action, const json_t *errno_ret, uint32_t *ret)
{
	enum seccomp_action a;
	if (!json_is_string(action) || seccomp_action_from_oci(json_string_value(action), &a) < 0)
		return -EINVAL;
	json_int_t e = errno_ret ? json_integer_value(errno_ret) : EPERM;
	if (errno_ret && (!json_is_integer(errno_ret) || e < 0 || e > SECCOMP_ERRNO_MAX))
		return -EINVAL;
	switch (a) {
	case SECCOMP_ACTION_ALLOW: *ret = SCMP_ACT_ALLOW; break;
	case SECCOMP_ACTION_LOG: *ret = SCMP_ACT_LOG; break;
	case SECCOMP_ACTION_ERRNO: *ret = SCMP_ACT_ERRNO((uint32_t)e); break;
	case SECCOMP_ACTION_TRAP: *ret = SCMP_ACT_TRAP; break;
	case SECCOMP_ACTION_KILL_THREAD: *ret = SCMP_ACT_KILL_THREAD; break;
	case SECCOMP_ACTION_KILL_PROCESS: *ret = SCMP_ACT_KILL_PROCESS; break;
	default: return -EINVAL;
	}
	return 0;
}

static int parse_args(const json_t *args, struct scmp_arg_cmp cmps[ARGS_MAX], unsigned *ret_n)
{
	if (!args || json_is_null(args)) {
		*ret_n = 0;
		return 0;
	}
	if (!json_is_array(args) || json_array_size(args) > ARGS_MAX)
		return -EINVAL;
	size_t i;
	json_t *a;
	json_array_foreach (args, i, a) {
		const json_t *index = json_object_get(a, "index");
		const json_t *value = json_object_get(a, "value");
		const json_t *value_two = json_object_get(a, "valueTwo");
		const json_t *op = json_object_get(a, "op");
		enum scmp_compare o;
		if (!json_is_integer(index) || json_integer_value(index) < 0 ||
		    json_integer_value(index) > 5 || !json_is_integer(value) ||
		    (value_two && !json_is_integer(value_two)) || !json_is_string(op) ||
		    cmp_op(json_string_value(op), &o) < 0)
			return -EINVAL;
		cmps[i] = (struct scmp_arg_cmp){
			.arg = (unsigned)json_integer_value(index),
			.op = o,
			.datum_a = (scmp_datum_t)json_integer_value(value),
			.datum_b = value_two ? (scmp_datum_t)json_integer_value(value_two) : 0,
		};
	}
	*ret_n = (unsigned)json_array_size(args);
	return 0;
}

/* Calls libseccomp cannot name, added by number on the native architecture (see
 * seccomp_syscall_newer_nr()): what each returns. */
struct newer_rules {
	unsigned n;
	struct {
		int nr;
		uint32_t action;
	} rule[NEWER_MAX];
};

/* Records name for the native-architecture prologue; false when it cannot go there (not a
 * known newer call, an argument condition, a second rule for it, or no room). */
static bool newer_add(struct newer_rules *newer, const char *name, uint32_t action, unsigned n_cmps)
{
	int nr = seccomp_syscall_newer_nr(name);
	if (!newer || nr < 0 || n_cmps > 0 || newer->n >= NEWER_MAX)
		return false;
	for (unsigned i = 0; i < newer->n; i++)
		if (newer->rule[i].nr == nr)
			return false;
	newer->rule[newer->n].nr = nr;
	newer->rule[newer->n].action = action;
	newer->n++;
	return true;
}

static int profile_build(const json_t *profile, unsigned flags, scmp_filter_ctx *ret_ctx,
			 unsigned *ret_skipped, struct newer_rules *newer)
{
	int r;
	if (!json_is_object(profile))
		return -EINVAL;
	uint32_t default_action;
	r = action_of(json_object_get(profile, "defaultAction"),
		      json_object_get(profile, "defaultErrnoRet"), &default_action);
	if (r < 0)
		return r;

	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(default_action);
	if (!ctx)
		return -ENOMEM;
	if (flags & SECCOMP_LOAD_OPTIMIZE) {
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (r < 0)
			return r;
	}

	const json_t *arches = json_object_get(profile, "architectures");
	if (arches && !json_is_array(arches))
		return -EINVAL;
	size_t i;
	json_t *v;
	json_array_foreach (arches, i, v) {
		uint32_t token;
		if (!json_is_string(v) || arch_token(json_string_value(v), &token) < 0)
			return -EINVAL;
		r = seccomp_arch_add(ctx, token);
		if (r < 0 && r != -EEXIST)
			return r;
	}

	const json_t *syscalls = json_object_get(profile, "syscalls");
	if (syscalls &&
	    (!json_is_array(syscalls) || json_array_size(syscalls) > PROFILE_ENTRIES_MAX))
		return -EINVAL;
	unsigned skipped = 0;
	json_array_foreach (syscalls, i, v) {
		const json_t *names = json_object_get(v, "names");
		uint32_t action;
		struct scmp_arg_cmp cmps[ARGS_MAX];
		unsigned n_cmps;
		if (!json_is_array(names) || json_array_size(names) > ENTRY_NAMES_MAX)
			return -EINVAL;
		r = action_of(json_object_get(v, "action"), json_object_get(v, "errnoRet"),
			      &action);
		if (r < 0)
			return r;
		r = parse_args(json_object_get(v, "args"), cmps, &n_cmps);
		if (r < 0)
			return r;
		/* libseccomp rejects a rule that repeats the default; runc drops it too. */
		if (action == default_action)
			continue;

		size_t j;
		json_t *name;
		json_array_foreach (names, j, name) {
			if (!json_is_string(name))
				return -EINVAL;
			int nr = seccomp_syscall_resolve_name(json_string_value(name));
			if (nr == __NR_SCMP_ERROR) {
				if (!newer_add(newer, json_string_value(name), action, n_cmps))
					skipped++;
				continue;
			}
			r = seccomp_rule_add_array(ctx, action, nr, n_cmps, cmps);
			if (r < 0)
				return r;
		}
	}

	if (ret_skipped)
		*ret_skipped = skipped;
	*ret_ctx = TAKE_PTR(ctx);
	return 0;
}

int seccomp_profile_build(const json_t *profile, unsigned flags, scmp_filter_ctx *ret_ctx,
			  unsigned *ret_skipped)
{
	return profile_build(profile, flags, ret_ctx, ret_skipped, NULL);
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define X32_SYSCALL_BIT 0x40000000U

/* libseccomp's program for ctx, with a prologue that answers the newer calls on the native
 * architecture first (x32 calls, which share x86-64's audit arch, are left to libseccomp), the
 * way runc prepends its own stub. Loaded with the seccomp syscall, after no_new_privs. */
static int load_with_prologue(scmp_filter_ctx ctx, const struct newer_rules *newer)
{
#ifdef NATIVE_AUDIT_ARCH
	_cleanup_close_ int fd = memfd_create("bulwark-seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return r;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % sizeof(struct sock_filter) != 0)
		return -EIO;
	size_t n_prog = (size_t)size / sizeof(struct sock_filter);
	/* ld arch; jne; ld nr; [jset x32]; 2 per rule */
	size_t n_pro = 4 + 2 * (size_t)newer->n;
	_cleanup_free_ struct sock_filter *insns = calloc(n_pro + n_prog, sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	if (pread(fd, insns + n_pro, (size_t)size, 0) != size)
		return -EIO;
	size_t k = 0, rest = n_pro - 2; /* instructions after the arch check */
	insns[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						  offsetof(struct seccomp_data, arch));
	insns[k++] =
		(struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0, rest);
	insns[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						  offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	insns[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT,
						  (uint8_t)(2 * newer->n), 0);
#else
	insns[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0);
#endif
	for (unsigned i = 0; i < newer->n; i++) {
		insns[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							  (uint32_t)newer->rule[i].nr, 0, 1);
		insns[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, newer->rule[i].action);
	}
	struct sock_fprog prog = {.len = (unsigned short)(n_pro + n_prog), .filter = insns};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

int seccomp_profile_apply(const json_t *profile, unsigned flags, unsigned *ret_skipped)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	struct newer_rules newer = {0};
	int r = profile_build(profile, flags, &ctx, ret_skipped, &newer);
	if (r < 0)
		return r;
	if (newer.n == 0)
		return seccomp_load(ctx);
	return load_with_prologue(ctx, &newer);
}
