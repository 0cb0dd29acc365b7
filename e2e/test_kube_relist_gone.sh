#!/usr/bin/env bash
# 410 Gone forces a relist, and the relist leaves a consistent cache. The watcher is frozen
# (SIGSTOP) while its resourceVersion is made unusable: other writes advance etcd's revision,
# etcd is compacted past it, and the apiserver restarts with a fresh watch cache; meanwhile
# ConfigMaps are deleted, changed and created. On resuming, the watch from the old
# resourceVersion gets 410; the reflector relists, and the cache then equals the apiserver's
# state, deletions included.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-gone
ns=$TEST_NS
events=$(mktemp)
on_exit "rm -f $events $events.err"

probe create-configmaps "$ns" 20 >/dev/null || fail "creating ConfigMaps failed"
start_watch "$events" configmaps "$ns"
on_exit "kill -CONT $WATCH_PID 2>/dev/null"
kill -STOP "$WATCH_PID"

for i in 1 2 3 4 5; do
	kubectl -n "$ns" create secret generic "filler-$i" --from-literal=a=b >/dev/null
done
"$BULWARK_ROOT/e2e/cluster/cluster.sh" compact-etcd >/dev/null || fail "compact-etcd failed"
"$BULWARK_ROOT/e2e/cluster/cluster.sh" restart-apiserver >/dev/null || fail "restart-apiserver failed"
kubectl -n "$ns" delete configmap cm-3 cm-7 >/dev/null
probe bump "$ns" cm-4 1 2 >/dev/null
probe bump "$ns" fresh 1 1 >/dev/null
"$BULWARK_ROOT/e2e/cluster/cluster.sh" compact-etcd >/dev/null || fail "compact-etcd failed"

kill -CONT "$WATCH_PID"
wait_for 60 bash -c "[ \$(grep -c '\"ev\":\"RELIST\"' '$events') -ge 2 ]" ||
	fail "no relist after 410: $(tail -n 3 "$events.err")"
sleep 1
stop_watch "$events"

tap_check "a 410 was seen and answered with a relist" \
	jq -es 'map(select(.ev == "STATS"))[0] | .gone >= 1 and .lists >= 2' "$events"
check_cache() {
	local want got
	want=$(kubectl -n "$ns" get configmaps -o json |
		jq -c '[.items[] | {name: .metadata.name, rv: .metadata.resourceVersion}] | sort_by(.name)')
	got=$(grep '"ev":"CACHE"' "$events" | jq -c '[.items[] | {name, rv}] | sort_by(.name)')
	[ "$want" = "$got" ] || {
		echo "cache and apiserver differ:"
		diff <(jq -r '.[] | "\(.name) \(.rv)"' <<<"$want") <(jq -r '.[] | "\(.name) \(.rv)"' <<<"$got") | sed -n 1,10p
		return 1
	}
}
tap_check "after the relist the cache equals the apiserver (cm-3, cm-7 gone; cm-4 changed; fresh added)" check_cache
tap_check "the changed object has its new content" \
	jq -es 'map(select(.ev == "CACHE"))[0].items | map(select(.name == "cm-4"))[0].n == "2"' "$events"
grep '"ev":"STATS"' "$events" | sed 's/^/# /'
tap_done
