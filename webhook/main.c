/* bulwark-webhook: the admission webhook. It binds seccomp profiles and the Landlock launcher to
 * pods, validates BulwarkPolicies, and records who execs into pods; optionally it manages its
 * own serving certificate (no cert-manager needed). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulwark_resources.h"
#include "cli.h"
#include "daemon/listen.h"
#include "daemon/signals.h"
#include "httpd.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "log.h"
#include "metrics.h"
#include "webhook/admission.h"
#include "webhook/certs.h"
#include "webhook/webhook.h"

#define PROG "bulwark-webhook"

static const char usage[] =
	"Usage: bulwark-webhook [serve] [OPTIONS]\n"
	"       bulwark-webhook certs --self-signed-secret NS/NAME [OPTIONS]\n"
	"\n"
	"The Bulwark admission webhook. `serve` (the default) answers the apiserver's\n"
	"AdmissionReviews over HTTPS: /mutate-pods binds the seccomp profile and the Landlock\n"
	"launcher of the BulwarkPolicies selecting a pod, /validate-pods guards what it wrote,\n"
	"/validate-policies validates BulwarkPolicies, /exec records who execs (ExecSession) and\n"
	"enforces execRecording.allowExec; /healthz, /readyz and /metrics too. `certs` renews the\n"
	"self-managed certificates once and exits (for an init container or a Job).\n"
	"\n"
	"Options:\n"
	"      --listen ADDR:PORT       where to serve (default 0.0.0.0:8443)\n"
	"      --tls-cert FILE          serving certificate (PEM); re-read when it changes\n"
	"      --tls-key FILE           its key (PEM)\n"
	"      --kubeconfig FILE        (default: in-cluster, else $KUBECONFIG, ~/.kube/config)\n"
	"      --launcher-image IMAGE   image holding the static bulwark-launch and cp\n"
	"                               (default bulwark/bulwark:" BULWARK_VERSION ")\n"
	"      --launcher-path PATH     bulwark-launch's path in that image\n"
	"                               (default /usr/local/bin/bulwark-launch)\n"
	"      --max-body BYTES         request body cap; larger gets 413 (default 3145728)\n"
	"      --threads N              review threads (default 4)\n"
	"      --idle-timeout SECONDS   close idle connections after (default 30)\n"
	"      --bench-routes           also serve /allow-all (benchmarks: the floor)\n"
	"\n"
	"Self-managed certificates (instead of files from cert-manager):\n"
	"      --self-signed-secret NS/NAME   keep CA and serving certificate in this Secret and\n"
	"                               write them to --tls-cert/--tls-key\n"
	"      --cert-dns-name NAME     a DNS subjectAltName (repeat; e.g. the Service's\n"
	"                               bulwark-webhook.bulwark-system.svc)\n"
	"      --cert-ip IP             an IP subjectAltName (repeat)\n"
	"      --ca-file FILE           also write the CA bundle here\n"
	"      --mutating-webhook-config NAME, --validating-webhook-config NAME\n"
	"                               configurations whose caBundle to keep current (repeat)\n"
	"      --apiservice NAME        an APIService whose spec.caBundle to keep current\n"
	"                               (repeat; e.g. v1.recordings.bulwark.dev)\n"
	"      --cert-validity DUR      serving certificate lifetime (default 90d)\n"
	"      --ca-validity DUR        CA lifetime (default 1825d)\n"
	"      --ca-overlap DUR         a new CA is trusted this long before it signs (default "
	"1h)\n"
	"      --cert-check-interval DUR  how often to check for renewal (default 1m)\n"
	"                               DUR: a number with s, m, h or d\n"
	"  -h, --help                   show this help and exit\n"
	"      --version                print the version and exit\n"
	"  -v, --v=N                    log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Examples:\n"
	"  bulwark-webhook --tls-cert /tls/tls.crt --tls-key /tls/tls.key \\\n"
	"      --launcher-image registry.example/bulwark:1.0\n"
	"  bulwark-webhook --self-signed-secret bulwark-system/bulwark-webhook-tls \\\n"
	"      --cert-dns-name bulwark-webhook.bulwark-system.svc \\\n"
	"      --tls-cert /run/bulwark/tls.crt --tls-key /run/bulwark/tls.key \\\n"
	"      --mutating-webhook-config bulwark --validating-webhook-config bulwark\n";

enum {
	OPT_LISTEN = 0x2000,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_KUBECONFIG,
	OPT_LAUNCHER_IMAGE,
	OPT_LAUNCHER_PATH,
	OPT_MAX_BODY,
	OPT_THREADS,
	OPT_IDLE_TIMEOUT,
	OPT_BENCH_ROUTES,
	OPT_SECRET,
	OPT_DNS_NAME,
	OPT_IP,
	OPT_CA_FILE,
	OPT_MUTATING,
	OPT_VALIDATING,
	OPT_APISERVICE,
	OPT_CERT_VALIDITY,
	OPT_CA_VALIDITY,
	OPT_CA_OVERLAP,
	OPT_CHECK_INTERVAL,
};

#define LIST_MAX 16

struct args {
	struct listen_address listen;
	const char *tls_cert, *tls_key, *kubeconfig, *launcher_image, *launcher_path;
	size_t max_body;
	unsigned threads, idle_timeout;
	bool bench_routes, certs_only;
	char secret_ns[64], secret_name[256];
	bool self_signed;
	const char *dns[LIST_MAX], *ips[LIST_MAX], *mutating[LIST_MAX], *validating[LIST_MAX],
		*apiservices[LIST_MAX];
	size_t n_dns, n_ips, n_mutating, n_validating, n_apiservices;
	const char *ca_file;
	long cert_validity, ca_validity, ca_overlap, check_interval;
};

/* "90d", "1h", "30s", "15m" → seconds: positive, at most a century. */
static int parse_duration(const char *s, long *ret)
{
	uint64_t v;
	if (cli_parse_duration_s(s, &v) < 0 || v == 0 || v > 100ull * 365 * 86400)
		return -EINVAL;
	*ret = (long)v;
	return 0;
}

