/* The seccomp applier: writes every profile the controller sends into the kubelet's seccomp
 * folder (lib/seccomp/store.h) before any pod can refer to it, checks that each profile
 * hashes to the name it was sent under, and collects profiles that nothing has wanted for
 * a grace period. Pods themselves need nothing from the agent: the runtime loads the
 * profile named in the pod spec (the webhook put it there). */
#pragma once

#include "nodeagent/sync.h"

struct seccomp_applier;

/* kubelet_seccomp_root: e.g. /var/lib/kubelet/seccomp (profiles go to its bulwark/ folder). */
int seccomp_applier_new(const char *kubelet_seccomp_root, unsigned gc_grace_seconds,
			struct seccomp_applier **ret);
struct seccomp_applier *seccomp_applier_free(struct seccomp_applier *a);

/* The applier interface for agent_sync_add_applier(). */
struct applier seccomp_applier_ops(struct seccomp_applier *a);
