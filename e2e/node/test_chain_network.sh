#!/usr/bin/env bash
# The network chain on a real node, with the real kubectl (the stand-in's version is
# e2e/test_chain_network.sh): `kubectl apply` of a BulwarkPolicy → the controller (a pod)
# compiles and pushes it over its TLS Service → the agent (the DaemonSet's pod, with only its
# shipped capabilities) binds it to the client pod's cgroup → the kernel drops the client's
# packets to a denied pod and passes them to an allowed one, counted in the agent's /metrics
# and sampled by `kubectl bulwark flows`. An edit changes what the running pod may reach
# without restarting it. The agent is killed (-9, on the node) while the client sends to the
# denied peer: the kubelet starts the DaemonSet pod's container again, the new agent adopts the
# pinned programs, and not one packet gets through meanwhile; the denied ones are counted.
# The peers are two pods with busybox httpd; every packet stays inside the node VM.
# shellcheck source-path=SCRIPTDIR source=bulwark.sh
source "$(dirname "$0")/bulwark.sh"

check() { tap_check "$@" || true; }
PORT=8080

bulwark_install
node_namespace chain-net
ns=$TEST_NS

for p in client peer-a peer-b; do
	if [ $p = client ]; then
		cmd="trap 'exit 0' TERM; while :; do sleep 1; done"
	else
		cmd="mkdir -p /tmp/www && echo hello from $p >/tmp/www/index.html && exec httpd -f -p $PORT -h /tmp/www"
	fi
	kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot create pod $p"
apiVersion: v1
kind: Pod
metadata: {name: $p, labels: {app: $p}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "$cmd"]}]
EOF
done
for p in client peer-a peer-b; do pod_wait "$p" || fail "pod $p never became Ready"; done
ip_a=$(kubectl -n "$ns" get pod peer-a -o jsonpath='{.status.podIP}')
ip_b=$(kubectl -n "$ns" get pod peer-b -o jsonpath='{.status.podIP}')

# get IP [PORT]: one HTTP request from the client pod (kubectl exec, busybox nc).
get() {
	# shellcheck disable=SC2016 # expanded by the pod's shell
	kubectl -n "$ns" exec client -- sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 "$0" "$1"' \
		"$1" "${2:-$PORT}" 2>&1
}
allowed() { grep -q "hello from" <<<"$(get "$@")"; }
refused() { ! grep -q hello <<<"$1" && grep -qE "timed out|Operation not permitted" <<<"$1"; }
denied() { refused "$(get "$@")"; }
both() { allowed "$ip_a" && allowed "$ip_b"; }
check "before any policy the client reaches both peers ($ip_a, $ip_b)" wait_for 60 both

policy() { # policy ALLOW_IP [DENY_IP]
	local deny=
	[ -z "${2:-}" ] || deny="        - {action: Deny, cidrs: [\"$2/32\"]}"
	kubectl -n "$ns" apply -f - <<EOF
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: client-egress}
spec:
  podSelector: {matchLabels: {app: client}}
  network:
    egress:
      defaultAction: Deny
      rules:
        - {cidrs: ["$1/32"], protocol: TCP, ports: [{port: $PORT}]}
$deny
EOF
}
gen() { kubectl -n "$ns" get bwp client-egress -o jsonpath='{.metadata.generation}'; }
enforced() {
	[ "$(kubectl -n "$ns" get bwp client-egress -o jsonpath='{.status.observedGeneration}/{.status.nodesEnforced}')" = "$1/1" ]
}
policy "$ip_a" >/dev/null || fail "kubectl apply of the policy failed"
wait_for "$T" enforced "$(gen)" ||
	fail "the policy was never enforced: $(kubectl -n "$ns" get bwp client-egress -o json | jq -c .status)"
summary() { kubectl -n "$ns" get bwp client-egress -o jsonpath='{.status.podsMatched}/{.status.nodesEnforced}/{.status.conditions[?(@.type=="Ready")].status}'; }
check "policy status: 1 pod, 1 node enforced, Ready ($(summary))" test "$(summary)" = 1/1/True
check "client → allowed peer-a $ip_a:$PORT works" allowed "$ip_a"
out=$(get "$ip_b") || true
check "client → peer-b $ip_b:$PORT is denied ($(tr '\n' ' ' <<<"$out"))" refused "$out"
check "another port on the allowed peer is denied (default Deny)" denied "$ip_a" $((PORT + 1))

# counter POD DIRECTION VERDICT: packets in the agent's /metrics (0 if absent).
counter() {
	agent_get "$NODE" /metrics | awk -v want="bulwark_pod_network_packets_total{namespace=\"$ns\",pod=\"$1\",direction=\"$2\",verdict=\"$3\"}" \
		'$1 == want { v = $2 } END { print v + 0 }'
}
denies=$(counter client egress deny)
allows=$(counter client egress allow)
check "/metrics counts the client's denied egress packets ($denies)" test "$denies" -ge 1
check "/metrics counts the client's allowed egress packets ($allows)" test "$allows" -ge 1
check "/metrics counts nothing as denied for the unselected peer-a" test "$(counter peer-a egress deny)" = 0

