# shellcheck shell=bash
# Sourced by the real-node tests of Bulwark (e2e/node/test_bulwark_install.sh,
# test_chain_*.sh) and bench/prestart.sh: Bulwark installed on the real-node cluster
# (e2e/node/node.sh up) the way docs/install.md tells a user to, from the images `make images`
# built (node.sh imported them into every node's containerd).
#
#   bulwark_install        writes the overlay, `kubectl apply -k` it, runs the first
#                          certificate job, waits until everything is Ready (idempotent: a
#                          second call only checks)
#   bulwark_ready          true once every component is Ready and the APIService Available
#   node_namespace PREFIX  TEST_NS=e2e-node-PREFIX-<random>, deleted at exit (with its pods,
#                          by the real namespace controller)
#   pod_wait POD [T]       until POD of TEST_NS is Ready; says why not
#   agent_pod NODE         the bulwark-agent pod on NODE
#   agent_get NODE PATH    GET http://localhost:9443PATH inside that agent (curl in its image)
#   agent_log NODE [SINCE] its log (--since-time=SINCE)
#
# After sourcing: e2e/lib.sh's helpers (kubectl, wait_for, tap_*, on_exit, fail, skip) against
# the cluster, node_exec/node_sh from e2e/node/lib.sh, NODE (the first node), the image
# references of $BUILD/images/images.env, and T, the patience of one step in seconds (the
# guest is emulated: fork+exec is ~50x slower than on the host).

_bw_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null # nodevm's: NODE_DIR, NODES, node_exec, node_sh
source "$_bw_here/lib.sh"
# e2e/lib.sh's helpers, on this cluster: the state dir of its control plane holds the env
# file e2e/lib.sh reads.
export CLUSTER_DIR=${CLUSTER_DIR:-$NODE_DIR/cluster}
# shellcheck source=../lib.sh
source "$_bw_here/../lib.sh"

NODE=${NODES%% *}
T=${NODE_TEST_TIMEOUT:-300}
export PTY_WAIT_SECONDS=${PTY_WAIT_SECONDS:-120}
IMAGES_ENV=$BUILD/images/images.env
[ -r "$IMAGES_ENV" ] || fail "no $IMAGES_ENV: build the images first (make images)"
# shellcheck source=/dev/null
source "$IMAGES_ENV"
CLI=$BUILD/bin/kubectl-bulwark
NS=bulwark-system
OVERLAY=$BUILD/node-overlay

# _bw_overlay: the overlay of docs/install.md ("Installing"), with the images make images built
# and imagePullPolicy Never (the nodes have them imported; a missing one fails at once with
# ErrImageNeverPull instead of retrying a registry they cannot reach).
_bw_overlay() {
	mkdir -p "$OVERLAY"
	cat >"$OVERLAY/kustomization.yaml" <<EOF
# Written by e2e/node/bulwark.sh: Bulwark's deploy/ with the images of this build.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$OVERLAY" "$BULWARK_ROOT/deploy")
images:
  - {name: bulwark/agent, newName: ${AGENT_IMAGE%:*}, newTag: "$IMAGE_TAG"}
  - {name: bulwark/controller, newName: ${CONTROLLER_IMAGE%:*}, newTag: "$IMAGE_TAG"}
  - {name: bulwark/webhook, newName: ${WEBHOOK_IMAGE%:*}, newTag: "$IMAGE_TAG"}
  - {name: bulwark/launch, newName: ${LAUNCH_IMAGE%:*}, newTag: "$IMAGE_TAG"}
components:
  - $(realpath --relative-to="$OVERLAY" "$_bw_here/overlay")
EOF
}

