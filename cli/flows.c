#include "flows.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "kube/client.h"
#include "kube/config.h"

/* The agent DaemonSet's pod labels and its metrics port, plain HTTP (deploy/agent/). */
#define AGENT_LABEL  "app.kubernetes.io/name=bulwark,app.kubernetes.io/component=agent"
#define AGENT_PORT   9443
#define RESPONSE_MAX (32u << 20)

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

void flows_print(const json_t *response, FILE *out)
{
	const json_t *flows = json_object_get(response, "flows");
	fprintf(out, "%-12s %-28s %-8s %-7s %-5s %-40s %s\n", "TIME", "POD", "DIR", "VERDICT",
		"PROTO", "FLOW", "BYTES");
	size_t i;
	json_t *f;
	json_array_foreach (flows, i, f) {
		time_t t = (time_t)json_number_value(json_object_get(f, "ts"));
		struct tm tm;
		char when[16], flow[128], proto[8];
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
		snprintf(flow, sizeof(flow), "%s:%lld -> %s:%lld", str(f, "src"),
			 json_integer_value(json_object_get(f, "sport")), str(f, "dst"),
			 json_integer_value(json_object_get(f, "dport")));
		long p = (long)json_integer_value(json_object_get(f, "proto"));
		snprintf(proto, sizeof(proto), "%s",
			 p == 6	    ? "TCP"
			 : p == 17  ? "UDP"
			 : p == 1   ? "ICMP"
			 : p == 58  ? "ICMP6"
			 : p == 132 ? "SCTP"
				    : "?");
		fprintf(out, "%-12s %-28s %-8s %-7s %-5s %-40s %lld\n", when, str(f, "pod"),
			str(f, "direction"), str(f, "verdict"), proto, flow,
			json_integer_value(json_object_get(f, "len")));
	}
	if (!json_array_size(flows))
		fprintf(out, "(no flows sampled yet on node %s)\n", str(response, "node"));
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	return buf_append(ud, data, size * n) == 0 ? size * n : 0;
}

static int get_direct(const char *url, json_t **ret)
{
	struct buf body = BUF_INIT(RESPONSE_MAX);
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	int r = 0;
	if (rc != CURLE_OK) {
		fprintf(stderr, "kubectl-bulwark: %s: %s\n", url, curl_easy_strerror(rc));
		r = -EIO;
	} else if (!(*ret = json_loadb(buf_str(&body), body.len, 0, NULL))) {
		fprintf(stderr, "kubectl-bulwark: %s: the agent's answer is not JSON\n", url);
		r = -EBADMSG;
	}
	buf_free(&body);
	return r;
}

/* The escaped query: pod=NS/NAME&limit=N. */
static void query(const struct flows_options *o, char *out, size_t size)
{
	char pod[600] = "";
	if (o->pod) {
		char *ns = curl_easy_escape(NULL, o->ns ? o->ns : "default", 0);
		char *name = curl_easy_escape(NULL, o->pod, 0);
		snprintf(pod, sizeof(pod), "pod=%s%%2F%s&", ns, name);
		curl_free(ns);
		curl_free(name);
	}
	snprintf(out, size, "%slimit=%zu", pod, o->limit ? o->limit : 100);
}

static int get_through_apiserver(const struct flows_options *o, json_t **ret)
{
	struct field_error err = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *c = NULL;
	json_t *pod = NULL, *agents = NULL;
	const char *agent_ns = o->agent_namespace ? o->agent_namespace : "bulwark-system";
	int r = kube_config_load_default(o->kubeconfig, o->context, &cfg, &err);
	r = r ?: kube_client_new(cfg, NULL, &c);
	const char *ns = o->ns ? o->ns : (cfg ? cfg->namespace : NULL);
	const char *node = o->node;
	if (r == 0 && o->pod) {
		r = kube_get(c, &KUBE_RES_PODS, ns, o->pod, &pod, NULL);
		node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
		if (r == 0 && !node) {
			fprintf(stderr, "kubectl-bulwark: pod %s/%s is not bound to a node\n", ns,
				o->pod);
			r = -ENXIO;
		}
	}
	if (r == 0 && !node) {
		fprintf(stderr, "kubectl-bulwark: flows needs pod/NAME, --node or --agent\n");
		r = -EINVAL;
	}
	char field[300];
	snprintf(field, sizeof(field), "spec.nodeName=%s", node ? node : "");
	struct kube_list_options lo = {.label_selector = AGENT_LABEL, .field_selector = field};
	r = r ?: kube_list(c, &KUBE_RES_PODS, agent_ns, &lo, &agents, NULL, NULL);
	const char *agent = json_string_value(
		json_object_get(json_object_get(json_array_get(agents, 0), "metadata"), "name"));
	if (r == 0 && !agent) {
		fprintf(stderr, "kubectl-bulwark: no bulwark-agent pod (%s) on node %s in %s\n",
			AGENT_LABEL, node, agent_ns);
		r = -ENOENT;
	}
	if (r == 0) {
		char q[1024], url[2048];
		query(o, q, sizeof(q));
		snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/http:%s:%d/proxy/flows?%s",
			 cfg->server, agent_ns, agent, AGENT_PORT, q);
		struct kube_status st = {0};
		r = kube_request(c, "GET", url, NULL, NULL, ret, &st);
		if (r < 0)
			fprintf(stderr,
				"kubectl-bulwark: the agent on %s through the API server: %s\n",
				node, st.message[0] ? st.message : strerror(-r));
	} else if (err.reason[0]) {
		fprintf(stderr, "kubectl-bulwark: %s: %s\n", err.field, err.reason);
	}
	json_decref(pod);
	json_decref(agents);
	kube_client_free(c);
	kube_config_free(cfg);
	return r;
}

int cli_flows(const struct flows_options *o, FILE *out)
{
	json_t *response = NULL;
	int r;
	if (o->agent_url) {
		char q[1024], url[2048];
		query(o, q, sizeof(q));
		snprintf(url, sizeof(url), "%s/flows?%s", o->agent_url, q);
		r = get_direct(url, &response);
	} else {
		r = get_through_apiserver(o, &response);
	}
	if (r == 0)
		flows_print(response, out);
	json_decref(response);
	return r;
}
