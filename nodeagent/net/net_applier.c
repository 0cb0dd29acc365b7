#include "nodeagent/net/net_applier.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <time.h>

#include "kube/hashtab.h"
#include "log.h"
#include "metrics.h"
#include "nodeagent/net/flow_log.h"
#include "nodeagent/net/net_loader.h"

struct net_applier {
	pthread_mutex_t lock;
	char *cgroup_root, *bpffs_dir;
	unsigned flow_sample_rate;
	struct net_loader *loader;
	struct hashtab pods; /* of struct net_pod, by uid */
};

/* A pod the applier holds a network section for. */
struct net_pod {
	char uid[64];
	char key[600];	 /* "namespace/name", for logs and flow events */
	json_t *network; /* the compiled section */
	uint64_t cgroup; /* the pod cgroup's id; 0 while it does not exist (pending) */
};

static bool pod_eq(const void *item, const void *uid)
{
	return strcmp(((const struct net_pod *)item)->uid, uid) == 0;
}

static struct net_pod *pod_get(struct net_applier *n, const char *uid)
{
	return uid ? hashtab_get(&n->pods, hashtab_hash_str(uid), uid, pod_eq) : NULL;
}

static void pod_free(struct net_pod *p)
{
	if (p) {
		json_decref(p->network);
		free(p);
	}
}

/* Stores (or replaces) uid's entry; NULL p removes it. With the lock held. */
static int pod_put(struct net_applier *n, const char *uid, struct net_pod *p)
{
	uint64_t h = hashtab_hash_str(uid);
	if (p && hashtab_reserve(&n->pods, n->pods.n + 1) < 0)
		return -ENOMEM;
	pod_free(hashtab_remove(&n->pods, h, uid, pod_eq));
	if (p)
		hashtab_put(&n->pods, h, p); /* cannot fail after the reserve */
	return 0;
}

static struct net_pod *pod_new(const char *uid, const char *key, const json_t *network,
			       uint64_t cgroup)
{
	struct net_pod *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->network = json_incref((json_t *)network);
	p->cgroup = cgroup;
	return p;
}

int net_applier_new(const char *cgroup_root, const char *bpffs_dir, unsigned flow_sample_rate,
		    struct net_applier **ret)
{
	struct net_applier *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	n->flow_sample_rate = flow_sample_rate;
	n->cgroup_root = strdup(cgroup_root);
	n->bpffs_dir = strdup(bpffs_dir);
	if (!n->cgroup_root || !n->bpffs_dir) {
		net_applier_free(n);
		return -ENOMEM;
	}
	*ret = n;
	return 0;
}

struct net_applier *net_applier_free(struct net_applier *n)
{
	if (!n)
		return NULL;
	/* The programs stay attached and the maps pinned: enforcement outlives the agent. */
	net_loader_free(n->loader);
	struct net_pod *p;
	for (size_t pos = 0; (p = hashtab_next(&n->pods, &pos));)
		pod_free(p);
	hashtab_free(&n->pods);
	free(n->cgroup_root);
	free(n->bpffs_dir);
	pthread_mutex_destroy(&n->lock);
	free(n);
	return NULL;
}

/* Opens the loader on first use: the kubepods cgroup it attaches to is created by the
 * kubelet, which may start after the agent. Called with the lock held. */
static int ensure_loader(struct net_applier *n)
{
	if (n->loader)
		return 0;
	static const char *const levels[] = {"kubepods.slice", "kubepods"};
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", n->cgroup_root, levels[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		struct net_loader_opts o = {.bpffs_dir = n->bpffs_dir,
					    .cgroup_root = path,
					    .flow_sample_rate = n->flow_sample_rate};
		int r = net_loader_open_opts(&o, &n->loader);
		if (r == 0)
			log_info(0, "network programs attached", "cgroup", path, "pins",
				 n->bpffs_dir);
		return r;
	}
	return -ENOENT;
}

static int bind_pod(struct net_applier *n, const struct net_pod *p, struct field_error *err)
{
	int r = net_apply_pod(n->loader, p->cgroup, p->key, p->network, err);
	if (r == 0)
		log_info(2, "pod network policy applied", "pod", p->key, "cgroup",
			 LOG_INT(p->cgroup));
	return r;
}

static const char *pod_field(const json_t *compiled, const char *k)
{
	return json_string_value(json_object_get(json_object_get(compiled, "pod"), k));
}

