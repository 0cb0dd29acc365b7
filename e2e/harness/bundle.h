/* The OCI bundle of one container: rootfs/ from the image and a config.json that starts
 * from `runc spec` and takes from the pod what the CRI would: argv (command/args over the
 * image's entrypoint/cmd), env, workingDir, user, capabilities (containerd's default set
 * with securityContext add/drop), no_new_privs, read-only root, the pod's hostname and
 * network namespace, the kubelet-style cgroupsPath, volume mounts, and seccomp. */
#pragma once

#include <jansson.h>

#include "harness.h"
#include "rootfs.h"

struct field_error;

struct bundle_request {
	const json_t *pod;
	const json_t *container;
	bool init;
	const char *id;
	const char *cgroups_path; /* as runc wants it: "/bulwark-e2e/kubepods/.../<id>" */
	const char *netns_path;
	const char *pod_ip;
	const char *volumes_dir; /* <pod dir>/volumes: emptyDir and downwardAPI live here */
	const struct image_config *image;
};

/* Writes <dir>/config.json. -EINVAL with err filled for what the pod asks and the harness
 * cannot honour (a volume type it lacks, a missing seccomp profile...): the kubelet's
 * CreateContainerConfigError. */
int bundle_write_config(const struct harness_config *cfg, const struct bundle_request *req,
			const char *dir, struct field_error *err);
