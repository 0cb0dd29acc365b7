# shellcheck shell=bash
# For the real-node tests (e2e/node/test_*.sh): source it after `node.sh up`.
#
#   node_exec NAME ARGV...   run ARGV (each word one argument, quoted for the guest's shell)
#                            as root on node NAME; stdin, stdout, stderr, exit status are its
#   node_sh NAME 'LINE'      run one shell command line on node NAME
#   kc ARGS...               the pinned kubectl against the cluster
#   wait_for DESC SECONDS CMD...   poll CMD until it succeeds, or fail naming DESC
#   tap_ok / tap_not_ok / tap_done for TAP output (tests/run.sh counts each case)
#
# Everything comes from $NODE_DIR/env (KUBECONFIG, KUBECTL, NODES, NODE_DIR), which node.sh up
# writes. A slow VM (QEMU TCG) is the norm here: wait for conditions, never for a time.
NODE_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_node_build=${BUILD:-build}
[[ $_node_build == /* ]] || _node_build=$NODE_LIB_ROOT/$_node_build
NODE_ENV=${NODE_DIR:-$_node_build/node}/env
if [ ! -r "$NODE_ENV" ]; then
	echo "no real-node cluster ($NODE_ENV is missing; run e2e/node/node.sh up)" >&2
	exit 1
fi
# shellcheck source=/dev/null
source "$NODE_ENV"

node_exec() {
	local name=$1
	shift
	"$NODE_LIB_ROOT/e2e/vm/vm.sh" exec "$NODE_DIR/vm/$name" "$(printf '%q ' "$@")"
}

node_sh() { "$NODE_LIB_ROOT/e2e/vm/vm.sh" exec "$NODE_DIR/vm/$1" "$2"; }

kc() { "$KUBECTL" --kubeconfig="$KUBECONFIG" "$@"; }

wait_for() {
	local desc=$1 limit=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "# timed out after ${limit}s waiting for: $desc" >&2
			return 1
		fi
		sleep 1
	done
}

TAP_N=0
TAP_FAILED=0
tap_ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}
tap_not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}
# tap_check DESC CMD...: one case, passing when CMD succeeds; CMD's output goes to the log.
tap_check() {
	local desc=$1
	shift
	if "$@"; then tap_ok "$desc"; else tap_not_ok "$desc"; fi
}
tap_done() {
	echo "1..$TAP_N"
	((TAP_FAILED == 0))
}
