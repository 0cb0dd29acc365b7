/* Where the kubelet puts a pod's cgroup on cgroup v2, and the reverse: which pod (and
 * container) a cgroup directory belongs to.
 *
 *   cgroupfs driver:  <root>/kubepods/pod<uid>                          (Guaranteed)
 *                     <root>/kubepods/{burstable,besteffort}/pod<uid>
 *                     .../pod<uid>/<container-id>                       (containerd, CRI-O)
 *   systemd driver:   <root>/kubepods.slice/kubepods-pod<uid_>.slice    (Guaranteed)
 *                     <root>/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice
 *                     .../cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 * where <uid_> is the pod UID with '-' replaced by '_' (systemd unit names cannot hold '-'
 * inside a slice component). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum cgroup_driver {
	CGROUP_DRIVER_CGROUPFS,
	CGROUP_DRIVER_SYSTEMD,
};

enum pod_qos {
	POD_QOS_GUARANTEED,
	POD_QOS_BURSTABLE,
	POD_QOS_BESTEFFORT,
};

#define POD_UID_LEN 36

/* "cgroupfs"/"systemd" → driver; -EINVAL otherwise. */
int cgroup_driver_from_string(const char *s, enum cgroup_driver *ret);
/* "Guaranteed"/"Burstable"/"BestEffort" (status.qosClass) → qos; -EINVAL otherwise. */
int pod_qos_from_string(const char *s, enum pod_qos *ret);

/* The pod cgroup's path relative to the cgroup root (no leading '/'), e.g.
 * "kubepods/besteffort/pod0f9c…". -EINVAL for a malformed UID, -ENAMETOOLONG if it does not
 * fit in size. */
int pod_cgroup_path(enum cgroup_driver driver, enum pod_qos qos, const char *pod_uid, char *out,
		    size_t size);

struct cgroup_identity {
	char pod_uid[POD_UID_LEN + 1];
	char container_id[72]; /* "" for the pod cgroup itself */
	enum pod_qos qos;
};

/* Parses a path relative to the cgroup root. Returns 1 and fills ret when the path is a pod
 * or container cgroup under the kubepods hierarchy of either driver, 0 when it is not (the
 * kubepods or QoS level, or something unrelated), -EINVAL for a malformed pod component. */
int cgroup_identify(const char *relative_path, struct cgroup_identity *ret);

/* True when s is a canonical lowercase 8-4-4-4-12 UUID. */
bool pod_uid_valid(const char *s);
