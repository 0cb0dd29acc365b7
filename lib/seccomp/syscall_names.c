#include "seccomp/syscall_names.h"

#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

const char *const seccomp_profile_arches[] = {
	"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
};
const unsigned seccomp_profile_n_arches = ARRAY_SIZE(seccomp_profile_arches);

static const uint32_t profile_arch_tokens[] = {
	SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM,
};

/* Syscalls added to Linux after the syscall table of upstream libseccomp 2.5.4 was cut (Debian
 * 12's 2.5.4-1+deb12u1 knows the 6.5-6.7 ones, cachestat to futex_requeue, but not the later
 * ones). Users may name them, and RuntimeDefault allows most of them. runc skips a name its
 * libseccomp cannot resolve; lib/seccomp/load adds such calls by number on the native
 * architecture instead. The numbers are the asm-generic ones that x86-64 and arm64 share for
 * every syscall since 5.1 (424 on); uretprobe exists on x86-64 only. */
static const struct {
	const char *name;
	int nr;
} newer_syscalls[] = {
	{"cachestat", 451},	    {"fchmodat2", 452},
	{"map_shadow_stack", 453},  {"futex_wake", 454},
	{"futex_wait", 455},	    {"futex_requeue", 456},
	{"statmount", 457},	    {"listmount", 458},
	{"lsm_get_self_attr", 459}, {"lsm_set_self_attr", 460},
	{"lsm_list_modules", 461},  {"mseal", 462},
	{"setxattrat", 463},	    {"getxattrat", 464},
	{"listxattrat", 465},	    {"removexattrat", 466},
	{"open_tree_attr", 467},    {"file_getattr", 468},
	{"file_setattr", 469},	    {"uretprobe", 335 /* x86-64 */},
};

int seccomp_syscall_newer_nr(const char *name)
{
#if defined(__x86_64__) || defined(__aarch64__)
	for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++) {
		if (strcmp(name, newer_syscalls[i].name) != 0)
			continue;
#if defined(__aarch64__)
		if (strcmp(name, "uretprobe") == 0)
			return -ENOENT;
#endif
		return newer_syscalls[i].nr;
	}
#endif
	return -ENOENT;
}

int seccomp_syscall_check(const char *name)
{
	bool known_elsewhere = false;

	for (size_t i = 0; i < ARRAY_SIZE(profile_arch_tokens); i++) {
		int nr = seccomp_syscall_resolve_name_arch(profile_arch_tokens[i], name);
		if (nr >= 0)
			return 0;
		/* libseccomp answers names it knows on other architectures with a negative
		 * pseudo-syscall number rather than __NR_SCMP_ERROR. */
		if (nr != __NR_SCMP_ERROR)
			known_elsewhere = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++)
		if (strcmp(name, newer_syscalls[i].name) == 0)
			return 0;
	return known_elsewhere ? -EXDEV : -ENOENT;
}

/* Above every syscall number Linux has used, on every architecture we cover. */
#define SYSCALL_NR_SCAN_MAX 1024
#define X32_SYSCALL_BIT	    0x40000000

/* libseccomp resolves numbers by scanning its tables, so the list is built once per process
 * (a policy may name @known many times; a webhook validates many policies). */
static json_t *known_names;
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void known_names_init(void)
{
	json_t *set = json_object();
	if (!set)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(profile_arch_tokens); i++) {
		uint32_t arch = profile_arch_tokens[i];
		int base = arch == SCMP_ARCH_X32 ? X32_SYSCALL_BIT : 0;
		/* arm's private syscalls (set_tls, cacheflush, …) live at 0xf0000 upwards. */
		int ranges[][2] = {{base, base + SYSCALL_NR_SCAN_MAX},
				   {arch == SCMP_ARCH_ARM ? 0xf0000 : 0,
				    arch == SCMP_ARCH_ARM ? 0xf0000 + 16 : 0}};
		for (size_t k = 0; k < ARRAY_SIZE(ranges); k++)
			for (int nr = ranges[k][0]; nr < ranges[k][1]; nr++) {
				char *name = seccomp_syscall_resolve_num_arch(arch, nr);
				if (!name)
					continue;
				int r = json_object_set_new(set, name, json_true());
				free(name);
				if (r < 0)
					goto fail;
			}
	}
	for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++)
		if (json_object_set_new(set, newer_syscalls[i].name, json_true()) < 0)
			goto fail;
	known_names = set;
	return;
fail:
	json_decref(set);
}

