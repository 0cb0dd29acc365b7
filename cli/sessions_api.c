/* `kubectl bulwark sessions` against the API server: the ExecSession objects, as a table. */
#include "cli/sessions_api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kube/client.h"
#include "bulwark_resources.h"
#include "kube/config.h"

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : "-";
}

static long parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (long)timegm(&tm);
}

int cli_sessions_api(const char *kubeconfig, const char *context, const char *ns, bool all_ns)
{
	struct field_error ferr = {0};
	struct kube_config *cfg = NULL;
	int r = kube_config_load_default(kubeconfig, context, &cfg, &ferr);
	if (r < 0) {
		fprintf(stderr, "kubectl-bulwark: kubeconfig: %s: %s\n", ferr.field, ferr.reason);
		return r;
	}
	struct kube_client *c = NULL;
	r = kube_client_new(cfg, NULL, &c);
	json_t *items = NULL;
	struct kube_status st = {0};
	if (r >= 0)
		r = kube_list(c, &BULWARK_RES_EXECSESSIONS,
			      all_ns ? NULL : (ns ? ns : cfg->namespace), NULL, &items, NULL, &st);
	if (r < 0) {
		fprintf(stderr, "kubectl-bulwark: listing ExecSessions: %s\n", strerror(-r));
		kube_client_free(c);
		kube_config_free(cfg);
		return r;
	}
	printf("%-6s %-40s %-12s %-16s %-10s %9s %9s  %s\n", "AGE", "NAMESPACE/POD", "CONTAINER",
	       "USER", "PHASE", "DURATION", "BYTES", "COMMAND (SESSION)");
	size_t i;
	json_t *it;
	long now = (long)time(NULL);
	json_array_foreach (items, i, it) {
		json_t *md = json_object_get(it, "metadata"), *spec = json_object_get(it, "spec"),
		       *status = json_object_get(it, "status");
		long created = parse_rfc3339(str(md, "creationTimestamp"));
		long age = created > 0 && now > created ? now - created : 0;
		char agebuf[32], pod[300], cmd[256] = "";
		if (age < 120)
			snprintf(agebuf, sizeof(agebuf), "%lds", age);
		else if (age < 7200)
			snprintf(agebuf, sizeof(agebuf), "%ldm", age / 60);
		else if (age < 172800)
			snprintf(agebuf, sizeof(agebuf), "%ldh", age / 3600);
		else
			snprintf(agebuf, sizeof(agebuf), "%ldd", age / 86400);
		snprintf(pod, sizeof(pod), "%s/%s", str(md, "namespace"), str(spec, "pod"));
		size_t k;
		json_t *a;
		json_array_foreach (json_object_get(spec, "command"), k, a) {
			size_t used = strlen(cmd);
			snprintf(cmd + used, sizeof(cmd) - used, "%s%s", k ? " " : "",
				 json_string_value(a) ?: "");
		}
		printf("%-6s %-40s %-12s %-16s %-10s %8.1fs %9lld  %s (%s)\n", agebuf, pod,
		       str(spec, "container"), str(json_object_get(spec, "user"), "username"),
		       str(status, "phase"),
		       json_number_value(json_object_get(status, "durationSeconds")),
		       (long long)json_integer_value(json_object_get(status, "bytes")), cmd,
		       str(md, "name"));
	}
	json_decref(items);
	kube_client_free(c);
	kube_config_free(cfg);
	return 0;
}
