/* lib/seccomp/store: content-addressed profile files, atomic writes, garbage collection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "canonical.h"
#include "seccomp/store.h"

static int setup(void **state)
{
	char *dir = strdup("/tmp/bulwark-seccomp-store-XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	int r = system(cmd);
	free(*state);
	return r == 0 ? 0 : -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *data = calloc(1, 65536);
	*len = fread(data, 1, 65535, f);
	fclose(f);
	return data;
}

static void path_of(char *out, size_t size, const char *root, const char *name)
{
	snprintf(out, size, "%s/%s", root, name);
}

static void set_age(const char *path, time_t seconds_ago)
{
	struct timespec ts[2] = {{.tv_sec = time(NULL) - seconds_ago},
				 {.tv_sec = time(NULL) - seconds_ago}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void file_name_is_the_hash_of_its_bytes(void **state)
{
	const char *root = *state;
	json_t *p = json_pack("{s:s, s:[{s:[s], s:s}]}", "defaultAction", "SCMP_ACT_ALLOW",
			      "syscalls", "names", "mkdir", "action", "SCMP_ACT_ERRNO");
	char name[SECCOMP_PROFILE_NAME_MAX];
	assert_int_equal(seccomp_profile_store_write(root, p, name), 0);
	char hex[65];
	assert_int_equal(json_canonical_sha256(p, hex), 0);
	char want[128];
	snprintf(want, sizeof(want), "bulwark/%s.json", hex);
	assert_string_equal(name, want);

	char path[512];
	path_of(path, sizeof(path), root, name);
	size_t len;
	char *data = read_file(path, &len);
	assert_non_null(data);
	char file_hex[65];
	assert_int_equal(sha256_hex(data, len, file_hex), 0);
	assert_string_equal(file_hex, hex);
	free(data);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/bulwark", root);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	json_decref(p);
}

static void identical_profile_is_not_rewritten(void **state)
{
	const char *root = *state;
	json_t *p = json_pack("{s:s}", "defaultAction", "SCMP_ACT_LOG");
	char name[SECCOMP_PROFILE_NAME_MAX], path[512];
	assert_int_equal(seccomp_profile_store_write(root, p, name), 0);
	path_of(path, sizeof(path), root, name);
	struct stat before, after;
	assert_int_equal(stat(path, &before), 0);
	set_age(path, 3600);
	assert_int_equal(seccomp_profile_store_write(root, p, name), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);	/* same file, not a replacement */
	assert_true(after.st_mtime >= time(NULL) - 60); /* but wanted again: age restarts */

	/* A torn file under the right name is replaced with the right bytes. */
	FILE *f = fopen(path, "we");
	fputs("{\"defaultAct", f);
	fclose(f);
	assert_int_equal(seccomp_profile_store_write(root, p, name), 0);
	size_t len;
	char *data = read_file(path, &len);
	assert_string_equal(data, "{\"defaultAction\":\"SCMP_ACT_LOG\"}");
	free(data);
	json_decref(p);
}

static void gc_removes_only_old_unused_profiles(void **state)
{
	const char *root = *state;
	char used[SECCOMP_PROFILE_NAME_MAX], old[SECCOMP_PROFILE_NAME_MAX],
		young[SECCOMP_PROFILE_NAME_MAX], path[512];
	json_t *a = json_pack("{s:s}", "defaultAction", "SCMP_ACT_ALLOW");
	json_t *b = json_pack("{s:s}", "defaultAction", "SCMP_ACT_TRAP");
	json_t *c = json_pack("{s:s}", "defaultAction", "SCMP_ACT_KILL_PROCESS");
	assert_int_equal(seccomp_profile_store_write(root, a, used), 0);
	assert_int_equal(seccomp_profile_store_write(root, b, old), 0);
	assert_int_equal(seccomp_profile_store_write(root, c, young), 0);
	path_of(path, sizeof(path), root, used);
	set_age(path, 7200);
	path_of(path, sizeof(path), root, old);
	set_age(path, 7200);
	/* Not ours: never touched, however old. */
	char other[512];
	snprintf(other, sizeof(other), "%s/bulwark/notes.json", root);
	FILE *f = fopen(other, "we");
	fclose(f);
	set_age(other, 7200);

	const char *in_use[] = {used};
	unsigned removed = 99;
	assert_int_equal(seccomp_profile_store_gc(root, in_use, 1, 600, &removed), 0);
	assert_int_equal(removed, 1);
	path_of(path, sizeof(path), root, used);
	assert_int_equal(access(path, F_OK), 0);
	path_of(path, sizeof(path), root, young);
	assert_int_equal(access(path, F_OK), 0);
	path_of(path, sizeof(path), root, old);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0);

	/* In use is in use, whatever its age, also named without the directory. */
	path_of(path, sizeof(path), root, used);
	const char *bare[] = {used + strlen("bulwark/")};
	assert_int_equal(seccomp_profile_store_gc(root, bare, 1, 0, &removed), 0);
	assert_int_equal(access(path, F_OK), 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(file_name_is_the_hash_of_its_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(identical_profile_is_not_rewritten, setup,
						teardown),
		cmocka_unit_test_setup_teardown(gc_removes_only_old_unused_profiles, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
