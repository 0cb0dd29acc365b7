#!/usr/bin/env bash
# Builds etcd and kube-apiserver for the local control plane (and, for the real-node tier,
# the node binaries and CoreDNS) from the upstream Go modules pinned
# in e2e/cluster/versions.env. No prebuilt binary is downloaded: the Go module proxy serves
# source, and the machine's Go compiles it.
#
#   e2e/cluster/build.sh          check the pins, then build etcd and kube-apiserver if out of date
#   e2e/cluster/build.sh node     the same, plus what a real node needs (e2e/node/): kubelet,
#                                 kube-scheduler, kube-controller-manager, kube-proxy (one
#                                 `go build`, one stamp), pause (the sandbox image's binary)
#                                 and CoreDNS (its own module, e2e/cluster/coredns)
#   e2e/cluster/build.sh check    only check that apiserver/go.mod and etcd/go.mod match versions.env
#   e2e/cluster/build.sh repin    rewrite both go.mod files (and go.sum) from versions.env
#
# Binaries go to build/k8s/bin under the repository root whatever $BUILD is, because they are
# the same for every build flavour and take minutes to build cold (K8S_BIN_DIR overrides).
# A binary is rebuilt only when its stamp changes: a hash of versions.env, its go.mod/go.sum, the
# Go version and the link flags. Environment: K8S_BIN_DIR, PROGRESS_SECONDS (default 15).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
K8S_BIN_DIR=${K8S_BIN_DIR:-$ROOT/build/k8s/bin}
PROGRESS_SECONDS=${PROGRESS_SECONDS:-15}
# A go.mod "go" line newer than the installed Go must fail, not fetch a toolchain binary.
export GOTOOLCHAIN=local
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi

say() { printf 'build: %s\n' "$*"; }
die() {
	printf 'build: error: %s\n' "$*" >&2
	exit 1
}

# hms SECONDS: "4m03s".
hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

