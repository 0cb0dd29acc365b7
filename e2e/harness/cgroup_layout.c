#include "cgroup_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdarg.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"

const char *harness_cgroup_kubepods_dir(enum harness_cgroup_driver d)
{
	return d == HARNESS_CGROUP_SYSTEMD ? "kubepods.slice" : "kubepods";
}

static int qos_level(const char *qos, const char **ret)
{
	if (!strcmp(qos, "Guaranteed"))
		*ret = NULL;
	else if (!strcmp(qos, "Burstable"))
		*ret = "burstable";
	else if (!strcmp(qos, "BestEffort"))
		*ret = "besteffort";
	else
		return -EINVAL;
	return 0;
}

static int fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int len = vsnprintf(out, n, f, ap);
	va_end(ap);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int harness_cgroup_qos_path(enum harness_cgroup_driver d, const char *qos, char *out, size_t n)
{
	const char *level;
	if (qos_level(qos, &level) < 0)
		return -EINVAL;
	if (!level)
		return fmt(out, n, "%s", harness_cgroup_kubepods_dir(d));
	if (d == HARNESS_CGROUP_SYSTEMD)
		return fmt(out, n, "kubepods.slice/kubepods-%s.slice", level);
	return fmt(out, n, "kubepods/%s", level);
}

int harness_cgroup_pod_path(enum harness_cgroup_driver d, const char *qos, const char *uid,
			    char *out, size_t n)
{
	const char *level;
	char parent[256];
	int r = harness_cgroup_qos_path(d, qos, parent, sizeof(parent));
	if (r < 0 || (r = qos_level(qos, &level)) < 0)
		return r;
	if (d == HARNESS_CGROUP_CGROUPFS)
		return fmt(out, n, "%s/pod%s", parent, uid);
	/* systemd escapes '-' in unit names, so the kubelet writes the uid with '_'. */
	char escaped[128];
	if (fmt(escaped, sizeof(escaped), "%s", uid) < 0)
		return -ENAMETOOLONG;
	for (char *p = escaped; *p; p++)
		if (*p == '-')
			*p = '_';
	if (!level)
		return fmt(out, n, "%s/kubepods-pod%s.slice", parent, escaped);
	return fmt(out, n, "%s/kubepods-%s-pod%s.slice", parent, level, escaped);
}

int harness_cgroup_container_path(enum harness_cgroup_driver d, const char *pod_path,
				  const char *id, char *out, size_t n)
{
	if (d == HARNESS_CGROUP_SYSTEMD)
		return fmt(out, n, "%s/cri-containerd-%s.scope", pod_path, id);
	return fmt(out, n, "%s/%s", pod_path, id);
}

int harness_cgroup_v2_mount(const char **ret)
{
	struct statfs s;
	if (statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC) {
		*ret = "/sys/fs/cgroup";
		return 0;
	}
	if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC) {
		*ret = "/sys/fs/cgroup/unified";
		return 0;
	}
	return -ENOENT;
}

int harness_cgroup_create(const struct harness_config *cfg, const char *rel)
{
	char path[1024];
	if (fmt(path, sizeof(path), "%s/%s", cfg->cgroup_root, rel) < 0)
		return -ENAMETOOLONG;
	if (mkdir(cfg->cgroup_root, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (char *p = path + strlen(cfg->cgroup_root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Depth-first rmdir; cgroupfs directories hold only control files, which rmdir ignores. */
static int rmdir_tree(const char *path, int depth)
{
	if (depth > 16)
		return -ELOOP;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char child[1024];
		if (fmt(child, sizeof(child), "%s/%s", path, de->d_name) < 0) {
			ret = -ENAMETOOLONG;
			continue;
		}
		int r = rmdir_tree(child, depth + 1);
		if (r < 0 && ret == 0)
			ret = r;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT && ret == 0)
		ret = -errno;
	return ret;
}

/* Mount points of the v1 hierarchies, from /proc/self/mountinfo. */
static int remove_in_v1(const char *rel_from_mount)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096];
	int ret = 0;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint opts ... - fstype source superopts */
		char mnt[1024], fstype[64];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup"))
			continue;
		char path[1200];
		if (fmt(path, sizeof(path), "%s%s", mnt, rel_from_mount) < 0)
			continue;
		int r = rmdir_tree(path, 0);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

int harness_cgroup_remove_tree(const struct harness_config *cfg, const char *rel)
{
	char v2[1024], v1rel[1024];
	if (fmt(v2, sizeof(v2), "%s%s%s", cfg->cgroup_root, *rel ? "/" : "", rel) < 0 ||
	    fmt(v1rel, sizeof(v1rel), "%s%s%s", cfg->cgroup_rel, *rel ? "/" : "", rel) < 0)
		return -ENAMETOOLONG;
	/* A killed process keeps its cgroup busy until its parent reaps it; when that parent is
	 * not us (a harness that was killed left its containers to init), it takes a moment. */
	int r1 = 0, r2 = 0;
	for (int i = 0; i < 50; i++) {
		r1 = rmdir_tree(v2, 0);
		r2 = remove_in_v1(v1rel);
		if (r1 != -EBUSY && r2 != -EBUSY)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return r1 < 0 ? r1 : r2;
}

int harness_cgroup_kill(const struct harness_config *cfg, const char *rel)
{
	char path[1100];
	if (fmt(path, sizeof(path), "%s/%s/cgroup.kill", cfg->cgroup_root, rel) < 0)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return write(fd, "1", 1) == 1 ? 0 : -errno;
}

static void rmdir_everywhere(const struct harness_config *cfg, const char *rel)
{
	char v2[1024], v1rel[1024];
	if (fmt(v2, sizeof(v2), "%s%s%s", cfg->cgroup_root, *rel ? "/" : "", rel) < 0 ||
	    fmt(v1rel, sizeof(v1rel), "%s%s%s", cfg->cgroup_rel, *rel ? "/" : "", rel) < 0)
		return;
	rmdir(v2);
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[1024], fstype[64], path[1200];
		const char *sep = strstr(line, " - ");
		if (sep && sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1 &&
		    sscanf(sep + 3, "%63s", fstype) == 1 && !strcmp(fstype, "cgroup") &&
		    fmt(path, sizeof(path), "%s%s", mnt, v1rel) == 0)
			rmdir(path);
	}
}

void harness_cgroup_prune(const struct harness_config *cfg)
{
	static const char *const classes[] = {"Guaranteed", "Burstable", "BestEffort"};
	char qos[256];
	for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
		if (harness_cgroup_qos_path(cfg->cgroup_driver, classes[i], qos, sizeof(qos)) ==
			    0 &&
		    strcmp(qos, harness_cgroup_kubepods_dir(cfg->cgroup_driver)))
			rmdir_everywhere(cfg, qos);
	rmdir_everywhere(cfg, harness_cgroup_kubepods_dir(cfg->cgroup_driver));
	rmdir_everywhere(cfg, "");
}
