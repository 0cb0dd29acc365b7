#include "seccomp/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "canonical.h"
#include "fileio.h"
#include "cleanup.h"

static int open_store_dir(const char *root_dir, int *ret_fd)
{
	_cleanup_close_ int root = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		if (errno != ENOENT)
			return -errno;
		if (mkdir(root_dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		root = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return -errno;
	}
	if (mkdirat(root, SECCOMP_STORE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(root, SECCOMP_STORE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* 1 when dir/name holds exactly data, 0 when it differs or is missing. */
static int has_same_content(int dir, const char *name, const char *data, size_t len)
{
	_cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		return 0;
	_cleanup_free_ char *have = malloc(len ? len : 1);
	if (!have)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd, have + got, len - got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return 0;
		got += k;
	}
	return memcmp(have, data, len) == 0;
}

int seccomp_profile_store_write(const char *root_dir, const json_t *profile,
				char ret_name[SECCOMP_PROFILE_NAME_MAX])
{
	_cleanup_free_ char *data = json_canonical_dump(profile);
	if (!data)
		return -ENOMEM;
	size_t len = strlen(data);
	if (len > SECCOMP_PROFILE_SIZE_MAX)
		return -EFBIG;
	char sha[65];
	int r = sha256_hex(data, len, sha);
	if (r < 0)
		return r;
	char file[64 + sizeof(".json")];
	snprintf(file, sizeof(file), "%s.json", sha);

	_cleanup_close_ int dir = -1;
	r = open_store_dir(root_dir, &dir);
	if (r < 0)
		return r;

	r = has_same_content(dir, file, data, len);
	if (r < 0)
		return r;
	if (r > 0) {
		/* Content-addressed: the bytes are right by construction, only the age is not. */
		if (utimensat(dir, file, NULL, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		goto done;
	}

	/* A reader (runc) sees either no file or the whole one; 0644 whatever the umask: runc
	 * reads it as root, and the kubelet checks it exists. */
	r = write_file_atomic_at(dir, file, data, len, 0644);
	if (r < 0)
		return r;
done:
	snprintf(ret_name, SECCOMP_PROFILE_NAME_MAX, SECCOMP_STORE_DIR "/%s", file);
	return 0;
}

static bool is_profile_name(const char *name)
{
	return strlen(name) == 64 + strlen(".json") && strspn(name, "0123456789abcdef") == 64 &&
	       strcmp(name + 64, ".json") == 0;
}

static bool in_use_has(const char *const *in_use, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++) {
		const char *u = in_use[i];
		if (strncmp(u, SECCOMP_STORE_DIR "/", strlen(SECCOMP_STORE_DIR "/")) == 0)
			u += strlen(SECCOMP_STORE_DIR "/");
		if (strcmp(u, file) == 0)
			return true;
	}
	return false;
}

int seccomp_profile_store_gc(const char *root_dir, const char *const *in_use, size_t n_in_use,
			     unsigned grace_seconds, unsigned *ret_removed)
{
	_cleanup_close_ int dir = -1;
	int r = open_store_dir(root_dir, &dir);
	if (r < 0)
		return r;
	int dup_fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		close(dup_fd);
		return r;
	}

	time_t now = time(NULL);
	unsigned removed = 0;
	struct dirent *de;
	r = 0;
	while ((errno = 0, de = readdir(d))) {
		/* Temp files a crashed write_file_atomic_at() left behind: ".<name>.tmp.<pid>.<n>".
		 */
		bool tmp = de->d_name[0] == '.' && strstr(de->d_name, ".json.tmp.") != NULL;
		if (!tmp && !is_profile_name(de->d_name))
			continue;
		if (!tmp && in_use_has(in_use, n_in_use, de->d_name))
			continue;
		struct stat st;
		if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		if (!S_ISREG(st.st_mode) || st.st_mtime + (time_t)grace_seconds > now)
			continue;
		if (unlinkat(dir, de->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		removed++;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	if (r < 0)
		return r;
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}
