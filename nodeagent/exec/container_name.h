/* Which container of a pod a container cgroup is. A session opened on the node (runc exec,
 * nsenter, crictl exec) never passed the apiserver, so nothing named its container. The
 * runtime's container id is in the cgroup directory's name (cgroup_path.h: <id>,
 * cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope), and the runtime's own state
 * for that id carries the name the kubelet gave it (a CRI annotation). Both are on the node:
 * no API call, and the agent needs no permission to read Pods. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The runtime's container id of the container cgroup with this id, found below cgroup_root
 * (the cgroup v2 mount) by file handle: 0, -ENOENT when the cgroup is gone or is not a
 * container cgroup of a pod, or another negative errno. */
int cgroup_container_id(const char *cgroup_root, uint64_t cgroup_id, char *ret, size_t size);

/* A runtime's saved state is small; a file beyond this is not one. */
#define CONTAINER_STATE_MAX (4u << 20)

/* Where runtimes keep container state on a node: containerd's runc (the CRI's k8s.io
 * namespace), runc as CRI-O runs it, and crun. */
#define CONTAINER_STATE_DIRS_DEFAULT "/run/containerd/runc/k8s.io:/run/runc:/run/crun"

/* The Kubernetes name of a container from a runtime's saved state: runc's state.json (its
 * config's "key=value" labels carry the OCI annotations) or an OCI config.json (annotations),
 * under io.kubernetes.cri.container-name (containerd) or io.kubernetes.container.name
 * (CRI-O). 0, -ENOENT when the state names none (a sandbox), -ENAMETOOLONG. */
int container_name_from_state(const json_t *state, char *ret, size_t size);

/* The same from the files: DIR/<container_id>/state.json, then DIR/<container_id>/config.json,
 * for each DIR of the colon-separated state_dirs in turn. 0, -ENOENT when no runtime there
 * knows the container, -EINVAL for an id that is not a plain name, -EBADMSG for a file that
 * is not JSON, or another negative errno. */
int runtime_container_name(const char *state_dirs, const char *container_id, char *ret,
			   size_t size);
