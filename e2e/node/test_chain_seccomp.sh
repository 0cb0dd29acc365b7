#!/usr/bin/env bash
# The seccomp chain on a real node (the stand-in's version is e2e/test_chain_seccomp.sh):
# `kubectl apply` of a BulwarkPolicy → the controller pushes the compiled profile → the agent
# pod writes it under the kubelet's seccomp root (/var/lib/kubelet/seccomp/bulwark/<sha256>.json,
# its hostPath) → the webhook names it as the pod's Localhost profile → kubelet hands it to
# containerd, which loads it into runc's container → the denied calls fail with EPERM, the rest
# work, for the container and for a `kubectl exec` into it. A pod no policy selects runs the
# same calls. The probe is Debian's python3 (ctypes), the calls made directly.
# shellcheck source-path=SCRIPTDIR source=bulwark.sh
source "$(dirname "$0")/bulwark.sh"

check() { tap_check "$@" || true; }

bulwark_install
node_namespace chain-seccomp
ns=$TEST_NS

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: no-escape}
spec:
  podSelector: {matchLabels: {app: locked}}
  seccomp:
    deny:
      - {syscalls: [mkdir, mkdirat, unshare, ptrace], action: Errno, errno: EPERM}
EOF
profiles() { node_exec "$NODE" sh -c 'ls /var/lib/kubelet/seccomp/bulwark/ 2>/dev/null' | grep -c '\.json$'; }
some_profile() { [ "$(profiles)" -ge 1 ]; }
wait_for "$T" some_profile || fail "the agent never wrote a profile under /var/lib/kubelet/seccomp/bulwark"

work=$(mktemp -d /tmp/bulwark-node-seccomp.XXXXXX)
on_exit "rm -rf '$work'"
for p in locked plain; do
	cat >"$work/$p.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $p, labels: {app: $p}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: $PYTHON_IMAGE, command: [sleep, infinity]}]
EOF
done
mutated() {
	kubectl -n "$ns" create --dry-run=server -f "$work/locked.yaml" -o json |
		jq -e '.spec.securityContext.seccompProfile.type == "Localhost"' >/dev/null
}
wait_for "$T" mutated || fail "the webhook never mutated pod locked"
for p in locked plain; do
	kubectl -n "$ns" apply -f "$work/$p.yaml" >/dev/null || fail "pod $p refused"
done
for p in locked plain; do pod_wait "$p" || fail "pod $p never became Ready"; done

# ---- the profile on the node ------------------------------------------------------------------
localhost() { kubectl -n "$ns" get pod "$1" -o jsonpath='{.spec.securityContext.seccompProfile.localhostProfile}'; }
named=$(localhost locked)
check "the webhook named a Localhost profile of ours ($named)" grep -qxE 'bulwark/[0-9a-f]{64}\.json' <<<"$named"
file=/var/lib/kubelet/seccomp/$named
sum=$(node_exec "$NODE" sha256sum "$file" | cut -d' ' -f1) || sum=missing
check "the agent wrote it in the kubelet's seccomp root on $NODE, named by its SHA-256" \
	test "$sum.json" = "${named#bulwark/}"
profile=$(node_exec "$NODE" cat "$file") || profile='{}'
check "the profile allows neither unshare, ptrace nor mkdir; the rest get EPERM" jq -e \
	'.defaultAction == "SCMP_ACT_ERRNO" and (.defaultErrnoRet // 1) == 1
	 and ([.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]]
	      | index("unshare") == null and index("ptrace") == null and index("mkdir") == null
	        and index("write") != null)' <<<"$profile"
check "the pod without a policy has no profile" test -z "$(localhost plain)"
in_pod() { kubectl -n "$ns" exec "$1" -- "${@:2}" 2>&1; }
check "containerd loaded a filter into the container (Seccomp: 2 in /proc/1/status)" \
	grep -qP '^Seccomp:\t2' <<<"$(in_pod locked cat /proc/1/status)"

# ---- the calls --------------------------------------------------------------------------------
# probe: each call made with ctypes; prints "NAME: ok" or "NAME: <strerror>".
probe='
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
calls = {
    "mkdir": lambda: libc.mkdir(b"/tmp/probe-dir", 0o700),
    "unshare": lambda: libc.unshare(0x10000000),
    "ptrace": lambda: libc.ptrace(0, 0, None, None),
    "write": lambda: libc.write(1, b"", 0),
}
for name in sys.argv[1:]:
    r = calls[name]()
    print(name + ": " + ("ok" if r >= 0 else os.strerror(ctypes.get_errno())))
'
eperm="Operation not permitted"
says() { # says POD REGEX CALL...
	local out
	out=$(in_pod "$1" python3 -c "$probe" "${@:3}")
	grep -qE "$2" <<<"$out" || {
		printf '%s printed:\n%s\n' "$1" "$out"
		return 1
	}
}
check "locked: mkdir gets EPERM" says locked "^mkdir: $eperm\$" mkdir
check "locked: unshare(CLONE_NEWUSER) gets EPERM" says locked "^unshare: $eperm\$" unshare
check "locked: ptrace gets EPERM" says locked "^ptrace: $eperm\$" ptrace
check "locked: ordinary calls work (write)" says locked "^write: ok\$" write
check "locked: the shell's mkdir fails too" grep -q "$eperm" <<<"$(in_pod locked mkdir /tmp/x)"
check "no policy: mkdir succeeds" says plain "^mkdir: ok\$" mkdir
check "no policy: unshare(CLONE_NEWUSER) succeeds" says plain "^unshare: ok\$" unshare
check "no policy: ptrace succeeds" says plain "^ptrace: ok\$" ptrace
tap_done
