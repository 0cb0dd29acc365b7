#!/usr/bin/env bash
# Two bulwark-controller replicas with leader election on a Lease: only the leader reports
# ready (so a Service sends agents to it), serves agents and writes status; the follower answers
# 503 to agents. Killing the leader with SIGKILL hands over within the lease duration (15 s)
# plus a retry period; the new leader serves the agents and writes status. A leader stopped
# with SIGTERM releases the Lease, so the handover is immediate.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=controller_env.sh
source "$(dirname "$0")/controller_env.sh"

check() { tap_check "$@" || true; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

test_namespace ctrl-leader
ns=$TEST_NS
ctrl_setup
na=$ns-a
ctrl_node "$na"
kubectl -n "$ns" apply -f - >/dev/null <<'EOF2' || fail "cannot create the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  network: {egress: {defaultAction: Deny}}
EOF2
pod web-1 "$na" "app: web"

elect=(--leader-elect --lease-namespace "$ns" --lease-name bulwark-controller)
ctrl_start a "${elect[@]}" --identity a
wait_for 30 ctrl_ready a || fail "a never became ready: $(tail -n 5 "$CTRL_DIR/a.log")"
ctrl_start b "${elect[@]}" --identity b
sleep 4 # b syncs and tries the Lease a few times
check "the leader (a) is ready" ctrl_ready a
check "the follower (b) is not ready" bash -c "! curl -sf ${CTRL_METRICS[b]}/readyz"
check "the follower says why" bash -c "curl -s ${CTRL_METRICS[b]}/readyz | grep 'not the leader' >/dev/null"
check "the Lease names a" test "$(kubectl -n "$ns" get lease bulwark-controller -o jsonpath='{.spec.holderIdentity}')" = a
code=$(curl -s -m 3 --cacert "$CTRL_DIR/ca.crt" -H "Authorization: Bearer $(cat "$CTRL_DIR/tokens/$na.token")" \
	-o /dev/null -w '%{http_code}' "${CTRL_URL[b]}/v1/stream?node=$na")
check "the follower refuses agents with 503 ($code)" test "$code" = 503
agent_start agents "${CTRL_URL[a]}" --node "$na"
wait_for 30 status_is web .nodesEnforced 1 || true
check "the leader wrote status (1 node enforced)" status_is web .nodesEnforced 1

# ---- SIGKILL the leader: no release, b waits for the Lease to expire -------------------------
killed=$(now_ms)
ctrl_kill a KILL
wait_for 40 ctrl_ready b || fail "b never became ready after a was killed"
took=$(($(now_ms) - killed))
echo "# handover ${took} ms after SIGKILL of the leader"
check "b leads within lease duration + retry period (${took} ms <= 20000)" test "$took" -le 20000
check "the Lease names b" test "$(kubectl -n "$ns" get lease bulwark-controller -o jsonpath='{.spec.holderIdentity}')" = b
# A Service would now route the agent to b; here the agent is pointed at it.
kill -9 "${AGENT_PID[agents]}"
agent_start agents2 "${CTRL_URL[b]}" --node "$na"
pod web-2 "$na" "app: web"
wait_for 30 has_event agents2 apply web-2 || true
check "the new leader serves the agent (web-2 applied)" has_event agents2 apply web-2
wait_for 30 status_is web .podsMatched 2 || true
check "the new leader writes status (podsMatched 2)" status_is web .podsMatched 2
wait_for 30 status_is web .nodesEnforced 1 || true
check "and nodesEnforced from its agent's ACKs" status_is web .nodesEnforced 1

# ---- SIGTERM the leader: it releases the Lease, a follower takes over at once ----------------
ctrl_start c "${elect[@]}" --identity c
wait_for 20 grep -q '"msg":"caches synced"' "$CTRL_DIR/c.log" || fail "c did not sync"
stopped=$(now_ms)
ctrl_kill b TERM
wait_for 20 ctrl_ready c || fail "c never became ready after b stopped"
took=$(($(now_ms) - stopped))
echo "# handover ${took} ms after SIGTERM of the leader"
check "a released Lease is taken over fast (${took} ms <= 6000)" test "$took" -le 6000
check "b logged the lost leadership or its stop" grep -q '"msg":"controller stopping"' "$CTRL_DIR/b.log"
tap_done
