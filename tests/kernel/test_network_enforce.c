/* The network applier in the real kernel: real traffic between network namespaces, sent by
 * processes inside "pod" cgroups under a test pod root, judged by nodeagent/net/net.bpf.c with
 * policies compiled by lib/netpolicy and installed by nodeagent/net.
 *
 * Topology (all in namespaces and cgroups this test creates and removes):
 *   netns bwt<pid>pod:  veth 192.0.2.2/24 2001:db8:1::2/64, routes via the peer
 *   netns bwt<pid>peer: veth 192.0.2.1/24 2001:db8:1::1/64, lo 198.51.100.1-9/32 and
 *                       2001:db8:2::1-9/128; TCP echo on 80 443 8080 9000, UDP echo on 53 5353
 *   cgroups /sys/fs/cgroup/unified/bulwark-test-<pid>/{a,b,c}: the pods; pod a also runs a TCP
 *   echo server on 8080 (for ingress) in the pod netns. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup2.h"
#include "nodeagent/net/net_loader.h"
#include "netpolicy/netpolicy.h"

enum { BLOCKED = 1, DELIVERED = 0 };

static char cgroup2[64], root_cg[256], pod_cg[3][300], bpffs_dir[256], ns_pod[64], ns_peer[64];
static uint64_t pod_id[3];
static pid_t servers[2];
static struct net_loader *loader;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int enter_netns(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int enter_pod(int pod)
{
	char procs[400];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", pod_cg[pod]);
	if (write_str(procs, "0") < 0)
		return -1;
	return enter_netns(ns_pod);
}

static int make_sockaddr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	return -1;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

/* One exchange from the calling process: DELIVERED when the echo (or ICMP reply) came back. */
static int exchange(const char *proto, const char *addr, int port, size_t payload)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family = make_sockaddr(addr, port, &ss, &len);
	char buf[2048] = {0}, in[2048];
	int fd, type = SOCK_STREAM, ipproto = 0;

	if (family < 0 || payload > sizeof(buf))
		return 2;
	if (strcmp(proto, "udp") == 0)
		type = SOCK_DGRAM;
	else if (strcmp(proto, "icmp") == 0) {
		type = SOCK_DGRAM;
		ipproto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		((struct sockaddr_in *)&ss)->sin_port = 0;
		if (family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		buf[0] = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
		payload = payload < 8 ? 8 : payload;
	}
	fd = socket(family, type | SOCK_CLOEXEC, ipproto);
	if (fd < 0)
		return 3;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (type == SOCK_STREAM) {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
		    send(fd, buf, payload, MSG_NOSIGNAL) != (ssize_t)payload)
			goto blocked;
		size_t got = 0;
		while (got < payload && wait_readable(fd, 1000)) {
			ssize_t n = recv(fd, in, sizeof(in), 0);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		return got == payload ? DELIVERED : BLOCKED;
	}
	if (sendto(fd, buf, payload, 0, (struct sockaddr *)&ss, len) != (ssize_t)payload)
		goto blocked;
	if (!wait_readable(fd, 1000) || recv(fd, in, sizeof(in), 0) <= 0)
		goto blocked;
	close(fd);
	return DELIVERED;
blocked:
	close(fd);
	return BLOCKED;
}

/* Runs exchange() in a child that first joins pod `pod` (cgroup, then netns), or the peer
 * netns when pod < 0. */
static int probe(int pod, const char *proto, const char *addr, int port)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (pod >= 0 ? enter_pod(pod) < 0 : enter_netns(ns_peer) < 0)
			_exit(4);
		_exit(exchange(proto, addr, port, 64));
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define assert_delivered(pod, proto, addr, port) \
	assert_int_equal(probe(pod, proto, addr, port), DELIVERED)
#define assert_blocked(pod, proto, addr, port) \
	assert_int_equal(probe(pod, proto, addr, port), BLOCKED)