static int add_to(const char **list, size_t *n, const char *v)
{
	if (*n >= LIST_MAX)
		return -E2BIG;
	list[(*n)++] = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"launcher-image", required_argument, NULL, OPT_LAUNCHER_IMAGE},
		{"launcher-path", required_argument, NULL, OPT_LAUNCHER_PATH},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
		{"bench-routes", no_argument, NULL, OPT_BENCH_ROUTES},
		{"self-signed-secret", required_argument, NULL, OPT_SECRET},
		{"cert-dns-name", required_argument, NULL, OPT_DNS_NAME},
		{"cert-ip", required_argument, NULL, OPT_IP},
		{"ca-file", required_argument, NULL, OPT_CA_FILE},
		{"mutating-webhook-config", required_argument, NULL, OPT_MUTATING},
		{"validating-webhook-config", required_argument, NULL, OPT_VALIDATING},
		{"apiservice", required_argument, NULL, OPT_APISERVICE},
		{"cert-validity", required_argument, NULL, OPT_CERT_VALIDITY},
		{"ca-validity", required_argument, NULL, OPT_CA_VALIDITY},
		{"ca-overlap", required_argument, NULL, OPT_CA_OVERLAP},
		{"cert-check-interval", required_argument, NULL, OPT_CHECK_INTERVAL},
		{0},
	};
	int opt, r = 0;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case OPT_LISTEN:
			if ((r = listen_address_flag(PROG, "--listen", optarg, &a->listen)))
				return r;
			break;
		case OPT_TLS_CERT: a->tls_cert = optarg; break;
		case OPT_TLS_KEY: a->tls_key = optarg; break;
		case OPT_KUBECONFIG: a->kubeconfig = optarg; break;
		case OPT_LAUNCHER_IMAGE: a->launcher_image = optarg; break;
		case OPT_LAUNCHER_PATH: a->launcher_path = optarg; break;
		case OPT_BENCH_ROUTES: a->bench_routes = true; break;
		case OPT_CA_FILE: a->ca_file = optarg; break;
		case OPT_MAX_BODY:
			a->max_body = strtoul(optarg, &end, 10);
			if (*end || a->max_body < 4096 || a->max_body > ADMISSION_MAX_BODY)
				return cli_usage_error(PROG, "--max-body must be 4096..%u",
						       ADMISSION_MAX_BODY);
			break;
		case OPT_THREADS:
			a->threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || a->threads < 1 || a->threads > 256)
				return cli_usage_error(PROG, "--threads must be 1..256");
			break;
		case OPT_IDLE_TIMEOUT:
			a->idle_timeout = (unsigned)strtoul(optarg, &end, 10);
			if (*end || a->idle_timeout < 1 || a->idle_timeout > 3600)
				return cli_usage_error(PROG,
						       "--idle-timeout must be 1..3600 seconds");
			break;
		case OPT_SECRET: {
			const char *slash = strchr(optarg, '/');
			if (!slash || slash == optarg || !slash[1] ||
			    (size_t)(slash - optarg) >= sizeof(a->secret_ns) ||
			    strlen(slash + 1) >= sizeof(a->secret_name))
				return cli_usage_error(
					PROG, "--self-signed-secret must be NAMESPACE/NAME");
			memcpy(a->secret_ns, optarg, (size_t)(slash - optarg));
			snprintf(a->secret_name, sizeof(a->secret_name), "%s", slash + 1);
			a->self_signed = true;
			break;
		}
		case OPT_DNS_NAME: r = add_to(a->dns, &a->n_dns, optarg); break;
		case OPT_IP: r = add_to(a->ips, &a->n_ips, optarg); break;
		case OPT_MUTATING: r = add_to(a->mutating, &a->n_mutating, optarg); break;
		case OPT_VALIDATING: r = add_to(a->validating, &a->n_validating, optarg); break;
		case OPT_APISERVICE: r = add_to(a->apiservices, &a->n_apiservices, optarg); break;
		case OPT_CERT_VALIDITY:
		case OPT_CA_VALIDITY:
		case OPT_CA_OVERLAP:
		case OPT_CHECK_INTERVAL: {
			long *dst = opt == OPT_CERT_VALIDITY ? &a->cert_validity
				    : opt == OPT_CA_VALIDITY ? &a->ca_validity
				    : opt == OPT_CA_OVERLAP  ? &a->ca_overlap
							     : &a->check_interval;
			if (parse_duration(optarg, dst) < 0)
				return cli_usage_error(
					PROG, "bad duration \"%s\" (e.g. 90d, 1h, 30s)", optarg);
			break;
		}
		default: {
			int c = cli_common_option(opt, optarg, PROG, usage);
			if (c == 0)
				exit(EXIT_SUCCESS);
			if (c < 0)
				return c == -ENOENT ? cli_usage_error(PROG, "unknown option") : 2;
		}
		}
		if (r < 0)
			return cli_usage_error(PROG, "at most %d of each list option", LIST_MAX);
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "certs") == 0)
			a->certs_only = true;
		else if (strcmp(argv[optind], "serve") != 0)
			return cli_usage_error(PROG, "unknown command \"%s\"", argv[optind]);
		if (optind + 1 < argc)
			return cli_usage_error(PROG, "unexpected argument \"%s\"",
					       argv[optind + 1]);
	}
	if (a->certs_only && !a->self_signed)
		return cli_usage_error(PROG, "certs needs --self-signed-secret NS/NAME");
	if (!a->certs_only && (!a->tls_cert || !a->tls_key))
		return cli_usage_error(PROG, "--tls-cert and --tls-key are required (TLS only)");
	if (a->self_signed && a->n_dns + a->n_ips == 0)
		return cli_usage_error(PROG, "--self-signed-secret needs at least one "
					     "--cert-dns-name or --cert-ip");
	return 0;
}