load_versions() {
	# shellcheck source-path=SCRIPTDIR source=versions.env
	source "$HERE/versions.env"
	[[ ${KUBERNETES_VERSION:-} =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
		die "versions.env: KUBERNETES_VERSION='${KUBERNETES_VERSION:-}' is not v1.MINOR.PATCH"
	K8S_MINOR=${BASH_REMATCH[1]}
	# The staging modules (k8s.io/api, ...) are tagged v0.MINOR.PATCH for Kubernetes v1.MINOR.PATCH.
	STAGING_VERSION=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
	[[ ${ETCD_VERSION:-} =~ ^v3\.[0-9]+\.[0-9]+$ ]] ||
		die "versions.env: ETCD_VERSION='${ETCD_VERSION:-}' is not v3.MINOR.PATCH"
	[[ ${COREDNS_VERSION:-} =~ ^v1\.[0-9]+\.[0-9]+$ ]] ||
		die "versions.env: COREDNS_VERSION='${COREDNS_VERSION:-}' is not v1.MINOR.PATCH"
	[[ ${KUBECTL_MINOR:-} =~ ^1\.([0-9]+)$ ]] ||
		die "versions.env: KUBECTL_MINOR='${KUBECTL_MINOR:-}' is not 1.MINOR"
	local skew=$((BASH_REMATCH[1] - K8S_MINOR))
	((skew >= -1 && skew <= 1)) ||
		die "versions.env: kubectl $KUBECTL_MINOR is outside the supported skew (one minor) of Kubernetes $KUBERNETES_VERSION"
}

# check_pins: every mismatch between versions.env and the go.mod files, then one hint.
check_pins() {
	local errs=() json have bad
	json=$(cd "$HERE/apiserver" && go mod edit -json)
	have=$(jq -r '.Require[] | select(.Path == "k8s.io/kubernetes") | .Version' <<<"$json")
	[ "$have" = "$KUBERNETES_VERSION" ] ||
		errs+=("e2e/cluster/apiserver/go.mod requires k8s.io/kubernetes '${have:-nothing}', versions.env pins $KUBERNETES_VERSION")
	bad=$(jq -r --arg v "$STAGING_VERSION" '.Replace[]? | select(.Old.Path | startswith("k8s.io/"))
		| select(.New.Version != $v) | "\(.Old.Path) => \(.New.Path) \(.New.Version // "(local path)")"' <<<"$json")
	[ -z "$bad" ] || errs+=("e2e/cluster/apiserver/go.mod replaces $(wc -l <<<"$bad") staging modules with versions other than $STAGING_VERSION, e.g. $(head -n1 <<<"$bad")")
	jq -e '[.Replace[]? | select(.Old.Path == "k8s.io/api")] | length == 1' <<<"$json" >/dev/null ||
		errs+=("e2e/cluster/apiserver/go.mod does not replace the staging modules (k8s.io/api => k8s.io/api $STAGING_VERSION, ...)")
	json=$(cd "$HERE/etcd" && go mod edit -json)
	have=$(jq -r '.Require[] | select(.Path == "go.etcd.io/etcd/server/v3") | .Version' <<<"$json")
	[ "$have" = "$ETCD_VERSION" ] ||
		errs+=("e2e/cluster/etcd/go.mod requires go.etcd.io/etcd/server/v3 '${have:-nothing}', versions.env pins $ETCD_VERSION")
	json=$(cd "$HERE/coredns" && go mod edit -json)
	have=$(jq -r '.Require[] | select(.Path == "github.com/coredns/coredns") | .Version' <<<"$json")
	[ "$have" = "$COREDNS_VERSION" ] ||
		errs+=("e2e/cluster/coredns/go.mod requires github.com/coredns/coredns '${have:-nothing}', versions.env pins $COREDNS_VERSION")
	if ((${#errs[@]})); then
		printf 'build: error: %s\n' "${errs[@]}" >&2
		printf 'build: versions.env is the source of truth; run "e2e/cluster/cluster.sh repin" to rewrite the go.mod files from it\n' >&2
		exit 1
	fi
}

# repin: rewrites both go.mod files from versions.env. The list of staging modules comes from
# the pinned k8s.io/kubernetes go.mod itself (its "=> ./staging/src/..." replaces), so a new
# Kubernetes minor that adds a staging module needs no edit here.
repin() {
	local gomod staging args=() m
	cd "$HERE/apiserver"
	gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .GoMod)
	staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$gomod")
	[ -n "$staging" ] || die "found no staging modules in $gomod"
	args=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
	for m in $(go mod edit -json | jq -r '.Replace[]?.Old.Path'); do
		args+=(-dropreplace="$m")
	done
	go mod edit "${args[@]}"
	# One commented block rather than go mod edit -replace's one directive per module.
	{
		printf '\n// k8s.io/kubernetes requires its staging modules at v0.0.0; point each at its published tag.\nreplace (\n'
		for m in $staging; do
			printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"
		done
		printf ')\n'
	} >>go.mod
	go mod edit -fmt
	say "apiserver: k8s.io/kubernetes $KUBERNETES_VERSION, $(wc -w <<<"$staging") staging modules at $STAGING_VERSION; go mod tidy"
	go mod tidy
	cd "$HERE/etcd"
	go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
	say "etcd: go.etcd.io/etcd/server/v3 $ETCD_VERSION; go mod tidy"
	go mod tidy
	cd "$HERE/coredns"
	go mod edit -require="github.com/coredns/coredns@$COREDNS_VERSION"
	say "coredns: github.com/coredns/coredns $COREDNS_VERSION; go mod tidy"
	go mod tidy
	check_pins
	say "go.mod files now match versions.env (review with git diff e2e/cluster)"
}

# The version kube-apiserver and its client-go report: without these -X flags a module build
# says v0.0.0-master, and kubectl would warn about version skew. The build date is the tag's
# date from the module proxy, so two builds of one pin are byte-identical.
apiserver_ldflags() {
	local date pkg flags="-s -w"
	date=$(cd "$HERE/apiserver" && go list -m -json k8s.io/kubernetes | jq -r '.Time // empty')
	[ -n "$date" ] || die "cannot read the release date of k8s.io/kubernetes $KUBERNETES_VERSION from the module cache"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	printf '%s' "$flags"
}

BUILD_PID=
BUILD_TMP=
cleanup_build() {
	[ -z "$BUILD_PID" ] || kill "$BUILD_PID" 2>/dev/null || true
	[ -z "$BUILD_TMP" ] || rm -f "$BUILD_TMP"
}

# build_one NAME MODULE_DIR PACKAGE LDFLAGS: builds K8S_BIN_DIR/NAME unless its stamp matches.
build_one() {
	local name=$1 dir=$2 pkg=$3 ldflags=$4
	local out=$K8S_BIN_DIR/$name stamp=$K8S_BIN_DIR/$name.stamp log=$K8S_BIN_DIR/$name.build.log
	local want
	want=$(cat "$HERE/versions.env" "$dir/go.mod" "$dir/go.sum" |
		{
			cat
			printf 'go=%s pkg=%s ldflags=%s\n' "$(go env GOVERSION)" "$pkg" "$ldflags"
		} | sha256sum | cut -d' ' -f1)
	if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		say "$name is up to date ($out)"
		return 0
	fi
	say "building $name from $pkg (a cold build takes minutes; progress every ${PROGRESS_SECONDS}s)"
	BUILD_TMP=$out.tmp.$$
	local start=$SECONDS last=$SECONDS n rc=0
	# -v prints each package as it is compiled (cached ones are not), which is our progress.
	(cd "$dir" && exec go build -v -trimpath -buildvcs=false -ldflags "$ldflags" -o "$BUILD_TMP" "$pkg") \
		>"$log" 2>&1 </dev/null &
	BUILD_PID=$!
	while kill -0 "$BUILD_PID" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= PROGRESS_SECONDS)); then
			last=$SECONDS
			n=$(grep -c '^[a-z]' "$log" || true)
			say "$name: $(hms $((SECONDS - start))) elapsed, $n packages compiled, now at $(tail -n1 "$log")"
		fi
	done
	wait "$BUILD_PID" || rc=$?
	BUILD_PID=
	if ((rc != 0)); then
		tail -n 30 "$log" | sed 's/^/  | /' >&2
		die "go build of $name failed (exit $rc); full log: $log"
	fi
	mv -f "$BUILD_TMP" "$out"
	BUILD_TMP=
	printf '%s\n' "$want" >"$stamp"
	n=$(grep -c '^[a-z]' "$log" || true)
	if ((n == 0)); then
		say "$name built in $(hms $((SECONDS - start))) (warm: every package came from the Go build cache, only linked)"
	else
		say "$name built in $(hms $((SECONDS - start))) ($n packages compiled)"
	fi
}

# build_node_set: kubelet, kube-scheduler, kube-controller-manager and kube-proxy from the
# apiserver's wrapper module (same pin, same go.sum), in one `go build` so they share compiles.
# Their own stamp: the e2e tier, which needs only the apiserver, never waits for them.
NODE_CMDS=(kubelet kube-scheduler kube-controller-manager kube-proxy)
build_node_set() {
	local dir=$HERE/apiserver ldflags want stamp=$K8S_BIN_DIR/node-set.stamp log=$K8S_BIN_DIR/node-set.build.log
	local c pkgs=() missing=0
	ldflags=$(apiserver_ldflags)
	for c in "${NODE_CMDS[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/$c")
		[ -x "$K8S_BIN_DIR/$c" ] || missing=1
	done
	want=$(cat "$HERE/versions.env" "$dir/go.mod" "$dir/go.sum" |
		{
			cat
			printf 'go=%s pkgs=%s ldflags=%s\n' "$(go env GOVERSION)" "${pkgs[*]}" "$ldflags"
		} | sha256sum | cut -d' ' -f1)
	if ((missing == 0)) && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		say "${NODE_CMDS[*]} are up to date ($K8S_BIN_DIR)"
		return 0
	fi
	say "building ${NODE_CMDS[*]} (one go build; a cold build takes many minutes; progress every ${PROGRESS_SECONDS}s)"
	BUILD_TMP=$K8S_BIN_DIR/.node-set.tmp.$$
	rm -rf "$BUILD_TMP"
	mkdir -p "$BUILD_TMP"
	local start=$SECONDS last=$SECONDS n rc=0
	(cd "$dir" && exec go build -v -trimpath -buildvcs=false -ldflags "$ldflags" -o "$BUILD_TMP/" "${pkgs[@]}") \
		>"$log" 2>&1 </dev/null &
	BUILD_PID=$!
	while kill -0 "$BUILD_PID" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= PROGRESS_SECONDS)); then
			last=$SECONDS
			n=$(grep -c '^[a-z]' "$log" || true)
			say "node binaries: $(hms $((SECONDS - start))) elapsed, $n packages compiled, now at $(tail -n1 "$log")"
		fi
	done
	wait "$BUILD_PID" || rc=$?
	BUILD_PID=
	if ((rc != 0)); then
		tail -n 30 "$log" | sed 's/^/  | /' >&2
		die "go build of ${NODE_CMDS[*]} failed (exit $rc); full log: $log"
	fi
	for c in "${NODE_CMDS[@]}"; do
		mv -f "$BUILD_TMP/$c" "$K8S_BIN_DIR/$c"
	done
	rm -rf "$BUILD_TMP"
	BUILD_TMP=
	printf '%s\n' "$want" >"$stamp"
	say "${NODE_CMDS[*]} built in $(hms $((SECONDS - start))) ($(grep -c '^[a-z]' "$log" || true) packages compiled)"
}

