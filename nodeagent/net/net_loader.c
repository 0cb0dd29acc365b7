#include "nodeagent/net/net_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodeagent/bpffs.h"
#include "canonical.h"
#include "cleanup.h"
#include "daemon/libbpf_log.h"
#include "log.h"
#include "net.skel.h"
#include "nodeagent/net/net_entries.h"

#define DEFAULT_FLOW_SAMPLE_RATE 1024
#define DELETE_BATCH		 4096

static const char *const link_pin_names[NP_DIRECTIONS] = {"link_egress", "link_ingress"};

struct net_loader {
	struct net *skel;
	struct bpf_link *links[NP_DIRECTIONS];
	char net_dir[PATH_MAX];
	int ncpus;
	struct ring_buffer *flows;
	int grace_outer, grace_inner; /* see wait_for_readers() */
	net_flow_cb flow_cb;
	void *flow_userdata;
	bool pod_slot_used[NP_MAX_PODS];
	bool ruleset_live[NP_MAX_RULESETS];
	uint32_t ruleset_refs[NP_MAX_RULESETS];
	uint8_t ruleset_digest[NP_MAX_RULESETS][32];
};

int net_cgroup_id(const char *cgroup_dir, uint64_t *ret)
{
	struct stat st;

	/* On cgroup v2 a cgroup's id is its kernfs inode number. */
	if (stat(cgroup_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*ret = st.st_ino;
	return 0;
}

/* The cgroup's depth below the cgroup2 mount it lives on, from /proc/self/mountinfo. */
static int cgroup_level(const char *cgroup_dir, unsigned *ret)
{
	char real[PATH_MAX], best[PATH_MAX] = "";
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!realpath(cgroup_dir, real))
		return -errno;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX];
		const char *sep = strstr(line, " - ");
		/* id parent major:minor root mountpoint ... - fstype ... */
		if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0 ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		size_t n = strlen(mnt);
		if (strncmp(real, mnt, n) == 0 && (real[n] == '/' || real[n] == '\0') &&
		    n > strlen(best))
			snprintf(best, sizeof(best), "%s", mnt);
	}
	if (!best[0])
		return -EMEDIUMTYPE;
	unsigned level = 0;
	for (const char *p = real + strlen(best); *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	*ret = level;
	return 0;
}

static int pin_path(const struct net_loader *l, const char *name, char out[PATH_MAX])
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", l->net_dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Pinned maps from an agent with another map layout cannot be reused: start over. */
static int drop_incompatible_pins(struct net_loader *l)
{
	char path[PATH_MAX];
	struct np_meta m = {0};
	uint32_t zero = 0;
	int r = pin_path(l, "meta", path);

	if (r < 0)
		return r;
	_cleanup_close_ int fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &m) == 0 && (m.abi == 0 || m.abi == NP_ABI_VERSION))
		return 0;
	log_warn("pinned network maps have another layout, recreating them", "path", l->net_dir,
		 "abi", LOG_INT(m.abi));
	r = bpffs_unpin_dir(l->net_dir);
	if (r < 0)
		return r;
	return bpffs_prepare_dir(l->net_dir);
}

static int attach_direction(struct net_loader *l, enum np_direction dir, int root_fd,
			    uint64_t root_id)
{
	struct bpf_program *prog = dir == NP_EGRESS ? l->skel->progs.netpolicy_egress
						    : l->skel->progs.netpolicy_ingress;
	enum bpf_attach_type type =
		dir == NP_EGRESS ? BPF_CGROUP_INET_EGRESS : BPF_CGROUP_INET_INGRESS;
	char path[PATH_MAX];
	int r = pin_path(l, link_pin_names[dir], path);
	if (r < 0)
		return r;

	struct bpf_link *old = bpf_link__open(path);
	if (old) {
		struct bpf_link_info info = {0};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_link__fd(old), &info, &len) == 0 &&
		    info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == root_id &&
		    info.cgroup.attach_type == type) {
			/* Adopt: swap in this agent's program, atomically, with no gap. */
			r = bpf_link__update_program(old, prog);
			if (r == 0) {
				l->links[dir] = old;
				return 0;
			}
			log_info(4, "cannot update pinned link, replacing it", "path", path);
		}
	}

	/* Attach the new link before the old pin goes, so enforcement never lapses. */
	struct bpf_link *link = bpf_program__attach_cgroup(prog, root_fd);
	if (!link) {
		r = -errno;
		bpf_link__destroy(old);
		return r;
	}
	if (old) {
		bpf_link__unpin(old);
		bpf_link__destroy(old);
	}
	r = bpf_link__pin(link, path);
	if (r < 0) {
		bpf_link__destroy(link);
		return r;
	}
	l->links[dir] = link;
	return 0;
}

