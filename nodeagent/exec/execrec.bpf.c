// SPDX-License-Identifier: GPL-2.0
/* Exec session recording. A process that a runtime moves into a running container of a
 * recorded pod from outside it (runc exec writes its pid to the container's cgroup.procs, or
 * clones it there with CLONE_INTO_CGROUP) opens a session; its descendants inherit it. The
 * session's terminal I/O (both directions of its pty, or fds 0-2 when it has no tty), every
 * execve with argv, every exit and every resize go to one ring buffer, each event sized to its
 * data. Only session processes, the runtime processes holding a session's pty master and
 * session ttys pass the first map lookups of every hook, so the rest of the node pays a couple
 * of hash misses per read/write.
 *
 * Everything works with tracepoints alone (some kernels, like this project's CI VM, refuse
 * BPF trampolines and have no kprobes). Where fentry/fexit load, pty_write() is hooked
 * instead of the master's read/write syscalls, which also catches a master held by a process
 * we did not guess. Layouts: nodeagent/exec/execrec_abi.h. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "execrec_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* The tty driver type and subtype became enums in 6.15 (PTY moved from 4 to 3); CO-RE reads
 * the running kernel's values, falling back to the old macros' values. */
#define DRIVER_TYPE_PTY                                                           \
	(bpf_core_enum_value_exists(enum tty_driver_type, TTY_DRIVER_TYPE_PTY)    \
		 ? bpf_core_enum_value(enum tty_driver_type, TTY_DRIVER_TYPE_PTY) \
		 : 4)
#define SUBTYPE_MASTER	   1
#define SUBTYPE_SLAVE	   2
#define FILENAME_MAX_BYTES 512
#define TIOCSWINSZ	   0x5414
#define MINORBITS	   20
#define TTYAUX_MAJOR	   5 /* 5:0 /dev/tty, 5:2 ptmx */
#define PTS_MAJOR_FIRST	   136
#define PTS_MAJOR_LAST	   143
#define IO_RESIZE	   2 /* pending_io.dir: an ioctl(TIOCSWINSZ), not data */
#define IO_CLOSE	   3 /* io_enter: a close() of a session's pty master */

/* Set by the agent before load: 1 when pty_write()/pty_resize() are hooked with fexit, so the
 * syscall hooks leave pty masters alone. */
const volatile __u32 pty_hooks = 0;

/* The first session id; the agent sets it before load (wall-clock based, so ids stay unique
 * across agent restarts and reboots). Sessions take consecutive ids after it. */
__u64 next_session_id = 1;
/* Events not recorded because a map was full (not attributable to a session). */
__u64 sessions_dropped;
__u64 procs_dropped;
/* Entries in procs, holders and io: while a map is empty the syscall hooks skip its lookup,
 * so with no session open the rest of the node pays a few loads per read/write. The agent
 * decrements holders_count when it deletes holders (atomically, through the mmap'ed .bss). */
__u64 procs_count;
__u64 holders_count;
__u64 io_count;
/* 1 while the syscall hooks (sys_enter/sys_exit) are attached. The agent attaches them only
 * while a session is live, because an attached raw syscall tracepoint puts every task of the
 * node on the syscall slow path; a session whose first exec saw 0 here may have lost terminal
 * I/O, and its EXEC event says so (ER_FLAG_BEFORE_CAPTURE). */
__u64 capture_live;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ER_RINGBUF_DEFAULT);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ER_MAX_PODS);
	__type(key, __u64);
	__type(value, struct er_pod);
} pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ER_MAX_SESSIONS);
	__type(key, __u64);
	__type(value, struct er_session);
} sessions SEC(".maps");

