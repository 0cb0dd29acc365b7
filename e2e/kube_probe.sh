# shellcheck shell=bash
# Sourced by e2e/test_kube_*.sh after lib.sh: runs build/e2e/kube-probe (e2e/tools/kube-probe.c)
# against the local control plane, and watches whose output (JSON lines) the tests read.
PROBE=$BUILD/e2e/kube-probe
[ -x "$PROBE" ] || fail "$PROBE is not built (make test-build)"

probe() { "$PROBE" --kubeconfig "$KUBECONFIG" "$@"; }

# start_watch OUT RESOURCE NS: a reflector in the background printing to OUT; its pid in
# WATCH_PID. It is killed at exit if the test has not stopped it.
WATCH_PID=
start_watch() {
	local out=$1
	shift
	"$PROBE" --kubeconfig "$KUBECONFIG" watch "$@" >"$out" 2>"$out.err" &
	WATCH_PID=$!
	on_exit "kill -9 $WATCH_PID 2>/dev/null"
	wait_for 30 grep -q '"ev":"RELIST"' "$out" || fail "the watch never listed: $(cat "$out.err")"
}

# stop_watch: SIGTERM, then waits for the final CACHE and STATS lines.
stop_watch() {
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || fail "kube-probe watch exited with $?: $(tail -n 5 "$1.err")"
}

# count_events OUT TYPE: how many events of TYPE the watch printed.
count_events() { grep -c "\"ev\":\"$2\"" "$1" || true; }
