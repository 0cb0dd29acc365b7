/* Where this machine mounts cgroup v2, for the kernel tests: read from /proc/self/mountinfo,
 * never assumed. A pure v2 host has it at /sys/fs/cgroup, a hybrid one at
 * /sys/fs/cgroup/unified, a VM or container wherever its init put it. */
#pragma once

#include <stdio.h>
#include <string.h>

/* The first cgroup2 mount point into buf; 0, or -1 when there is none (buf is then ""). */
static inline int test_cgroup2_mount(char *buf, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	buf[0] = '\0';
	if (!f)
		return -1;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - cgroup2 ");
		char point[1024];
		if (sep && sscanf(line, "%*s %*s %*s %*s %1023s", point) == 1 &&
		    strlen(point) < n) {
			strcpy(buf, point);
			break;
		}
	}
	fclose(f);
	return buf[0] ? 0 : -1;
}
