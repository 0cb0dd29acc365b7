/* RuntimeDefault, encoded as our own data from the Docker/containerd default profile:
 *   source: github.com/moby/moby, profiles/seccomp/default.json,
 *           commit 00f3d189e420d485e42d15fe494f96d272284e0e (the profile that containerd's
 *           contrib/seccomp and Kubernetes' RuntimeDefault follow).
 * Resolved for a Kubernetes container with the runtime's default capability set (no
 * CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, …; CAP_SYS_CHROOT is in it, so chroot is
 * allowed) on x86-64/x86/x32 and arm64/arm:
 *  - the unconditional allow-list below;
 *  - clone only without CLONE_NEW* flags (no new namespaces without CAP_SYS_ADMIN);
 *  - clone3 fails with ENOSYS, because its flags live in a struct seccomp cannot read: glibc
 *    then falls back to clone, whose flags the filter can check (runc does the same);
 *  - personality only for PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the query
 *    0xffffffff;
 *  - socket for every family but AF_VSOCK (40).
 * One deliberate difference: moby allows ptrace, process_vm_readv and process_vm_writev on
 * kernels >= 4.8 even without CAP_SYS_PTRACE. We keep them out (as the profile did before that
 * rule, and as CAP_SYS_PTRACE-less containers expect): inspecting other processes is not part
 * of an ordinary workload, and a policy that needs it says `allow: [ptrace]` or `[@debug]`. */
#include "seccomp/runtime_default.h"

#include <errno.h>

#include "cleanup.h"

const char seccomp_runtime_default_allow[] =
	"accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 "
	"clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
	"clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect "
	"copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
	"epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit "
	"exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
	"fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr "
	"flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync "
	"ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents "
	"getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 "
	"getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid "
	"getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname "
	"getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch "
	"inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents "
	"io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit "
	"io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule "
	"landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat "
	"listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise "
	"membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 "
	"mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive "
	"mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget "
	"msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat "
	"_newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc "
	"pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 "
	"process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead "
	"readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages "
	"removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction "
	"rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
	"rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam "
	"sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval "
	"sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
	"sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop "
	"semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 "
	"setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority "
	"setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 "
	"setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid "
	"setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 "
	"sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx "
	"symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create "
	"timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 "
	"timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times "
	"tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat "
	"utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev"
	/* CAP_SYS_CHROOT is in the default capability set. */
	" chroot"
	/* Architecture-specific entries of the same profile (x86 and arm). */
	" arch_prctl modify_ldt arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls";

/* CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
 * CLONE_NEWCGROUP */
#define CLONE_NEW_FLAGS 0x7E020000ULL

const struct seccomp_base_rule seccomp_runtime_default_rules[] = {
	{"clone", SECCOMP_ACTION_ALLOW, 0, {0, CLONE_NEW_FLAGS, 0, "SCMP_CMP_MASKED_EQ"}},
	{"clone3", SECCOMP_ACTION_ERRNO, ENOSYS, {0, 0, 0, NULL}},
	{"personality", SECCOMP_ACTION_ALLOW, 0, {0, 0x0, 0, "SCMP_CMP_EQ"}},
	{"personality", SECCOMP_ACTION_ALLOW, 0, {0, 0x8, 0, "SCMP_CMP_EQ"}},
	{"personality", SECCOMP_ACTION_ALLOW, 0, {0, 0x20000, 0, "SCMP_CMP_EQ"}},
	{"personality", SECCOMP_ACTION_ALLOW, 0, {0, 0x20008, 0, "SCMP_CMP_EQ"}},
	{"personality", SECCOMP_ACTION_ALLOW, 0, {0, 0xffffffff, 0, "SCMP_CMP_EQ"}},
	{"socket", SECCOMP_ACTION_ALLOW, 0, {0, 40 /* AF_VSOCK */, 0, "SCMP_CMP_NE"}},
};
const unsigned seccomp_runtime_default_n_rules = ARRAY_SIZE(seccomp_runtime_default_rules);
