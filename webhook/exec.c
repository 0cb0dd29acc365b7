/* pods/exec and pods/attach CONNECT: the only moment anyone sees who opens a session into a
 * container (the node sees only a process appear). The review reads the pod, composes the
 * execRecording sections of the policies selecting it, refuses the session when an Enforce
 * policy says allowExec: false (naming it), and when recording is on creates an ExecSession
 * (phase Requested) with the requester's identity for the node agent to complete. A session
 * that must be recorded but cannot be is refused: an unrecorded session is what recording
 * exists to prevent. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark_resources.h"
#include "cleanup.h"
#include "kube/client.h"
#include "log.h"
#include "metrics.h"
#include "policy/policy.h"
#include "webhook/webhook.h"

/* The CRD's limits on spec (crds/execsession.yaml): longer values would make the create fail
 * and with it the exec, so they are cut and the cut is said in a warning. */
#define SESSION_COMMAND_MAX 256
#define SESSION_ARG_MAX	    4096
#define SESSION_GROUPS_MAX  256
#define SESSION_USER_MAX    1024

static int kube_get_pod(struct webhook *w, const char *ns, const char *name, json_t **ret,
			char *errbuf, size_t size)
{
	struct kube_status st = {0};
	int r = kube_get(w->client, &KUBE_RES_PODS, ns, name, ret, &st);
	if (r < 0)
		snprintf(errbuf, size, "%s", st.message[0] ? st.message : strerror(-r));
	return r;
}

static int kube_create_session(struct webhook *w, const char *ns, const json_t *session,
			       char *errbuf, size_t size)
{
	struct kube_status st = {0};
	json_auto_t *created = NULL;
	int r = kube_create(w->client, &BULWARK_RES_EXECSESSIONS, ns, session, &created, &st);
	if (r == -EEXIST)
		return 0; /* the same request reviewed twice: its session exists */
	if (r < 0) {
		snprintf(errbuf, size, "%s", st.message[0] ? st.message : strerror(-r));
		return r;
	}
	/* Status is a subresource: the phase is written in a second step. */
	if (json_object_set_new(created, "status", json_pack("{s:s}", "phase", "Requested")) < 0)
		return -ENOMEM;
	r = kube_update_status(w->client, &BULWARK_RES_EXECSESSIONS, ns, created, NULL, &st);
	if (r < 0)
		/* The session and its identity are recorded; the agent sets the phase anyway. */
		log_warn("cannot set an ExecSession's phase to Requested, ignoring", "namespace",
			 ns, "name",
			 json_string_value(
				 json_object_get(json_object_get(created, "metadata"), "name")),
			 "err", st.message);
	return 0;
}

const struct webhook_exec_io webhook_exec_io_kube = {kube_get_pod, kube_create_session};

/* The container the request names, else the one kubectl would pick: the default-container
 * annotation, else the first container. */
static const char *session_container(const json_t *options, const json_t *pod)
{
	const char *c = json_string_value(json_object_get(options, "container"));
	if (c && *c)
		return c;
	const json_t *md = json_object_get(pod, "metadata");
	c = json_string_value(json_object_get(json_object_get(md, "annotations"),
					      "kubectl.kubernetes.io/default-container"));
	if (c && *c)
		return c;
	c = json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0),
		"name"));
	return c ? c : "";
}

static json_t *bounded_strings(const json_t *list, size_t max_items, size_t max_len, bool *cut)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (!out)
			break;
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (json_array_size(out) == max_items) {
			*cut = true;
			break;
		}
		size_t n = strlen(s);
		if (n > max_len) {
			*cut = true;
			n = max_len;
		}
		json_array_append_new(out, json_stringn(s, n));
	}
	return out;
}

