#include "podnet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "harness.h"
#include "proc.h"

void podnet_describe(const char *uid, int slot, struct podnet *ret)
{
	unsigned base = ((unsigned)slot % PODNET_SLOTS) * 4; /* < 65536: two octets */
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->netns, sizeof(ret->netns), "bwpod-%.40s", uid);
	snprintf(ret->netns_path, sizeof(ret->netns_path), "/run/netns/%s", ret->netns);
	snprintf(ret->host_if, sizeof(ret->host_if), "bwpod%04x", (unsigned)slot);
	snprintf(ret->gateway, sizeof(ret->gateway), "198.19.%u.%u", (base >> 8) & 255,
		 (base & 252) + 1);
	snprintf(ret->pod_ip, sizeof(ret->pod_ip), "198.19.%u.%u", (base >> 8) & 255,
		 (base & 252) + 2);
	ret->slot = slot;
}

static int slot_path(int slot, char *out, size_t n)
{
	return (size_t)snprintf(out, n, "%s/%d", HARNESS_IPAM_DIR, slot) < n ? 0 : -ENAMETOOLONG;
}

static int claim_slot(const char *uid, int *ret)
{
	if (mkdir(HARNESS_IPAM_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Start at a uid-derived slot so concurrent harnesses rarely race for the same file. */
	unsigned h = 2166136261u;
	for (const char *p = uid; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (int i = 0; i < PODNET_SLOTS; i++) {
		int slot = (int)((h + (unsigned)i) % PODNET_SLOTS);
		char path[256];
		slot_path(slot, path, sizeof(path));
		_cleanup_close_ int fd =
			open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		dprintf(fd, "%s\n", uid);
		*ret = slot;
		return 0;
	}
	return -ENOSPC;
}

static void release_slot(int slot)
{
	char path[256];
	if (slot >= 0 && slot_path(slot, path, sizeof(path)) == 0)
		unlink(path);
}

#define IP(...)                                                      \
	do {                                                         \
		buf_reset(&out);                                     \
		r = harness_run_cmdl(&out, "ip", __VA_ARGS__, NULL); \
		if (r != 0)                                          \
			goto fail;                                   \
	} while (0)

int podnet_setup(const char *uid, struct podnet *ret, char *err_out, size_t err_n)
{
	struct podnet net;
	int slot = -1, r;
	if ((r = claim_slot(uid, &slot)) < 0)
		return r;
	podnet_describe(uid, slot, &net);
	char host_cidr[32], pod_cidr[32];
	snprintf(host_cidr, sizeof(host_cidr), "%s/30", net.gateway);
	snprintf(pod_cidr, sizeof(pod_cidr), "%s/30", net.pod_ip);

	_cleanup_buf_ struct buf out = BUF_INIT(4096);
	IP("netns", "add", net.netns);
	IP("link", "add", net.host_if, "type", "veth", "peer", "name", "eth0", "netns", net.netns);
	IP("addr", "add", host_cidr, "dev", net.host_if);
	IP("link", "set", net.host_if, "up");
	IP("-n", net.netns, "link", "set", "lo", "up");
	IP("-n", net.netns, "addr", "add", pod_cidr, "dev", "eth0");
	IP("-n", net.netns, "link", "set", "eth0", "up");
	IP("-n", net.netns, "route", "add", "default", "via", net.gateway);
	*ret = net;
	return 0;
fail:
	if (err_out)
		snprintf(err_out, err_n, "%s", buf_str(&out));
	podnet_teardown(&net);
	return r < 0 ? r : -EIO;
}

int podnet_teardown(const struct podnet *net)
{
	int ret = 0;
	if (access(net->netns_path, F_OK) == 0 &&
	    harness_run_cmdl(NULL, "ip", "netns", "delete", net->netns, NULL) != 0)
		ret = -EIO;
	/* The host end normally dies with its peer; remove it in case the pair was half made. */
	char sys[128];
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", net->host_if);
	if (access(sys, F_OK) == 0 &&
	    harness_run_cmdl(NULL, "ip", "link", "delete", net->host_if, NULL) != 0 &&
	    access(sys, F_OK) == 0)
		ret = -EIO; /* still there: not just the kernel finishing the peer's removal */
	release_slot(net->slot);
	return ret;
}
