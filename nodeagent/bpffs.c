#include "bpffs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

bool bpffs_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

int bpffs_prepare_dir(const char *dir)
{
	char path[PATH_MAX], *slash;

	if (strlen(dir) >= sizeof(path) || dir[0] != '/')
		return -EINVAL;
	snprintf(path, sizeof(path), "%s", dir);

	/* The deepest existing ancestor decides where bpffs is (or must be mounted). */
	char existing[PATH_MAX];
	snprintf(existing, sizeof(existing), "%s", path);
	while (access(existing, F_OK) < 0) {
		slash = strrchr(existing, '/');
		if (!slash || slash == existing)
			return -ENOENT;
		*slash = '\0';
	}
	if (!bpffs_is_bpffs(existing)) {
		/* Mount only on an empty directory (the usual /sys/fs/bpf), never over content. */
		if (strcmp(existing, path) == 0 || !dir_is_empty(existing))
			return -EXDEV;
		if (mount("bpf", existing, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") <
		    0)
			return -errno;
		log_info(4, "mounted bpffs", "path", existing);
	}

	/* mkdir -p below the mount. */
	for (char *p = path + strlen(existing) + 1; p && *p; p = slash ? slash + 1 : NULL) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (slash)
			*slash = '/';
	}
	return 0;
}

int bpffs_unpin_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!bpffs_is_bpffs(dir))
		return -EXDEV;
	int dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}