static void unbind_locked(struct net_applier *n, const char *uid)
{
	struct net_pod *p = pod_get(n, uid);
	if (!p)
		return;
	if (p->cgroup && n->loader) {
		int r = net_remove_pod(n->loader, p->cgroup);
		if (r < 0 && r != -ENOENT)
			log_error(r, "removing a pod's network policy failed, ignoring", "pod",
				  uid);
	}
	pod_put(n, uid, NULL);
}

static int apply_pod(void *ctx, const json_t *compiled, const json_t *previous,
		     struct field_error *err)
{
	struct net_applier *n = ctx;
	const char *uid = pod_field(compiled, "uid");
	json_t *net = json_object_get(compiled, "network");
	pthread_mutex_lock(&n->lock);
	int r = 0;
	if (!net) {
		unbind_locked(n, uid);
		goto out;
	}
	r = ensure_loader(n);
	if (r < 0) {
		field_error_set(
			err, "network", "network enforcement is unavailable on this node: %s",
			r == -ENOENT ? "no kubepods cgroup under the cgroup root" : strerror(-r));
		goto out;
	}
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", pod_field(compiled, "namespace"),
		 pod_field(compiled, "name"));
	const struct net_pod *old = pod_get(n, uid);
	uint64_t id = old ? old->cgroup : 0;
	if (!id && pod_cgroup_find(n->cgroup_root, uid, &id) < 0)
		id = 0;
	struct net_pod *p = pod_new(uid, key, net, id);
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	if (id) {
		r = bind_pod(n, p, err);
		if (r < 0) {
			pod_free(p); /* the old policy stays in the maps and in our table */
			goto out;
		}
	} else {
		log_info(2, "pod network policy pending until its cgroup appears", "pod", key);
	}
	if ((r = pod_put(n, uid, p)) < 0)
		pod_free(p);
out:
	pthread_mutex_unlock(&n->lock);
	return r;
}

static int remove_pod(void *ctx, const json_t *compiled)
{
	struct net_applier *n = ctx;
	pthread_mutex_lock(&n->lock);
	unbind_locked(n, pod_field(compiled, "uid"));
	pthread_mutex_unlock(&n->lock);
	return 0;
}

/* The maps already hold the pod's rules (the loader adopted them from the pins); record the
 * pod and its cgroup so a later change or removal reaches them. */
