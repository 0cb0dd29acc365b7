/* The agent parses whatever arrives on the push stream: any bytes must give a message or a
 * field error, never a crash, and an accepted message must hold what validation promised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct push_message m;
	struct field_error err = {0};
	if (push_message_parse((const char *)data, size, &m, &err) == 0) {
		if (m.type == PUSH_SNAPSHOT && !json_is_array(m.pods))
			abort();
		if ((m.type == PUSH_UPSERT || m.type == PUSH_DELETE) && !json_is_object(m.pod))
			abort();
		push_message_done(&m);
	} else if (!err.reason[0]) {
		abort(); /* every refusal says why */
	}
	return 0;
}
