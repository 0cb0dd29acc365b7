/* RuntimeDefault as our own data, encoded from the reference (runtime_default.h): the default
 * profile of github.com/moby/profiles/seccomp v0.3.0, resolved for a container with the
 * runtime's default capability set (no CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, …;
 * CAP_SYS_CHROOT is in it, so chroot is allowed) on x86-64 (with x86 and x32) and arm64 (with
 * arm). tests/unit/test_seccomp_reference.c compares these tables with the reference that
 * tests/seccomp-reference prints from upstream's own module, per architecture:
 *  - the unconditional allow-list below (io_uring_setup, io_uring_enter and io_uring_register
 *    are not in it: the reference blocks io_uring);
 *  - clone only without CLONE_NEW* flags (no new namespaces without CAP_SYS_ADMIN);
 *  - clone3 fails with ENOSYS, because its flags live in a struct seccomp cannot read: glibc
 *    then falls back to clone, whose flags the filter can check;
 *  - personality only for PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the query
 *    0xffffffff;
 *  - socket only for the families the reference lists (an allow-list: a family the kernel adds
 *    later stays refused): below 3 (AF_UNIX, AF_INET), then one by one. AF_ALG (38) and
 *    AF_VSOCK (40) are refused, and so are families the kernel removed (AF_AX25, AF_IPX, …).
 * Everything else gets the default, Errno EPERM, like the reference's defaultErrnoRet. A call
 * newer than every call the profile names gets ENOSYS from the OCI runtime's stub instead
 * (runc since 1.0), for the reference and for our profile alike, so libc falls back; we add no
 * ENOSYS rules of our own, which would make the two differ. */
#include "seccomp/runtime_default.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

const char seccomp_runtime_default_reference[] = "github.com/moby/profiles/seccomp v0.3.0";

const char seccomp_runtime_default_allow[] =
	"_llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget "
	"capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres "
	"clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep "
	"clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 "
	"epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 "
	"epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat "
	"faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat "
	"fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock "
	"fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate "
	"ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake "
	"futimesat get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid "
	"getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer "
	"getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid "
	"getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt "
	"gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch "
	"inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents "
	"io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc "
	"kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
	"lgetxattr link linkat listen listmount listxattr listxattrat llistxattr lremovexattr "
	"lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create "
	"memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 "
	"mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 "
	"mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd "
	"msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat open openat "
	"openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free "
	"pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 "
	"process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead "
	"readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg "
	"remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall "
	"rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn "
	"rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo "
	"sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr "
	"sched_getparam sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 "
	"sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp "
	"select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 "
	"sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid "
	"setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer "
	"setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 "
	"setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr setxattrat "
	"shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask "
	"sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx "
	"symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create "
	"timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
	"timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime "
	"timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink "
	"unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 "
	"waitid waitpid write writev"
	/* CAP_SYS_CHROOT is in the default capability set. */
	" chroot"
	/* The reference's architecture-specific entries: x86 (arch_prctl, modify_ldt) and arm
	 * (the rest). Each is known on its own architectures only, and runc skips a name the
	 * node's architecture lacks. sync_file_range2 is arm's too in the reference, but
	 * libseccomp knows it on powerpc only (arm's is arm_sync_file_range). */
	" arch_prctl modify_ldt arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls";

/* CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
 * CLONE_NEWCGROUP */
#define CLONE_NEW_FLAGS 0x7E020000ULL

#define PERSONALITY(v)                                  \
	{                                               \
		"personality", SECCOMP_ACTION_ALLOW, 0, \
		{                                       \
			0, (v), 0, "SCMP_CMP_EQ"        \
		}                                       \
	}
#define SOCKET(v, op)                              \
	{                                          \
		"socket", SECCOMP_ACTION_ALLOW, 0, \
		{                                  \
			0, (v), 0, (op)            \
		}                                  \
	}

