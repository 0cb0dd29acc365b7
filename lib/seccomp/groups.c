/* The groups are our own data, organised like systemd's syscall filter sets
 * (src/shared/seccomp-util.c) so people who know SystemCallFilter= read them the same way.
 * Differences: process_vm_readv/writev are in @debug (they read other processes' memory, not
 * IPC), @sandbox (Landlock and seccomp: restricting yourself) is part of @system-service, and
 * syscalls newer than systemd's list (fchmodat2, futex_waitv, cachestat, …) are filed where
 * they belong. Only names that exist on x86-64, x86, x32, arm64 or arm appear; a unit test
 * checks each against libseccomp. */
#include "seccomp/groups.h"

#include <string.h>

#include "cleanup.h"
#include "seccomp/syscall_names.h"

const struct syscall_group syscall_groups[] = {
	{"@aio", "Asynchronous I/O (POSIX AIO and io_uring)",
	 "io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit "
	 "io_uring_enter io_uring_register io_uring_setup"},
	{"@basic-io", "Reading, writing, seeking and closing file descriptors",
	 "_llseek close close_range dup dup2 dup3 lseek pread64 preadv preadv2 pwrite64 pwritev "
	 "pwritev2 read readv write writev"},
	{"@chown", "Changing the owner of files",
	 "chown chown32 fchown fchown32 fchownat lchown lchown32"},
	{"@clock", "Setting the system clock",
	 "adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday stime"},
	{"@cpu-emulation", "Emulating other CPU modes (LDT, vm86)", "modify_ldt vm86 vm86old"},
	{"@debug", "Tracing, profiling and reading other processes' memory",
	 "lookup_dcookie perf_event_open pidfd_getfd process_madvise process_vm_readv "
	 "process_vm_writev ptrace"},
	{"@default", "What every process needs: exit, time, identity, memory maps, futexes",
	 "arch_prctl brk cacheflush clock_getres clock_getres_time64 clock_gettime clock_gettime64 "
	 "clock_nanosleep clock_nanosleep_time64 execve exit exit_group futex futex_requeue "
	 "futex_time64 futex_wait futex_waitv futex_wake get_robust_list get_thread_area getegid "
	 "getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid "
	 "getppid getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getsid gettid "
	 "gettimeofday getuid getuid32 madvise membarrier mmap mmap2 mprotect munmap nanosleep "
	 "pause prlimit64 restart_syscall rseq rt_sigreturn sched_yield set_robust_list "
	 "set_thread_area set_tid_address set_tls sigreturn time ugetrlimit uname"},
	{"@file-system", "Opening, stat'ing, creating, renaming and removing files and directories",
	 "access cachestat chdir chmod close creat faccessat faccessat2 fallocate fchdir fchmod "
	 "fchmodat fchmodat2 fcntl fcntl64 fgetxattr flistxattr fremovexattr fsetxattr fstat "
	 "fstat64 "
	 "fstatat64 fstatfs fstatfs64 ftruncate ftruncate64 futimesat getcwd getdents getdents64 "
	 "getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch lgetxattr link "
	 "linkat listxattr llistxattr lremovexattr lsetxattr lstat lstat64 mkdir mkdirat mknod "
	 "mknodat mmap mmap2 munmap newfstatat oldfstat oldlstat oldstat open openat openat2 "
	 "readlink readlinkat removexattr rename renameat renameat2 rmdir setxattr stat stat64 "
	 "statfs statfs64 statx symlink symlinkat truncate truncate64 unlink unlinkat utime "
	 "utimensat utimensat_time64 utimes"},
	{"@io-event", "Event loops: select, poll, epoll, eventfd",
	 "_newselect epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 "
	 "epoll_wait epoll_wait_old eventfd eventfd2 poll ppoll ppoll_time64 pselect6 "
	 "pselect6_time64 select"},
	{"@ipc", "Pipes, SysV IPC, POSIX message queues, memfd",
	 "ipc memfd_create mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 "
	 "mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd pipe pipe2 semctl "
	 "semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget"},
	{"@keyring", "The kernel keyring", "add_key keyctl request_key"},
	/* Computed from libseccomp's tables (members NULL), like systemd's from the kernel's. */
	{"@known", "Every syscall known on x86-64, x86, x32, arm64 or arm", NULL},
	{"@memlock", "Locking memory into RAM", "mlock mlock2 mlockall munlock munlockall"},
	{"@module", "Loading and unloading kernel modules",
	 "delete_module finit_module init_module"},
	{"@mount", "Mounting, unmounting and changing the root directory",
	 "chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree "
	 "pivot_root "
	 "umount umount2"},
	{"@network-io", "Sockets: create, connect, accept, send, receive",
	 "accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom "
	 "recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socket "
	 "socketcall socketpair"},
	{"@obsolete", "Unusual, obsolete or unimplemented syscalls",
	 "_sysctl afs_syscall bdflush break create_module ftime get_kernel_syms getpmsg gtty idle "
	 "lock mpx prof profil putpmsg query_module security sgetmask ssetmask stty sysfs tuxcall "
	 "ulimit uselib ustat vserver"},
	{"@pkey", "Memory protection keys", "pkey_alloc pkey_free pkey_mprotect"},
	{"@privileged", "Everything that needs a capability a container should not have",
	 "@chown @clock @module @raw-io @reboot @swap _sysctl acct bpf capset chroot fanotify_init "
	 "fanotify_mark nfsservctl open_by_handle_at pivot_root quotactl quotactl_fd setdomainname "
	 "setfsuid setfsuid32 setgroups setgroups32 sethostname setresuid setresuid32 setreuid "
	 "setreuid32 setuid setuid32 vhangup"},
	{"@process", "Creating, signalling and waiting for processes; namespaces",
	 "capget clone clone3 execveat fork getrusage kill pidfd_open pidfd_send_signal prctl "
	 "rt_sigqueueinfo rt_tgsigqueueinfo setns tgkill times tkill unshare vfork wait4 waitid "
	 "waitpid"},
	{"@raw-io", "Raw I/O port and PCI config access",
	 "ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write"},
	{"@reboot", "Rebooting and loading a new kernel", "kexec_file_load kexec_load reboot"},
	{"@resources", "Changing scheduling, memory policy and resource limits",
	 "ioprio_set mbind migrate_pages move_pages nice sched_setaffinity sched_setattr "
	 "sched_setparam sched_setscheduler set_mempolicy set_mempolicy_home_node setpriority "
	 "setrlimit"},
	{"@sandbox", "Restricting yourself further: Landlock and seccomp",
	 "landlock_add_rule landlock_create_ruleset landlock_restrict_self seccomp"},
	{"@setuid", "Changing user and group credentials",
	 "setgid setgid32 setgroups setgroups32 setregid setregid32 setresgid setresgid32 "
	 "setresuid "
	 "setresuid32 setreuid setreuid32 setuid setuid32"},
	{"@signal", "Signal handlers, masks and signalfd",
	 "rt_sigaction rt_sigpending rt_sigprocmask rt_sigsuspend rt_sigtimedwait "
	 "rt_sigtimedwait_time64 sigaction sigaltstack signal signalfd signalfd4 sigpending "
	 "sigprocmask sigsuspend"},
	{"@swap", "Enabling and disabling swap", "swapoff swapon"},
	{"@sync", "Flushing files and memory to storage",
	 "arm_sync_file_range fdatasync fsync msync sync sync_file_range syncfs"},
	{"@system-service",
	 "What an ordinary service needs (a reasonable allow-list to start from)",
	 "@aio @basic-io @chown @default @file-system @io-event @ipc @keyring @memlock @network-io "
	 "@process @resources @sandbox @setuid @signal @sync @timer arm_fadvise64_64 capset "
	 "copy_file_range fadvise64 fadvise64_64 flock get_mempolicy getcpu getpriority ioctl "
	 "ioprio_get kcmp mremap name_to_handle_at oldolduname olduname personality readahead "
	 "readdir remap_file_pages sched_get_priority_max sched_get_priority_min sched_getaffinity "
	 "sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval "
	 "sched_rr_get_interval_time64 sendfile sendfile64 setfsgid setfsgid32 setfsuid setfsuid32 "
	 "setpgid setsid splice sysinfo tee umask userfaultfd vmsplice"},
	{"@timer", "Timers and alarms",
	 "alarm getitimer setitimer timer_create timer_delete timer_getoverrun timer_gettime "
	 "timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime "
	 "timerfd_gettime64 timerfd_settime timerfd_settime64 times"},
};
const size_t syscall_groups_count = ARRAY_SIZE(syscall_groups);