static int adopt_pod(void *ctx, const json_t *compiled)
{
	struct net_applier *n = ctx;
	const char *uid = pod_field(compiled, "uid");
	json_t *net = json_object_get(compiled, "network");
	if (!net)
		return 0;
	uint64_t id = 0;
	if (pod_cgroup_find(n->cgroup_root, uid, &id) < 0)
		id = 0;
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", pod_field(compiled, "namespace"),
		 pod_field(compiled, "name"));
	pthread_mutex_lock(&n->lock);
	int r = ensure_loader(n);
	struct net_pod *p = r == 0 ? pod_new(uid, key, net, id) : NULL;
	if (r == 0 && (!p || pod_put(n, uid, p) < 0)) {
		pod_free(p);
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

struct applier net_applier_ops(struct net_applier *n)
{
	return (struct applier){
		.name = "network",
		.ctx = n,
		.apply_pod = apply_pod,
		.remove_pod = remove_pod,
		.adopt_pod = adopt_pod,
	};
}

void net_applier_cgroup_event(struct net_applier *n, const struct cgroup_event *ev)
{
	if (ev->id.container_id[0])
		return; /* the pod cgroup is what the programs key on */
	pthread_mutex_lock(&n->lock);
	struct net_pod *p = pod_get(n, ev->id.pod_uid);
	if (!p)
		goto out;
	if (ev->type == CGROUP_EVENT_REMOVED) {
		if (p->cgroup && n->loader)
			net_remove_pod(n->loader, p->cgroup);
		p->cgroup = 0;
		goto out;
	}
	if (p->cgroup == ev->cgroup_id)
		goto out;
	p->cgroup = ev->cgroup_id;
	struct field_error err = {0};
	int r = ensure_loader(n);
	r = r ?: bind_pod(n, p, &err);
	if (r < 0)
		log_error(r, "applying a pending pod network policy failed", "pod", p->key, "field",
			  err.field, "reason", err.reason);
out:
	pthread_mutex_unlock(&n->lock);
}

static void flow_to_json(const struct net_flow_event *e, void *userdata)
{
	static const char *const dirs[] = {"egress", "ingress"};
	static const char *const verdicts[] = {"allow", "deny", "audit"};
	FILE *f = userdata;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = e->family == 6 ? AF_INET6 : AF_INET;
	inet_ntop(af, e->saddr, src, sizeof(src));
	inet_ntop(af, e->daddr, dst, sizeof(dst));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	json_t *j =
		json_pack("{s:f,s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:i}", "ts",
			  (double)now.tv_sec + now.tv_nsec / 1e9, "pod",
			  e->pod_key ? e->pod_key : "", "direction", dirs[e->dir & 1], "verdict",
			  verdicts[e->verdict < 3 ? e->verdict : 0], "proto", e->proto, "src", src,
			  "sport", e->sport, "dst", dst, "dport", e->dport, "len", (int)e->len);
	if (j) {
		json_dumpf(j, f, JSON_COMPACT);
		fputc('\n', f);
		json_decref(j);
	}
}

int net_applier_drain_flows(struct net_applier *n, const char *log_path)
{
	pthread_mutex_lock(&n->lock);
	if (!n->loader) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	int r;
	FILE *f = flow_log_open_append(log_path);
	if (!f) {
		r = -errno;
	} else {
		r = net_poll_flows(n->loader, 0, flow_to_json, f);
		fclose(f);
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

struct collect_ctx {
	struct buf *out;
	const char *metric;
	bool packets; /* which counter the metric reads */
	int r;
};

static int collect_pod(uint64_t cgroup_id, const char *pod_key, const struct net_pod_counters *c,
		       void *userdata)
{
	static const char *const dirs[] = {"egress", "ingress"};
	static const char *const verdicts[] = {"allow", "deny", "audit"};
	static const char *const labels[] = {"namespace", "pod", "direction", "verdict", NULL};
	struct collect_ctx *ctx = userdata;
	char ns[256] = "", name[300] = "";
	const char *slash = strchr(pod_key, '/');
	if (slash) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pod_key), pod_key);
		snprintf(name, sizeof(name), "%s", slash + 1);
	}
	for (int d = 0; d < NP_DIRECTIONS; d++)
		for (int v = 0; v < NP_VERDICTS; v++) {
			const char *values[] = {ns, name, dirs[d], verdicts[v]};
			double x = (double)(ctx->packets ? c->packets[d][v] : c->bytes[d][v]);
			ctx->r = ctx->r
					 ?: metrics_write_sample(ctx->out, ctx->metric, labels,
								 values, x);
		}
	return ctx->r;
}

int net_applier_collect(struct buf *out, void *userdata)
{
	struct net_applier *n = userdata;
	struct collect_ctx ctx = {.out = out};
	pthread_mutex_lock(&n->lock);
	if (!n->loader)
		goto out;
	ctx.metric = "bulwark_pod_network_bytes_total";
	ctx.r = metrics_write_header(
		out, ctx.metric,
		"IP-layer bytes per pod, direction and verdict (audit: delivered, "
		"but an Audit policy would have dropped it).",
		"counter");
	if (ctx.r == 0)
		net_foreach_pod(n->loader, collect_pod, &ctx);
	ctx.metric = "bulwark_pod_network_packets_total";
	ctx.packets = true;
	ctx.r = ctx.r
			?: metrics_write_header(out, ctx.metric,
						"Packets per pod, direction and verdict.",
						"counter");
	if (ctx.r == 0)
		net_foreach_pod(n->loader, collect_pod, &ctx);
	struct net_stats st;
	if (ctx.r == 0 && net_read_stats(n->loader, &st) == 0) {
		ctx.r = metrics_write_header(
			out, "bulwark_network_flow_events_lost_total",
			"Sampled flow events lost because the ring buffer was full.", "counter");
		ctx.r = ctx.r
				?: metrics_write_sample(out,
							"bulwark_network_flow_events_lost_total",
							NULL, NULL, (double)st.flow_events_lost);
		ctx.r = ctx.r
				?: metrics_write_header(
					   out, "bulwark_network_reply_packets_total",
					   "Packets allowed as replies to tracked connections.",
					   "counter");
		ctx.r = ctx.r
				?: metrics_write_sample(out, "bulwark_network_reply_packets_total",
							NULL, NULL, (double)st.replies);
	}
out:
	pthread_mutex_unlock(&n->lock);
	return ctx.r;
}
