/* Any bytes as an AdmissionReview on any route (the first byte picks it): decoding, every
 * review and encoding never crash, leak or read out of bounds; a body that is not a review gets
 * 4xx with a reason; and every 200 answer is an AdmissionReview that echoes the request's uid
 * and, when it patches, carries a JSON Patch array. Policies: one per mechanism and exec, so
 * pods labelled app=web go through every mutator. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "base64.h"
#include "webhook/webhook.h"

#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct webhook w;
static struct policy_store *store;

static int stub_get_pod(struct webhook *wh, const char *ns, const char *name, json_t **ret,
			char *errbuf, size_t errsize)
{
	*ret = json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s}]}}", "metadata", "name", name,
			 "namespace", ns, "labels", "app", "web", "spec", "containers", "name",
			 "app");
	return *ret ? 0 : -ENOMEM;
}

static int stub_create_session(struct webhook *wh, const char *ns, const json_t *session,
			       char *errbuf, size_t errsize)
{
	/* What the API would store must at least serialise. */
	char *s = json_dumps(session, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	free(s);
	return 0;
}

static const char *const policies[] = {
	"{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\",\"metadata\":"
	"{\"name\":\"a\",\"namespace\":\"shop\"},\"spec\":{\"podSelector\":{\"matchLabels\":"
	"{\"app\":\"web\"}},\"seccomp\":{\"allow\":[\"@system-service\"]},\"landlock\":"
	"{\"filesystem\":[{\"paths\":[\"/usr\"],\"access\":[\"execute\",\"read_file\"]}]},"
	"\"execRecording\":{\"enabled\":true}}}",
	"{\"apiVersion\":\"bulwark.dev/v1alpha1\",\"kind\":\"BulwarkPolicy\",\"metadata\":"
	"{\"name\":\"b\",\"namespace\":\"shop\"},\"spec\":{\"podSelector\":{},\"mode\":\"Audit\","
	"\"seccomp\":{\"deny\":[{\"syscalls\":[\"ptrace\"]}]},\"execRecording\":{\"allowExec\":"
	"false}}}",
};

static void init(void)
{
	log_set_verbosity(-1);
	if (webhook_init(&w) < 0 || policy_store_new(&store) < 0)
		abort();
	w.policies = store;
	w.mutate = (struct mutate_options){"bulwark:fuzz", "/bulwark-launch"};
	w.io = (struct webhook_exec_io){stub_get_pod, stub_create_session};
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		json_t *p = json_loads(policies[i], 0, NULL);
		if (!p || policy_store_put(store, p) < 0)
			abort();
		json_decref(p);
	}
}

static void check_answer(const char *body, size_t len, const char *out, int status)
{
	json_t *answer = json_loads(out, 0, NULL);
	if (!answer)
		abort(); /* every answer is JSON */
	if (status != 200) {
		if (status < 400 || status > 500 ||
		    !json_string_value(json_object_get(answer, "error")))
			abort();
		json_decref(answer);
		return;
	}
	json_t *request = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	const char *uid =
		json_string_value(json_object_get(json_object_get(request, "request"), "uid"));
	const json_t *response = json_object_get(answer, "response");
	const char *echoed = json_string_value(json_object_get(response, "uid"));
	if (!uid || !echoed || strcmp(uid, echoed) != 0)
		abort();
	if (!json_is_boolean(json_object_get(response, "allowed")))
		abort();
	const char *patch = json_string_value(json_object_get(response, "patch"));
	if (patch) {
		struct buf b = BUF_INIT(64u << 20);
		if (base64_decode_append(&b, patch, strlen(patch)) < 0)
			abort();
		json_t *ops = json_loads(buf_str(&b), 0, NULL);
		if (!json_is_array(ops) || json_array_size(ops) == 0)
			abort();
		json_decref(ops);
		buf_free(&b);
	}
	json_decref(request);
	json_decref(answer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	enum webhook_route route = (enum webhook_route)(data[0] % WEBHOOK_ROUTE_COUNT);
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct buf out = BUF_INIT(64u << 20);
	int status = webhook_review(&w, route, body, len, &out);
	check_answer(body, len, buf_str(&out), status);
	buf_free(&out);
	return 0;
}
