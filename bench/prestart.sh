#!/usr/bin/env bash
# The network pre-start window on a real kubelet (README, "Network pre-start window"): the agent
# binds a pod's policy when it sees the pod's cgroup appear; a container that sends before that
# is not filtered. Over PODS pod starts (default 20, in batches of BATCH, default 5) of a pod
# whose policy denies one peer, each container's first act is a connection to that peer; this
# reports how often it got through (the first packet came before the bind) and the distribution
# of the margins: container start minus the agent's bind, positive when the policy was bound
# first. Reported, never asserted. Needs the real-node cluster (e2e/node/node.sh up) with
# Bulwark installed (the script installs it if not); raises the agent's verbosity to 2 for the
# run (its bind log line) and puts the shipped DaemonSet back at the end.
# Writes bench/results/prestart.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../e2e/node/bulwark.sh
source e2e/node/bulwark.sh
PODS=${PODS:-20}
BATCH=${BATCH:-5}
OUT=$BULWARK_ROOT/bench/results/prestart.json

bulwark_install
node_namespace prestart
ns=$TEST_NS

# The agent at -v=2 logs "pod network policy applied" with the pod and a millisecond ts.
kubectl -n "$NS" patch ds bulwark-agent --type=json \
	-p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"-v=2"}]' >/dev/null ||
	fail "cannot raise the agent's verbosity"
on_exit "kubectl apply -k '$OVERLAY' >/dev/null 2>&1; kubectl -n $NS rollout status ds/bulwark-agent --timeout=${T}s >/dev/null 2>&1"
kubectl -n "$NS" rollout status ds/bulwark-agent --timeout="$((2 * T))s" >/dev/null || fail "the agent did not roll out at -v=2"

kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot create the peer"
apiVersion: v1
kind: Pod
metadata: {name: peer, labels: {app: peer}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "mkdir -p /tmp/w && echo hello >/tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"]}]
EOF
pod_wait peer || fail "the peer never became Ready"
peer=$(kubectl -n "$ns" get pod peer -o jsonpath='{.status.podIP}')
kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: no-peer}
spec:
  podSelector: {matchLabels: {app: probe}}
  network:
    egress:
      defaultAction: Allow
      rules:
        - {action: Deny, cidrs: ["$peer/32"]}
EOF
known() { [ "$(kubectl -n "$ns" get bwp no-peer -o jsonpath='{.status.observedGeneration}')" = 1 ]; }
wait_for "$T" known || fail "the controller never took up the policy"

# The guest's wall clock minus its uptime: converts the containers' /proc/uptime readings.
boot=$(node_sh "$NODE" 'read -r up _ </proc/uptime; now=$(date +%s.%N); echo "$now $up"' |
	awk '{ printf "%.3f", $1 - $2 }')
start_pod() {
	kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: probe-$1, labels: {app: probe}}
spec:
  nodeName: $NODE
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: $BUSYBOX_IMAGE
      command: [sh, -c, 'read -r up _ </proc/uptime; if printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 $peer 8080 | grep hello >/dev/null; then v=allowed; else v=denied; fi; echo "start \$up first \$v"']
EOF
}
done_pod() { [ "$(kubectl -n "$ns" get pod "probe-$1" -o jsonpath='{.status.phase}')" = Succeeded ]; }
t0=$SECONDS
for ((i = 1; i <= PODS; i += BATCH)); do
	for ((j = i; j < i + BATCH && j <= PODS; j++)); do start_pod "$j" || fail "cannot create probe-$j"; done
	for ((j = i; j < i + BATCH && j <= PODS; j++)); do
		wait_for "$((2 * T))" done_pod "$j" || fail "probe-$j never finished"
	done
	printf 'prestart: %d/%d pods done (%ss)\n' "$((j - 1))" "$PODS" "$((SECONDS - t0))"
done

log=$(agent_log "$NODE")
rows=()
for ((i = 1; i <= PODS; i++)); do
	line=$(kubectl -n "$ns" logs "probe-$i")
	up=$(awk '{ print $2 }' <<<"$line")
	verdict=$(awk '{ print $4 }' <<<"$line")
	bind=$(grep '"msg":"pod network policy applied"' <<<"$log" | grep "\"pod\":\"$ns/probe-$i\"" | sed -n 1p | jq -r .ts || true)
	rows+=("$(jq -cn --arg p "probe-$i" --arg v "$verdict" --argjson start "$(awk -v b="$boot" -v u="$up" 'BEGIN { printf "%.3f", b + u }')" \
		--arg bind "${bind:-}" '{pod: $p, first: $v, start: $start,
		bind: (if $bind == "" then null else ($bind | tonumber) end)}
		| .margin_ms = (if .bind == null then null else ((.start - .bind) * 1000 | round) end)')")
done
report=$(printf '%s\n' "${rows[@]}" | jq -s --arg node "$NODE" --arg kernel "$(node_exec "$NODE" uname -r)" '
	def pct(p): (sort | .[((length - 1) * p | floor)]);
	{node: $node, kernel: $kernel, pods: length,
	 first_packet_before_bind: [.[] | select(.first == "allowed")] | length,
	 never_bound: [.[] | select(.bind == null)] | length,
	 margin_ms: ([.[] | .margin_ms | select(. != null)] | {min: min, p10: pct(0.1), median: pct(0.5), p90: pct(0.9), max: max}),
	 runs: .}')
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
jq -r '"prestart: \(.pods) pod starts on \(.node) (\(.kernel)): first packet before the bind in \(.first_packet_before_bind), never bound \(.never_bound)",
	"prestart: bind-before-start margin ms: min \(.margin_ms.min), p10 \(.margin_ms.p10), median \(.margin_ms.median), p90 \(.margin_ms.p90), max \(.margin_ms.max)"' <<<"$report"
echo "prestart: wrote $OUT"