/* tgid → session id: threads share their process's session, and the tgid survives an execve
 * from a non-leader thread (de_thread), which a per-task key would not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ER_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} procs SEC(".maps");

/* pty slave tty_struct address → session id. Input arrives from the runtime's process (the
 * master side) and echo from a kworker, neither of them in the session, so the tty names it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ER_MAX_TTYS);
	__type(key, __u64);
	__type(value, __u64);
} ttys SEC(".maps");

/* Container cgroups that have just become populated, keyed by cgroup id, with the thread
 * whose migration (or fork) populated them: the process arriving with that very move is the
 * container's init, not an exec. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} fresh SEC(".maps");

/* Runtime processes that may hold a session's pty master (the process that moved the session
 * in, and its parent: runc or crun, and the shim or conmon above it), tgid → sessions. Their
 * read()s of a session master are what the terminal shows; their write()s what was typed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} holders SEC(".maps");

/* A stdio read/write of a session thread between syscall entry and exit, keyed by thread id:
 * the data is copied at exit, when the number of bytes actually transferred is known. */
struct pending_io {
	__u64 buf;
	__u64 sid;
	__s32 fd;
	__u32 dir; /* enum er_direction, or IO_RESIZE */
	__u8 flags;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pending_io);
} io SEC(".maps");

/* The event under construction: header and up to two chunks of room so that the verifier can
 * bound a masked length without proving it is at most one chunk. */
struct scratch {
	struct er_event e;
	__u8 data[2 * ER_CHUNK];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline void event_init(struct scratch *sc, __u16 type, __u64 sid)
{
	__u64 id = bpf_get_current_pid_tgid();
	__builtin_memset(&sc->e, 0, sizeof(sc->e));
	sc->e.type = type;
	sc->e.session_id = sid;
	sc->e.ts_ns = bpf_ktime_get_ns();
	sc->e.pid = (__u32)id;
	sc->e.tgid = id >> 32;
	sc->e.fd = -1;
}

/* Sends the scratch event with len data bytes. Losses since the previous delivered event ride
 * on this one (the gap sits right before it); when this one is lost too, they stay pending
 * with it added, so no lost byte goes unreported. term_bytes: terminal bytes it carries. */
static __always_inline void event_send(struct scratch *sc, struct er_session *s, __u32 len,
				       __u32 term_bytes)
{
	__u64 le = s->pending_lost_events, lb = s->pending_lost_bytes;
	if (le)
		__sync_fetch_and_add(&s->pending_lost_events, -le);
	if (lb)
		__sync_fetch_and_add(&s->pending_lost_bytes, -lb);
	sc->e.lost_events = le;
	sc->e.lost_bytes = lb;
	barrier_var(len);
	len &= 2 * ER_CHUNK - 1;
	sc->e.len = len;
	/* Terminal data wakes the agent only once a batch has piled up (it also drains the ring
	 * whenever its poll times out): a wakeup per 4 KiB read costs both sides a context
	 * switch. Other events always wake it: the adaptive default would not while unread data
	 * sits before them. */
	__u64 flags = BPF_RB_FORCE_WAKEUP;
	if (sc->e.type == ER_EV_DATA &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < ER_WAKEUP_BYTES)
		flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, sc, sizeof(sc->e) + len, flags) == 0) {
		__sync_fetch_and_add(&s->events, 1);
		return;
	}
	__sync_fetch_and_add(&s->pending_lost_events, le + 1);
	__sync_fetch_and_add(&s->pending_lost_bytes, lb + term_bytes);
	__sync_fetch_and_add(&s->lost_events, 1);
	__sync_fetch_and_add(&s->lost_bytes, term_bytes);
}

/* The id of the recorded pod that cgroup cg lies strictly below (cg is a container of it), or
 * 0. Only the default (v2) hierarchy counts: v1 hierarchies number their cgroups separately. */
static __always_inline __u64 pod_of_cgroup(struct cgroup *cg)
{
	if (!cg || BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		return 0;
	int level = BPF_CORE_READ(cg, level);
	for (int i = 1; i <= ER_MAX_POD_LEVELS; i++) {
		int l = level - i;
		if (l < 1)
			break;
		struct cgroup *anc = NULL;
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[l]);
		if (!anc)
			break;
		__u64 id = BPF_CORE_READ(anc, kn, id);
		if (bpf_map_lookup_elem(&pods, &id))
			return id;
	}
	return 0;
}

