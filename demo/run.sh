#!/usr/bin/env bash
# make demo: the Bulwark story on a local control plane. Each scene says what it does and
# checks what it claims; the demo exits non-zero if a scene does not show it.
#   0-1  the control plane and the policy API (CRDs, explain, validation)
#   2    the whole stack on one node (e2e/stack.sh): harness, webhook, controller, agent
#   3-6  one scene per mechanism with its evidence: network (a blocked and an allowed
#        connection, /metrics counters, flows), seccomp (EPERM, the profile on the node),
#        Landlock (a denied and an allowed write, the app's own port), exec recording
#        (a session replayed and verified, its ExecSession)
# KEEP=1 leaves the control plane and the stack running (it prints how to stop them).
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


# ---- from here on, the whole chain: kubectl apply → controller → agent → kernel ----------------

bold "Scene 2: Bulwark running"
say "One node on this machine: bulwark-node-harness plays the kubelet (real runc, kubelet"
say "cgroups, a network namespace per pod). bulwark-webhook admits pods, bulwark-controller"
say "pushes compiled policies over TLS, and a real bulwark-agent enforces them on the node."
say "Each component runs as its ServiceAccount with the RBAC from deploy/."
# The e2e helpers own the exit trap from here on: teardown (registered first) runs last.
# shellcheck source=../e2e/lib.sh
source e2e/lib.sh
on_exit teardown
# shellcheck source=../e2e/stack.sh
source e2e/stack.sh
# The controller also serves the recordings API (recordings.bulwark.dev) behind an APIService.
STACK_RECORDINGS_API=1 stack_start demo
ns=$TEST_NS
export PATH=$BUILD/bin:$PATH # kubectl finds the kubectl-bulwark plugin on PATH
kb() { "$KUBECTL" bulwark "$@"; }
show() { sed 's/^/      /'; }
# terminal: a terminal's output for this one, without the control sequences a shell sends to
# its own terminal (a cursor position query would make yours answer on stdin).
terminal() { tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | sed "s/^/      $1 /"; }
node_shell() { harness_exec "$ns/$1" -- sh -c "$2" 2>&1; }
say "namespace $ns, node $HARNESS_NODE; agent metrics at $AGENT_URL"
k get node "$HARNESS_NODE"

# policy FILE [SED...]: applies demo/policies/FILE to the demo namespace and prints it.
policy() {
	local f=demo/policies/$1
	shift
	say "kubectl apply -f $f"
	sed -e '' "$@" "$f" | grep -v '^#' | sed 's/^/      /'
	sed -e '' "$@" "$f" | k -n "$ns" apply -f - || die "kubectl apply -f $f failed"
}
# pod NAME LABEL COMMAND [IMAGE]: a pod bound to the node, waited for until it runs.
pod() {
	k -n "$ns" apply -f - >/dev/null <<EOF || die "pod $1 refused"
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $2}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox
      command: [sh, -c]
      args:
        - |
$(printf '%s\n' "$3" | sed 's/^/          /')
EOF
	stack_pod_wait "$1" || die "pod $1 did not start"
}
idle="trap 'exit 0' TERM; while :; do sleep 0.2; done"
# enforced POLICY: the controller reports the node as enforcing it (the agent ACKed).
enforced() { [ "$(k -n "$ns" get bwp "$1" -o jsonpath='{.status.nodesEnforced}')" = 1 ]; }

bold "Scene 3: network — a blocked connection, an allowed one, and the evidence"
pod client client "$idle"
pod peer peer "$idle"
allowed_ip=$(k -n "$ns" get pod client -o jsonpath='{.status.hostIP}')
blocked_ip=$(k -n "$ns" get pod peer -o jsonpath='{.status.hostIP}')
say "two web servers on the node, at $allowed_ip:18080 and $blocked_ip:18080 (host addresses:"
say "the client pod's packets stay between its network namespace and this machine)"
www=$STACK_DIR/www
mkdir -p "$www"
echo "hello from the allowed peer" >"$www/index.html"
head -c 8388608 /dev/zero >"$www/big"
for ip in "$allowed_ip" "$blocked_ip"; do
	busybox httpd -f -p "$ip:18080" -h "$www" >/dev/null 2>&1 &
	on_exit "kill $! 2>/dev/null"
done
policy network.yaml -e "s/@ALLOWED@/$allowed_ip/"
wait_for 30 enforced client-egress || die "the network policy was never enforced on the node"
k -n "$ns" get bwp client-egress
fetch() { node_shell client "printf 'GET /$2 HTTP/1.0\r\n\r\n' | nc -w 3 $1 18080"; }
say "client → $allowed_ip:18080 (allowed):"
out=$(fetch "$allowed_ip" index.html) || true
printf '%s\n' "$out" | sed -n '1p;$p' | sed 's/^/      /'
grep -q "hello from the allowed peer" <<<"$out" || die "the allowed connection failed: $out"
say "client → $blocked_ip:18080 (not allowed: the SYN is dropped, the connection never opens):"
out=$(fetch "$blocked_ip" index.html) || true
show <<<"$out"
grep -q hello <<<"$out" && die "the blocked connection went through"
grep -qE "timed out|Operation not permitted" <<<"$out" || die "the blocked connection did not fail as expected: $out"
say "8 MiB from the allowed peer, until the flow log (1 packet in 1024 sampled) has some:"
has_flows() { kb flows pod/client -n "$ns" --agent "$AGENT_URL" --limit 5 | grep "$ns/client" >/dev/null; }
for _ in $(seq 10); do
	fetch "$allowed_ip" big | wc -c | sed 's/^/      bytes received: /'
	sleep 0.5 # the agent drains sampled flows four times a second
	has_flows && break
