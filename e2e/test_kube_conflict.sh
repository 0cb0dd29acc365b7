#!/usr/bin/env bash
# Optimistic concurrency: three processes increment one counter 30 times each by
# read-modify-write (kube_get + kube_update carrying the resourceVersion). Updates that race
# get 409 Conflict (-ESTALE), and the caller re-reads and retries; the final value is exactly
# 90 only if no increment was lost and none was applied twice.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-conflict
ns=$TEST_NS
dir=$(mktemp -d)
on_exit "rm -rf $dir"

probe bump "$ns" counter 0 0 >/dev/null || fail "cannot create the counter"
pids=()
for i in 1 2 3; do
	probe increment "$ns" counter 30 >"$dir/$i" 2>"$dir/$i.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "an incrementer failed: $(cat "$dir"/*.err)"
done
final=$(kubectl -n "$ns" get configmap counter -o jsonpath='{.data.n}')
tap_check "final counter is 90 (got $final)" test "$final" = 90
conflicts=$(cat "$dir"/1 "$dir"/2 "$dir"/3 | jq -s 'map(.conflicts) | add')
echo "# $conflicts conflicts retried"
tap_check "409 Conflicts happened and were retried ($conflicts)" test "$conflicts" -gt 0
tap_done
