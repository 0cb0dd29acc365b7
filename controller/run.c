/* Wiring of bulwark-controller (run.h): informers and their handlers, the validated-policy
 * store, the reconciler on the work queue, the status writer, leader election, the HTTPS
 * push-stream server and the metrics endpoint. */
#include "controller/run.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "controller/recordings/agent_recordings.h"
#include "controller/cache_trim.h"
#include "controller/recordings/recordings_api.h"
#include "controller/status_writer.h"
#include "controller/stream.h"
#include "daemon/health.h"
#include "httpd.h"
#include "kube/object.h"
#include "log.h"
#include "policy/policy.h"
#include "policy/store.h"

/* ---- informer handlers: compute keys, enqueue, nothing more ------------------------------ */

static void enqueue(struct controller *c, const char *prefix, const char *key)
{
	char k[8 + KUBE_KEY_MAX];
	snprintf(k, sizeof(k), "%s%s", prefix, key);
	int r = workqueue_add(c->queue, k);
	if (r < 0 && r != -ESHUTDOWN)
		log_error(r, "cannot enqueue", "key", k);
}

static void enqueue_object(struct controller *c, const char *prefix, const json_t *obj)
{
	char key[KUBE_KEY_MAX];
	if (kube_object_key(obj, key, sizeof(key)) == 0)
		enqueue(c, prefix, key);
}

/* A policy change can change the compiled policy of every pod of its namespace. */
static void enqueue_namespace_pods(struct controller *c, const char *ns)
{
	json_t *keys = NULL;
	if (!ns || kube_informer_index_keys(c->pods, "namespace", ns, &keys) < 0)
		return;
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k)
		enqueue(c, "pod:", json_string_value(k));
	json_decref(keys);
}

static void policy_added(const json_t *obj, void *ud)
{
	enqueue_object(ud, "policy:", obj);
	enqueue_namespace_pods(ud, kube_object_namespace(obj));
}

static void policy_updated(const json_t *old, const json_t *obj, void *ud)
{
	/* Our own status writes bump the resourceVersion, not the generation: nothing to do. */
	const json_t *g_old = json_object_get(json_object_get(old, "metadata"), "generation");
	const json_t *g_new = json_object_get(json_object_get(obj, "metadata"), "generation");
	if (g_old && g_new && json_equal(g_old, g_new))
		return;
	policy_added(obj, ud);
}

static void policy_deleted(const json_t *obj, void *ud)
{
	policy_added(obj, ud);
}

static void pod_added(const json_t *obj, void *ud)
{
	enqueue_object(ud, "pod:", obj);
}

static bool same_field(const json_t *a, const json_t *b, const char *outer, const char *inner)
{
	const json_t *x = json_object_get(json_object_get(a, outer), inner);
	const json_t *y = json_object_get(json_object_get(b, outer), inner);
	return (!x && !y) || (x && y && json_equal(x, y));
}

static void pod_updated(const json_t *old, const json_t *obj, void *ud)
{
	/* Pods change status all the time; only what selection and placement read matters. */
	if (same_field(old, obj, "metadata", "labels") && same_field(old, obj, "metadata", "uid") &&
	    same_field(old, obj, "spec", "nodeName") && same_field(old, obj, "status", "phase"))
		return;
	enqueue_object(ud, "pod:", obj);
}

static void pod_deleted(const json_t *obj, void *ud)
{
	enqueue_object(ud, "pod:", obj);
}

/* ---- serving and readiness ------------------------------------------------------------------- */

static bool synced(struct controller *c)
{
	return kube_informer_synced(c->policies) && kube_informer_synced(c->pods) &&
	       kube_informer_synced(c->namespaces);
}

/* The leader with synced informers: serves agents, writes status, reports ready. */
static bool serving(void *ud)
{
	struct controller *c = ud;
	return atomic_load(&c->is_leader) && !atomic_load(&c->stopping) && synced(c);
}

static void status_changed(void *ud)
{
	struct controller *c = ud;
	if (c->status)
		status_writer_changed(c->status);
}

static void policy_gone(const char *key, void *ud)
{
	struct controller *c = ud;
	if (c->status)
		status_writer_forget(c->status, key);
}

static int prepare_snapshot(const char *node, void *ud)
{
	struct controller *c = ud;
	return reconciler_reconcile_node(c->reconciler, node);
}

/* Ready only on the leader after the caches synced: the Service sends agents to the one
 * replica that serves them. */
static bool ready(void *ud, char *reason, size_t size)
{
	struct controller *c = ud;
	if (!synced(c))
		snprintf(reason, size, "informers not synced");
	else if (!atomic_load(&c->is_leader))
		snprintf(reason, size, "not the leader");
	else
		return true;
	return false;
}

