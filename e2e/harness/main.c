/* bulwark-node-harness: the kubelet's part for pods bound to a test node (see harness.h). */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_layout.h"
#include "buf.h"
#include "cleanup.h"
#include "cli.h"
#include "error.h"
#include "exec.h"
#include "fileio.h"
#include "harness.h"
#include "log.h"
#include "node.h"
#include "pod_runner.h"

#define PROG	     "bulwark-node-harness"
#define POD_MAX_FILE (1024 * 1024)

static const char usage[] =
	"Usage: " PROG " COMMAND [OPTIONS]\n"
	"Plays the kubelet's part for pods bound to a test node: kubelet-named cgroups, a network\n"
	"namespace per pod, real runc containers, pod status.\n"
	"\n"
	"Commands:\n"
	"  run --kubeconfig F --node NAME   register NAME and run the pods bound to it\n"
	"  run-pod FILE                     run one Pod (JSON) without an API server; prints its\n"
	"                                   final status as JSON; SIGTERM tears it down early\n"
	"  exec [-t] [-i] POD [-c C] -- CMD run CMD in a container of POD (ns/name, name or uid)\n"
	"  --cleanup                        remove everything recorded in the state dir\n"
	"\n"
	"Options (every command):\n"
	"  --cgroup-root DIR   cgroup v2 directory we own (default <v2 mount>/bulwark-e2e)\n"
	"  --cgroup-driver D   cgroupfs (default) or systemd naming\n"
	"  --kubelet-root DIR  where <DIR>/seccomp/ holds Localhost profiles\n"
	"                      (default " HARNESS_DEFAULT_KUBELET_ROOT ")\n"
	"  --state-dir DIR     records, bundles, volumes, runc state "
	"(default " HARNESS_DEFAULT_STATE_DIR ")\n"
	"  --image NAME=DIR    image NAME is busybox plus DIR's contents (repeatable)\n"
	"  -v N, --help, --version\n"
	"\n"
	"Examples:\n"
	"  " PROG " run --kubeconfig $KUBECONFIG --node harness-node\n"
	"  " PROG " run-pod pod.json\n"
	"  " PROG " exec -ti default/web -- sh\n"
	"  " PROG " --cleanup\n";

enum {
	OPT_CGROUP_ROOT = 0x2000,
	OPT_CGROUP_DRIVER,
	OPT_KUBELET_ROOT,
	OPT_STATE_DIR,
	OPT_IMAGE,
	OPT_KUBECONFIG,
	OPT_NODE,
	OPT_CLEANUP,
};

