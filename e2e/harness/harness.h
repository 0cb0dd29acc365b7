/* The e2e node harness plays the kubelet's part for pods bound to a test node: it turns a
 * v1 Pod into kubelet-named cgroups, a network namespace with a veth pair, and real runc
 * containers, and reports the pod's status. This header holds what every part shares: the
 * node-wide configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define HARNESS_DEFAULT_CGROUP_NAME  "bulwark-e2e"
#define HARNESS_DEFAULT_KUBELET_ROOT "/var/lib/bulwark-e2e/kubelet"
#define HARNESS_DEFAULT_STATE_DIR    "/run/bulwark-e2e"
/* Shared by every harness instance on the host, whatever its state dir, so two instances
 * never hand out the same pod address. */
#define HARNESS_IPAM_DIR   "/run/bulwark-e2e-ipam"
#define HARNESS_MAX_IMAGES 16

enum harness_cgroup_driver {
	HARNESS_CGROUP_CGROUPFS,
	HARNESS_CGROUP_SYSTEMD,
};

struct image_overlay {
	const char *name; /* image name without registry, tag or digest */
	const char *dir;  /* host directory copied over the busybox base */
};

struct harness_config {
	char cgroup_root[512]; /* absolute, inside the cgroup v2 mount */
	char cgroup_rel[512];  /* the same, relative to the v2 mount ("/bulwark-e2e") */
	enum harness_cgroup_driver cgroup_driver;
	char kubelet_root[512];
	char state_dir[512];
	char runc_root[600]; /* <state_dir>/runc: runc state for our containers only */
	const char *node_name;
	struct image_overlay images[HARNESS_MAX_IMAGES];
	size_t n_images;
};

/* Fills defaults, then applies the overrides that are not NULL; validates that the cgroup
 * root lies inside the cgroup v2 hierarchy. */
int harness_config_init(struct harness_config *cfg, const char *cgroup_root,
			const char *kubelet_root, const char *state_dir, const char *driver);
/* "NAME=DIR" from --image. */
int harness_config_add_image(struct harness_config *cfg, const char *spec);