static int gauge(struct buf *out, const char *name, const char *help, double v)
{
	int r = metrics_write_header(out, name, help, "gauge");
	return r < 0 ? r : metrics_write_sample(out, name, NULL, NULL, v);
}

/* Gauges read at scrape time, so they never go stale. */
static int collect(struct buf *out, void *ud)
{
	struct controller *c = ud;
	struct push_state_stats st;
	push_state_get_stats(c->state, &st);
	int r = 0;
	r = r
		    ?: gauge(out, "bulwark_controller_agents_connected",
			     "Agents holding a push stream to this replica.", (double)st.attached);
	r = r
		    ?: gauge(out, "bulwark_controller_nodes", "Nodes with pods under a policy.",
			     (double)st.nodes);
	r = r
		    ?: gauge(out, "bulwark_controller_pods_enforced",
			     "Pods with a compiled policy pushed to their node.", (double)st.pods);
	r = r
		    ?: gauge(out, "bulwark_controller_pods", "Pods in the cache.",
			     (double)kube_informer_count(c->pods));
	r = r
		    ?: gauge(out, "bulwark_controller_policies", "BulwarkPolicies in the cache.",
			     (double)kube_informer_count(c->policies));
	r = r
		    ?: gauge(out, "bulwark_controller_seccomp_profiles",
			     "Seccomp profiles every agent is sent.", (double)st.profiles);
	r = r
		    ?: gauge(out, "bulwark_controller_queue_depth",
			     "Keys waiting to be reconciled.", (double)workqueue_len(c->queue));
	r = r
		    ?: gauge(out, "bulwark_controller_is_leader",
			     "1 on the replica that serves agents.",
			     atomic_load(&c->is_leader) ? 1 : 0);
	r = r
		    ?: gauge(out, "bulwark_controller_push_version",
			     "The version of the last message built.",
			     (double)push_state_version(c->state));
	return r;
}

/* ---- leader election ------------------------------------------------------------------------- */

static void started_leading(void *ud)
{
	struct controller *c = ud;
	log_info(0, "became the leader: serving agents and writing status", "identity",
		 c->cfg.identity);
	atomic_store(&c->is_leader, true);
	status_changed(c);
}

