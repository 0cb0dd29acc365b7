#!/usr/bin/env bash
# The seccomp chain, as a user sees it: `kubectl apply` of a BulwarkPolicy → the controller
# pushes the compiled profile to the node → the real agent writes it under the kubelet's
# seccomp directory, named by the SHA-256 of its bytes → the webhook names that profile in
# the pod → the runtime (runc, through the node harness) installs the filter → inside the
# container the denied calls fail with EPERM and everything else works. A pod no policy
# selects runs the same commands successfully, so the refusals are the policy's doing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=stack.sh
source "$(dirname "$0")/stack.sh"

check() { tap_check "$@" || true; }

# The probe image: busybox plus a static syscall-probe for the calls busybox has no applet for.
image=$(mktemp -d /tmp/bulwark-probe-image.XXXXXX)
on_exit "rm -rf '$image'"
chmod 755 "$image"
mkdir -p "$image/usr/local/bin"
chmod -R 755 "$image/usr"
cc -static -O2 -o "$image/usr/local/bin/syscall-probe" "$BULWARK_ROOT/e2e/chain/syscall_probe.c" ||
	fail "cannot build the static syscall probe"
HARNESS_IMAGES="probe=$image"

stack_start chain-seccomp
ns=$TEST_NS

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply the policies"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: no-escape}
spec:
  podSelector: {matchLabels: {app: locked}}
  seccomp:
    deny:
      - {syscalls: [mkdir, mkdirat, unshare, ptrace], action: Errno, errno: EPERM}
---
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: runtime-default}
spec:
  podSelector: {matchLabels: {app: rd}}
  seccomp: {base: RuntimeDefault}
EOF
# Profiles reach every node as soon as a policy exists, before any pod names them.
profiles() { find "$PROFILE_DIR" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }
two_profiles() { [ "$(profiles)" -ge 2 ]; }
wait_for 30 two_profiles ||
	fail "the agent never wrote the two profiles: $(ls -la "$PROFILE_DIR" 2>&1; tail -n 5 "$AGENT_LOG")"

for p in locked rd plain; do
	cat >"$STACK_DIR/$p.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $p, labels: {app: $p}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: probe, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.2; done"]}]
EOF
done
# Admission composes the policies in the webhook's cache: wait until server-side dry runs come
# back with a Localhost profile, so the real creates do too.
mutated() {
	kubectl -n "$ns" create --dry-run=server -f "$STACK_DIR/$1.yaml" -o json |
		jq -e '.spec.securityContext.seccompProfile.type == "Localhost"' >/dev/null
}
for p in locked rd; do
	wait_for 15 mutated "$p" || fail "the webhook never mutated pod $p"
done
for p in locked rd plain; do
	kubectl -n "$ns" apply -f "$STACK_DIR/$p.yaml" >/dev/null || fail "pod $p refused"
done
for p in locked rd plain; do
	stack_pod_wait "$p" || fail "pod $p never ran"
done

# ---- the profile on the node ------------------------------------------------------------------
localhost() { kubectl -n "$ns" get pod "$1" -o jsonpath='{.spec.containers[0].securityContext.seccompProfile.localhostProfile}'; }
named=$(localhost locked)
file=$HARNESS_KUBELET_ROOT/seccomp/$named
check "the webhook named a Localhost profile of ours ($named)" grep -qxE 'bulwark/[0-9a-f]{64}\.json' <<<"$named"
check "the agent wrote that profile on the node" test -s "$file"
check "its name is the SHA-256 of its bytes" test "$(sha256sum <"$file" | cut -d' ' -f1).json" = "${named#bulwark/}"
# An allow-list on the RuntimeDefault base: the denied calls are left out, so they get the
# default action, EPERM.
check "the profile allows neither unshare, ptrace nor mkdir; the rest get EPERM" jq -e \
	'.defaultAction == "SCMP_ACT_ERRNO" and (.defaultErrnoRet // 1) == 1
	 and ([.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]]
	      | index("unshare") == null and index("ptrace") == null and index("mkdir") == null
	        and index("mkdirat") == null and index("write") != null)' "$file"
check "the pod without a policy has no profile" test -z "$(localhost plain)"
pid=$(harness_record "$ns/locked" | jq -r '.containers[0].pid')
check "the container's process runs under a seccomp filter" grep -qP '^Seccomp:\t2' "/proc/$pid/status"

# ---- inside the containers --------------------------------------------------------------------
run() { harness_exec "$ns/$1" -- sh -c "$2" 2>&1; }
# says POD CMD REGEX: CMD's output in POD matches REGEX.
says() {
	local out
	out=$(run "$1" "$2")
	grep -qE "$3" <<<"$out" || {
		printf '%s in %s printed:\n%s\n' "$2" "$1" "$out"
		return 1
	}
}
eperm="Operation not permitted"
check "locked: mkdir fails with EPERM" says locked "mkdir /tmp/d" "can't create directory.*$eperm"
check "locked: unshare -U fails with EPERM" says locked "unshare -U true" "unshare.*$eperm"
check "locked: ptrace fails with EPERM" says locked "syscall-probe ptrace" "^ptrace: $eperm\$"
check "locked: ordinary work succeeds (write, read, list, process)" says locked \
	"echo data >/tmp/f && cat /tmp/f && ls / >/dev/null && sh -c 'exit 0' && echo done" "^data\$"
check "no policy: the same mkdir, unshare -U and ptrace succeed" says plain \
	"mkdir /tmp/d && unshare -U true && syscall-probe ptrace" "^ptrace: ok\$"
check "RuntimeDefault: unshare fails with EPERM" says rd "unshare -U true" "unshare.*$eperm"
check "RuntimeDefault: ordinary I/O works (mkdir, write, read)" says rd \
	"mkdir /tmp/d && echo data >/tmp/d/f && cat /tmp/d/f" "^data\$"
check "RuntimeDefault: ptrace is not allowed either" says rd "syscall-probe ptrace" "^ptrace: $eperm\$"
tap_done