static json_t *load_pod(const char *path, struct field_error *err)
{
	_cleanup_buf_ struct buf data = BUF_INIT(POD_MAX_FILE);
	int r = read_file_capped(path, &data);
	if (r < 0) {
		field_error_set(err, path, "%s",
				r == -EMSGSIZE ? "larger than 1 MiB" : strerror(-r));
		return NULL;
	}
	json_error_t jerr;
	json_t *pod = json_loadb(buf_str(&data), data.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!pod) {
		field_error_set(err, path, "line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	json_t *meta = json_object_get(pod, "metadata");
	/* A pod from a file has not been through the apiserver: give it a uid. */
	if (json_is_object(meta) && !json_object_get(meta, "uid")) {
		unsigned char r[16];
		char uid[40];
		if (getrandom(r, sizeof(r), 0) == sizeof(r)) {
			snprintf(uid, sizeof(uid),
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%"
				 "02x",
				 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
				 r[11], r[12], r[13], r[14], r[15]);
			json_object_set_new(meta, "uid", json_string(uid));
		}
	}
	return pod;
}

/* Signals arrive on a signalfd so the loop handles them between steps, never inside one. */
static int signals_setup(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int cmd_run_pod(const struct harness_config *cfg, const char *file)
{
	struct field_error ferr = {0};
	char msg[900];
	json_auto_t *pod = load_pod(file, &ferr);
	struct pod_run *p = NULL;
	int r = pod ? pod_run_new(cfg, pod, &p, &ferr) : -EINVAL;
	if (r < 0) {
		/* load_pod names the file itself; the pod's own errors name a field in it. */
		fprintf(stderr, PROG ": %s%s%s\n", pod ? file : "", pod ? ": " : "",
			ferr.reason[0] ? field_error_str(&ferr, msg, sizeof(msg)) : strerror(-r));
		return 1;
	}
	_cleanup_close_ int sfd = signals_setup();
	if (sfd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error(sfd < 0 ? sfd : -errno, "cannot set up signal handling");
		pod_run_free(p);
		return 1;
	}
	r = pod_run_start(cfg, p);
	bool stop = r < 0;
	if (r < 0)
		log_error(r, "cannot start the pod", "pod", p->name);
	/* Until the pod finishes, or nothing runs any more (a container that cannot start
	 * would wait forever: the status says why). */
	while (!stop && !pod_run_finished(p) && pod_run_running(p) > 0) {
		struct signalfd_siginfo si;
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(sfd, &fds);
		struct timeval tv = {1, 0};
		if (select(sfd + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				stop = true;
		int wstatus;
		pid_t pid;
		while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
			pod_run_on_exit(cfg, p, pid, wstatus);
	}
	json_auto_t *final = pod_run_status(p);
	int tr = pod_run_teardown(cfg, p);
	char *text = final ? json_dumps(final, JSON_COMPACT) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	pod_run_free(p);
	/* Leave nothing behind that another run-pod or harness is not using. */
	harness_cgroup_prune(cfg);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/pods", cfg->state_dir);
	rmdir(path);
	rmdir(cfg->runc_root);
	rmdir(cfg->state_dir);
	return r < 0 || tr < 0 ? 1 : 0;
}

static int cmd_exec(const struct harness_config *cfg, struct exec_request *req, int argc,
		    char **argv)
{
	/* argv: POD [-- ] CMD...; getopt already took -t/-i/-c and stopped at "--". */
	if (argc < 2)
		return cli_usage_error(PROG,
				       "exec: usage: exec [-t] [-i] POD [-c CONTAINER] -- CMD...");
	req->pod = argv[0];
	req->argv = argv + 1;
	int r = harness_exec(cfg, req);
	if (r < 0) {
		fprintf(stderr, PROG ": exec in %s: %s\n", req->pod,
			r == -ENOENT  ? "no such pod on this node"
			: r == -ESRCH ? "no such container in the pod"
				      : strerror(-r));
		return 126;
	}
	return r;
}

struct options {
	const char *cgroup_root, *driver, *kubelet_root, *state_dir, *kubeconfig, *node;
	const char *images[HARNESS_MAX_IMAGES];
	size_t n_images;
	bool cleanup;
	struct exec_request exec;
};

/* Options may come before or after the command word; exec's -t/-i/-c are options too. */
static int parse_options(int argc, char **argv, struct options *o, int *ret_optind)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{"cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT},
		{"cgroup-driver", required_argument, NULL, OPT_CGROUP_DRIVER},
		{"kubelet-root", required_argument, NULL, OPT_KUBELET_ROOT},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"image", required_argument, NULL, OPT_IMAGE},
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"node", required_argument, NULL, OPT_NODE},
		{"cleanup", no_argument, NULL, OPT_CLEANUP},
		{"tty", no_argument, NULL, 't'},
		{"stdin", no_argument, NULL, 'i'},
		{"container", required_argument, NULL, 'c'},
		{},
	};
	int c;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "tic:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CGROUP_ROOT: o->cgroup_root = optarg; break;
		case OPT_CGROUP_DRIVER: o->driver = optarg; break;
		case OPT_KUBELET_ROOT: o->kubelet_root = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_NODE: o->node = optarg; break;
		case OPT_CLEANUP: o->cleanup = true; break;
		case 't': o->exec.tty = true; break;
		case 'i': o->exec.stdin_open = true; break;
		case 'c': o->exec.container = optarg; break;
		case OPT_IMAGE:
			if (o->n_images == HARNESS_MAX_IMAGES)
				return cli_usage_error(PROG, "at most %d --image",
						       HARNESS_MAX_IMAGES);
			o->images[o->n_images++] = optarg;
			break;
		default: {
			int r = cli_common_option(c, optarg, PROG, usage);
			if (r == 0)
				return 0;
			if (r < 0)
				return 2;
		}
		}
	}
	*ret_optind = optind;
	return 1;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	int first = 1;
	int r = parse_options(argc, argv, &o, &first);
	if (r != 1)
		return r;
	argc -= first;
	argv += first;
	const char *cmd = argc > 0 ? argv[0] : NULL;

	struct harness_config cfg;
	r = harness_config_init(&cfg, o.cgroup_root, o.kubelet_root, o.state_dir, o.driver);
	if (r < 0)
		return cli_usage_error(PROG,
				       "bad --cgroup-root/--state-dir/--kubelet-root/"
				       "--cgroup-driver (the cgroup root must be a directory "
				       "below the cgroup v2 mount): %s",
				       strerror(-r));
	for (size_t i = 0; i < o.n_images; i++)
		if (harness_config_add_image(&cfg, o.images[i]) < 0)
			return cli_usage_error(PROG, "--image %s: want NAME=/ABSOLUTE/DIR",
					       o.images[i]);
	cfg.node_name = o.node;

	if (o.cleanup)
		return harness_cleanup(&cfg) < 0 ? 1 : 0;
	if (!cmd)
		return cli_usage_error(PROG, "a command is required");
	if (!strcmp(cmd, "run-pod")) {
		if (argc != 2)
			return cli_usage_error(PROG, "run-pod takes one FILE");
		return cmd_run_pod(&cfg, argv[1]);
	}
	if (!strcmp(cmd, "exec"))
		return cmd_exec(&cfg, &o.exec, argc - 1, argv + 1);
	if (!strcmp(cmd, "run")) {
		if (!o.kubeconfig || !o.node)
			return cli_usage_error(PROG, "run needs --kubeconfig and --node");
		return harness_node_run(&cfg, o.kubeconfig) < 0 ? 1 : 0;
	}
	return cli_usage_error(PROG, "unknown command %s", cmd);
}
