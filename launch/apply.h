/* Turning one layer of a ruleset file into a Landlock domain on the calling thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "landlock/ruleset.h"
#include "landlock/exec_files.h"

struct layer_apply {
	int abi;				/* the kernel's ABI, after --abi-max */
	bool hard_requirement;			/* a missing path is an error, not a warning */
	const struct landlock_exec_files *exec; /* granted execute+read_file in every layer */
};

/* What a built ruleset holds, for the log line. */
struct layer_stats {
	size_t path_rules;
	size_t port_rules;
	size_t skipped_paths;
};

/* Creates a Landlock ruleset for layer (already downgraded to a->abi) and adds its rules:
 * paths are opened O_PATH, directory-only rights are dropped for files, port rules are
 * added per port. A path that cannot be opened is logged and skipped, or, with
 * hard_requirement, logged and fatal (-ENOENT and friends). Returns the ruleset fd. */
int layer_build(const struct landlock_layer *layer, size_t index, const struct layer_apply *a,
		int *ret_fd, struct layer_stats *ret_stats);