struct open_args {
	__u64 cgroup_id;
	__u64 pod_cgroup_id;
	__u32 mover_tgid;
	__u32 mover_ppid;
};

/* Whether task arriving in dst starts a session: dst is a container of a recorded pod that
 * already ran (the arrival that populated it is the container's init, not an exec), and task
 * comes from outside that pod and is not in a session yet. */
static __always_inline bool session_candidate(struct cgroup *dst, struct task_struct *task,
					      struct cgroup *src, struct open_args *ret)
{
	__u64 pod = pod_of_cgroup(dst);
	if (!pod)
		return false;
	__u64 cgid = BPF_CORE_READ(dst, kn, id);
	__u64 *populator = bpf_map_lookup_elem(&fresh, &cgid);
	if (populator) {
		bool init = *populator == bpf_get_current_pid_tgid();
		bpf_map_delete_elem(&fresh, &cgid);
		if (init)
			return false;
	}
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (bpf_map_lookup_elem(&procs, &tgid))
		return false;
	if (pod_of_cgroup(src) == pod)
		return false;
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	ret->cgroup_id = cgid;
	ret->pod_cgroup_id = pod;
	ret->mover_tgid = BPF_CORE_READ(cur, tgid);
	ret->mover_ppid = BPF_CORE_READ(cur, real_parent, tgid);
	return true;
}

static __always_inline void holder_add(__u32 tgid)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(&holders, &tgid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&holders, &tgid, &one, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&holders_count, 1);
}

static __always_inline void session_open(struct task_struct *task, const struct open_args *p)
{
	struct scratch *sc = scratch_get();
	if (!sc)
		return;
	__u64 sid = __sync_fetch_and_add(&next_session_id, 1);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct er_session s = {
		.cgroup_id = p->cgroup_id,
		.pod_cgroup_id = p->pod_cgroup_id,
		.start_ns = bpf_ktime_get_ns(),
		.nr_procs = 1,
		.leader_tgid = tgid,
		.mover_tgid = p->mover_tgid,
		.mover_ppid = p->mover_ppid,
	};
	if (bpf_map_update_elem(&sessions, &sid, &s, BPF_NOEXIST)) {
		__sync_fetch_and_add(&sessions_dropped, 1);
		return;
	}
	if (bpf_map_update_elem(&procs, &tgid, &sid, BPF_NOEXIST)) {
		bpf_map_delete_elem(&sessions, &sid);
		__sync_fetch_and_add(&procs_dropped, 1);
		return;
	}
	__sync_fetch_and_add(&procs_count, 1);
	struct er_session *sp = bpf_map_lookup_elem(&sessions, &sid);
	if (!sp)
		return;
	holder_add(p->mover_tgid);
	if (p->mover_ppid != p->mover_tgid)
		holder_add(p->mover_ppid);
	event_init(sc, ER_EV_OPEN, sid);
	sc->e.pid = BPF_CORE_READ(task, pid);
	sc->e.tgid = tgid;
	sc->e.u.open.cgroup_id = p->cgroup_id;
	sc->e.u.open.pod_cgroup_id = p->pod_cgroup_id;
	sc->e.u.open.ppid = p->mover_tgid;
	event_send(sc, sp, 0, 0);
}

/* ---- sessions start: a process moved into a running container from outside -------------- */

/* Fires inside the migration (or fork) that puts the first process into a cgroup, before
 * cgroup_attach_task / sched_process_fork report that process. */
SEC("tp_btf/cgroup_notify_populated")
int BPF_PROG(on_populated, struct cgroup *cgrp, const char *path, int val)
{
	if (!val || !pod_of_cgroup(cgrp))
		return 0;
	__u64 cgid = BPF_CORE_READ(cgrp, kn, id);
	__u64 me = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&fresh, &cgid, &me, BPF_ANY);
	return 0;
}

