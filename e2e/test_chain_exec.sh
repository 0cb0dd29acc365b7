#!/usr/bin/env bash
# The exec-recording chain, as a user sees it: `kubectl apply` of a BulwarkPolicy with
# execRecording.enabled → the controller pushes it → the real agent records exec sessions
# into that pod → someone opens an interactive shell in the container (the node harness's exec,
# the same `runc exec -t` with a console socket a CRI shim does, driven through a real pty) and
# types commands → the recording is on the node, `kubectl bulwark sessions` lists it, `verify`
# passes (also against the digest kept in the ExecSession), `replay` shows what was typed and
# what the terminal showed, and an ExecSession object records the session as Completed. Before
# the session, `kubectl exec` through the apiserver makes the webhook record who asked (the
# request stops there: no kubelet); the agent claims that very ExecSession for the recording.
# A pod without the policy is not recorded.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=stack.sh
source "$(dirname "$0")/stack.sh"

check() { tap_check "$@" || true; }
not() { ! "$@"; }
CLI=$BUILD/bin/kubectl-bulwark
[ -x "$CLI" ] || fail "$CLI is not built (make test-build)"

# The controller also serves the recordings API behind an APIService (recordings.bulwark.dev).
STACK_RECORDINGS_API=1 stack_start chain-exec
ns=$TEST_NS

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: audited}
spec:
  podSelector: {matchLabels: {app: db}}
  execRecording: {enabled: true}
EOF
for p in db other; do
	kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot create pod $p"
