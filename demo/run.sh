#!/usr/bin/env bash
# make demo: the Bulwark story on a local control plane. Each scene says what it does and
# checks what it claims; the demo exits non-zero if a scene does not show it.
# KEEP=1 leaves the control plane running (e2e/cluster/cluster.sh down stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export CLUSTER_DIR=${CLUSTER_DIR:-$BUILD/demo-cluster}

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() { printf '\033[31mdemo: %s\033[0m\n' "$*" >&2; exit 1; }

teardown() {
	if [ "${KEEP:-0}" = 1 ]; then
		say "KEEP=1: the control plane stays up; source $CLUSTER_DIR/env to use it,"
		say "and run 'CLUSTER_DIR=$CLUSTER_DIR e2e/cluster/cluster.sh down' to stop it."
	else
		bold "Tearing down"
		e2e/cluster/cluster.sh down
	fi
}

bold "Scene 0: a real control plane (etcd + kube-apiserver built from pinned upstream modules)"
e2e/cluster/cluster.sh up
trap teardown EXIT
# shellcheck disable=SC1091
source "$CLUSTER_DIR/env"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
k version

bold "Scene 1: the Bulwark API"
say "kubectl apply -f crds/"
k apply -f crds/
k wait --for=condition=Established --timeout=60s crd/bulwarkpolicies.bulwark.dev crd/execsessions.bulwark.dev
k get crds -l app.kubernetes.io/part-of=bulwark 2>/dev/null || k get crds
say "kubectl explain teaches the policy API:"
# Established comes before the apiserver publishes the CRD's OpenAPI; explain needs the latter.
for _ in $(seq 1 30); do
	k explain bulwarkpolicy.spec >/dev/null 2>&1 && break
	sleep 1
done
k explain bulwarkpolicy.spec | sed -n '1,40p'
if [ -d examples ]; then
	say "the example policies are valid against the real apiserver (server-side dry run):"
	for ns in $(awk '/^  namespace:/ {print $2}' examples/*.yaml | sort -u); do
		k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
	done
	for f in examples/*.yaml; do
		k apply --dry-run=server -f "$f" >/dev/null || die "example $f was rejected"
		say "  ok  $f"
	done
fi
say "an invalid policy is refused with a message that names the field:"
if out=$(k apply -n default -f - 2>&1 <<'YAML'
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: broken}
spec:
  podSelector: {}
  mode: Sometimes
YAML
); then
	die "an invalid mode was accepted"
fi
say "  $out"

bold "Done"