static json_t *build_session(const struct admission_request *req, const json_t *pod, bool *cut)
{
	const json_t *opts = req->object;
	const json_t *user = req->user_info;
	const char *username = json_string_value(json_object_get(user, "username"));
	const char *user_uid = json_string_value(json_object_get(user, "uid"));

	/* The name is the request's UID: unique, and the same if the review is ever retried. */
	char name[ADMISSION_UID_MAX + 8];
	snprintf(name, sizeof(name), "exec-%s", req->uid);
	for (char *p = name; *p; p++)
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);

	json_t *command = bounded_strings(json_object_get(opts, "command"), SESSION_COMMAND_MAX,
					  SESSION_ARG_MAX, cut);
	json_t *groups = bounded_strings(json_object_get(user, "groups"), SESSION_GROUPS_MAX,
					 SESSION_USER_MAX, cut);
	const char *node =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	json_t *u = json_pack("{s:s%, s:o*}", "username", username ? username : "",
			      username ? strnlen(username, SESSION_USER_MAX) : 0, "groups", groups);
	if (u && user_uid)
		json_object_set_new(u, "uid",
				    json_stringn(user_uid, strnlen(user_uid, SESSION_USER_MAX)));
	json_t *labels = json_object();
	if (labels && strlen(req->name) <= 63)
		json_object_set_new(labels, "bulwark.dev/pod", json_string(req->name));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o*}, s:{s:s, s:s, s:s, s:o*, s:b, s:b, s:o*, "
			 "s:s}}",
			 "apiVersion", POLICY_API_VERSION, "kind", "ExecSession", "metadata",
			 "name", name, "namespace", req->namespace, "labels", labels, "spec", "pod",
			 req->name, "container", session_container(opts, pod), "node",
			 node ? node : "", "command", command ? command : json_array(), "tty",
			 json_is_true(json_object_get(opts, "tty")), "stdin",
			 json_is_true(json_object_get(opts, "stdin")), "user", u, "requestUID",
			 req->uid);
}

/* The execRecording composition of the namespace's policies for pod (NULL when none has that
 * section). On failure resp is a denial and a negative errno is returned. */
