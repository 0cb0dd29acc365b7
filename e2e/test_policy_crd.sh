#!/usr/bin/env bash
# The policy API against the real kube-apiserver: both CRDs install and teach `kubectl explain`;
# every example in examples/ is accepted by the CRD schema and by lib/policy's semantic
# validation (what the webhook and kubectl-bulwark run), with the schema's defaults filled in;
# invalid objects are refused by the schema or its CEL rules with a message naming the field;
# status is a subresource whose fields feed the printer columns; and an ExecSession, once
# written, cannot be rewritten.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"

# check NAME CMD...: one subtest; a failure is counted and the test goes on to the next.
check() { tap_check "$@" || true; }
POLICY_CHECK=$BUILD/e2e/policy_check
[ -x "$POLICY_CHECK" ] || fail "$POLICY_CHECK is not built (make test-build)"

for f in crds/bulwarkpolicy.yaml crds/execsession.yaml; do
	check "kubectl apply -f $f" kubectl apply -f "$f"
done
check "CRDs are Established" kubectl wait --for=condition=Established --timeout=30s \
	crd/bulwarkpolicies.bulwark.dev crd/execsessions.bulwark.dev
# Discovery of the new resources can lag Established by a moment.
wait_for 15 kubectl get bwp -A >/dev/null || fail "bulwarkpolicies are not served"
wait_for 15 kubectl get bwes -A >/dev/null || fail "execsessions are not served"
# The apiserver publishes a new CRD's OpenAPI (what explain reads) a few seconds later still.
wait_for 30 kubectl explain bulwarkpolicy.spec >/dev/null || fail "bulwarkpolicies have no OpenAPI"
wait_for 30 kubectl explain execsession.status >/dev/null || fail "execsessions have no OpenAPI"

test_namespace policy-crd
ns=$TEST_NS

# explain PATH TEXT: `kubectl explain PATH` mentions TEXT.
explain() {
	local out
	out=$(kubectl explain "$1" 2>&1) || {
		echo "$out"
		return 1
	}
	grep -qF -- "$2" <<<"$out" || {
		printf 'kubectl explain %s does not say "%s":\n%s\n' "$1" "$2" "$out"
		return 1
	}
}
check "explain spec.network.egress.rules" explain bulwarkpolicy.spec.network.egress.rules \
	"a matching Deny rule beats any Allow"
check "explain spec.seccomp.deny.errno" explain bulwarkpolicy.spec.seccomp.deny.errno \
	"Default EPERM"
check "explain spec.landlock.filesystem.access" explain \
	bulwarkpolicy.spec.landlock.filesystem.access "truncate (ABI 3)"
check "explain bwes status.digest" explain execsession.status.digest "hash chain"

# ---- examples: valid for the schema and for lib/policy -----------------------------------------

# objects FILE: the file's BulwarkPolicies as one JSON object per line, moved to the test
# namespace (Namespace objects are left out: the test namespace stands in for them).
objects() {
	kubectl create --dry-run=client -o json -f "$1" |
		jq -c --arg ns "$ns" '(if .kind == "List" then .items[] else . end)
			| select(.kind == "BulwarkPolicy") | .metadata.namespace = $ns'
}

