/* Atomic replace, capped reads, mkdir -p. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include <cmocka.h>

#include "fileio.h"

static char dir[] = "/tmp/bulwark-fileio-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}
static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void atomic_write_replaces_and_leaves_no_temp(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(write_file_atomic(path, "first", 5, 0600), 0);
	assert_int_equal(write_file_atomic(path, "second!", 7, 0600), 0);
	struct buf b = BUF_INIT(1024);
	assert_int_equal(read_file_capped(path, &b), 0);
	assert_string_equal(buf_str(&b), "second!");
	buf_free(&b);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(dir), 1);
}

static void write_into_missing_dir_fails_cleanly(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/missing/x", dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0644), -ENOENT);
}

static void read_is_capped(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/big", dir);
	char data[5000];
	memset(data, 'x', sizeof(data));
	assert_int_equal(write_file_atomic(path, data, sizeof(data), 0644), 0);
	struct buf b = BUF_INIT(4096);
	assert_int_equal(read_file_capped(path, &b), -EMSGSIZE);
	buf_free(&b);
	b = BUF_INIT(5000);
	assert_int_equal(read_file_capped(path, &b), 0);
	assert_int_equal(b.len, 5000);
	buf_free(&b);
	assert_int_equal(read_file_capped("/nonexistent/bulwark", &b), -ENOENT);
}

static void symlink_target_is_replaced_not_followed(void **state)
{
	char victim[256], link[256];
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(link, sizeof(link), "%s/profile.json", dir);
	assert_int_equal(write_file_atomic(victim, "keep", 4, 0644), 0);
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(write_file_atomic(link, "new", 3, 0644), 0);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	struct buf b = BUF_INIT(64);
	assert_int_equal(read_file_capped(victim, &b), 0);
	assert_string_equal(buf_str(&b), "keep");
	buf_free(&b);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, "a/b", "x", 1, 0644), -EINVAL);
	unlink(link);
	unlink(victim);
}

static void mkdir_p_creates_levels(void **state)
{
	char path[256], file[300];
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0755), 0);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(file, sizeof(file), "%s/f", path);
	assert_int_equal(write_file_atomic(file, "", 0, 0644), 0);
	assert_int_equal(mkdir_p(file, 0755), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(atomic_write_replaces_and_leaves_no_temp),
		cmocka_unit_test(write_into_missing_dir_fails_cleanly),
		cmocka_unit_test(read_is_capped),
		cmocka_unit_test(symlink_target_is_replaced_not_followed),
		cmocka_unit_test(mkdir_p_creates_levels),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