/* A write to cgroup.procs (runc exec, and runc create for the init) after the move. The
 * source cgroup is gone by now; the mover's own cgroup stands in for it (the runtime writes
 * from outside the pod, and a process moving itself from inside the pod is not an exec). */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(on_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	struct open_args p = {};
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	if (!session_candidate(dst, task, BPF_CORE_READ(cur, cgroups, dfl_cgrp), &p))
		return 0;
	session_open(task, &p);
	return 0;
}

/* ---- inheritance ---------------------------------------------------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	if (BPF_CORE_READ(child, pid) != tgid)
		return 0; /* a thread: the process's entry covers it */
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u64 *psid = bpf_map_lookup_elem(&procs, &ptgid);
	if (!psid) {
		/* clone3(CLONE_INTO_CGROUP): born in another cgroup than its parent's. */
		struct cgroup *dst = BPF_CORE_READ(child, cgroups, dfl_cgrp);
		struct cgroup *src = BPF_CORE_READ(parent, cgroups, dfl_cgrp);
		struct open_args p = {};
		if (dst != src && session_candidate(dst, child, src, &p))
			session_open(child, &p);
		return 0;
	}
	__u64 sid = *psid;
	struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
	if (!s)
		return 0;
	if (bpf_map_update_elem(&procs, &tgid, &sid, BPF_NOEXIST)) {
		__sync_fetch_and_add(&procs_dropped, 1);
		return 0;
	}
	__sync_fetch_and_add(&procs_count, 1);
	__sync_fetch_and_add(&s->nr_procs, 1);
	return 0;
}

/* Before 6.15 the driver's type and subtype were shorts. libbpf does not match an enum field
 * to an integer one (nor would reading the enum's 4 bytes from a short be right), so kernels
 * before 6.15 are read through this flavour; the other branch's relocation fails to resolve
 * on each kernel, and the verifier drops it as dead code. */
struct tty_driver___short {
	short type;
	short subtype;
} __attribute__((preserve_access_index));

static __always_inline int tty_driver_type(struct tty_driver *drv)
{
	if (bpf_core_field_exists(struct tty_driver___short, type))
		return BPF_CORE_READ((struct tty_driver___short *)drv, type);
	return BPF_CORE_READ(drv, type);
}

static __always_inline int tty_driver_subtype(struct tty_driver *drv)
{
	if (bpf_core_field_exists(struct tty_driver___short, subtype))
		return BPF_CORE_READ((struct tty_driver___short *)drv, subtype);
	return BPF_CORE_READ(drv, subtype);
}

static __always_inline bool tty_is_pty_slave(struct tty_struct *tty)
{
	struct tty_driver *drv = BPF_CORE_READ(tty, driver);
	return tty_driver_type(drv) == DRIVER_TYPE_PTY && tty_driver_subtype(drv) == SUBTYPE_SLAVE;
}

