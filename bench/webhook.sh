#!/usr/bin/env bash
# bulwark-webhook under load on loopback: reviews per second and latency of pod mutation (a pod
# selected by a realistic policy with network, seccomp, Landlock and exec sections: compile
# through the per-thread policy cache, the mutators, the JSON Patch), side by side with the
# allow-all route of the same server (HTTPS, body read, strict decode, encode: the floor any
# admission webhook pays). Both run with the same closed-loop load generator
# (e2e/tools/webhook_load.c: CONNECTIONS kept-alive connections, one thread, libcurl multi),
# alternating, ROUNDS times each.
#   server-side latency: quantiles interpolated from the webhook's own histogram
#     (bulwark_webhook_admission_duration_seconds, body received -> answer encoded)
#   client-side latency: exact quantiles of request-to-answer on the load generator (TLS and
#     loopback included)
# Needs the local control plane (the webhook watches BulwarkPolicies): uses the one in
# CLUSTER_DIR if it is up, else starts its own and stops it afterwards.
# Writes bench/results/webhook.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
export BUILD
WEBHOOK=$BUILD/bin/bulwark-webhook
LOAD=$BUILD/e2e/webhook_load
CONNECTIONS=${CONNECTIONS:-16}
RUN_SECONDS=${RUN_SECONDS:-10}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
RATE=${RATE:-2000}
OUT=bench/results/webhook.json
for b in "$WEBHOOK" "$LOAD"; do
	[ -x "$b" ] || {
		echo "bench-webhook: $b is not built (make test-build)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
started_cluster=
cleanup() {
	[ -z "${WEBHOOK_PID:-}" ] || {
		kill "$WEBHOOK_PID" 2>/dev/null || true
		wait "$WEBHOOK_PID" 2>/dev/null || true
	}
	if [ -n "${NS:-}" ]; then
		k delete bulwarkpolicies --all -n "$NS" --wait=false >/dev/null 2>&1 || true
		k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
		k get namespace "$NS" -o json 2>/dev/null | jq '.spec.finalizers = []' |
			k replace --raw "/api/v1/namespaces/$NS/finalize" -f - >/dev/null 2>&1 || true
	fi
	[ -z "$started_cluster" ] || CLUSTER_DIR=$started_cluster e2e/cluster/cluster.sh down >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

CLUSTER_DIR=${CLUSTER_DIR:-$BUILD/cluster}
if ! CLUSTER_DIR=$CLUSTER_DIR e2e/cluster/cluster.sh status >/dev/null 2>&1; then
	CLUSTER_DIR=$BUILD/bench-webhook-cluster
	echo "bench-webhook: starting a local control plane in $CLUSTER_DIR"
	CLUSTER_DIR=$CLUSTER_DIR e2e/cluster/cluster.sh up | sed 's/^/  /'
	started_cluster=$CLUSTER_DIR
fi
# shellcheck source=/dev/null
source "$CLUSTER_DIR/env"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

k apply -f crds/bulwarkpolicy.yaml -f crds/execsession.yaml >/dev/null
k wait --for=condition=Established --timeout=30s crd/bulwarkpolicies.bulwark.dev >/dev/null
NS=bench-webhook-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
k create namespace "$NS" >/dev/null
for _ in $(seq 50); do k -n "$NS" get bwp >/dev/null 2>&1 && break; sleep 0.2; done
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  network:
    egress:
      defaultAction: Deny
      rules:
        - {protocol: UDP, ports: [{port: 53}], cidrs: [10.96.0.10/32]}
        - {protocol: TCP, ports: [{port: 443}], cidrs: [10.0.0.0/8, 172.16.0.0/12]}
  seccomp: {allow: ["@system-service"], deny: [{syscalls: [ptrace, mount, unshare]}]}
  landlock:
    filesystem:
      - {paths: [/usr, /lib, /bin, /etc], access: [execute, read_file, read_dir]}
      - {paths: [/tmp, /var/cache/nginx], access: [read_file, write_file, read_dir, make_reg, make_dir, remove_file, truncate]}
    network: [{ports: [8080], access: [bind_tcp]}]
  execRecording: {enabled: true}
EOF

# A serving certificate for 127.0.0.1 from a throwaway CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca -days 1 \
	-keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -set_serial 1 -days 1 \
	-extfile "$tmp/ext" -out "$tmp/tls.crt" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$port
"$WEBHOOK" --kubeconfig "$KUBECONFIG" --listen "127.0.0.1:$port" --tls-cert "$tmp/tls.crt" \
	--tls-key "$tmp/tls.key" --threads "$THREADS" --bench-routes --launcher-image bulwark:bench \
	-v 0 2>"$tmp/webhook.log" &
WEBHOOK_PID=$!
metrics() { curl -sS --cacert "$tmp/ca.crt" "$URL/metrics"; }
for _ in $(seq 100); do
	metrics 2>/dev/null | grep 'bulwark_webhook_policies{state="valid"} 1' >/dev/null && break
	sleep 0.1
done
metrics | grep 'bulwark_webhook_policies{state="valid"} 1' >/dev/null || {
	cat "$tmp/webhook.log" >&2
	echo "bench-webhook: the webhook never saw the policy" >&2
	exit 1
}

cat >"$tmp/review.json" <<EOF
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
 "uid":"0f5f6a7e-2b2c-4a39-9d2e-5b8e3c1d4a11",
 "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
 "requestKind":{"group":"","version":"v1","kind":"Pod"},"requestResource":{"group":"","version":"v1","resource":"pods"},
 "namespace":"$NS","operation":"CREATE",
 "userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller","groups":["system:serviceaccounts","system:authenticated"]},
 "object":{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-7d9f8-","namespace":"$NS",
  "labels":{"app":"web","pod-template-hash":"7d9f8"},
  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9f8","uid":"5a1b","controller":true}]},
  "spec":{"containers":[
   {"name":"nginx","image":"nginx:1.27","command":["nginx","-g","daemon off;"],"ports":[{"containerPort":8080}],
    "resources":{"requests":{"cpu":"100m","memory":"128Mi"}},
    "volumeMounts":[{"name":"cache","mountPath":"/var/cache/nginx"}]},
   {"name":"exporter","image":"nginx/nginx-prometheus-exporter:1.3","command":["/usr/bin/nginx-prometheus-exporter"],
    "args":["--nginx.scrape-uri=http://localhost:8080/stub_status"]}],
   "volumes":[{"name":"cache","emptyDir":{}}],"serviceAccountName":"web","terminationGracePeriodSeconds":30}},
 "oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}
EOF

# run ROUTE EXPECT [RATE]: one load run (closed loop, or paced to RATE reviews/s); prints the
# generator's JSON with the server-side histogram's quantiles for that run added.
run() {
	local route=$1 expect=$2 rate=${3:-}
	metrics >"$tmp/before"
	"$LOAD" --url "$URL/$route" --cacert "$tmp/ca.crt" --body "$tmp/review.json" \
		--connections "$CONNECTIONS" --seconds "$RUN_SECONDS" --warmup 1 --expect "$expect" \
		${rate:+--rate "$rate"} >"$tmp/load.json"
	metrics >"$tmp/after"
	python3 - "$tmp/before" "$tmp/after" "$tmp/load.json" "$route" <<'PY'
import json, re, sys
before, after, load, route = sys.argv[1:5]
op = route.replace("-", "_")
pat = re.compile(r'^bulwark_webhook_admission_duration_seconds_bucket\{operation="%s",result="[a-z]+",le="([^"]+)"\} (\S+)$' % op)
def buckets(path):
    b = {}
    for line in open(path):
        m = pat.match(line.strip())
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            b[le] = b.get(le, 0) + float(m.group(2))
    return b
b0, b1 = buckets(before), buckets(after)
bounds = sorted(b1)
cum = [b1[le] - b0.get(le, 0) for le in bounds]
total = cum[-1] if cum else 0
def q(p):
    want, prev_le, prev_c = p * total, 0.0, 0.0
    for le, c in zip(bounds, cum):
        if c >= want:
            if le == float("inf"):
                return prev_le * 1e6
            frac = 0 if c == prev_c else (want - prev_c) / (c - prev_c)
            return (prev_le + (le - prev_le) * frac) * 1e6
        prev_le, prev_c = le, c
    return 0
out = json.load(open(load))
out["server_reviews"] = int(total)
out["server_p50_us"], out["server_p99_us"], out["server_p999_us"] = (round(q(x), 1) for x in (0.5, 0.99, 0.999))
print(json.dumps(out))
PY
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-webhook: $CONNECTIONS connections, $THREADS server threads, ${RUN_SECONDS}s per run, $ROUNDS rounds"
: >"$tmp/runs"
for round in $(seq "$ROUNDS"); do
	for route in allow-all mutate-pods; do
		expect='"allowed":true'
		[ "$route" = mutate-pods ] && expect='"patch":"'
		r=$(run "$route" "$expect")
		echo "  round $round $route, saturated: $r"
		echo "{\"route\":\"$route\",\"mode\":\"saturated\",\"run\":$r}" >>"$tmp/runs"
		r=$(run "$route" "$expect" "$RATE")
		echo "  round $round $route, $RATE/s: $r"
		echo "{\"route\":\"$route\",\"mode\":\"paced\",\"run\":$r}" >>"$tmp/runs"
	done
done

python3 - "$tmp/runs" "$CONNECTIONS" "$THREADS" "$RUN_SECONDS" "$ROUNDS" "$RATE" "$LOAD_BEFORE" >"$OUT" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def agg(route, mode):
    rs = [r["run"] for r in runs if r["route"] == route and r["mode"] == mode]
    best = lambda k, f: f(r[k] for r in rs)
    return {
        "rps": round(sum(r["rps"] for r in rs) / len(rs), 1),
        "errors": sum(r["errors"] for r in rs),
        "server_p50_us": best("server_p50_us", max),
        "server_p99_us": best("server_p99_us", max),
        "server_p999_us": best("server_p999_us", max),
        "client_p50_us": best("p50_us", max),
        "client_p99_us": best("p99_us", max),
        "client_p999_us": best("p999_us", max),
        # Every round, so the spread (other load on the machine) is visible.
        "server_p99_us_by_round": [r["server_p99_us"] for r in rs],
        "client_p99_us_by_round": [r["p99_us"] for r in rs],
    }
def ratio(a, b):
    return round(a / b, 3) if b else None
floor, mutate = agg("allow-all", "saturated"), agg("mutate-pods", "saturated")
pfloor, pmutate = agg("allow-all", "paced"), agg("mutate-pods", "paced")
result = {
    "setup": {"connections": int(sys.argv[2]), "server_threads": int(sys.argv[3]),
              "seconds_per_run": int(sys.argv[4]), "rounds": int(sys.argv[5]),
              "paced_rate_per_s": int(sys.argv[6]), "cpus": 2,
              "loadavg_before": sys.argv[7],
              "note": "saturated: closed loop, throughput; paced: fixed rate below saturation, latency. "
                      "Quantiles are the worst round's; server-side ones are interpolated from the "
                      "histogram buckets. The load generator shares the 2 CPUs with the server."},
    "saturated": {"allow_all": floor, "mutate_pods": mutate},
    "paced": {"allow_all": pfloor, "mutate_pods": pmutate},
    "ratios": {
        "mutate_rps_vs_allow_all": ratio(mutate["rps"], floor["rps"]),
        "paced_mutate_server_p50_vs_allow_all": ratio(pmutate["server_p50_us"], pfloor["server_p50_us"]),
        "paced_mutate_server_p99_vs_allow_all": ratio(pmutate["server_p99_us"], pfloor["server_p99_us"]),
        "paced_mutate_client_p99_vs_allow_all": ratio(pmutate["client_p99_us"], pfloor["client_p99_us"]),
    },
}
print(json.dumps(result, indent=2))
PY
cat "$OUT"
jq -e '[.saturated[], .paced[]] | all(.errors == 0)' "$OUT" >/dev/null || {
	echo "bench-webhook: some reviews failed" >&2
	exit 1
}
