/* Listing ExecSession objects through the API server (RBAC: list execsessions.bulwark.dev). */
#pragma once

#include <stdbool.h>

#include "kube/client.h"

/* Prints the sessions of ns (NULL: the kubeconfig context's namespace), or of every namespace. */
int cli_sessions_api(const char *kubeconfig, const char *context, const char *ns, bool all_ns);
