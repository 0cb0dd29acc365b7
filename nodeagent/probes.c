#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "landlock/abi.h"
#include "log.h"

static struct node_features features;
static pthread_once_t probed = PTHREAD_ONCE_INIT;
static const char *probe_cgroup_root, *probe_bpffs_root;

static bool fs_magic_is(const char *path, long magic)
{
	struct statfs s;
	return path && statfs(path, &s) == 0 && (long)s.f_type == magic;
}

static int probe_landlock(const char **reason)
{
	int abi = landlock_abi_probe();
	*reason = abi >= 0 ? "" : landlock_abi_unavailable_hint(abi);
	return abi >= 0 ? abi : 0;
}

static bool seccomp_action_available(unsigned action)
{
	return syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

static void probe(void)
{
	struct node_features *f = &features;
	f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	f->cgroup_skb = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SKB, NULL) == 1;
	f->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->lpm_trie = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, NULL) == 1;
	f->bpf = f->cgroup_skb || f->lpm_trie;
	f->bpffs = fs_magic_is(probe_bpffs_root, BPF_FS_MAGIC);
	f->cgroup2 = fs_magic_is(probe_cgroup_root, CGROUP2_SUPER_MAGIC);
	f->landlock_abi = probe_landlock(&f->landlock_reason);
	f->seccomp = seccomp_action_available(SECCOMP_RET_ERRNO);
	f->seccomp_log = seccomp_action_available(SECCOMP_RET_LOG);
	f->seccomp_kill_process = seccomp_action_available(SECCOMP_RET_KILL_PROCESS);
	f->libseccomp_api = seccomp_api_get();
}

const struct node_features *node_features_probe(const char *cgroup_root, const char *bpffs_root)
{
	probe_cgroup_root = cgroup_root;
	probe_bpffs_root = bpffs_root;
	pthread_once(&probed, probe);
	return &features;
}

json_t *node_features_to_json(const struct node_features *f)
{
	return json_pack("{s:{s:b,s:b,s:b,s:b,s:b,s:b}, s:b, s:{s:i,s:s}, s:{s:b,s:b,s:b,s:i}}",
			 "bpf", "available", f->bpf, "btf", f->btf, "cgroupSkb", f->cgroup_skb,
			 "ringbuf", f->ringbuf, "lpmTrie", f->lpm_trie, "bpffs", f->bpffs,
			 "cgroupV2", f->cgroup2, "landlock", "abi", f->landlock_abi, "reason",
			 f->landlock_reason ? f->landlock_reason : "", "seccomp", "available",
			 f->seccomp, "log", f->seccomp_log, "killProcess", f->seccomp_kill_process,
			 "libseccompApi", (int)f->libseccomp_api);
}

void node_features_log(const struct node_features *f)
{
	if (!f->cgroup_skb || !f->lpm_trie)
		log_warn("BPF cgroup-skb programs or LPM tries are unavailable: network policies "
			 "cannot be enforced on this node");
	if (!f->btf)
		log_warn(
			"no kernel BTF at /sys/kernel/btf/vmlinux: CO-RE BPF programs cannot load");
	if (!f->ringbuf)
		log_warn("BPF ring buffers are unavailable: flow logs and exec recording are off");
	if (!f->bpffs)
		log_warn(
			"no bpffs at the pin root: enforcement would not survive an agent restart");
	if (!f->cgroup2)
		log_warn("no cgroup2 filesystem at the cgroup root: pods cannot be resolved");
	if (!f->landlock_abi)
		log_warn("Landlock unavailable: BestEffort rulesets run unrestricted, "
			 "HardRequirement pods will refuse to start",
			 "reason", f->landlock_reason);
	if (!f->seccomp)
		log_warn("seccomp filters are unavailable: syscall policies cannot be enforced");
	else if (!f->seccomp_log)
		log_warn("SECCOMP_RET_LOG unavailable: Audit-mode syscall rules cannot log");
	log_info(1, "kernel features probed", "landlockABI", LOG_INT(f->landlock_abi),
		 "libseccompAPI", LOG_INT(f->libseccomp_api));
}
