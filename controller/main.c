/* bulwark-controller: watches BulwarkPolicy, Pod and Namespace objects, compiles each pod's
 * policy, pushes it to the node agents and writes each policy's status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "controller/controller.h"
#include "log.h"

static const char usage[] =
	"Usage: bulwark-controller [OPTIONS]\n"
	"\n"
	"Watches BulwarkPolicy, Pod and Namespace objects, compiles the policy of every pod bound\n"
	"to a node, pushes it to that node's bulwark-agent over an authenticated HTTPS stream, "
	"and\n"
	"writes each policy's status (pods matched, nodes enforced/failed, Ready, Degraded).\n"
	"\n"
	"Options:\n"
	"      --kubeconfig FILE        kubeconfig (default: $KUBECONFIG, in-cluster, "
	"~/.kube/config)\n"
	"      --listen ADDR:PORT       push stream for agents (default 0.0.0.0:8443)\n"
	"      --tls-cert FILE          serving certificate (PEM; re-read when it changes)\n"
	"      --tls-key FILE           its private key; without both, plain HTTP (tests only)\n"
	"      --metrics-listen ADDR:PORT  /metrics, /healthz, /readyz over plain HTTP\n"
	"                               (the push listener serves them too)\n"
	"      --api-listen ADDR:PORT   serve the recordings API (recordings.bulwark.dev/v1,\n"
	"                               behind an APIService) over TLS; needs --tls-cert and\n"
	"                               the front-proxy CA the API server publishes in\n"
	"                               kube-system/extension-apiserver-authentication\n"
	"      --leader-elect           run as one of several replicas; only the Lease holder\n"
	"                               serves agents, writes status and reports ready\n"
	"      --lease-namespace NS     (default bulwark-system)\n"
	"      --lease-name NAME        (default bulwark-controller)\n"
	"      --identity ID            unique per replica (default: hostname + pid)\n"
	"      --agent-service-account NS:NAME  whose tokens may hold a stream\n"
	"                               (default bulwark-system:bulwark-agent)\n"
	"      --workers N              reconcile threads (default 2)\n"
	"      --status-qps N           status writes per second (default 20)\n"
	"  -h, --help                   show this help and exit\n"
	"      --version                print the version and exit\n"
	"  -v, --v=N                    log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Agents authenticate with a ServiceAccount token bound to their node (TokenReview; the\n"
	"token's authentication.kubernetes.io/node-name must equal ?node=).\n"
	"\n"
	"Examples:\n"
	"  bulwark-controller --tls-cert /etc/bulwark/tls.crt --tls-key /etc/bulwark/tls.key \\\n"
	"      --leader-elect --metrics-listen 0.0.0.0:9090\n"
	"  bulwark-controller --kubeconfig ~/.kube/config --listen 127.0.0.1:8443 \\\n"
	"      --tls-cert server.crt --tls-key server.key -v 2\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* "ADDR:PORT", "[v6]:PORT" or ":PORT" (all IPv4 addresses). */