done
say "the client pod's counters in the agent's /metrics:"
stack_metrics | grep -E "^bulwark_pod_network_(packets|bytes)_total\{namespace=\"$ns\",pod=\"client\"" |
	sed 's/^/      /'
stack_metrics | grep -E "^bulwark_pod_network_packets_total\{namespace=\"$ns\",pod=\"client\",direction=\"egress\",verdict=\"deny\"\} [1-9]" >/dev/null ||
	die "no denied packets counted for the client pod"
say "kubectl bulwark flows pod/client (sampled flows, straight from the node agent):"
has_flows || die "no flow was sampled for the client pod: $(tail -n 3 "$AGENT_STATE/flows.jsonl" 2>&1)"
kb flows pod/client -n "$ns" --agent "$AGENT_URL" --limit 5 | sed 's/^/      /'
say "the same in the agent's flow log on the node ($AGENT_STATE/flows.jsonl):"
grep -F "\"$ns/client\"" "$AGENT_STATE/flows.jsonl" | tail -n 3 | sed 's/^/      /'

bold "Scene 4: seccomp — a denied system call, and the profile on the node"
policy seccomp.yaml
profile_written() { [ "$(find "$PROFILE_DIR" -name '*.json' 2>/dev/null | wc -l)" -ge 1 ]; }
wait_for 30 profile_written || die "the agent never wrote the profile"
cat >"$STACK_DIR/locked.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: locked, labels: {app: locked}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox, command: [sh, -c, "$idle"]}]
EOF
# Admission uses the webhook's policy cache: a server-side dry run shows when it has the policy.
profile_set() {
	k -n "$ns" create --dry-run=server -f "$STACK_DIR/locked.yaml" -o json |
		jq -e '.spec.securityContext.seccompProfile.type == "Localhost"' >/dev/null
}
wait_for 15 profile_set || die "the webhook never set the profile on the pod"
k -n "$ns" apply -f "$STACK_DIR/locked.yaml" >/dev/null
stack_pod_wait locked || die "pod locked did not start"
named=$(k -n "$ns" get pod locked -o jsonpath='{.spec.containers[0].securityContext.seccompProfile.localhostProfile}')
say "the webhook set the pod's profile: Localhost $named"
say "on the node, written by the agent (its name is the SHA-256 of its bytes):"
( cd "$HARNESS_KUBELET_ROOT/seccomp" && ls -l "$named" && sha256sum "$named" ) | sed 's/^/      /'
[ "$(sha256sum <"$HARNESS_KUBELET_ROOT/seccomp/$named" | cut -d' ' -f1).json" = "${named#bulwark/}" ] ||
	die "the profile's name is not its hash"
say "inside the container: mkdir /tmp/d"
out=$(node_shell locked "mkdir /tmp/d") || true
show <<<"$out"
grep -q "Operation not permitted" <<<"$out" || die "mkdir was not refused: $out"
say "inside the container: unshare -U true"
out=$(node_shell locked "unshare -U true") || true
show <<<"$out"
grep -q "Operation not permitted" <<<"$out" || die "unshare was not refused: $out"
say "and ordinary work goes on: echo ok > /tmp/f && cat /tmp/f"
out=$(node_shell locked "echo ok > /tmp/f && cat /tmp/f")
show <<<"$out"
[ "$out" = ok ] || die "ordinary I/O failed under the profile: $out"

bold "Scene 5: Landlock — a denied file write, an allowed one"
policy landlock.yaml
cat >"$STACK_DIR/web.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox
      command: [sh, -c]
      args:
        - |
          echo '\$ touch /etc/x'; touch /etc/x 2>&1
          echo '\$ echo hi > /tmp/x && cat /tmp/x'; echo hi > /tmp/x && cat /tmp/x
          echo '\$ nc -l -p 9090   (a port the policy does not grant)'
          nc -l -p 9090 >/tmp/nc.out 2>&1 & sleep 1; kill \$! 2>/dev/null; cat /tmp/nc.out
          echo '\$ httpd -f -p 8080   (its own port)'
          mkdir -p /tmp/www && echo "served under Landlock" > /tmp/www/index.html
          exec httpd -f -p 8080 -h /tmp/www