static int map_fd(const struct bpf_map *m)
{
	return bpf_map__fd(m);
}

/* Deletes every trie entry whose scope belongs to a rule set that `keep` rejects. */
static int trie_delete_scopes(int fd, size_t key_size, bool (*drop)(uint32_t ruleset, void *ud),
			      void *ud)
{
	uint8_t key[sizeof(struct np_lpm6_key)], next[sizeof(struct np_lpm6_key)];
	_cleanup_free_ uint8_t *batch = malloc(DELETE_BATCH * key_size);
	bool first = true;
	int r = 0;

	if (!batch)
		return -ENOMEM;
	for (;;) {
		size_t n = 0;
		/* Collect a batch, delete it, and restart: deleting under the cursor would make
		 * get_next_key start over anyway. */
		while (n < DELETE_BATCH) {
			if (bpf_map_get_next_key(fd, first ? NULL : key, next) < 0) {
				if (errno != ENOENT)
					return -errno;
				break;
			}
			first = false;
			memcpy(key, next, key_size);
			uint32_t scope;
			memcpy(&scope, key + sizeof(uint32_t), sizeof(scope));
			if (drop(__builtin_bswap32(scope) >> 1, ud))
				memcpy(batch + n++ * key_size, key, key_size);
		}
		for (size_t i = 0; i < n; i++)
			if (bpf_map_delete_elem(fd, batch + i * key_size) < 0 && errno != ENOENT)
				r = -errno;
		if (n < DELETE_BATCH || r < 0)
			return r;
		first = true;
	}
}

static bool drop_one(uint32_t ruleset, void *ud)
{
	return ruleset == *(uint32_t *)ud;
}

static bool drop_dead(uint32_t ruleset, void *ud)
{
	const struct net_loader *l = ud;
	return ruleset >= NP_MAX_RULESETS || !l->ruleset_live[ruleset];
}

static int delete_ruleset_entries(struct net_loader *l, bool (*drop)(uint32_t, void *), void *ud)
{
	int r = trie_delete_scopes(map_fd(l->skel->maps.cidr4), sizeof(struct np_lpm4_key), drop,
				   ud);
	int r6 = trie_delete_scopes(map_fd(l->skel->maps.cidr6), sizeof(struct np_lpm6_key), drop,
				    ud);
	int rp = trie_delete_scopes(map_fd(l->skel->maps.ports), sizeof(struct np_port_key), drop,
				    ud);
	return r < 0 ? r : r6 < 0 ? r6 : rp;
}

/* Returns after every BPF program run that started before the call has finished: updating a
 * map-in-map makes the kernel wait for an RCU grace period (maybe_wait_bpf_programs), and the
 * programs run under RCU. A packet that read a pod's old value may still look up the old rule
 * set's entries until then, so they are deleted only afterwards. */
static int wait_for_readers(struct net_loader *l)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(l->grace_outer, &zero, &l->grace_inner, BPF_ANY) < 0)
		return -errno;
	return 0;
}

static int grace_maps_create(struct net_loader *l)
{
	l->grace_inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "np_grace_in", 4, 4, 1, NULL);
	if (l->grace_inner < 0)
		return -errno;
	LIBBPF_OPTS(bpf_map_create_opts, o, .inner_map_fd = l->grace_inner);
	l->grace_outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "np_grace", 4, 4, 1, &o);
	if (l->grace_outer < 0)
		return -errno;
	return 0;
}

