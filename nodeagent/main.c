/* bulwark-agent: the node agent. It holds the push stream to the controller, applies each
 * pod's compiled policy through the mechanism appliers, watches pod cgroups appear, and
 * serves /metrics, /healthz and /readyz. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "daemon/health.h"
#include "daemon/listen.h"
#include "daemon/signals.h"
#include "fileio.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "kube/client.h"
#include "kube/config.h"
#include "nodeagent/cgroup_watch.h"
#include "nodeagent/exec/exec_applier.h"
#include "nodeagent/net/flow_log.h"
#include "nodeagent/net/net_loader.h"
#include "nodeagent/net/net_applier.h"
#include "nodeagent/probes.h"
#include "nodeagent/exec/recordings_server.h"
#include "nodeagent/seccomp/seccomp_applier.h"
#include "nodeagent/stream_client.h"
#include "nodeagent/exec/container_name.h"
#include "nodeagent/sync.h"
#include "seccomp/store.h"

static const char usage[] =
	"Usage: bulwark-agent --node NAME --controller URL [OPTIONS]\n"
	"\n"
	"The Bulwark node agent: receives each pod's compiled policy from bulwark-controller\n"
	"and enforces it on this node (BPF network filters, seccomp profiles; Landlock is\n"
	"applied inside containers by bulwark-launch).\n"
	"\n"
	"Options:\n"
	"      --node NAME            this node's name (default: $NODE_NAME)\n"
	"      --controller URL       the controller's push endpoint, https://HOST:PORT\n"
	"      --controller-ca FILE   CA bundle that signed the controller's certificate\n"
	"      --token-file FILE      ServiceAccount token, re-read on every connect (default\n"
	"                             /var/run/secrets/kubernetes.io/serviceaccount/token)\n"
	"      --cgroup-root DIR      the cgroup v2 mount (default /sys/fs/cgroup)\n"
	"      --bpffs DIR            where BPF objects are pinned (default /sys/fs/bpf/bulwark)\n"
	"      --state-dir DIR        persisted state (default /var/lib/bulwark)\n"
	"      --kubelet-root DIR     the kubelet's root; profiles go to DIR/seccomp/bulwark\n"
	"                             (default /var/lib/kubelet)\n"
	"      --recordings-dir DIR   exec session recordings, root-only (default\n"
	"                             /var/lib/bulwark/recordings)\n"
	"      --recordings-max-age DURATION\n"
	"                             delete finished recordings older than this (s, m, h or\n"
	"                             d; 0 keeps them; default 30d)\n"
	"      --recordings-max-bytes SIZE\n"
	"                             then the oldest until all take at most SIZE (Ki, Mi, Gi,\n"
	"                             Ti; 0: no limit; default 10Gi)\n"
	"      --runtime-state-dirs DIR[:DIR...]\n"
	"                             where container runtimes keep their state; names the\n"
	"                             container of an exec started on the node (default\n"
	"                             " CONTAINER_STATE_DIRS_DEFAULT ")\n"
	"      --exec-hooks MODE      on-demand (default): attach the exec recorder's syscall\n"
	"                             hooks only while a session is live (they slow every\n"
	"                             syscall on the node); always: keep them attached\n"
	"      --kubeconfig FILE      API access for ExecSession objects (default: in-cluster\n"
	"                             when running in a pod; without either, recordings only)\n"
	"      --metrics-listen A:P   serve /metrics, /healthz, /readyz and /flows (recent "
	"network\n"
	"                             flows, ?pod=NS/NAME&limit=N) (default 0.0.0.0:9443)\n"
	"      --tls-cert FILE, --tls-key FILE\n"
	"                             serve them over HTTPS (plain HTTP without)\n"
	"      --recordings-listen A:P\n"
	"                             serve exec recordings to the controller over HTTPS\n"
	"                             (self-signed key and bearer secret made at start, handed\n"
	"                             over on the push stream); \"off\" disables (default\n"
	"                             0.0.0.0:9444; off with --simulate)\n"
	"      --advertise-address IP the IP the controller dials for recordings (default\n"
	"                             $POD_IP, else the --recordings-listen address)\n"
	"      --simulate             speak the stream and ACK without touching the kernel\n"
	"                             (scale tests of the controller)\n"
	"      --simulate-fail POD    with --simulate: refuse NAMESPACE/NAME, to test NACK paths\n"
	"      --allow-plain-http     let --controller be http:// (tests only)\n"
	"      --cleanup              remove everything the agent created on this node, and exit\n"
	"  -h, --help                 show this help and exit\n"
	"      --version              print the version and exit\n"
	"  -v, --v=N                  log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Examples:\n"
	"  bulwark-agent --node $(hostname) --controller https://bulwark-controller:8443 \\\n"
	"      --controller-ca /etc/bulwark/ca.crt\n"
	"  bulwark-agent --node sim-1 --controller https://127.0.0.1:8443 --controller-ca ca.crt "
	"\\\n"
	"      --token-file token --simulate --metrics-listen 127.0.0.1:0\n"
	"  bulwark-agent --cleanup\n";

enum {
	OPT_NODE = 0x2000,
	OPT_CONTROLLER,
	OPT_CONTROLLER_CA,
	OPT_TOKEN_FILE,
	OPT_CGROUP_ROOT,
	OPT_BPFFS,
	OPT_STATE_DIR,
	OPT_KUBELET_ROOT,
	OPT_METRICS_LISTEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_SIMULATE,
	OPT_SIMULATE_FAIL,
	OPT_ALLOW_PLAIN_HTTP,
	OPT_CLEANUP,
	OPT_RECORDINGS_DIR,
	OPT_RUNTIME_STATE_DIRS,
	OPT_RECORDINGS_MAX_AGE,
	OPT_RECORDINGS_MAX_BYTES,
	OPT_KUBECONFIG,
	OPT_EXEC_HOOKS,
	OPT_RECORDINGS_LISTEN,
	OPT_ADVERTISE_ADDRESS,
};

struct agent {
	const char *node, *controller, *controller_ca, *token_file;
	const char *cgroup_root, *bpffs, *state_dir, *kubelet_root;
	const char *metrics_listen, *recordings_listen, *tls_cert, *tls_key, *simulate_fail;
	const char *recordings_dir, *kubeconfig, *advertise_address;
	struct listen_address metrics_addr, recordings_addr;
	bool recordings_off; /* --recordings-listen off (or "") */
	const char *runtime_state_dirs;
	uint64_t recordings_max_age_s, recordings_max_bytes;
	bool simulate, allow_plain_http, cleanup, exec_hooks_always;

	struct agent_sync *sync;
	struct seccomp_applier *seccomp;
	struct net_applier *network;
	struct exec_applier *exec;
	struct kube_config *kube_config;
	struct kube_client *kube;
	struct cgroup_watch *watch;
	struct metrics_registry *metrics;
	struct metric *cgroup_events;
	struct stream_client_stats stream_stats;
	struct daemon_health health; /* the metrics server's /healthz, /readyz, /metrics */
	const struct node_features *features;
};

