/* The exec-recording applier: records exec sessions into the pods whose compiled policy
 * turns execRecording on (nodeagent/exec/execrec.h), names them with their pod, and keeps their
 * ExecSession objects (nodeagent/exec/execrec_kube.h) when the agent has API access.
 *
 * The recorder is not thread-safe, so it lives on its own thread (exec_applier_run()); the
 * stream thread and the cgroup watcher only change the wanted set, which that thread
 * reconciles before every poll. */
#pragma once

#include <signal.h>

#include "buf.h"
#include "kube/client.h"
#include "nodeagent/cgroup_watch.h"
#include "nodeagent/sync.h"

struct exec_applier_opts {
	const char *cgroup_root;
	const char *recordings_dir;	/* created 0700 */
	const char *runtime_state_dirs; /* container_name.h: colon-separated, NULL: none */
	const char *node;
	struct kube_client *client; /* NULL: no ExecSession objects (recordings only) */
	uint64_t retention_max_age_s, retention_max_bytes;
	bool hooks_always; /* the recorder's syscall hooks always attached, not on demand */
};

struct exec_applier;

int exec_applier_new(const struct exec_applier_opts *opts, struct exec_applier **ret);
struct exec_applier *exec_applier_free(struct exec_applier *e);
struct applier exec_applier_ops(struct exec_applier *e);
void exec_applier_cgroup_event(struct exec_applier *e, const struct cgroup_event *ev);

/* Opens the recorder and serves it until *stop. 0, or a negative errno when the kernel cannot
 * record (the caller logs it; the other mechanisms keep working). */
int exec_applier_run(struct exec_applier *e, volatile sig_atomic_t *stop);

/* Metrics collector: sessions open/total, lost events and bytes. */
int exec_applier_collect(struct buf *out, void *userdata);
