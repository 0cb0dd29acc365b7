#include "node.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_layout.h"
#include "cleanup.h"
#include "error.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "log.h"
#include "pod_runner.h"

#define NODE_MAX_PODS	   110 /* the kubelet's default maxPods */
#define NODE_HEARTBEAT_SEC 10
#define NODE_TICK_MS	   1000
#define NODE_MAX_GRACE_SEC 60 /* a test waiting longer than this has a bug */

struct tracked_pod {
	struct pod_run *run;
	json_t *pushed_status; /* the last status the apiserver accepted */
	bool deleting;	       /* deletionTimestamp seen: SIGTERM sent */
	time_t kill_at;	       /* then SIGKILL and teardown at this time at the latest */
	bool gone;	       /* no longer in the informer's cache */
};

struct node {
	const struct harness_config *cfg;
	struct kube_client *client;
	struct kube_informer *pods_cache;
	int wake_fd; /* an eventfd the informer's handlers write: the cache changed */
	struct tracked_pod pods[NODE_MAX_PODS];
	size_t n_pods;
	time_t last_heartbeat;
};

static void now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the Node object -------------------------------------------------------------------- */

static json_t *node_status(bool ready)
{
	char ts[32], cpus[16], mem[32], host[HOST_NAME_MAX + 1] = "";
	now_rfc3339(ts);
	snprintf(cpus, sizeof(cpus), "%d", get_nprocs());
	struct sysinfo si;
	sysinfo(&si);
	snprintf(mem, sizeof(mem), "%lluKi",
		 (unsigned long long)si.totalram * si.mem_unit / 1024ULL);
	gethostname(host, sizeof(host) - 1);
	struct utsname u;
	uname(&u);
	return json_pack(
		"{s:[{s:s,s:s,s:s,s:s,s:s,s:s}],s:[{s:s,s:s},{s:s,s:s}],"
		"s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}}",
		"conditions", "type", "Ready", "status", ready ? "True" : "False", "reason",
		ready ? "KubeletReady" : "KubeletNotReady", "message",
		ready ? "bulwark node harness is posting ready status"
		      : "bulwark node harness stopped",
		"lastHeartbeatTime", ts, "lastTransitionTime", ts, "addresses", "type",
		"InternalIP", "address", "127.0.0.1", "type", "Hostname", "address", host,
		"capacity", "cpu", cpus, "memory", mem, "pods", "110", "allocatable", "cpu", cpus,
		"memory", mem, "pods", "110", "nodeInfo", "machineID", "", "systemUUID", "",
		"bootID", "", "kernelVersion", u.release, "osImage", "bulwark node harness",
		"containerRuntimeVersion", "runc://1.1", "kubeletVersion", "v0.0.0-bulwark-harness",
		"kubeProxyVersion", "", "operatingSystem", "linux", "architecture",
#if defined(__x86_64__)
		"amd64"
#else
		"arm64"
#endif
	);
}

static int patch_status(struct node *n, const struct kube_resource *res, const char *ns,
			const char *name, json_t *status, struct kube_status *st)
{
	_cleanup_free_ char *url = NULL;
	int r = kube_url_build(kube_client_config(n->client)->server, res, ns, name, "status", NULL,
			       &url);
	if (r < 0)
		return r;
	json_auto_t *patch = json_pack("{s:O}", "status", status);
	if (!patch)
		return -ENOMEM;
	return kube_request(n->client, "PATCH", url, "application/merge-patch+json", patch, NULL,
			    st);
}

static int node_register(struct node *n)
{
	struct kube_status st = {0};
	json_auto_t *obj =
		json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s}},s:{}}", "apiVersion", "v1", "kind",
			  "Node", "metadata", "name", n->cfg->node_name, "labels",
			  "kubernetes.io/hostname", n->cfg->node_name, "kubernetes.io/os", "linux",
			  "bulwark.dev/node-harness", "true", "spec");
	if (!obj)
		return -ENOMEM;
	int r = kube_create(n->client, &KUBE_RES_NODES, NULL, obj, NULL, &st);
	if (r < 0 && r != -EEXIST) {
		log_error(r, "cannot register the node", "node", n->cfg->node_name, "status",
			  st.message);
		return r;
	}
	return 0;
}

static int node_heartbeat(struct node *n, bool ready)
{
	json_auto_t *status = node_status(ready);
	struct kube_status st = {0};
	if (!status)
		return -ENOMEM;
	int r = patch_status(n, &KUBE_RES_NODES, NULL, n->cfg->node_name, status, &st);
	if (r < 0)
		log_error(r, "cannot update the node's status", "node", n->cfg->node_name, "status",
			  st.message);
	else
		n->last_heartbeat = time(NULL);
	return r;
}