static int listen_on(int family, int type, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	make_sockaddr(family == AF_INET ? "0.0.0.0" : "::", port, &ss, &len);
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM && family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (type == SOCK_DGRAM && family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Answers from the address the datagram was sent to (as a real server bound to it would), so
 * the reply is the reverse of the request's 5-tuple. */
static void echo_datagram(int fd)
{
	char buf[4096], cbuf[256];
	struct sockaddr_storage from;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr m = {.msg_name = &from,
			   .msg_namelen = sizeof(from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(fd, &m, 0);
	if (n <= 0)
		return;
	iov.iov_len = (size_t)n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex = 0;
	}
	sendmsg(fd, &m, 0);
}

/* Echo servers in a child: TCP echoes one read per connection, UDP echoes each datagram. */
static pid_t start_echo_server(int pod, const int *tcp, size_t ntcp, const int *udp, size_t nudp)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (pod >= 0 ? enter_pod(pod) < 0 : enter_netns(ns_peer) < 0)
		_exit(1);
	struct pollfd fds[32];
	int kinds[32];
	size_t n = 0;
	for (int fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;
		for (size_t i = 0; i < ntcp; i++) {
			kinds[n] = SOCK_STREAM;
			fds[n++] = (struct pollfd){.fd = listen_on(family, SOCK_STREAM, tcp[i]),
						   .events = POLLIN};
		}
		for (size_t i = 0; i < nudp; i++) {
			kinds[n] = SOCK_DGRAM;
			fds[n++] = (struct pollfd){.fd = listen_on(family, SOCK_DGRAM, udp[i]),
						   .events = POLLIN};
		}
	}
	for (;;) {
		if (poll(fds, n, -1) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char buf[4096];
			if (!(fds[i].revents & POLLIN))
				continue;
			if (kinds[i] == SOCK_DGRAM) {
				echo_datagram(fds[i].fd);
				continue;
			}
			int c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (wait_readable(c, 1000)) {
				ssize_t r = recv(c, buf, sizeof(buf), 0);
				if (r > 0)
					send(c, buf, (size_t)r, MSG_NOSIGNAL);
			}
			close(c);
		}
	}
}

static json_t *compile_sections(const char *const *texts, const bool *audit, size_t n)
{
	struct policy_section s[4];
	json_t *parsed[4];
	json_t *out = NULL;
	struct field_error err = {0};

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++) {
		json_error_t jerr;
		parsed[i] = json_loads(texts[i], 0, &jerr);
		if (!parsed[i])
			fail_msg("bad test JSON: %s", jerr.text);
		s[i] = (struct policy_section){
			.policy = "test/p", .audit = audit[i], .section = parsed[i]};
	}
	int r = netpolicy_compile(s, n, &out, &err);
	for (size_t i = 0; i < n; i++)
		json_decref(parsed[i]);
	if (r < 0)
		fail_msg("compile: %s: %s", err.field, err.reason);
	return out;
}

static void apply_text(int pod, const char *text, bool audit)
{
	json_t *c = compile_sections(&text, &audit, 1);
	struct field_error err = {0};
	char key[32];
	snprintf(key, sizeof(key), "test/pod-%c", 'a' + pod);
	int r = net_apply_pod(loader, pod_id[pod], key, c, &err);
	json_decref(c);
	if (r < 0)
		fail_msg("apply: %s (%s: %s)", strerror(-r), err.field, err.reason);
}

static void teardown_all(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	for (size_t i = 0; i < 2; i++)
		if (servers[i] > 0) {
			kill(servers[i], SIGKILL);
			waitpid(servers[i], NULL, 0);
		}
	loader = net_loader_free(loader);
	if (bpffs_dir[0])
		net_loader_cleanup_all(bpffs_dir);
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_pod, ns_peer);
	for (int i = 0; i < 3; i++)
		if (pod_cg[i][0])
			rmdir(pod_cg[i]);
	if (root_cg[0])
		rmdir(root_cg);
}

