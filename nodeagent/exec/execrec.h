/* The agent's exec session recorder: loads nodeagent/exec/execrec.bpf.c, is told which pod cgroups
 * record (a BulwarkPolicy with execRecording selects the pod), and turns the kernel's events
 * into one recording per session (lib/recording: asciicast v2, event log, hash chain). It
 * reports each session's start and end to a sink (nodeagent/exec/execrec_kube.h keeps the
 * ExecSession objects) and prunes old recordings.
 *
 * Usage: execrec_open(); execrec_add_pod() for every recorded pod as soon as its cgroup exists;
 * poll execrec_fd() for POLLIN and call execrec_poll() when readable or at least once a second
 * (it also finishes sessions whose end event was lost, flushes files and prunes).
 * Not thread-safe: one thread owns the recorder (execrec_identify() and
 * execrec_capture_live() excepted). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording/recording.h"

/* Who a container cgroup belongs to; the resolver fills what it knows ("" otherwise). */
struct execrec_identity {
	char namespace[64];
	char pod[254];
	char container[64];
	char pod_uid[40];
	char container_id[72]; /* the runtime's, from the cgroup; names the container later */
};

/* Resolves a session's cgroup to its pod and container: 0, or a negative errno (the session is
 * still recorded, with the cgroup ids only). */
typedef int (*execrec_resolve_fn)(uint64_t cgroup_id, uint64_t pod_cgroup_id,
				  struct execrec_identity *ret, void *userdata);

enum execrec_phase {
	EXECREC_RECORDING,
	EXECREC_COMPLETED,
	EXECREC_FAILED, /* the recording could not be written */
};

/* What the sink learns about a session; pointers are valid during the call only. */
struct execrec_session_info {
	const char *id;	     /* recording id, also the file name stem */
	uint64_t session_id; /* the kernel's */
	const struct execrec_identity *who;
	const char *node;
	const json_t *command; /* argv of the first exec (array of strings) */
	bool tty;
	enum execrec_phase phase;
	uint64_t start_unix_us, end_unix_us; /* end 0 while recording */
	uint64_t bytes;			     /* terminal bytes recorded, both directions */
	uint64_t lost_events, lost_bytes, gaps;
	int exit_status;     /* wait(2) status of the first process; -1 unknown */
	const char *digest;  /* "sha256:…" once completed */
	const char *message; /* why it failed, or NULL */
};

struct execrec_sink {
	void (*session_started)(const struct execrec_session_info *s, void *userdata);
	void (*session_finished)(const struct execrec_session_info *s, void *userdata);
	void *userdata;
};

/* When the syscall hooks (the pty master's read/write in the runtime, a session's stdio) are
 * attached. An attached raw syscall tracepoint slows every syscall of every task on the node,
 * so by default they are attached when a session opens and detached hooks_linger_ms after
 * the last one finished. A session whose first exec ran before they were attached gets a gap
 * with the delay in its recording. */
enum execrec_hooks {
	EXECREC_HOOKS_ON_DEMAND = 0,
	EXECREC_HOOKS_ALWAYS,
};

struct execrec_opts {
	const char *recordings_dir; /* created 0700 if missing */
	const char *node_name;
	size_t ringbuf_bytes;	    /* power of two, >= 4096; 0: ER_RINGBUF_DEFAULT */
	execrec_resolve_fn resolve; /* may be NULL */
	void *resolve_userdata;
	const struct execrec_sink *sink; /* may be NULL */
	uint64_t retention_max_age_s;	 /* 0: keep forever */
	uint64_t retention_max_bytes;	 /* 0: no size limit */
	bool no_pty_hooks; /* do not try fexit on pty_write even where trampolines work */
	enum execrec_hooks hooks;
	unsigned hooks_linger_ms; /* on demand: keep them this long after the last session;
				   * 0: EXECREC_HOOKS_LINGER_MS */
	/* How long a new recording's header waits for execrec_identify() (who asked for the
	 * session, known once the sink matched its ExecSession); its records wait in memory
	 * meanwhile, and a session that ends sooner is finished once it came or this passed.
	 * 0: headers are written at once, without it. */
	unsigned identity_wait_ms;
};

#define EXECREC_HOOKS_LINGER_MS	 5000
#define EXECREC_IDENTITY_WAIT_MS 3000

struct execrec_recorder;

/* Loads and attaches the programs. -EOPNOTSUPP when the kernel lacks what they need (BTF,
 * ring buffers, bpf_loop), or another negative errno. */
int execrec_open(const struct execrec_opts *opts, struct execrec_recorder **ret);
/* Detaches; open sessions are finished as they are (their recordings get a trailer and the
 * sink a Completed phase with a message saying recording stopped early). NULL-safe. */
struct execrec_recorder *execrec_free(struct execrec_recorder *r);

/* Records exec sessions into the pod whose cgroup (v2) has this id, from now on. */
int execrec_add_pod(struct execrec_recorder *r, uint64_t pod_cgroup_id);
/* -ENOENT if the pod was not recorded. Sessions already open keep recording. */
int execrec_remove_pod(struct execrec_recorder *r, uint64_t pod_cgroup_id);

int execrec_fd(const struct execrec_recorder *r);
/* Consumes events (waiting up to timeout_ms for the first), then does the housekeeping that
 * is due. The number of events handled, or a negative errno. */
int execrec_poll(struct execrec_recorder *r, int timeout_ms);

/* Who asked for recording id: an object merged into the header's "kubernetes" (e.g. {"user":
 * {"username": ..., "groups": [...]}, "execSession": NAME}; borrowed), or NULL when nobody
 * will say (the header is written without). Unlike the rest, safe from any thread: it is
 * taken up by the next execrec_poll(). If the header is out already, the identity goes to
 * the event log instead. */
int execrec_identify(struct execrec_recorder *r, const char *id, const json_t *identity);

/* Whether terminal I/O is captured with fexit on pty_write (else with the pty master's
 * read/write syscalls in the runtime processes). */
bool execrec_uses_pty_hooks(const struct execrec_recorder *r);

struct execrec_stats {
	uint64_t sessions_open;
	uint64_t sessions_total;
	uint64_t lost_events; /* over every session since start: bulwark_exec_lost_events_total */
	uint64_t lost_bytes;
	uint64_t sessions_dropped; /* kernel maps full: sessions not recorded at all */
	uint64_t write_errors;
	/* Sessions whose first exec ran before the syscall hooks were attached (a gap with the
	 * delay is in the recording): bulwark_exec_capture_late_sessions_total. */
	uint64_t capture_late_sessions;
	/* Recordings whose header was written before their identity came (it is then in the
	 * event log as an "identity" line, if it came at all):
	 * bulwark_exec_identity_late_sessions_total. */
	uint64_t identity_late_sessions;
	uint64_t hooks_attached; /* 1 while the syscall hooks are attached */
	uint64_t hooks_attaches; /* how many times they were attached (on demand) */
};
void execrec_get_stats(const struct execrec_recorder *r, struct execrec_stats *ret);

/* Whether the syscall hooks are attached now. Unlike the rest, safe from any thread (tests
 * wait for it the way a runtime's setup outlasts the attach). */
bool execrec_capture_live(const struct execrec_recorder *r);

/* Calls fn for every open session's id (the recordings that retention must keep). */
void execrec_foreach_open(const struct execrec_recorder *r, void (*fn)(const char *id, void *ud),
			  void *ud);
