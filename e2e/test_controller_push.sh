#!/usr/bin/env bash
# bulwark-controller against the real apiserver, with simulated agents (the real stream client
# and sync engine) as processes: a policy's status counts its pods and nodes once the agents
# ACK; a relabelled pod moves between policies (UPSERT) or out of them (DELETE); a deleted
# policy unenforces its pods; profiles reach every node before a pod uses them; a controller
# killed and restarted resyncs the agents without applying anything twice; an agent's failure
# becomes a Degraded condition and an Event carrying its message; an invalid policy is not
# applied and says why; an agent with another node's token, or none, is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=controller_env.sh
source "$(dirname "$0")/controller_env.sh"

check() { tap_check "$@" || true; }

test_namespace ctrl-push
ns=$TEST_NS
ctrl_setup
na=$ns-a nb=$ns-b nc=$ns-c
for n in "$na" "$nb" "$nc"; do ctrl_node "$n"; done

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot create the policies"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp: {allow: ["@system-service"]}
  network: {egress: {defaultAction: Deny, rules: [{cidrs: ["10.96.0.10/32"], protocol: UDP, ports: [{port: 53}]}]}}
---
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  network: {ingress: {defaultAction: Deny}}
EOF
pod web-1 "$na" "app: web"
pod web-2 "$nb" "app: web"
pod db-1 "$na" "app: db"
pod loner "$na" "app: none"
pod unbound "" "app: web" # no node yet: counted, never sent

ctrl_start one
agent_start agents "${CTRL_URL[one]}" --node "$na" --node "$nb"

wait_for 30 status_is web .nodesEnforced 2 || true
check "web: podsMatched 3 (web-1, web-2, unbound)" status_is web .podsMatched 3
check "web: nodesEnforced 2 after both agents ACKed" status_is web .nodesEnforced 2
check "web: Ready True, reason Enforced" condition_is web Ready reason Enforced
check "web: observedGeneration is the generation" test "$(status web .observedGeneration)" = \
	"$(kubectl -n "$ns" get bwp web -o jsonpath='{.metadata.generation}')"
check "db: podsMatched 1, nodesEnforced 1" bash -c "[ \"\$(kubectl -n $ns get bwp db -o jsonpath='{.status.podsMatched}/{.status.nodesEnforced}')\" = 1/1 ]"
check "agent on $na applied web-1 and db-1" bash -c "grep -q '\"node\":\"$na\".*\"ev\":\"apply\".*\"pod\":\"$ns/web-1\"' $CTRL_DIR/agents.out &&
	grep -q '\"node\":\"$na\".*\"ev\":\"apply\".*\"pod\":\"$ns/db-1\"' $CTRL_DIR/agents.out"