/* --simulate: accepts every pod but the one named by --simulate-fail. */
static int simulated_apply(void *ctx, const json_t *compiled, const json_t *previous,
			   struct field_error *err)
{
	const char *fail = ctx;
	const json_t *pod = json_object_get(compiled, "pod");
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(pod, "namespace")),
		 json_string_value(json_object_get(pod, "name")));
	if (fail && strcmp(fail, key) == 0)
		return field_error_set(err, "simulate", "refusing %s as asked by --simulate-fail",
				       key);
	return 0;
}

static void on_cgroup_event(const struct cgroup_event *ev, void *userdata)
{
	struct agent *a = userdata;
	const char *type = ev->type == CGROUP_EVENT_ADDED ? "added" : "removed";
	metric_add(a->cgroup_events, (const char *[]){type}, 1);
	if (a->network)
		net_applier_cgroup_event(a->network, ev);
	if (a->exec)
		exec_applier_cgroup_event(a->exec, ev);
	log_info(3, "pod cgroup event", "event", type, "pod", ev->id.pod_uid, "container",
		 ev->id.container_id, "path", ev->path);
}

static void *watch_thread(void *arg)
{
	struct agent *a = arg;
	char flow_log[4096];
	snprintf(flow_log, sizeof(flow_log), "%s/flows.jsonl", a->state_dir);
	cgroup_watch_scan(a->watch);
	while (!*daemon_stop_flag()) {
		struct pollfd p = {.fd = cgroup_watch_fd(a->watch), .events = POLLIN};
		/* The same thread drains the network flow log a few times a second. */
		if (a->network && net_applier_drain_flows(a->network, flow_log) < 0)
			log_info(2, "reading network flow events failed");
		if (poll(&p, 1, 250) > 0) {
			int r = cgroup_watch_process(a->watch);
			if (r < 0)
				log_error(r, "reading cgroup events failed");
		}
	}
	return NULL;
}

