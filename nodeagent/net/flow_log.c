#include "flow_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fileio.h"

FILE *flow_log_open_append(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (size_t)st.st_size > FLOW_LOG_MAX) {
		char old[4096];
		snprintf(old, sizeof(old), "%s.1", path);
		rename(path, old);
	}
	return fopen(path, "ae");
}

/* Appends the matching lines of one file to lines (a JSON array used as a ring of limit). */
static int tail_file(const char *path, const char *pod, size_t limit, json_t *lines)
{
	struct buf b = BUF_INIT(FLOW_LOG_MAX + (1u << 20));
	int r = read_file_capped(path, &b);
	if (r == -ENOENT) {
		buf_free(&b);
		return 0;
	}
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	char *save = NULL;
	for (char *line = strtok_r(b.data ? b.data : (char *)"", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		if (!j)
			continue;
		const char *p = json_string_value(json_object_get(j, "pod"));
		if (pod && (!p || strcmp(p, pod) != 0)) {
			json_decref(j);
			continue;
		}
		json_array_append_new(lines, j);
		if (json_array_size(lines) > limit)
			json_array_remove(lines, 0);
	}
	buf_free(&b);
	return 0;
}

int flow_log_tail(const char *path, const char *pod, size_t limit, json_t **ret)
{
	if (limit < 1 || limit > FLOW_LOG_TAIL_MAX)
		return -EINVAL;
	char old[4096];
	snprintf(old, sizeof(old), "%s.1", path);
	json_t *lines = json_array();
	if (!lines)
		return -ENOMEM;
	int r = tail_file(old, pod, limit, lines);
	r = r ?: tail_file(path, pod, limit, lines);
	if (r < 0) {
		json_decref(lines);
		return r;
	}
	*ret = lines;
	return 0;
}
