/* What the launcher grants for its own execve(): the PATH lookup, the ELF loader from
 * PT_INTERP, and "#!" interpreter chains, on files crafted in a temporary directory. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "landlock/exec_files.h"

static char dir[64];

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static const char *at(const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

/* A minimal ELF64 file: a header, a PT_LOAD and (when interp is set) a PT_INTERP. */
static void write_elf64(const char *name, const char *interp, bool terminate)
{
	unsigned char buf[512] = {0};
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = interp ? 2 : 1;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + eh->e_phoff);
	ph[0].p_type = PT_LOAD;
	size_t end = eh->e_phoff + 2 * sizeof(Elf64_Phdr);
	if (interp) {
		size_t n = strlen(interp) + (terminate ? 1 : 0);
		ph[1].p_type = PT_INTERP;
		ph[1].p_offset = end;
		ph[1].p_filesz = n;
		memcpy(buf + end, interp, strlen(interp));
		end += n + 1;
	}
	write_file(name, buf, end, 0755);
}

static void write_elf32(const char *name, const char *interp)
{
	unsigned char buf[512] = {0};
	Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_phoff = sizeof(Elf32_Ehdr);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = 1;
	Elf32_Phdr *ph = (Elf32_Phdr *)(buf + eh->e_phoff);
	ph->p_type = PT_INTERP;
	ph->p_offset = eh->e_phoff + sizeof(Elf32_Phdr);
	ph->p_filesz = strlen(interp) + 1;
	memcpy(buf + ph->p_offset, interp, strlen(interp) + 1);
	write_file(name, buf, ph->p_offset + ph->p_filesz, 0755);
}

static void write_script(const char *name, const char *line)
{
	write_file(name, line, strlen(line), 0755);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bulwark-exec-files.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void assert_chain(const char *program, const char *const *want, size_t n)
{
	struct landlock_exec_files files;
	assert_int_equal(landlock_exec_files(program, &files), 0);
	assert_int_equal(files.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(files.path[i], want[i]);
}

static void elf_loader_is_found(void **state)
{
	write_elf64("dyn", "/lib64/ld-test.so.2", true);
	assert_chain(at("dyn"), (const char *[]){at("dyn"), "/lib64/ld-test.so.2"}, 2);
	write_elf64("static", NULL, true);
	assert_chain(at("static"), (const char *[]){at("static")}, 1);
	write_elf32("dyn32", "/lib/ld-linux.so.2");
	assert_chain(at("dyn32"), (const char *[]){at("dyn32"), "/lib/ld-linux.so.2"}, 2);
	/* An interpreter string without its NUL is not trusted. */
	write_elf64("bad-interp", "/lib64/ld-test.so.2", false);
	assert_chain(at("bad-interp"), (const char *[]){at("bad-interp")}, 1);
	write_file("truncated", "\177ELF\2", 5, 0755);
	assert_chain(at("truncated"), (const char *[]){at("truncated")}, 1);
}

static void script_chains_are_followed(void **state)
{
	char line[PATH_MAX + 16];
	write_elf64("interp", "/lib64/ld-test.so.2", true);
	snprintf(line, sizeof(line), "#!%s -x\necho\n", at("interp"));
	write_script("one", line);
	assert_chain(at("one"), (const char *[]){at("one"), at("interp"), "/lib64/ld-test.so.2"},
		     3);
	snprintf(line, sizeof(line), "#! \t%s", at("one")); /* no newline at all */
	write_script("two", line);
	assert_chain(at("two"),
		     (const char *[]){at("two"), at("one"), at("interp"), "/lib64/ld-test.so.2"},
		     4);
	/* A script that names itself stops at the kernel's recursion limit. */
	snprintf(line, sizeof(line), "#!%s\n", at("loop"));
	write_script("loop", line);
	struct landlock_exec_files files;
	assert_int_equal(landlock_exec_files(at("loop"), &files), 0);
	assert_int_equal(files.n, 6);
	write_script("plain", "echo no interpreter\n");
	assert_chain(at("plain"), (const char *[]){at("plain")}, 1);
	assert_chain(at("missing"), (const char *[]){at("missing")}, 1);
}

static void path_lookup_is_like_execvp(void **state)
{
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char path[PATH_MAX], env[2 * PATH_MAX];
	assert_int_equal(mkdir(at("a"), 0755), 0);
	assert_int_equal(mkdir(at("b"), 0755), 0);
	write_file("a/tool", "x", 1, 0644); /* not executable: skipped */
	write_file("b/tool", "x", 1, 0755);
	write_file("a/only-data", "x", 1, 0644);
	snprintf(env, sizeof(env), "%s:%s", at("a"), at("b"));
	setenv("PATH", env, 1);

	assert_int_equal(landlock_exec_resolve("tool", path), 0);
	assert_string_equal(path, at("b/tool"));
	assert_int_equal(landlock_exec_resolve("only-data", path), -EACCES);
	assert_int_equal(landlock_exec_resolve("absent", path), -ENOENT);
	assert_int_equal(landlock_exec_resolve("", path), -ENOENT);
	/* A name with a slash is not looked up. */
	assert_int_equal(landlock_exec_resolve("./tool", path), 0);
	assert_string_equal(path, "./tool");

	if (saved)
		setenv("PATH", saved, 1);
	else
		unsetenv("PATH");
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(elf_loader_is_found),
		cmocka_unit_test(script_chains_are_followed),
		cmocka_unit_test(path_lookup_is_like_execvp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