static __always_inline __u64 fd_inode(struct task_struct *task, int fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (!fds || fd < 0 || (unsigned int)fd >= max)
		return 0;
	struct file *f = NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	return (__u64)BPF_CORE_READ(f, f_inode);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!procs_count)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 *psid = bpf_map_lookup_elem(&procs, &tgid);
	if (!psid)
		return 0;
	__u64 sid = *psid;
	struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
	struct scratch *sc = scratch_get();
	if (!s || !sc)
		return 0;
	event_init(sc, ER_EV_EXEC, sid);
	sc->e.u.exec.ppid = BPF_CORE_READ(task, real_parent, tgid);

	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty && tty_is_pty_slave(tty)) {
		sc->e.u.exec.has_tty = 1;
		sc->e.u.exec.rows = BPF_CORE_READ(tty, winsize.ws_row);
		sc->e.u.exec.cols = BPF_CORE_READ(tty, winsize.ws_col);
		sc->e.u.exec.tty_index = BPF_CORE_READ(tty, index);
	}
	/* The first exec is the command the runtime started: its terminal (or its stdio) is the
	 * session's, whatever the descendants later open. */
	if (!(s->flags & ER_SESSION_EXECED)) {
		/* With fexit on pty_write a tty session does not need the syscall hooks. */
		if (!capture_live && !(pty_hooks && sc->e.u.exec.has_tty)) {
			sc->e.flags |= ER_FLAG_BEFORE_CAPTURE;
			s->first_exec_ns = sc->e.ts_ns;
			__sync_fetch_and_or(&s->flags, ER_SESSION_EXEC_BEFORE_CAPTURE);
		}
		if (sc->e.u.exec.has_tty) {
			__u64 key = (__u64)tty;
			if (bpf_map_update_elem(&ttys, &key, &sid, BPF_NOEXIST) == 0) {
				s->tty = key;
				__sync_fetch_and_or(&s->flags, ER_SESSION_TTY);
			}
		}
		for (int i = 0; i < 3; i++)
			s->stdio[i] = fd_inode(task, i);
		__sync_fetch_and_or(&s->flags, ER_SESSION_EXECED);
	}

	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(sc->data, FILENAME_MAX_BYTES, filename);
	__u32 off = n > 0 ? (__u32)n : 0;
	barrier_var(off);
	off &= FILENAME_MAX_BYTES - 1;
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 span = end > start ? end - start : 0;
	if (span > ER_ARGS_MAX) {
		span = ER_ARGS_MAX;
		sc->e.flags |= ER_FLAG_ARGS_TRUNCATED;
	}
	__u32 alen = span;
	barrier_var(alen); /* keep clang from reusing the unmasked value */
	alen &= 2 * ER_ARGS_MAX - 1;
	if (alen && bpf_probe_read_user(sc->data + off, alen, (const void *)start) != 0)
		alen = 0;
	event_send(sc, s, off + alen, 0);
	return 0;
}

static __always_inline void session_end(struct er_session *s, __u64 sid)
{
	struct scratch *sc = scratch_get();
	__sync_fetch_and_or(&s->flags, ER_SESSION_ENDED);
	s->end_ns = bpf_ktime_get_ns();
	/* The tty and the runtime processes stay mapped: the runtime may still be reading what
	 * the session wrote last. The agent removes them (and the session) once it has drained. */
	if (!sc)
		return;
	event_init(sc, ER_EV_END, sid);
	sc->e.u.end.leader_status = s->leader_status;
	sc->e.u.end.lost_events = s->lost_events;
	sc->e.u.end.lost_bytes = s->lost_bytes;
	event_send(sc, s, 0, 0);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	if (!procs_count && !holders_count)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 *psid = bpf_map_lookup_elem(&procs, &tgid);
	if (!psid) {
		if (holders_count && BPF_CORE_READ(task, signal, live.counter) == 0 &&
		    bpf_map_delete_elem(&holders, &tgid) == 0)
			__sync_fetch_and_add(&holders_count, -1);
		return 0;
	}
	/* Only the last thread of a process ends it. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u64 sid = *psid;
	if (bpf_map_delete_elem(&procs, &tgid) == 0)
		__sync_fetch_and_add(&procs_count, -1);
	struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
	struct scratch *sc = scratch_get();
	if (!s || !sc)
		return 0;
	__s32 status = BPF_CORE_READ(task, exit_code);
	event_init(sc, ER_EV_EXIT, sid);
	sc->e.pid = BPF_CORE_READ(task, pid);
	sc->e.tgid = tgid;
	sc->e.u.exit.status = status;
	if (tgid == s->leader_tgid) {
		s->leader_status = status;
		__sync_fetch_and_or(&s->flags, ER_SESSION_LEADER_EXITED);
	}
	event_send(sc, s, 0, 0);
	/* The last decrement reads zero after every other one, so at least one exit ends the
	 * session; the agent ignores a second END. */
	__sync_fetch_and_add(&s->nr_procs, -1);
	if (s->nr_procs <= 0 && !(s->flags & ER_SESSION_ENDED))
		session_end(s, sid);
	return 0;
}

/* ---- terminal data, chunked ----------------------------------------------------------------- */

struct chunk_ctx {
	__u64 sid;
	__u64 src;
	__u32 len;
	__u32 off;
	__s32 fd;
	__u8 dir;
	__u8 user;
	__u8 flags;
};

