#!/usr/bin/env bash
# A generated profile enforced by the real runc: a minimal busybox bundle whose
# linux.seccomp is the profile compiled from a policy that denies mkdir. Inside the
# container `mkdir /tmp/x` must fail with "Operation not permitted" while `echo ok` works;
# the same bundle without the profile must be able to mkdir (so the profile did it).
# Fresh pid/net/ipc/uts/mount namespaces come from `runc spec`; cgroups are runc's, under a
# bulwark-test name, removed by `runc delete`.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
TOOL=$BUILD/e2e/seccomp_profile

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v runc >/dev/null || { echo "SKIP: runc is not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox (busybox-static) is missing"; exit 77; }
[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built (make test-build)"; exit 1; }

work=$(mktemp -d /tmp/bulwark-seccomp-runc.XXXXXX)
state=$work/state
ids=()
cleanup() {
	local id
	for id in "${ids[@]}"; do
		runc --root "$state" delete --force "$id" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh echo mkdir ls unshare true; do
	ln -s busybox "$work/rootfs/bin/$applet"
done

cat >"$work/policy.json" <<'POLICY'
{"deny": [{"syscalls": ["mkdir", "mkdirat"], "action": "Errno", "errno": "EPERM"}]}
POLICY
"$TOOL" compile "$work/policy.json" >"$work/compiled.json" || fail "compile failed"
# Through the agent's profile store, as on a node: the file's SHA-256 is its name.
kubelet_seccomp=$work/kubelet/seccomp
mkdir -p "$work/kubelet" # the kubelet root exists on a node; its seccomp/ may not
name=$("$TOOL" store "$kubelet_seccomp" "$work/compiled.json") || fail "store failed"
profile=$kubelet_seccomp/$name
[ "$(stat -c %a "$profile")" = 644 ] || fail "$name is not mode 0644"
[ "bulwark/$(sha256sum <"$profile" | cut -d' ' -f1).json" = "$name" ] ||
	fail "sha256 of $name does not match its name"

(cd "$work" && runc spec) || fail "runc spec failed"
base=$work/config.base.json
mv "$work/config.json" "$base"

# run_bundle ID SECCOMP_JSON_OR_null [SCRIPT [CAP]]: prints the container's output. CAP is added
# to every capability set (so a refusal can only come from seccomp).
run_bundle() {
	local id=$1 seccomp=$2 bundle=$work/$1
	local script=${3:-'echo ok; mkdir /tmp/x; echo mkdir=$?'} cap=${4:-CAP_CHOWN}
	mkdir -p "$bundle"
	jq --argjson seccomp "$seccomp" --arg cg "/bulwark-test-$id" --arg root "$work/rootfs" \
		--arg script "$script" --arg cap "$cap" '
		.process.terminal = false
		| .process.args = ["/bin/sh", "-c", $script]
		| .root = {path: $root, readonly: false}
		| .process.capabilities |= with_entries(.value = (.value + [$cap] | unique))
		| .linux.cgroupsPath = $cg
		| if $seccomp == null then del(.linux.seccomp) else .linux.seccomp = $seccomp end
	' "$base" >"$bundle/config.json" || fail "jq failed"
	ids+=("$id")
	timeout 60 runc --root "$state" run --bundle "$bundle" "$id" </dev/null 2>&1
	runc --root "$state" delete --force "$id" >/dev/null 2>&1
}

id=bulwark-seccomp-$$
out=$(run_bundle "$id" "$(cat "$profile")")
echo "with profile: $out"
grep -qx ok <<<"$out" || fail "echo ok did not work under the profile"
grep -q "Operation not permitted" <<<"$out" || fail "mkdir was not refused with EPERM"
grep -qx "mkdir=1" <<<"$out" || fail "mkdir did not fail"

rm -rf "$work/rootfs/tmp/x"
out=$(run_bundle "$id-control" null)
echo "without profile: $out"
grep -qx "mkdir=0" <<<"$out" || fail "the control container could not mkdir: the test proves nothing"

# base RuntimeDefault alone, in runc: new namespaces are refused even with CAP_SYS_ADMIN (our
# RuntimeDefault is the one for the default capability set), ordinary work is not.
echo '{}' >"$work/rd.json"
"$TOOL" compile "$work/rd.json" >"$work/rd.profile.json" || fail "compile RuntimeDefault failed"
out=$(run_bundle "$id-rd" "$(cat "$work/rd.profile.json")" \
	'echo ok; unshare -u true; echo unshare=$?; mkdir /tmp/y; echo mkdir=$?' CAP_SYS_ADMIN)
echo "RuntimeDefault: $out"
grep -qx ok <<<"$out" || fail "echo ok did not work under RuntimeDefault"
grep -qx "unshare=1" <<<"$out" || fail "unshare was not refused under RuntimeDefault"
grep -qx "mkdir=0" <<<"$out" || fail "mkdir was refused under RuntimeDefault"
out=$(run_bundle "$id-rd-control" null 'unshare -u true; echo unshare=$?' CAP_SYS_ADMIN)
grep -qx "unshare=0" <<<"$out" || fail "the control container could not unshare: the test proves nothing"

# runc delete removed the cgroups it made for us
for d in /sys/fs/cgroup/*/bulwark-test-"$id"* /sys/fs/cgroup/unified/bulwark-test-"$id"*; do
	[ -e "$d" ] && fail "cgroup $d left behind"
done
echo "PASS"
