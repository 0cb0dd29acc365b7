/* The agent reads container runtimes' saved state (runc's state.json, crun's config.json) to
 * name the container of a node-local exec session. The files are the host's, but their
 * contents come from whatever the runtime was asked to store: any bytes must give a name or
 * an error, never a crash, and an accepted name fits and is not empty. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nodeagent/exec/container_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *state = json_loadb((const char *)data, size, 0, NULL);
	if (!state)
		return 0;
	char name[64];
	int r = container_name_from_state(state, name, sizeof(name));
	if (r == 0 && (!name[0] || strlen(name) >= sizeof(name)))
		abort();
	if (r < 0 && r != -ENOENT && r != -ENAMETOOLONG)
		abort();
	json_decref(state);
	return 0;
}