apiVersion: v1
kind: Pod
metadata: {name: $p, labels: {app: $p}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.2; done"]}]
EOF
done
stack_pod_wait db || fail "pod db never ran"
stack_pod_wait other || fail "pod other never ran"
enforced() {
	[ "$(kubectl -n "$ns" get bwp audited -o jsonpath='{.status.nodesEnforced}')" = 1 ]
}
wait_for 30 enforced || fail "the policy was never enforced: $(kubectl -n "$ns" get bwp audited -o json | jq -c .status)"

# kubectl exec goes through the apiserver, whose admission asks the webhook: it records who
# asked in a Requested ExecSession. This control plane has no kubelet to connect to, so the
# request ends there, and the node harness then runs the session the way the kubelet would.
requested() { kubectl -n "$ns" get bwes -o json | jq -c '.items[] | select(.status.phase == "Requested")'; }
# Until the webhook's cache has the policy, an exec is not recorded: ask again until it is.
ask() {
	asked=$("$KUBECTL" --kubeconfig="$KUBECONFIG" -n "$ns" exec db -c c -i -- sh </dev/null 2>&1) || true
	[ -n "$(requested)" ]
}
for _ in $(seq 15); do
	if ask; then break; fi
	sleep 1
done
req=$(requested)
check "kubectl exec: the webhook recorded the request (user $(jq -r .spec.user.username <<<"$req"))" \
	jq -e '.spec.pod == "db" and .spec.container == "c" and .spec.command == ["sh"]
	       and .spec.user.username == "kubernetes-admin"' <<<"$req"
grep -q 10250 <<<"$asked" || printf '# kubectl exec said: %s\n' "$asked"

mark=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
# session POD MARK: types two commands into a shell in POD; prints what the terminal showed.
session() {
	stack_shell "$1" --type "echo typed-$2 | tr a-z A-Z" --wait "TYPED-${2^^}" \
		--type "cat /etc/hostname" --wait "$1"
}
shown=$(session db "$mark") || fail "the interactive session failed: $shown"
check "the shell ran the typed command (the terminal showed TYPED-${mark^^})" grep -q "TYPED-${mark^^}" <<<"$shown"
session other "other$mark" >/dev/null || fail "the session in the unrecorded pod failed"

cli() { "$CLI" --recordings-dir "$AGENT_RECORDINGS" "$@"; }
# The recorder finishes a session a second after its end, when nothing more arrived; verify
# passes once the chain has its trailer.
recording() { find "$AGENT_RECORDINGS" -name '*.cast' -printf '%f\n' 2>/dev/null | sed -n 's/\.cast$//;1p'; }
finished() { id=$(recording) && [ -n "$id" ] && cli verify "$id" >/dev/null; }
wait_for 30 finished || true

listing=$(cli sessions 2>&1) || true
printf '%s\n' "$listing" | sed 's/^/# /'
check "kubectl bulwark sessions lists one session, in $ns/db" bash -c \
	"[ \$(grep -c '$ns/db' <<<\"\$1\") = 1 ]" _ "$listing"
check "the unrecorded pod has no session" not grep -q "$ns/other" <<<"$listing"
id=$(recording)
check "the recording is named <node>-<id> ($id)" grep -q "^$HARNESS_NODE-" <<<"$id"
check "kubectl bulwark verify: the hash chain holds" cli verify "$id"
replay=$(cli replay "$id" --speed 1000 --idle-limit 0.01 2>&1) || true
check "replay shows what was typed (echo typed-$mark)" grep -q "echo typed-$mark" <<<"$replay"
check "replay shows what the terminal showed (TYPED-${mark^^})" grep -q "TYPED-${mark^^}" <<<"$replay"
check "the recording's log has the typed command's execs (tr a-z A-Z)" jq -se \
	'[.[] | select(.type == "exec" and .argv == ["tr", "a-z", "A-Z"])] | length == 1' "$AGENT_RECORDINGS/$id.log"

es() { kubectl -n "$ns" get bwes -o json | jq -c --arg id "$id" '.items[] | select(.metadata.name == $id or .metadata.annotations["bulwark.dev/recording"] == $id)'; }
completed() { es | jq -e '.status.phase == "Completed" and (.status.digest // "" | startswith("sha256:"))' >/dev/null; }
wait_for 20 completed || true
obj=$(es)
printf '# %s\n' "$obj"
check "an ExecSession exists for the recording, phase Completed, digest set" completed
# shellcheck disable=SC2016 # jq variables
check "the agent claimed the webhook's request: same object, the user who asked" jq -e \
	--arg name "$(jq -r .metadata.name <<<"$req")" --arg id "$id" \
	'.metadata.name == $name and .metadata.annotations["bulwark.dev/recording"] == $id
	 and .spec.user.username == "kubernetes-admin" and .spec.pod == "db" and .spec.container == "c"' <<<"$obj"
check "no other ExecSession was made for it" test "$(kubectl -n "$ns" get bwes -o name | wc -l)" = 1
header=$(head -n 1 "$AGENT_RECORDINGS/$id.cast")
printf '# %s\n' "$header"
# shellcheck disable=SC2016 # jq variables
check "the .cast header names who asked (kubernetes-admin) and the ExecSession" jq -e \
	--arg name "$(jq -r .metadata.name <<<"$obj")" \
	'.kubernetes.user.username == "kubernetes-admin" and .kubernetes.execSession == $name
	 and .kubernetes.pod == "db" and .kubernetes.namespace == "'"$ns"'"' <<<"$header"
check "kubectl bulwark sessions shows the user" grep -q "kubernetes-admin" <<<"$listing"
digest=$(jq -r .status.digest <<<"$obj")
check "verify against the ExecSession's digest ($digest)" cli verify "$id" --digest "$digest"
check "kubectl get bwes shows it Completed" bash -c \
	"'$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get bwes | grep Completed >/dev/null"

# ---- auditors read the recording through the API server -------------------------------------
# kubectl → kube-apiserver (authentication, RBAC on recordings.bulwark.dev in the session's
# namespace) → the controller (front-proxy certificate) → the agent of the session's node
# (pinned key, per-start token). Auditors are ServiceAccounts with token kubeconfigs, bound
# to deploy/rbac/auditor.yaml's ClusterRole in this namespace, or not at all.
esname=$(jq -r .metadata.name <<<"$obj")
auditor_role=bulwark-auditor-$ns
kubectl create --dry-run=client -o json -f "$BULWARK_ROOT/deploy/rbac/auditor.yaml" |
	jq -s --arg n "$auditor_role" '.[] | select(.kind == "ClusterRole") | .metadata.name = $n' |
	kubectl apply -f - >/dev/null || fail "cannot create the auditor ClusterRole"
on_exit "kubectl delete clusterrole $auditor_role --ignore-not-found >/dev/null 2>&1"
# auditor NAME [bind]: a kubeconfig for ServiceAccount NAME of this namespace, on stdout.
auditor() {
	kubectl -n "$ns" create serviceaccount "$1" >/dev/null || return 1
	[ "${2:-}" != bind ] || kubectl -n "$ns" create rolebinding "$1" --clusterrole "$auditor_role" \
		--serviceaccount "$ns:$1" >/dev/null || return 1
	local token
	token=$(kubectl -n "$ns" create token "$1" --duration=1h) || return 1
	cat >"$STACK_DIR/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$APISERVER_URL", certificate-authority: "$KUBE_CA_FILE"}}]
users: [{name: $1, user: {token: "$token"}}]
contexts: [{name: $1, context: {cluster: local, user: $1, namespace: "$ns"}}]
current-context: $1
KC
	echo "$STACK_DIR/$1.kubeconfig"
}
alice=$(auditor alice bind) || fail "cannot make auditor alice"
mallory=$(auditor mallory) || fail "cannot make user mallory"
as_alice() { "$CLI" --kubeconfig "$alice" "$@"; }
api=/apis/recordings.bulwark.dev/v1/namespaces/$ns/recordings/$esname
summary=$("$KUBECTL" --kubeconfig="$alice" get --raw "$api" 2>&1) || true
printf '# %s\n' "$summary"
check "kubectl get --raw $api: the recording's node, id, digest, complete" jq -e \
	--arg id "$id" --arg node "$HARNESS_NODE" --arg d "$digest" \
	'.recordingID == $id and .node == $node and .digest == $d and .complete == true
	 and .kubernetes.namespace == "'"$ns"'" and .kubernetes.pod == "db"' <<<"$summary"