static int ruleset_release(struct net_loader *l, uint32_t rid)
{
	struct np_ruleset_info empty = {0};

	if (rid == 0 || rid >= NP_MAX_RULESETS || !l->ruleset_live[rid])
		return 0;
	if (l->ruleset_refs[rid] > 0 && --l->ruleset_refs[rid] > 0)
		return 0;
	/* No pod points at it any more; wait until no packet still can. */
	int r = wait_for_readers(l);
	if (r < 0)
		return r;
	r = delete_ruleset_entries(l, drop_one, &rid);
	bpf_map_update_elem(map_fd(l->skel->maps.rulesets), &rid, &empty, BPF_ANY);
	l->ruleset_live[rid] = false;
	memset(l->ruleset_digest[rid], 0, 32);
	return r;
}

/* Rebuilds the bookkeeping from the (possibly adopted) maps and frees what no pod uses. */
static int adopt_state(struct net_loader *l, uint64_t root_id)
{
	int pods = map_fd(l->skel->maps.pods), infos = map_fd(l->skel->maps.pod_info);
	int rulesets = map_fd(l->skel->maps.rulesets), meta = map_fd(l->skel->maps.meta);
	uint64_t key, next;
	bool first = true;
	uint32_t zero = 0;
	struct np_meta m = {0};
	int r;

	if (bpf_map_lookup_elem(meta, &zero, &m) == 0 && m.abi == 0) {
		m = (struct np_meta){.abi = NP_ABI_VERSION, .cgroup_root_id = root_id};
		if (bpf_map_update_elem(meta, &zero, &m, BPF_ANY) < 0)
			return -errno;
	}

	while (bpf_map_get_next_key(pods, first ? NULL : &key, &next) == 0) {
		struct np_pod pod;
		first = false;
		key = next;
		if (bpf_map_lookup_elem(pods, &key, &pod) < 0)
			continue;
		if (pod.pod_index < NP_MAX_PODS)
			l->pod_slot_used[pod.pod_index] = true;
		if (pod.ruleset < NP_MAX_RULESETS)
			l->ruleset_refs[pod.ruleset]++;
	}
	for (uint32_t i = 0; i < NP_MAX_PODS; i++) {
		struct np_pod_info info;
		if (l->pod_slot_used[i] || bpf_map_lookup_elem(infos, &i, &info) < 0 ||
		    !info.cgroup_id)
			continue;
		memset(&info, 0, sizeof(info));
		bpf_map_update_elem(infos, &i, &info, BPF_ANY);
	}
	for (uint32_t i = 1; i < NP_MAX_RULESETS; i++) {
		struct np_ruleset_info info;
		if (bpf_map_lookup_elem(rulesets, &i, &info) < 0 || !info.in_use)
			continue;
		l->ruleset_live[i] = true;
		memcpy(l->ruleset_digest[i], info.digest, 32);
	}
	for (uint32_t i = 1; i < NP_MAX_RULESETS; i++)
		if (l->ruleset_live[i] && l->ruleset_refs[i] == 0) {
			struct np_ruleset_info empty = {0};
			l->ruleset_live[i] = false;
			bpf_map_update_elem(rulesets, &i, &empty, BPF_ANY);
		}
	/* One sweep removes entries of freed rule sets and of builds a crash interrupted. */
	r = delete_ruleset_entries(l, drop_dead, l);
	return r;
}