/* Deeper nesting than this is a mistake in the data, not a design. */
#define GROUP_DEPTH_MAX 16
#define NAME_MAX_LEN	64

static const struct syscall_group *find_in(const struct syscall_group *groups, size_t n,
					   const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(groups[i].name, name) == 0)
			return &groups[i];
	return NULL;
}

const struct syscall_group *syscall_group_find(const char *name)
{
	return find_in(syscall_groups, syscall_groups_count, name);
}

struct expansion {
	const struct syscall_group *groups;
	size_t n_groups;
	const char *stack[GROUP_DEPTH_MAX]; /* the groups being expanded, outermost first */
	unsigned depth;
	json_t *set;
	const char *field;
	struct field_error *err;
};

static int cycle_error(struct expansion *x, const char *again)
{
	char path[256] = "";
	size_t used = 0;
	for (unsigned i = 0; i < x->depth && used < sizeof(path); i++)
		used += snprintf(path + used, sizeof(path) - used, "%s -> ", x->stack[i]);
	return field_error_set(x->err, x->field, "syscall group cycle: %s%s", path, again);
}

static int expand(struct expansion *x, const char *name)
{
	const struct syscall_group *g = find_in(x->groups, x->n_groups, name);
	if (!g) {
		if (x->depth == 0)
			return field_error_set(x->err, x->field, "unknown syscall group \"%s\"",
					       name);
		return field_error_set(x->err, x->field,
				       "unknown syscall group \"%s\" (inside \"%s\")", name,
				       x->stack[x->depth - 1]);
	}
	for (unsigned i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], g->name) == 0)
			return cycle_error(x, g->name);
	if (x->depth == GROUP_DEPTH_MAX)
		return field_error_set(x->err, x->field, "syscall groups nested deeper than %d",
				       GROUP_DEPTH_MAX);
	x->stack[x->depth++] = g->name;

	if (!g->members) {
		int r = seccomp_syscalls_known(x->set);
		if (r < 0)
			return r;
	}
	for (const char *p = g->members ? g->members : ""; *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len == 0)
			break;
		char member[NAME_MAX_LEN];
		if (len >= sizeof(member))
			return field_error_set(x->err, x->field, "syscall group %s: name too long",
					       g->name);
		memcpy(member, p, len);
		member[len] = '\0';
		p += len;

		int r;
		if (member[0] == '@')
			r = expand(x, member);
		else
			r = json_object_set_new(x->set, member, json_true()) < 0 ? -ENOMEM : 0;
		if (r < 0)
			return r;
	}
	x->depth--;
	return 0;
}

int syscall_group_expand_in(const struct syscall_group *groups, size_t n_groups, const char *name,
			    json_t *set, const char *field, struct field_error *err)
{
	struct expansion x = {
		.groups = groups, .n_groups = n_groups, .set = set, .field = field, .err = err};
	return expand(&x, name);
}

int syscall_group_expand(const char *name, json_t *set, const char *field, struct field_error *err)
{
	return syscall_group_expand_in(syscall_groups, syscall_groups_count, name, set, field, err);
}
