#!/usr/bin/env bash
# Builds tests/seccomp-reference (the upstream RuntimeDefault reference, see main.go) from the
# module go.mod pins, with the machine's Go and the Go module proxy like the local control
# plane (mk/gobuild.sh), into build/seccomp-reference/seccomp-reference under the repository
# root whatever $BUILD is. Rebuilt only when go.mod, go.sum, main.go or the Go version change.
#
#   tests/seccomp-reference/build.sh        build if out of date; print the binary's path
#   tests/seccomp-reference/build.sh json   build if out of date; print its JSON, cached as
#                                           build/seccomp-reference/reference.json
#
# Progress goes to stderr, so stdout is only the path or the JSON.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT_DIR=${SECCOMP_REFERENCE_DIR:-$ROOT/build/seccomp-reference}
GOBUILD_PREFIX=seccomp-reference
# shellcheck source-path=SCRIPTDIR source=../../mk/gobuild.sh
source "$ROOT/mk/gobuild.sh"

case ${1:-path} in
path | json) ;;
*) gobuild_die "unknown command '$1' (path, json)" ;;
esac

gobuild_lock "$OUT_DIR"
gobuild_one seccomp-reference "$OUT_DIR" "$HERE" . "-s -w" "$HERE/main.go" >&2
bin=$OUT_DIR/seccomp-reference
if [ "${1:-path}" = path ]; then
	printf '%s\n' "$bin"
	exit 0
fi
# The JSON depends on the binary and on the running kernel (upstream's minKernel conditions).
json=$OUT_DIR/reference.json
want="$(cat "$OUT_DIR/seccomp-reference.stamp") $(uname -r)"
if [ ! -s "$json" ] || [ "$(cat "$json.stamp" 2>/dev/null)" != "$want" ]; then
	"$bin" >"$json.tmp"
	mv -f "$json.tmp" "$json"
	printf '%s\n' "$want" >"$json.stamp"
fi
cat "$json"
