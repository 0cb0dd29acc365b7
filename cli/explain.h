/* `kubectl bulwark explain pod/NAME`: the effective policy of one pod and where each part of
 * it comes from — which BulwarkPolicies select the pod, the seccomp profile its containers
 * get, and for every syscall that a policy names (directly or through a @group), which policy
 * allowed, denied or (Audit) logged it. The same composition as the controller and the
 * webhook (lib/policy), so what it prints is what the node enforces. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

/* Writes the explanation of pod under policies (every BulwarkPolicy of its namespace; those
 * that do not select it are ignored) to out. 0, or a negative errno with err saying why (an
 * invalid policy names its field). */
int explain_pod(const json_t *pod, json_t *const *policies, size_t n, FILE *out,
		struct field_error *err);

/* Fetches pod NS/NAME and the policies of NS through the kubeconfig and explains it. */
int cli_explain_api(const char *kubeconfig, const char *context, const char *ns,
		    const char *pod_name, FILE *out);
