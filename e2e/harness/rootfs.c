#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "proc.h"

#define BUSYBOX_PATH "/bin/busybox"

/* The Docker Hub busybox image: no entrypoint, cmd ["sh"]. */
static const char *const busybox_entrypoint[] = {NULL};
static const char *const busybox_cmd[] = {"sh", NULL};
static const char *const busybox_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};

int harness_image_name(const char *ref, char *out, size_t n)
{
	const char *start = strrchr(ref, '/');
	start = start ? start + 1 : ref;
	size_t len = strcspn(start, ":@");
	if (len == 0 || len >= n)
		return -EINVAL;
	memcpy(out, start, len);
	out[len] = '\0';
	return 0;
}

static int write_file(const char *dir, const char *name, const char *content)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(content);
	return write(fd, content, len) == (ssize_t)len ? 0 : -EIO;
}

static int copy_read_write(int in, int out)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				return -errno;
			done += w > 0 ? w : 0;
		}
	}
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;
	for (bool copied = false;; copied = true) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		/* Across filesystems (ext4 to a tmpfs /tmp: EXDEV since 5.18), or where the kernel
		 * or filesystem has no copy_file_range at all: plain reads and writes. */
		if (copied ||
		    (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL))
			return -errno;
		return copy_read_write(in, out);
	}
}

static int busybox_base(const char *dir)
{
	static const char *const dirs[] = {"bin",  "dev", "etc",     "proc", "sys", "tmp",
					   "root", "usr", "usr/bin", "var",  "run"};
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		/* mkdir's mode goes through the umask; /tmp must be world-writable and sticky. */
		if (!strcmp(dirs[i], "tmp") && chmod(path, 01777) < 0)
			return -errno;
	}
	char bb[1024];
	snprintf(bb, sizeof(bb), "%s/bin/busybox", dir);
	int r = copy_file(BUSYBOX_PATH, bb, 0755);
	if (r < 0)
		return r;
	/* One symlink per applet, as the busybox image has. */
	_cleanup_buf_ struct buf list = BUF_INIT(64 * 1024);
	r = harness_run_cmdl(&list, BUSYBOX_PATH, "--list", NULL);
	if (r != 0 || !list.data)
		return r < 0 ? r : -EIO;
	char *save = NULL;
	for (char *name = strtok_r(list.data, "\n", &save); name;
	     name = strtok_r(NULL, "\n", &save)) {
		if (!*name || strchr(name, '/') || !strcmp(name, "busybox"))
			continue;
		char link[1024];
		snprintf(link, sizeof(link), "%s/bin/%s", dir, name);
		if (symlink("busybox", link) < 0 && errno != EEXIST)
			return -errno;
	}
	char etc[1024];
	snprintf(etc, sizeof(etc), "%s/etc", dir);
	if ((r = write_file(
		     etc, "passwd",
		     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")) <
		    0 ||
	    (r = write_file(etc, "group", "root:x:0:\nnobody:x:65534:\n")) < 0 ||
	    (r = write_file(etc, "resolv.conf", "")) < 0)
		return r;
	return 0;
}

int harness_rootfs_known_images(const struct harness_config *cfg, char *out, size_t n)
{
	size_t used = (size_t)snprintf(out, n, "busybox");
	for (size_t i = 0; i < cfg->n_images && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, ", %s", cfg->images[i].name);
	return used < n ? 0 : -ENAMETOOLONG;
}

int harness_rootfs_build(const struct harness_config *cfg, const char *ref, const char *dir,
			 struct image_config *ret_config)
{
	char name[256];
	if (!ref || harness_image_name(ref, name, sizeof(name)) < 0)
		return -EINVAL;
	const char *overlay = NULL;
	for (size_t i = 0; i < cfg->n_images; i++)
		if (!strcmp(cfg->images[i].name, name))
			overlay = cfg->images[i].dir;
	if (!overlay && strcmp(name, "busybox"))
		return -ENOENT;
	int r = busybox_base(dir);
	if (r < 0)
		return r;
	if (overlay) {
		char from[1100];
		snprintf(from, sizeof(from), "%s/.", overlay);
		_cleanup_buf_ struct buf out = BUF_INIT(4096);
		r = harness_run_cmdl(&out, "cp", "-a", "--", from, dir, NULL);
		if (r != 0)
			return r < 0 ? r : -EIO;
	}
	*ret_config = (struct image_config){
		.entrypoint = busybox_entrypoint,
		.cmd = busybox_cmd,
		.env = busybox_env,
	};
	return 0;
}
