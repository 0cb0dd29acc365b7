#include "cgroup_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup.h"
#include "kube/hashtab.h"
#include "log.h"

/* kubepods → QoS → pod → container is at most four levels; deeper cgroups (a container's
 * own sub-cgroups) are not ours to track. */
#define WATCH_DEPTH_MAX 4

struct cgroup_watch {
	char *root;
	size_t root_len;
	int fd;
	struct hashtab dirs; /* of struct watched, by watch descriptor */
	cgroup_event_fn fn;
	void *userdata;
};

/* A directory under watch. */
struct watched {
	int wd;
	char *path; /* absolute */
};

static uint64_t wd_hash(int wd)
{
	return hashtab_hash_ptr((const void *)(uintptr_t)(unsigned)wd);
}

static bool wd_eq(const void *item, const void *key)
{
	return ((const struct watched *)item)->wd == *(const int *)key;
}

static void watched_free(struct watched *d)
{
	if (d) {
		free(d->path);
		free(d);
	}
}

static const char *watched_path(const struct cgroup_watch *w, int wd)
{
	const struct watched *d = hashtab_get(&w->dirs, wd_hash(wd), &wd, wd_eq);
	return d ? d->path : NULL;
}

static void forget(struct cgroup_watch *w, int wd)
{
	watched_free(hashtab_remove(&w->dirs, wd_hash(wd), &wd, wd_eq));
}

int cgroup_id_of(const char *path, uint64_t *ret)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh.handle_bytes = sizeof(uint64_t)};
	int mount_id;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EINVAL;
	memcpy(ret, h.fh.f_handle, sizeof(uint64_t));
	return 0;
}

int pod_cgroup_find(const char *cgroup_root, const char *pod_uid, uint64_t *ret)
{
	for (int d = CGROUP_DRIVER_CGROUPFS; d <= CGROUP_DRIVER_SYSTEMD; d++)
		for (int q = POD_QOS_GUARANTEED; q <= POD_QOS_BESTEFFORT; q++) {
			char rel[256], path[PATH_MAX];
			int r = pod_cgroup_path(d, q, pod_uid, rel, sizeof(rel));
			if (r < 0)
				return r;
			snprintf(path, sizeof(path), "%s/%s", cgroup_root, rel);
			if (cgroup_id_of(path, ret) == 0)
				return 0;
		}
	return -ENOENT;
}

/* Depth below the root, counting the kubepods level as 1; 0 for the root itself, -1 for a
 * path outside the kubepods subtree. */
static int kubepods_depth(const struct cgroup_watch *w, const char *path)
{
	const char *rel = path + w->root_len;
	while (*rel == '/')
		rel++;
	if (!*rel)
		return 0;
	size_t first = strcspn(rel, "/");
	if (!((first == 8 && strncmp(rel, "kubepods", 8) == 0) ||
	      (first == 14 && strncmp(rel, "kubepods.slice", 14) == 0)))
		return -1;
	int depth = 1;
	for (const char *p = rel; *p; p++)
		depth += *p == '/';
	return depth;
}

static void report(struct cgroup_watch *w, enum cgroup_event_type type, const char *path)
{
	struct cgroup_event ev = {.type = type, .path = path};
	int r = cgroup_identify(path + w->root_len, &ev.id);
	if (r <= 0) {
		if (r < 0)
			log_info(2, "ignoring a malformed pod cgroup name", "path", path);
		return;
	}
	if (type == CGROUP_EVENT_ADDED && cgroup_id_of(path, &ev.cgroup_id) < 0)
		return; /* removed again before we looked */
	w->fn(&ev, w->userdata);
}

