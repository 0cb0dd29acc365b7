#!/usr/bin/env bash
# The network chain, as a user sees it: `kubectl apply` of a BulwarkPolicy → the controller
# compiles and pushes it → the real agent binds it to the pod's cgroup → the kernel drops the
# pod's packets to a denied peer and passes them to an allowed one, counting both in the agent's
# /metrics. Editing the policy changes what the running pod may reach, without restarting it.
# A kill -9 of the agent during traffic leaves enforcement in place (pinned programs and maps),
# and the restarted agent adopts what it had: it ACKs the controller's snapshot without
# re-applying anything.
#
# The peers are two addresses of the host (the harness's pods reach only the host): the host
# side of the client pod's veth and that of a second pod's veth, each with a busybox httpd
# bound to it, so every packet stays between our network namespaces and the host.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=stack.sh
source "$(dirname "$0")/stack.sh"

check() { tap_check "$@" || true; }
not() { ! "$@"; }
PORT=18080

stack_start chain-net
ns=$TEST_NS

for p in client peer; do
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
stack_pod_wait client || fail "pod client never ran"
stack_pod_wait peer || fail "pod peer never ran"
gw_client=$(kubectl -n "$ns" get pod client -o jsonpath='{.status.hostIP}')
gw_peer=$(kubectl -n "$ns" get pod peer -o jsonpath='{.status.hostIP}')

# One web server per host address, each answering with its own name.
for who in client peer; do
	ip=gw_$who
	mkdir -p "$STACK_DIR/www-$who"
	echo "hello from ${!ip}" >"$STACK_DIR/www-$who/index.html"
	busybox httpd -f -p "${!ip}:$PORT" -h "$STACK_DIR/www-$who" &
	on_exit "kill $! 2>/dev/null"
done
wait_for 10 bash -c "busybox wget -q -O - http://$gw_client:$PORT/ && busybox wget -q -O - http://$gw_peer:$PORT/" ||
	fail "the host listeners did not start"

# get IP [PORT]: one HTTP request from the client pod with busybox nc (busybox's static wget
# crashes resolving names without NSS); prints the response or nc's error.
get() {
	# shellcheck disable=SC2016 # expanded by the pod's shell
	harness_exec "$ns/client" -- sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$0" "$1"' \
		"$1" "${2:-$PORT}" 2>&1
}
allowed() { get "$1" | grep -x "hello from $1" >/dev/null; }
# A dropped SYN makes connect() time out (a UDP send would fail with EPERM at once).
refused() { ! grep -q hello <<<"$1" && grep -qE "timed out|Operation not permitted" <<<"$1"; }
denied() { refused "$(get "$@")"; }
both_allowed() { allowed "$gw_client" && allowed "$gw_peer"; }
check "before any policy the client reaches both peers" both_allowed

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
enforced() { # enforced GENERATION: the agent ACKed that generation for the pod
	[ "$(kubectl -n "$ns" get bwp client-egress -o jsonpath='{.status.observedGeneration}/{.status.nodesEnforced}')" = "$1/1" ]
}

policy "$gw_client" >/dev/null || fail "kubectl apply of the policy failed"
wait_for 30 enforced "$(gen)" || fail "the policy was never enforced: $(kubectl -n "$ns" get bwp client-egress -o json | jq -c .status)"
summary() { kubectl -n "$ns" get bwp client-egress -o jsonpath='{.status.podsMatched}/{.status.nodesEnforced}/{.status.conditions[?(@.type=="Ready")].status}'; }
check "policy status: 1 pod, 1 node enforced, Ready ($(summary))" test "$(summary)" = 1/1/True
check "the agent bound the policy to the client pod's cgroup" \
	grep -q "\"msg\":\"pod network policy applied\".*\"pod\":\"$ns/client\"" "$AGENT_LOG"
check "client → allowed peer $gw_client:$PORT works" allowed "$gw_client"
out=$(get "$gw_peer") || true
check "client → denied peer $gw_peer:$PORT fails ($out)" refused "$out"
check "another port on the allowed peer is denied (default Deny)" denied "$gw_client" $((PORT + 1))

# counter POD DIRECTION VERDICT: packets from the agent's /metrics (0 if absent).
counter() {
	stack_metrics | awk -v want="bulwark_pod_network_packets_total{namespace=\"$ns\",pod=\"$1\",direction=\"$2\",verdict=\"$3\"}" \
		'$1 == want { v = $2 } END { print v + 0 }'
}
denies=$(counter client egress deny)
allows=$(counter client egress allow)
check "/metrics counts the client's denied egress packets ($denies)" test "$denies" -ge 1
check "/metrics counts the client's allowed egress packets ($allows)" test "$allows" -ge 1
check "/metrics counts nothing as denied for the unselected peer pod" test "$(counter peer egress deny)" = 0