static void stopped_leading(void *ud)
{
	struct controller *c = ud;
	log_warn("lost the leadership: dropping agent streams", "identity", c->cfg.identity);
	atomic_store(&c->is_leader, false);
	push_state_detach_all(c->state);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static void *loop_thread(void *arg)
{
	struct controller *c = arg;
	int r = kube_loop_run(c->loop);
	if (r < 0)
		log_error(r, "watch loop failed");
	return NULL;
}

static int random_epoch(char ret[33])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -errno;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(ret + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static int reflector(struct controller *c, const struct kube_resource *res,
		     struct kube_informer *inf, int (*trim)(json_t *, void *),
		     struct kube_reflector **ret)
{
	struct kube_reflector_options o = {.resource = res, .informer = inf, .transform = trim};
	int r = kube_reflector_new(c->loop, c->client, &o, ret);
	return r < 0 ? r : kube_reflector_start(*ret);
}

static int setup(struct controller *c)
{
	struct field_error err = {0};
	int r = kube_config_load_default(c->cfg.kubeconfig, NULL, &c->kube_cfg, &err);
	if (r < 0) {
		char msg[800];
		log_error(r, "cannot load the Kubernetes client configuration", "detail",
			  field_error_str(&err, msg, sizeof(msg)));
		return r;
	}
	struct kube_client_options copts = {.user_agent = "bulwark-controller"};
	if ((r = kube_client_new(c->kube_cfg, &copts, &c->client)) < 0 ||
	    (r = kube_loop_new(&c->loop)) < 0) {
		log_error(r, "cannot set up the Kubernetes client");
		return r;
	}
	char epoch[33];
	if ((r = random_epoch(epoch)) < 0)
		return r;
	if ((r = push_state_new(epoch, &stream_push_ops, NULL, &c->state)) < 0)
		return r;
	if ((r = agent_recordings_new(&c->agent_recordings)) < 0)
		return r;
	c->tokens = token_cache_new(4096, 60 * 1000, 5 * 1000);
	c->registry = metrics_registry_new();
	c->records = pod_records_new();
	c->policies = kube_informer_new("bulwarkpolicies");
	c->pods = kube_informer_new("pods");
	c->namespaces = kube_informer_new("namespaces");
	struct workqueue_options qo = {.name = "controller", .qps = -1};
	c->queue = workqueue_new(&qo);
	if (!c->tokens || !c->registry || !c->records || !c->policies || !c->pods ||
	    !c->namespaces || !c->queue)
		return -ENOMEM;
	if ((r = policy_store_new(&c->store)) < 0 ||
	    (r = metrics_add_collector(c->registry, collect, c)) < 0)
		return r;
	struct reconciler_config rc = {
		.pods = c->pods,
		.policies = c->policies,
		.store = c->store,
		.state = c->state,
		.records = c->records,
		.registry = c->registry,
		.changed = status_changed,
		.policy_gone = policy_gone,
		.userdata = c,
	};
	if ((r = reconciler_new(&rc, &c->reconciler)) < 0)
		return r;
	static const struct stream_ops sops = {
		.serving = serving, .prepare_snapshot = prepare_snapshot, .acked = status_changed};
	struct stream_config sc = {
		.state = c->state,
		.recordings = c->agent_recordings,
		.client = c->client,
		.tokens = c->tokens,
		.service_account_user = c->service_account_user,
		.registry = c->registry,
		.heartbeat_s = c->cfg.heartbeat_s,
		.queue_max = c->cfg.stream_queue_max,
		.ops = &sops,
		.userdata = c,
	};
	if ((r = stream_server_new(&sc, &c->streams)) < 0)
		return r;

	if ((r = kube_informer_add_index(c->policies, "namespace", kube_index_by_namespace, NULL)) <
		    0 ||
	    (r = kube_informer_add_index(c->pods, "namespace", kube_index_by_namespace, NULL)) <
		    0 ||
	    (r = kube_informer_add_index(c->pods, "node", kube_index_by_node_name, NULL)) < 0)
		return r;
	static const struct kube_handler_ops policy_ops = {
		.on_add = policy_added, .on_update = policy_updated, .on_delete = policy_deleted};
	static const struct kube_handler_ops pod_ops = {
		.on_add = pod_added, .on_update = pod_updated, .on_delete = pod_deleted};
	/* The store first: a reconcile our handler enqueues must find the policy it is about. */
	if ((r = policy_store_attach(c->store, c->policies)) < 0 ||
	    (r = kube_informer_add_handler(c->policies, &policy_ops, c)) < 0 ||
	    (r = kube_informer_add_handler(c->pods, &pod_ops, c)) < 0)
		return r;
	if ((r = reflector(c, &BULWARK_RES_POLICIES, c->policies, cache_trim_policy,
			   &c->policy_reflector)) < 0 ||
	    (r = reflector(c, &KUBE_RES_PODS, c->pods, cache_trim_pod, &c->pod_reflector)) < 0 ||
	    (r = reflector(c, &KUBE_RES_NAMESPACES, c->namespaces, cache_trim_namespace,
			   &c->namespace_reflector)) < 0)
		return r;
	log_info(0, "controller starting", "epoch", epoch, "server", c->kube_cfg->server, "version",
		 bulwark_version());
	return 0;
}

static int start_servers(struct controller *c, const struct daemon_health *health,
			 struct httpd **ret_main, struct httpd **ret_metrics)
{
	struct httpd_config hc = {
		.address = c->cfg.listen_address,
		.port = c->cfg.listen_port,
		.cert_file = c->cfg.tls_cert,
		.key_file = c->cfg.tls_key,
		.max_body = 4u << 20, /* an ack lists at most PUSH_PODS_MAX failures */
		.timeout_s = 3 * c->cfg.heartbeat_s,
		.max_connections = 4096,
		.threading = HTTPD_THREAD_PER_CONNECTION,
	};
	int r = httpd_new(&hc, ret_main);
	if (r < 0) {
		log_error(r, "cannot set up the push-stream server (certificate and key?)");
		return r;
	}
	if ((r = stream_server_routes(c->streams, *ret_main)) < 0 ||
	    (r = daemon_health_routes(*ret_main, health)) < 0)
		return r;
	if ((r = httpd_start(*ret_main)) < 0) {
		log_error(r, "cannot listen for agents", "address", c->cfg.listen_address, "port",
			  LOG_INT(c->cfg.listen_port));
		return r;
	}
	log_info(0, "serving agents", "address", c->cfg.listen_address, "port",
		 LOG_INT(httpd_port(*ret_main)), "tls", c->cfg.tls_cert ? "true" : "false");
	if (!c->cfg.metrics_address)
		return 0;
	struct httpd_config mc = {.address = c->cfg.metrics_address,
				  .port = c->cfg.metrics_port,
				  .threads = 2,
				  .threading = HTTPD_THREAD_POOL};
	if ((r = httpd_new(&mc, ret_metrics)) < 0 ||
	    (r = daemon_health_routes(*ret_metrics, health)) < 0 ||
	    (r = httpd_start(*ret_metrics)) < 0) {
		log_error(r, "cannot serve metrics", "address", c->cfg.metrics_address, "port",
			  LOG_INT(c->cfg.metrics_port));
		return r;
	}
	log_info(0, "serving metrics", "address", c->cfg.metrics_address, "port",
		 LOG_INT(httpd_port(*ret_metrics)));
	return 0;
}

static void teardown(struct controller *c)
{
	c->streams = stream_server_free(c->streams);
	c->reconciler = reconciler_free(c->reconciler);
	pod_records_free(c->records);
	policy_store_free(c->store);
	workqueue_free(c->queue);
	kube_informer_free(c->policies);
	kube_informer_free(c->pods);
	kube_informer_free(c->namespaces);
	push_state_free(c->state);
	c->agent_recordings = agent_recordings_free(c->agent_recordings);
	token_cache_free(c->tokens);
	metrics_registry_free(c->registry);
	kube_client_free(c->client);
	kube_config_free(c->kube_cfg);
}

int controller_run(const struct controller_config *cfg, volatile sig_atomic_t *stop)
{
	struct controller *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.workers)
		c->cfg.workers = 2;
	if (c->cfg.status_qps <= 0)
		c->cfg.status_qps = 20;
	if (!c->cfg.heartbeat_s)
		c->cfg.heartbeat_s = 10;
	if (!c->cfg.stream_queue_max)
		c->cfg.stream_queue_max = 4096;
	snprintf(c->service_account_user, sizeof(c->service_account_user),
		 "system:serviceaccount:%s:%s", c->cfg.agent_namespace,
		 c->cfg.agent_service_account);

	struct httpd *server = NULL, *metrics = NULL;
	struct daemon_health health = {.ready = ready, .userdata = c};
	struct recordings_api *api = NULL;
	pthread_t loop_tid;
	bool loop_running = false;
	int r = setup(c);
	if (r < 0)
		goto out;
	health.registry = c->registry;
	if ((r = workqueue_run_workers(c->queue, c->cfg.workers, reconciler_reconcile,
				       c->reconciler, &c->workers)) < 0)
		goto out;
	if ((r = -pthread_create(&loop_tid, NULL, loop_thread, c)) < 0)
		goto out;
	loop_running = true;
	struct status_writer_config wc = {
		.client = c->client,
		.server = c->kube_cfg->server,
		.policies = c->policies,
		.store = c->store,
		.records = c->records,
		.state = c->state,
		.registry = c->registry,
		.identity = c->cfg.identity,
		.qps = c->cfg.status_qps,
		.serving = serving,
		.userdata = c,
	};
	if ((r = status_writer_start(&wc, &c->status)) < 0)
		goto out;
	if ((r = start_servers(c, &health, &server, &metrics)) < 0)
		goto out;
	if (c->cfg.api_address && (r = recordings_api_start(c, &api)) < 0)
		goto out;

	if (c->cfg.leader_elect) {
		struct kube_leader_options lo = {
			.namespace = c->cfg.lease_namespace,
			.name = c->cfg.lease_name,
			.identity = c->cfg.identity,
			.on_started_leading = started_leading,
			.on_stopped_leading = stopped_leading,
			.userdata = c,
		};
		if ((r = kube_leader_start(c->client, &lo, &c->leader)) < 0) {
			log_error(r, "cannot start leader election");
			goto out;
		}
	} else {
		atomic_store(&c->is_leader, true);
	}

	bool was_synced = false;
	while (!*stop) {
		if (!was_synced && synced(c)) {
			was_synced = true;
			log_info(0, "caches synced", "policies",
				 LOG_INT(kube_informer_count(c->policies)), "pods",
				 LOG_INT(kube_informer_count(c->pods)));
			status_changed(c);
		}
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	log_info(0, "controller stopping");
	r = 0;
out:
	/* Leadership first (it releases the Lease so a standby takes over at once), then the
	 * streams, then the work. */
	c->leader = kube_leader_stop(c->leader);
	atomic_store(&c->is_leader, false);
	atomic_store(&c->stopping, true);
	if (c->state)
		push_state_detach_all(c->state);
	stream_server_stop(c->streams);
	api = recordings_api_free(api);
	server = httpd_free(server);
	metrics = httpd_free(metrics);
	if (c->queue)
		workqueue_shut_down(c->queue);
	c->workers = workqueue_workers_join(c->workers);
	c->status = status_writer_free(c->status);
	if (loop_running) {
		kube_loop_stop(c->loop);
		pthread_join(loop_tid, NULL);
	}
	c->policy_reflector = kube_reflector_free(c->policy_reflector);
	c->pod_reflector = kube_reflector_free(c->pod_reflector);
	c->namespace_reflector = kube_reflector_free(c->namespace_reflector);
	c->loop = kube_loop_free(c->loop);
	teardown(c);
	free(c);
	return r;
}