bulwark_ready() {
	local ds
	ds=$(kubectl -n "$NS" get ds bulwark-agent -o json) || return 1
	jq -e '.status.desiredNumberScheduled > 0 and .status.numberReady == .status.desiredNumberScheduled
	       and .status.updatedNumberScheduled == .status.desiredNumberScheduled' <<<"$ds" >/dev/null || return 1
	[ "$(kubectl -n "$NS" get deploy bulwark-webhook -o jsonpath='{.status.readyReplicas}')" = 2 ] || return 1
	[ "$(kubectl -n "$NS" get deploy bulwark-controller -o jsonpath='{.status.readyReplicas}')" = 1 ] || return 1
	[ "$(kubectl get apiservice v1.recordings.bulwark.dev \
		-o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ]
}

# _bw_say_why: what is not Ready, for a failure message.
_bw_say_why() {
	kubectl -n "$NS" get pods -o wide 2>&1 | sed 's/^/  | /' >&2
	kubectl -n "$NS" get events --sort-by=.lastTimestamp 2>&1 | tail -n 15 | sed 's/^/  | /' >&2
	kubectl get apiservice v1.recordings.bulwark.dev -o jsonpath='{.status.conditions}' 2>&1 | sed 's/^/  | /' >&2
	echo >&2
}

# bulwark_install: docs/install.md, "Installing", step by step.
bulwark_install() {
	bulwark_ready && return 0
	_bw_overlay
	kubectl apply -k "$OVERLAY" >/dev/null || fail "kubectl apply -k $OVERLAY failed"
	if ! kubectl -n "$NS" get secret bulwark-controller-tls >/dev/null 2>&1; then
		kubectl -n "$NS" get job certs-initial >/dev/null 2>&1 ||
			kubectl -n "$NS" create job --from=cronjob/bulwark-controller-certs certs-initial >/dev/null ||
			fail "cannot create the first certificate job"
		kubectl -n "$NS" wait --for=condition=complete job/certs-initial --timeout="$((2 * T))s" >/dev/null || {
			_bw_say_why
			kubectl -n "$NS" logs job/certs-initial --all-containers 2>&1 | tail -n 20 | sed 's/^/  | /' >&2
			fail "the certificate job did not complete"
		}
	fi
	kubectl -n "$NS" rollout status deploy/bulwark-webhook --timeout="$((2 * T))s" >/dev/null ||
		{ _bw_say_why; fail "the webhook never became Ready"; }
	kubectl -n "$NS" rollout status ds/bulwark-agent --timeout="$((2 * T))s" >/dev/null ||
		{ _bw_say_why; fail "the agent DaemonSet never became Ready"; }
	wait_for "$((2 * T))" bulwark_ready || { _bw_say_why; fail "Bulwark never became Ready"; }
}

node_namespace() {
	local ns
	ns=e2e-node-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	kubectl create namespace "$ns" >/dev/null || fail "cannot create namespace $ns"
	[ "${KEEP_NS:-0}" = 1 ] ||
		on_exit "kubectl delete namespace $ns --wait=true --timeout=${T}s >/dev/null 2>&1"
	# The namespace's default ServiceAccount comes from kube-controller-manager; pods wait for it.
	wait_for "$T" kubectl -n "$ns" get serviceaccount default || fail "namespace $ns has no default ServiceAccount"
	TEST_NS=$ns
}

# pod_wait POD [TIMEOUT]: until POD of TEST_NS is Ready; fails at once if it ended.
pod_wait() {
	local deadline=$((SECONDS + ${2:-$T})) phase
	while phase=$(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.status.phase}'); do
		case $phase in
		Running)
			[ "$(kubectl -n "$TEST_NS" get pod "$1" \
				-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ] || return 0
			;;
		Failed | Succeeded) break ;;
		esac
		((SECONDS < deadline)) || break
		sleep 1
	done
	printf 'pod %s is %s: %s\n' "$1" "${phase:-missing}" \
		"$(kubectl -n "$TEST_NS" get pod "$1" -o json | jq -c '[.status.initContainerStatuses, .status.containerStatuses]')" >&2
	kubectl -n "$TEST_NS" logs "$1" --all-containers 2>&1 | tail -n 10 | sed 's/^/  | /' >&2
	return 1
}

agent_pod() {
	kubectl -n "$NS" get pods -l app.kubernetes.io/component=agent --field-selector "spec.nodeName=$1" -o json |
		jq -er '[.items[] | select(.metadata.deletionTimestamp == null)][0].metadata.name'
}

agent_get() {
	local pod
	pod=$(agent_pod "$1") || return 1
	kubectl -n "$NS" exec "$pod" -c agent -- curl -sf "http://localhost:9443$2"
}

agent_log() {
	local pod
	pod=$(agent_pod "$1") || return 1
	kubectl -n "$NS" logs "$pod" -c agent ${2:+--since-time="$2"}
}

[ -x "$CLI" ] || fail "$CLI is not built (make)"
