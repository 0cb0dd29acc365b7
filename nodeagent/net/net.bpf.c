// SPDX-License-Identifier: GPL-2.0
/* Per-pod network policy: one cgroup_skb program per direction, attached once at the pod
 * cgroup root. A packet's pod is the ancestor cgroup of its socket at the pod level; pods no
 * policy selects are not in the pods map and pass untouched. Layouts: nodeagent/net/net_abi.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "net_abi.h"

#define ETH_P_IP	     0x0800
#define ETH_P_IPV6	     0x86DD

#define PROTO_ICMP	     1
#define PROTO_TCP	     6
#define PROTO_UDP	     17
#define PROTO_ICMPV6	     58
#define PROTO_SCTP	     132

#define IP_MF		     0x2000
#define IP_OFFSET	     0x1FFF

#define IPV6_MAX_EXT_HEADERS 6

char LICENSE[] SEC("license") = "GPL";

/* Set by the agent before load. */
const volatile __u32 pod_level_min = 1;	   /* cgroup level of a pod directly under the root */
const volatile __u32 pod_level_count = 1;  /* levels to probe (QoS class cgroups add one) */
const volatile __u32 flow_sample_rate = 0; /* 1 in N packets of selected pods; 0: no events */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NP_MAX_PODS);
	/* No preallocation: a replaced value is freed after an RCU grace period, so a program
	 * still reading the old value never sees it rewritten under it. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct np_pod);
} pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NP_LPM4_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct np_lpm4_key);
	__type(value, __u64);
} cidr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NP_LPM6_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct np_lpm6_key);
	__type(value, __u64);
} cidr6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NP_PORT_LPM_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct np_port_key);
	__type(value, __u64);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NP_FLOW_MAX);
	__type(key, struct np_flow_key);
	__type(value, struct np_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct np_counter);
} counters SEC(".maps");

/* Per-CPU values: a busy pod talking to one remote from every core adds without atomics or
 * cache-line bouncing; user space sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, NP_TALKER_MAX);
	__type(key, struct np_talker_key);
	__type(value, struct np_talker);
} talkers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NP_RINGBUF_BYTES);
} flow_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_STATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Written and read only by user space; here so they are created and pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NP_MAX_PODS);
	__type(key, __u32);
	__type(value, struct np_pod_info);
} pod_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NP_MAX_RULESETS);
	__type(key, __u32);
	__type(value, struct np_ruleset_info);
} rulesets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_meta);
} meta SEC(".maps");

struct packet {
	__u8 family; /* 0 when the headers could not be read */
	__u8 proto;
	__u16 sport; /* network order */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

static __always_inline struct np_pod *find_pod(struct __sk_buff *skb)
{
	for (__u32 i = 0; i < NP_MAX_POD_LEVELS; i++) {
		if (i >= pod_level_count)
			break;
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, pod_level_min + i);
		if (!id)
			break;
		struct np_pod *pod = bpf_map_lookup_elem(&pods, &id);
		if (pod)
			return pod;
	}
	return NULL;
}

/* Ports for TCP, UDP and SCTP; for ICMP echo the identifier stands in for the local port so
 * that a reply finds its request. Non-first fragments carry no ports and keep 0. */
static __always_inline void parse_l4(struct __sk_buff *skb, __u32 off, struct packet *p, bool icmp6)
{
	switch (p->proto) {
	case PROTO_TCP:
	case PROTO_UDP:
	case PROTO_SCTP: bpf_skb_load_bytes(skb, off, &p->sport, 4); break;
	case PROTO_ICMP:
	case PROTO_ICMPV6: {
		__u8 type;
		__u16 id;
		if (bpf_skb_load_bytes(skb, off, &type, 1) < 0 ||
		    bpf_skb_load_bytes(skb, off + 4, &id, 2) < 0)
			break;
		if (type == (icmp6 ? 128 : 8))
			p->sport = id; /* echo request: the sender's identifier */
		else if (type == (icmp6 ? 129 : 0))
			p->dport = id; /* echo reply: back to the identifier */
		break;
	}
	}
}

