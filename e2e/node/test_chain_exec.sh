#!/usr/bin/env bash
# The exec-recording chain on a real node (the stand-in's version is e2e/test_chain_exec.sh,
# where the request had to stop at the API server): a real `kubectl exec -it` through a pty,
# kube-apiserver → the webhook (records who asked in an ExecSession) → the egress proxy →
# kubelet → containerd → runc exec with a console → the agent pod records the session with its
# BPF recorder and claims that ExecSession → `kubectl bulwark sessions` lists it, `replay`
# and `verify` read it through the aggregated recordings API (API server → controller pod →
# agent pod), the ExecSession is Completed and names the user. A policy with
# allowExec: false refuses `kubectl exec` at the API server.
# shellcheck source-path=SCRIPTDIR source=bulwark.sh
source "$(dirname "$0")/bulwark.sh"

check() { tap_check "$@" || true; }
not() { ! "$@"; }

bulwark_install
node_namespace chain-exec
ns=$TEST_NS
user=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}') || fail "kubectl auth whoami failed"

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply the policies"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: audited}
spec:
  podSelector: {matchLabels: {app: db}}
  execRecording: {enabled: true}
---
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: sealed}
spec:
  podSelector: {matchLabels: {app: sealed}}
  allowExec: false
EOF
for p in db sealed; do
	kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot create pod $p"
apiVersion: v1
kind: Pod
metadata: {name: $p, labels: {app: $p}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]}]
EOF
done
for p in db sealed; do pod_wait "$p" || fail "pod $p never became Ready"; done
enforced() { [ "$(kubectl -n "$ns" get bwp audited -o jsonpath='{.status.nodesEnforced}')" = 1 ]; }
wait_for "$T" enforced || fail "the policy was never enforced: $(kubectl -n "$ns" get bwp audited -o json | jq -c .status)"

# ---- allowExec: false ----------------------------------------------------------------------
refused() {
	local out
	out=$(kubectl -n "$ns" exec sealed -- true 2>&1) && return 1
	grep -q 'forbidden by BulwarkPolicy' <<<"$out"
}
check "kubectl exec into a pod whose policy says allowExec: false is refused" wait_for 60 refused

# ---- a real kubectl exec -it, typed through a pty ---------------------------------------------
mark=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
# The webhook's cache must hold the policy before an exec is recorded: the shell shows the
# first prompt only once the session is through admission, so a retry starts again.
session() {
	python3 "$BULWARK_ROOT/e2e/chain/pty_session.py" --wait "# " \
		--type "echo typed-$mark | tr a-z A-Z" --wait "TYPED-${mark^^}" \
		--wait "# " --type "cat /etc/hostname" --wait "db" --wait "# " --type exit -- \
		"$KUBECTL" --kubeconfig="$KUBECONFIG" -n "$ns" exec -it db -c c -- sh
}
shown=$(session 2>&1) || fail "the interactive kubectl exec failed: $shown"
check "kubectl exec -it: the shell ran the typed command (the terminal showed TYPED-${mark^^})" \
	grep -q "TYPED-${mark^^}" <<<"$shown"

es() { kubectl -n "$ns" get bwes -o json | jq -c '[.items[] | select(.spec.pod == "db")] | .[0] // empty'; }
completed() { es | jq -e '.status.phase == "Completed" and (.status.digest // "" | startswith("sha256:"))' >/dev/null; }
wait_for "$T" completed || true
obj=$(es)
printf '# %s\n' "$obj"
check "one ExecSession for the session, Completed with a digest" completed
check "it names who asked ($user), the pod, the container and the command" jq -e --arg u "$user" \
	'.spec.user.username == $u and .spec.pod == "db" and .spec.container == "c" and .spec.command == ["sh"]' <<<"$obj"
check "the ExecSession names the node that recorded it ($NODE)" jq -e --arg n "$NODE" '.spec.node == $n' <<<"$obj"
esname=$(jq -r '.metadata.name // empty' <<<"$obj")
[ -n "$esname" ] || fail "no ExecSession for the session in $ns"

listing=$("$CLI" --kubeconfig "$KUBECONFIG" -n "$ns" sessions 2>&1) || true
printf '%s\n' "$listing" | sed 's/^/# /'
check "kubectl bulwark sessions lists it, with the user" bash -c \
	'grep "$2" <<<"$1" | grep -c "$3" >/dev/null' _ "$listing" "db" "$user"
check "kubectl bulwark verify $esname: the hash chain holds, digest as in the ExecSession" \
	"$CLI" --kubeconfig "$KUBECONFIG" -n "$ns" verify "$esname"
replay=$("$CLI" --kubeconfig "$KUBECONFIG" -n "$ns" replay "$esname" --speed 1000 --idle-limit 0.01 2>&1) || true
check "kubectl bulwark replay $esname shows what was typed (echo typed-$mark)" grep -q "echo typed-$mark" <<<"$replay"
check "kubectl bulwark replay $esname shows what the terminal showed (TYPED-${mark^^})" \
	grep -q "TYPED-${mark^^}" <<<"$replay"
api=/apis/recordings.bulwark.dev/v1/namespaces/$ns/recordings/$esname
summary=$(kubectl get --raw "$api" 2>&1) || true
printf '# %s\n' "$summary"
check "the API server serves the recording's summary from the controller (complete, same digest)" jq -e \
	--arg d "$(jq -r .status.digest <<<"$obj")" '.complete == true and .digest == $d' <<<"$summary"
cast=$(kubectl get --raw "$api/cast" 2>&1) || true
header=$(head -n 1 <<<"$cast")
check "the .cast header names who asked and the ExecSession" jq -e --arg u "$user" --arg es "$esname" \
	'.kubernetes.user.username == $u and .kubernetes.execSession == $es' <<<"$header"
tap_done