static long chunk_cb(__u32 i, void *data)
{
	struct chunk_ctx *c = data;
	if (c->off >= c->len)
		return 1;
	__u32 n = c->len - c->off;
	if (n > ER_CHUNK)
		n = ER_CHUNK;
	barrier_var(n);
	n &= 2 * ER_CHUNK - 1;
	struct er_session *s = bpf_map_lookup_elem(&sessions, &c->sid);
	struct scratch *sc = scratch_get();
	if (!s || !sc)
		return 1;
	event_init(sc, ER_EV_DATA, c->sid);
	sc->e.dir = c->dir;
	sc->e.flags = c->flags;
	sc->e.fd = c->fd;
	long err;
	if (c->user)
		err = bpf_probe_read_user(sc->data, n, (const void *)(c->src + c->off));
	else
		err = bpf_probe_read_kernel(sc->data, n, (const void *)(c->src + c->off));
	c->off += n;
	if (err) {
		/* Unreadable (a user page swapped out): a gap of known size, like a full ring. */
		__sync_fetch_and_add(&s->pending_lost_events, 1);
		__sync_fetch_and_add(&s->pending_lost_bytes, n);
		__sync_fetch_and_add(&s->lost_events, 1);
		__sync_fetch_and_add(&s->lost_bytes, n);
		return 0;
	}
	event_send(sc, s, n, n);
	return 0;
}

static __always_inline void record_data(__u64 sid, __u64 src, __u32 len, __u8 dir, __u8 user,
					__s32 fd, __u8 flags)
{
	struct chunk_ctx c = {
		.sid = sid,
		.src = src,
		.len = len,
		.fd = fd,
		.dir = dir,
		.user = user,
		.flags = flags,
	};
	__u32 chunks = (len + ER_CHUNK - 1) / ER_CHUNK;
	if (chunks > ER_MAX_CHUNKS)
		chunks = ER_MAX_CHUNKS;
	bpf_loop(chunks, chunk_cb, &c, 0);
}

/* pty_write(tty) moves bytes to tty->link: on a slave it is what the terminal shows (program
 * output and the line discipline's echo), on a master what was typed. The return value is what
 * the pty accepted; n_tty retries the rest later, so recording at entry would duplicate it.
 * It is an int before 6.6 (ssize_t since): only its low 32 bits are meaningful on every kernel,
 * and a pty write is far below 2 GiB. */
SEC("fexit/pty_write")
int BPF_PROG(on_pty_write, struct tty_struct *tty, const __u8 *buf, size_t c, ssize_t ret64)
{
	int ret = (int)ret64;
	if (ret <= 0)
		return 0;
	struct tty_driver *drv = BPF_CORE_READ(tty, driver);
	bool slave = tty_driver_subtype(drv) == SUBTYPE_SLAVE;
	__u64 key = slave ? (__u64)tty : (__u64)BPF_CORE_READ(tty, link);
	__u64 *psid = bpf_map_lookup_elem(&ttys, &key);
	__u64 sid;
	if (psid) {
		sid = *psid;
	} else {
		/* A session process writing to a pty that its first exec did not have as its
		 * controlling terminal (it set one up later): adopt it if the session has none. */
		if (!slave)
			return 0;
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		psid = bpf_map_lookup_elem(&procs, &tgid);
		if (!psid)
			return 0;
		sid = *psid;
		struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
		if (!s || s->tty)
			return 0;
		if (bpf_map_update_elem(&ttys, &key, &sid, BPF_NOEXIST))
			return 0;
		s->tty = key;
		__sync_fetch_and_or(&s->flags, ER_SESSION_TTY);
	}
	record_data(sid, (__u64)buf, (__u32)ret, slave ? ER_DIR_OUTPUT : ER_DIR_INPUT, 0, -1,
		    ER_FLAG_PTY);
	return 0;
}

