/* kubectl-bulwark: the kubectl plugin for auditors and operators: recorded exec sessions
 * (sessions, replay, export, verify). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli/explain.h"
#include "cli/flows.h"
#include "cli/recording_fetch.h"
#include "cli/recordings.h"
#include "cli/sessions_api.h"
#include "cli/web.h"
#include "log.h"

static const char usage[] =
	"Usage: kubectl-bulwark COMMAND [OPTIONS] [SESSION]\n"
	"\n"
	"The kubectl plugin for auditors and operators: recorded kubectl exec sessions, and the\n"
	"effective policy of a pod.\n"
	"\n"
	"Commands:\n"
	"  sessions                 list sessions: age, namespace/pod, container, user, command,\n"
	"                           duration, size (ExecSession objects, or --recordings-dir)\n"
	"  replay SESSION           play the session in this terminal\n"
	"  replay --web SESSION     serve a page with the asciinema web player on 127.0.0.1\n"
	"  export SESSION -o FILE   write the session as an asciicast v2 file\n"
	"  verify SESSION           recompute the hash chain; report the first changed record\n"
	"  flows [pod/NAME]         recent network flows the node agent sampled (allowed, denied,\n"
	"                           audited), through the API server's proxy to the agent on\n"
	"                           the pod's node (--node for all its pods, --agent URL direct)\n"
	"  explain pod/NAME         the policies selecting a pod and what they make of it: the\n"
	"                           seccomp profile, and which policy allowed or denied each\n"
	"                           syscall they name; network, Landlock and exec in brief\n"
	"\n"
	"SESSION is an ExecSession name (kubectl bulwark sessions): the recording is read through\n"
	"the API server (recordings.bulwark.dev; RBAC: get recordings/cast, /log, /chain in its\n"
	"namespace). With --recordings-dir it is a recording id in that directory instead.\n"
	"\n"
	"Options:\n"
	"      --recordings-dir DIR read recordings from DIR (on the node, or a copy)\n"
	"      --kubeconfig FILE    kubeconfig (default $KUBECONFIG, in-cluster, ~/.kube/config)\n"
	"      --context NAME       kubeconfig context\n"
	"  -n, --namespace NS       namespace of the ExecSessions\n"
	"  -A, --all-namespaces     sessions of every namespace\n"
	"      --speed X            replay X times faster (default 1)\n"
	"      --idle-limit S       replay pauses longer than S seconds as S seconds\n"
	"      --web                replay in a browser instead of this terminal\n"
	"      --port N             --web: the port (default: any free one)\n"
	"      --serve-seconds N    --web: stop after N seconds (default: at Ctrl-C)\n"
	"      --player-dir DIR     --web: where asciinema-player.min.js is (default: the "
	"build's)\n"
	"  -o, --output FILE        export: the file to write (never overwritten)\n"
	"      --agent URL          flows: ask this agent directly (e.g. http://127.0.0.1:9443)\n"
	"      --node NAME          flows: every pod of this node's agent\n"
	"      --limit N            flows: at most N flows, newest (default 100)\n"
	"      --digest sha256:HEX  verify: the digest kept off the node (ExecSession status)\n"
	"      --json               verify: print the verdict as JSON\n"
	"  -h, --help               show this help and exit\n"
	"      --version            print the version and exit\n"
	"  -v, --v=N                log verbosity (0-10); logs are JSON lines on stderr\n"
	"\n"
	"Exit status: 0 success, 1 verify found a changed recording, 2 usage, 3 other errors.\n"
	"\n"
	"Examples:\n"
	"  kubectl bulwark explain pod/web-1 -n shop\n"
	"  kubectl bulwark flows pod/web-1 -n shop --limit 20\n"
	"  kubectl bulwark sessions -A\n"
	"  kubectl bulwark sessions --recordings-dir /var/lib/bulwark/recordings\n"
	"  kubectl bulwark replay -n shop es-7f3k2 --speed 2\n"
	"  kubectl bulwark verify -n shop es-7f3k2\n"
	"  kubectl bulwark replay --recordings-dir DIR node1-0001a2b3c4d5e6f7 --speed 2 "
	"--idle-limit 1\n"
	"  kubectl bulwark replay --web --recordings-dir DIR node1-0001a2b3c4d5e6f7\n"
	"  kubectl bulwark export --recordings-dir DIR node1-0001a2b3c4d5e6f7 -o session.cast\n"
	"  kubectl bulwark verify --recordings-dir DIR node1-0001a2b3c4d5e6f7 --digest sha256:…\n";

enum {
	OPT_DIR = 0x2000,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_SPEED,
	OPT_IDLE,
	OPT_DIGEST,
	OPT_JSON,
	OPT_WEB,
	OPT_PORT,
	OPT_SERVE,
	OPT_PLAYER,
	OPT_AGENT,
	OPT_NODE,
	OPT_LIMIT,
};

static const char prog[] = "kubectl-bulwark";

static int fail(int err, const char *what, const char *session)
{
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, session ? session : "",
		err == -ENOENT ? "no such recording" : strerror(-err));
	return 3;
}

/* replay, replay --web, export or verify of recording id in dir: the exit status. */
static int run_recording_command(const char *cmd, const char *dir, const char *session, bool web,
				 struct web_opts *wo, const struct replay_opts *ro,
				 const char *output, const char *digest, bool json)
{
	int r;
	if (!strcmp(cmd, "replay") && web) {
		char player[4096];
		if (!wo->player_dir) {
			r = web_default_player_dir(player, sizeof(player));
			if (r < 0)
				return fail(r, "finding the web player for", session);
			wo->player_dir = player;
		}
		wo->speed = ro->speed;
		wo->idle_limit = ro->idle_limit;
		r = cli_replay_web(dir, session, wo);
		return r < 0 ? fail(r, "serving", session) : 0;
	}
	if (!strcmp(cmd, "replay")) {
		r = cli_replay(dir, session, ro, STDOUT_FILENO);
		return r < 0 ? fail(r, "replaying", session) : 0;
	}
	if (!strcmp(cmd, "export")) {
		r = cli_export(dir, session, output);
		return r < 0 ? fail(r, "exporting", session) : 0;
	}
	r = cli_verify(dir, session, digest, json);
	return r < 0 ? fail(r, "verifying", session) : r;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"recordings-dir", required_argument, NULL, OPT_DIR},
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"context", required_argument, NULL, OPT_CONTEXT},
		{"namespace", required_argument, NULL, 'n'},
		{"all-namespaces", no_argument, NULL, 'A'},
		{"speed", required_argument, NULL, OPT_SPEED},
		{"idle-limit", required_argument, NULL, OPT_IDLE},
		{"output", required_argument, NULL, 'o'},
		{"digest", required_argument, NULL, OPT_DIGEST},
		{"json", no_argument, NULL, OPT_JSON},
		{"web", no_argument, NULL, OPT_WEB},
		{"port", required_argument, NULL, OPT_PORT},
		{"serve-seconds", required_argument, NULL, OPT_SERVE},
		{"player-dir", required_argument, NULL, OPT_PLAYER},
		{"agent", required_argument, NULL, OPT_AGENT},
		{"node", required_argument, NULL, OPT_NODE},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{0},
	};
	const char *dir = NULL, *kubeconfig = NULL, *context = NULL, *ns = NULL, *output = NULL,
		   *digest = NULL, *agent = NULL, *node = NULL;
	size_t limit = 100;
	bool all_ns = false, json = false, web = false;
	struct web_opts wo = {0};
	struct replay_opts ro = {.speed = 1.0};
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "n:Ao:", options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case OPT_DIR: dir = optarg; break;
		case OPT_AGENT: agent = optarg; break;
		case OPT_NODE: node = optarg; break;
		case OPT_LIMIT:
			limit = strtoul(optarg, &end, 10);
			if (*end || limit < 1 || limit > 10000)
				return cli_usage_error(prog, "--limit takes 1..10000, not %s",
						       optarg);
			break;
		case OPT_KUBECONFIG: kubeconfig = optarg; break;
		case OPT_CONTEXT: context = optarg; break;
		case 'n': ns = optarg; break;
		case 'A': all_ns = true; break;
		case 'o': output = optarg; break;
		case OPT_DIGEST: digest = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_WEB: web = true; break;
		case OPT_PLAYER: wo.player_dir = optarg; break;
		case OPT_PORT: {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v > 65535)
				return cli_usage_error(prog, "--port: want 0..65535, not %s",
						       optarg);
			wo.port = (uint16_t)v;
			break;
		}
		case OPT_SERVE: {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v > 86400)
				return cli_usage_error(
					prog, "--serve-seconds: want 0..86400, not %s", optarg);
			wo.serve_seconds = (unsigned)v;
			break;
		}
		case OPT_SPEED:
			ro.speed = strtod(optarg, &end);
			if (*end || !(ro.speed > 0 && ro.speed <= 1e6))
				return cli_usage_error(prog, "--speed: want a number > 0, not %s",
						       optarg);
			break;
		case OPT_IDLE:
			ro.idle_limit = strtod(optarg, &end);
			if (*end || !(ro.idle_limit >= 0 && ro.idle_limit <= 86400))
				return cli_usage_error(
					prog, "--idle-limit: want seconds >= 0, not %s", optarg);
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
	if (optind >= argc)
		return cli_usage_error(
			prog,
			"a command is needed: sessions, replay, export, verify, explain, flows");
	const char *cmd = argv[optind++];
	const char *session = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return cli_usage_error(prog, "unexpected argument %s", argv[optind]);

	if (!strcmp(cmd, "flows")) {
		if (session && (strncmp(session, "pod/", 4) != 0 || !session[4]))
			return cli_usage_error(prog, "flows takes pod/NAME or nothing");
		struct flows_options fo = {.kubeconfig = kubeconfig,
					   .context = context,
					   .ns = ns,
					   .pod = session ? session + 4 : NULL,
					   .node = node,
					   .agent_url = agent,
					   .limit = limit};
		int r = cli_flows(&fo, stdout);
		return r < 0 ? 3 : 0;
	}
	if (!strcmp(cmd, "explain")) {
		if (!session || strncmp(session, "pod/", 4) != 0 || !session[4])
			return cli_usage_error(prog, "explain takes pod/NAME");
		int r = cli_explain_api(kubeconfig, context, ns, session + 4, stdout);
		return r < 0 ? fail(r, "explaining", session) : 0;
	}
	if (!strcmp(cmd, "sessions")) {
		if (session)
			return cli_usage_error(prog, "sessions takes no SESSION");
		int r = dir ? cli_sessions_local(dir)
			    : cli_sessions_api(kubeconfig, context, ns, all_ns);
		return r < 0 ? fail(r, "listing sessions", dir) : 0;
	}
	if (strcmp(cmd, "replay") && strcmp(cmd, "export") && strcmp(cmd, "verify"))
		return cli_usage_error(prog, "unknown command %s", cmd);
	if (!session)
		return cli_usage_error(prog, "%s needs a SESSION", cmd);
	if (!strcmp(cmd, "export") && !output)
		return cli_usage_error(prog, "export needs -o FILE");
	/* Without a directory, SESSION is an ExecSession, read through the API server. */
	struct fetched_recording fetched = {0};
	if (!dir) {
		int r = cli_fetch_recording(kubeconfig, context, ns, session,
					    !strcmp(cmd, "verify"), &fetched);
		if (r < 0)
			return 3;
		dir = fetched.dir;
		session = fetched.id;
		if (!digest && fetched.digest[0])
			digest = fetched.digest;
	}
	int r = run_recording_command(cmd, dir, session, web, &wo, &ro, output, digest, json);
	cli_fetched_recording_remove(&fetched);
	return r;
}
