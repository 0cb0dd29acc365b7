#!/usr/bin/env bash
# bulwark-controller at scale on a local control plane of its own: NODES simulated agents (one
# process of stream-client threads, build/e2e/ctrl-agent), PODS pods and POLICIES policies
# (100 pods and 10 policies per namespace; each policy selects 10 pods on 10 nodes; 10
# distinct seccomp profiles). Measured, each against a baseline from the same run:
#   1. full recompute: controller start → every pod reconciled, against the apiserver's own
#      LIST of every pod (the floor of any cold start);
#   2. agents synced: 100 agents connect → every snapshot ACKed;
#   3. policy change → every affected pod's new policy ACKed by its agent (p50/p99 over
#      CHANGES changes), against the PATCH round trip itself;
#   4. controller peak RSS (VmHWM), against the JSON size of every pod and policy it caches.
# Writes bench/results/controller.json. NODES, PODS, POLICIES, CHANGES override the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
NODES=${NODES:-100}
PODS=${PODS:-10000}
POLICIES=${POLICIES:-1000}
CHANGES=${CHANGES:-40}
OUT=bench/results/controller.json
CONTROLLER=$BUILD/bin/bulwark-controller
AGENT=$BUILD/e2e/ctrl-agent
for b in "$CONTROLLER" "$AGENT"; do
	[ -x "$b" ] || { echo "bench-controller: $b is not built (make test-build)" >&2; exit 1; }
done
NS_COUNT=$((PODS / 100))
((NS_COUNT * 10 == POLICIES)) || { echo "bench-controller: POLICIES must be PODS/10" >&2; exit 2; }

tmp=$(mktemp -d /tmp/bench-controller.XXXXXX)
export CLUSTER_DIR=$tmp/cluster
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	BUILD=$BUILD e2e/cluster/cluster.sh down >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
say() { printf 'bench-controller: %s\n' "$*"; }

say "starting a control plane of its own"
BUILD=$BUILD e2e/cluster/cluster.sh up >"$tmp/cluster-up.log" 2>&1 || { cat "$tmp/cluster-up.log"; exit 1; }
# shellcheck source=/dev/null
source "$CLUSTER_DIR/env"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
api() {
	curl -sS --cacert "$KUBE_CA_FILE" --cert "$KUBE_CLIENT_CERT_FILE" --key "$KUBE_CLIENT_KEY_FILE" "$@"
}
k apply -f crds/bulwarkpolicy.yaml >/dev/null
k wait --for=condition=Established --timeout=60s crd/bulwarkpolicies.bulwark.dev >/dev/null
for _ in $(seq 50); do k get bwp -A >/dev/null 2>&1 && break; sleep 0.2; done

# ---- objects ------------------------------------------------------------------------------------
say "creating $NODES nodes with node-bound agent tokens"
k create namespace bulwark-system >/dev/null
k -n bulwark-system create serviceaccount bulwark-agent >/dev/null
mkdir -p "$tmp/tokens" "$tmp/objects"
{
	echo '{"apiVersion":"v1","kind":"List","items":['
	for ((n = 0; n < NODES; n++)); do
		((n == 0)) || echo ,
		printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-node-%d"}}' "$n"
	done
	echo ']}'
} >"$tmp/objects/nodes.json"
k create -f "$tmp/objects/nodes.json" >/dev/null
token() {
	k -n bulwark-system create token bulwark-agent --duration 2h --bound-object-kind Node \
		--bound-object-name "bench-node-$1" >"$tmp/tokens/bench-node-$1.token"
}
for ((n = 0; n < NODES; n++)); do token "$n" & if ((n % 8 == 7)); then wait; fi; done
wait

syscalls=(mkdir ptrace unshare mount chroot reboot swapon kexec_load bpf perf_event_open)
say "creating $NS_COUNT namespaces, $POLICIES policies, $PODS pods"
t0=$(now_ms)
for ((ns = 0; ns < NS_COUNT; ns++)); do
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench-%d"}}\n' "$ns"
done | k create -f - >/dev/null
# One file per worker; kubectl sends one request per item, so four of them run side by side.
for ((w = 0; w < 4; w++)); do
	{
		echo '{"apiVersion":"v1","kind":"List","items":['
		first=1
		for ((ns = w; ns < NS_COUNT; ns += 4)); do
			for ((i = 0; i < 10; i++)); do
				((first)) || echo ,
				first=0
				printf '{"apiVersion":"bulwark.dev/v1alpha1","kind":"BulwarkPolicy","metadata":{"name":"p%d","namespace":"bench-%d"},"spec":{"podSelector":{"matchLabels":{"app":"a%d"}},"network":{"egress":{"defaultAction":"Deny","rules":[{"cidrs":["10.%d.%d.0/24"],"protocol":"TCP","ports":[{"port":443}]}]}},"seccomp":{"deny":[{"syscalls":["%s"]}]}}}' \
					"$i" "$ns" "$i" "$((ns % 250))" "$i" "${syscalls[i]}"
			done
			for ((j = 0; j < 100; j++)); do
				printf ',{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%d","namespace":"bench-%d","labels":{"app":"a%d"}},"spec":{"nodeName":"bench-node-%d","containers":[{"name":"c","image":"busybox"}]}}' \
					"$j" "$ns" "$((j % 10))" "$((j % NODES))"
			done
		done
		echo ']}'
	} >"$tmp/objects/part-$w.json"
