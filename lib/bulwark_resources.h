/* Bulwark's own API resources (crds/), for lib/kube clients: one definition that the
 * controller, the webhook, the agent and the CLI share. */
#pragma once

#include "kube/client.h"

extern const struct kube_resource BULWARK_RES_POLICIES; /* bulwark.dev/v1alpha1 bulwarkpolicies */
extern const struct kube_resource BULWARK_RES_EXECSESSIONS; /* bulwark.dev/v1alpha1 execsessions */