/* ---- pods ------------------------------------------------------------------------------- */

static struct tracked_pod *find_tracked(struct node *n, const char *uid)
{
	for (size_t i = 0; i < n->n_pods; i++)
		if (!strcmp(n->pods[i].run->uid, uid))
			return &n->pods[i];
	return NULL;
}

static void push_status(struct node *n, struct tracked_pod *t)
{
	json_auto_t *status = pod_run_status(t->run);
	if (!status || (t->pushed_status && json_equal(status, t->pushed_status)))
		return;
	struct kube_status st = {0};
	int r = patch_status(n, &KUBE_RES_PODS, t->run->namespace, t->run->name, status, &st);
	if (r < 0) {
		/* Retried on the next pass: the status is compared with what was pushed. */
		log_info(1, "cannot update the pod's status", "pod", t->run->name, "status",
			 st.message);
		return;
	}
	json_decref(t->pushed_status);
	t->pushed_status = json_incref(status);
}

/* A pod that could not even be set up gets a Failed status, so the test sees why. */
static void push_failure(struct node *n, const json_t *pod, const char *reason, const char *msg)
{
	const char *ns =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
	const char *name =
		json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
	json_auto_t *status =
		json_pack("{s:s,s:s,s:s}", "phase", "Failed", "reason", reason, "message", msg);
	struct kube_status st = {0};
	if (status && ns && name)
		patch_status(n, &KUBE_RES_PODS, ns, name, status, &st);
}

static void start_pod(struct node *n, json_t *pod)
{
	struct field_error ferr = {0};
	char msg[900];
	struct pod_run *run = NULL;
	if (n->n_pods == NODE_MAX_PODS) {
		push_failure(n, pod, "OutOfpods", "the node harness runs at most 110 pods");
		return;
	}
	int r = pod_run_new(n->cfg, pod, &run, &ferr);
	if (r < 0) {
		push_failure(n, pod, "InvalidPod",
			     ferr.reason[0] ? field_error_str(&ferr, msg, sizeof(msg))
					    : strerror(-r));
		return;
	}
	struct tracked_pod *t = &n->pods[n->n_pods++];
	*t = (struct tracked_pod){.run = run};
	log_info(1, "starting pod", "pod", run->name, "namespace", run->namespace, "uid", run->uid);
	r = pod_run_start(n->cfg, run);
	if (r < 0) {
		log_error(r, "cannot start the pod", "pod", run->name);
		run->phase = POD_FAILED;
		snprintf(run->reason, sizeof(run->reason), "NodeHarnessError");
		snprintf(run->message, sizeof(run->message), "setting up the pod failed: %s",
			 strerror(-r));
	}
	push_status(n, t);
}

static void confirm_deletion(struct node *n, const char *ns, const char *name, const char *uid)
{
	/* What the kubelet sends once a pod's containers are gone: delete now, but only the
	 * pod we know (uid precondition), never a new pod that reuses the name. */
	_cleanup_free_ char *url = NULL;
	struct kube_status st = {0};
	json_auto_t *body =
		json_pack("{s:s,s:s,s:i,s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
			  "gracePeriodSeconds", 0, "preconditions", "uid", uid);
	if (!body || kube_url_build(kube_client_config(n->client)->server, &KUBE_RES_PODS, ns, name,
				    NULL, NULL, &url) < 0)
		return;
	int r = kube_request(n->client, "DELETE", url, "application/json", body, NULL, &st);
	if (r < 0 && r != -ENOENT && r != -ESTALE)
		log_error(r, "cannot finish the pod's deletion", "pod", name, "status", st.message);
}

static void finish_deletion(struct node *n, struct tracked_pod *t)
{
	struct pod_run *run = t->run;
	int r = pod_run_teardown(n->cfg, run);
	if (r < 0)
		log_error(r, "teardown left something behind", "pod", run->name);
	if (!t->gone) {
		push_status(n, t); /* the exit codes the graceful stop produced */
		confirm_deletion(n, run->namespace, run->name, run->uid);
	}
	log_info(1, "pod removed", "pod", run->name, "uid", run->uid);
	json_decref(t->pushed_status);
	pod_run_free(run);
	*t = n->pods[--n->n_pods];
}