static void on_signal(int sig)
{
	teardown_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int setup_topology(void)
{
	int pid = getpid();
	snprintf(root_cg, sizeof(root_cg), "%s/bulwark-test-%d", cgroup2, pid);
	snprintf(bpffs_dir, sizeof(bpffs_dir), "/sys/fs/bpf/bulwark-test-%d", pid);
	snprintf(ns_pod, sizeof(ns_pod), "bwt%dpod", pid);
	snprintf(ns_peer, sizeof(ns_peer), "bwt%dpeer", pid);
	if (mkdir(root_cg, 0755) < 0)
		return -errno;
	for (int i = 0; i < 3; i++) {
		snprintf(pod_cg[i], sizeof(pod_cg[i]), "%s/%c", root_cg, 'a' + i);
		if (mkdir(pod_cg[i], 0755) < 0 || net_cgroup_id(pod_cg[i], &pod_id[i]) < 0)
			return -errno;
	}
	if (sh("set -e; ip netns add %1$s; ip netns add %2$s;"
	       "ip link add bwt%3$d type veth peer name bwt%3$dp;"
	       "ip link set bwt%3$d netns %1$s; ip link set bwt%3$dp netns %2$s;"
	       "ip -n %1$s link set lo up; ip -n %2$s link set lo up;"
	       "ip -n %1$s link set bwt%3$d up; ip -n %2$s link set bwt%3$dp up;"
	       "ip -n %1$s addr add 192.0.2.2/24 dev bwt%3$d;"
	       "ip -n %2$s addr add 192.0.2.1/24 dev bwt%3$dp;"
	       "ip -n %1$s addr add 2001:db8:1::2/64 dev bwt%3$d nodad;"
	       "ip -n %2$s addr add 2001:db8:1::1/64 dev bwt%3$dp nodad;"
	       "ip -n %1$s route add default via 192.0.2.1;"
	       "ip -n %1$s -6 route add default via 2001:db8:1::1;"
	       "for i in 1 2 3 4 5 6 7 8 9; do ip -n %2$s addr add 198.51.100.$i/32 dev lo;"
	       " ip -n %2$s addr add 2001:db8:2::$i/128 dev lo nodad; done;"
	       "ip netns exec %1$s sysctl -qw net.ipv4.ping_group_range='0 2147483647'",
	       ns_pod, ns_peer, pid) != 0)
		return -EIO;
	static const int peer_tcp[] = {80, 443, 8080, 9000}, peer_udp[] = {53, 5353};
	static const int pod_tcp[] = {8080}, pod_udp[] = {8053};
	servers[0] = start_echo_server(-1, peer_tcp, 4, peer_udp, 2);
	servers[1] = start_echo_server(0, pod_tcp, 1, pod_udp, 1);
	usleep(300 * 1000);

	struct net_loader_opts opts = {
		.bpffs_dir = bpffs_dir, .cgroup_root = root_cg, .flow_sample_rate = 1};
	return net_loader_open_opts(&opts, &loader);
}

static int group_setup(void **state)
{
	int r = setup_topology();
	if (r < 0) {
		fprintf(stderr, "setup failed: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	teardown_all();
	return 0;
}

static int reset_pods(void **state)
{
	if (!loader)
		return -1;
	for (int i = 0; i < 3; i++)
		net_remove_pod(loader, pod_id[i]);
	return 0;
}

static void test_unselected_pod_passes(void **state)
{
	assert_delivered(0, "tcp", "198.51.100.1", 80);
	assert_delivered(0, "udp", "2001:db8:2::1", 53);
	assert_delivered(0, "icmp", "198.51.100.1", 0);
	assert_delivered(-1, "tcp", "192.0.2.2", 8080);
}

static void test_egress_cidr_and_except_v4(void **state)
{
	apply_text(0,
		   "{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":[{\"cidrs\":[\"198.51.100.0/"
		   "29\"],\"except\":[\"198.51.100.4/30\"]}]}}",
		   false);
	assert_delivered(0, "tcp", "198.51.100.1", 80);
	assert_delivered(0, "tcp", "198.51.100.3", 443);
	assert_blocked(0, "tcp", "198.51.100.5", 80);  /* except */
	assert_blocked(0, "tcp", "198.51.100.9", 80);  /* outside the /29 */
	assert_blocked(0, "tcp", "2001:db8:2::1", 80); /* no IPv6 rule */
	/* A pod without a policy next to it is untouched. */
	assert_delivered(1, "tcp", "198.51.100.9", 80);
}

static void test_ports_ranges_protocols_v4(void **state)
{
	apply_text(
		0,
		"{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":["
		"{\"cidrs\":[\"198.51.100.0/24\"],\"protocol\":\"TCP\",\"ports\":[{\"port\":80},"
		"{\"port\":8000,\"endPort\":8100}]},"
		"{\"cidrs\":[\"198.51.100.1/32\"],\"protocol\":\"UDP\",\"ports\":[{\"port\":53}]},"
		"{\"cidrs\":[\"198.51.100.2/32\"],\"protocol\":\"ICMP\"}]}}",
		false);
	assert_delivered(0, "tcp", "198.51.100.1", 80);
	assert_delivered(0, "tcp", "198.51.100.7", 8080); /* range */
	assert_blocked(0, "tcp", "198.51.100.1", 443);
	assert_blocked(0, "tcp", "198.51.100.1", 9000);
	assert_delivered(0, "udp", "198.51.100.1", 53);
	assert_blocked(0, "udp", "198.51.100.1", 5353);
	assert_blocked(0, "udp", "198.51.100.2", 53);
	assert_delivered(0, "icmp", "198.51.100.2", 0);
	assert_blocked(0, "icmp", "198.51.100.1", 0);
}

static void test_deny_beats_allow(void **state)
{
	apply_text(0,
		   "{\"egress\":{\"rules\":["
		   "{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.0/24\"],\"protocol\":\"TCP\","
		   "\"ports\":[{\"port\":443}]},"
		   "{\"cidrs\":[\"198.51.100.3/32\"],\"protocol\":\"TCP\"}]}}",
		   false);
	assert_blocked(0, "tcp", "198.51.100.3", 443);
	assert_delivered(0, "tcp", "198.51.100.3", 80);
	assert_delivered(0, "tcp", "198.51.100.4", 80); /* default Allow */
	assert_blocked(0, "tcp", "198.51.100.4", 443);
}

static void test_ipv6_rules(void **state)
{
	apply_text(0,
		   "{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":["
		   "{\"cidrs\":[\"2001:db8:2::/64\"],\"except\":[\"2001:db8:2::4/126\"],"
		   "\"protocol\":\"TCP\",\"ports\":[{\"port\":80}]},"
		   "{\"cidrs\":[\"2001:db8:2::1/"
		   "128\"],\"protocol\":\"UDP\",\"ports\":[{\"port\":53}]},"
		   "{\"cidrs\":[\"2001:db8:2::2/128\"],\"protocol\":\"ICMPv6\"}]}}",
		   false);
	assert_delivered(0, "tcp", "2001:db8:2::1", 80);
	assert_delivered(0, "tcp", "2001:db8:2::9", 80);
	assert_blocked(0, "tcp", "2001:db8:2::5", 80); /* except */
	assert_blocked(0, "tcp", "2001:db8:2::1", 443);
	assert_delivered(0, "udp", "2001:db8:2::1", 53);
	assert_blocked(0, "udp", "2001:db8:2::2", 53);
	assert_delivered(0, "icmp", "2001:db8:2::2", 0);
	assert_blocked(0, "icmp", "2001:db8:2::1", 0);
	assert_blocked(0, "tcp", "198.51.100.1", 80); /* no IPv4 rule */
}

static void test_ingress_and_replies(void **state)
{
	/* Default-deny ingress: the pod's own connections still get their answers. */
	apply_text(0, "{\"ingress\":{\"defaultAction\":\"Deny\"}}", false);
	assert_delivered(0, "tcp", "198.51.100.1", 80);
	assert_delivered(0, "udp", "2001:db8:2::1", 53);
	assert_delivered(0, "icmp", "198.51.100.1", 0);
	assert_blocked(-1, "tcp", "192.0.2.2", 8080);
	assert_blocked(-1, "tcp", "2001:db8:1::2", 8080);

	/* Default-deny egress too: connections the ingress rule lets in are answered. */
	apply_text(
		0,
		"{\"egress\":{\"defaultAction\":\"Deny\"},\"ingress\":{\"defaultAction\":\"Deny\","
		"\"rules\":[{\"cidrs\":[\"192.0.2.1/32\",\"2001:db8:1::1/128\"],"
		"\"protocol\":\"TCP\",\"ports\":[{\"port\":8080}]}]}}",
		false);
	assert_delivered(-1, "tcp", "192.0.2.2", 8080);
	assert_delivered(-1, "tcp", "2001:db8:1::2", 8080);
	assert_blocked(0, "tcp", "198.51.100.1", 80);
	assert_blocked(-1, "udp", "192.0.2.2", 8053);
}

static void test_audit_delivers_and_counts(void **state)
{
	struct net_pod_counters c;

	apply_text(2, "{\"egress\":{\"defaultAction\":\"Deny\"}}", true);
	assert_delivered(2, "udp", "198.51.100.1", 53);
	assert_int_equal(net_read_pod_counters(loader, pod_id[2], &c), 0);
	assert_int_equal(c.packets[NP_EGRESS][NP_VERDICT_AUDIT], 1);
	assert_int_equal(c.packets[NP_EGRESS][NP_VERDICT_DENY], 0);
	/* The reply belongs to a connection that was let through: allowed, not audited. */
	assert_int_equal(c.packets[NP_INGRESS][NP_VERDICT_ALLOW], 1);
	assert_int_equal(c.packets[NP_INGRESS][NP_VERDICT_AUDIT], 0);
}

struct seen_pod {
	uint64_t want_id;
	bool seen;
	char key[64];
	struct net_pod_counters c;
};

static int find_pod_cb(uint64_t cgroup_id, const char *pod_key, const struct net_pod_counters *c,
		       void *userdata)
{
	struct seen_pod *s = userdata;
	if (cgroup_id != s->want_id)
		return 0;
	s->seen = true;
	snprintf(s->key, sizeof(s->key), "%s", pod_key);
	s->c = *c;
	return 0;
}

static void test_counters_exact(void **state)
{
	struct net_pod_counters c;
	pid_t pid;
	int status;

	apply_text(
		2,
		"{\"egress\":{\"rules\":[{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.9/32\"]}]}}",
		false);
	pid = fork();
	if (pid == 0) {
		if (enter_pod(2) < 0)
			_exit(4);
		/* 1000 payload bytes each: IPv4 + UDP headers 28, IPv6 + UDP 48. */
		int a = exchange("udp", "198.51.100.1", 53, 1000);
		int b = exchange("udp", "2001:db8:2::1", 53, 1000);
		int d = exchange("udp", "198.51.100.9", 53, 1000);
		_exit(a == DELIVERED && b == DELIVERED && d == BLOCKED ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(net_read_pod_counters(loader, pod_id[2], &c), 0);
	assert_int_equal(c.packets[NP_EGRESS][NP_VERDICT_ALLOW], 2);
	assert_int_equal(c.bytes[NP_EGRESS][NP_VERDICT_ALLOW], 1028 + 1048);
	assert_int_equal(c.packets[NP_INGRESS][NP_VERDICT_ALLOW], 2);
	assert_int_equal(c.bytes[NP_INGRESS][NP_VERDICT_ALLOW], 1028 + 1048);
	assert_int_equal(c.packets[NP_EGRESS][NP_VERDICT_DENY], 1);
	assert_int_equal(c.bytes[NP_EGRESS][NP_VERDICT_DENY], 1028);

	/* The same numbers through the iteration the metrics exporter uses. */
	struct seen_pod found = {.want_id = pod_id[2]};
	assert_int_equal(net_foreach_pod(loader, find_pod_cb, &found), 0);
	assert_true(found.seen);
	assert_string_equal(found.key, "test/pod-c");
	assert_memory_equal(&found.c, &c, sizeof(c));

	/* The same traffic in the top talkers. */
	struct net_talker *t = NULL;
	size_t n = 0;
	bool seen = false;
	assert_int_equal(net_top_talkers(loader, pod_id[2], 16, &t, &n), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t want[4] = {198, 51, 100, 1};
		if (t[i].dir == NP_EGRESS && t[i].family == 4 && t[i].port == 53 &&
		    memcmp(t[i].addr, want, 4) == 0) {
			assert_int_equal(t[i].bytes, 1028);
			assert_string_equal(t[i].pod_key, "test/pod-c");
			seen = true;
		}
	}
	free(t);
	assert_true(seen);
}

struct flow_seen {
	bool deny_to_9;
};

static void on_flow(const struct net_flow_event *e, void *userdata)
{
	struct flow_seen *s = userdata;
	const uint8_t nine[4] = {198, 51, 100, 9};
	if (e->verdict == NP_VERDICT_DENY && e->dir == NP_EGRESS && e->family == 4 &&
	    memcmp(e->daddr, nine, 4) == 0 && e->dport == 53 &&
	    strcmp(e->pod_key, "test/pod-c") == 0)
		s->deny_to_9 = true;
}

static void test_flow_events(void **state)
{
	struct flow_seen seen = {0};
	struct net_stats st;

	apply_text(
		2,
		"{\"egress\":{\"rules\":[{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.9/32\"]}]}}",
		false);
	/* Drain what earlier tests left, then make one denied packet. */
	while (net_poll_flows(loader, 0, on_flow, &seen) > 0)
		;
	seen.deny_to_9 = false;
	assert_blocked(2, "udp", "198.51.100.9", 53);
	for (int i = 0; i < 20 && !seen.deny_to_9; i++)
		assert_true(net_poll_flows(loader, 100, on_flow, &seen) >= 0);
	assert_true(seen.deny_to_9);
	assert_int_equal(net_read_stats(loader, &st), 0);
	assert_true(st.replies > 0);
}

/* The child joins the cgroup and sends to a denied address as its very first action. */
static void test_policy_before_first_packet(void **state)
{
	struct net_pod_counters c;

	apply_text(
		2,
		"{\"egress\":{\"rules\":[{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.8/32\"]}]}}",
		false);
	pid_t sink = fork();
	if (sink == 0) {
		/* Counts what reaches 198.51.100.8:7777 in the peer for a second. */
		if (enter_netns(ns_peer) < 0)
			_exit(100);
		int fd = listen_on(AF_INET, SOCK_DGRAM, 7777);
		char b[64];
		int got = 0;
		while (fd >= 0 && wait_readable(fd, 1500) && recv(fd, b, sizeof(b), 0) > 0)
			got++;
		_exit(fd < 0 ? 100 : got);
	}
	usleep(200 * 1000);
	pid_t pid = fork();
	if (pid == 0) {
		if (enter_pod(2) < 0)
			_exit(4);
		struct sockaddr_storage ss;
		socklen_t len;
		make_sockaddr("198.51.100.8", 7777, &ss, &len);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ssize_t n = sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
		_exit(n < 0 && errno == EPERM ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(sink, &status, 0), sink);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(net_read_pod_counters(loader, pod_id[2], &c), 0);
	assert_int_equal(c.packets[NP_EGRESS][NP_VERDICT_DENY], 1);
}

/* Flip between two different policies that agree on two destinations while a child sends
 * to both as fast as it can: the allowed one must never fail, the denied one never pass. */
static void test_atomic_flips(void **state)
{
	static const char *const a = "{\"egress\":{\"defaultAction\":\"Deny\",\"rules\":["
				     "{\"cidrs\":[\"198.51.100.1/32\"],\"protocol\":\"UDP\"}]}}";
	static const char *const b = "{\"egress\":{\"defaultAction\":\"Allow\",\"rules\":["
				     "{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.0/24\"],"
				     "\"except\":[\"198.51.100.0/31\"]},"
				     "{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.0/24\"],"
				     "\"protocol\":\"TCP\"}]}}";
	long *tally = mmap(NULL, 5 * sizeof(long), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(tally != MAP_FAILED);
	memset(tally, 0, 5 * sizeof(long));

	apply_text(1, a, false);
	pid_t pid = fork();
	if (pid == 0) {
		if (enter_pod(1) < 0)
			_exit(4);
		struct sockaddr_storage ok, no;
		socklen_t len;
		make_sockaddr("198.51.100.1", 5353, &ok, &len);
		make_sockaddr("198.51.100.5", 5353, &no, &len);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		tally[4] = 1;
		while (!tally[3]) {
			/* [0] allowed sends, [1] allowed-but-dropped, [2] denied-but-sent */
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ok, len) == 1)
				tally[0]++;
			else {
				tally[1]++;
				fprintf(stderr, "allowed send failed: %m\n");
			}
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&no, len) == 1)
				tally[2]++;
		}
		_exit(0);
	}
	for (int i = 0; i < 500 && !tally[4]; i++)
		usleep(10 * 1000);
	/* At least 200 flips, and on until the sender has done a fair amount of sending. */
	for (int i = 0; i < 200 || (tally[0] < 20000 && i < 20000); i++)
		apply_text(1, i % 2 ? a : b, false);
	tally[3] = 1;
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	print_message("atomic flips: %ld allowed sends, %ld wrongly dropped, %ld wrongly sent\n",
		      tally[0], tally[1], tally[2]);
	assert_true(tally[0] > 0);
	assert_int_equal(tally[1], 0);
	assert_int_equal(tally[2], 0);
	munmap(tally, 5 * sizeof(long));
}

/* Enforcement outlives the loader; a new loader adopts the pins, counters and policies. */
static void test_survives_restart(void **state)
{
	struct net_pod_counters before, after;

	apply_text(
		0,
		"{\"egress\":{\"rules\":[{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.6/32\"]}]}}",
		false);
	assert_blocked(0, "tcp", "198.51.100.6", 80);
	assert_int_equal(net_read_pod_counters(loader, pod_id[0], &before), 0);
	loader = net_loader_free(loader);
	assert_blocked(0, "tcp", "198.51.100.6", 80); /* no agent running */
	assert_delivered(0, "tcp", "198.51.100.5", 80);

	struct net_loader_opts opts = {
		.bpffs_dir = bpffs_dir, .cgroup_root = root_cg, .flow_sample_rate = 1};
	assert_int_equal(net_loader_open_opts(&opts, &loader), 0);
	assert_int_equal(net_read_pod_counters(loader, pod_id[0], &after), 0);
	assert_true(after.packets[NP_EGRESS][NP_VERDICT_DENY] >
		    before.packets[NP_EGRESS][NP_VERDICT_DENY]);
	assert_blocked(0, "tcp", "198.51.100.6", 80);
	/* The adopted rule set is replaced and freed like any other. */
	apply_text(
		0,
		"{\"egress\":{\"rules\":[{\"action\":\"Deny\",\"cidrs\":[\"198.51.100.5/32\"]}]}}",
		false);
	assert_delivered(0, "tcp", "198.51.100.6", 80);
	assert_blocked(0, "tcp", "198.51.100.5", 80);
	assert_int_equal(net_remove_pod(loader, pod_id[0]), 0);
	assert_delivered(0, "tcp", "198.51.100.5", 80);
}

/* --cleanup: the programs detach with the pins, and the pod's traffic flows again. */
static void test_cleanup_detaches(void **state)
{
	char net[300];

	apply_text(0, "{\"egress\":{\"defaultAction\":\"Deny\"}}", false);
	assert_blocked(0, "tcp", "198.51.100.1", 80);
	loader = net_loader_free(loader);
	assert_blocked(0, "tcp", "198.51.100.1", 80);
	assert_int_equal(net_loader_cleanup_all(bpffs_dir), 0);
	snprintf(net, sizeof(net), "%s/net", bpffs_dir);
	assert_int_equal(access(net, F_OK), -1);
	assert_delivered(0, "tcp", "198.51.100.1", 80);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (test_cgroup2_mount(cgroup2, sizeof(cgroup2)) < 0) {
		printf("SKIP: no cgroup2 filesystem mounted (at a path of under 64 bytes) in "
		       "/proc/self/mountinfo\n");
		return 77;
	}
	if (system("ip netns list >/dev/null 2>&1") != 0) {
		printf("SKIP: iproute2 with netns support is missing\n");
		return 77;
	}
	atexit(teardown_all);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_unselected_pod_passes, reset_pods),
		cmocka_unit_test_setup(test_egress_cidr_and_except_v4, reset_pods),
		cmocka_unit_test_setup(test_ports_ranges_protocols_v4, reset_pods),
		cmocka_unit_test_setup(test_deny_beats_allow, reset_pods),
		cmocka_unit_test_setup(test_ipv6_rules, reset_pods),
		cmocka_unit_test_setup(test_ingress_and_replies, reset_pods),
		cmocka_unit_test_setup(test_audit_delivers_and_counts, reset_pods),
		cmocka_unit_test_setup(test_counters_exact, reset_pods),
		cmocka_unit_test_setup(test_flow_events, reset_pods),
		cmocka_unit_test_setup(test_policy_before_first_packet, reset_pods),
		cmocka_unit_test_setup(test_atomic_flips, reset_pods),
		cmocka_unit_test_setup(test_survives_restart, reset_pods),
		cmocka_unit_test_setup(test_cleanup_detaches, reset_pods),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
