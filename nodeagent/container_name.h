/* Which container of a pod a container cgroup is. A session opened on the node (runc exec,
 * nsenter, crictl exec) never passed the apiserver, so nothing named its container; the
 * runtime's container id, which the cgroup directory carries (cgroup_path.h: <id>,
 * cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope), is also what the kubelet
 * reports in the pod's status as containerID "<runtime>://<id>". */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The runtime's container id of the container cgroup with this id, found below cgroup_root
 * (the cgroup v2 mount) by file handle: 0, -ENOENT when the cgroup is gone or is not a
 * container cgroup of a pod, or another negative errno. */
int cgroup_container_id(const char *cgroup_root, uint64_t cgroup_id, char *ret, size_t size);

/* The name of the container of pod (a Pod object) whose status.containerStatuses,
 * initContainerStatuses or ephemeralContainerStatuses entry has containerID
 * "<runtime>://<container_id>": 0, -ENOENT when none has (the kubelet may not have reported
 * it yet), -EINVAL for an empty id, -ENAMETOOLONG when the name does not fit in size. */
int pod_container_name(const json_t *pod, const char *container_id, char *ret, size_t size);
