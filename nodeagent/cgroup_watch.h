/* Notices pod and container cgroups as they appear and disappear under the kubepods
 * hierarchy, so the agent can bind a pod's policy to its cgroup id right away.
 *
 * inotify rather than a BPF cgroup_mkdir hook: the agent has to run user-space code for a new
 * cgroup anyway (resolve the pod, fill maps), inotify tells it within microseconds, and it
 * needs no extra kernel program or privilege. The watch is recursive (kubepods → QoS → pod →
 * container) and starts with a scan, so cgroups that existed before the agent are reported
 * too, and a kubepods root that does not exist yet is picked up when it is created. */
#pragma once

#include <stdint.h>

#include "nodeagent/cgroup_path.h"

enum cgroup_event_type {
	CGROUP_EVENT_ADDED,
	CGROUP_EVENT_REMOVED,
};

struct cgroup_event {
	enum cgroup_event_type type;
	const char *path;   /* absolute */
	uint64_t cgroup_id; /* 0 for REMOVED (the directory is gone) */
	struct cgroup_identity id;
};

typedef void (*cgroup_event_fn)(const struct cgroup_event *ev, void *userdata);

struct cgroup_watch;

/* cgroup_root is the cgroup2 mount (or a subtree of it standing in for one, in tests). */
int cgroup_watch_new(const char *cgroup_root, cgroup_event_fn fn, void *userdata,
		     struct cgroup_watch **ret);
struct cgroup_watch *cgroup_watch_free(struct cgroup_watch *w);

/* Reports every pod/container cgroup that exists now (as ADDED). */
int cgroup_watch_scan(struct cgroup_watch *w);

/* The fd to poll for POLLIN, and what to call when it is readable (non-blocking). */
int cgroup_watch_fd(const struct cgroup_watch *w);
int cgroup_watch_process(struct cgroup_watch *w);

/* The id of a pod's cgroup if it exists under cgroup_root with either driver's naming and
 * any QoS class: 0, or -ENOENT when the kubelet has not created it (yet). */
int pod_cgroup_find(const char *cgroup_root, const char *pod_uid, uint64_t *ret);

/* The cgroup v2 id of a directory (what bpf_skb_ancestor_cgroup_id() returns). */
int cgroup_id_of(const char *path, uint64_t *ret);