static void sync_pods(struct node *n)
{
	json_auto_t *items = NULL;
	if (kube_informer_list(n->pods_cache, &items) < 0)
		return;
	for (size_t i = 0; i < n->n_pods; i++)
		n->pods[i].gone = true;
	size_t i;
	json_t *pod;
	time_t now = time(NULL);
	json_array_foreach (items, i, pod) {
		const json_t *meta = json_object_get(pod, "metadata");
		const char *uid = json_string_value(json_object_get(meta, "uid"));
		const char *ns = json_string_value(json_object_get(meta, "namespace"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		if (!uid || !ns || !name)
			continue;
		struct tracked_pod *t = find_tracked(n, uid);
		bool deleting = json_object_get(meta, "deletionTimestamp") != NULL;
		if (t) {
			t->gone = false;
			if (deleting && !t->deleting) {
				/* The kubelet's graceful stop: SIGTERM now, SIGKILL after the grace
				 * period the apiserver recorded. */
				json_int_t grace = json_integer_value(
					json_object_get(meta, "deletionGracePeriodSeconds"));
				if (grace > NODE_MAX_GRACE_SEC)
					grace = NODE_MAX_GRACE_SEC;
				t->deleting = true;
				t->kill_at = now + (grace > 0 ? grace : 0);
				log_info(1, "stopping pod", "pod", name, "grace", LOG_INT(grace));
				pod_run_signal(n->cfg, t->run, "TERM");
			}
			continue;
		}
		const char *phase =
			json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
		bool terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
		/* Bound to us while nothing of it runs here: confirm, unless that happened already
		 * (grace 0) and only someone else's finalizer keeps the object. */
		const json_t *grace = json_object_get(meta, "deletionGracePeriodSeconds");
		if (deleting && (!grace || json_integer_value(grace) != 0))
			confirm_deletion(n, ns, name, uid);
		else if (!deleting && !terminal)
			start_pod(n, pod);
	}
	for (size_t k = 0; k < n->n_pods;) {
		struct tracked_pod *t = &n->pods[k];
		if (t->gone ||
		    (t->deleting && (pod_run_running(t->run) == 0 || now >= t->kill_at))) {
			finish_deletion(n, t); /* moves the last entry into slot k */
			continue;
		}
		push_status(n, t);
		k++;
	}
}

static void reap(struct node *n)
{
	int wstatus;
	pid_t pid;
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		for (size_t i = 0; i < n->n_pods; i++)
			if (pod_run_on_exit(n->cfg, n->pods[i].run, pid, wstatus))
				break;
}

static void wake(struct node *n)
{
	uint64_t one = 1;
	(void)!write(n->wake_fd, &one, sizeof(one));
}
static void on_pod_add(const json_t *obj, void *userdata)
{
	wake(userdata);
}
static void on_pod_update(const json_t *old_obj, const json_t *new_obj, void *userdata)
{
	wake(userdata);
}
static void on_pod_delete(const json_t *obj, void *userdata)
{
	wake(userdata);
}

static void *loop_thread(void *arg)
{
	int r = kube_loop_run(arg);
	if (r < 0)
		log_error(r, "the watch loop stopped");
	return NULL;
}

/* The pods bound to this node, from a watch (reflector + informer) on its own thread; the
 * informer's handlers only wake the main loop, which does all the work. */
static int start_watch(struct node *n, struct kube_loop *loop, struct kube_reflector **ret)
{
	static char selector[300];
	snprintf(selector, sizeof(selector), "spec.nodeName=%s", n->cfg->node_name);
	static const struct kube_handler_ops ops = {
		.on_add = on_pod_add,
		.on_update = on_pod_update,
		.on_delete = on_pod_delete,
	};
	int r = kube_informer_add_handler(n->pods_cache, &ops, n);
	if (r < 0)
		return r;
	struct kube_reflector_options opts = {
		.resource = &KUBE_RES_PODS,
		.field_selector = selector,
		.informer = n->pods_cache,
	};
	if ((r = kube_reflector_new(loop, n->client, &opts, ret)) < 0)
		return r;
	return kube_reflector_start(*ret);
}

static int run_loop(struct node *n, int sfd)
{
	bool stop = false;
	while (!stop) {
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(sfd, &fds);
		FD_SET(n->wake_fd, &fds);
		struct timeval tv = {NODE_TICK_MS / 1000, (NODE_TICK_MS % 1000) * 1000};
		int maxfd = sfd > n->wake_fd ? sfd : n->wake_fd;
		if (select(maxfd + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return -errno;
		uint64_t count;
		(void)!read(n->wake_fd, &count, sizeof(count));
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				stop = true;
		reap(n);
		if (stop)
			break;
		/* Every tick, not only on a watch event: container exits and grace periods are
		 * ours to notice. */
		if (kube_informer_synced(n->pods_cache))
			sync_pods(n);
		if (time(NULL) - n->last_heartbeat >= NODE_HEARTBEAT_SEC)
			node_heartbeat(n, true);
	}
	return 0;
}

static int teardown_all(struct node *n)
{
	int r = 0;
	log_info(0, "stopping: tearing down every pod", "pods", LOG_INT(n->n_pods));
	while (n->n_pods > 0) {
		struct tracked_pod *t = &n->pods[n->n_pods - 1];
		int tr = pod_run_teardown(n->cfg, t->run);
		if (tr < 0)
			r = tr;
		push_status(n, t);
		json_decref(t->pushed_status);
		pod_run_free(t->run);
		n->n_pods--;
	}
	node_heartbeat(n, false);
	return r;
}

int harness_node_run(const struct harness_config *cfg, const char *kubeconfig)
{
	struct field_error ferr = {0};
	char msg[900];
	struct kube_config *kcfg = NULL;
	int r = kube_config_load_file(kubeconfig, NULL, &kcfg, &ferr);
	if (r < 0) {
		log_error(r, "cannot load the kubeconfig", "path", kubeconfig, "reason",
			  field_error_str(&ferr, msg, sizeof(msg)));
		return r;
	}
	/* One harness per state dir: two would both run every pod of the node. */
	_cleanup_close_ int lock = -1;
	char lock_path[PATH_MAX];
	snprintf(lock_path, sizeof(lock_path), "%s/node.lock", cfg->state_dir);
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		log_error(r, "cannot create the state dir", "path", cfg->state_dir);
		kube_config_free(kcfg);
		return r;
	}
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		log_error(r, "another harness is running with this state dir", "path", lock_path);
		kube_config_free(kcfg);
		return r;
	}
	struct node n = {.cfg = cfg, .wake_fd = -1};
	struct kube_loop *loop = NULL;
	struct kube_reflector *reflector = NULL;
	pthread_t thread;
	bool thread_started = false;
	int sfd = -1;

	/* Blocked before the watch thread exists, so it inherits the mask and the signals reach
	 * the main loop's signalfd only. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	n.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* Container processes are orphaned by runc create; as their subreaper we reap them and
	 * learn their exit codes, as containerd's shim does. */
	if (sfd < 0 || n.wake_fd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		r = -errno;
		log_error(r, "cannot set up signal handling");
		goto out;
	}
	if ((r = kube_client_new(kcfg, NULL, &n.client)) < 0 || (r = kube_loop_new(&loop)) < 0 ||
	    !(n.pods_cache = kube_informer_new("pods"))) {
		r = r < 0 ? r : -ENOMEM;
		log_error(r, "cannot create the API client");
		goto out;
	}
	/* The QoS cgroups exist before any pod, as the kubelet makes them: the node agent
	 * attaches at kubepods. */
	static const char *const classes[] = {"Guaranteed", "Burstable", "BestEffort"};
	char qos[256];
	for (size_t i = 0; i < 3; i++)
		if (harness_cgroup_qos_path(cfg->cgroup_driver, classes[i], qos, sizeof(qos)) < 0 ||
		    (r = harness_cgroup_create(cfg, qos)) < 0) {
			log_error(r, "cannot create the QoS cgroups", "root", cfg->cgroup_root);
			goto out;
		}
	if ((r = node_register(&n)) < 0 || (r = node_heartbeat(&n, true)) < 0)
		goto out;
	if ((r = start_watch(&n, loop, &reflector)) < 0) {
		log_error(r, "cannot start watching pods");
		goto out;
	}
	if ((r = -pthread_create(&thread, NULL, loop_thread, loop)) < 0) {
		log_error(r, "cannot start the watch thread");
		goto out;
	}
	thread_started = true;
	log_info(0, "node harness running", "node", cfg->node_name, "cgroupRoot", cfg->cgroup_root,
		 "stateDir", cfg->state_dir);
	r = run_loop(&n, sfd);
	int tr = teardown_all(&n);
	r = r < 0 ? r : tr;
out:
	if (thread_started) {
		kube_loop_stop(loop);
		pthread_join(thread, NULL);
	}
	harness_cgroup_prune(cfg); /* the QoS levels, kubepods and the root, if empty */
	kube_reflector_free(reflector);
	kube_loop_free(loop);
	kube_informer_free(n.pods_cache);
	if (sfd >= 0)
		close(sfd);
	if (n.wake_fd >= 0)
		close(n.wake_fd);
	kube_client_free(n.client);
	kube_config_free(kcfg);
	unlink(lock_path);
	/* Empty once every pod is gone; a pod that could not be removed keeps them. */
	char pods[PATH_MAX];
	snprintf(pods, sizeof(pods), "%s/pods", cfg->state_dir);
	rmdir(pods);
	rmdir(cfg->runc_root);
	rmdir(cfg->state_dir);
	return r;
}
