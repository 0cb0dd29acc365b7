#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
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

/* Whether composite type id of btf has a member called name, also inside anonymous structs
 * and unions (7.x puts struct cgroup's ancestors[] in one). */
static bool btf_has_member(const struct btf *btf, int id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	if (!t || !btf_is_composite(t) || depth > 4)
		return false;
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++) {
		if (m[i].name_off == 0 ? btf_has_member(btf, m[i].type, name, depth + 1)
				       : !strcmp(btf__name_by_offset(btf, m[i].name_off), name))
			return true;
	}
	return false;
}

static bool btf_struct_has_member(const char *type, const char *member)
{
	struct btf *btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	bool found = id > 0 && btf_has_member(btf, id, member, 0);
	btf__free(btf);
	return found;
}

static void probe_kernel(struct node_features *f)
{
	struct utsname u;
	unsigned major = 0, minor = 0, min_major = 0, min_minor = 0;
	if (uname(&u) == 0) {
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
		sscanf(u.release, "%u.%u", &major, &minor);
	}
	sscanf(BULWARK_MIN_KERNEL, "%u.%u", &min_major, &min_minor);
	f->kernel_supported = major > min_major || (major == min_major && minor >= min_minor);
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
	f->bpf_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) == 1;
	f->cgroup_ancestors = f->btf && btf_struct_has_member("cgroup", "ancestors");
	probe_kernel(f);
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
	return json_pack("{s:s, s:{s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}, s:b, s:{s:i,s:s}, "
			 "s:{s:b,s:b,s:b,s:i}}",
			 "kernel", f->kernel, "bpf", "available", f->bpf, "btf", f->btf,
			 "cgroupSkb", f->cgroup_skb, "ringbuf", f->ringbuf, "lpmTrie", f->lpm_trie,
			 "loop", f->bpf_loop, "cgroupAncestors", f->cgroup_ancestors, "bpffs",
			 f->bpffs, "cgroupV2", f->cgroup2, "landlock", "abi", f->landlock_abi,
			 "reason", f->landlock_reason ? f->landlock_reason : "", "seccomp",
			 "available", f->seccomp, "log", f->seccomp_log, "killProcess",
			 f->seccomp_kill_process, "libseccompApi", (int)f->libseccomp_api);
}

const char *node_features_execrec_missing(const struct node_features *f)
{
	if (!f->btf)
		return "the kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)";
	if (!f->ringbuf)
		return "the kernel has no BPF ring buffers (Linux 5.8+)";
	if (!f->bpf_loop)
		return "the kernel has no bpf_loop() helper (Linux 5.17+)";
	if (!f->cgroup_ancestors)
		return "the kernel's struct cgroup has no ancestors[] (Linux 6.0+), through which "
		       "the recorder finds a container's pod";
	return NULL;
}

void node_features_log(const struct node_features *f)
{
	if (!f->kernel_supported)
		log_warn("this kernel is older than the oldest Bulwark supports and is tested on; "
			 "the lines below say what it cannot offer",
			 "kernel", f->kernel, "minimum", BULWARK_MIN_KERNEL);
	const char *execrec = node_features_execrec_missing(f);
	if (execrec && f->ringbuf && f->btf)
		log_warn("exec recording is off", "reason", execrec);
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
	log_info(1, "kernel features probed", "kernel", f->kernel, "landlockABI",
		 LOG_INT(f->landlock_abi), "libseccompAPI", LOG_INT(f->libseccomp_api));
}