static void *recorder_thread(void *arg)
{
	struct agent *a = arg;
	int r = exec_applier_run(a->exec, daemon_stop_flag());
	const char *missing = node_features_execrec_missing(a->features);
	if (r < 0)
		log_error(r,
			  "exec session recording is unavailable on this node; other mechanisms "
			  "keep working",
			  "reason",
			  missing ? missing
				  : "its BPF programs did not load (libbpf's lines above say why)");
	return NULL;
}

/* API access is optional: it only names exec sessions in ExecSession objects. */
static int open_kube_client(struct agent *a)
{
	if (!a->kubeconfig && !getenv("KUBERNETES_SERVICE_HOST")) {
		log_info(
			0,
			"no API access (no --kubeconfig, not in a pod): exec sessions are recorded "
			"without ExecSession objects");
		return 0;
	}
	struct field_error err = {0};
	int r = kube_config_load_default(a->kubeconfig, NULL, &a->kube_config, &err);
	r = r ?: kube_client_new(a->kube_config, NULL, &a->kube);
	if (r < 0)
		log_error(r, "loading the API configuration failed", "field", err.field, "reason",
			  err.reason);
	return r;
}

static int collect_agent_metrics(struct buf *out, void *userdata)
{
	struct agent *a = userdata;
	const struct node_features *f = a->features;
	const struct stream_client_stats *s = &a->stream_stats;
	int r = metrics_write_header(out, "bulwark_agent_stream_events_total",
				     "Push stream activity by kind.", "counter");
	static const char *const kinds[] = {"connects", "messages", "acks_sent", "acks_failed",
					    "disconnects"};
	const unsigned long values[] = {s->connects, s->messages, s->acks_sent, s->acks_failed,
					s->disconnects};
	for (size_t i = 0; i < 5 && r == 0; i++)
		r = metrics_write_sample(out, "bulwark_agent_stream_events_total",
					 (const char *[]){"kind", NULL}, (const char *[]){kinds[i]},
					 (double)values[i]);
	struct agent_sync_status st;
	agent_sync_status(a->sync, &st);
	double pods = (double)st.pods, version = (double)st.version;
	r = r
		    ?: metrics_write_header(out, "bulwark_agent_pods_applied",
					    "Pods whose compiled policy is applied on this node.",
					    "gauge");
	r = r ?: metrics_write_sample(out, "bulwark_agent_pods_applied", NULL, NULL, pods);
	r = r
		    ?: metrics_write_header(out, "bulwark_agent_applied_version",
					    "Version of the last applied push message.", "gauge");
	r = r ?: metrics_write_sample(out, "bulwark_agent_applied_version", NULL, NULL, version);
	r = r
		    ?: metrics_write_header(out, "bulwark_node_feature",
					    "Kernel features this node offers (1) or lacks (0).",
					    "gauge");
	const struct {
		const char *name;
		double v;
	} feats[] = {{"bpf_cgroup_skb", f->cgroup_skb}, {"btf", f->btf},
		     {"ringbuf", f->ringbuf},		{"bpffs", f->bpffs},
		     {"cgroup2", f->cgroup2},		{"seccomp", f->seccomp},
		     {"seccomp_log", f->seccomp_log},	{"landlock_abi", f->landlock_abi}};
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]) && r == 0; i++)
		r = metrics_write_sample(out, "bulwark_node_feature",
					 (const char *[]){"feature", NULL},
					 (const char *[]){feats[i].name}, feats[i].v);
	return r;
}

