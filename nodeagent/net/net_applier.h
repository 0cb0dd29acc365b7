/* The network applier: binds each pod's compiled network policy (lib/netpolicy) to the pod's
 * cgroup through the BPF loader (nodeagent/net/net_loader.h).
 *
 * A policy can arrive before the pod's cgroup exists (the controller pushes as soon as the
 * pod is bound to the node; the kubelet creates the cgroup when it starts the sandbox). Such
 * a policy is kept and applied the moment the cgroup watcher reports the pod cgroup — before
 * the runtime has started a container in it in practice, though nothing in the kernel
 * enforces that ordering (see docs/architecture.md). A pod whose cgroup already exists is
 * found under either driver's naming and applied at once.
 *
 * Thread-safe: the stream thread applies, the watcher thread binds, /metrics reads. */
#pragma once

#include "nodeagent/cgroup_watch.h"
#include "nodeagent/sync.h"
#include "buf.h"

struct net_applier;

/* cgroup_root: the cgroup v2 mount (or the subtree standing in for it); the programs attach
 * at its kubepods level. bpffs_dir: where the BPF objects are pinned. One flow event is
 * sampled per flow_sample_rate packets of selected pods (0: none). */
int net_applier_new(const char *cgroup_root, const char *bpffs_dir, unsigned flow_sample_rate,
		    struct net_applier **ret);
struct net_applier *net_applier_free(struct net_applier *n);

struct applier net_applier_ops(struct net_applier *n);

/* Feed the watcher's events here (pod-level cgroups bind pending policies). */
void net_applier_cgroup_event(struct net_applier *n, const struct cgroup_event *ev);

/* Reads the sampled flow events that arrived (without waiting) and appends each as a JSON
 * line to log_path, which is rotated to log_path.1 past 16 MiB. Returns the number written
 * or a negative errno. Call it from one thread, a few times a second. */
int net_applier_drain_flows(struct net_applier *n, const char *log_path);

/* A metrics collector (lib/metrics.h): per-pod bytes/packets by direction and verdict, and
 * the loader's loss and error counters. */
int net_applier_collect(struct buf *out, void *userdata);
