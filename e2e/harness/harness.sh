# shellcheck shell=bash
# Sourced by e2e tests (after e2e/lib.sh) that need pods to actually run: starts the node
# harness (bulwark-node-harness run) as the kubelet of one Node of the local control plane
# and stops it when the test exits.
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/harness/harness.sh"
#   harness_start                  # node e2e-node-<random>, in HARNESS_NODE
#   kubectl apply -f pod.yaml      # with spec.nodeName: $HARNESS_NODE (there is no scheduler)
#   harness_exec ns/pod -- cat /etc/hostname
#
# Each call gets its own node name, state dir and cgroup root, so tests can run side by side.
# Variables after harness_start: HARNESS_NODE, HARNESS_STATE (state dir), HARNESS_CGROUP_ROOT
# (the v2 directory holding kubepods/), HARNESS_KUBELET_ROOT (Localhost seccomp profiles go
# in $HARNESS_KUBELET_ROOT/seccomp/), HARNESS_LOG, HARNESS_PID.
# Set HARNESS_IMAGES="NAME=DIR ..." before harness_start for images beyond busybox: image NAME
# (the last path component of a reference, without tag) is busybox plus DIR's contents.

HARNESS_BIN=${HARNESS_BIN:-$BUILD/bin/bulwark-node-harness}

# The cgroup v2 mount, from the mount table: /sys/fs/cgroup on pure v2 hosts,
# /sys/fs/cgroup/unified on hybrid ones, anywhere in a VM.
_harness_v2_mount() {
	local m
	m=$(findmnt -n -f -t cgroup2 -o TARGET) && [ -n "$m" ] && echo "$m"
}

# harness_start [NODE]: registers NODE (default e2e-node-<random>), waits until it is Ready.
# Skips the test (77) when the machine cannot run containers (not root, no runc, no cgroup v2).
harness_start() {
	local node=${1:-e2e-node-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')} v2
	[ "$(id -u)" -eq 0 ] || skip "the node harness needs root (network namespaces, cgroups, runc)"
	command -v runc >/dev/null || skip "runc is not installed"
	v2=$(_harness_v2_mount) || skip "no cgroup v2 hierarchy"
	[ -x "$HARNESS_BIN" ] || fail "$HARNESS_BIN is not built (make test-build)"
	HARNESS_NODE=$node
	HARNESS_STATE=$(mktemp -d "/tmp/bulwark-harness-$node.XXXXXX")
	HARNESS_CGROUP_ROOT=$v2/bulwark-e2e-$node
	HARNESS_KUBELET_ROOT=$HARNESS_STATE/kubelet
	HARNESS_LOG=$HARNESS_STATE/harness.log
	mkdir -p "$HARNESS_KUBELET_ROOT/seccomp"
	# Containers asking for RuntimeDefault get the upstream reference profile (see
	# tests/seccomp-reference), not Bulwark's own encoding of it: the tests then compare
	# Bulwark with the runtime's default, never with itself.
	"$BULWARK_ROOT/tests/seccomp-reference/build.sh" json >"$HARNESS_STATE/seccomp-reference.json" \
		2>"$HARNESS_STATE/seccomp-reference.log" || {
		sed 's/^/  | /' "$HARNESS_STATE/seccomp-reference.log" >&2
		fail "cannot build the seccomp reference (tests/seccomp-reference/build.sh)"
	}
	local images=() spec
	for spec in ${HARNESS_IMAGES:-}; do
		images+=(--image "$spec")
	done
	BULWARK_SECCOMP_REFERENCE=$HARNESS_STATE/seccomp-reference.json "$HARNESS_BIN" run --kubeconfig "$KUBECONFIG" --node "$node" \
		--state-dir "$HARNESS_STATE/state" --cgroup-root "$HARNESS_CGROUP_ROOT" \
		--kubelet-root "$HARNESS_KUBELET_ROOT" "${images[@]}" -v 2 >"$HARNESS_LOG" 2>&1 &
	HARNESS_PID=$!
	on_exit harness_stop
	wait_for 30 _harness_ready || {
		sed 's/^/  | /' "$HARNESS_LOG" | tail -n 20 >&2
		fail "node $node never became Ready"
	}
}

_harness_ready() {
	kill -0 "$HARNESS_PID" || return 1
	[ "$(kubectl get node "$HARNESS_NODE" \
		-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# harness_stop: SIGTERM (the harness tears every pod down), then --cleanup for anything a
# crash left, then the Node object. Runs at exit; safe to call twice.
harness_stop() {
	[ -n "${HARNESS_PID:-}" ] || return 0
	kill -TERM "$HARNESS_PID" 2>/dev/null
	local _
	for _ in $(seq 100); do
		kill -0 "$HARNESS_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$HARNESS_PID" 2>/dev/null
	wait "$HARNESS_PID" 2>/dev/null
	"$HARNESS_BIN" --cleanup --state-dir "$HARNESS_STATE/state" \
		--cgroup-root "$HARNESS_CGROUP_ROOT" >/dev/null 2>&1
	kubectl delete node "$HARNESS_NODE" --wait=false >/dev/null 2>&1
	[ "${KEEP_HARNESS_STATE:-0}" = 1 ] || rm -rf "$HARNESS_STATE"
	HARNESS_PID=
}

# harness_exec [-t] [-i] NS/POD [-c CONTAINER] -- CMD...: kubectl exec's stand-in.
harness_exec() {
	"$HARNESS_BIN" --state-dir "$HARNESS_STATE/state" --cgroup-root "$HARNESS_CGROUP_ROOT" \
		exec "$@"
}

# harness_record NS/POD: the harness's record of a running pod (uid, containers with id and
# pid), as JSON.
harness_record() {
	local ns=${1%%/*} name=${1#*/} f
	for f in "$HARNESS_STATE"/state/pods/*/record.json; do
		[ -e "$f" ] || continue
		jq -e --arg ns "$ns" --arg n "$name" 'select(.namespace == $ns and .name == $n)' "$f" &&
			return 0
	done
	return 1
}
