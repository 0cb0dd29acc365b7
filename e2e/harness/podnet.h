/* A pod's network: a network namespace "bwpod-<uid>", a veth pair "bwpod<NNNN>" (host) /
 * eth0 (pod) on a /30 from 198.19.0.0/16 (the RFC 2544 benchmarking range, never routed
 * on the Internet): slot N owns 198.19.0.0 + 4N; the host side is .1, the pod .2, and the
 * pod's default route points at the host side. The host reaches every pod by the connected
 * route; pods reach the host at their gateway. Forwarding is never enabled, so pods do not
 * reach each other or anything beyond this host. */
#pragma once

#include <stddef.h>

#define PODNET_SLOTS 16384

struct podnet {
	char netns[64];	     /* "bwpod-<uid>" */
	char netns_path[96]; /* /run/netns/... */
	char host_if[16];    /* "bwpod<hex slot>" */
	char pod_ip[16];
	char gateway[16];
	int slot;
};

/* Claims an address slot (a file under HARNESS_IPAM_DIR naming the owner), creates the
 * namespace and the veth pair. On failure everything created is removed again; err_out gets
 * the failing command's output. */
int podnet_setup(const char *uid, struct podnet *ret, char *err_out, size_t err_n);
/* Deletes the namespace (the veth pair goes with it) and releases the slot. Idempotent. */
int podnet_teardown(const struct podnet *net);
/* Recomputes names and addresses of a slot (used when reloading state). */
void podnet_describe(const char *uid, int slot, struct podnet *ret);
