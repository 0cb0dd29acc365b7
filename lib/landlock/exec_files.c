#include "landlock/exec_files.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int landlock_exec_resolve(const char *cmd, char ret[PATH_MAX])
{
	if (!cmd[0])
		return -ENOENT;
	if (strchr(cmd, '/')) {
		if (strlen(cmd) >= PATH_MAX)
			return -ENAMETOOLONG;
		snprintf(ret, PATH_MAX, "%s", cmd);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	bool saw_eacces = false;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		char candidate[PATH_MAX];
		int n = end == p ? snprintf(candidate, sizeof(candidate), "%s", cmd)
				 : snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)(end - p),
					    p, cmd);
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			if (is_executable_file(candidate)) {
				memcpy(ret, candidate, (size_t)n + 1);
				return 0;
			}
			saw_eacces = saw_eacces || access(candidate, F_OK) == 0;
		}
		if (!*end)
			break;
		p = end;
	}
	return saw_eacces ? -EACCES : -ENOENT;
}

/* The PT_INTERP string of an ELF file, or "" when it has none. */
static int elf_interpreter(int fd, const unsigned char *ident, char ret[PATH_MAX])
{
	uint64_t phoff;
	unsigned phnum, phentsize;
	ret[0] = '\0';
	if (ident[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			return 0;
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return 0;
	} else if (ident[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			return 0;
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return 0;
	} else
		return 0;

	/* The kernel refuses more program headers than fit in 64 KiB; so do we. */
	if ((uint64_t)phnum * phentsize > 65536)
		return 0;
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t type, offset, size;
		off_t at = (off_t)(phoff + (uint64_t)i * phentsize);
		if (ident[EI_CLASS] == ELFCLASS64) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph))
				return 0;
			type = ph.p_type, offset = ph.p_offset, size = ph.p_filesz;
		} else {
			Elf32_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph))
				return 0;
			type = ph.p_type, offset = ph.p_offset, size = ph.p_filesz;
		}
		if (type != PT_INTERP)
			continue;
		if (size < 2 || size > PATH_MAX)
			return 0;
		if (pread(fd, ret, size, (off_t)offset) != (ssize_t)size || ret[size - 1] != '\0') {
			ret[0] = '\0';
			return 0;
		}
		return 0;
	}
	return 0;
}

/* The interpreter of a "#!" line, as the kernel reads it: the first word after "#!". */
static void script_interpreter(const char *head, size_t len, char ret[PATH_MAX])
{
	size_t i = 2, start;
	ret[0] = '\0';
	while (i < len && (head[i] == ' ' || head[i] == '\t'))
		i++;
	start = i;
	while (i < len && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != '\0')
		i++;
	if (i > start && i - start < PATH_MAX) {
		memcpy(ret, head + start, i - start);
		ret[i - start] = '\0';
	}
}

static int add_file(struct landlock_exec_files *files, const char *path)
{
	if (files->n >= LANDLOCK_EXEC_MAX_FILES)
		return -E2BIG;
	snprintf(files->path[files->n++], PATH_MAX, "%s", path);
	return 0;
}

int landlock_exec_files(const char *program, struct landlock_exec_files *ret)
{
	struct landlock_exec_files files = {.n = 0};
	char next[PATH_MAX];
	int r = add_file(&files, program);
	if (r < 0)
		return r;

	/* The kernel follows at most 4 script interpreters (BINPRM_MAX_RECURSION). */
	for (int depth = 0; depth <= 4; depth++) {
		const char *current = files.path[files.n - 1];
		_cleanup_close_ int fd = open(current, O_RDONLY | O_CLOEXEC);
		char head[256]; /* BINPRM_BUF_SIZE */
		ssize_t len = fd < 0 ? -1 : pread(fd, head, sizeof(head), 0);
		if (len < 4)
			break;
		if (memcmp(head, ELFMAG, SELFMAG) == 0) {
			elf_interpreter(fd, (const unsigned char *)head, next);
			if (next[0] && (r = add_file(&files, next)) < 0)
				return r;
			break;
		}
		if (head[0] != '#' || head[1] != '!')
			break;
		script_interpreter(head, (size_t)len, next);
		if (!next[0] || (r = add_file(&files, next)) < 0)
			break;
	}
	*ret = files;
	return 0;
}
