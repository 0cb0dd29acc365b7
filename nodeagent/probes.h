/* Kernel features the agent depends on, probed once at start and cached. A node that lacks
 * one says so (logs, /metrics, and every ACK to the controller) instead of pretending:
 * the controller turns a missing feature into a Degraded condition on the policies that
 * need it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct node_features {
	bool bpf;	 /* the bpf() syscall works for us (CAP_BPF / root) */
	bool btf;	 /* /sys/kernel/btf/vmlinux: CO-RE programs can load */
	bool cgroup_skb; /* BPF_PROG_TYPE_CGROUP_SKB */
	bool ringbuf;	 /* BPF_MAP_TYPE_RINGBUF (5.8+) */
	bool bpf_loop;	 /* the bpf_loop() helper (5.17+): exec recording chunks with it */
	/* struct cgroup's ancestors[] (6.0+; ancestor_ids[] before): exec recording finds a
	 * container's pod through it. From the kernel's BTF. */
	bool cgroup_ancestors;
	char kernel[65];       /* uname -r */
	bool kernel_supported; /* at least BULWARK_MIN_KERNEL */
	bool lpm_trie;	       /* BPF_MAP_TYPE_LPM_TRIE */
	bool bpffs;	       /* a bpf filesystem mounted at the pin root */
	bool cgroup2;	       /* a cgroup2 filesystem at the cgroup root */
	int landlock_abi;      /* 0: none; the reason is in landlock_reason */
	const char *landlock_reason;
	bool seccomp;	  /* seccomp filters can be installed */
	bool seccomp_log; /* SECCOMP_RET_LOG, for Audit-mode policies */
	bool seccomp_kill_process;
	unsigned libseccomp_api;
};

/* The oldest kernel Bulwark supports: the oldest of the kernel matrix it is tested on
 * (docs/kernel-matrix.md; Debian 12's 6.1). Older kernels are not refused: the agent says
 * which mechanisms the probes found missing. */
#define BULWARK_MIN_KERNEL "6.1"

/* Probes once (later calls return the cached result); the paths are the configured cgroup
 * root and bpffs pin root. */
const struct node_features *node_features_probe(const char *cgroup_root, const char *bpffs_root);

/* The features as a JSON object for ACKs and the /healthz body. */
json_t *node_features_to_json(const struct node_features *f);

/* Logs one line per missing feature with what degrades because of it. */
void node_features_log(const struct node_features *f);

/* What exec recording lacks on this kernel, as a sentence for the log; NULL when the probes
 * found everything it needs (then a failure to load is the recorder's own). */
const char *node_features_execrec_missing(const struct node_features *f);