# ---- edit the policy: the peers swap, the pod keeps running ---------------------------------
pid_before=$(harness_record "$ns/client" | jq -r '.containers[0].pid')
policy "$gw_peer" "$gw_client" >/dev/null || fail "kubectl apply of the edited policy failed"
wait_for 30 enforced "$(gen)" || true
wait_for 10 allowed "$gw_peer" || true
check "after the edit, client → $gw_peer works" allowed "$gw_peer"
check "after the edit, client → $gw_client is denied" denied "$gw_client"
check "the pod was not restarted (same container process)" test \
	"$(harness_record "$ns/client" | jq -r '.containers[0].pid')" = "$pid_before"
check "the denied counter grew" test "$(counter client egress deny)" -gt "$denies"

# ---- kill -9 the agent during traffic ------------------------------------------------------
traffic=$STACK_DIR/traffic.log
harness_exec "$ns/client" -- sh -c "while :; do
	for ip in $gw_client $gw_peer; do
		if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 1 \$ip $PORT 2>/dev/null | grep hello >/dev/null; then echo \"\$ip allowed\"; else echo \"\$ip denied\"; fi
	done; sleep 0.1; done" >"$traffic" 2>&1 &
loop=$!
on_exit "kill $loop 2>/dev/null"
wait_for 10 bash -c "[ \$(wc -l <'$traffic') -ge 4 ]" || fail "the traffic loop did not start: $(cat "$traffic")"
health_before=$(curl -sf "$AGENT_URL/healthz")
denies_before=$(counter client egress deny)
acks() { curl -sf "${CTRL_METRICS[stack]}/metrics" | awk -v want="bulwark_controller_acks_total{result=\"$1\"}" '$1 == want { v = $2 } END { print v + 0 }'; }
acks_before=$(acks ack)
stack_agent_kill KILL
mark=$(wc -l <"$traffic")
# Enough traffic while the agent is down: five rounds to both peers (each line is one try).
rounds() { [ "$(wc -l <"$traffic")" -ge $((mark + 2 * $1)) ]; }
wait_for 60 rounds 5 || fail "no traffic while the agent was down: $(tail -n 3 "$traffic")"
during=$(tail -n +"$((mark + 1))" "$traffic")
check "agent killed: pins remain in $AGENT_BPFFS/net" bash -c "ls '$AGENT_BPFFS/net' | grep . >/dev/null"
# only IP VERDICT TEXT: TEXT has lines "IP VERDICT" and no other verdict for IP.
only() { grep -q "^$1 $2\$" <<<"$3" && ! grep -v "^$1 $2\$" <<<"$3" | grep "^$1 " >/dev/null; }
check "agent dead: client → $gw_client stays denied ($(grep -c "$gw_client denied" <<<"$during") attempts)" \
	only "$gw_client" denied "$during"
check "agent dead: client → $gw_peer keeps working ($(grep -c "$gw_peer allowed" <<<"$during") attempts)" \
	only "$gw_peer" allowed "$during"

restart_line=$(($(wc -l <"$AGENT_LOG") + 1))
stack_agent_start
after_restart=$(tail -n +"$restart_line" "$AGENT_LOG")
adopted() {
	grep '"msg":"adopted the persisted state"' <<<"$after_restart" |
		jq -e '(.pods | tostring) == "1"' >/dev/null
}
check "the restarted agent adopted its persisted state (1 pod)" adopted
check "the restarted agent applied nothing again (no 'pod network policy applied')" \
	not grep -q "pod network policy applied" <<<"$after_restart"
health_after=$(curl -sf "$AGENT_URL/healthz")
# shellcheck disable=SC2016 # jq variables
check "same controller epoch, version not older, synced" jq -en \
	--argjson a "$health_before" --argjson b "$health_after" \
	'$a.epoch == $b.epoch and $b.version >= $a.version and $b.synced and $b.pods == 1'
more_acks() { [ "$(acks ack)" -gt "$acks_before" ]; }
wait_for 10 more_acks || true
check "the controller got an ACK from the restarted agent" test "$(acks ack)" -gt "$acks_before"
check "no NACK or failed pod reported" bash -c "[ $(acks nack) = 0 ] && [ $(acks ack_with_failures) = 0 ]"
check "counters survived the restart (pinned maps)" test "$(counter client egress deny)" -ge "$denies_before"
mark=$(wc -l <"$traffic")
wait_for 60 rounds 5 || fail "no traffic after the restart: $(tail -n 3 "$traffic")"
after=$(tail -n +"$((mark + 1))" "$traffic")
check "after the restart: client → $gw_client denied" only "$gw_client" denied "$after"
check "after the restart: client → $gw_peer allowed" only "$gw_peer" allowed "$after"
check "policy still enforced on the node" enforced "$(gen)"
kill "$loop" 2>/dev/null
tap_done
