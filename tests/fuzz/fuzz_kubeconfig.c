/* A kubeconfig is user input: any bytes must load or give an error naming a field and a
 * reason, never crash or read outside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field_error err = {0};
	struct kube_config *c = NULL;
	/* No directory: relative paths then resolve against "/nonexistent-fuzz", so a
	 * referenced file is never read from the fuzzer's working directory. */
	int r = kube_config_parse((const char *)data, size, "/nonexistent-fuzz", NULL, &c, &err);
	if (r == 0) {
		if (!c || !c->server || !c->namespace || (!c->cert_pem != !c->key_pem))
			abort();
		kube_config_free(c);
	} else if (c || (r == -EINVAL && !err.reason[0])) {
		abort(); /* every refusal says why */
	}
	return 0;
}
