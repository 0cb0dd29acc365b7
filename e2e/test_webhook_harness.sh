#!/usr/bin/env bash
# A pod mutated by bulwark-webhook, run for real: the node harness (the kubelet's stand-in, with
# runc) starts the pod the apiserver stored after admission. The init container copies the static
# bulwark-launch from the launcher image into the emptyDir, the downwardAPI volume delivers the
# ruleset annotation, the container's command runs through the launcher, and the kernel enforces
# both: Landlock refuses writes outside /tmp, the Localhost seccomp profile (written where the
# agent would write it, with lib/seccomp's store) refuses mkdir with EPERM.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=harness/harness.sh
source "$(dirname "$0")/harness/harness.sh"
# shellcheck source=webhook/webhook.sh
source "$(dirname "$0")/webhook/webhook.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"
check() { tap_check "$@" || true; }
LAUNCH=$BUILD/bin/bulwark-launch
POLICY_CHECK=$BUILD/e2e/policy_check
SECCOMP_PROFILE=$BUILD/e2e/seccomp_profile
for b in "$LAUNCH" "$POLICY_CHECK" "$SECCOMP_PROFILE"; do
	[ -x "$b" ] || fail "$b is not built (make test-build)"
done
# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the kernel's ABI, or -1.
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
[ "$abi" -ge 1 ] || skip "Landlock is not available in this kernel"

# The launcher image: busybox (for cp) plus the static launcher at the default path.
image_dir=$(mktemp -d /tmp/bulwark-launcher-image.XXXXXX)
# The overlay is copied with its modes: the image root must be traversable by the init
# container's non-root user.
chmod 755 "$image_dir"
on_exit "rm -rf $image_dir"
mkdir -p "$image_dir/usr/local/bin"
cp "$LAUNCH" "$image_dir/usr/local/bin/bulwark-launch"
HARNESS_IMAGES="bulwark=$image_dir"

test_namespace webhook-run
ns=$TEST_NS
harness_start
webhook_start

kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp:
    deny: [{syscalls: [mkdir, mkdirat], action: Errno, errno: EPERM}]
  landlock:
    filesystem:
      - {paths: [/bin, /lib, /usr, /etc, /proc, /dev, /bulwark], access: [execute, read_file, read_dir]}
      - {paths: [/tmp], access: [read_file, write_file, read_dir, make_reg, make_dir, remove_file, truncate]}
EOF
wait_for 15 bash -c "curl -sS --cacert '$WEBHOOK_DIR/ca.crt' '$WEBHOOK_URL/metrics' |
	grep 'bulwark_webhook_policies{state=\"valid\"} 1' >/dev/null" || fail "the webhook never saw the policy"

cat >"$WEBHOOK_DIR/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 2
  containers:
    - name: app
      image: busybox
      command: [sh, -c]
      args:
        - |
          echo hi > /tmp/ok && echo "tmp-write: ok"
          echo x > /etc/bulwark-test 2>/dev/null && echo "etc-write: allowed" || echo "etc-write: denied"
          mkdir /tmp/d 2>&1 | sed 's/^/mkdir: /'
          echo ready
          trap 'exit 0' TERM; while :; do sleep 0.2; done
EOF
# The profile the pod will name, stored where the agent stores profiles on a node.
kubectl -n "$ns" get bwp web -o json >"$WEBHOOK_DIR/policy.json"
kubectl -n "$ns" create --dry-run=client -f "$WEBHOOK_DIR/pod.yaml" -o json |
	jq --arg ns "$ns" '.metadata.namespace = $ns' >"$WEBHOOK_DIR/pod.json"
"$POLICY_CHECK" compile "$WEBHOOK_DIR/pod.json" "$WEBHOOK_DIR/policy.json" |
	jq .seccomp.profile >"$WEBHOOK_DIR/profile.json" || fail "cannot compile the pod's policy"
stored=$("$SECCOMP_PROFILE" store "$HARNESS_KUBELET_ROOT/seccomp" "$WEBHOOK_DIR/profile.json") ||
	fail "cannot store the seccomp profile"

kubectl -n "$ns" apply -f "$WEBHOOK_DIR/pod.yaml" >/dev/null || fail "pod web refused"
check "the stored pod names the stored profile ($stored)" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.spec.containers[0].securityContext.seccompProfile.localhostProfile}')\" = '$stored' ]"

running() {
	[ "$(kubectl -n "$ns" get pod web -o jsonpath='{.status.phase}')" = Running ]
}
if ! wait_for 60 running; then
	kubectl -n "$ns" get pod web -o json | jq -c '.status' >&2
	tail -n 20 "$HARNESS_LOG" >&2
	fail "the mutated pod never ran"
fi
tap_ok "the mutated pod runs: init container copied the launcher, ruleset mounted"

uid=$(kubectl -n "$ns" get pod web -o jsonpath='{.metadata.uid}')
log=$HARNESS_STATE/state/pods/$uid/logs/app.log
wait_for 15 grep -q ready "$log" || {
	cat "$log" >&2
	fail "the container never got to its checks"
}
check "Landlock: writing under /tmp works" grep -qx "tmp-write: ok" "$log"
check "Landlock: writing under /etc is denied" grep -qx "etc-write: denied" "$log"
check "seccomp: mkdir fails with EPERM" grep -q "^mkdir: .*Operation not permitted" "$log"

record=$(harness_record "$ns/web") || fail "the harness has no record of $ns/web"
pid=$(jq -r '.containers[] | select(.name == "app") | .pid' <<<"$record")
check "the container's process has the seccomp filter and no_new_privs" bash -c \
	"grep -qP '^Seccomp:\\t2' /proc/$pid/status && grep -qP '^NoNewPrivs:\\t1' /proc/$pid/status"
check "its command line went through the launcher and exec'd the shell" bash -c \
	"tr '\\0' ' ' </proc/$pid/cmdline | grep '^sh -c' >/dev/null"
check "the ruleset file in the container is the annotation" bash -c \
	"[ \"\$(harness_exec() { '$HARNESS_BIN' --state-dir '$HARNESS_STATE/state' --cgroup-root '$HARNESS_CGROUP_ROOT' exec \"\$@\"; }; harness_exec $ns/web -- cat /bulwark/landlock/ruleset.json)\" = \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.metadata.annotations.bulwark\\.dev/landlock-ruleset}')\" ]"

tap_done
