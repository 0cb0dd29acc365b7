/* The contract between nodeagent/net/net.bpf.c and its user space (nodeagent/net/net_entries.c
 * builds the map entries, nodeagent/net/net_loader.c writes them): map keys, values and limits.
 * Any change to a layout here must bump NP_ABI_VERSION, so an agent never adopts pinned maps it
 * cannot read. Why the maps look like this: docs/architecture.md, "Network". */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NP_ABI_VERSION 1

/* Capacities. LPM tries and the pod map are allocated lazily (BPF_F_NO_PREALLOC), so these
 * are ceilings, not memory reserved up front. A rule set being replaced and its successor
 * coexist for a moment, so a trie must hold twice the largest rule set plus everyone else's. */
#define NP_MAX_PODS	   4096
#define NP_MAX_RULESETS	   8192
#define NP_MAX_CLASSES	   64 /* rule classes per direction: one bit each in a __u64 */
#define NP_LPM4_MAX	   524288
#define NP_LPM6_MAX	   131072
#define NP_PORT_LPM_MAX	   65536
#define NP_FLOW_MAX	   65536 /* tracked connections (LRU) for reply handling */
#define NP_TALKER_MAX	   16384 /* (pod, direction, remote address, service port) aggregates */
#define NP_RINGBUF_BYTES   (256 * 1024)
#define NP_POD_KEY_MAX	   248 /* "namespace/name" of a pod, NUL included */
#define NP_MAX_POD_LEVELS  4   /* cgroup levels probed for the pod (QoS classes differ) */
#define NP_SCOPE_PREFIXLEN 32  /* bits of an LPM key taken by the (rule set, direction) scope */
#define NP_PORT_PROTO_BITS 8

enum np_direction {
	NP_EGRESS = 0,
	NP_INGRESS = 1,
	NP_DIRECTIONS = 2,
};

enum np_verdict {
	NP_VERDICT_ALLOW = 0,
	NP_VERDICT_DENY = 1,  /* dropped */
	NP_VERDICT_AUDIT = 2, /* delivered, but an Audit policy would have dropped it */
	NP_VERDICTS = 3,
};

/* Protocols a rule can name; each has a slot in np_dir_rules.proto_all. */
enum np_proto_slot {
	NP_SLOT_TCP = 0,
	NP_SLOT_UDP,
	NP_SLOT_ICMP,
	NP_SLOT_ICMPV6,
	NP_SLOT_SCTP,
	NP_SLOTS,
};

/* One direction of a rule set. Rules with the same (action, audit, protocol, ports) form a
 * class; a packet matches class c when bit c is set both in the CIDR trie's value for the
 * remote address and in the protocol/port masks below. */
struct np_dir_rules {
	__u64 deny_enforce;  /* classes that drop */
	__u64 allow_enforce; /* classes that allow */
	__u64 deny_all;	     /* deny classes including Audit policies' (the "would" verdict) */
	__u64 allow_all;     /* allow classes including Audit policies' */
	__u64 any_proto;     /* classes matching every protocol and port */
	__u64 proto_all[NP_SLOTS]; /* classes matching every port of one protocol */
	__u8 default_deny;	   /* enforced default for packets no rule matches */
	__u8 default_deny_all;	   /* the default if Audit policies were enforced too */
	__u8 port_protos;	   /* bit per slot: the port trie holds entries for it */
	__u8 pad[5];
};

/* pods: cgroup id of the pod cgroup -> this. Replacing the value is the atomic policy flip. */
struct np_pod {
	__u32 ruleset;	 /* scope of this pod's trie entries */
	__u32 pod_index; /* slot in counters and pod_info; stable for the pod's life */
	struct np_dir_rules dir[NP_DIRECTIONS];
};

/* LPM keys: a 32-bit big-endian scope (ruleset << 1 | direction) before the address, so
 * every rule set lives in one long-lived trie and a lookup never crosses scopes. */
struct np_lpm4_key {
	__u32 prefixlen; /* NP_SCOPE_PREFIXLEN + CIDR prefix */
	__u32 scope;
	__u8 addr[4];
};

struct np_lpm6_key {
	__u32 prefixlen;
	__u32 scope;
	__u8 addr[16];
};

struct np_port_key {
	__u32 prefixlen; /* NP_SCOPE_PREFIXLEN + NP_PORT_PROTO_BITS + port prefix (0..16) */
	__u32 scope;
	__u8 proto;   /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	__u8 port[2]; /* big-endian */
	__u8 pad;
};

static inline __u32 np_scope(__u32 ruleset, __u32 dir)
{
	return __builtin_bswap32(ruleset << 1 | dir);
}

/* counters (per-CPU array): index np_counter_index(pod_index, dir, verdict). */
struct np_counter {
	__u64 bytes; /* IP-layer bytes: the IP header and everything after it */
	__u64 packets;
};

#define NP_COUNTER_SLOTS (NP_MAX_PODS * NP_DIRECTIONS * NP_VERDICTS)

static inline __u32 np_counter_index(__u32 pod_index, __u32 dir, __u32 verdict)
{
	return (pod_index * NP_DIRECTIONS + dir) * NP_VERDICTS + verdict;
}

/* flows (LRU hash): a connection seen from the pod's side. */
struct np_flow_key {
	__u32 pod_index;
	__u8 family; /* 4 or 6 */
	__u8 proto;
	__u16 lport; /* network order; ICMP echo identifier for echo requests/replies */
	__u16 rport;
	__u8 pad[2];
	__u8 laddr[16];
	__u8 raddr[16];
};

struct np_flow {
	__u8 origin; /* np_direction of the packet that opened it; the other way is a reply */
	__u8 pad[7];
};

/* talkers (LRU hash): traffic per remote address and service port. */
struct np_talker_key {
	__u32 pod_index;
	__u8 dir; /* direction of the counted packets */
	__u8 family;
	__u8 proto;
	__u8 pad;
	__u16 port; /* host order: the service port of the connection (remote for flows the pod
		     * opened, local for flows it accepted) */
	__u16 pad2;
	__u8 addr[16]; /* the remote address */
};

struct np_talker {
	__u64 bytes;
	__u64 packets;
	__u64 denied_packets;
};

/* Ring buffer record for one sampled packet. Addresses are the packet's own, IPv4 in the
 * first four bytes. */
struct np_flow_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id;
	__u32 pod_index;
	__u32 len;
	__u8 dir;
	__u8 verdict;
	__u8 family;
	__u8 proto;
	__u16 sport; /* host order */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* pod_info (array by pod_index): who a slot belongs to, so a restarted agent can adopt. */
struct np_pod_info {
	__u64 cgroup_id; /* 0: slot free */
	char key[NP_POD_KEY_MAX];
};

/* rulesets (array by rule set id): what a restarted agent needs to share and free them. */
struct np_ruleset_info {
	__u8 digest[32]; /* SHA-256 of the canonical compiled network JSON */
	__u32 in_use;
	__u32 pad;
	struct np_dir_rules dir[NP_DIRECTIONS];
};

/* stats (per-CPU array). */
enum np_stat {
	NP_STAT_RINGBUF_LOST = 0,  /* sampled events the ring buffer had no room for */
	NP_STAT_PARSE_ERRORS,	   /* packets of selected pods whose headers could not be read */
	NP_STAT_FLOW_TABLE_ERRORS, /* connections that could not be recorded */
	NP_STAT_REPLIES,	   /* packets allowed as replies of tracked connections */
	NP_STATS,
};

/* meta (array of one): written once when the maps are created. */
struct np_meta {
	__u32 abi;
	__u32 pad;
	__u64 cgroup_root_id;
};