static int compose(struct webhook *w, const char *ns, const json_t *pod, json_t **ret,
		   struct admission_response *resp)
{
	json_auto_t *policies = policy_store_namespace(w->policies, ns);
	size_t n = json_array_size(policies);
	_cleanup_free_ json_t **items = n ? calloc(n, sizeof(*items)) : NULL;
	if (!policies || (n && !items)) {
		admission_deny(resp, 500, "InternalError", "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(policies, i);
	struct field_error err = {0};
	int r = policy_compose_exec(pod, items, n, ret, &err);
	if (r < 0) {
		char msg[800];
		admission_deny(resp, 500, "InternalError",
			       "bulwark: cannot compose exec policy: %s",
			       field_error_str(&err, msg, sizeof(msg)));
		return r;
	}
	return 0;
}

int webhook_review_exec(struct webhook *w, const struct admission_request *req,
			struct admission_response *resp, json_t *warnings)
{
	bool exec = strcmp(req->sub_resource, "exec") == 0;
	if (strcmp(req->resource, "pods") != 0 || *req->group ||
	    (!exec && strcmp(req->sub_resource, "attach") != 0)) {
		admission_deny(
			resp, 400, "BadRequest",
			"bulwark-webhook /exec reviews pods/exec and pods/attach, not %s%s%s; "
			"fix the webhook configuration's rules",
			req->resource, *req->sub_resource ? "/" : "", req->sub_resource);
		return 0;
	}
	if (strcmp(req->operation, "CONNECT") != 0 || !req->namespace || !req->name) {
		resp->allowed = true;
		return 0;
	}

	char errbuf[512] = "";
	json_auto_t *pod = NULL;
	int r = w->io.get_pod(w, req->namespace, req->name, &pod, errbuf, sizeof(errbuf));
	if (r == -ENOENT) {
		resp->allowed = true; /* the apiserver answers NotFound itself */
		return 0;
	}
	if (r < 0) {
		admission_deny(resp, 503, "ServiceUnavailable",
			       "bulwark: cannot read pod %s/%s to check its exec policy: %s; retry",
			       req->namespace, req->name, errbuf);
		return 0;
	}

	json_auto_t *composed = NULL;
	if (compose(w, req->namespace, pod, &composed, resp) < 0)
		return 0;
	const char *verb = exec ? "exec" : "attach";
	if (!composed) {
		resp->allowed = true;
		return 0;
	}
	const json_t *denied_by = json_object_get(composed, "deniedBy");
	if (json_is_false(json_object_get(composed, "allowExec"))) {
		_cleanup_free_ char *names = json_dumps(denied_by, JSON_COMPACT);
		admission_deny(resp, 403, "Forbidden",
			       "bulwark: %s into pod %s/%s is forbidden by BulwarkPolicy %s "
			       "(execRecording.allowExec: false)",
			       verb, req->namespace, req->name, names ? names : "?");
		return 0;
	}
	const json_t *audit = json_object_get(composed, "auditDeniedBy");
	if (json_array_size(audit) > 0) {
		_cleanup_free_ char *names = json_dumps(audit, JSON_COMPACT);
		char text[512];
		snprintf(text, sizeof(text),
			 "bulwark: Audit BulwarkPolicy %s would forbid %s into this pod", names,
			 verb);
		json_array_append_new(warnings, json_string(text));
	}

	if (json_is_true(json_object_get(composed, "enabled")) && !req->dry_run) {
		bool cut = false;
		json_auto_t *session = build_session(req, pod, &cut);
		if (!session) {
			admission_deny(resp, 500, "InternalError", "out of memory");
			return -ENOMEM;
		}
		r = w->io.create_session(w, req->namespace, session, errbuf, sizeof(errbuf));
		const char *label[] = {r < 0 ? "failed" : "created"};
		metric_add(w->sessions, label, 1);
		if (r < 0) {
			admission_deny(resp, 503, "ServiceUnavailable",
				       "bulwark: %s sessions into pod %s/%s are recorded, and the "
				       "ExecSession could not be created (%s); retry",
				       verb, req->namespace, req->name, errbuf);
			return 0;
		}
		if (cut)
			json_array_append_new(warnings,
					      json_string("bulwark: the ExecSession record holds a "
							  "shortened command or group list"));
	}
	resp->allowed = true;
	return 0;
}

/* Ephemeral containers (kubectl debug) run a command of the requester's choosing inside the
 * pod without any exec; a pod whose policy forbids exec must refuse them too, or allowExec:
 * false is a suggestion. */
int webhook_review_ephemeral(struct webhook *w, const struct admission_request *req,
			     struct admission_response *resp, json_t *warnings)
{
	if (strcmp(req->operation, "UPDATE") != 0 || !req->namespace || !req->object) {
		resp->allowed = true;
		return 0;
	}
	json_auto_t *composed = NULL;
	if (compose(w, req->namespace, req->object, &composed, resp) < 0)
		return 0;
	if (composed && json_is_false(json_object_get(composed, "allowExec"))) {
		_cleanup_free_ char *names =
			json_dumps(json_object_get(composed, "deniedBy"), JSON_COMPACT);
		admission_deny(
			resp, 403, "Forbidden",
			"bulwark: adding ephemeral containers (kubectl debug) to pod %s/%s is "
			"forbidden by BulwarkPolicy %s (execRecording.allowExec: false)",
			req->namespace, req->name ? req->name : "?", names ? names : "?");
		return 0;
	}
	const json_t *audit = json_object_get(composed, "auditDeniedBy");
	if (json_array_size(audit) > 0) {
		_cleanup_free_ char *names = json_dumps(audit, JSON_COMPACT);
		char text[512];
		snprintf(
			text, sizeof(text),
			"bulwark: Audit BulwarkPolicy %s would forbid ephemeral containers in this "
			"pod",
			names);
		json_array_append_new(warnings, json_string(text));
	}
	resp->allowed = true;
	return 0;
}
