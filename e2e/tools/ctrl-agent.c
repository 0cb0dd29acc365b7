/* ctrl-agent: simulated node agents for the controller's e2e tests and benchmark.
 *
 * Runs one agent per --node (or COUNT agents named PREFIX-0 … with --nodes PREFIX:COUNT), each
 * a thread with the real push-stream client and sync engine of bulwark-agent
 * (nodeagent/stream_client.c, nodeagent/sync.c) and an applier that touches no kernel state but
 * prints what it was asked to do, one JSON line per event on stdout:
 *
 *   {"t":MS,"node":"n1","ev":"apply","pod":"ns/name","uid":"…","hash":"…"}
 *   {"t":MS,"node":"n1","ev":"remove","pod":"ns/name","uid":"…"}
 *   {"t":MS,"node":"n1","ev":"profiles","count":N}
 *   {"t":MS,"node":"n1","ev":"refuse","pod":"ns/name"}          (--fail)
 *
 * t is wall-clock milliseconds, so a script can compare it with its own clock. Because the sync
 * engine applies a pod once per compiled hash, counting "apply" lines per (pod, hash) shows
 * whether anything was applied twice.
 *
 *   ctrl-agent --controller https://127.0.0.1:8443 --ca ca.crt --token-dir DIR --node n1
 *   ctrl-agent --controller … --token-dir DIR --nodes bench:100 --quiet
 * The token of node N is read from DIR/N.token (re-read on every connect). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nodeagent/stream_client.h"

#define MAX_AGENTS 1024

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static const char *fail_pod;
static bool quiet;

struct agent {
	char node[254];
	char token_file[4096];
	struct stream_client_config config;
	struct agent_sync *sync;
	struct stream_client_stats stats;
	pthread_t thread;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(const char *node, const char *ev, const json_t *compiled, const char *extra_key,
		 json_t *extra)
{
	const json_t *pod = json_object_get(compiled, "pod");
	json_t *line =
		json_pack("{s:I,s:s,s:s}", "t", (json_int_t)now_ms(), "node", node, "ev", ev);
	if (pod) {
		char key[600];
		snprintf(key, sizeof(key), "%s/%s",
			 json_string_value(json_object_get(pod, "namespace")) ?: "",
			 json_string_value(json_object_get(pod, "name")) ?: "");
		json_object_set_new(line, "pod", json_string(key));
		json_object_set(line, "uid", json_object_get(pod, "uid"));
		if (json_object_get(compiled, "hash"))
			json_object_set(line, "hash", json_object_get(compiled, "hash"));
	}
	if (extra_key)
		json_object_set_new(line, extra_key, extra);
	char *text = json_dumps(line, JSON_COMPACT);
	pthread_mutex_lock(&out_lock);
	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	pthread_mutex_unlock(&out_lock);
	free(text);
	json_decref(line);
}

static int record_apply(void *ctx, const json_t *compiled, const json_t *previous,
			struct field_error *err)
{
	struct agent *a = ctx;
	const json_t *pod = json_object_get(compiled, "pod");
	char key[600];
	snprintf(key, sizeof(key), "%s/%s",
		 json_string_value(json_object_get(pod, "namespace")) ?: "",
		 json_string_value(json_object_get(pod, "name")) ?: "");
	if (fail_pod && strcmp(fail_pod, key) == 0) {
		emit(a->node, "refuse", compiled, NULL, NULL);
		return field_error_set(err, "network.egress", "simulated failure for %s", key);
	}
	if (!quiet)
		emit(a->node, "apply", compiled, NULL, NULL);
	else if (strncmp(json_string_value(json_object_get(pod, "name")) ?: "", "probe", 5) == 0)
		emit(a->node, "apply", compiled, NULL, NULL); /* the benchmark's marked pods */
	return 0;
}

static int record_remove(void *ctx, const json_t *compiled)
{
	struct agent *a = ctx;
	if (!quiet)
		emit(a->node, "remove", compiled, NULL, NULL);
	return 0;
}

static int record_profiles(void *ctx, const json_t *profiles, struct field_error *err)
{
	struct agent *a = ctx;
	if (!quiet)
		emit(a->node, "profiles", NULL, "count",
		     json_integer((json_int_t)json_object_size(profiles)));
	return 0;
}

static void *agent_thread(void *arg)
{
	struct agent *a = arg;
	int r = stream_client_run(&a->config, a->sync, &stop, &a->stats);
	if (r < 0)
		log_error(r, "stream client stopped", "node", a->node);
	return NULL;
}

static void on_signal(int sig)
{
	stop = 1;
}

static const char usage[] =
	"usage: ctrl-agent --controller URL [--ca FILE | --plain-http] --token-dir DIR\n"
	"                  (--node NAME ... | --nodes PREFIX:COUNT) [--fail NS/NAME] [--quiet]\n";

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"controller", required_argument, NULL, 'c'},
		{"ca", required_argument, NULL, 'a'},
		{"plain-http", no_argument, NULL, 'p'},
		{"token-dir", required_argument, NULL, 't'},
		{"node", required_argument, NULL, 'n'},
		{"nodes", required_argument, NULL, 'N'},
		{"fail", required_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"v", required_argument, NULL, 'v'},
		{0},
	};
	const char *url = NULL, *ca = NULL, *token_dir = NULL;
	bool plain = false;
	static struct agent agents[MAX_AGENTS];
	size_t n = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': url = optarg; break;
		case 'a': ca = optarg; break;
		case 'p': plain = true; break;
		case 't': token_dir = optarg; break;
		case 'f': fail_pod = optarg; break;
		case 'q': quiet = true; break;
		case 'v': log_set_verbosity(atoi(optarg)); break;
		case 'n':
			if (n == MAX_AGENTS)
				return fprintf(stderr, "too many agents\n"), 2;
			snprintf(agents[n++].node, sizeof(agents[0].node), "%s", optarg);
			break;
		case 'N': {
			char *colon = strrchr(optarg, ':');
			long count = colon ? strtol(colon + 1, NULL, 10) : 0;
			if (!colon || count < 1 || n + (size_t)count > MAX_AGENTS)
				return fprintf(stderr, "--nodes PREFIX:COUNT (COUNT 1..%d)\n",
					       MAX_AGENTS),
				       2;
			for (long i = 0; i < count; i++)
				snprintf(agents[n++].node, sizeof(agents[0].node), "%.*s-%ld",
					 (int)(colon - optarg), optarg, i);
			break;
		}
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!url || !token_dir || n == 0) {
		fputs(usage, stderr);
		return 2;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (size_t i = 0; i < n; i++) {
		struct agent *a = &agents[i];
		snprintf(a->token_file, sizeof(a->token_file), "%s/%s.token", token_dir, a->node);
		a->config = (struct stream_client_config){.url = url,
							  .ca_file = ca,
							  .token_file = a->token_file,
							  .node = a->node,
							  .allow_plain_http = plain};
		if (agent_sync_new(a->node, NULL, &a->sync) < 0)
			return 1;
		agent_sync_add_applier(a->sync,
				       &(struct applier){.name = "simulated",
							 .ctx = a,
							 .apply_pod = record_apply,
							 .remove_pod = record_remove,
							 .apply_profiles = record_profiles});
		if (pthread_create(&a->thread, NULL, agent_thread, a) != 0)
			return 1;
	}
	for (size_t i = 0; i < n; i++) {
		pthread_join(agents[i].thread, NULL);
		agent_sync_free(agents[i].sync);
	}
	return 0;
}