static int parse_listen(const char *s, char **ret_addr, uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port > 65535)
		return -EINVAL;
	size_t n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	char *addr = n ? strndup(s, n) : strdup("0.0.0.0");
	if (!addr)
		return -ENOMEM;
	*ret_addr = addr;
	*ret_port = (uint16_t)port;
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_KUBECONFIG = 0x100,
		OPT_LISTEN,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_METRICS,
		OPT_LEADER,
		OPT_LEASE_NS,
		OPT_LEASE_NAME,
		OPT_IDENTITY,
		OPT_AGENT_SA,
		OPT_WORKERS,
		OPT_STATUS_QPS,
		OPT_API,
	};
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"metrics-listen", required_argument, NULL, OPT_METRICS},
		{"api-listen", required_argument, NULL, OPT_API},
		{"leader-elect", no_argument, NULL, OPT_LEADER},
		{"lease-namespace", required_argument, NULL, OPT_LEASE_NS},
		{"lease-name", required_argument, NULL, OPT_LEASE_NAME},
		{"identity", required_argument, NULL, OPT_IDENTITY},
		{"agent-service-account", required_argument, NULL, OPT_AGENT_SA},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"status-qps", required_argument, NULL, OPT_STATUS_QPS},
		{0},
	};
	const char *prog = "bulwark-controller";
	struct controller_config cfg = {
		.lease_namespace = "bulwark-system",
		.lease_name = "bulwark-controller",
		.agent_namespace = "bulwark-system",
		.agent_service_account = "bulwark-agent",
		.workers = 2,
		.status_qps = 20,
	};
	char *listen_addr = NULL, *metrics_addr = NULL, *api_addr = NULL, *agent_sa = NULL,
	     *identity = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case OPT_KUBECONFIG: cfg.kubeconfig = optarg; break;
		case OPT_LISTEN:
			free(listen_addr);
			if (parse_listen(optarg, &listen_addr, &cfg.listen_port) < 0)
				return cli_usage_error(prog, "--listen: expected ADDR:PORT, got %s",
						       optarg);
			break;
		case OPT_TLS_CERT: cfg.tls_cert = optarg; break;
		case OPT_TLS_KEY: cfg.tls_key = optarg; break;
		case OPT_METRICS:
			free(metrics_addr);
			if (parse_listen(optarg, &metrics_addr, &cfg.metrics_port) < 0)
				return cli_usage_error(
					prog, "--metrics-listen: expected ADDR:PORT, got %s",
					optarg);
			break;
		case OPT_LEADER: cfg.leader_elect = true; break;
		case OPT_API:
			free(api_addr);
			if (parse_listen(optarg, &api_addr, &cfg.api_port) < 0)
				return cli_usage_error(
					prog, "--api-listen: expected ADDR:PORT, got %s", optarg);
			break;
		case OPT_LEASE_NS: cfg.lease_namespace = optarg; break;
		case OPT_LEASE_NAME: cfg.lease_name = optarg; break;
		case OPT_IDENTITY: cfg.identity = optarg; break;
		case OPT_AGENT_SA: {
			char *colon = strchr(optarg, ':');
			if (!colon || colon == optarg || !colon[1] || strchr(colon + 1, ':'))
				return cli_usage_error(
					prog,
					"--agent-service-account: expected NAMESPACE:NAME, got %s",
					optarg);
			free(agent_sa);
			agent_sa = strdup(optarg);
			if (!agent_sa)
				return EXIT_FAILURE;
			agent_sa[colon - optarg] = '\0';
			cfg.agent_namespace = agent_sa;
			cfg.agent_service_account = agent_sa + (colon - optarg) + 1;
			break;
		}
		case OPT_WORKERS: {
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n < 1 || n > 64)
				return cli_usage_error(prog, "--workers: expected 1..64, got %s",
						       optarg);
			cfg.workers = (unsigned)n;
			break;
		}
		case OPT_STATUS_QPS:
			cfg.status_qps = strtod(optarg, &end);
			if (*end || !(cfg.status_qps > 0) || cfg.status_qps > 10000)
				return cli_usage_error(
					prog,
					"--status-qps: expected a number in (0, 10000], got %s",
					optarg);
			break;
		default: {
			int r = cli_common_option(opt, optarg, prog, usage);
			if (r == 0)
				return EXIT_SUCCESS;
			if (r < 0)
				return r == -ENOENT ? cli_usage_error(prog, "unknown option") : 2;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error(prog, "unexpected argument: %s", argv[optind]);
	if (!cfg.tls_cert != !cfg.tls_key)
		return cli_usage_error(prog, "--tls-cert and --tls-key go together");
	if (!listen_addr) {
		listen_addr = strdup("0.0.0.0");
		cfg.listen_port = 8443;
	}
	cfg.listen_address = listen_addr;
	cfg.metrics_address = metrics_addr;
	cfg.api_address = api_addr;
	if (api_addr && !cfg.tls_cert)
		return cli_usage_error(prog, "--api-listen needs --tls-cert and --tls-key: the API "
					     "server only talks TLS to an aggregated API");
	if (!cfg.identity) {
		char host[256] = "bulwark-controller";
		gethostname(host, sizeof(host) - 1);
		size_t n = strlen(host) + 24;
		identity = malloc(n);
		if (!identity)
			return EXIT_FAILURE;
		snprintf(identity, n, "%s-%d", host, (int)getpid());
		cfg.identity = identity;
	}
	if (!cfg.tls_cert)
		log_warn("no --tls-cert/--tls-key: serving agents over plain HTTP, for tests only");

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int r = controller_run(&cfg, &stop);
	free(listen_addr);
	free(metrics_addr);
	free(api_addr);
	free(agent_sa);
	free(identity);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
