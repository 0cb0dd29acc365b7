/* Both ends of the recordings leg parse input they do not control: the agent a request path
 * after /v1/recordings/, the controller the three X-Bulwark-Recordings-* headers of a stream
 * request. The input is split at newlines into path, URL, pin and token. Any bytes must give
 * a result or a field error, never a crash; an accepted id is never a path step, and an
 * accepted endpoint is exactly what the checks promise. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/recordings/agent_recordings.h"
#include "nodeagent/exec/recordings_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *parts[4] = {NULL};
	char *save = NULL;
	size_t n = 0;
	for (char *p = strtok_r(text, "\n", &save); p && n < 4; p = strtok_r(NULL, "\n", &save))
		parts[n++] = p;

	char id[RECORDING_ID_MAX + 1];
	const char *kind = NULL;
	struct field_error err = {0};
	if (parts[0] && recordings_request_parse(parts[0], id, &kind, &err) == 0) {
		if (!id[0] || id[0] == '.' || strchr(id, '/') || strstr(id, ".."))
			abort();
	} else if (parts[0] && !err.reason[0]) {
		abort();
	}

	struct agent_recordings_ep ep;
	memset(&err, 0, sizeof(err));
	int r = agent_recordings_ep_parse(parts[1], parts[2], parts[3], &ep, &err);
	if (r == 0) {
		if (strncmp(ep.url, "https://", 8) != 0 || strchr(ep.url + 8, '/') ||
		    strlen(ep.token) != AGENT_RECORDINGS_TOKEN_LEN ||
		    strlen(ep.pin) != CERTS_PIN_LEN - 1)
			abort();
	} else if (r == -EINVAL && !err.reason[0]) {
		abort();
	}
	free(text);
	return 0;
}
