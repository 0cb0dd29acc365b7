#include "cli/recordings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "recording/cast.h"
#include "recording/recording.h"

static FILE *open_cast(const char *dir, const char *id)
{
	char path[4096];
	if (!recording_id_valid(id)) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s.cast", dir, id);
	return fopen(path, "re");
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cli_replay(const char *dir, const char *id, const struct replay_opts *o, int out_fd)
{
	_cleanup_fclose_ FILE *f = open_cast(dir, id);
	if (!f)
		return -errno;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	struct field_error err = {0};
	json_t *h = NULL;
	if (n <= 0 || cast_parse_header(line, (size_t)n - (line[n - 1] == '\n'), &h, &err) < 0) {
		fprintf(stderr, "kubectl-bulwark: %s.cast: %s: %s\n", id, err.field, err.reason);
		return -EINVAL;
	}
	json_decref(h);
	uint64_t prev = 0;
	double speed = o->speed > 0 ? o->speed : 1.0;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct cast_event e;
		memset(&err, 0, sizeof(err));
		if (cast_parse_event(line, (size_t)n - (line[n - 1] == '\n'), &e, &err) < 0) {
			fprintf(stderr, "kubectl-bulwark: %s.cast: %s: %s\n", id, err.field,
				err.reason);
			return -EINVAL;
		}
		double wait = (double)(e.t_us > prev ? e.t_us - prev : 0) / 1e6;
		prev = e.t_us;
		if (o->idle_limit > 0 && wait > o->idle_limit)
			wait = o->idle_limit;
		wait /= speed;
		if (wait > 0) {
			struct timespec ts = {(time_t)wait,
					      (long)((wait - (double)(time_t)wait) * 1e9)};
			nanosleep(&ts, NULL);
		}
		int r = 0;
		if (!strcmp(e.type, "o"))
			r = write_all(out_fd, e.data, e.len);
		cast_event_clear(&e);
		if (r < 0)
			return r;
	}
	return 0;
}

int cli_export(const char *dir, const char *id, const char *path)
{
	_cleanup_fclose_ FILE *in = open_cast(dir, id);
	if (!in)
		return -errno;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	char b[65536];
	size_t n;
	while ((n = fread(b, 1, sizeof(b), in)) > 0) {
		int r = write_all(fd, b, n);
		if (r < 0)
			return r;
	}
	return ferror(in) ? -EIO : 0;
}

int cli_verify(const char *dir, const char *id, const char *expected_digest, bool json)
{
	struct recording_verify_result v;
	int r = recording_verify(dir, id, expected_digest, &v);
	if (r < 0)
		return r;
	if (json) {
		json_t *j = json_pack("{s:s,s:b,s:b,s:s,s:I,s:I}", "session", id, "ok", v.ok,
				      "finished", v.finished, "digest", v.digest, "castRecords",
				      (json_int_t)v.cast_records, "logRecords",
				      (json_int_t)v.log_records);
		if (j && !v.ok)
			json_object_set_new(j, "problem",
					    json_pack("{s:s,s:I,s:I,s:I,s:s}", "file", v.file,
						      "index", (json_int_t)v.index, "offset",
						      (json_int_t)v.offset, "length",
						      (json_int_t)v.length, "reason", v.reason));
		char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(j);
	} else if (v.ok) {
		printf("OK %s: %llu terminal records and %llu log records intact, digest %s\n", id,
		       (unsigned long long)v.cast_records, (unsigned long long)v.log_records,
		       v.digest);
	} else if (v.index >= 0) {
		printf("FAILED %s: %s record %lld (event index %lld), bytes %lld..%lld of %s.%s: "
		       "%s\n",
		       id, v.file, (long long)v.index, (long long)(v.index - 1),
		       (long long)v.offset, (long long)(v.offset + v.length), id, v.file, v.reason);
	} else {
		printf("FAILED %s: %s\n", id, v.reason);
	}
	return v.ok ? 0 : 1;
}

static void human_size(uint64_t n, char out[32])
{
	static const char units[] = "BKMGT";
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(out, 32, u ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static void human_age(uint64_t secs, char out[32])
{
	if (secs < 120)
		snprintf(out, 32, "%llus", (unsigned long long)secs);
	else if (secs < 7200)
		snprintf(out, 32, "%llum", (unsigned long long)secs / 60);
	else if (secs < 172800)
		snprintf(out, 32, "%lluh", (unsigned long long)secs / 3600);
	else
		snprintf(out, 32, "%llud", (unsigned long long)secs / 86400);
}

/* One row from a recording's header and last event. */
static void print_row(const char *dir, const char *id)
{
	_cleanup_fclose_ FILE *f = open_cast(dir, id);
	if (!f)
		return;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	struct field_error err = {0};
	json_t *h = NULL;
	if (n <= 0 || cast_parse_header(line, (size_t)n - (line[n - 1] == '\n'), &h, &err) < 0)
		return;
	uint64_t last = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct cast_event e;
		if (cast_parse_event(line, (size_t)n - (line[n - 1] == '\n'), &e, &err) == 0) {
			last = e.t_us;
			cast_event_clear(&e);
		}
	}
	struct stat st;
	uint64_t size = fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0;
	json_t *k = json_object_get(h, "kubernetes");
	char pod[300], cmd[256] = "", age[32], sz[32];
	snprintf(pod, sizeof(pod), "%s/%s",
		 json_string_value(json_object_get(k, "namespace")) ?: "-",
		 json_string_value(json_object_get(k, "pod")) ?: "-");
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(k, "command"), i, a) {
		size_t used = strlen(cmd);
		snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "",
			 json_string_value(a) ?: "");
	}
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(h, "timestamp"));
	uint64_t now = (uint64_t)time(NULL);
	human_age(now > ts ? now - ts : 0, age);
	human_size(size, sz);
	printf("%-40s %-6s %-32s %-12s %-8s %9.1fs %8s  %s\n", id, age, pod,
	       json_string_value(json_object_get(k, "container")) ?: "-",
	       json_string_value(json_object_get(json_object_get(k, "user"), "username")) ?: "-",
	       (double)last / 1e6, sz, cmd);
	json_decref(h);
}

int cli_sessions_local(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	printf("%-40s %-6s %-32s %-12s %-8s %10s %8s  %s\n", "SESSION", "AGE", "NAMESPACE/POD",
	       "CONTAINER", "USER", "DURATION", "SIZE", "COMMAND");
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".cast") != 0 ||
		    len - 5 > RECORDING_ID_MAX)
			continue;
		char id[RECORDING_ID_MAX + 1];
		memcpy(id, de->d_name, len - 5);
		id[len - 5] = '\0';
		print_row(dir, id);
	}
	closedir(d);
	return 0;
}
