/* The contract between nodeagent/exec/execrec.bpf.c and the agent's recorder
 * (nodeagent/exec/execrec.c): the events in the ring buffer, the session state in the maps, and
 * the limits. Any change to a layout here must bump ER_ABI_VERSION. The design is in
 * docs/architecture.md, "Exec recording". */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ER_ABI_VERSION	   2

#define ER_MAX_PODS	   4096	 /* pod cgroups with recording on */
#define ER_MAX_SESSIONS	   4096	 /* sessions open at once on a node */
#define ER_MAX_PROCS	   65536 /* processes in sessions */
#define ER_MAX_TTYS	   4096	 /* terminals of open sessions */
#define ER_CHUNK	   8192	 /* terminal bytes per event at most; larger writes loop */
#define ER_ARGS_MAX	   4096	 /* argv bytes per exec event; longer argv is truncated, flagged */
#define ER_MAX_CHUNKS	   8192	 /* chunks per write: 64 MiB, more than any pipe write returns */
#define ER_MAX_POD_LEVELS  8	 /* cgroup levels searched upwards for the pod cgroup */
#define ER_RINGBUF_DEFAULT (64u << 20)	/* ring buffer bytes unless the agent asks otherwise */
#define ER_WAKEUP_BYTES	   (256u << 10) /* terminal data pending before the agent is woken */

enum er_event_type {
	ER_EV_OPEN = 1,	  /* a process entered a running container from outside: new session */
	ER_EV_EXEC = 2,	  /* execve in a session: data = filename NUL argv (NUL-separated) */
	ER_EV_EXIT = 3,	  /* a process of the session exited */
	ER_EV_DATA = 4,	  /* terminal bytes: data = the bytes */
	ER_EV_RESIZE = 5, /* the session's terminal changed size */
	ER_EV_END = 6,	  /* the session's last process exited */
};

enum er_direction {
	ER_DIR_OUTPUT = 0, /* what the terminal shows (pty slave→master, or fd 1/2 writes) */
	ER_DIR_INPUT = 1,  /* what was typed (pty master→slave, or fd 0 reads) */
};

enum er_event_flags {
	ER_FLAG_ARGS_TRUNCATED = 1 << 0, /* EXEC: argv longer than ER_ARGS_MAX */
	ER_FLAG_PTY = 1 << 1,		 /* DATA: from the session's pty (else a stdio fd) */
	/* EXEC: the session's first exec ran before the syscall hooks were attached (the agent
	 * attaches them on demand), so terminal I/O before they were may be missing. */
	ER_FLAG_BEFORE_CAPTURE = 1 << 2,
};

/* Every event starts with this header; len bytes of data follow it. The record in the ring
 * buffer is exactly sizeof(struct er_event) + len bytes: events are sized to their data. */
struct er_event {
	__u16 type; /* enum er_event_type */
	__u8 dir;   /* enum er_direction (DATA) */
	__u8 flags; /* enum er_event_flags */
	__u32 len;  /* bytes of data after the header */
	__u64 session_id;
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	/* Events of this session the kernel could not deliver (ring buffer full) since the
	 * previous delivered event, and the terminal bytes they carried: a gap right before this
	 * event. */
	__u32 lost_events;
	__u32 pid; /* thread id */
	__u64 lost_bytes;
	__u32 tgid;
	__s32 fd; /* DATA: the fd for stdio capture, -1 for the pty */
	union {
		struct {
			__u64 cgroup_id;     /* the container cgroup the process entered */
			__u64 pod_cgroup_id; /* its pod cgroup (the key of the pods map) */
			__u32 ppid;	     /* the process that moved it in (the runtime) */
			__u32 pad;
		} open;
		struct {
			__u32 ppid;
			__u16 rows, cols; /* the controlling terminal's size, 0 without one */
			__u32 tty_index;  /* the pty number, when it has a pty */
			__u32 has_tty;
		} exec;
		struct {
			__s32 status; /* wait(2) status: exit code << 8, or the signal */
			__u32 pad;
		} exit;
		struct {
			__u16 rows, cols;
		} resize;
		struct {
			__s32 leader_status; /* wait(2) status of the session's first process */
			__u32 pad;
			__u64 lost_events; /* totals for the whole session */
			__u64 lost_bytes;
		} end;
		__u64 raw[3];
	} u;
};

/* One open session: the sessions map's value, keyed by session id. The kernel fills it; the
 * agent reads it for totals and to find sessions whose END event was lost, and deletes it once
 * the recording is finished. */
struct er_session {
	__u64 cgroup_id;
	__u64 pod_cgroup_id;
	__u64 tty;	/* the pty slave's struct tty_struct address; 0: not a tty session */
	__u64 stdio[3]; /* inodes of fds 0-2 at the first exec, for non-tty capture */
	__u64 start_ns;
	__u64 end_ns;
	__u64 pending_lost_events; /* not yet reported in an event's lost_* fields */
	__u64 pending_lost_bytes;
	__u64 lost_events; /* totals */
	__u64 lost_bytes;
	__u64 events;	/* delivered */
	__s64 nr_procs; /* processes in the session now */
	__u32 leader_tgid;
	__s32 leader_status;
	__u32 mover_tgid; /* the runtime process that moved the leader in, and its parent */
	__u32 mover_ppid;
	__u64 flags;	     /* enum er_session_flags; 64-bit for the BPF atomics */
	__u64 first_exec_ns; /* set with ER_SESSION_EXEC_BEFORE_CAPTURE */
};

enum er_session_flags {
	ER_SESSION_EXECED = 1 << 0, /* the first exec has been seen (stdio and tty recorded) */
	ER_SESSION_TTY = 1 << 1,    /* I/O comes from the pty; stdio fds are not captured */
	ER_SESSION_ENDED = 1 << 2,  /* the last process exited */
	ER_SESSION_LEADER_EXITED = 1 << 3,
	ER_SESSION_EXEC_BEFORE_CAPTURE = 1 << 4, /* see ER_FLAG_BEFORE_CAPTURE */
};

/* Value of the pods map: which pods record (key: pod cgroup id). */
struct er_pod {
	__u32 flags; /* reserved, 0 */
	__u32 pad;
};