static __always_inline int parse(struct __sk_buff *skb, struct packet *p)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
			return -1;
		p->family = 4;
		p->proto = ip.protocol;
		__builtin_memcpy(p->saddr, &ip.saddr, 4);
		__builtin_memcpy(p->daddr, &ip.daddr, 4);
		if (ip.frag_off & bpf_htons(IP_OFFSET))
			return 0;
		parse_l4(skb, ip.ihl * 4, p, false);
		return 0;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		p->family = 6;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		__u8 next = ip6.nexthdr;
		__u32 off = sizeof(ip6);
		for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
			__u8 hdr[2];
			if (next != 0 && next != 43 && next != 60 && next != 44 && next != 51)
				break;
			if (bpf_skb_load_bytes(skb, off, hdr, 2) < 0)
				return -1;
			if (next == 44) { /* fragment header: fixed 8 bytes */
				__u16 frag;
				if (bpf_skb_load_bytes(skb, off + 2, &frag, 2) < 0)
					return -1;
				next = hdr[0];
				off += 8;
				if (bpf_ntohs(frag) & 0xFFF8) {
					p->proto = next;
					return 0;
				}
				continue;
			}
			off += next == 51 ? (hdr[1] + 2) * 4 : (hdr[1] + 1) * 8;
			next = hdr[0];
		}
		p->proto = next;
		parse_l4(skb, off, p, true);
		return 0;
	}
	return -1;
}

static __always_inline int proto_slot(__u8 proto)
{
	switch (proto) {
	case PROTO_TCP: return NP_SLOT_TCP;
	case PROTO_UDP: return NP_SLOT_UDP;
	case PROTO_ICMP: return NP_SLOT_ICMP;
	case PROTO_ICMPV6: return NP_SLOT_ICMPV6;
	case PROTO_SCTP: return NP_SLOT_SCTP;
	}
	return -1;
}

/* The classes whose rules match: CIDR trie bits for the remote address AND the classes whose
 * protocol and port match. */
static __always_inline __u64 matching_classes(const struct np_dir_rules *d, __u32 scope,
					      const struct packet *p, const __u8 *remote)
{
	__u64 cidr_bits = 0, proto_bits = d->any_proto, *v;
	int slot = proto_slot(p->proto);

	if (slot >= 0 && slot < NP_SLOTS) {
		proto_bits |= d->proto_all[slot];
		if (d->port_protos & (1u << slot)) {
			struct np_port_key pk = {
				.prefixlen = NP_SCOPE_PREFIXLEN + NP_PORT_PROTO_BITS + 16,
				.scope = scope,
				.proto = p->proto,
			};
			__builtin_memcpy(pk.port, &p->dport, 2);
			v = bpf_map_lookup_elem(&ports, &pk);
			if (v)
				proto_bits |= *v;
		}
	}
	if (!proto_bits)
		return 0;

	if (p->family == 4) {
		struct np_lpm4_key k = {.prefixlen = NP_SCOPE_PREFIXLEN + 32, .scope = scope};
		__builtin_memcpy(k.addr, remote, 4);
		v = bpf_map_lookup_elem(&cidr4, &k);
	} else {
		struct np_lpm6_key k = {.prefixlen = NP_SCOPE_PREFIXLEN + 128, .scope = scope};
		__builtin_memcpy(k.addr, remote, 16);
		v = bpf_map_lookup_elem(&cidr6, &k);
	}
	if (v)
		cidr_bits = *v;
	return cidr_bits & proto_bits;
}

static __always_inline void count(__u32 pod_index, __u32 dir, __u32 verdict, __u32 len)
{
	__u32 idx = np_counter_index(pod_index, dir, verdict);
	struct np_counter *c = bpf_map_lookup_elem(&counters, &idx);

	if (c) {
		c->bytes += len;
		c->packets += 1;
	}
}

