# shellcheck shell=bash
# Sourced by every e2e test (e2e/test_*.sh): the local control plane's address and credentials,
# and the few helpers every test needs. A test is an executable that exits 0 (pass), 77 (skip,
# saying why) or anything else (fail), and may print TAP lines ("ok N - name") that tests/run.sh
# counts one by one.
#
#   source "$(dirname "$0")/lib.sh"
#   test_namespace smoke; ns=$TEST_NS    # e2e-smoke-1a2b3c4d, emptied and deleted at exit
#   kubectl -n "$ns" apply -f x.yaml
#   wait_for 30 kubectl -n "$ns" get pod p || fail "pod p never appeared"
#   tap_check "policy is stored" kubectl -n "$ns" get bwp web
#   tap_done
#
# The cluster is the one in $CLUSTER_DIR (default $BUILD/cluster, BUILD default build), started
# by tests/run.sh or `make cluster-up`. Without one, tests fail: an e2e test that cannot reach
# its cluster has not shown anything.
set -euo pipefail

BULWARK_ROOT=${BULWARK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$BULWARK_ROOT/$BUILD
CLUSTER_DIR=${CLUSTER_DIR:-$BUILD/cluster}

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

[ -r "$CLUSTER_DIR/env" ] ||
	fail "no local control plane in $CLUSTER_DIR (start one with: make cluster-up, or CLUSTER_DIR=... e2e/cluster/cluster.sh up)"
# shellcheck source=/dev/null
source "$CLUSTER_DIR/env"
[ -x "$KUBECTL" ] || fail "kubectl not found at $KUBECTL"

# kubectl: the kubectl matching the apiserver's minor version, always on this cluster, whatever
# the caller's own KUBECONFIG or kubectl on PATH say.
kubectl() { command "$KUBECTL" --kubeconfig="$KUBECONFIG" "$@"; }

# ---- exit handlers: run in reverse order of registration, whatever the exit status ------------

_ON_EXIT=()
on_exit() { _ON_EXIT+=("$*"); }
_run_on_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_ON_EXIT[i]}"
	done
	exit "$rc"
}
trap _run_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for TIMEOUT CMD...: runs CMD every 0.2 s until it succeeds; fails (returns 1, after
# printing the command and its last output) when TIMEOUT seconds pass first.
wait_for() {
	local timeout=$1 out
	shift
	local deadline=$((SECONDS + timeout))
	while true; do
		if out=$("$@" 2>&1); then
			return 0
		fi
		if ((SECONDS >= deadline)); then
			printf 'wait_for: %ss passed waiting for: %s\n' "$timeout" "$*" >&2
			[ -z "$out" ] || printf '%s\n' "$out" | tail -n 5 | sed 's/^/  | /' >&2
			return 1
		fi
		sleep 0.2
	done
}

# ---- TAP subtests: tests/run.sh counts each "ok N"/"not ok N" line ----------------------------

_TAP_N=0
_TAP_FAILED=0
tap_ok() {
	_TAP_N=$((_TAP_N + 1))
	printf 'ok %d - %s\n' "$_TAP_N" "$*"
}
# tap_not_ok NAME [WHY]
tap_not_ok() {
	_TAP_N=$((_TAP_N + 1))
	_TAP_FAILED=$((_TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$_TAP_N" "$1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
}
# tap_skip NAME WHY
tap_skip() {
	_TAP_N=$((_TAP_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_TAP_N" "$1" "$2"
}
# tap_check NAME CMD...: one subtest, passed if CMD succeeds; its output is kept on failure. CMD
# (a command or a function) runs in a subshell, so variables it sets do not outlive it.
tap_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$name"
	else
		tap_not_ok "$name" "$out"
		return 1
	fi
}
# tap_done: the plan line; exits 1 if any subtest failed, else returns.
tap_done() {
	printf '1..%d\n' "$_TAP_N"
	((_TAP_FAILED == 0)) || exit 1
}

# ---- test namespaces --------------------------------------------------------------------------

# test_namespace PREFIX: creates a namespace of its own for this test, e2e-PREFIX-RANDOM, in
# TEST_NS (a variable, not output: the exit handler must be registered in the test's own shell).
# It is emptied and deleted when the test exits (KEEP_NS=1 keeps it). Unique names let tests
# share one cluster and rerun without waiting for the previous run's namespace to go.
# shellcheck disable=SC2034 # read by the tests
TEST_NS=
# shellcheck disable=SC2034
test_namespace() {
	local ns
	ns=e2e-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	kubectl create namespace "$ns" -o name >/dev/null || fail "cannot create namespace $ns"
	[ "${KEEP_NS:-0}" = 1 ] || on_exit "delete_namespace $ns"
	kubectl label namespace "$ns" bulwark.dev/e2e=true >/dev/null || fail "cannot label namespace $ns"
	TEST_NS=$ns
}

# delete_namespace NS: what kube-controller-manager's namespace controller would do, which this
# control plane does not run: delete every namespaced object in NS, then the namespace, then
# clear the "kubernetes" finalizer so it does not stay Terminating forever. Pods bound to a
# node get E2E_POD_GRACE seconds (default 5) to be stopped by the node harness, the kubelet's
# stand-in, before they are removed by force.
delete_namespace() {
	local ns=$1 types
	kubectl get namespace "$ns" >/dev/null 2>&1 || return 0
	kubectl -n "$ns" delete pods --all --wait=true --timeout="${E2E_POD_GRACE:-5}s" >/dev/null 2>&1 ||
		kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
	types=$(kubectl api-resources --namespaced --verbs=list,delete -o name 2>/dev/null |
		grep -vxE 'events|events.events.k8s.io|pods' | paste -sd, -) || true
	[ -z "$types" ] || kubectl -n "$ns" delete "$types" --all --wait=false >/dev/null 2>&1 || true
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	kubectl get namespace "$ns" -o json 2>/dev/null | jq '.spec.finalizers = []' |
		kubectl replace --raw "/api/v1/namespaces/$ns/finalize" -f - >/dev/null 2>&1 || true
	wait_for 10 bash -c "! '$KUBECTL' --kubeconfig='$KUBECONFIG' get namespace '$ns' >/dev/null 2>&1" ||
		printf 'warning: namespace %s is still there\n' "$ns" >&2
}
