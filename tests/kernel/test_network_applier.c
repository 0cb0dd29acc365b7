/* The agent's network applier with the real BPF programs: a policy that arrives before its
 * pod's cgroup exists is bound when the watcher reports the cgroup, real packets from a
 * process in that cgroup are then judged by it (a UDP send to a denied loopback address
 * fails with EPERM, another passes), the deny is counted in /metrics, and removing the pod
 * lifts the policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cmocka.h>

#include "fileio.h"
#include "metrics.h"
#include "netpolicy/netpolicy.h"
#include "cgroup2.h"
#include "nodeagent/cgroup_watch.h"
#include "nodeagent/net/net_loader.h"
#include "nodeagent/net/net_applier.h"

#define UID "7e57a991-0000-4000-8000-000000000001"

static char cgroup2[64], root[128], pod_dir[256], bpffs[128];

static void on_event(const struct cgroup_event *ev, void *userdata)
{
	net_applier_cgroup_event(userdata, ev);
}

/* A child joins the pod cgroup, then sends one UDP datagram; the exit code is 0 when the
 * send succeeded and the errno otherwise. */
static int send_from_pod(const char *addr)
{
	pid_t pid = fork();
	if (pid == 0) {
		char procs[300];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", pod_dir);
		FILE *f = fopen(procs, "we");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0)
			_exit(100);
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
		inet_pton(AF_INET, addr, &to.sin_addr);
		ssize_t n = sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
		_exit(n == 1 ? 0 : errno);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *compiled_pod(void)
{
	json_t *section =
		json_loads("{\"egress\":{\"defaultAction\":\"Allow\",\"rules\":[{\"action\":"
			   "\"Deny\",\"cidrs\":[\"127.0.0.2/32\"],\"protocol\":\"UDP\"}]}}",
			   0, NULL);
	struct policy_section ps = {.policy = "test/deny-loopback-2", .section = section};
	json_t *network = NULL;
	struct field_error err = {0};
	assert_int_equal(netpolicy_compile(&ps, 1, &network, &err), 0);
	json_decref(section);
	return json_pack("{s:{s:s,s:s,s:s},s:s,s:o}", "pod", "namespace", "shop", "name", "web-1",
			 "uid", UID, "hash", "0000", "network", network);
}

static void pending_policy_binds_when_cgroup_appears(void **state)
{
	struct net_applier *n;
	assert_int_equal(net_applier_new(root, bpffs, 1, &n), 0);
	struct applier ops = net_applier_ops(n);
	json_t *pod = compiled_pod();
	struct field_error err = {0};

	/* No pod cgroup yet: accepted and kept pending. */
	assert_int_equal(ops.apply_pod(ops.ctx, pod, NULL, &err), 0);

	struct cgroup_watch *w;
	assert_int_equal(cgroup_watch_new(root, on_event, n, &w), 0);
	assert_int_equal(mkdir(pod_dir, 0755), 0);
	struct pollfd p = {.fd = cgroup_watch_fd(w), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(cgroup_watch_process(w), 0);

	assert_int_equal(send_from_pod("127.0.0.2"), EPERM);
	assert_int_equal(send_from_pod("127.0.0.1"), 0);

	struct buf text = BUF_INIT(1 << 20);
	assert_int_equal(net_applier_collect(&text, n), 0);
	assert_non_null(strstr(buf_str(&text),
			       "bulwark_pod_network_packets_total{namespace=\"shop\","
			       "pod=\"web-1\",direction=\"egress\",verdict=\"deny\"} 1\n"));
	buf_free(&text);

	/* Every packet is sampled here: the denied send is in the flow log as a JSON line. */
	const char *flow_log = "/tmp/bulwark-test-flows.jsonl";
	unlink(flow_log);
	assert_true(net_applier_drain_flows(n, flow_log) >= 1);
	struct buf flows = BUF_INIT(1 << 20);
	assert_int_equal(read_file_capped(flow_log, &flows), 0);
	assert_non_null(strstr(buf_str(&flows), "\"pod\":\"shop/web-1\""));
	assert_non_null(strstr(buf_str(&flows), "\"verdict\":\"deny\""));
	assert_non_null(strstr(buf_str(&flows), "\"dst\":\"127.0.0.2\""));
	buf_free(&flows);
	unlink(flow_log);

	/* Removing the pod lifts the policy. */
	assert_int_equal(ops.remove_pod(ops.ctx, pod), 0);
	assert_int_equal(send_from_pod("127.0.0.2"), 0);

	cgroup_watch_free(w);
	net_applier_free(n);
	json_decref(pod);
}

static void existing_cgroup_is_found_at_apply(void **state)
{
	assert_int_equal(mkdir(pod_dir, 0755), 0);
	struct net_applier *n;
	assert_int_equal(net_applier_new(root, bpffs, 1, &n), 0);
	struct applier ops = net_applier_ops(n);
	json_t *pod = compiled_pod();
	struct field_error err = {0};
	assert_int_equal(ops.apply_pod(ops.ctx, pod, NULL, &err), 0);
	assert_int_equal(send_from_pod("127.0.0.2"), EPERM);
	/* A compiled policy without a network section removes the pod's rules. */
	json_object_del(pod, "network");
	assert_int_equal(ops.apply_pod(ops.ctx, pod, NULL, &err), 0);
	assert_int_equal(send_from_pod("127.0.0.2"), 0);
	net_applier_free(n);
	json_decref(pod);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "%s/bulwark-test-netapp-%d", cgroup2, getpid());
	snprintf(pod_dir, sizeof(pod_dir), "%s/kubepods/besteffort/pod" UID, root);
	snprintf(bpffs, sizeof(bpffs), "/sys/fs/bpf/bulwark-test-netapp-%d", getpid());
	char p[256];
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/kubepods", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/kubepods/besteffort", root);
	return mkdir(p, 0755);
}

static int teardown(void **state)
{
	net_loader_cleanup_all(bpffs);
	rmdir(bpffs);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "find %s -depth -type d -exec rmdir {} + 2>/dev/null", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	struct statfs s;
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	if (test_cgroup2_mount(cgroup2, sizeof(cgroup2)) < 0) {
		printf("1..0 # SKIP no cgroup2 filesystem mounted (at a path of under 64 bytes) in "
		       "/proc/self/mountinfo\n");
		return 77;
	}
	if (statfs("/sys/fs/bpf", &s) != 0 || (long)s.f_type != BPF_FS_MAGIC)
		mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pending_policy_binds_when_cgroup_appears, setup,
						teardown),
		cmocka_unit_test_setup_teardown(existing_cgroup_is_found_at_apply, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
