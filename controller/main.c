/* bulwark-controller: watches BulwarkPolicy, Pod and Namespace objects, compiles each pod's
 * policy, pushes it to the node agents and writes each policy's status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "controller/run.h"
#include "daemon/listen.h"
#include "daemon/signals.h"
#include "log.h"

#define PROG "bulwark-controller"

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

/* --listen-style flags into ret_addr (allocated) and ret_port. */
static int listen_flag(const char *flag, const char *value, char **ret_addr, uint16_t *ret_port)
{
	struct listen_address a;
	int r = listen_address_flag(PROG, flag, value, &a);
	if (r)
		return r;
	free(*ret_addr);
	*ret_addr = strdup(a.host);
	*ret_port = a.port;
	return *ret_addr ? 0 : EXIT_FAILURE;
}

/* Strings the configuration points into, freed by the caller. */
struct owned {
	char *listen, *metrics, *api, *agent_sa, *identity;
};

/* 0 to run with cfg, or the exit status (0 after --help or --version: -1). */
static int parse_args(int argc, char **argv, struct controller_config *cfg, struct owned *o)
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
	int opt, r;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case OPT_KUBECONFIG: cfg->kubeconfig = optarg; break;
		case OPT_LISTEN:
			if ((r = listen_flag("--listen", optarg, &o->listen, &cfg->listen_port)))
				return r;
			break;
		case OPT_TLS_CERT: cfg->tls_cert = optarg; break;
		case OPT_TLS_KEY: cfg->tls_key = optarg; break;
		case OPT_METRICS:
			if ((r = listen_flag("--metrics-listen", optarg, &o->metrics,
					     &cfg->metrics_port)))
				return r;
			break;
		case OPT_LEADER: cfg->leader_elect = true; break;
		case OPT_API:
			if ((r = listen_flag("--api-listen", optarg, &o->api, &cfg->api_port)))
				return r;
			break;
		case OPT_LEASE_NS: cfg->lease_namespace = optarg; break;
		case OPT_LEASE_NAME: cfg->lease_name = optarg; break;
		case OPT_IDENTITY: cfg->identity = optarg; break;
		case OPT_AGENT_SA: {
			char *colon = strchr(optarg, ':');
			if (!colon || colon == optarg || !colon[1] || strchr(colon + 1, ':'))
				return cli_usage_error(
					PROG,
					"--agent-service-account: expected NAMESPACE:NAME, got %s",
					optarg);
			free(o->agent_sa);
			o->agent_sa = strdup(optarg);
			if (!o->agent_sa)
				return EXIT_FAILURE;
			o->agent_sa[colon - optarg] = '\0';
			cfg->agent_namespace = o->agent_sa;
			cfg->agent_service_account = o->agent_sa + (colon - optarg) + 1;
			break;
		}
		case OPT_WORKERS: {
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n < 1 || n > 64)
				return cli_usage_error(PROG, "--workers: expected 1..64, got %s",
						       optarg);
			cfg->workers = (unsigned)n;
			break;
		}
		case OPT_STATUS_QPS:
			cfg->status_qps = strtod(optarg, &end);
			if (*end || !(cfg->status_qps > 0) || cfg->status_qps > 10000)
				return cli_usage_error(
					PROG,
					"--status-qps: expected a number in (0, 10000], got %s",
					optarg);
			break;
		default: {
			r = cli_common_option(opt, optarg, PROG, usage);
			if (r == 0)
				return -1;
			if (r < 0)
				return r == -ENOENT ? cli_usage_error(PROG, "unknown option") : 2;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error(PROG, "unexpected argument: %s", argv[optind]);
	if (!cfg->tls_cert != !cfg->tls_key)
		return cli_usage_error(PROG, "--tls-cert and --tls-key go together");
	if (!o->listen) {
		o->listen = strdup("0.0.0.0");
		cfg->listen_port = 8443;
	}
	cfg->listen_address = o->listen;
	cfg->metrics_address = o->metrics;
	cfg->api_address = o->api;
	if (o->api && !cfg->tls_cert)
		return cli_usage_error(PROG, "--api-listen needs --tls-cert and --tls-key: the API "
					     "server only talks TLS to an aggregated API");
	if (!cfg->identity) {
		char host[256] = "bulwark-controller";
		gethostname(host, sizeof(host) - 1);
		size_t n = strlen(host) + 24;
		o->identity = malloc(n);
		if (!o->identity)
			return EXIT_FAILURE;
		snprintf(o->identity, n, "%s-%d", host, (int)getpid());
		cfg->identity = o->identity;
	}
	return o->listen ? 0 : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct controller_config cfg = {
		.lease_namespace = "bulwark-system",
		.lease_name = "bulwark-controller",
		.agent_namespace = "bulwark-system",
		.agent_service_account = "bulwark-agent",
		.workers = 2,
		.status_qps = 20,
	};
	struct owned o = {0};
	int r = parse_args(argc, argv, &cfg, &o);
	if (r == 0) {
		if (!cfg.tls_cert)
			log_warn("no --tls-cert/--tls-key: serving agents over plain HTTP, for "
				 "tests only");
		r = daemon_signals_init() < 0 || controller_run(&cfg, daemon_stop_flag()) < 0
			    ? EXIT_FAILURE
			    : EXIT_SUCCESS;
	}
	free(o.listen);
	free(o.metrics);
	free(o.api);
	free(o.agent_sa);
	free(o.identity);
	return r < 0 ? EXIT_SUCCESS : r;
}
