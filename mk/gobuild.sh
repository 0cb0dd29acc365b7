# Sourced, not run: builds a Go program from a pinned module with the machine's Go and the Go
# module proxy (no toolchain or binary download), and rebuilds it only when its stamp changes.
# Used by e2e/cluster/build.sh (etcd, kube-apiserver) and tests/seccomp-reference/build.sh.
#
#   gobuild_one NAME OUT_DIR MODULE_DIR PACKAGE LDFLAGS [STAMP_FILE...]
#
# builds OUT_DIR/NAME from PACKAGE in MODULE_DIR unless OUT_DIR/NAME.stamp matches a hash of
# MODULE_DIR/go.mod, go.sum, the STAMP_FILEs, the Go version, the package and the link flags.
# The build log is OUT_DIR/NAME.build.log; progress is printed every GOBUILD_PROGRESS_SECONDS
# (default 15) as "PREFIX: ..." with GOBUILD_PREFIX (default build). Callers serialise
# concurrent builds of one OUT_DIR with gobuild_lock OUT_DIR.

# A go.mod "go" line newer than the installed Go must fail, not fetch a toolchain binary.
export GOTOOLCHAIN=local
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi

gobuild_say() { printf '%s: %s\n' "${GOBUILD_PREFIX:-build}" "$*"; }
gobuild_die() {
	printf '%s: error: %s\n' "${GOBUILD_PREFIX:-build}" "$*" >&2
	exit 1
}

# gobuild_hms SECONDS: "4m03s".
gobuild_hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# gobuild_lock OUT_DIR: one build per OUT_DIR at a time; the others wait for it. The lock is
# held until the calling script exits.
gobuild_lock() {
	mkdir -p "$1"
	exec {GOBUILD_LOCK_FD}>"$1/.build.lock"
	if ! flock -n "$GOBUILD_LOCK_FD"; then
		gobuild_say "another build holds $1/.build.lock; waiting for it"
		flock "$GOBUILD_LOCK_FD"
	fi
}

GOBUILD_PID=
GOBUILD_TMP=
gobuild_cleanup() {
	[ -z "$GOBUILD_PID" ] || kill "$GOBUILD_PID" 2>/dev/null || true
	[ -z "$GOBUILD_TMP" ] || rm -f "$GOBUILD_TMP"
}

gobuild_one() {
	local name=$1 out_dir=$2 dir=$3 pkg=$4 ldflags=$5
	shift 5
	command -v go >/dev/null || gobuild_die "Go is required to build $name (see mk/deps.sh)"
	local out=$out_dir/$name stamp=$out_dir/$name.stamp log=$out_dir/$name.build.log
	local want
	want=$(cat "$@" "$dir/go.mod" "$dir/go.sum" |
		{
			cat
			printf 'go=%s pkg=%s ldflags=%s cgo=%s\n' "$(go env GOVERSION)" "$pkg" "$ldflags" "${CGO_ENABLED:-}"
		} | sha256sum | cut -d' ' -f1)
	if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		gobuild_say "$name is up to date ($out)"
		return 0
	fi
	mkdir -p "$out_dir"
	trap gobuild_cleanup EXIT
	local every=${GOBUILD_PROGRESS_SECONDS:-15}
	gobuild_say "building $name from $pkg (progress every ${every}s)"
	GOBUILD_TMP=$out.tmp.$$
	local start=$SECONDS last=$SECONDS n rc=0
	# -v prints each package as it is compiled (cached ones are not), which is our progress.
	(cd "$dir" && exec go build -v -trimpath -buildvcs=false -ldflags "$ldflags" -o "$GOBUILD_TMP" "$pkg") \
		>"$log" 2>&1 </dev/null &
	GOBUILD_PID=$!
	while kill -0 "$GOBUILD_PID" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= every)); then
			last=$SECONDS
			n=$(grep -c '^[a-z]' "$log" || true)
			gobuild_say "$name: $(gobuild_hms $((SECONDS - start))) elapsed, $n packages compiled, now at $(tail -n1 "$log")"
		fi
	done
	wait "$GOBUILD_PID" || rc=$?
	GOBUILD_PID=
	if ((rc != 0)); then
		tail -n 30 "$log" | sed 's/^/  | /' >&2
		gobuild_die "go build of $name failed (exit $rc); full log: $log"
	fi
	mv -f "$GOBUILD_TMP" "$out"
	GOBUILD_TMP=
	printf '%s\n' "$want" >"$stamp"
	n=$(grep -c '^[a-z]' "$log" || true)
	if ((n == 0)); then
		gobuild_say "$name built in $(gobuild_hms $((SECONDS - start))) (warm: every package came from the Go build cache, only linked)"
	else
		gobuild_say "$name built in $(gobuild_hms $((SECONDS - start))) ($n packages compiled)"
	fi
}
