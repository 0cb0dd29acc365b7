/* Kernel features the agent depends on, probed once at start and cached. A node that lacks
 * one says so (logs, /metrics, and every ACK to the controller) instead of pretending:
 * the controller turns a missing feature into a Degraded condition on the policies that
 * need it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct node_features {
	bool bpf;	  /* the bpf() syscall works for us (CAP_BPF / root) */
	bool btf;	  /* /sys/kernel/btf/vmlinux: CO-RE programs can load */
	bool cgroup_skb;  /* BPF_PROG_TYPE_CGROUP_SKB */
	bool ringbuf;	  /* BPF_MAP_TYPE_RINGBUF (5.8+) */
	bool lpm_trie;	  /* BPF_MAP_TYPE_LPM_TRIE */
	bool bpffs;	  /* a bpf filesystem mounted at the pin root */
	bool cgroup2;	  /* a cgroup2 filesystem at the cgroup root */
	int landlock_abi; /* 0: none; the reason is in landlock_reason */
	const char *landlock_reason;
	bool seccomp;	  /* seccomp filters can be installed */
	bool seccomp_log; /* SECCOMP_RET_LOG, for Audit-mode policies */
	bool seccomp_kill_process;
	unsigned libseccomp_api;
};

/* Probes once (later calls return the cached result); the paths are the configured cgroup
 * root and bpffs pin root. */
const struct node_features *node_features_probe(const char *cgroup_root, const char *bpffs_root);

/* The features as a JSON object for ACKs and the /healthz body. */
json_t *node_features_to_json(const struct node_features *f);

/* Logs one line per missing feature with what degrades because of it. */
void node_features_log(const struct node_features *f);
