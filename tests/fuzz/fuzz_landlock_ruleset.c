/* Any bytes as a ruleset file: parse and validate never crash, leak or read out of bounds,
 * and a ruleset that parses survives the downgrade to every ABI. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "landlock/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct landlock_ruleset *rs = NULL;
	struct field_error err = {0};
	char msg[800];
	if (landlock_ruleset_parse((const char *)data, size, &rs, &err) < 0) {
		field_error_str(&err, msg, sizeof(msg));
		return 0;
	}
	/* The downgrade only ever removes rights: check it on a fresh copy for each ABI. */
	for (int abi = 0; abi <= LANDLOCK_ABI_LATEST; abi++) {
		struct landlock_ruleset *copy = NULL;
		if (landlock_ruleset_parse((const char *)data, size, &copy, NULL) < 0)
			abort();
		for (size_t i = 0; i < copy->n_layers; i++) {
			struct landlock_layer *l = &copy->layers[i];
			struct landlock_rights before = l->handled;
			struct landlock_rights dropped = landlock_layer_downgrade(l, abi);
			if ((l->handled.fs | dropped.fs) != before.fs ||
			    (l->handled.fs & dropped.fs))
				abort();
			for (size_t k = 0; k < l->n_path_rules; k++)
				if (l->path_rules[k].access & ~l->handled.fs)
					abort();
		}
		landlock_ruleset_free(copy);
	}
	landlock_ruleset_free(rs);
	return 0;
}