/* TIOCSWINSZ on either side resizes the pair through the slave's pty_resize(). */
SEC("fexit/pty_resize")
int BPF_PROG(on_pty_resize, struct tty_struct *tty, struct winsize *ws, int ret)
{
	if (ret != 0)
		return 0;
	struct tty_driver *drv = BPF_CORE_READ(tty, driver);
	bool slave = tty_driver_subtype(drv) == SUBTYPE_SLAVE;
	__u64 key = slave ? (__u64)tty : (__u64)BPF_CORE_READ(tty, link);
	__u64 *psid = bpf_map_lookup_elem(&ttys, &key);
	if (!psid)
		return 0;
	__u64 sid = *psid;
	struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
	struct scratch *sc = scratch_get();
	if (!s || !sc)
		return 0;
	event_init(sc, ER_EV_RESIZE, sid);
	sc->e.u.resize.rows = BPF_CORE_READ(ws, ws_row);
	sc->e.u.resize.cols = BPF_CORE_READ(ws, ws_col);
	event_send(sc, s, 0, 0);
	return 0;
}

/* ---- syscalls: pty masters held by the runtime, and stdio of sessions without a tty ------ */

static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (fds && fd >= 0 && (unsigned int)fd < max)
		bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The pty slave behind a terminal file (ptmx, /dev/tty, /dev/pts/N), told by its device
 * number so that private_data is known to be a tty_file_private; *ret_master says whether the
 * file is the master side. */
static __always_inline struct tty_struct *file_pty_slave(struct file *f, bool *ret_master)
{
	dev_t rdev = BPF_CORE_READ(f, f_inode, i_rdev);
	__u32 maj = rdev >> MINORBITS, min = rdev & ((1U << MINORBITS) - 1);
	if (!((maj == TTYAUX_MAJOR && (min == 0 || min == 2)) ||
	      (maj >= PTS_MAJOR_FIRST && maj <= PTS_MAJOR_LAST)))
		return NULL;
	struct tty_file_private *priv = BPF_CORE_READ(f, private_data);
	struct tty_struct *tty = BPF_CORE_READ(priv, tty);
	if (!tty)
		return NULL;
	struct tty_driver *drv = BPF_CORE_READ(tty, driver);
	if (tty_driver_type(drv) != DRIVER_TYPE_PTY)
		return NULL;
	*ret_master = tty_driver_subtype(drv) == SUBTYPE_MASTER;
	return *ret_master ? BPF_CORE_READ(tty, link) : tty;
}

