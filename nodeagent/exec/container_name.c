#include "nodeagent/exec/container_name.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
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

/* The keys runtimes keep a container's Kubernetes name under: containerd's CRI plugin, and
 * CRI-O (also the kubelet's label on Docker containers). */
static const char *const name_keys[] = {"io.kubernetes.cri.container-name",
					"io.kubernetes.container.name"};

static int copy_name(const char *name, size_t len, char *ret, size_t size)
{
	if (len == 0)
		return -ENOENT; /* a sandbox ("pause") container has an empty name */
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(ret, name, len);
	ret[len] = '\0';
	return 0;
}

int container_name_from_state(const json_t *state, char *ret, size_t size)
{
	/* runc: every OCI annotation became a "key=value" label of the saved config. */
	size_t i;
	const json_t *label;
	json_array_foreach (json_object_get(json_object_get(state, "config"), "labels"), i, label) {
		const char *kv = json_string_value(label);
		for (size_t k = 0; kv && k < sizeof(name_keys) / sizeof(name_keys[0]); k++) {
			size_t n = strlen(name_keys[k]);
			if (!strncmp(kv, name_keys[k], n) && kv[n] == '=')
				return copy_name(kv + n + 1, strlen(kv + n + 1), ret, size);
		}
	}
	/* An OCI config.json (crun keeps one in its state directory). */
	const json_t *annotations = json_object_get(state, "annotations");
	for (size_t k = 0; k < sizeof(name_keys) / sizeof(name_keys[0]); k++) {
		const json_t *v = json_object_get(annotations, name_keys[k]);
		if (json_is_string(v))
			return copy_name(json_string_value(v), json_string_length(v), ret, size);
	}
	return -ENOENT;
}

static int name_from_file(const char *path, char *ret, size_t size)
{
	struct buf b = BUF_INIT(CONTAINER_STATE_MAX);
	int r = read_file_capped(path, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	json_t *state = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	buf_free(&b);
	if (!state)
		return -EBADMSG;
	r = container_name_from_state(state, ret, size);
	json_decref(state);
	return r;
}

int runtime_container_name(const char *state_dirs, const char *container_id, char *ret, size_t size)
{
	size_t idlen = container_id ? strlen(container_id) : 0;
	if (idlen == 0 || idlen > 128 || strchr(container_id, '/') || container_id[0] == '.')
		return -EINVAL;
	int r = -ENOENT;
	for (const char *dir = state_dirs ? state_dirs : ""; *dir && r == -ENOENT;) {
		size_t len = strcspn(dir, ":");
		static const char *const files[] = {"state.json", "config.json"};
		for (size_t f = 0; len && f < sizeof(files) / sizeof(files[0]); f++) {
			char path[PATH_MAX];
			if ((size_t)snprintf(path, sizeof(path), "%.*s/%s/%s", (int)len, dir,
					     container_id, files[f]) >= sizeof(path))
				return -ENAMETOOLONG;
			r = name_from_file(path, ret, size);
			if (r != -ENOENT)
				break; /* found, or this runtime's file says it has no name */
		}
		dir += len + (dir[len] == ':');
	}
	return r;
}
