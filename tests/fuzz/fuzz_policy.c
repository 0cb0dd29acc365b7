/* Any bytes as a BulwarkPolicy (what the webhook and kubectl-bulwark receive): parsing and
 * policy_validate never crash, leak or read out of bounds, every rejection says why, and a
 * policy that validates also selects and compiles for a pod without failing. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "policy/policy.h"

/* Webhook bodies are bounded; a bigger input only slows the fuzzer down. */
#define FUZZ_POLICY_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_POLICY_MAX_INPUT)
		return 0;
	json_t *policy = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!policy)
		return 0;

	struct field_error err = {0};
	char msg[800];
	int r = policy_validate(policy, &err);
	if (r < 0) {
		/* A rejection always carries a reason. */
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (r == -EINVAL && !err.reason[0])
			abort();
		field_error_str(&err, msg, sizeof(msg));
		json_decref(policy);
		return 0;
	}

	/* Valid: put it in a namespace, and compile it for a pod there with its labels. */
	json_t *meta = json_object_get(policy, "metadata");
	if (!json_object_get(meta, "namespace"))
		json_object_set_new(meta, "namespace", json_string("fuzz"));
	if (!json_object_get(meta, "name"))
		json_object_set_new(meta, "name", json_string("fuzz"));
	json_t *pod = json_pack("{s:{s:O, s:s, s:{s:s}}}", "metadata", "namespace",
				json_object_get(meta, "namespace"), "name", "pod", "labels", "app",
				"web");
	if (pod && policy_selects_pod(policy, pod) < 0)
		abort(); /* a validated selector is never malformed */
	json_t *compiled = NULL, *cached = NULL;
	struct field_error cerr = {0};
	if (pod && policy_compile_pod(pod, &policy, 1, &compiled, &cerr) == 0 && compiled) {
		if (!json_is_string(json_object_get(compiled, "hash")))
			abort();
		/* The cached path must produce the same object, hash included (a one-slot cache:
		 * every input evicts the previous one, and a repeated input hits). */
		static struct policy_cache *cache;
		if (!cache && policy_cache_new(1, &cache) < 0)
			abort();
		for (int i = 0; i < 2; i++) {
			if (policy_compile_pod_cached(cache, pod, &policy, 1, &cached, NULL) < 0 ||
			    !json_equal(compiled, cached))
				abort();
			json_decref(cached);
		}
	}
	json_decref(compiled);
	json_decref(pod);
	json_decref(policy);
	return 0;
}