static int add_watch(struct cgroup_watch *w, const char *path)
{
	int wd =
		inotify_add_watch(w->fd, path, IN_CREATE | IN_DELETE | IN_ONLYDIR | IN_EXCL_UNLINK);
	if (wd < 0)
		return -errno;
	struct watched *d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(path))) {
		watched_free(d);
		return -ENOMEM;
	}
	d->wd = wd;
	/* The same directory watched again (a rescan) keeps its descriptor. */
	forget(w, wd);
	if (hashtab_put(&w->dirs, wd_hash(wd), d) < 0) {
		watched_free(d);
		return -ENOMEM;
	}
	return 0;
}

/* Watches a directory, then reports and descends into what is already in it; watching
 * first means nothing created meanwhile is missed (at worst it is reported twice, which
 * the agent's binding tolerates). */
static int watch_tree(struct cgroup_watch *w, const char *path, bool report_children)
{
	int depth = kubepods_depth(w, path);
	if (depth < 0 || depth > WATCH_DEPTH_MAX)
		return 0;
	int r = add_watch(w, path);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char child[PATH_MAX];
		if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child))
			continue;
		if (kubepods_depth(w, child) < 0)
			continue;
		if (report_children)
			report(w, CGROUP_EVENT_ADDED, child);
		r = watch_tree(w, child, report_children);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int cgroup_watch_new(const char *cgroup_root, cgroup_event_fn fn, void *userdata,
		     struct cgroup_watch **ret)
{
	struct cgroup_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->root = strdup(cgroup_root);
	w->fn = fn;
	w->userdata = userdata;
	if (w->fd < 0 || !w->root) {
		int r = w->fd < 0 ? -errno : -ENOMEM;
		cgroup_watch_free(w);
		return r;
	}
	w->root_len = strlen(w->root);
	while (w->root_len > 1 && w->root[w->root_len - 1] == '/')
		w->root[--w->root_len] = '\0';
	int r = watch_tree(w, w->root, false);
	if (r < 0) {
		cgroup_watch_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

struct cgroup_watch *cgroup_watch_free(struct cgroup_watch *w)
{
	if (!w)
		return NULL;
	if (w->fd >= 0)
		close(w->fd);
	struct watched *d;
	for (size_t pos = 0; (d = hashtab_next(&w->dirs, &pos));)
		watched_free(d);
	hashtab_free(&w->dirs);
	free(w->root);
	free(w);
	return NULL;
}

int cgroup_watch_fd(const struct cgroup_watch *w)
{
	return w->fd;
}

/* Walks what exists and reports it, without adding watches twice: for the initial sync. */
static void scan_tree(struct cgroup_watch *w, const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char child[PATH_MAX];
		if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child))
			continue;
		int depth = kubepods_depth(w, child);
		if (depth < 0 || depth > WATCH_DEPTH_MAX)
			continue;
		report(w, CGROUP_EVENT_ADDED, child);
		scan_tree(w, child);
	}
	closedir(d);
}

int cgroup_watch_scan(struct cgroup_watch *w)
{
	scan_tree(w, w->root);
	return 0;
}

int cgroup_watch_process(struct cgroup_watch *w)
{
	char events[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->fd, events, sizeof(events));
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (char *p = events; p < events + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_IGNORED) {
				forget(w, e->wd);
				continue;
			}
			if (e->mask & IN_Q_OVERFLOW) {
				/* Events were lost: a rescan reports everything that exists. */
				log_warn("inotify queue overflowed, rescanning pod cgroups");
				watch_tree(w, w->root, true);
				continue;
			}
			const char *dir = watched_path(w, e->wd);
			if (!dir || !(e->mask & IN_ISDIR) || !e->len)
				continue;
			char path[PATH_MAX];
			if (snprintf(path, sizeof(path), "%s/%s", dir, e->name) >=
			    (int)sizeof(path))
				continue;
			if (kubepods_depth(w, path) < 0)
				continue;
			if (e->mask & IN_CREATE) {
				report(w, CGROUP_EVENT_ADDED, path);
				watch_tree(w, path, true);
			} else if (e->mask & IN_DELETE) {
				report(w, CGROUP_EVENT_REMOVED, path);
			}
		}
	}
}
