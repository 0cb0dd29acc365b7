#include "policy/dispatch.h"

#include "landlock/landlock_policy.h"
#include "netpolicy/netpolicy.h"
#include "seccomp/policy.h"

static const char *const network_parts[] = {"egress", "ingress", NULL};
static const char *const landlock_parts[] = {"filesystem", "network", "scope", NULL};

/* The order is the order of validation, so it decides which error a user sees first. */
const struct policy_mechanism policy_mechanisms[] = {
	{"network", network_parts, netpolicy_validate, netpolicy_compile},
	{"seccomp", NULL, seccomp_policy_validate, seccomp_policy_compile},
	{"landlock", landlock_parts, landlock_policy_validate, landlock_policy_compile},
	{NULL, NULL, NULL, NULL},
};