flows=$("$CLI" --kubeconfig "$KUBECONFIG" -n "$ns" flows pod/client 2>&1) || flows="failed: $flows"
printf '%s\n' "$flows" | sed -n 1,8p | sed 's/^/# /'
flow() { awk -v v="$1" -v ip="$2" 'tolower($0) ~ v && index($0, ip) { f = 1 } END { exit !f }' <<<"$flows"; }
check "kubectl bulwark flows pod/client shows a denied flow to $ip_b" flow "deny" "$ip_b"
check "kubectl bulwark flows pod/client shows an allowed flow to $ip_a" flow "allow" "$ip_a"

# ---- edit the policy: the peers swap, the pod keeps running ---------------------------------
cid() { kubectl -n "$ns" get pod client -o jsonpath='{.status.containerStatuses[0].containerID}/{.status.containerStatuses[0].restartCount}'; }
before=$(cid)
policy "$ip_b" "$ip_a" >/dev/null || fail "kubectl apply of the edited policy failed"
wait_for "$T" enforced "$(gen)" || true
wait_for 60 allowed "$ip_b" || true
check "after the edit, client → peer-b works" allowed "$ip_b"
check "after the edit, client → peer-a is denied" denied "$ip_a"
check "the pod was not restarted (same container, 0 restarts: $before)" test "$(cid)" = "$before"
check "the denied counter grew" test "$(counter client egress deny)" -gt "$denies"

# ---- the agent killed during traffic to the denied peer ------------------------------------
# The client tries peer-a (denied) and peer-b (allowed) in a loop and logs each outcome in its
# own /tmp, so the record does not depend on a kubectl stream. kill -9 of the agent's process
# on the node (its containerd task); the kubelet starts the DaemonSet pod's container again.
kubectl -n "$ns" exec client -- sh -c "rm -f /tmp/traffic; (while :; do
	for ip in $ip_a $ip_b; do
		if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 \$ip $PORT 2>/dev/null | grep hello >/dev/null; then echo \"\$ip allowed\"; else echo \"\$ip denied\"; fi
	done; done >/tmp/traffic 2>&1 </dev/null &)" || fail "cannot start the traffic loop"
lines() { kubectl -n "$ns" exec client -- sh -c 'wc -l </tmp/traffic'; }
started() { [ "$(lines)" -ge 4 ]; }
wait_for 60 started || fail "the traffic loop did not start"
agent=$(agent_pod "$NODE")
restarts() { kubectl -n "$NS" get pod "$agent" -o jsonpath='{.status.containerStatuses[?(@.name=="agent")].restartCount}'; }
restarts_before=$(restarts)
cid=$(kubectl -n "$NS" get pod "$agent" -o jsonpath='{.status.containerStatuses[?(@.name=="agent")].containerID}')
cid=${cid#containerd://}
pid=$(node_exec "$NODE" ctr -n k8s.io task ls | awk -v id="$cid" '$1 == id { print $2 }')
[[ $pid =~ ^[0-9]+$ ]] || fail "no containerd task for the agent container $cid"
denies_before=$(counter client egress deny)
health_before=$(agent_get "$NODE" /healthz)
mark=$(lines)
node_exec "$NODE" kill -KILL "$pid" || fail "cannot kill the agent (pid $pid on $NODE)"
again() { [ "$(restarts)" -gt "$restarts_before" ] &&
	[ "$(kubectl -n "$NS" get pod "$agent" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for "$((2 * T))" again || fail "the agent was not started again, or never became Ready"
check "kill -9 of the agent (pid $pid): its container was started again and is Ready" again
during=$(kubectl -n "$ns" exec client -- sh -c "tail -n +$((mark + 1)) /tmp/traffic")
n_denied=$(grep -c "^$ip_a denied" <<<"$during" || true)
n_through=$(grep -c "^$ip_a allowed" <<<"$during" || true)
printf '# while the agent was down: %s attempts to peer-a denied, %s got through; peer-b %s allowed\n' \
	"$n_denied" "$n_through" "$(grep -c "^$ip_b allowed" <<<"$during" || true)"
check "no connection got through to the denied peer-a while the agent was down ($n_denied attempts)" \
	test "$n_through" = 0 -a "$n_denied" -ge 1
check "the allowed peer-b kept working meanwhile" grep -q "^$ip_b allowed" <<<"$during"
check "the denied packets meanwhile were counted (pinned maps: $denies_before → $(counter client egress deny))" \
	test "$(counter client egress deny)" -gt "$denies_before"
log=$(agent_log "$NODE")
check "the restarted agent adopted the pinned programs and state" \
	grep -q '"msg":"adopted the persisted state"' <<<"$log"
health_after=$(agent_get "$NODE" /healthz) || health_after='{}'
# shellcheck disable=SC2016 # jq variables
check "the restarted agent: same controller epoch, version not older, synced" jq -en \
	--argjson a "$health_before" --argjson b "$health_after" \
	'$a.epoch == $b.epoch and $b.version >= $a.version and $b.synced'
check "the restarted agent did not restart the client pod" test "$(cid)" = "$before"
check "the policy is still enforced on the node" enforced "$(gen)"
tap_done
