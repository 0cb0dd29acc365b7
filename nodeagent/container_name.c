#include "nodeagent/container_name.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nodeagent/cgroup_path.h"

#define FILEID_KERNFS 0xfe /* kernfs file handles: the 64-bit cgroup id */

int cgroup_container_id(const char *cgroup_root, uint64_t cgroup_id, char *ret, size_t size)
{
	int mnt = open(cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mnt < 0)
		return -errno;
	union {
		struct file_handle fh;
		char storage[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = {.fh = {.handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS}};
	memcpy(h.fh.f_handle, &cgroup_id, sizeof(cgroup_id));
	int fd = open_by_handle_at(mnt, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = fd < 0 ? -errno : 0;
	close(mnt);
	if (err < 0)
		return err == -ESTALE ? -ENOENT : err;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err < 0)
		return err;
	path[n] = '\0';
	struct cgroup_identity id;
	if (cgroup_identify(path, &id) <= 0 || !id.container_id[0])
		return -ENOENT;
	if (strlen(id.container_id) >= size)
		return -ENAMETOOLONG;
	memcpy(ret, id.container_id, strlen(id.container_id) + 1);
	return 0;
}

int pod_container_name(const json_t *pod, const char *container_id, char *ret, size_t size)
{
	static const char *const lists[] = {"containerStatuses", "initContainerStatuses",
					    "ephemeralContainerStatuses"};
	if (!container_id || !*container_id)
		return -EINVAL;
	const json_t *status = json_object_get(pod, "status");
	size_t want = strlen(container_id);
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		size_t i;
		const json_t *cs;
		json_array_foreach (json_object_get(status, lists[l]), i, cs) {
			const char *cid = json_string_value(json_object_get(cs, "containerID"));
			const char *name = json_string_value(json_object_get(cs, "name"));
			const char *sep = cid ? strstr(cid, "://") : NULL;
			/* The whole id after the runtime's scheme: a prefix of another id is not
			 * it. */
			if (!sep || !name || strlen(sep + 3) != want ||
			    memcmp(sep + 3, container_id, want))
				continue;
			if (strlen(name) >= size)
				return -ENAMETOOLONG;
			memcpy(ret, name, strlen(name) + 1);
			return 0;
		}
	}
	return -ENOENT;
}