/* /healthz tells what the node can enforce, not just "ok". */
static int health(void *ud, struct httpd_response *resp)
{
	struct agent *a = ud;
	json_t *features = node_features_to_json(a->features);
	struct agent_sync_status st;
	agent_sync_status(a->sync, &st);
	json_t *body = json_pack("{s:s,s:s,s:I,s:I,s:b,s:o}", "status", "ok", "epoch", st.epoch,
				 "version", (json_int_t)st.version, "pods", (json_int_t)st.pods,
				 "synced", st.synced, "features", features);
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	int r = s ? buf_append_str(&resp->body, s) : -ENOMEM;
	free(s);
	return r;
}

/* Ready once the controller's snapshot went through since this process started: until
 * then the node enforces what it persisted, but may lag the cluster. */
static bool ready(void *ud, char *reason, size_t size)
{
	struct agent *a = ud;
	struct agent_sync_status st;
	agent_sync_status(a->sync, &st);
	if (!st.synced)
		snprintf(reason, size, "no snapshot from the controller yet");
	return st.synced;
}

/* GET /flows?pod=NS/NAME&limit=N: the newest sampled flows from the flow log, oldest first. */
static int serve_flows(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
	struct agent *a = ud;
	const char *limit_s = httpd_request_query(req, "limit");
	long limit = limit_s ? strtol(limit_s, NULL, 10) : 100;
	if (limit < 1 || limit > FLOW_LOG_TAIL_MAX)
		return httpd_respond_error(resp, 400, "limit must be 1..%d", FLOW_LOG_TAIL_MAX);
	char path[4096];
	snprintf(path, sizeof(path), "%s/flows.jsonl", a->state_dir);
	json_t *flows;
	int r = flow_log_tail(path, httpd_request_query(req, "pod"), (size_t)limit, &flows);
	if (r < 0)
		return httpd_respond_error(resp, 500, "reading the flow log: %s", strerror(-r));
	json_t *body = json_pack("{s:s,s:o}", "node", a->node, "flows", flows);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	r = text ? buf_append_str(&resp->body, text) : -ENOMEM;
	free(text);
	return r;
}

static int start_metrics_server(struct agent *a, struct httpd **ret)
{
	const char *host = a->metrics_addr.host;
	struct httpd_config cfg = {.address = host,
				   .port = a->metrics_addr.port,
				   .cert_file = a->tls_cert,
				   .key_file = a->tls_key,
				   .threads = 2};
	struct httpd *h;
	int r = httpd_new(&cfg, &h);
	if (r < 0)
		return r;
	a->health = (struct daemon_health){
		.registry = a->metrics, .ready = ready, .health = health, .userdata = a};
	r = daemon_health_routes(h, &a->health);
	r = r ?: httpd_route(h, "GET", "/flows", serve_flows, a);
	r = r ?: httpd_start(h);
	if (r < 0) {
		httpd_free(h);
		return r;
	}
	log_info(0, "serving metrics and health", "address", host, "port", LOG_INT(httpd_port(h)),
		 "tls", a->tls_cert ? "true" : "false");
	*ret = h;
	return 0;
}

/* The recordings listener and what to tell the controller about it. Failing to serve
 * recordings must not stop enforcement: the caller goes on without. */
