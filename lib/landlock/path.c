#include "landlock/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int landlock_path_normalize(const char *path, char *ret, size_t size)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (strnlen(path, LANDLOCK_PATH_MAX) >= LANDLOCK_PATH_MAX || size < 2)
		return -ENAMETOOLONG;

	size_t len = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EPERM;
		if (len + 1 + n + 1 > size)
			return -ENAMETOOLONG;
		ret[len++] = '/';
		memcpy(ret + len, p, n);
		len += n;
		p = end;
	}
	if (len == 0)
		ret[len++] = '/';
	ret[len] = '\0';
	return 0;
}

int landlock_path_check(const char *path, char *reason, size_t reason_size)
{
	char normalized[LANDLOCK_PATH_MAX];
	int r = landlock_path_normalize(path, normalized, sizeof(normalized));
	switch (r) {
	case 0:
		if (strcmp(normalized, path) == 0)
			return 0;
		snprintf(reason, reason_size, "must be normalized: \"%.200s\", not \"%.200s\"",
			 normalized, path);
		return -EILSEQ;
	case -EINVAL:
		snprintf(reason, reason_size, "must be an absolute path, not \"%.200s\"", path);
		return r;
	case -EPERM:
		snprintf(reason, reason_size, "must not contain \"..\": \"%.200s\"", path);
		return r;
	default:
		snprintf(reason, reason_size, "must be shorter than %d bytes", LANDLOCK_PATH_MAX);
		return r;
	}
}