check "the auditor's cast through the API server equals the node's file, byte for byte" \
	bash -c "'$KUBECTL' --kubeconfig='$alice' get --raw '$api/cast' | cmp - '$AGENT_RECORDINGS/$id.cast'"
check "kubectl bulwark verify $esname (through the API server, digest from the ExecSession)" \
	as_alice verify "$esname"
replay=$(as_alice replay "$esname" --speed 1000 --idle-limit 0.01 2>&1) || true
check "kubectl bulwark replay $esname shows TYPED-${mark^^}" grep -q "TYPED-${mark^^}" <<<"$replay"
exported=$STACK_DIR/exported.cast
as_alice export "$esname" -o "$exported" >/dev/null 2>&1 || true
check "kubectl bulwark export $esname writes the node's cast (0600)" bash -c \
	"cmp '$exported' '$AGENT_RECORDINGS/$id.cast' && [ \$(stat -c %a '$exported') = 600 ]"
# The harness copies its own terminal's size; pty_session.py's is unsized (0x0): no resize.
check "the export holds no resize to no size (\"r\",\"0x0\")" bash -c \
	"[ -s '$exported' ] && ! grep -E '^\[[0-9.]+, *\"r\", *\"(0x[0-9]+|[0-9]+x0)\"' '$exported' >/dev/null"
denied=$("$CLI" --kubeconfig "$mallory" replay "$esname" 2>&1) && denied="exit 0: $denied"
printf '# %s\n' "$denied"
check "a user without the auditor role is refused by RBAC (forbidden, recordings/...)" \
	grep -q 'forbidden.*recordings' <<<"$denied"
direct=$(curl -sk --max-time 10 "https://$STACK_NODE_IP:$(grep '"msg":"serving the recordings API"' "$CTRL_DIR/stack.log" | tail -n 1 | jq -r .port)$api/cast" \
	-H "X-Remote-User: kubernetes-admin" -H "X-Remote-Group: system:masters") || true
check "the controller refuses callers without the front-proxy certificate (forged X-Remote-User)" \
	jq -e '.code == 401 and .reason == "Unauthorized"' <<<"$direct"
missing=$("$KUBECTL" --kubeconfig="$alice" get --raw "${api%/*}/no-such-session" 2>&1) || true
check "an unknown ExecSession is NotFound" grep -q 'NotFound\|not found' <<<"$missing"

# A changed recording is caught: flip one byte of a copy of the cast.
copy=$STACK_DIR/tampered
mkdir -p "$copy"
cp "$AGENT_RECORDINGS/$id".* "$copy/"
sed -i "s/TYPED-${mark^^}/TYPED-XXXXXX/" "$copy/$id.cast"
check "verify finds a changed copy of the recording (exit 1)" bash -c \
	"'$CLI' --recordings-dir '$copy' verify '$id' >/dev/null 2>&1; [ \$? = 1 ]"

# A session nobody asked the API server for (a node-local `runc exec`): the agent makes its
# ExecSession, and the header names that instead of a user.
stack_shell db --type "echo local-$mark" --wait "local-$mark" >/dev/null || fail "the node-local session failed"
local_id() { find "$AGENT_RECORDINGS" -name '*.cast' -printf '%f\n' | sed 's/\.cast$//' | grep -vx "$id" | sed -n 1p; }
local_done() { lid=$(local_id) && [ -n "$lid" ] && cli verify "$lid" >/dev/null && \
	kubectl -n "$ns" get bwes "$lid" -o jsonpath='{.status.phase}' | grep Completed >/dev/null; }
wait_for 30 local_done || true
lid=$(local_id)
lobj=$(kubectl -n "$ns" get bwes "$lid" -o json 2>/dev/null) || lobj='{}'
printf "# %s\n" "$(jq -c "{spec, annotations: .metadata.annotations}" <<<"$lobj")"
check "the agent made an ExecSession for the node-local session ($lid), origin node" jq -e \
	'.metadata.annotations["bulwark.dev/origin"] == "node" and .spec.pod == "db"
	 and .status.phase == "Completed"' <<<"$lobj"
lheader=$(head -n 1 "$AGENT_RECORDINGS/$lid.cast" 2>/dev/null)
printf '# %s\n' "$lheader"
# shellcheck disable=SC2016 # jq variables
check "its .cast header names that ExecSession, the container (c) and no user" jq -e --arg lid "$lid" \
	'.kubernetes.execSession == $lid and .kubernetes.container == "c"
	 and (.kubernetes | has("user") | not)' <<<"$lheader"
tap_done