int net_loader_open_opts(const struct net_loader_opts *opts, struct net_loader **ret)
{
	struct net_loader *l;
	struct bpf_map *map;
	uint64_t root_id = 0;
	unsigned level = 0;
	int r;

	if (!opts || !opts->bpffs_dir || !opts->cgroup_root)
		return -EINVAL;
	unsigned depth_min = opts->pod_depth_min ? opts->pod_depth_min : 1;
	unsigned depth_count = opts->pod_depth_count ? opts->pod_depth_count : 2;
	if (depth_count > NP_MAX_POD_LEVELS)
		return -EINVAL;

	libbpf_log_route();
	r = net_cgroup_id(opts->cgroup_root, &root_id);
	if (r < 0)
		return r;
	r = cgroup_level(opts->cgroup_root, &level);
	if (r < 0)
		return r;
	_cleanup_close_ int root_fd = open(opts->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->grace_outer = l->grace_inner = -1;
	r = grace_maps_create(l);
	if (r < 0)
		goto fail;
	if ((size_t)snprintf(l->net_dir, sizeof(l->net_dir), "%s/net", opts->bpffs_dir) >=
	    sizeof(l->net_dir)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	r = libbpf_num_possible_cpus();
	if (r < 0)
		goto fail;
	l->ncpus = r;
	r = bpffs_prepare_dir(l->net_dir);
	if (r < 0)
		goto fail;
	r = drop_incompatible_pins(l);
	if (r < 0)
		goto fail;

	l->skel = net__open();
	if (!l->skel) {
		r = -errno;
		goto fail;
	}
	l->skel->rodata->pod_level_min = level + depth_min;
	l->skel->rodata->pod_level_count = depth_count;
	l->skel->rodata->flow_sample_rate = opts->flow_sample_rate;
	bpf_object__for_each_map (map, l->skel->obj) {
		char path[PATH_MAX];
		if (bpf_map__is_internal(map))
			continue;
		r = pin_path(l, bpf_map__name(map), path);
		if (r >= 0)
			r = bpf_map__set_pin_path(map, path);
		if (r < 0)
			goto fail;
	}
	/* Pinned maps of the same layout are reused here, new ones pinned. */
	r = net__load(l->skel);
	if (r < 0)
		goto fail;
	r = adopt_state(l, root_id);
	if (r < 0)
		goto fail;
	for (int d = 0; d < NP_DIRECTIONS; d++) {
		r = attach_direction(l, d, root_fd, root_id);
		if (r < 0)
			goto fail;
	}
	*ret = l;
	return 0;
fail:
	net_loader_free(l);
	return r;
}

int net_loader_open(const char *bpffs_dir, const char *cgroup_root, struct net_loader **ret)
{
	struct net_loader_opts opts = {
		.bpffs_dir = bpffs_dir,
		.cgroup_root = cgroup_root,
		.flow_sample_rate = DEFAULT_FLOW_SAMPLE_RATE,
	};
	return net_loader_open_opts(&opts, ret);
}

struct net_loader *net_loader_free(struct net_loader *l)
{
	if (!l)
		return NULL;
	ring_buffer__free(l->flows);
	/* Closing our link fds leaves the pinned links, and so the programs, attached. */
	for (int d = 0; d < NP_DIRECTIONS; d++)
		bpf_link__destroy(l->links[d]);
	net__destroy(l->skel);
	if (l->grace_outer >= 0)
		close(l->grace_outer);
	if (l->grace_inner >= 0)
		close(l->grace_inner);
	free(l);
	return NULL;
}

int net_loader_cleanup_all(const char *bpffs_dir)
{
	char dir[PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/net", bpffs_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	int r = bpffs_unpin_dir(dir);
	if (r == 0)
		(void)rmdir(bpffs_dir); /* only when nothing else of ours is pinned there */
	return r;
}

static int write_entries(struct net_loader *l, uint32_t rid, const struct net_entries *e)
{
	int c4 = map_fd(l->skel->maps.cidr4), c6 = map_fd(l->skel->maps.cidr6);
	int pf = map_fd(l->skel->maps.ports);

	for (int d = 0; d < NP_DIRECTIONS; d++) {
		const struct net_dir_entries *de = &e->dir[d];
		uint32_t scope = np_scope(rid, (uint32_t)d);
		for (size_t i = 0; i < de->n_prefixes; i++) {
			const struct net_prefix_entry *p = &de->prefixes[i];
			int r;
			if (p->family == 4) {
				struct np_lpm4_key k = {.prefixlen =
								NP_SCOPE_PREFIXLEN + p->prefixlen,
							.scope = scope};
				memcpy(k.addr, p->addr, 4);
				r = bpf_map_update_elem(c4, &k, &p->classes, BPF_ANY);
			} else {
				struct np_lpm6_key k = {.prefixlen =
								NP_SCOPE_PREFIXLEN + p->prefixlen,
							.scope = scope};
				memcpy(k.addr, p->addr, 16);
				r = bpf_map_update_elem(c6, &k, &p->classes, BPF_ANY);
			}
			if (r < 0)
				return errno == E2BIG ? -ENOSPC : -errno;
		}
		for (size_t i = 0; i < de->n_ports; i++) {
			const struct net_port_entry *p = &de->ports[i];
			struct np_port_key k = {
				.prefixlen = NP_SCOPE_PREFIXLEN + NP_PORT_PROTO_BITS + p->prefixlen,
				.scope = scope,
				.proto = p->proto,
				.port = {(uint8_t)(p->port >> 8), (uint8_t)p->port},
			};
			if (bpf_map_update_elem(pf, &k, &p->classes, BPF_ANY) < 0)
				return errno == E2BIG ? -ENOSPC : -errno;
		}
	}
	return 0;
}

static int hex_to_digest(const char hex[65], uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* The live rule set holding exactly this compiled policy, or a new one built from it. The
 * caller owns one reference on success. */
static int ruleset_acquire(struct net_loader *l, const json_t *compiled,
			   struct np_dir_rules ret_dirs[NP_DIRECTIONS], uint32_t *ret,
			   struct field_error *err)
{
	int rulesets = map_fd(l->skel->maps.rulesets);
	uint8_t digest[32];
	char hex[65];
	uint32_t rid;
	int r;

	r = json_canonical_sha256(compiled, hex);
	if (r < 0)
		return r;
	r = hex_to_digest(hex, digest);
	if (r < 0)
		return r;
	for (rid = 1; rid < NP_MAX_RULESETS; rid++) {
		struct np_ruleset_info info;
		if (!l->ruleset_live[rid] || memcmp(l->ruleset_digest[rid], digest, 32) != 0)
			continue;
		if (bpf_map_lookup_elem(rulesets, &rid, &info) < 0)
			return -errno;
		memcpy(ret_dirs, info.dir, sizeof(info.dir));
		l->ruleset_refs[rid]++;
		*ret = rid;
		return 0;
	}

	for (rid = 1; rid < NP_MAX_RULESETS && l->ruleset_live[rid]; rid++)
		;
	if (rid == NP_MAX_RULESETS)
		return -ENOSPC;

	struct net_entries e;
	r = net_entries_build(compiled, &e, err);
	if (r < 0)
		return r;
	r = write_entries(l, rid, &e);
	if (r == 0) {
		struct np_ruleset_info info = {.in_use = 1};
		memcpy(info.digest, digest, 32);
		for (int d = 0; d < NP_DIRECTIONS; d++)
			info.dir[d] = e.dir[d].rules;
		if (bpf_map_update_elem(rulesets, &rid, &info, BPF_ANY) < 0)
			r = -errno;
		memcpy(ret_dirs, info.dir, sizeof(info.dir));
	}
	net_entries_free(&e);
	if (r < 0) {
		/* No pod points at rid yet: dropping what was written is safe. */
		delete_ruleset_entries(l, drop_one, &rid);
		return r;
	}
	l->ruleset_live[rid] = true;
	l->ruleset_refs[rid] = 1;
	memcpy(l->ruleset_digest[rid], digest, 32);
	*ret = rid;
	return 0;
}

/* Drops the reply-tracking and top-talker entries a previous pod left under this slot, so a
 * new pod inherits neither its connections nor its traffic. */
static void purge_pod_index(struct net_loader *l, uint32_t idx)
{
	const struct {
		int fd;
		size_t key_size;
	} maps[] = {
		{map_fd(l->skel->maps.flows), sizeof(struct np_flow_key)},
		{map_fd(l->skel->maps.talkers), sizeof(struct np_talker_key)},
	};
	uint8_t key[64], next[64];

	for (size_t m = 0; m < ARRAY_SIZE(maps); m++) {
		bool first = true;
		/* pod_index is the first field of both keys. */
		while (bpf_map_get_next_key(maps[m].fd, first ? NULL : key, next) == 0) {
			uint32_t owner;
			first = false;
			memcpy(key, next, maps[m].key_size);
			memcpy(&owner, key, sizeof(owner));
			if (owner == idx)
				bpf_map_delete_elem(maps[m].fd, key);
		}
	}
}

static int pod_slot_acquire(struct net_loader *l, uint64_t cgroup_id, const char *pod_key,
			    uint32_t *ret)
{
	struct np_pod_info info = {.cgroup_id = cgroup_id};
	size_t size = (size_t)l->ncpus * sizeof(struct np_counter);
	uint32_t i;

	for (i = 0; i < NP_MAX_PODS && l->pod_slot_used[i]; i++)
		;
	if (i == NP_MAX_PODS)
		return -ENOSPC;
	_cleanup_free_ struct np_counter *zero = calloc(1, size);
	if (!zero)
		return -ENOMEM;
	/* A reused slot starts from zero: counters belong to one pod's life. */
	for (uint32_t d = 0; d < NP_DIRECTIONS; d++)
		for (uint32_t v = 0; v < NP_VERDICTS; v++) {
			uint32_t idx = np_counter_index(i, d, v);
			if (bpf_map_update_elem(map_fd(l->skel->maps.counters), &idx, zero,
						BPF_ANY) < 0)
				return -errno;
		}
	purge_pod_index(l, i);
	snprintf(info.key, sizeof(info.key), "%s", pod_key ? pod_key : "");
	if (bpf_map_update_elem(map_fd(l->skel->maps.pod_info), &i, &info, BPF_ANY) < 0)
		return -errno;
	l->pod_slot_used[i] = true;
	*ret = i;
	return 0;
}

static void pod_slot_release(struct net_loader *l, uint32_t i)
{
	struct np_pod_info empty = {0};

	if (i >= NP_MAX_PODS)
		return;
	bpf_map_update_elem(map_fd(l->skel->maps.pod_info), &i, &empty, BPF_ANY);
	l->pod_slot_used[i] = false;
}

int net_apply_pod(struct net_loader *l, uint64_t cgroup_id, const char *pod_key,
		  const json_t *compiled_network, struct field_error *err)
{
	int pods = map_fd(l->skel->maps.pods);
	struct np_pod old, pod = {0};
	bool had = bpf_map_lookup_elem(pods, &cgroup_id, &old) == 0;
	int r;

	if (!cgroup_id || !compiled_network)
		return -EINVAL;
	r = ruleset_acquire(l, compiled_network, pod.dir, &pod.ruleset, err);
	if (r < 0)
		return r;
	if (had) {
		pod.pod_index = old.pod_index;
	} else {
		r = pod_slot_acquire(l, cgroup_id, pod_key, &pod.pod_index);
		if (r < 0) {
			ruleset_release(l, pod.ruleset);
			return r;
		}
	}

	/* The switch: one value replaced, so the programs see the old rule set or the new. */
	if (bpf_map_update_elem(pods, &cgroup_id, &pod, BPF_ANY) < 0) {
		r = errno == E2BIG ? -ENOSPC : -errno;
		if (!had)
			pod_slot_release(l, pod.pod_index);
		ruleset_release(l, pod.ruleset);
		return r;
	}
	if (had && pod_key) {
		struct np_pod_info info = {.cgroup_id = cgroup_id};
		snprintf(info.key, sizeof(info.key), "%s", pod_key);
		bpf_map_update_elem(map_fd(l->skel->maps.pod_info), &pod.pod_index, &info, BPF_ANY);
	}
	if (had) {
		r = ruleset_release(l, old.ruleset);
		if (r < 0)
			log_info(4, "cannot free the replaced rule set, ignoring", "err",
				 LOG_INT(r));
	}
	return 0;
}

int net_remove_pod(struct net_loader *l, uint64_t cgroup_id)
{
	int pods = map_fd(l->skel->maps.pods);
	struct np_pod old;

	if (bpf_map_lookup_elem(pods, &cgroup_id, &old) < 0)
		return -ENOENT;
	if (bpf_map_delete_elem(pods, &cgroup_id) < 0)
		return -errno;
	pod_slot_release(l, old.pod_index);
	return ruleset_release(l, old.ruleset);
}

static int read_counters(struct net_loader *l, uint32_t pod_index, struct net_pod_counters *ret)
{
	_cleanup_free_ struct np_counter *v = calloc((size_t)l->ncpus, sizeof(*v));
	struct net_pod_counters c = {0};

	if (!v)
		return -ENOMEM;
	for (uint32_t d = 0; d < NP_DIRECTIONS; d++)
		for (uint32_t k = 0; k < NP_VERDICTS; k++) {
			uint32_t idx = np_counter_index(pod_index, d, k);
			if (bpf_map_lookup_elem(map_fd(l->skel->maps.counters), &idx, v) < 0)
				return -errno;
			for (int cpu = 0; cpu < l->ncpus; cpu++) {
				c.bytes[d][k] += v[cpu].bytes;
				c.packets[d][k] += v[cpu].packets;
			}
		}
	*ret = c;
	return 0;
}

int net_read_pod_counters(struct net_loader *l, uint64_t cgroup_id, struct net_pod_counters *ret)
{
	struct np_pod pod;

	if (bpf_map_lookup_elem(map_fd(l->skel->maps.pods), &cgroup_id, &pod) < 0)
		return -ENOENT;
	return read_counters(l, pod.pod_index, ret);
}

int net_foreach_pod(struct net_loader *l, net_pod_cb cb, void *userdata)
{
	int infos = map_fd(l->skel->maps.pod_info);

	for (uint32_t i = 0; i < NP_MAX_PODS; i++) {
		struct np_pod_info info;
		struct net_pod_counters c;
		if (!l->pod_slot_used[i] || bpf_map_lookup_elem(infos, &i, &info) < 0)
			continue;
		info.key[sizeof(info.key) - 1] = '\0';
		int r = read_counters(l, i, &c);
		if (r < 0)
			return r;
		r = cb(info.cgroup_id, info.key, &c, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

static int talker_cmp(const void *a, const void *b)
{
	const struct net_talker *x = a, *y = b;
	return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

int net_top_talkers(struct net_loader *l, uint64_t cgroup_id, size_t n, struct net_talker **ret,
		    size_t *ret_n)
{
	int fd = map_fd(l->skel->maps.talkers), infos = map_fd(l->skel->maps.pod_info);
	struct np_talker_key key, next;
	bool first = true;
	uint32_t only = UINT32_MAX;
	size_t count = 0;

	if (cgroup_id) {
		struct np_pod pod;
		if (bpf_map_lookup_elem(map_fd(l->skel->maps.pods), &cgroup_id, &pod) < 0)
			return -ENOENT;
		only = pod.pod_index;
	}
	_cleanup_free_ struct net_talker *all = calloc(NP_TALKER_MAX, sizeof(*all));
	if (!all)
		return -ENOMEM;
	_cleanup_free_ struct np_talker *percpu = calloc((size_t)l->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	while (count < NP_TALKER_MAX && bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct np_talker v = {0};
		first = false;
		key = next;
		if ((only != UINT32_MAX && key.pod_index != only) ||
		    bpf_map_lookup_elem(fd, &key, percpu) < 0)
			continue;
		for (int cpu = 0; cpu < l->ncpus; cpu++) {
			v.bytes += percpu[cpu].bytes;
			v.packets += percpu[cpu].packets;
			v.denied_packets += percpu[cpu].denied_packets;
		}
		all[count++] = (struct net_talker){
			.cgroup_id = key.pod_index, /* resolved below, for the kept ones only */
			.dir = key.dir,
			.family = key.family,
			.proto = key.proto,
			.port = key.port,
			.bytes = v.bytes,
			.packets = v.packets,
			.denied_packets = v.denied_packets,
		};
		memcpy(all[count - 1].addr, key.addr, 16);
	}
	qsort(all, count, sizeof(*all), talker_cmp);
	if (count > n)
		count = n;

	/* One allocation: the entries, then their pod keys. */
	struct net_talker *out = calloc(1, count * (sizeof(*out) + NP_POD_KEY_MAX) + 1);
	if (!out)
		return -ENOMEM;
	char *keys = (char *)(out + count);
	for (size_t i = 0; i < count; i++) {
		struct np_pod_info info = {0};
		uint32_t idx = (uint32_t)all[i].cgroup_id;
		out[i] = all[i];
		if (bpf_map_lookup_elem(infos, &idx, &info) == 0) {
			info.key[sizeof(info.key) - 1] = '\0';
			memcpy(keys + i * NP_POD_KEY_MAX, info.key, NP_POD_KEY_MAX);
		}
		out[i].cgroup_id = info.cgroup_id;
		out[i].pod_key = keys + i * NP_POD_KEY_MAX;
	}
	*ret = out;
	*ret_n = count;
	return 0;
}

static int on_flow_event(void *ctx, void *data, size_t size)
{
	struct net_loader *l = ctx;
	const struct np_flow_event *e = data;
	struct np_pod_info info = {0};

	if (size < sizeof(*e) || !l->flow_cb)
		return 0;
	uint32_t idx = e->pod_index;
	if (bpf_map_lookup_elem(map_fd(l->skel->maps.pod_info), &idx, &info) == 0)
		info.key[sizeof(info.key) - 1] = '\0';
	struct net_flow_event f = {
		.ts_ns = e->ts_ns,
		.cgroup_id = e->cgroup_id,
		.pod_key = info.key,
		.dir = e->dir,
		.verdict = e->verdict,
		.family = e->family,
		.proto = e->proto,
		.sport = e->sport,
		.dport = e->dport,
		.len = e->len,
	};
	memcpy(f.saddr, e->saddr, 16);
	memcpy(f.daddr, e->daddr, 16);
	l->flow_cb(&f, l->flow_userdata);
	return 0;
}

int net_poll_flows(struct net_loader *l, int timeout_ms, net_flow_cb cb, void *userdata)
{
	if (!l->flows) {
		l->flows =
			ring_buffer__new(map_fd(l->skel->maps.flow_events), on_flow_event, l, NULL);
		if (!l->flows)
			return -errno;
	}
	l->flow_cb = cb;
	l->flow_userdata = userdata;
	int r = ring_buffer__poll(l->flows, timeout_ms);
	return r == -EINTR ? 0 : r;
}

int net_read_stats(struct net_loader *l, struct net_stats *ret)
{
	_cleanup_free_ uint64_t *v = calloc((size_t)l->ncpus, sizeof(*v));
	uint64_t sum[NP_STATS] = {0};

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < NP_STATS; i++) {
		if (bpf_map_lookup_elem(map_fd(l->skel->maps.stats), &i, v) < 0)
			return -errno;
		for (int cpu = 0; cpu < l->ncpus; cpu++)
			sum[i] += v[cpu];
	}
	*ret = (struct net_stats){
		.flow_events_lost = sum[NP_STAT_RINGBUF_LOST],
		.parse_errors = sum[NP_STAT_PARSE_ERRORS],
		.flow_table_errors = sum[NP_STAT_FLOW_TABLE_ERRORS],
		.replies = sum[NP_STAT_REPLIES],
	};
	return 0;
}