done
for ((w = 0; w < 4; w++)); do k create -f "$tmp/objects/part-$w.json" >/dev/null & done
wait
create_ms=$(($(now_ms) - t0))
say "created in ${create_ms} ms"

# ---- baseline: the apiserver's LIST of every pod ---------------------------------------------
t0=$(now_ms)
list_bytes=0
cont=""
while :; do
	api "$APISERVER_URL/api/v1/pods?limit=500${cont:+&continue=$cont}" -o "$tmp/page.json"
	list_bytes=$((list_bytes + $(jq -c '.items[]' "$tmp/page.json" | wc -c)))
	cont=$(jq -r '.metadata.continue // empty' "$tmp/page.json")
	[ -n "$cont" ] || break
done
list_ms=$(($(now_ms) - t0))
policy_bytes=$(api "$APISERVER_URL/apis/bulwark.dev/v1alpha1/bulwarkpolicies" | jq -c '.items[]' | wc -c)

# ---- 1. full recompute ---------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.crt" -days 1 -subj /CN=bulwark-controller \
	-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
say "full recompute: starting the controller"
t0=$(now_ms)
"$CONTROLLER" --kubeconfig "$KUBECONFIG" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
	--tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key" --status-qps 200 -v 0 \
	>"$tmp/controller.log" 2>&1 &
CPID=$!
disown
PIDS+=("$CPID")
for _ in $(seq 200); do grep -q '"msg":"serving metrics"' "$tmp/controller.log" && break; sleep 0.05; done
URL=https://127.0.0.1:$(grep '"msg":"serving agents"' "$tmp/controller.log" | jq -r .port)
METRICS=http://127.0.0.1:$(grep '"msg":"serving metrics"' "$tmp/controller.log" | jq -r .port)
metric() { curl -s "$METRICS/metrics" | awk -v m="$1" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }'; }
while :; do
	done_pods=$(metric bulwark_controller_pods_enforced)
	depth=$(metric bulwark_controller_queue_depth)
	[ "${done_pods%.*}" -ge "$PODS" ] && [ "${depth%.*}" = 0 ] && break
	(($(now_ms) - t0 < 120000)) || { say "recompute did not finish: $done_pods pods"; exit 1; }
	sleep 0.05
done
recompute_ms=$(($(now_ms) - t0))
rss_recompute_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$CPID/status")
reconcile_sum=$(metric 'bulwark_controller_reconcile_duration_seconds_sum{kind="pod"}')
say "recompute: ${recompute_ms} ms (LIST of every pod alone: ${list_ms} ms)"

# ---- 2. agents ---------------------------------------------------------------------------------
say "starting $NODES simulated agents"
t0=$(now_ms)
"$AGENT" --controller "$URL" --ca "$tmp/tls.crt" --token-dir "$tmp/tokens" \
	--nodes "bench-node:$NODES" >"$tmp/agents.out" 2>"$tmp/agents.err" &
PIDS+=("$!")
disown
while :; do
	acks=$(metric 'bulwark_controller_acks_total{result="ack"}')
	[ "${acks%.*}" -ge "$NODES" ] && [ "$(metric bulwark_controller_agents_connected)" = "$NODES" ] && break
	(($(now_ms) - t0 < 120000)) || { say "agents did not sync: $acks acks"; tail -n 3 "$tmp/agents.err"; exit 1; }
	sleep 0.05
done
agents_ms=$(($(now_ms) - t0))
rss_agents_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$CPID/status")
applied=$(grep -c '"ev":"apply"' "$tmp/agents.out" || true)
say "agents synced in ${agents_ms} ms ($applied pod policies applied)"

