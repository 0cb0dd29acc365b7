#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_layout.h"

static int copy(char *out, size_t n, const char *s)
{
	return (size_t)snprintf(out, n, "%s", s) < n ? 0 : -ENAMETOOLONG;
}

int harness_config_init(struct harness_config *cfg, const char *cgroup_root,
			const char *kubelet_root, const char *state_dir, const char *driver)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *v2;
	int r = harness_cgroup_v2_mount(&v2);
	if (r < 0)
		return r;
	char def[PATH_MAX];
	snprintf(def, sizeof(def), "%s/%s", v2, HARNESS_DEFAULT_CGROUP_NAME);
	if ((r = copy(cfg->cgroup_root, sizeof(cfg->cgroup_root), cgroup_root ?: def)) < 0 ||
	    (r = copy(cfg->kubelet_root, sizeof(cfg->kubelet_root),
		      kubelet_root ?: HARNESS_DEFAULT_KUBELET_ROOT)) < 0 ||
	    (r = copy(cfg->state_dir, sizeof(cfg->state_dir),
		      state_dir ?: HARNESS_DEFAULT_STATE_DIR)) < 0)
		return r;
	/* Trailing slashes would make the relative path differ from what runc joins. */
	for (size_t l = strlen(cfg->cgroup_root); l > 1 && cfg->cgroup_root[l - 1] == '/'; l--)
		cfg->cgroup_root[l - 1] = '\0';
	size_t v2len = strlen(v2);
	/* The root must be a cgroup strictly below the v2 mount: we create and remove it. */
	if (strncmp(cfg->cgroup_root, v2, v2len) || cfg->cgroup_root[v2len] != '/' ||
	    !cfg->cgroup_root[v2len + 1] || strstr(cfg->cgroup_root, ".."))
		return -EINVAL;
	if ((r = copy(cfg->cgroup_rel, sizeof(cfg->cgroup_rel), cfg->cgroup_root + v2len)) < 0)
		return r;
	snprintf(cfg->runc_root, sizeof(cfg->runc_root), "%s/runc", cfg->state_dir);
	if (!driver || !strcmp(driver, "cgroupfs"))
		cfg->cgroup_driver = HARNESS_CGROUP_CGROUPFS;
	else if (!strcmp(driver, "systemd"))
		cfg->cgroup_driver = HARNESS_CGROUP_SYSTEMD;
	else
		return -EINVAL;
	if (cfg->kubelet_root[0] != '/' || cfg->state_dir[0] != '/')
		return -EINVAL;
	return 0;
}

int harness_config_add_image(struct harness_config *cfg, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || eq[1] != '/' || cfg->n_images == HARNESS_MAX_IMAGES)
		return -EINVAL;
	char *name = strndup(spec, (size_t)(eq - spec));
	if (!name)
		return -ENOMEM;
	cfg->images[cfg->n_images++] = (struct image_overlay){.name = name, .dir = eq + 1};
	return 0;
}
