#include "apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "landlock_compat.h"
#include "log.h"

#define EXEC_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE)

static int add_path(int ruleset_fd, const char *path, uint64_t access, uint64_t *ret_added)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* The kernel refuses directory rights on a file; they would mean nothing there. */
	if (!S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_FILE_ONLY_MASK;
	*ret_added = access;
	if (!access)
		return 0;
	struct bulwark_landlock_path_beneath_attr attr = {.allowed_access = access,
							  .parent_fd = fd};
	if (landlock_add_rule(ruleset_fd, BULWARK_LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
		return -errno;
	return 0;
}

int layer_build(const struct landlock_layer *layer, size_t index, const struct layer_apply *a,
		int *ret_fd, struct layer_stats *ret_stats)
{
	struct layer_stats stats = {0};
	struct bulwark_landlock_ruleset_attr attr = {
		.handled_access_fs = layer->handled.fs,
		.handled_access_net = layer->handled.net,
		.scoped = layer->handled.scope,
	};
	/* Older kernels reject a struct longer than they know unless the tail is zero, and
	 * the tail is zero whenever the ABI lacks the field, so one size fits all. */
	_cleanup_close_ int ruleset_fd = landlock_create_ruleset(&attr, sizeof(attr), 0);
	if (ruleset_fd < 0) {
		int r = -errno;
		log_error(r, "cannot create a Landlock ruleset", "layer", LOG_INT(index), "policy",
			  layer->policy);
		return r;
	}

	for (size_t i = 0; i < layer->n_path_rules; i++) {
		const struct landlock_path_rule *rule = &layer->path_rules[i];
		if (!rule->access)
			continue;
		for (size_t k = 0; k < rule->n_paths; k++) {
			uint64_t added = 0;
			char field[96];
			snprintf(field, sizeof(field), "layers[%zu].pathBeneath[%zu].parent[%zu]",
				 index, i, k);
			int r = add_path(ruleset_fd, rule->paths[k], rule->access, &added);
			if (r == -ENOENT || r == -EACCES || r == -ENOTDIR || r == -ELOOP) {
				if (a->hard_requirement) {
					log_error(r,
						  "cannot open a path of the ruleset "
						  "(compatibility HardRequirement)",
						  "rule", field, "path", rule->paths[k], "policy",
						  layer->policy);
					return r;
				}
				log_warn("cannot open a path of the ruleset, skipping its rule "
					 "(compatibility BestEffort)",
					 "rule", field, "path", rule->paths[k], "policy",
					 layer->policy, "reason", strerror(-r));
				stats.skipped_paths++;
				continue;
			}
			if (r < 0) {
				log_error(r, "cannot add a Landlock path rule", "rule", field,
					  "path", rule->paths[k], "policy", layer->policy);
				return r;
			}
			if (added != rule->access && log_enabled(1)) {
				char kept[256];
				landlock_rights_format(LANDLOCK_KIND_FS, added, kept, sizeof(kept));
				log_info(1, "not a directory: kept only the file rights", "rule",
					 field, "path", rule->paths[k], "kept", kept);
			}
			stats.path_rules += added != 0;
		}
	}

	if (layer->handled.fs & EXEC_RIGHTS) {
		for (size_t i = 0; i < a->exec->n; i++) {
			uint64_t added;
			int r = add_path(ruleset_fd, a->exec->path[i],
					 layer->handled.fs & EXEC_RIGHTS, &added);
			/* A file we cannot open is a file execve() cannot run: it will say so. */
			if (r < 0 && r != -ENOENT && r != -EACCES && r != -ELOOP && r != -ENOTDIR) {
				log_error(r, "cannot allow the command's own files", "path",
					  a->exec->path[i], "policy", layer->policy);
				return r;
			}
			if (r == 0)
				log_info(2, "allowed the files the exec needs", "path",
					 a->exec->path[i], "layer", LOG_INT(index));
		}
	}

	for (size_t i = 0; i < layer->n_port_rules; i++) {
		const struct landlock_port_rule *rule = &layer->port_rules[i];
		if (!rule->access)
			continue;
		for (size_t k = 0; k < rule->n_ports; k++) {
			struct bulwark_landlock_net_port_attr port = {
				.allowed_access = rule->access, .port = rule->ports[k]};
			if (landlock_add_rule(ruleset_fd, BULWARK_LANDLOCK_RULE_NET_PORT, &port,
					      0) < 0) {
				int r = -errno;
				char field[96];
				snprintf(field, sizeof(field), "layers[%zu].netPort[%zu].port[%zu]",
					 index, i, k);
				log_error(r, "cannot add a Landlock port rule", "rule", field,
					  "port", LOG_INT(rule->ports[k]), "policy", layer->policy);
				return r;
			}
			stats.port_rules++;
		}
	}

	*ret_fd = TAKE_FD(ruleset_fd);
	if (ret_stats)
		*ret_stats = stats;
	return 0;
}
