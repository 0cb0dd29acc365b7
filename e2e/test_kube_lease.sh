#!/usr/bin/env bash
# Leader election on a Lease between real processes: exactly one of two candidates leads; when
# the leader is killed with SIGKILL (no release), the other takes over within the lease
# duration (15 s) plus one retry period with its jitter (2.4 s) of the kill, give or take a request, and never while the first still
# led; a leader stopped cleanly releases the Lease, so the next candidate takes over at once;
# a leader cut off from the apiserver steps down after the renew deadline.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-lease
ns=$TEST_NS
dir=$(mktemp -d)
on_exit "rm -rf $dir"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# candidate NAME: starts one, pid in PIDS[NAME]; events with wall-clock stamps in $dir/NAME.
declare -A PIDS
candidate() {
	"$PROBE" --kubeconfig "$KUBECONFIG" lease "$ns" ctl "$1" 2>"$dir/$1.err" |
		while IFS= read -r line; do printf '%s %s\n' "$(now_ms)" "$line"; done >"$dir/$1" &
	# The pid of kube-probe itself, not of the pipeline's subshell.
	local pid
	wait_for 5 pgrep -f -- "lease $ns ctl $1\$" >/dev/null || fail "candidate $1 did not start"
	pid=$(pgrep -f -- "lease $ns ctl $1\$")
	PIDS[$1]=$pid
	on_exit "kill -9 $pid 2>/dev/null"
}
leading() { grep -q '"ev":"LEADING"' "$dir/$1"; }
lead_ms() { grep '"ev":"LEADING"' "$dir/$1" | tail -n 1 | cut -d' ' -f1; }

candidate a
candidate b
wait_for 30 bash -c "grep -q LEADING '$dir/a' || grep -q LEADING '$dir/b'" || fail "nobody leads"
sleep 4 # several renewals: the other must stay a follower
if leading a && leading b; then
	tap_not_ok "exactly one candidate leads" "$(cat "$dir/a" "$dir/b")"
else
	tap_ok "exactly one candidate leads"
fi
first=a second=b
leading a || { first=b second=a; }
holder=$(kubectl -n "$ns" get lease ctl -o jsonpath='{.spec.holderIdentity}')
tap_check "the Lease names the leader ($first)" test "$holder" = "$first"

killed=$(now_ms)
kill -9 "${PIDS[$first]}"
wait_for 30 leading "$second" || fail "$second never took over"
took=$(($(lead_ms "$second") - killed))
echo "# takeover ${took} ms after SIGKILL of the leader"
tap_check "takeover after SIGKILL within lease duration + retry period (took ${took} ms)" \
	test "$took" -le 18000
tap_check "no overlap: the takeover came after the old leader was killed" test "$took" -gt 0

# A clean stop releases the Lease: the next candidate does not wait for it to expire.
kill -TERM "${PIDS[$second]}"
wait_for 10 grep -q '"ev":"RELEASED"' "$dir/$second" || fail "$second did not release"
tap_check "$second called on_stopped_leading before releasing" grep -q '"ev":"STOPPED"' "$dir/$second"
holder=$(kubectl -n "$ns" get lease ctl -o jsonpath='{.spec.holderIdentity}')
tap_check "the released Lease has no holder" test -z "$holder"
started=$(now_ms)
candidate c
wait_for 10 leading c || fail "c never led"
took=$(($(lead_ms c) - started))
tap_check "a new candidate leads a released Lease at once (took ${took} ms)" test "$took" -le 3000
transitions=$(kubectl -n "$ns" get lease ctl -o jsonpath='{.spec.leaseTransitions}')
tap_check "leaseTransitions counts the handovers ($transitions)" test "${transitions:-0}" -ge 2

# A leader that cannot renew steps down by itself once the renew deadline (10 s) has passed,
# at most one request timeout (2 s) later, and before its 15 s lease could expire for others.
"$BULWARK_ROOT/e2e/cluster/cluster.sh" stop-apiserver >/dev/null || fail "stop-apiserver failed"
on_exit "'$BULWARK_ROOT/e2e/cluster/cluster.sh' start-apiserver >/dev/null 2>&1"
down=$(now_ms)
wait_for 20 grep -q '"ev":"STOPPED"' "$dir/c" || fail "c never stepped down"
gap=$(($(grep '"ev":"STOPPED"' "$dir/c" | sed -n 1p | cut -d' ' -f1) - down))
echo "# stepped down ${gap} ms after the apiserver went away"
tap_check "without renewals the leader steps down within renew deadline + request timeout (${gap} ms)" \
	test "$gap" -le 12500
"$BULWARK_ROOT/e2e/cluster/cluster.sh" start-apiserver >/dev/null || fail "start-apiserver failed"
wait_for 30 bash -c "[ \$(grep -c '\"ev\":\"LEADING\"' '$dir/c') -ge 2 ]" || fail "c did not lead again"
tap_ok "the Lease still names it, so it leads again once the apiserver is back"
tap_done