/* ---- certificates ------------------------------------------------------------------------ */

struct cert_loop {
	struct kube_client *client;
	struct cert_target target;
	struct cert_options opts;
	long interval_s;
	struct metric *expiry;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
};

static int cert_pass(struct cert_loop *cl)
{
	char errbuf[600] = "";
	time_t not_after = 0;
	int r = certs_reconcile(cl->client, &cl->target, &cl->opts, time(NULL), &not_after, errbuf,
				sizeof(errbuf));
	if (not_after)
		metric_set(cl->expiry, NULL, (double)not_after);
	if (r == -ENOENT)
		log_warn("a webhook configuration to patch does not exist yet, retrying", "err",
			 errbuf);
	else if (r < 0)
		log_error(r, "certificate renewal failed, retrying", "reason", errbuf);
	return r;
}

static void *cert_thread(void *arg)
{
	struct cert_loop *cl = arg;
	pthread_mutex_lock(&cl->lock);
	while (!cl->stopping) {
		pthread_mutex_unlock(&cl->lock);
		int r = cert_pass(cl);
		pthread_mutex_lock(&cl->lock);
		/* A failed pass (a missing configuration, say) is retried sooner. */
		long wait = r < 0 && cl->interval_s > 5 ? 5 : cl->interval_s;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait;
		while (!cl->stopping &&
		       pthread_cond_timedwait(&cl->cond, &cl->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

/* ---- the policy informer ------------------------------------------------------------------- */

static void *loop_thread(void *loop)
{
	int r = kube_loop_run(loop);
	if (r < 0)
		log_error(r, "the watch loop stopped");
	return NULL;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int kube_open(const struct args *a, struct kube_config **ret_cfg,
		     struct kube_client **ret_client)
{
	struct field_error ferr = {0};
	int r = kube_config_load_default(a->kubeconfig, NULL, ret_cfg, &ferr);
	if (r < 0) {
		char msg[800];
		log_error(r, "cannot load the Kubernetes client configuration", "reason",
			  field_error_str(&ferr, msg, sizeof(msg)));
		return r;
	}
	r = kube_client_new(*ret_cfg, NULL, ret_client);
	if (r < 0)
		log_error(r, "cannot set up the Kubernetes client");
	return r;
}

static void cert_loop_init(struct cert_loop *cl, const struct args *a, struct kube_client *client,
			   struct metrics_registry *metrics)
{
	*cl = (struct cert_loop){
		.client = client,
		.target = {.secret_namespace = a->secret_ns,
			   .secret_name = a->secret_name,
			   .cert_file = a->tls_cert,
			   .key_file = a->tls_key,
			   .ca_file = a->ca_file,
			   .mutating = a->mutating,
			   .n_mutating = a->n_mutating,
			   .validating = a->validating,
			   .n_validating = a->n_validating,
			   .apiservices = a->apiservices,
			   .n_apiservices = a->n_apiservices},
		.opts = {.dns_names = a->dns,
			 .n_dns_names = a->n_dns,
			 .ip_addresses = a->ips,
			 .n_ip_addresses = a->n_ips,
			 .ca_validity_s = a->ca_validity,
			 .cert_validity_s = a->cert_validity,
			 .ca_overlap_s = a->ca_overlap},
		.interval_s = a->check_interval,
		.expiry = metrics_register(
			metrics, METRIC_GAUGE,
			"bulwark_webhook_certificate_expiry_timestamp_seconds",
			"When the self-managed serving certificate expires (Unix time).", NULL,
			NULL, 0),
	};
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->cond, NULL);
}

/* The serving files must exist before the server starts; a missing webhook configuration is
 * patched later by the renewal thread. 0, or negative when the webhook should not serve. */
static int first_certs(struct cert_loop *cl)
{
	int r = cert_pass(cl);
	for (int tries = 0; r < 0 && r != -ENOENT && tries < 60; tries++) {
		if (daemon_wait(2000))
			return -ECANCELED;
		r = cert_pass(cl);
	}
	return r == -ENOENT ? 0 : r;
}

static void cert_loop_stop(struct cert_loop *cl, pthread_t tid)
{
	pthread_mutex_lock(&cl->lock);
	cl->stopping = true;
	pthread_cond_signal(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	pthread_join(tid, NULL);
}

/* The BulwarkPolicy informer feeding the store, on its own watch-loop thread. */
struct policy_watch {
	struct policy_store *store;
	struct kube_informer *inf;
	struct kube_loop *loop;
	struct kube_reflector *refl;
	pthread_t tid;
	bool running;
};

static int policy_watch_start(struct policy_watch *pw, struct kube_client *client)
{
	if (policy_store_new(&pw->store) < 0 || !(pw->inf = kube_informer_new("bulwarkpolicies")) ||
	    policy_store_attach(pw->store, pw->inf) < 0 || kube_loop_new(&pw->loop) < 0) {
		log_error(-ENOMEM, "out of memory");
		return -ENOMEM;
	}
	struct kube_reflector_options ro = {.resource = &BULWARK_RES_POLICIES, .informer = pw->inf};
	int r = kube_reflector_new(pw->loop, client, &ro, &pw->refl);
	if (r < 0 || (r = kube_reflector_start(pw->refl)) < 0) {
		log_error(r, "cannot start watching BulwarkPolicies");
		return r;
	}
	if ((r = -pthread_create(&pw->tid, NULL, loop_thread, pw->loop)) < 0)
		return r;
	pw->running = true;
	return 0;
}

static void policy_watch_stop(struct policy_watch *pw)
{
	if (pw->running) {
		kube_loop_stop(pw->loop);
		pthread_join(pw->tid, NULL);
	}
	kube_reflector_free(pw->refl);
	kube_loop_free(pw->loop);
	kube_informer_free(pw->inf);
	policy_store_free(pw->store);
}

static int serve(const struct args *a, struct webhook *w, struct httpd **ret)
{
	struct httpd_config hc = {
		.address = a->listen.host,
		.port = a->listen.port,
		.cert_file = a->tls_cert,
		.key_file = a->tls_key,
		.max_body = a->max_body,
		.threads = a->threads,
		.timeout_s = a->idle_timeout,
		.threading = HTTPD_THREAD_POOL,
	};
	int r = httpd_new(&hc, ret);
	if (r < 0 || (r = webhook_register(w, *ret, a->bench_routes)) < 0 ||
	    (r = httpd_start(*ret)) < 0) {
		log_error(r, "cannot serve", "address", a->listen.host, "port",
			  LOG_INT(a->listen.port), "cert", a->tls_cert);
		return r;
	}
	log_info(0, "bulwark-webhook serving", "address", a->listen.host, "port",
		 LOG_INT(httpd_port(*ret)), "version", bulwark_version(), "launcherImage",
		 a->launcher_image, "selfSignedSecret", a->self_signed ? a->secret_name : "");
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = {
		.listen = {.host = "0.0.0.0", .port = 8443},
		.launcher_image = "bulwark/bulwark:" BULWARK_VERSION,
		.launcher_path = "/usr/local/bin/bulwark-launch",
		.max_body = 3u << 20,
		.threads = 4,
		.idle_timeout = 30,
		.check_interval = 60,
	};
	int r = parse_args(argc, argv, &a);
	if (r)
		return r > 0 ? r : 2;
	struct kube_config *kcfg = NULL;
	struct kube_client *client = NULL;
	struct webhook w;
	if (daemon_signals_init() < 0 || kube_open(&a, &kcfg, &client) < 0 ||
	    webhook_init(&w) < 0) {
		kube_client_free(client);
		kube_config_free(kcfg);
		return EXIT_FAILURE;
	}
	struct cert_loop cl;
	cert_loop_init(&cl, &a, client, w.metrics);
	struct policy_watch pw = {0};
	struct httpd *h = NULL;
	pthread_t cert_tid;
	bool cert_running = false;
	int exit_code = EXIT_FAILURE;

	if (a.certs_only) {
		exit_code = cert_pass(&cl) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
		goto out;
	}
	if ((a.self_signed && first_certs(&cl) < 0) || policy_watch_start(&pw, client) < 0)
		goto out;
	w.mutate = (struct mutate_options){.launcher_image = a.launcher_image,
					   .launcher_path = a.launcher_path};
	w.policies = pw.store;
	w.informer = pw.inf;
	w.client = client;
	if (serve(&a, &w, &h) < 0)
		goto out;
	if (a.self_signed &&
	    !(cert_running = pthread_create(&cert_tid, NULL, cert_thread, &cl) == 0))
		goto out;
	while (!daemon_wait(1000))
		;
	log_info(0, "stopping", "signal", strsignal(daemon_stop_signal()));
	exit_code = EXIT_SUCCESS;
out:
	/* Stop taking reviews first, then the threads that feed them. */
	h = httpd_free(h);
	if (cert_running)
		cert_loop_stop(&cl, cert_tid);
	policy_watch_stop(&pw);
	webhook_done(&w);
	kube_client_free(client);
	kube_config_free(kcfg);
	return exit_code;
}
