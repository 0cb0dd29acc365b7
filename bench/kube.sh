#!/usr/bin/env bash
# lib/kube throughput and memory, as ratios against baselines measured in the same run:
#   1. watch-stream decoding: kube_watch_stream (framing, validation, event dispatch) on a
#      watch stream fed in 16 KiB chunks, against jansson alone parsing the same lines already
#      split (the floor any C client pays): ratio ~1 means the framing costs nothing.
#      Streams: a synthetic one (OBJECTS ConfigMaps of ~1 KiB) and, when a local control plane
#      is up, one recorded from the real apiserver.
#   2. informer cache memory: heap bytes per cached object against the object's compact JSON
#      size (jansson's tree plus the cache's own tables and indexes).
#   3. end to end, when a local control plane is up (CLUSTER_DIR, default $BUILD/cluster): the
#      reflector's watch delivery rate while 4 writers create ConfigMaps, against the writers'
#      own rate (1.0 = the watch keeps up with the apiserver).
# Writes bench/results/kube.json.  OBJECTS=N (default 20000), E2E_OBJECTS=N (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
PROBE=$BUILD/e2e/kube-probe
OBJECTS=${OBJECTS:-20000}
E2E_OBJECTS=${E2E_OBJECTS:-2000}
CLUSTER_DIR=${CLUSTER_DIR:-$BUILD/cluster}
OUT=bench/results/kube.json
[ -x "$PROBE" ] || { echo "bench-kube: $PROBE is not built (make test-build)" >&2; exit 1; }

tmp=$(mktemp -d)
cleanup() {
	[ -z "${WATCH_PID:-}" ] || kill -9 "$WATCH_PID" 2>/dev/null || true
	if [ -n "${NS_PREFIX:-}" ]; then
		# No controller-manager empties namespaces here: delete the contents, then clear the
		# finalizer, as e2e/lib.sh does for test namespaces.
		local k=("$KUBECTL" --kubeconfig "$KUBECONFIG") ns
		for i in 1 2 3 4; do
			ns=$NS_PREFIX-$i
			"${k[@]}" -n "$ns" delete configmaps --all --wait=false >/dev/null 2>&1 || true
			"${k[@]}" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
			"${k[@]}" get namespace "$ns" -o json 2>/dev/null | jq '.spec.finalizers = []' |
				"${k[@]}" replace --raw "/api/v1/namespaces/$ns/finalize" -f - >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "bench-kube: synthetic stream of $OBJECTS ConfigMaps"
"$PROBE" gen-stream "$OBJECTS" 1000 >"$tmp/synthetic.jsonl"
synthetic=$("$PROBE" parse "$tmp/synthetic.jsonl" 3)

recorded=null e2e=null
if [ -r "$CLUSTER_DIR/env" ]; then
	# shellcheck source=/dev/null
	source "$CLUSTER_DIR/env"
	NS_PREFIX=bench-kube-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	for i in 1 2 3 4; do "$KUBECTL" --kubeconfig "$KUBECONFIG" create namespace "$NS_PREFIX-$i" >/dev/null; done

	echo "bench-kube: end to end, $E2E_OBJECTS ConfigMaps by 4 writers while a reflector watches"
	"$PROBE" --kubeconfig "$KUBECONFIG" watch configmaps "" >"$tmp/watch.out" 2>"$tmp/watch.err" &
	WATCH_PID=$!
	for _ in $(seq 100); do grep -q RELIST "$tmp/watch.out" && break; sleep 0.1; done
	base=$(grep -c "\"ev\":\"ADDED\"" "$tmp/watch.out" || true)
	start=$(now_ms)
	pids=()
	for i in 1 2 3 4; do
		"$PROBE" --kubeconfig "$KUBECONFIG" create-configmaps "$NS_PREFIX-$i" $((E2E_OBJECTS / 4)) 1000 >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	written=$(now_ms)
	want=$((base + E2E_OBJECTS / 4 * 4))
	for _ in $(seq 600); do
		[ "$(grep -c '"ev":"ADDED"' "$tmp/watch.out")" -ge "$want" ] && break
		sleep 0.05
	done
	seen=$(now_ms)
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || true
	WATCH_PID=
	got=$(($(grep -c '"ev":"ADDED"' "$tmp/watch.out") - base))
	n=$((E2E_OBJECTS / 4 * 4))
	e2e=$(jq -n --argjson n "$n" --argjson got "$got" --argjson w $((written - start)) --argjson s $((seen - start)) \
		'{objects: $n, delivered: $got, write_ms: $w, watch_ms: $s,
		  writes_per_sec: ($n * 1000 / $w), watch_events_per_sec: ($got * 1000 / $s),
		  watch_vs_write_ratio: (($got / $s) / ($n / $w))}')

	echo "bench-kube: recording a real watch stream (initial events of $n ConfigMaps)"
	curl -sN --cacert "$KUBE_CA_FILE" --cert "$KUBE_CLIENT_CERT_FILE" --key "$KUBE_CLIENT_KEY_FILE" \
		"$APISERVER_URL/api/v1/configmaps?watch=true&resourceVersion=0&timeoutSeconds=3&allowWatchBookmarks=true" \
		>"$tmp/recorded.jsonl" || true
	recorded=$("$PROBE" parse "$tmp/recorded.jsonl" 5)
fi

jq -n --argjson syn "$synthetic" --argjson rec "$recorded" --argjson e2e "$e2e" '
	def parser($p): if $p == null then null else {
		bytes: $p.bytes, events_decoded: $p.events,
		events_per_sec: ($p.events_per_sec | floor),
		baseline_jansson_lines_per_sec: ($p.baseline_lines_per_sec | floor),
		ratio_vs_jansson_alone: (($p.events_per_sec / $p.baseline_lines_per_sec) * 100 | round / 100),
		cache_objects: $p.cache_objects,
		cache_heap_bytes_per_object: ($p.cache_heap_bytes / $p.cache_objects | floor),
		json_bytes_per_object: ($p.json_bytes / $p.cache_objects | floor),
		cache_bytes_per_json_byte: (($p.cache_heap_bytes / $p.json_bytes) * 100 | round / 100),
		cache_index_bytes_per_object: ($p.cache_index_bytes / $p.cache_objects | floor)} end;
	{synthetic_stream: parser($syn), recorded_stream: parser($rec), end_to_end: $e2e}' | tee "$OUT"
echo "bench-kube: wrote $OUT"
