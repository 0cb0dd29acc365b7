/* Retention of recordings: by age, then by total size, oldest first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recording/recording.h"

struct rec_entry {
	char id[RECORDING_ID_MAX + 1];
	uint64_t bytes;
	uint64_t mtime;
};

static const char *const parts[] = {"cast", "log", "chain"};

static int cmp_mtime(const void *a, const void *b)
{
	const struct rec_entry *x = a, *y = b;
	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime ? 1 : strcmp(x->id, y->id);
}

static bool kept(const char *id, const char *const *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (!strcmp(keep[i], id))
			return true;
	return false;
}

static void remove_recording(int dfd, const char *id)
{
	char name[RECORDING_ID_MAX + 8];
	for (size_t i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%s", id, parts[i]);
		unlinkat(dfd, name, 0);
	}
}

int recording_prune(const char *dir, uint64_t max_age_s, uint64_t max_bytes, uint64_t now_unix_s,
		    const char *const *keep, size_t n_keep, unsigned *ret_deleted)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	struct rec_entry *v = NULL;
	size_t n = 0, alloc = 0;
	uint64_t total = 0;
	int r = 0;
	struct dirent *de;
	/* One entry per .chain file: every recording has one from its first moment. */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".chain") != 0)
			continue;
		struct rec_entry e = {0};
		if (len - 6 > RECORDING_ID_MAX)
			continue;
		memcpy(e.id, de->d_name, len - 6);
		if (!recording_id_valid(e.id))
			continue;
		for (size_t i = 0; i < 3; i++) {
			char name[RECORDING_ID_MAX + 8];
			struct stat st;
			snprintf(name, sizeof(name), "%s.%s", e.id, parts[i]);
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				e.bytes += (uint64_t)st.st_size;
				if ((uint64_t)st.st_mtime > e.mtime)
					e.mtime = (uint64_t)st.st_mtime;
			}
		}
		if (n == alloc) {
			size_t na = alloc ? 2 * alloc : 64;
			struct rec_entry *nv = realloc(v, na * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
			alloc = na;
		}
		v[n++] = e;
		total += e.bytes;
	}
	qsort(v, n, sizeof(*v), cmp_mtime);
	unsigned deleted = 0;
	for (size_t i = 0; i < n; i++) {
		if (kept(v[i].id, keep, n_keep))
			continue;
		bool too_old = max_age_s && v[i].mtime + max_age_s < now_unix_s;
		bool too_big = max_bytes && total > max_bytes;
		if (!too_old && !too_big)
			continue;
		remove_recording(dirfd(d), v[i].id);
		total -= v[i].bytes;
		deleted++;
	}
	if (ret_deleted)
		*ret_deleted = deleted;
out:
	free(v);
	closedir(d);
	return r;
}