static __always_inline void io_put(__u32 tid, const struct pending_io *p)
{
	if (bpf_map_update_elem(&io, &tid, p, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&io_count, 1);
	else
		bpf_map_update_elem(&io, &tid, p, BPF_ANY);
}

static __always_inline int io_enter(int fd, __u64 buf, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct pending_io p = {.buf = buf, .fd = fd, .dir = dir};
	__u64 *psid = procs_count ? bpf_map_lookup_elem(&procs, &tgid) : NULL;
	if (!psid) {
		/* A runtime process: only its reads/writes/resizes of a session's pty master. */
		if (!holders_count || (pty_hooks && dir != IO_RESIZE && dir != IO_CLOSE))
			return 0;
		if (!bpf_map_lookup_elem(&holders, &tgid))
			return 0;
		struct file *f = fd_file(task, fd);
		bool master = false;
		struct tty_struct *slave = f ? file_pty_slave(f, &master) : NULL;
		if (!slave || !master)
			return 0;
		__u64 key = (__u64)slave;
		__u64 *tsid = bpf_map_lookup_elem(&ttys, &key);
		if (!tsid)
			return 0;
		if (dir == IO_CLOSE) {
			/* The last reference to the pty pair may go with it, and the next pty can
			 * get the same tty_struct address: it must not be taken for this session.
			 */
			bpf_map_delete_elem(&ttys, &key);
			return 0;
		}
		p.sid = *tsid;
		/* Reading the master is what the terminal shows; writing it is typing. */
		if (dir != IO_RESIZE)
			p.dir = dir == ER_DIR_INPUT ? ER_DIR_OUTPUT : ER_DIR_INPUT;
		p.flags = ER_FLAG_PTY;
		io_put(tid, &p);
		return 0;
	}
	__u64 sid = *psid;
	struct er_session *s = bpf_map_lookup_elem(&sessions, &sid);
	if (!s || !(s->flags & ER_SESSION_EXECED) || dir == IO_CLOSE)
		return 0;
	p.sid = sid;
	if (dir == IO_RESIZE) {
		/* A resize from inside the session, on its own terminal. */
		struct file *f = fd_file(task, fd);
		bool master = false;
		struct tty_struct *slave = f ? file_pty_slave(f, &master) : NULL;
		if (!slave || (__u64)slave != s->tty)
			return 0;
		io_put(tid, &p);
		return 0;
	}
	if (s->flags & ER_SESSION_TTY)
		return 0; /* the master side records the terminal */
	if ((dir == ER_DIR_INPUT && fd != 0) || (dir == ER_DIR_OUTPUT && fd != 1 && fd != 2))
		return 0;
	/* Only the session's own stdio: a descendant's fd 1 redirected to a file is not terminal
	 * output. */
	__u64 ino = fd_inode(task, fd);
	__u64 want = fd == 0 ? s->stdio[0] : fd == 1 ? s->stdio[1] : s->stdio[2];
	if (!ino || ino != want)
		return 0;
	io_put(tid, &p);
	return 0;
}

static __always_inline int io_exit(long ret)
{
	if (!io_count)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_io *pp = bpf_map_lookup_elem(&io, &tid);
	if (!pp)
		return 0;
	struct pending_io p = *pp;
	if (bpf_map_delete_elem(&io, &tid) == 0)
		__sync_fetch_and_add(&io_count, -1);
	if (p.dir == IO_RESIZE) {
		struct er_session *s = bpf_map_lookup_elem(&sessions, &p.sid);
		struct scratch *sc = scratch_get();
		struct winsize ws = {};
		if (ret != 0 || !s || !sc || bpf_probe_read_user(&ws, sizeof(ws), (void *)p.buf))
			return 0;
		event_init(sc, ER_EV_RESIZE, p.sid);
		sc->e.u.resize.rows = ws.ws_row;
		sc->e.u.resize.cols = ws.ws_col;
		event_send(sc, s, 0, 0);
		return 0;
	}
	if (ret > 0)
		record_data(p.sid, p.buf, (__u32)ret, (__u8)p.dir, 1, p.fd, p.flags);
	return 0;
}

/* The raw syscall tracepoints need no tracefs. While attached they force the syscall slow
 * path on every task of the node (about 1.5-5x for a syscall-bound process), which is why the
 * agent attaches them only while a session is live (capture_live). */
#if defined(__TARGET_ARCH_arm64)
#define NR_READ		 63
#define NR_WRITE	 64
#define NR_IOCTL	 29
#define NR_CLOSE	 57
#define syscall_nr(regs) BPF_CORE_READ(regs, syscallno)
#else
#define NR_READ		 0
#define NR_WRITE	 1
#define NR_IOCTL	 16
#define NR_CLOSE	 3
#define syscall_nr(regs) BPF_CORE_READ(regs, orig_ax)
#endif

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id == NR_READ || id == NR_WRITE) {
		int fd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
		__u64 buf = PT_REGS_PARM2_CORE_SYSCALL(regs);
		return io_enter(fd, buf, id == NR_READ ? ER_DIR_INPUT : ER_DIR_OUTPUT);
	}
	if (id == NR_CLOSE)
		return holders_count ? io_enter((int)PT_REGS_PARM1_CORE_SYSCALL(regs), 0, IO_CLOSE)
				     : 0;
	if (id == NR_IOCTL && (__u32)PT_REGS_PARM2_CORE_SYSCALL(regs) == TIOCSWINSZ && !pty_hooks)
		return io_enter((int)PT_REGS_PARM1_CORE_SYSCALL(regs),
				PT_REGS_PARM3_CORE_SYSCALL(regs), IO_RESIZE);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	long id = syscall_nr(regs);
	if (id != NR_READ && id != NR_WRITE && id != NR_IOCTL)
		return 0;
	return io_exit(ret);
}
