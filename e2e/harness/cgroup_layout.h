/* Where the kubelet puts a pod's and a container's cgroup, relative to the cgroup root:
 *
 *   cgroupfs driver                               systemd driver
 *   kubepods/pod<uid>/<id>            Guaranteed
 * kubepods.slice/kubepods-pod<uid_>.slice/cri-containerd-<id>.scope
 *   kubepods/burstable/pod<uid>/<id>  Burstable
 * kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *   kubepods/besteffort/pod<uid>/<id> BestEffort
 * kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope
 *
 * (<uid_> is the uid with '-' replaced by '_'.) The node agent's resolver mirrors this. */
#pragma once

#include <stddef.h>

#include "harness.h"

/* "kubepods" or "kubepods.slice". */
const char *harness_cgroup_kubepods_dir(enum harness_cgroup_driver d);
/* The QoS level directory ("kubepods/burstable"), or kubepods itself for Guaranteed. */
int harness_cgroup_qos_path(enum harness_cgroup_driver d, const char *qos, char *out, size_t n);
int harness_cgroup_pod_path(enum harness_cgroup_driver d, const char *qos, const char *uid,
			    char *out, size_t n);
int harness_cgroup_container_path(enum harness_cgroup_driver d, const char *pod_path,
				  const char *id, char *out, size_t n);

/* The cgroup v2 mount: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid
 * one; -ENOENT when there is no cgroup v2 hierarchy. */
int harness_cgroup_v2_mount(const char **ret);

/* mkdir -p of rel (relative to the cgroup root) in the v2 hierarchy. */
int harness_cgroup_create(const struct harness_config *cfg, const char *rel);
/* Removes rel and everything below it, deepest first, in the v2 hierarchy and in every v1
 * hierarchy (runc on a hybrid host creates the same path in each). A cgroup that still has
 * processes makes it fail with -EBUSY; a missing one is not an error. */
int harness_cgroup_remove_tree(const struct harness_config *cfg, const char *rel);
/* Kills every process in rel and below (cgroup.kill, Linux 5.14): how --cleanup stops
 * containers whose runc state is gone. */
int harness_cgroup_kill(const struct harness_config *cfg, const char *rel);
/* Removes the root, kubepods and QoS cgroups if they are empty (plain rmdir: a cgroup with
 * children or processes stays), in every hierarchy. */
void harness_cgroup_prune(const struct harness_config *cfg);
