/* netpolicy_ctl: drives the agent's network applier (nodeagent/net/net_loader.h) from scripts — the
 * network benchmark and manual checks — without the rest of the agent. Programs and maps stay
 * pinned after it exits, exactly as they do after the agent exits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "netpolicy/netpolicy.h"
#include "nodeagent/net/net_loader.h"

static const char usage[] =
	"Usage: netpolicy_ctl COMMAND --bpffs DIR [--cgroup-root DIR] [--pod DIR] [options]\n"
	"\n"
	"Commands:\n"
	"  apply     compile --policy FILE (a spec.network section) and install it for --pod\n"
	"  remove    stop filtering --pod\n"
	"  counters  print --pod's counters as JSON\n"
	"  stats     print the applier's error and loss counters as JSON\n"
	"  cleanup   detach the programs and remove every pin under --bpffs\n"
	"\n"
	"Options:\n"
	"  --audit           the policy is in Audit mode\n"
	"  --sample N        one flow event per N packets (at load; default 1024, 0 none)\n"
	"  -h, --help        this text;  --version;  -v N  log verbosity\n"
	"\n"
	"Example:\n"
	"  netpolicy_ctl apply --bpffs /sys/fs/bpf/bulwark --cgroup-root "
	"/sys/fs/cgroup/unified/kubepods \\\n"
	"      --pod /sys/fs/cgroup/unified/kubepods/pod1 --policy net.json\n";

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmd_apply(struct net_loader *l, uint64_t id, const char *pod, const char *file,
		     bool audit)
{
	json_error_t jerr;
	double t0 = now_ms();
	json_t *section = json_load_file(file, 0, &jerr);
	if (!section) {
		log_error(-EINVAL, "cannot read the policy", "file", file, "detail", jerr.text);
		return 1;
	}
	struct policy_section s = {.policy = "cli/policy", .audit = audit, .section = section};
	struct field_error err = {0};
	json_t *compiled = NULL;
	int r = netpolicy_compile(&s, 1, &compiled, &err);
	json_decref(section);
	double t1 = now_ms();
	if (r >= 0)
		r = net_apply_pod(l, id, pod, compiled, &err);
	json_decref(compiled);
	double t2 = now_ms();
	if (r < 0) {
		char msg[1024];
		log_error(r, "cannot apply the policy", "detail",
			  field_error_str(&err, msg, sizeof(msg)));
		return 1;
	}
	printf("{\"compile_ms\":%.1f,\"apply_ms\":%.1f}\n", t1 - t0, t2 - t1);
	return 0;
}

static int cmd_counters(struct net_loader *l, uint64_t id)
{
	static const char *const dirs[] = {"egress", "ingress"};
	static const char *const verdicts[] = {"allow", "deny", "audit"};
	struct net_pod_counters c;
	int r = net_read_pod_counters(l, id, &c);
	if (r < 0) {
		log_error(r, "cannot read the counters");
		return 1;
	}
	printf("{");
	for (int d = 0; d < NP_DIRECTIONS; d++)
		for (int v = 0; v < NP_VERDICTS; v++)
			printf("%s\"%s_%s\":{\"bytes\":%llu,\"packets\":%llu}", d || v ? "," : "",
			       dirs[d], verdicts[v], (unsigned long long)c.bytes[d][v],
			       (unsigned long long)c.packets[d][v]);
	printf("}\n");
	return 0;
}

static int cmd_stats(struct net_loader *l)
{
	struct net_stats st;
	int r = net_read_stats(l, &st);
	if (r < 0) {
		log_error(r, "cannot read the stats");
		return 1;
	}
	printf("{\"flow_events_lost\":%llu,\"parse_errors\":%llu,\"flow_table_errors\":%llu,"
	       "\"replies\":%llu}\n",
	       (unsigned long long)st.flow_events_lost, (unsigned long long)st.parse_errors,
	       (unsigned long long)st.flow_table_errors, (unsigned long long)st.replies);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{"bpffs", required_argument, NULL, 'b'},
		{"cgroup-root", required_argument, NULL, 'c'},
		{"pod", required_argument, NULL, 'p'},
		{"policy", required_argument, NULL, 'f'},
		{"audit", no_argument, NULL, 'a'},
		{"sample", required_argument, NULL, 's'},
		{0},
	};
	const char *bpffs = NULL, *root = NULL, *pod = NULL, *file = NULL;
	bool audit = false;
	unsigned sample = 1024;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (opt) {
		case 'b': bpffs = optarg; break;
		case 'c': root = optarg; break;
		case 'p': pod = optarg; break;
		case 'f': file = optarg; break;
		case 'a': audit = true; break;
		case 's': sample = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			r = cli_common_option(opt, optarg, "netpolicy_ctl", usage);
			if (r == 0)
				return 0;
			if (r < 0)
				return cli_usage_error("netpolicy_ctl", "unknown option");
		}
	}
	if (optind != argc - 1 || !bpffs)
		return cli_usage_error("netpolicy_ctl", "a COMMAND and --bpffs are required");
	const char *cmd = argv[optind];
	if (strcmp(cmd, "cleanup") == 0) {
		r = net_loader_cleanup_all(bpffs);
		if (r < 0)
			log_error(r, "cleanup failed", "bpffs", bpffs);
		return r < 0;
	}
	if (!root)
		return cli_usage_error("netpolicy_ctl", "--cgroup-root is required");

	struct net_loader_opts lo = {
		.bpffs_dir = bpffs, .cgroup_root = root, .flow_sample_rate = sample};
	struct net_loader *l = NULL;
	r = net_loader_open_opts(&lo, &l);
	if (r < 0) {
		log_error(r, "cannot load the network programs", "bpffs", bpffs, "cgroup_root",
			  root);
		return 1;
	}
	uint64_t id = 0;
	if (strcmp(cmd, "stats") != 0) {
		if (!pod) {
			net_loader_free(l);
			return cli_usage_error("netpolicy_ctl", "--pod is required");
		}
		r = net_cgroup_id(pod, &id);
		if (r < 0) {
			log_error(r, "not a cgroup directory", "pod", pod);
			net_loader_free(l);
			return 1;
		}
	}
	int rc;
	if (strcmp(cmd, "apply") == 0 && file)
		rc = cmd_apply(l, id, pod, file, audit);
	else if (strcmp(cmd, "remove") == 0)
		rc = net_remove_pod(l, id) < 0;
	else if (strcmp(cmd, "counters") == 0)
		rc = cmd_counters(l, id);
	else if (strcmp(cmd, "stats") == 0)
		rc = cmd_stats(l);
	else
		rc = cli_usage_error("netpolicy_ctl",
				     "unknown command %s (or apply without --policy)", cmd);
	net_loader_free(l);
	return rc;
}