t0=$(now_ms)
while :; do
	ready=$(k get bwp -A -o json | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')
	[ "$ready" -ge "$POLICIES" ] && break
	(($(now_ms) - t0 < 120000)) || break
	sleep 1
done
status_ms=$(($(now_ms) - t0 + agents_ms))
say "$ready of $POLICIES policies Ready ${status_ms} ms after the agents started (status writes at 200/s)"

# ---- 3. policy change → every affected pod's new policy acknowledged ----------------------------
say "$CHANGES policy changes"
lat=() rtt=()
for ((c = 0; c < CHANGES; c++)); do
	ns=$(((c * 37) % NS_COUNT)) i=$((c % 10))
	before=$(wc -l <"$tmp/agents.out")
	body=$(printf '{"spec":{"network":{"egress":{"rules":[{"cidrs":["10.%d.%d.0/%d"],"protocol":"TCP","ports":[{"port":443}]}]}}}}' \
		"$((ns % 250))" "$i" "$((25 + c % 4))")
	t0=$(now_ms)
	api -X PATCH -H 'Content-Type: application/merge-patch+json' -d "$body" -o /dev/null \
		"$APISERVER_URL/apis/bulwark.dev/v1alpha1/namespaces/bench-$ns/bulwarkpolicies/p$i"
	rtt+=($(($(now_ms) - t0)))
	want=$((PODS / NS_COUNT / 10))
	while :; do
		got=$(tail -n +"$((before + 1))" "$tmp/agents.out" | grep -c "\"ev\":\"apply\",\"pod\":\"bench-$ns/" || true)
		[ "$got" -ge "$want" ] && break
		(($(now_ms) - t0 < 20000)) || { say "change $c: only $got of $want applied"; exit 1; }
		sleep 0.01
	done
	last=$(tail -n +"$((before + 1))" "$tmp/agents.out" | grep "\"ev\":\"apply\",\"pod\":\"bench-$ns/" | jq -s 'map(.t) | max')
	lat+=($((last - t0)))
done
pct() { printf '%s\n' "$@" | sort -n | awk -v p="$P" '{ a[NR] = $1 } END { i = int((NR - 1) * p / 100 + 0.5) + 1; print a[i] }'; }
P=50 p50=$(pct "${lat[@]}")
P=99 p99=$(pct "${lat[@]}")
P=50 rtt50=$(pct "${rtt[@]}")
push_sum=$(metric bulwark_controller_push_latency_seconds_sum)
push_count=$(metric bulwark_controller_push_latency_seconds_count)
say "change → all ACKed: p50 ${p50} ms, p99 ${p99} ms (PATCH round trip p50 ${rtt50} ms)"

# ---- 4. memory ---------------------------------------------------------------------------------
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$CPID/status")
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$CPID/status")
push_mean=$(awk -v s="$push_sum" -v n="$push_count" 'BEGIN { printf "%.2f", (n > 0 ? s * 1000 / n : 0) }')
say "controller RSS after recompute ${rss_recompute_kb} KiB, after the agents synced ${rss_agents_kb} KiB"
say "controller peak RSS ${hwm_kb} KiB (cached JSON: $(((list_bytes + policy_bytes) / 1024)) KiB)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'; }
mkdir -p bench/results
cat >"$OUT" <<EOF
{
  "setup": {"nodes": $NODES, "pods": $PODS, "policies": $POLICIES, "namespaces": $NS_COUNT,
            "pods_per_policy": $((PODS / POLICIES)), "seccomp_profiles": 10, "create_ms": $create_ms},
  "full_recompute": {"ms": $recompute_ms, "reconcile_cpu_seconds": $reconcile_sum,
                     "baseline_list_all_pods_ms": $list_ms,
                     "ratio_vs_list": $(ratio "$recompute_ms" "$list_ms")},
  "agents_sync": {"agents": $NODES, "ms": $agents_ms, "pod_policies_applied": $applied,
                  "all_policies_ready_ms": $status_ms, "policies_ready": $ready},
  "policy_change_to_all_acks": {"changes": $CHANGES, "pods_per_change": $((PODS / POLICIES)),
                                "p50_ms": $p50, "p99_ms": $p99,
                                "baseline_patch_rtt_p50_ms": $rtt50,
                                "ratio_p50_vs_patch_rtt": $(ratio "$p50" "$rtt50"),
                                "controller_push_latency_mean_ms": $push_mean},
  "memory": {"controller_vmhwm_kib": $hwm_kb, "controller_vmrss_kib": $rss_kb,
             "rss_after_recompute_kib": $rss_recompute_kb, "rss_after_agents_sync_kib": $rss_agents_kb,
             "cached_json_kib": $(((list_bytes + policy_bytes) / 1024)),
             "ratio_hwm_vs_cached_json": $(ratio "$hwm_kb" "$(((list_bytes + policy_bytes) / 1024))")}
}
EOF
jq . "$OUT" >/dev/null
cat "$OUT"