static int start_recordings_server(struct agent *a, struct recordings_server **ret,
				   struct recordings_advert *ret_advert)
{
	struct recordings_server_config cfg = {
		.address = a->recordings_addr.host,
		.port = a->recordings_addr.port,
		.recordings_dir = a->recordings_dir,
		.state_dir = a->state_dir,
		.advertise_ip = a->advertise_address ? a->advertise_address : getenv("POD_IP"),
	};
	struct recordings_server *s;
	int r = recordings_server_new(&cfg, &s);
	if (r < 0)
		return r;
	r = recordings_server_advert(s, ret_advert);
	if (r < 0) {
		/* Nobody could be told the secret: a listener would only be an open port. */
		recordings_server_free(s);
		log_warn("not serving recordings: no address to advertise to the controller "
			 "(set --advertise-address or $POD_IP, or listen on one address)",
			 "listen", a->recordings_listen);
		return -ENOENT;
	}
	log_info(0, "serving recordings", "url", ret_advert->url, "pin", ret_advert->pin);
	*ret = s;
	return 0;
}

/* Everything the agent leaves on a node: persisted state, the profiles it wrote, and the
 * pinned network programs and maps (which also ends network enforcement). */
static int cleanup(struct agent *a)
{
	char path[4096];
	int failures = 0;
	snprintf(path, sizeof(path), "%s/state.json", a->state_dir);
	if (unlink(path) < 0 && errno != ENOENT) {
		log_error(-errno, "removing the agent state failed", "path", path);
		failures++;
	}
	/* A crashed agent leaves its recordings key behind (the next start replaces it). */
	static const char *const tls_files[] = {"recordings-tls.key", "recordings-tls.crt"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", a->state_dir, tls_files[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			log_error(-errno, "removing the recordings key failed", "path", path);
			failures++;
		}
	}
	snprintf(path, sizeof(path), "%s/seccomp", a->kubelet_root);
	unsigned removed = 0;
	int r = seccomp_profile_store_gc(path, NULL, 0, 0, &removed);
	if (r < 0 && r != -ENOENT) {
		log_error(r, "removing seccomp profiles failed", "root", path);
		failures++;
	}
	r = net_loader_cleanup_all(a->bpffs);
	if (r < 0 && r != -ENOENT) {
		log_error(r, "removing the network programs and pins failed", "bpffs", a->bpffs);
		failures++;
	}
	log_info(0, "cleanup done", "profilesRemoved", LOG_INT(removed));
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int parse_args(int argc, char **argv, struct agent *a)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"node", required_argument, NULL, OPT_NODE},
		{"controller", required_argument, NULL, OPT_CONTROLLER},
		{"controller-ca", required_argument, NULL, OPT_CONTROLLER_CA},
		{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
		{"cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT},
		{"bpffs", required_argument, NULL, OPT_BPFFS},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"kubelet-root", required_argument, NULL, OPT_KUBELET_ROOT},
		{"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"simulate", no_argument, NULL, OPT_SIMULATE},
		{"simulate-fail", required_argument, NULL, OPT_SIMULATE_FAIL},
		{"allow-plain-http", no_argument, NULL, OPT_ALLOW_PLAIN_HTTP},
		{"cleanup", no_argument, NULL, OPT_CLEANUP},
		{"recordings-dir", required_argument, NULL, OPT_RECORDINGS_DIR},
		{"runtime-state-dirs", required_argument, NULL, OPT_RUNTIME_STATE_DIRS},
		{"recordings-max-age", required_argument, NULL, OPT_RECORDINGS_MAX_AGE},
		{"recordings-max-bytes", required_argument, NULL, OPT_RECORDINGS_MAX_BYTES},
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"exec-hooks", required_argument, NULL, OPT_EXEC_HOOKS},
		{"recordings-listen", required_argument, NULL, OPT_RECORDINGS_LISTEN},
		{"advertise-address", required_argument, NULL, OPT_ADVERTISE_ADDRESS},
		{0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		switch (opt) {
		case OPT_NODE: a->node = optarg; break;
		case OPT_CONTROLLER: a->controller = optarg; break;
		case OPT_CONTROLLER_CA: a->controller_ca = optarg; break;
		case OPT_TOKEN_FILE: a->token_file = optarg; break;
		case OPT_CGROUP_ROOT: a->cgroup_root = optarg; break;
		case OPT_BPFFS: a->bpffs = optarg; break;
		case OPT_STATE_DIR: a->state_dir = optarg; break;
		case OPT_KUBELET_ROOT: a->kubelet_root = optarg; break;
		case OPT_METRICS_LISTEN: a->metrics_listen = optarg; break;
		case OPT_TLS_CERT: a->tls_cert = optarg; break;
		case OPT_TLS_KEY: a->tls_key = optarg; break;
		case OPT_SIMULATE: a->simulate = true; break;
		case OPT_SIMULATE_FAIL: a->simulate_fail = optarg; break;
		case OPT_ALLOW_PLAIN_HTTP: a->allow_plain_http = true; break;
		case OPT_CLEANUP: a->cleanup = true; break;
		case OPT_RECORDINGS_DIR: a->recordings_dir = optarg; break;
		case OPT_RUNTIME_STATE_DIRS: a->runtime_state_dirs = optarg; break;
		case OPT_RECORDINGS_MAX_AGE:
			if (cli_parse_duration_s(optarg, &a->recordings_max_age_s) < 0)
				return cli_usage_error("bulwark-agent",
						       "--recordings-max-age: expected a duration "
						       "such as 720h or 30d, got %s",
						       optarg);
			break;
		case OPT_RECORDINGS_MAX_BYTES:
			if (cli_parse_bytes(optarg, &a->recordings_max_bytes) < 0)
				return cli_usage_error(
					"bulwark-agent",
					"--recordings-max-bytes: expected a size such "
					"as 10Gi, got %s",
					optarg);
			break;
		case OPT_KUBECONFIG: a->kubeconfig = optarg; break;
		case OPT_EXEC_HOOKS:
			if (strcmp(optarg, "on-demand") && strcmp(optarg, "always"))
				return cli_usage_error("bulwark-agent",
						       "--exec-hooks must be on-demand or always");
			a->exec_hooks_always = !strcmp(optarg, "always");
			break;
		case OPT_RECORDINGS_LISTEN: a->recordings_listen = optarg; break;
		case OPT_ADVERTISE_ADDRESS: a->advertise_address = optarg; break;
		default: {
			int r = cli_common_option(opt, optarg, "bulwark-agent", usage);
			if (r == 0)
				exit(EXIT_SUCCESS);
			if (r < 0)
				return r == -ENOENT
					       ? cli_usage_error("bulwark-agent", "unknown option")
					       : 2;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("bulwark-agent", "unexpected argument '%s'", argv[optind]);
	if (!a->node)
		a->node = getenv("NODE_NAME");
	if (a->cleanup)
		return 0;
	if (!a->node || !*a->node)
		return cli_usage_error("bulwark-agent", "--node (or $NODE_NAME) is required");
	if (!a->controller)
		return cli_usage_error("bulwark-agent", "--controller is required");
	if (!a->tls_cert != !a->tls_key)
		return cli_usage_error("bulwark-agent", "--tls-cert and --tls-key go together");
	if (a->simulate_fail && !a->simulate)
		return cli_usage_error("bulwark-agent", "--simulate-fail needs --simulate");
	/* Simulated agents (hundreds on one host) have no recordings to serve. */
	if (!a->recordings_listen)
		a->recordings_listen = a->simulate ? "off" : "0.0.0.0:9444";
	unsigned char ip[16];
	if (a->advertise_address && inet_pton(AF_INET, a->advertise_address, ip) != 1 &&
	    inet_pton(AF_INET6, a->advertise_address, ip) != 1)
		return cli_usage_error("bulwark-agent",
				       "--advertise-address: not an IP address: '%s'",
				       a->advertise_address);
	int r = listen_address_flag("bulwark-agent", "--metrics-listen", a->metrics_listen,
				    &a->metrics_addr);
	a->recordings_off = !*a->recordings_listen || strcmp(a->recordings_listen, "off") == 0;
	if (r == 0 && !a->recordings_off)
		r = listen_address_flag("bulwark-agent", "--recordings-listen",
					a->recordings_listen, &a->recordings_addr);
	return r;
}

/* The sync engine and its appliers, in the order a pod is applied: seccomp (the profile must
 * be on disk before the kubelet starts the container), network, exec recording. */
static int setup_appliers(struct agent *a)
{
	char state_path[4096], seccomp_root[4096];
	snprintf(state_path, sizeof(state_path), "%s/state.json", a->state_dir);
	snprintf(seccomp_root, sizeof(seccomp_root), "%s/seccomp", a->kubelet_root);
	int r = mkdir_p(a->state_dir, 0700);
	if (r < 0) {
		log_error(r, "creating the state directory failed", "path", a->state_dir);
		return r;
	}
	if ((r = agent_sync_new(a->node, state_path, &a->sync)) < 0)
		return r;
	if (a->simulate)
		return agent_sync_add_applier(a->sync,
					      &(struct applier){.name = "simulate",
								.ctx = (void *)a->simulate_fail,
								.apply_pod = simulated_apply});
	r = mkdir_p(seccomp_root, 0755);
	r = r ?: seccomp_applier_new(seccomp_root, 3600, &a->seccomp);
	if (r < 0) {
		log_error(r, "setting up the seccomp profile store failed", "root", seccomp_root);
		return r;
	}
	struct applier ops = seccomp_applier_ops(a->seccomp);
	agent_sync_add_applier(a->sync, &ops);
	if ((r = net_applier_new(a->cgroup_root, a->bpffs, 1024, &a->network)) < 0)
		return r;
	ops = net_applier_ops(a->network);
	agent_sync_add_applier(a->sync, &ops);
	if ((r = open_kube_client(a)) < 0)
		return r;
	struct exec_applier_opts eo = {
		.cgroup_root = a->cgroup_root,
		.recordings_dir = a->recordings_dir,
		.runtime_state_dirs = a->runtime_state_dirs,
		.node = a->node,
		.client = a->kube,
		.hooks_always = a->exec_hooks_always,
		.retention_max_age_s = a->recordings_max_age_s,
		.retention_max_bytes = a->recordings_max_bytes,
	};
	if ((r = exec_applier_new(&eo, &a->exec)) < 0)
		return r;
	ops = exec_applier_ops(a->exec);
	return agent_sync_add_applier(a->sync, &ops);
}

/* After the appliers: loading the state hands every persisted pod to them (adopt_pod). */
static void load_state(struct agent *a)
{
	int r = agent_sync_load(a->sync);
	if (r < 0)
		log_error(r, "the persisted state is unreadable; starting empty and resyncing",
			  "path", a->state_dir, "file", "state.json");
	else
		log_info(0, "adopted the persisted state", "pods",
			 LOG_INT(agent_sync_pod_count(a->sync)), "version",
			 LOG_INT(agent_sync_version(a->sync)));
	json_t *features = node_features_to_json(a->features);
	agent_sync_set_features(a->sync, features);
	json_decref(features);
}

static int setup_metrics(struct agent *a, struct httpd **ret)
{
	a->metrics = metrics_registry_new();
	a->cgroup_events =
		metrics_register(a->metrics, METRIC_COUNTER, "bulwark_agent_cgroup_events_total",
				 "Pod and container cgroups seen appearing and disappearing.",
				 (const char *[]){"event", NULL}, NULL, 0);
	metrics_add_collector(a->metrics, collect_agent_metrics, a);
	if (a->network)
		metrics_add_collector(a->metrics, net_applier_collect, a->network);
	if (a->exec)
		metrics_add_collector(a->metrics, exec_applier_collect, a->exec);
	int r = start_metrics_server(a, ret);
	if (r < 0)
		log_error(r, "serving metrics failed", "listen", a->metrics_listen);
	return r;
}

/* Where auditors read this node's recordings, announced on the push stream; NULL without. */
static const struct recordings_advert *
setup_recordings(struct agent *a, struct recordings_server **ret, struct recordings_advert *advert)
{
	if (a->recordings_off)
		return NULL;
	int r = start_recordings_server(a, ret, advert);
	if (r < 0 && r != -ENOENT)
		log_error(r,
			  "serving recordings failed; auditors cannot read this node's "
			  "recordings, everything else keeps working",
			  "listen", a->recordings_listen);
	return r == 0 ? advert : NULL;
}

static bool start_watcher(struct agent *a, pthread_t *ret)
{
	if (a->simulate)
		return false;
	int r = cgroup_watch_new(a->cgroup_root, on_cgroup_event, a, &a->watch);
	if (r < 0) {
		log_error(r,
			  "watching pod cgroups failed; new pods are noticed only through "
			  "the controller",
			  "root", a->cgroup_root);
		return false;
	}
	return pthread_create(ret, NULL, watch_thread, a) == 0;
}

static void agent_free(struct agent *a)
{
	cgroup_watch_free(a->watch);
	seccomp_applier_free(a->seccomp);
	net_applier_free(a->network);
	exec_applier_free(a->exec);
	kube_client_free(a->kube);
	kube_config_free(a->kube_config);
	agent_sync_free(a->sync);
	metrics_registry_free(a->metrics);
}

int main(int argc, char **argv)
{
	struct agent a = {
		.token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token",
		.cgroup_root = "/sys/fs/cgroup",
		.bpffs = "/sys/fs/bpf/bulwark",
		.state_dir = "/var/lib/bulwark",
		.kubelet_root = "/var/lib/kubelet",
		.metrics_listen = "0.0.0.0:9443",
		.recordings_dir = "/var/lib/bulwark/recordings",
		.runtime_state_dirs = CONTAINER_STATE_DIRS_DEFAULT,
		.recordings_max_age_s = 30 * 24 * 3600,
		.recordings_max_bytes = 10ull << 30,
	};
	int r = parse_args(argc, argv, &a);
	if (r != 0)
		return r;
	if (a.cleanup)
		return cleanup(&a);
	if (daemon_signals_init() < 0)
		return EXIT_FAILURE;
	a.features = node_features_probe(a.cgroup_root, a.bpffs);
	if (!a.simulate)
		node_features_log(a.features);
	if (setup_appliers(&a) < 0)
		return EXIT_FAILURE;
	load_state(&a);
	struct httpd *metrics_server = NULL;
	if (setup_metrics(&a, &metrics_server) < 0)
		return EXIT_FAILURE;
	struct recordings_server *recordings = NULL;
	struct recordings_advert advert;
	const struct recordings_advert *advertised = setup_recordings(&a, &recordings, &advert);
	pthread_t watcher, recorder;
	bool watching = start_watcher(&a, &watcher);
	bool recording = a.exec && pthread_create(&recorder, NULL, recorder_thread, &a) == 0;

	struct stream_client_config sc = {
		.url = a.controller,
		.ca_file = a.controller_ca,
		.token_file = a.token_file,
		.node = a.node,
		.allow_plain_http = a.allow_plain_http,
		.recordings = advertised,
	};
	log_info(0, "bulwark-agent started", "node", a.node, "controller", a.controller, "version",
		 bulwark_version(), "simulate", a.simulate ? "true" : "false");
	r = stream_client_run(&sc, a.sync, daemon_stop_flag(), &a.stream_stats);
	if (r < 0)
		log_error(r, "the push stream client stopped");

	*daemon_stop_flag() = 1; /* the other threads end with the stream client */
	if (watching)
		pthread_join(watcher, NULL);
	if (recording)
		pthread_join(recorder, NULL);
	httpd_free(metrics_server);
	recordings_server_free(recordings);
	agent_free(&a);
	log_info(0, "bulwark-agent stopped; enforcement stays in place");
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