check "agent on $nb applied web-2" grep -q "\"node\":\"$nb\".*\"ev\":\"apply\".*\"pod\":\"$ns/web-2\"" "$CTRL_DIR/agents.out"
check "a pod no policy selects is never sent" test "$(events agents apply loner)" = 0
check "a pod not bound to a node is never sent" test "$(events agents apply unbound)" = 0
# Every node holds the web policy's profile before (in stream order) any pod is applied.
check "profiles are the first thing $na and $nb receive" bash -c \
	"[ \"\$(jq -r 'select(.node==\"$na\") | .ev' $CTRL_DIR/agents.out | sed -n 1p)\" = profiles ] &&
	 [ \"\$(jq -r 'select(.node==\"$nb\") | .ev' $CTRL_DIR/agents.out | sed -n 1p)\" = profiles ]"
check "the profile count is at least one" bash -c \
	"jq -se '[.[] | select(.ev==\"profiles\" and .count >= 1)] | length > 0' $CTRL_DIR/agents.out >/dev/null"

# ---- relabel: web-1 moves from web to db (UPSERT with a new hash); db-1 leaves db (DELETE) --
hash_before=$(jq -r "select(.ev==\"apply\" and .pod==\"$ns/web-1\") | .hash" "$CTRL_DIR/agents.out" | tail -n 1)
kubectl -n "$ns" label pod web-1 app=db --overwrite >/dev/null
kubectl -n "$ns" label pod db-1 app=none --overwrite >/dev/null
wait_for 20 has_event agents remove db-1 || true
wait_for 20 bash -c "[ \$(jq -r 'select(.ev==\"apply\" and .pod==\"$ns/web-1\") | .hash' $CTRL_DIR/agents.out | sort -u | wc -l) -ge 2 ]" || true
hash_after=$(jq -r "select(.ev==\"apply\" and .pod==\"$ns/web-1\") | .hash" "$CTRL_DIR/agents.out" | tail -n 1)
check "relabelled web-1 gets db's policy (UPSERT, new hash)" test "$hash_before" != "$hash_after"
check "db-1, no longer selected, is removed (DELETE)" has_event agents remove db-1
wait_for 20 status_is web .podsMatched 2 || true
check "web: podsMatched 2 after web-1 left" status_is web .podsMatched 2
check "web: nodesEnforced 1 ($nb only)" status_is web .nodesEnforced 1
wait_for 20 status_is db .podsMatched 1 || true
check "db: podsMatched 1 (web-1 now)" status_is db .podsMatched 1

# ---- an invalid policy the schema lets through (syscall names are semantic) ---------------
kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "the schema refused the semantically invalid policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: typo}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp: {deny: [{syscalls: [mkdri]}]}
EOF
wait_for 20 condition_is typo Ready reason Invalid || true
check "invalid policy: Ready False, reason Invalid" condition_is typo Ready reason Invalid
check "invalid policy: the message names the field" bash -c \
	"kubectl -n $ns get bwp typo -o json | jq -r '.status.conditions[] | select(.type==\"Ready\") | .message' | grep 'spec.seccomp.deny\[0\].syscalls\[0\]' >/dev/null"
check "invalid policy: an Invalid event on the policy" bash -c \
	"kubectl -n $ns get events --field-selector involvedObject.name=typo,reason=Invalid -o name | grep . >/dev/null"
sleep 1
check "invalid policy changes no pod (web-2 still has its one hash)" \
	test "$(jq -r "select(.ev==\"apply\" and .pod==\"$ns/web-2\") | .hash" "$CTRL_DIR/agents.out" | sort -u | wc -l)" = 1
kubectl -n "$ns" delete bwp typo >/dev/null

# ---- delete a policy: its pods are unenforced -----------------------------------------------
kubectl -n "$ns" delete bwp db >/dev/null
wait_for 20 has_event agents remove web-1 || true
check "deleting db removes web-1 from $na (DELETE)" has_event agents remove web-1

# ---- kill -9 the controller, start another: the agents resync, nothing applied twice --------
applies_before=$(jq -c 'select(.ev=="apply")' "$CTRL_DIR/agents.out" | wc -l)
ctrl_kill one KILL
pod web-3 "$na" "app: web" # changed while no controller runs
# Same address, as behind a Service: the running agents reconnect by themselves.
ctrl_start two --listen "127.0.0.1:${CTRL_URL[one]##*:}"
wait_for 60 bash -c "grep -c '\"msg\":\"agent stream opened\"' $CTRL_DIR/two.log | grep -x 2 >/dev/null" ||
	fail "the agents did not reconnect to the restarted controller: $(tail -n 5 "$CTRL_DIR/agents.err")"
wait_for 20 has_event agents apply web-3 || true
check "after the restart the agents got what changed meanwhile (web-3)" has_event agents apply web-3
sleep 2
dups=$(jq -r 'select(.ev=="apply") | "\(.pod) \(.hash)"' "$CTRL_DIR/agents.out" | sort | uniq -d)
check "no (pod, hash) applied twice across the restart" test -z "$dups"
check "only web-3 was applied after the restart" test \
	"$(($(jq -c 'select(.ev=="apply")' "$CTRL_DIR/agents.out" | wc -l) - applies_before))" = 1
wait_for 20 status_is web .nodesEnforced 2 || true
check "web: status rebuilt by the new controller (2 nodes enforced)" status_is web .nodesEnforced 2
check "web: podsMatched 3 (web-2, web-3, unbound)" status_is web .podsMatched 3

# ---- an agent failure: Degraded with the agent's message, and an Event ----------------------
agent_start failing "${CTRL_URL[two]}" --node "$nc" --fail "$ns/web-4"
pod web-4 "$nc" "app: web"
wait_for 30 condition_is web Degraded status True || true
check "web: Degraded True when $nc refuses web-4" condition_is web Degraded status True
check "web: nodesFailed 1" status_is web .nodesFailed 1
check "web: Ready False, reason AgentRejected" condition_is web Ready reason AgentRejected
check "Degraded names node, pod, applier, field and message" bash -c \
	"[ \"\$(kubectl -n $ns get bwp web -o json | jq -r '.status.conditions[] | select(.type==\"Degraded\") | .message')\" = \
	 '$nc: $ns/web-4: simulated: network.egress: simulated failure for $ns/web-4' ]"
check "an AgentRejected Warning event on the policy" bash -c \
	"kubectl -n $ns get events --field-selector involvedObject.name=web,reason=AgentRejected,type=Warning -o name | grep . >/dev/null"
kubectl -n "$ns" delete pod web-4 --force --grace-period=0 >/dev/null 2>&1
wait_for 30 condition_is web Degraded status False || true
check "Degraded clears once the failing pod is gone" condition_is web Degraded status False

# ---- refusals -------------------------------------------------------------------------------
stream() { curl -s -m 3 --cacert "$CTRL_DIR/ca.crt" "$@" -o "$CTRL_DIR/refusal" -w '%{http_code}'; }
code=$(stream -H "Authorization: Bearer $(cat "$CTRL_DIR/tokens/$na.token")" "${CTRL_URL[two]}/v1/stream?node=$nb")
check "another node's token is refused with 403 ($code)" test "$code" = 403
check "the refusal says which node the token is bound to" grep -q "bound to node $na, not to $nb" "$CTRL_DIR/refusal"
code=$(stream "${CTRL_URL[two]}/v1/stream?node=$na")
check "no token: 401 ($code)" test "$code" = 401
code=$(stream -H "Authorization: Bearer not-a-token" "${CTRL_URL[two]}/v1/stream?node=$na")
check "a token the apiserver rejects: 401 ($code)" test "$code" = 401
kubectl -n "$ns" create serviceaccount intruder >/dev/null
intruder=$(kubectl -n "$ns" create token intruder --bound-object-kind Node --bound-object-name "$na")
code=$(stream -H "Authorization: Bearer $intruder" "${CTRL_URL[two]}/v1/stream?node=$na")
check "another ServiceAccount's node-bound token: 403 ($code)" test "$code" = 403

# ---- the real agent binary, in --simulate mode, against the same controller -----------------
AGENT_BIN=$BUILD/bin/bulwark-agent
if [ -x "$AGENT_BIN" ] && "$AGENT_BIN" --help 2>&1 | grep -- --simulate >/dev/null; then
	nd=$ns-d
	ctrl_node "$nd"
	pod web-5 "$nd" "app: web"
	"$AGENT_BIN" --node "$nd" --controller "${CTRL_URL[two]}" --controller-ca "$CTRL_DIR/ca.crt" \
		--token-file "$CTRL_DIR/tokens/$nd.token" --simulate --state-dir "$CTRL_DIR/agent-d" \
		--metrics-listen 127.0.0.1:0 >"$CTRL_DIR/agent-d.log" 2>&1 &
	real_agent=$!
	disown
	on_exit "kill -9 $real_agent 2>/dev/null"
	wait_for 30 status_is web .nodesEnforced 3 || true
	check "bulwark-agent --simulate on $nd ACKs: web enforced on 3 nodes" status_is web .nodesEnforced 3
	kill -TERM "$real_agent"
else
	tap_skip "bulwark-agent --simulate against the controller" "$AGENT_BIN has no --simulate"
fi

# ---- metrics ----------------------------------------------------------------------------------
metrics=$(curl -sf "${CTRL_METRICS[two]}/metrics")
for m in bulwark_controller_reconcile_duration_seconds_count bulwark_controller_push_latency_seconds_count \
	bulwark_controller_agents_connected bulwark_controller_queue_depth bulwark_controller_pods \
	bulwark_controller_policies bulwark_controller_nodes; do
	check "metric $m" grep -q "^$m" <<<"$metrics"
done
# A closed stream is noticed when a write fails: the second heartbeat after the close (20 s).
connected3() { curl -sf "${CTRL_METRICS[two]}/metrics" | grep '^bulwark_controller_agents_connected 3$' >/dev/null; }
wait_for 30 connected3 || true
check "three agent streams connected" connected3
tap_done