const struct seccomp_base_rule seccomp_runtime_default_rules[] = {
	{"clone", SECCOMP_ACTION_ALLOW, 0, {0, CLONE_NEW_FLAGS, 0, "SCMP_CMP_MASKED_EQ"}},
	{"clone3", SECCOMP_ACTION_ERRNO, ENOSYS, {0, 0, 0, NULL}},
	PERSONALITY(0x0),
	PERSONALITY(0x8),
	PERSONALITY(0x20000),
	PERSONALITY(0x20008),
	PERSONALITY(0xffffffff),
	/* Families by number (AF_BRIDGE 7 … AF_MCTP 45), as the reference lists them. */
	SOCKET(3, "SCMP_CMP_LT"),
	SOCKET(7, "SCMP_CMP_EQ"),
	SOCKET(8, "SCMP_CMP_EQ"),
	SOCKET(9, "SCMP_CMP_EQ"),
	SOCKET(10, "SCMP_CMP_EQ"),
	SOCKET(13, "SCMP_CMP_EQ"),
	SOCKET(14, "SCMP_CMP_EQ"),
	SOCKET(15, "SCMP_CMP_EQ"),
	SOCKET(16, "SCMP_CMP_EQ"),
	SOCKET(17, "SCMP_CMP_EQ"),
	SOCKET(18, "SCMP_CMP_EQ"),
	SOCKET(21, "SCMP_CMP_EQ"),
	SOCKET(22, "SCMP_CMP_EQ"),
	SOCKET(24, "SCMP_CMP_EQ"),
	SOCKET(26, "SCMP_CMP_EQ"),
	SOCKET(27, "SCMP_CMP_EQ"),
	SOCKET(28, "SCMP_CMP_EQ"),
	SOCKET(29, "SCMP_CMP_EQ"),
	SOCKET(30, "SCMP_CMP_EQ"),
	SOCKET(31, "SCMP_CMP_EQ"),
	SOCKET(32, "SCMP_CMP_EQ"),
	SOCKET(33, "SCMP_CMP_EQ"),
	SOCKET(35, "SCMP_CMP_EQ"),
	SOCKET(36, "SCMP_CMP_EQ"),
	SOCKET(39, "SCMP_CMP_EQ"),
	SOCKET(41, "SCMP_CMP_EQ"),
	SOCKET(42, "SCMP_CMP_EQ"),
	SOCKET(43, "SCMP_CMP_EQ"),
	SOCKET(44, "SCMP_CMP_EQ"),
	SOCKET(45, "SCMP_CMP_EQ"),
};
const unsigned seccomp_runtime_default_n_rules = ARRAY_SIZE(seccomp_runtime_default_rules);

#define PTRACE_REASON                                                                          \
	"the reference allows it on kernels >= 4.8 even without CAP_SYS_PTRACE; inspecting "   \
	"other processes is not part of an ordinary workload, so a policy that needs it says " \
	"allow: [ptrace] or [@debug]"

const struct seccomp_base_difference seccomp_runtime_default_differences[] = {
	{"process_vm_readv", PTRACE_REASON},
	{"process_vm_writev", PTRACE_REASON},
	{"ptrace", PTRACE_REASON},
};
const unsigned seccomp_runtime_default_n_differences =
	ARRAY_SIZE(seccomp_runtime_default_differences);

const struct seccomp_base_difference *seccomp_runtime_default_difference(const char *name)
{
	for (unsigned i = 0; i < seccomp_runtime_default_n_differences; i++)
		if (strcmp(seccomp_runtime_default_differences[i].name, name) == 0)
			return &seccomp_runtime_default_differences[i];
	return NULL;
}

static bool in_allow_list(const char *name)
{
	size_t len = strlen(name);
	for (const char *p = seccomp_runtime_default_allow; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (n == len && strncmp(p, name, len) == 0)
			return true;
		p += n;
	}
	return false;
}

enum seccomp_base_verdict seccomp_runtime_default_verdict(const char *name, int *ret_errno)
{
	if (in_allow_list(name))
		return SECCOMP_BASE_ALLOW;
	for (unsigned i = 0; i < seccomp_runtime_default_n_rules; i++) {
		const struct seccomp_base_rule *b = &seccomp_runtime_default_rules[i];
		if (strcmp(b->name, name) != 0)
			continue;
		if (b->action == SECCOMP_ACTION_ERRNO) {
			if (ret_errno)
				*ret_errno = b->errno_ret;
			return SECCOMP_BASE_ERRNO;
		}
		return SECCOMP_BASE_ALLOW_IF_ARGS;
	}
	return SECCOMP_BASE_DEFAULT;
}