EOF
launcher_added() {
	k -n "$ns" create --dry-run=server -f "$STACK_DIR/web.yaml" -o json |
		jq -e '[.spec.initContainers[]?.name] | index("bulwark-launcher") != null' >/dev/null
}
wait_for 15 launcher_added || die "the webhook never added the launcher to the pod"
k -n "$ns" apply -f "$STACK_DIR/web.yaml" >/dev/null
stack_pod_wait web || die "pod web did not start"
say "the webhook wrapped the container's command: $(k -n "$ns" get pod web -o json | jq -r '.spec.containers[0].command[:5] | join(" ")') …"
landlock_done() { stack_pod_log web | grep 'httpd -f -p 8080' >/dev/null; }
wait_for 15 landlock_done || die "the container never got through its commands"
say "what the container printed:"
stack_pod_log web | sed 's/^/      /'
log=$(stack_pod_log web)
grep -q "touch: /etc/x: Permission denied" <<<"$log" || die "writing /etc was not denied"
grep -qx hi <<<"$log" || die "writing /tmp did not work"
grep -q "bind: Permission denied" <<<"$log" || die "binding port 9090 was not denied"
web_ip=$(k -n "$ns" get pod web -o jsonpath='{.status.podIP}')
serving() { printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 "$web_ip" 8080 | tail -n 1; }
wait_for 10 bash -c "$(declare -f serving); web_ip=$web_ip; serving | grep served >/dev/null" || die "the application does not serve on its port"
say "from the host, GET http://$web_ip:8080/ → $(serving)"

bold "Scene 6: exec recording — a recorded session, replayed and verified"
policy exec-recording.yaml
pod db db "$idle"
wait_for 30 enforced audited || die "the recording policy was never enforced on the node"
say "kubectl exec db -- sh: the apiserver asks the webhook, which records who asked (an"
say "ExecSession, phase Requested). This control plane has no kubelet to connect to, so kubectl"
say "stops there; the node harness then runs the session as the kubelet would (runc exec -t)."
requested() { [ -n "$(k -n "$ns" get bwes -o json | jq -r '.items[] | select(.status.phase == "Requested") | .metadata.name')" ]; }
for _ in $(seq 15); do
	"$KUBECTL" -n "$ns" exec db -c app -i -- sh </dev/null >/dev/null 2>&1 || true
	requested && break
	sleep 1
done
requested || die "the webhook recorded no exec request"
k -n "$ns" get bwes
say "an interactive shell in the container, typed key by key through a real terminal:"
shown=$(stack_shell db --type "id" --wait "uid=" --type "echo secret > /tmp/notes && wc -c /tmp/notes" \
	--wait "7 /tmp/notes") || die "the interactive session failed: $shown"
terminal '|' <<<"$shown"
recording() { find "$AGENT_RECORDINGS" -name '*.cast' -printf '%f\n' 2>/dev/null | sed -n 's/\.cast$//;1p'; }
finished() { id=$(recording) && [ -n "$id" ] && kb verify --recordings-dir "$AGENT_RECORDINGS" "$id" >/dev/null 2>&1; }
wait_for 30 finished || die "the agent did not finish the recording"
id=$(recording)
completed() { k -n "$ns" get bwes -o json | jq -e '.items[] | select(.status.phase == "Completed" and .status.digest != null)' >/dev/null; }
wait_for 20 completed || die "the ExecSession never became Completed"
es=$(k -n "$ns" get bwes -o json | jq -r '.items[] | select(.status.phase == "Completed") | .metadata.name')
say "Auditors read it through the API server: RBAC on recordings.bulwark.dev in namespace $ns"
say "decides, the controller fetches it from the node's agent. No node access needed."
say "kubectl bulwark sessions -n $ns"
kb sessions -n "$ns" | show
say "kubectl bulwark replay -n $ns $es (at 20x):"
replay=$(kb replay -n "$ns" "$es" --speed 20 --idle-limit 0.5 2>&1) ||
	die "replay failed: $replay"
terminal '>' <<<"$replay"
grep -q "echo secret > /tmp/notes" <<<"$replay" || die "the replay lacks what was typed"
grep -q "uid=0(root)" <<<"$replay" || die "the replay lacks what the terminal showed"
say "kubectl bulwark verify -n $ns $es (hash chain, and the digest kept in the ExecSession):"
kb verify -n "$ns" "$es" | show || die "the recording does not verify"
say "the same bytes as on the node ($AGENT_RECORDINGS/$id.cast):"
"$KUBECTL" get --raw "/apis/recordings.bulwark.dev/v1/namespaces/$ns/recordings/$es/cast" |
	cmp - "$AGENT_RECORDINGS/$id.cast" || die "the API server served other bytes"
say "      identical"
say "its header names the pod, the container and who asked (from the webhook's ExecSession):"
jq -c '.kubernetes | {namespace, pod, container, user: .user.username, execSession}' \
	<<<"$(sed -n 1p "$AGENT_RECORDINGS/$id.cast")" | show
say "kubectl get bwes -o wide (the webhook's request, claimed by the node's recorder):"
k -n "$ns" get bwes -o wide

if [ "${KEEP:-0}" = 1 ]; then
	stack_detach "$CLUSTER_DIR/demo-stack-stop.sh"
	bold "Done: KEEP=1, everything stays up"
	say "namespace $ns on node $HARNESS_NODE; agent at $AGENT_URL"
	say "stop the Bulwark stack with: $CLUSTER_DIR/demo-stack-stop.sh"
else
	bold "Done"
fi
