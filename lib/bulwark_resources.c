#include "bulwark_resources.h"

const struct kube_resource BULWARK_RES_POLICIES = {.group = "bulwark.dev",
						   .version = "v1alpha1",
						   .plural = "bulwarkpolicies",
						   .namespaced = true};
const struct kube_resource BULWARK_RES_EXECSESSIONS = {.group = "bulwark.dev",
						       .version = "v1alpha1",
						       .plural = "execsessions",
						       .namespaced = true};
