#include "cgroup_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const qos_names[] = {
	[POD_QOS_GUARANTEED] = "guaranteed",
	[POD_QOS_BURSTABLE] = "burstable",
	[POD_QOS_BESTEFFORT] = "besteffort",
};

int cgroup_driver_from_string(const char *s, enum cgroup_driver *ret)
{
	if (strcmp(s, "cgroupfs") == 0)
		*ret = CGROUP_DRIVER_CGROUPFS;
	else if (strcmp(s, "systemd") == 0)
		*ret = CGROUP_DRIVER_SYSTEMD;
	else
		return -EINVAL;
	return 0;
}

int pod_qos_from_string(const char *s, enum pod_qos *ret)
{
	if (strcmp(s, "Guaranteed") == 0)
		*ret = POD_QOS_GUARANTEED;
	else if (strcmp(s, "Burstable") == 0)
		*ret = POD_QOS_BURSTABLE;
	else if (strcmp(s, "BestEffort") == 0)
		*ret = POD_QOS_BESTEFFORT;
	else
		return -EINVAL;
	return 0;
}

/* Accepts '-' or '_' as the separator so the same check serves both drivers' spellings. */
static bool uid_shaped(const char *s, size_t len, char sep)
{
	if (len != POD_UID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != sep
			 : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

bool pod_uid_valid(const char *s)
{
	return s && uid_shaped(s, strlen(s), '-');
}

int pod_cgroup_path(enum cgroup_driver driver, enum pod_qos qos, const char *pod_uid, char *out,
		    size_t size)
{
	if (!pod_uid_valid(pod_uid) || qos > POD_QOS_BESTEFFORT)
		return -EINVAL;
	int n;
	if (driver == CGROUP_DRIVER_CGROUPFS) {
		if (qos == POD_QOS_GUARANTEED)
			n = snprintf(out, size, "kubepods/pod%s", pod_uid);
		else
			n = snprintf(out, size, "kubepods/%s/pod%s", qos_names[qos], pod_uid);
	} else {
		char uid[POD_UID_LEN + 1];
		memcpy(uid, pod_uid, sizeof(uid));
		for (char *p = uid; *p; p++)
			if (*p == '-')
				*p = '_';
		if (qos == POD_QOS_GUARANTEED)
			n = snprintf(out, size, "kubepods.slice/kubepods-pod%s.slice", uid);
		else
			n = snprintf(out, size,
				     "kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
				     qos_names[qos], qos_names[qos], uid);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int qos_from_component(const char *c, size_t len, enum pod_qos *ret)
{
	for (enum pod_qos q = POD_QOS_BURSTABLE; q <= POD_QOS_BESTEFFORT; q++)
		if (strlen(qos_names[q]) == len && memcmp(c, qos_names[q], len) == 0) {
			*ret = q;
			return 0;
		}
	return -ENOENT;
}

/* Container cgroup names: a bare 64-hex id (cgroupfs) or "<runtime>-<id>.scope" (systemd). */
static int container_from_component(const char *c, size_t len, char *out, size_t size)
{
	static const char *const prefixes[] = {"cri-containerd-", "crio-", "docker-",
					       "containerd-"};
	const char *id = c;
	size_t id_len = len;
	if (len > 6 && memcmp(c + len - 6, ".scope", 6) == 0) {
		id_len = 0;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t pl = strlen(prefixes[i]);
			if (len - 6 > pl && memcmp(c, prefixes[i], pl) == 0) {
				id = c + pl;
				id_len = len - 6 - pl;
				break;
			}
		}
		if (!id_len)
			return -EINVAL;
	}
	if (id_len == 0 || id_len >= size)
		return -EINVAL;
	for (size_t i = 0; i < id_len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
		      id[i] == '-' || id[i] == '_'))
			return -EINVAL;
	memcpy(out, id, id_len);
	out[id_len] = '\0';
	return 0;
}

/* Finds "pod<uid>" (cgroupfs) or "...-pod<uid_>.slice" (systemd) in one path component. */
static int pod_from_component(const char *c, size_t len, char ret_uid[POD_UID_LEN + 1])
{
	const char *uid = NULL;
	char sep = '-';
	if (len == 3 + POD_UID_LEN && memcmp(c, "pod", 3) == 0) {
		uid = c + 3;
	} else if (len > 6 + 3 + POD_UID_LEN && memcmp(c + len - 6, ".slice", 6) == 0 &&
		   memcmp(c + len - 6 - POD_UID_LEN - 3, "pod", 3) == 0) {
		uid = c + len - 6 - POD_UID_LEN;
		sep = '_';
	} else {
		return 0;
	}
	if (!uid_shaped(uid, POD_UID_LEN, sep))
		return -EINVAL;
	memcpy(ret_uid, uid, POD_UID_LEN);
	ret_uid[POD_UID_LEN] = '\0';
	for (char *p = ret_uid; *p; p++)
		if (*p == '_')
			*p = '-';
	return 1;
}

int cgroup_identify(const char *relative_path, struct cgroup_identity *ret)
{
	struct cgroup_identity id = {.qos = POD_QOS_GUARANTEED};
	const char *p = relative_path;
	while (*p == '/')
		p++;
	/* Find the kubepods level first: everything above it (a test's own parent cgroup, say)
	 * is not ours to interpret. */
	const char *comp = p;
	bool in_kubepods = false, have_pod = false;
	while (*comp) {
		const char *end = strchrnul(comp, '/');
		size_t len = (size_t)(end - comp);
		if (!in_kubepods) {
			if ((len == 8 && memcmp(comp, "kubepods", 8) == 0) ||
			    (len == 14 && memcmp(comp, "kubepods.slice", 14) == 0))
				in_kubepods = true;
		} else if (!have_pod) {
			enum pod_qos q;
			int r = pod_from_component(comp, len, id.pod_uid);
			if (r < 0)
				return r;
			if (r > 0) {
				have_pod = true;
			} else if (qos_from_component(comp, len, &q) == 0) {
				id.qos = q;
			} else if (len > 15 + 6 && memcmp(comp, "kubepods-", 9) == 0 &&
				   memcmp(comp + len - 6, ".slice", 6) == 0 &&
				   qos_from_component(comp + 9, len - 15, &q) == 0) {
				id.qos = q;
			} else {
				return 0;
			}
		} else if (!id.container_id[0]) {
			if (container_from_component(comp, len, id.container_id,
						     sizeof(id.container_id)) < 0)
				return 0;
		} else {
			return 0; /* below a container: not a level we track */
		}
		comp = *end ? end + 1 : end;
	}
	if (!have_pod)
		return 0;
	*ret = id;
	return 1;
}
