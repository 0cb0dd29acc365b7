#!/usr/bin/env bash
# Bulwark installed on a real node as docs/install.md says (e2e/node/bulwark.sh: an overlay
# that sets only the images and their pull policy, `kubectl apply -k`, the first certificate
# job), from the images `make images` built: the CRDs, RBAC, the controller and webhook
# Deployments and the agent DaemonSet come up Ready with exactly the shipped securityContext;
# the webhook's self-managed certificates work through its Service (the API server calls it
# for a pod and for a policy); the controller's TLS Service carries the agents' streams (an
# agent is Ready only after the controller's snapshot) and the aggregated recordings API.
# Runs first in the tier (the chain tests install too if run alone).
# shellcheck source-path=SCRIPTDIR source=bulwark.sh
source "$(dirname "$0")/bulwark.sh"

check() { tap_check "$@" || true; }

start=$SECONDS
bulwark_install
printf '# installed and Ready in %ss\n' "$((SECONDS - start))"
tap_ok "kubectl apply -k of the overlay: every component Ready"

crds() {
	local c
	for c in bulwarkpolicies.bulwark.dev execsessions.bulwark.dev; do
		[ "$(kubectl get crd "$c" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ] || return 1
	done
}
check "the CRDs are Established" crds

# The images the pods run are the ones make images built, by digest.
digest_of() { awk -v f="$1" '$1 == f { print $3 }' "$BUILD/images/digests"; }
runs_image() { # runs_image SELECTOR FILE
	local want
	want=$(digest_of "$2")
	kubectl -n "$NS" get pods -l "$1" -o json |
		jq -e --arg d "$want" '[.items[].status.containerStatuses[] | .imageID | endswith($d)] | all and length > 0' >/dev/null
}
check "the agent runs $AGENT_IMAGE (digest of make images)" runs_image app.kubernetes.io/component=agent bulwark-agent.tar
check "the controller runs $CONTROLLER_IMAGE" runs_image app.kubernetes.io/component=controller bulwark-controller.tar
check "the webhook runs $WEBHOOK_IMAGE" runs_image app.kubernetes.io/component=webhook bulwark-webhook.tar

# Exactly the shipped securityContext: the pod's containers as stored, against deploy/ rendered.
rendered=$(kubectl kustomize "$BULWARK_ROOT/deploy" | kubectl create --dry-run=client -o json -f - | jq -s .) ||
	fail "cannot render deploy/"
same_security() { # same_security KIND NAME SELECTOR
	local want got
	want=$(jq -c --arg k "$1" --arg n "$2" '.[] | select(.kind == $k and .metadata.name == $n)
		| .spec.template.spec | {pod: .securityContext, hostPID, hostNetwork,
		  containers: [(.initContainers // [])[], .containers[] | {name, securityContext}]}' <<<"$rendered")
	got=$(kubectl -n "$NS" get pods -l "$3" -o json | jq -c '.items[0].spec | {pod: .securityContext,
		hostPID, hostNetwork, containers: [(.initContainers // [])[], .containers[] | {name, securityContext}]}')
	# The API server defaults nothing in these fields but an empty pod securityContext.
	jq -en --argjson a "$want" --argjson b "$got" '($a | .pod //= {}) == ($b | .pod //= {})' >/dev/null || {
		printf 'shipped: %s\nrunning: %s\n' "$want" "$got"
		return 1
	}
}
check "the agent pod has the DaemonSet's securityContext exactly (BPF, PERFMON, NET_ADMIN; no host PID/network)" \
	same_security DaemonSet bulwark-agent app.kubernetes.io/component=agent
check "the controller pod has the shipped securityContext" \
	same_security Deployment bulwark-controller app.kubernetes.io/component=controller
check "the webhook pod has the shipped securityContext" \
	same_security Deployment bulwark-webhook app.kubernetes.io/component=webhook

# The kernel features the agent found on this node (its /healthz).
health=$(agent_get "$NODE" /healthz) || health='{}'
printf '# agent /healthz: %s\n' "$(jq -c . <<<"$health" 2>/dev/null || echo "$health")"
check "the agent found BPF cgroup-skb, BTF, bpffs, cgroup v2, seccomp and Landlock on $NODE" jq -e \
	'.features | .bpf.cgroupSkb and .bpf.btf and .bpf.bpffs and .cgroupV2 and .seccomp.available
	 and .landlock.abi >= 1' <<<"$health"
check "the agent applied the controller's snapshot (through the controller's TLS Service)" jq -e '.synced' <<<"$health"

leader=$(kubectl -n "$NS" get lease bulwark-controller -o jsonpath='{.spec.holderIdentity}')
ready_ctrl=$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=controller -o json |
	jq -r '.items[] | select(any(.status.conditions[]; .type == "Ready" and .status == "True")) | .metadata.name')
check "one controller is Ready, and it holds the Lease ($leader)" test "$ready_ctrl" = "$leader"

# The webhook's certificates: made by itself, in its Secret and both configurations' caBundle,
# and the API server trusts them when it calls the Service.
ca_bundles() {
	local m v s
	s=$(kubectl -n "$NS" get secret bulwark-webhook-tls -o jsonpath='{.data.ca\.crt}') || return 1
	m=$(kubectl get mutatingwebhookconfiguration bulwark -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
	v=$(kubectl get validatingwebhookconfiguration bulwark -o jsonpath='{.webhooks[*].clientConfig.caBundle}')
	[ -n "$s" ] && [ "$m" = "$s" ] && [ "$(tr ' ' '\n' <<<"$v" | sort -u)" = "$s" ]
}
check "the webhook wrote its CA into its Secret and both configurations" ca_bundles
node_namespace install
ns=$TEST_NS
bad=$(kubectl -n "$ns" apply -f - 2>&1 <<'EOF'
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: bad}
spec:
  podSelector: {matchLabels: {app: x}}
  seccomp:
    deny:
      - {syscalls: [no_such_call], action: Errno, errno: EPERM}
EOF
) && bad="accepted: $bad"
printf '# %s\n' "$bad"
check "through its Service, the webhook refuses an invalid policy (policies.validate.bulwark.dev)" \
	grep -q 'policies.validate.bulwark.dev' <<<"$bad"
kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply a policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: sc}
spec:
  podSelector: {matchLabels: {app: x}}
  seccomp:
    deny:
      - {syscalls: [ptrace], action: Errno, errno: EPERM}
EOF
mutated() {
	kubectl -n "$ns" run x --image="$BUSYBOX_IMAGE" --labels=app=x --restart=Never --dry-run=server \
		-o json --command -- sleep 1 | jq -e '.spec.securityContext.seccompProfile.type == "Localhost"' >/dev/null
}
check "through its Service, the webhook mutates a pod a policy selects (dry run)" wait_for "$T" mutated

api() { kubectl get --raw /apis/recordings.bulwark.dev/v1 | jq -e '.resources | length > 0'; }
check "the aggregated API recordings.bulwark.dev/v1 answers through the controller's Service" api
tap_done
