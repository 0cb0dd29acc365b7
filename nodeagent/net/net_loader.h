/* The agent's network applier: loads nodeagent/net/net.bpf.c (or adopts what a previous agent
 * pinned), attaches its two cgroup_skb programs once at the pod cgroup root through pinned
 * bpf_links, and turns each pod's compiled network policy (lib/netpolicy) into map entries
 * with an atomic per-pod switch. It also reads the per-pod counters, the top-talker
 * aggregates and the sampled flow events.
 *
 * Pre-start guarantee: net_apply_pod() needs only the pod cgroup's id, so the caller can
 * install a pod's policy as soon as the cgroup directory exists and before any of the pod's
 * processes is in it; from the moment it returns, every packet of every socket created in that
 * cgroup (or below it) is judged by the policy. Packets of a cgroup the caller has not applied
 * yet pass unfiltered: the guarantee holds only if the caller applies before it lets the pod's
 * processes start.
 *
 * Not thread-safe: one thread owns a loader. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "nodeagent/net/net_abi.h"

struct net_loader;

struct net_loader_opts {
	const char *bpffs_dir;	 /* pins go to <bpffs_dir>/net; e.g. /sys/fs/bpf/bulwark */
	const char *cgroup_root; /* where the programs attach: the kubepods cgroup (v2) */
	/* Pod cgroups sit this many levels below cgroup_root (1 for Guaranteed pods under
	 * kubepods/, 2 for kubepods/burstable/<pod>); levels depth_min .. depth_min+depth_count-1
	 * are probed. 0 means the defaults, 1 and 2. */
	unsigned pod_depth_min, pod_depth_count;
	unsigned flow_sample_rate; /* one flow event per N packets; 0: no flow events */
};

/* Loads the programs with the pinned maps reused when they exist (counters and policies
 * survive an agent restart), swaps the programs of already pinned links atomically
 * (bpf_link_update) or attaches and pins new links, and rebuilds its bookkeeping from the
 * maps. 0 or negative errno (-EOPNOTSUPP when the kernel lacks a needed feature). */
int net_loader_open_opts(const struct net_loader_opts *opts, struct net_loader **ret);
/* The same with default depths and one flow event per 1024 packets. */
int net_loader_open(const char *bpffs_dir, const char *cgroup_root, struct net_loader **ret);

/* Frees the loader; the programs stay attached and the maps pinned (that is the point). */
struct net_loader *net_loader_free(struct net_loader *l);

/* Detaches the programs and removes every pin under <bpffs_dir>/net (bulwark-agent
 * --cleanup). Enforcement stops. */
int net_loader_cleanup_all(const char *bpffs_dir);

/* Installs or replaces the policy of the pod whose cgroup has id cgroup_id (the inode number
 * of its cgroup v2 directory). pod_key names it in counters ("namespace/name"). Pods with the
 * same compiled policy share one rule set in the maps. The switch from the old rules to the new
 * is one map update: a packet sees the old policy or the new one, never a mix and never an
 * empty one. 0, -EINVAL (err says why) for a malformed compiled policy, -ENOSPC when the maps
 * are full (the old policy stays), or another negative errno. */
int net_apply_pod(struct net_loader *l, uint64_t cgroup_id, const char *pod_key,
		  const json_t *compiled_network, struct field_error *err);

/* The pod's traffic is no longer filtered or counted. -ENOENT if it had no policy. */
int net_remove_pod(struct net_loader *l, uint64_t cgroup_id);

/* The cgroup id of a cgroup v2 directory. */
int net_cgroup_id(const char *cgroup_dir, uint64_t *ret);

struct net_pod_counters {
	uint64_t bytes[NP_DIRECTIONS][NP_VERDICTS]; /* IP-layer bytes */
	uint64_t packets[NP_DIRECTIONS][NP_VERDICTS];
};

int net_read_pod_counters(struct net_loader *l, uint64_t cgroup_id, struct net_pod_counters *ret);

/* Calls cb for every pod with a policy; a negative return from cb stops and is returned. */
typedef int (*net_pod_cb)(uint64_t cgroup_id, const char *pod_key, const struct net_pod_counters *c,
			  void *userdata);
int net_foreach_pod(struct net_loader *l, net_pod_cb cb, void *userdata);

struct net_talker {
	uint64_t cgroup_id;
	const char *pod_key;
	enum np_direction dir;
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint16_t port;	  /* the connection's service port */
	uint8_t addr[16]; /* remote address */
	uint64_t bytes, packets, denied_packets;
};

/* The n remotes with the most bytes, across pods (cgroup_id 0) or for one pod, most first.
 * *ret (free() it and nothing else) holds *ret_n <= n entries; pod_key points into it. */
int net_top_talkers(struct net_loader *l, uint64_t cgroup_id, size_t n, struct net_talker **ret,
		    size_t *ret_n);

struct net_flow_event {
	uint64_t ts_ns;	    /* CLOCK_MONOTONIC */
	uint64_t cgroup_id; /* the socket's cgroup (a container of the pod, or the pod) */
	const char *pod_key;
	enum np_direction dir;
	enum np_verdict verdict;
	uint8_t family, proto;
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
	uint32_t len;
};

typedef void (*net_flow_cb)(const struct net_flow_event *e, void *userdata);

/* Waits up to timeout_ms for sampled flow events and hands each to cb. The number of events,
 * or a negative errno. */
int net_poll_flows(struct net_loader *l, int timeout_ms, net_flow_cb cb, void *userdata);

struct net_stats {
	uint64_t flow_events_lost;  /* ring buffer full: bulwark_network_flow_events_lost_total */
	uint64_t parse_errors;	    /* unreadable headers of selected pods' packets */
	uint64_t flow_table_errors; /* connections not recorded (reply tracking) */
	uint64_t replies;	    /* packets allowed as replies to tracked connections */
};

int net_read_stats(struct net_loader *l, struct net_stats *ret);
