#!/usr/bin/env bash
# lib/kube against the real apiserver: a paged LIST and a WATCH of 1,000 ConfigMaps. Every
# object arrives once through the watch with its content, the paged list (500 per page) sees
# all 1,000, and the informer cache at the end holds exactly what the apiserver holds.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-lw
ns=$TEST_NS
events=$(mktemp)
on_exit "rm -f $events $events.err"

start_watch "$events" configmaps "$ns"
probe create-configmaps "$ns" 1000 200 >/dev/null || fail "creating 1000 ConfigMaps failed"
wait_for 60 bash -c "[ \$(grep -c '\"ev\":\"ADDED\"' '$events') -ge 1000 ]" ||
	fail "only $(count_events "$events" ADDED) ADDED events arrived"

# Each cm-I arrived exactly once, with data.v = value-I.
check_added() {
	jq -rs '[.[] | select(.ev == "ADDED")] as $a
		| ($a | length) as $n
		| ($a | map(.name) | unique | length) as $u
		| ($a | map(select(.v != ("value-" + (.name | ltrimstr("cm-"))))) | length) as $bad
		| if $n == 1000 and $u == 1000 and $bad == 0 then "ok"
		  else "added=\($n) unique=\($u) wrong-content=\($bad)" end' "$events" | grep -x ok
}
tap_check "1000 ADDED events, each name once, each with its content" check_added

check_list() {
	probe list configmaps "$ns" | jq -e '.count == 1000 and
		([.items[] | select(.v == ("value-" + (.name | ltrimstr("cm-"))))] | length) == 1000'
}
tap_check "a paged LIST (2 pages) returns all 1000 with their content" check_list

# Changes after the list: deletions and updates reach the cache.
kubectl -n "$ns" delete configmap cm-1 cm-2 cm-3 >/dev/null
probe bump "$ns" cm-4 1 3 >/dev/null
wait_for 30 bash -c "[ \$(grep -c '\"ev\":\"DELETED\"' '$events') -ge 3 ]" || fail "deletions missing"
wait_for 30 grep -q '"name":"cm-4".*"ev":"MODIFIED"\|"ev":"MODIFIED".*"name":"cm-4"' "$events" ||
	fail "no MODIFIED for cm-4"
sleep 1
stop_watch "$events"

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
tap_check "the informer cache equals the apiserver's objects (names and resourceVersions)" check_cache
tap_check "one list, no errors" jq -es 'map(select(.ev == "STATS"))[0] | .lists == 1 and .errors == 0 and .synced' "$events"
tap_done
