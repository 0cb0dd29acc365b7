/* `kubectl bulwark flows [pod/NAME]`: recent network flows (allowed, denied, audited) that the
 * node agent sampled, newest last. The agent is reached through the API server's proxy to
 * the agent pod on the pod's node (so Kubernetes RBAC decides: `get pods/proxy` in the
 * agent's namespace), or directly with --agent URL on the node. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

struct flows_options {
	const char *kubeconfig, *context;
	const char *ns;	       /* the pod's namespace */
	const char *pod;       /* NULL: every pod of the agent's node (needs --node or --agent) */
	const char *node;      /* which agent, when no pod is given */
	const char *agent_url; /* direct access, e.g. http://127.0.0.1:9443 */
	const char *agent_namespace; /* default bulwark-system */
	size_t limit;		     /* default 100 */
};

/* Prints the flows as a table. 0 or negative errno (the reason on stderr). */
int cli_flows(const struct flows_options *o, FILE *out);

/* The table for a /flows response body ({"node", "flows": [...]}). */
void flows_print(const json_t *response, FILE *out);
