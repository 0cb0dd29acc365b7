#!/usr/bin/env bash
# kubectl bulwark explain pod/NAME against the real apiserver: it fetches the pod and the
# policies of its namespace and says which policy denies which syscall.
source "$(dirname "$0")/lib.sh"
CLI=$BUILD/bin/kubectl-bulwark
[ -x "$CLI" ] || fail "$CLI is not built"
kubectl apply -f "$BULWARK_ROOT/crds/" >/dev/null || fail "cannot install the CRDs"
kubectl wait --for=condition=Established --timeout=30s crd/bulwarkpolicies.bulwark.dev >/dev/null
wait_for 15 kubectl get bwp -A >/dev/null || fail "bulwarkpolicies are not served"
test_namespace explain
ns=$TEST_NS

kubectl -n "$ns" apply -f - >/dev/null <<'YAML' || fail "cannot create the policy and pod"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: no-mounts}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp:
    deny: [{syscalls: [mkdir, "@mount"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, labels: {app: other}}
spec:
  containers: [{name: app, image: busybox}]
YAML

explained=$("$CLI" explain pod/web-1 -n "$ns" --kubeconfig "$KUBECONFIG" 2>&1)
# says SYSCALL TEXT: the line under SYSCALL's entry mentions TEXT.
says() { grep -A1 "^    $1 " <<<"$explained" | grep -F -- "$2" >/dev/null || { echo "$explained"; return 1; }; }
tap_check "explain names the selecting policy" grep -q "^  $ns/no-mounts  *Enforce" <<<"$explained"
tap_check "explain says mkdir is denied by it" says mkdir "denied by $ns/no-mounts (deny[0]: Errno EPERM)"
tap_check "explain traces mount to the @mount group" says mount "via @mount"
# The base: the upstream version it follows (the pin in tests/seccomp-reference/go.mod), and a
# syscall it decides that no policy names.
reference="github.com/moby/profiles/seccomp $(sed -n 's#^[[:space:]]*github.com/moby/profiles/seccomp \(v[^[:space:]]*\).*#\1#p' "$BULWARK_ROOT/tests/seccomp-reference/go.mod")"
tap_check "explain says which upstream version the base follows" grep -qF "  base: RuntimeDefault, following $reference (" <<<"$explained"
tap_check "explain says the base decided clone3" says clone3 "Errno ENOSYS by the RuntimeDefault base (follows $reference)"
# says_within SYSCALL N TEXT: one of the N lines under SYSCALL's entry mentions TEXT.
says_within() {
	local block
	block=$(grep -A"$2" "^    $1 " <<<"$explained") && grep -qF -- "$3" <<<"$block" || { echo "$explained"; return 1; }
}
tap_check "explain says the base allows mkdir, which the policy denies" says_within mkdir 2 "allowed by the RuntimeDefault base (follows $reference)"
explained=$("$CLI" explain pod/other -n "$ns" --kubeconfig "$KUBECONFIG" 2>&1)
tap_check "an unselected pod has nothing enforced" grep -q "No BulwarkPolicy selects this pod" <<<"$explained"
tap_check "a missing pod is an error" bash -c "! '$CLI' explain pod/missing -n '$ns' --kubeconfig '$KUBECONFIG' >/dev/null 2>&1"
tap_done