shopt -s nullglob
examples=(examples/*.yaml)
((${#examples[@]} >= 4)) || fail "examples/ should hold at least four policies, has ${#examples[@]}"
for f in "${examples[@]}"; do
	json=$(objects "$f") || {
		tap_not_ok "$f parses"
		continue
	}
	[ -n "$json" ] || {
		tap_not_ok "$f holds a BulwarkPolicy"
		continue
	}
	while read -r obj; do
		name=$(jq -r .metadata.name <<<"$obj")
		check "$f ($name): lib/policy accepts it" "$POLICY_CHECK" validate <<<"$obj"
		check "$f ($name): kubectl apply" kubectl apply -f - <<<"$obj"
	done <<<"$json"
done

# The schema's defaults are filled in server-side.
defaults() {
	local got
	got=$(kubectl -n "$ns" get bwp database -o json | jq -c '[.spec.mode,
		.spec.network.ingress.rules[0].action, .spec.network.egress.rules[0].action,
		.spec.seccomp.base, .spec.execRecording.allowExec]')
	[ "$got" = '["Enforce","Allow","Allow","RuntimeDefault",true]' ] || {
		echo "defaults: got $got"
		return 1
	}
	got=$(kubectl -n "$ns" get bwp web-frontend -o json | jq -c '[.spec.landlock.compatibility,
		.spec.network.ingress.rules[0].protocol]')
	[ "$got" = '["BestEffort","TCP"]' ] || {
		echo "defaults: got $got"
		return 1
	}
	got=$(kubectl -n "$ns" get bwp lockdown -o json | jq -c '[.spec.execRecording.enabled,
		.spec.network.egress.defaultAction]')
	[ "$got" = '[false,"Deny"]' ] || {
		echo "defaults: got $got"
		return 1
	}
}
check "defaults: mode Enforce, action Allow, base RuntimeDefault, BestEffort" defaults

# The stored objects still pass lib/policy with the defaults written in.
stored_valid() {
	local name
	for name in $(kubectl -n "$ns" get bwp -o name); do
		kubectl -n "$ns" get "$name" -o json | "$POLICY_CHECK" validate ||
			{
				echo "$name as stored fails lib/policy"
				return 1
			}
	done
}
check "stored examples (defaults filled) pass lib/policy" stored_valid

# ---- invalid objects: refused, naming the field -------------------------------------------------

# rejects NAME SPEC_YAML TEXT...: a policy with this spec is refused by a server-side dry run,
# and the message contains every TEXT; lib/policy refuses it too (offline validation and the
# webhook agree with the schema), unless SCHEMA_ONLY=1 says the limit is the schema's alone.
rejects() {
	local name=$1 spec=$2 out t obj
	shift 2
	obj=$(printf 'apiVersion: bulwark.dev/v1alpha1\nkind: BulwarkPolicy\nmetadata: {name: bad, namespace: %s}\nspec:\n%s\n' \
		"$ns" "$spec")
	if out=$(kubectl apply --dry-run=server -f - <<<"$obj" 2>&1); then
		tap_not_ok "refused: $name" "the apiserver accepted it: $out"
		return
	fi
	for t in "$@"; do
		if ! grep -qF -- "$t" <<<"$out"; then
			tap_not_ok "refused: $name" "message lacks \"$t\": $out"
			return
		fi
	done
	tap_ok "refused: $name"
	[ "${SCHEMA_ONLY:-0}" = 1 ] && return
	if out=$(kubectl create --dry-run=client -o json -f - <<<"$obj" | "$POLICY_CHECK" validate); then
		tap_not_ok "lib/policy refuses too: $name" "lib/policy accepted it"
	else
		tap_ok "lib/policy refuses too: $name ($out)"
	fi
}

rejects "no section" '  podSelector: {}' \
	"spec: Invalid value" "must set at least one of network, seccomp, landlock, execRecording"
rejects "no podSelector" '  execRecording: {enabled: true}' "spec.podSelector: Required value"
rejects "unknown field" '  podSelector: {}
  netwrk: {}
  execRecording: {enabled: true}' 'unknown field "spec.netwrk"'
rejects "mode" '  podSelector: {}
  mode: enforce
  execRecording: {}' 'spec.mode: Unsupported value: "enforce"'
rejects "selector In without values" '  podSelector: {matchExpressions: [{key: a, operator: In}]}
  execRecording: {}' "spec.podSelector.matchExpressions[0].values" "non-empty for In and NotIn"
rejects "empty network" '  podSelector: {}
  network: {}' "spec.network: Invalid value" "egress, ingress or both"
rejects "ports with ICMP" '  podSelector: {}
  network: {egress: {rules: [{protocol: ICMP, ports: [{port: 1}]}]}}' \
	"spec.network.egress.rules[0].ports" "only allowed with protocol TCP, UDP or SCTP"
rejects "ports with protocol Any (the default)" '  podSelector: {}
  network: {ingress: {rules: [{ports: [{port: 80}]}]}}' \
	"spec.network.ingress.rules[0].ports" "only allowed with protocol TCP, UDP or SCTP"
rejects "endPort < port" '  podSelector: {}
  network: {egress: {rules: [{protocol: TCP, ports: [{port: 100, endPort: 99}]}]}}' \
	"spec.network.egress.rules[0].ports[0].endPort" "greater than or equal to port"
rejects "port 0" '  podSelector: {}
  network: {egress: {rules: [{protocol: TCP, ports: [{port: 0}]}]}}' \
	"spec.network.egress.rules[0].ports[0].port" "greater than or equal to 1"
rejects "port 65536" '  podSelector: {}
  network: {egress: {rules: [{protocol: UDP, ports: [{port: 53, endPort: 65536}]}]}}' \
	"spec.network.egress.rules[0].ports[0].endPort" "less than or equal to 65535"
rejects "bad CIDR" '  podSelector: {}
  network: {egress: {rules: [{cidrs: ["10.0.0.0/33"]}]}}' \
	"spec.network.egress.rules[0].cidrs[0]" "must be of type cidr"
rejects "action" '  podSelector: {}
  network: {egress: {rules: [{action: Drop}]}}' \
	'spec.network.egress.rules[0].action: Unsupported value: "Drop"'
SCHEMA_ONLY=1 rejects "too many CIDRs" "  podSelector: {}
  network: {egress: {rules: [{cidrs: [$(for i in $(seq 0 16384); do printf '"10.%d.%d.0/24",' $((i / 256)) $((i % 256)); done)\"10.255.255.0/24\"]}]}}" \
	"spec.network.egress.rules[0].cidrs: Too many" "must have at most 16384 items"
rejects "defaultAction with RuntimeDefault" '  podSelector: {}
  seccomp: {defaultAction: Errno}' "spec.seccomp.defaultAction" "only for base None"
rejects "defaultErrno without Errno" '  podSelector: {}
  seccomp: {base: None, defaultAction: Log, defaultErrno: EPERM}' \
	"spec.seccomp.defaultErrno" "only allowed with defaultAction Errno"
rejects "deny errno with Trap" '  podSelector: {}
  seccomp: {deny: [{syscalls: [ptrace], action: Trap, errno: EPERM}]}' \
	"spec.seccomp.deny[0].errno" "only allowed with action Errno"
rejects "errno name" '  podSelector: {}
  seccomp: {deny: [{syscalls: [ptrace], errno: eperm}]}' "spec.seccomp.deny[0].errno" "should match"
rejects "errno number" '  podSelector: {}
  seccomp: {deny: [{syscalls: [ptrace], errno: 4096}]}' "spec.seccomp.deny[0].errno" \
	"less than or equal to 4095"
rejects "syscall name" '  podSelector: {}
  seccomp: {allow: [Read]}' "spec.seccomp.allow[0]" "should match"
rejects "deny without syscalls" '  podSelector: {}
  seccomp: {deny: [{action: Log}]}' "spec.seccomp.deny[0].syscalls: Required value"
rejects "relative landlock path" '  podSelector: {}
  landlock: {filesystem: [{paths: [/usr, tmp], access: [read_file]}]}' \
	"spec.landlock.filesystem[0].paths[1]" 'must be an absolute path, not "tmp"'
rejects "unnormalized landlock path" '  podSelector: {}
  landlock: {filesystem: [{paths: [/usr/lib/../bin], access: [read_file]}]}' \
	"spec.landlock.filesystem[0].paths[0]" "should match"
rejects "landlock access" '  podSelector: {}
  landlock: {filesystem: [{paths: [/tmp], access: [read]}]}' \
	'spec.landlock.filesystem[0].access[0]: Unsupported value: "read"'
rejects "landlock port" '  podSelector: {}
  landlock: {network: [{ports: [70000], access: [bind_tcp]}]}' "spec.landlock.network[0].ports[0]"
rejects "empty landlock" '  podSelector: {}
  landlock: {compatibility: BestEffort}' "spec.landlock: Invalid value" \
	"filesystem, network or scope"
rejects "execRecording type" '  podSelector: {}
  execRecording: {enabled: "yes"}' "spec.execRecording.enabled" "must be of type boolean"

# ---- status: a subresource, shown by the printer columns ---------------------------------------

status_columns() {
	local out
	kubectl -n "$ns" patch bwp database --subresource=status --type=merge -p '{"status":{
		"observedGeneration":1,"podsMatched":3,"nodesEnforced":2,"nodesFailed":1,
		"conditions":[{"type":"Ready","status":"False","reason":"AgentRejected",
		"message":"node-b: seccomp profile write failed","lastTransitionTime":"2026-01-01T00:00:00Z",
		"observedGeneration":1},{"type":"Degraded","status":"True","reason":"AgentRejected",
		"message":"node-b","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null || return 1
	out=$(kubectl -n "$ns" get bwp database -o wide --no-headers) || return 1
	# NAME MODE PODS NODES FAILED READY AGE
	read -r -a cols <<<"$out"
	if [ "${cols[*]:1:5}" != "Enforce 3 2 1 False" ]; then
		echo "columns: $out"
		kubectl -n "$ns" get bwp database -o wide
		return 1
	fi
}
check "status fields feed the Mode/Pods/Nodes/Failed/Ready columns" status_columns

status_is_subresource() {
	# A write of the main resource cannot change status.
	kubectl -n "$ns" patch bwp database --type=merge -p '{"status":{"podsMatched":99}}' >/dev/null ||
		return 1
	local got
	got=$(kubectl -n "$ns" get bwp database -o jsonpath='{.status.podsMatched}')
	[ "$got" = 3 ] || {
		echo "status.podsMatched is $got after a main-resource patch"
		return 1
	}
}
check "status is a subresource" status_is_subresource

condition_shape() {
	local out
	if out=$(kubectl -n "$ns" patch bwp database --subresource=status --type=merge \
		-p '{"status":{"conditions":[{"type":"Ready","status":"Maybe","reason":"x y",
		"message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' 2>&1); then
		echo "accepted a condition with status Maybe and reason 'x y'"
		return 1
	fi
	grep -qF 'status.conditions[0].status: Unsupported value: "Maybe"' <<<"$out" || {
		echo "$out"
		return 1
	}
}
check "conditions have the metav1.Condition shape" condition_shape

# ---- ExecSession ------------------------------------------------------------------------------

session() {
	kubectl -n "$ns" apply -f - <<EOF
apiVersion: bulwark.dev/v1alpha1
kind: ExecSession
metadata: {name: s1}
spec:
  pod: web-1
  container: web
  node: node-a
  command: [sh, -c, "ls /"]
  tty: true
  stdin: true
  user: {username: alice@example.com, uid: "42", groups: [devs, "system:authenticated"]}
  requestUID: 0d6e5f3c-1111-2222-3333-444455556666
EOF
}
check "ExecSession is stored" session

session_columns() {
	kubectl -n "$ns" patch bwes s1 --subresource=status --type=merge -p '{"status":{
		"phase":"Completed","startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-01T00:00:12Z",
		"durationSeconds":12.5,"bytes":4096,"digest":"sha256:00ff","lostEvents":0,"gaps":0}}' \
		>/dev/null || return 1
	local out
	out=$(kubectl -n "$ns" get bwes s1 --no-headers) || return 1
	read -r -a cols <<<"$out"
	# NAME POD USER PHASE DURATION AGE
	if [ "${cols[*]:1:4}" != "web-1 alice@example.com Completed 12.5" ]; then
		echo "columns: $out"
		return 1
	fi
}
check "ExecSession Pod/User/Phase/Duration columns" session_columns

# refused_patch NAME SUBRESOURCE PATCH TEXT
refused_patch() {
	local out
	if out=$(kubectl -n "$ns" patch bwes s1 ${2:+--subresource=$2} --type=merge -p "$3" 2>&1); then
		tap_not_ok "$1" "accepted: $out"
	elif grep -qF -- "$4" <<<"$out"; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "message lacks \"$4\": $out"
	fi
}
refused_patch "ExecSession spec is immutable" "" '{"spec":{"command":["rm","-rf","/"]}}' \
	"spec is immutable"
refused_patch "a Completed session stays Completed" status '{"status":{"phase":"Recording"}}' \
	"phase Completed and Failed are final"
refused_patch "a session's digest cannot change" status '{"status":{"digest":"sha256:beef"}}' \
	"digest cannot change once set"

tap_done