int seccomp_syscalls_known(json_t *set)
{
	if (pthread_once(&known_once, known_names_init) != 0 || !known_names)
		return -ENOMEM;
	/* The values are the json_true() singleton: sharing them touches no reference count, so
	 * concurrent callers only read known_names. */
	return json_object_update(set, known_names) < 0 ? -ENOMEM : 0;
}

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{"EPERM", EPERM},
	{"ENOENT", ENOENT},
	{"ESRCH", ESRCH},
	{"EINTR", EINTR},
	{"EIO", EIO},
	{"ENXIO", ENXIO},
	{"E2BIG", E2BIG},
	{"ENOEXEC", ENOEXEC},
	{"EBADF", EBADF},
	{"ECHILD", ECHILD},
	{"EAGAIN", EAGAIN},
	{"ENOMEM", ENOMEM},
	{"EACCES", EACCES},
	{"EFAULT", EFAULT},
	{"EBUSY", EBUSY},
	{"EEXIST", EEXIST},
	{"EXDEV", EXDEV},
	{"ENODEV", ENODEV},
	{"ENOTDIR", ENOTDIR},
	{"EISDIR", EISDIR},
	{"EINVAL", EINVAL},
	{"ENFILE", ENFILE},
	{"EMFILE", EMFILE},
	{"ENOTTY", ENOTTY},
	{"ETXTBSY", ETXTBSY},
	{"EFBIG", EFBIG},
	{"ENOSPC", ENOSPC},
	{"ESPIPE", ESPIPE},
	{"EROFS", EROFS},
	{"EMLINK", EMLINK},
	{"EPIPE", EPIPE},
	{"ERANGE", ERANGE},
	{"ENAMETOOLONG", ENAMETOOLONG},
	{"ENOSYS", ENOSYS},
	{"ENOTEMPTY", ENOTEMPTY},
	{"ELOOP", ELOOP},
	{"ENODATA", ENODATA},
	{"ENOTSOCK", ENOTSOCK},
	{"ENOPROTOOPT", ENOPROTOOPT},
	{"EPROTONOSUPPORT", EPROTONOSUPPORT},
	{"EOPNOTSUPP", EOPNOTSUPP},
	{"EAFNOSUPPORT", EAFNOSUPPORT},
	{"EADDRINUSE", EADDRINUSE},
	{"EADDRNOTAVAIL", EADDRNOTAVAIL},
	{"ENETUNREACH", ENETUNREACH},
	{"ENOBUFS", ENOBUFS},
	{"ENOTCONN", ENOTCONN},
	{"ETIMEDOUT", ETIMEDOUT},
	{"ECONNREFUSED", ECONNREFUSED},
	{"EHOSTUNREACH", EHOSTUNREACH},
	{"EDQUOT", EDQUOT},
	{"ECANCELED", ECANCELED},
};

int seccomp_errno_from_name(const char *name, int *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (strcmp(name, errno_names[i].name) == 0) {
			*ret = errno_names[i].value;
			return 0;
		}
	/* ENOTSUP is EOPNOTSUPP on Linux; accept the spelling people type. */
	if (strcmp(name, "ENOTSUP") == 0) {
		*ret = ENOTSUP;
		return 0;
	}
	return -ENOENT;
}

const char *seccomp_errno_to_name(int errnum)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].value == errnum)
			return errno_names[i].name;
	return NULL;
}

static const struct {
	const char *name;
	const char *oci;
} action_names[_SECCOMP_ACTION_MAX] = {
	[SECCOMP_ACTION_ALLOW] = {"Allow", "SCMP_ACT_ALLOW"},
	[SECCOMP_ACTION_LOG] = {"Log", "SCMP_ACT_LOG"},
	[SECCOMP_ACTION_ERRNO] = {"Errno", "SCMP_ACT_ERRNO"},
	[SECCOMP_ACTION_TRAP] = {"Trap", "SCMP_ACT_TRAP"},
	[SECCOMP_ACTION_KILL_THREAD] = {"KillThread", "SCMP_ACT_KILL_THREAD"},
	[SECCOMP_ACTION_KILL_PROCESS] = {"KillProcess", "SCMP_ACT_KILL_PROCESS"},
};

int seccomp_action_from_name(const char *name, enum seccomp_action *ret)
{
	for (int a = 0; a < _SECCOMP_ACTION_MAX; a++)
		if (strcmp(name, action_names[a].name) == 0) {
			*ret = a;
			return 0;
		}
	return -ENOENT;
}

const char *seccomp_action_name(enum seccomp_action a)
{
	return a < _SECCOMP_ACTION_MAX ? action_names[a].name : NULL;
}

const char *seccomp_action_oci(enum seccomp_action a)
{
	return a < _SECCOMP_ACTION_MAX ? action_names[a].oci : NULL;
}

int seccomp_action_from_oci(const char *oci, enum seccomp_action *ret)
{
	for (int a = 0; a < _SECCOMP_ACTION_MAX; a++)
		if (strcmp(oci, action_names[a].oci) == 0) {
			*ret = a;
			return 0;
		}
	/* Older spellings runc still accepts: SCMP_ACT_KILL is kill-thread. */
	if (strcmp(oci, "SCMP_ACT_KILL") == 0) {
		*ret = SECCOMP_ACTION_KILL_THREAD;
		return 0;
	}
	return -ENOENT;
}