# build_pause: the sandbox ("pause") container's binary, from its C source in the pinned
# k8s.io/kubernetes module (build/pause/linux/pause.c), static so its image needs nothing else.
build_pause() {
	local src out=$K8S_BIN_DIR/pause want
	src=$(cd "$HERE/apiserver" && go list -m -json k8s.io/kubernetes | jq -r '.Dir // empty')/build/pause/linux/pause.c
	[ -r "$src" ] || die "no $src (is k8s.io/kubernetes $KUBERNETES_VERSION in the module cache? go mod download)"
	want=$(sha256sum "$src" | cut -d' ' -f1)
	if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then
		say "pause is up to date ($out)"
		return 0
	fi
	# VERSION is what `pause -v` prints; the upstream Makefile passes it the same way.
	${CC:-cc} -Os -Wall -Werror -static -DVERSION="$KUBERNETES_VERSION" -o "$out.tmp" "$src" ||
		die "compiling $src failed"
	strip "$out.tmp"
	mv -f "$out.tmp" "$out"
	printf '%s\n' "$want" >"$out.stamp"
	say "pause built ($(stat -c %s "$out") bytes)"
}

build_all() {
	mkdir -p "$K8S_BIN_DIR"
	# Several clusters (other CLUSTER_DIRs) may start at once; one builds, the others wait.
	exec {lock}>"$K8S_BIN_DIR/.build.lock"
	if ! flock -n "$lock"; then
		say "another build holds $K8S_BIN_DIR/.build.lock; waiting for it"
		flock "$lock"
	fi
	trap cleanup_build EXIT
	local start=$SECONDS
	build_one etcd "$HERE/etcd" go.etcd.io/etcd/server/v3 "-s -w"
	build_one kube-apiserver "$HERE/apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$(apiserver_ldflags)"
	if [ "${1:-}" = node ]; then
		build_node_set
		build_pause
		build_one coredns "$HERE/coredns" github.com/coredns/coredns "-s -w"
	fi
	say "done in $(hms $((SECONDS - start))): $("$K8S_BIN_DIR/kube-apiserver" --version), etcd $("$K8S_BIN_DIR/etcd" --version | sed -n 's/^etcd Version: //p')"
}

command -v go >/dev/null || die "Go is required to build the control plane (see mk/deps.sh)"
command -v jq >/dev/null || die "jq is required (see mk/deps.sh)"
load_versions
case ${1:-build} in
build)
	check_pins
	build_all
	;;
node)
	check_pins
	build_all node
	;;
check) check_pins && say "go.mod files match versions.env (Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION)" ;;
repin) repin ;;
*) die "unknown command '$1' (build, node, check, repin)" ;;
esac
