#!/usr/bin/env bash
# A watch survives an apiserver restart: the reflector reconnects (with backoff while the
# apiserver is down) and resumes from the last resourceVersion it saw, so a counter written
# 1..40 across the restart is seen exactly once per value, in order, by content. If the
# apiserver answers the resume with 410 the reflector relists instead; the relisted value then
# counts as seen (it must be the next value or the one already seen), so the check still holds.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-resume
ns=$TEST_NS
events=$(mktemp)
on_exit "rm -f $events $events.err"

probe bump "$ns" counter 1 1 >/dev/null || fail "cannot create the counter"
# Short server-side watch timeouts, so normal watch ends and resumes also happen.
PROBE_WATCH_TIMEOUT=5 start_watch "$events" configmaps "$ns"

probe bump "$ns" counter 2 20 >/dev/null || fail "bump 2..20 failed"
wait_for 30 grep -q '"n":"20"' "$events" || fail "value 20 never arrived"

"$BULWARK_ROOT/e2e/cluster/cluster.sh" restart-apiserver >/dev/null || fail "restart-apiserver failed"

# The watch is live again once a change made now arrives.
probe bump "$ns" marker 1 1 >/dev/null || fail "marker write failed"
wait_for 60 grep -q '"name":"marker"' "$events" || fail "the watch did not come back: $(tail -n 3 "$events.err")"
probe bump "$ns" counter 21 40 >/dev/null || fail "bump 21..40 failed"
wait_for 30 grep -q '"n":"40"' "$events" || fail "value 40 never arrived"
sleep 6 # at least one normal watch end (timeoutSeconds=5) and resume after the last write
stop_watch "$events"

# The counter's values in the order seen: from events, and from relists (a relist shows the
# current value; repeating the last one seen is not a duplicate change).
check_sequence() {
	jq -rs '
	  reduce .[] as $l ({seen: [], last: null};
	    if ($l.ev == "ADDED" or $l.ev == "MODIFIED") and $l.name == "counter" then
	      .seen += [$l.n] | .last = $l.n
	    elif $l.ev == "RELIST" then
	      ([$l.items[] | select(.name == "counter") | .n][0]) as $v
	      | if $v != null and $v != .last then .seen += [$v] | .last = $v else . end
	    else . end)
	  | .seen | map(tonumber) as $s
	  | if $s == [range(1; 41)] then "ok"
	    else "seen \($s | length) values: \($s | map(tostring) | join(","))" end' "$events" | grep -x ok
}
tap_check "counter values 1..40 each seen exactly once, in order, across the restart" check_sequence
tap_check "the watch was re-opened (restart and timeouts), no event skipped as malformed" \
	jq -es 'map(select(.ev == "STATS"))[0] | .watches >= 3 and .skipped == 0' "$events"
grep '"ev":"STATS"' "$events" | sed 's/^/# /'
tap_done