static __always_inline void count_talker(__u32 pod_index, __u32 dir, const struct packet *p,
					 const __u8 *remote, __u16 service_port, __u32 len,
					 bool denied)
{
	struct np_talker_key k = {
		.pod_index = pod_index,
		.dir = dir,
		.family = p->family,
		.proto = p->proto,
		.port = bpf_ntohs(service_port),
	};
	__builtin_memcpy(k.addr, remote, 16);

	struct np_talker *t = bpf_map_lookup_elem(&talkers, &k);
	if (!t) {
		struct np_talker init = {.bytes = len, .packets = 1, .denied_packets = denied};
		/* Sets this CPU's value and zeroes the others'; if another CPU inserted first,
		 * this packet goes uncounted here (the pod counters still have it). */
		bpf_map_update_elem(&talkers, &k, &init, BPF_NOEXIST);
		return;
	}
	t->bytes += len;
	t->packets += 1;
	t->denied_packets += denied;
}

static __always_inline void emit_event(struct __sk_buff *skb, __u32 pod_index, __u32 dir,
				       __u32 verdict, const struct packet *p)
{
	if (!flow_sample_rate || bpf_get_prandom_u32() % flow_sample_rate)
		return;
	struct np_flow_event *e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(NP_STAT_RINGBUF_LOST);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_skb_cgroup_id(skb);
	e->pod_index = pod_index;
	e->len = skb->len;
	e->dir = dir;
	e->verdict = verdict;
	e->family = p->family;
	e->proto = p->proto;
	e->sport = bpf_ntohs(p->sport);
	e->dport = bpf_ntohs(p->dport);
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int handle(struct __sk_buff *skb, __u32 dir)
{
	struct np_pod *pod = find_pod(skb);
	if (!pod)
		return 1;

	__u32 pod_index = pod->pod_index;
	__u32 scope = np_scope(pod->ruleset, dir);
	const struct np_dir_rules *d = &pod->dir[dir & 1];
	struct packet p = {};
	if (parse(skb, &p) < 0)
		stat_inc(NP_STAT_PARSE_ERRORS);

	/* Seen from the pod: egress packets go to the remote, ingress ones come from it. */
	const __u8 *remote = dir == NP_EGRESS ? p.daddr : p.saddr;
	struct np_flow_key fk = {
		.pod_index = pod_index,
		.family = p.family,
		.proto = p.proto,
		.lport = dir == NP_EGRESS ? p.sport : p.dport,
		.rport = dir == NP_EGRESS ? p.dport : p.sport,
	};
	__builtin_memcpy(fk.laddr, dir == NP_EGRESS ? p.saddr : p.daddr, 16);
	__builtin_memcpy(fk.raddr, remote, 16);

	__u32 verdict;
	__u16 service_port;
	struct np_flow *flow = p.family ? bpf_map_lookup_elem(&flows, &fk) : NULL;
	if (flow && flow->origin != dir) {
		/* A reply on a connection the policy let through the other way. */
		verdict = NP_VERDICT_ALLOW;
		service_port = p.sport;
		stat_inc(NP_STAT_REPLIES);
	} else {
		bool deny, would_deny;
		__u64 m = p.family ? matching_classes(d, scope, &p, remote) : 0;

		deny = m & d->deny_enforce ? true : m & d->allow_enforce ? false : d->default_deny;
		would_deny = m & d->deny_all	? true
			     : m & d->allow_all ? false
						: d->default_deny_all;
		verdict = deny ? NP_VERDICT_DENY : would_deny ? NP_VERDICT_AUDIT : NP_VERDICT_ALLOW;
		service_port = p.dport;
		if (!deny && !flow && p.family) {
			struct np_flow nf = {.origin = dir};
			long r = bpf_map_update_elem(&flows, &fk, &nf, BPF_NOEXIST);
			if (r < 0 && r != -17 /* EEXIST: another CPU recorded it */)
				stat_inc(NP_STAT_FLOW_TABLE_ERRORS);
		}
	}

	count(pod_index, dir, verdict, skb->len);
	if (p.family)
		count_talker(pod_index, dir, &p, remote, service_port, skb->len,
			     verdict == NP_VERDICT_DENY);
	emit_event(skb, pod_index, dir, verdict, &p);
	return verdict != NP_VERDICT_DENY;
}

SEC("cgroup_skb/egress")
int netpolicy_egress(struct __sk_buff *skb)
{
	return handle(skb, NP_EGRESS);
}

SEC("cgroup_skb/ingress")
int netpolicy_ingress(struct __sk_buff *skb)
{
	return handle(skb, NP_INGRESS);
}
