#!/usr/bin/env bash
# The node harness as the kubelet of a real kube-apiserver: it registers a Ready Node, runs the
# pods bound to it (spec.nodeName; there is no scheduler) with runc, reports their status
# through the status subresource, stops them gracefully on delete and confirms the deletion,
# and gives kubectl exec's stand-in with and without a tty. SIGTERM to the harness tears every
# pod down and marks the Node NotReady.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=harness/harness.sh
source "$(dirname "$0")/harness/harness.sh"

test_namespace harness
ns=$TEST_NS
harness_start "e2e-node-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
node=$HARNESS_NODE

tap_check "node $node is Ready with capacity" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' get node $node -o jsonpath='{.status.allocatable.pods}')\" = 110 ]"

# ---- a running pod -------------------------------------------------------------------------------
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: busybox:1.36
    # PID 1 in its pid namespace ignores SIGTERM unless it traps it, as under a real kubelet.
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hi > /tmp/index.html; httpd -p 8080 -h /tmp; while :; do sleep 0.2; done"]
EOF
running() {
	[ "$(kubectl -n "$ns" get pod "$1" -o jsonpath='{.status.phase}')" = Running ]
}
wait_for 30 running web || fail "pod web never became Running"
tap_ok "pod with spec.nodeName becomes Running"
ip=$(kubectl -n "$ns" get pod web -o jsonpath='{.status.podIP}')
tap_check "podIP and podIPs are reported" bash -c \
	"[ -n '$ip' ] && [ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.status.podIPs[0].ip}')\" = '$ip' ]"
tap_check "containerStatuses: running, ready, containerID" bash -c \
	"'$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o json |
	 jq -e '.status.containerStatuses[0] | .ready and (.state.running.startedAt != null) and (.containerID | startswith(\"containerd://\"))'"
tap_check "Ready condition is True" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
wait_for 10 curl -sf --max-time 2 "http://$ip:8080/index.html" || true
tap_check "the host reaches the pod IP" curl -sf --max-time 5 "http://$ip:8080/index.html"

uid=$(kubectl -n "$ns" get pod web -o jsonpath='{.metadata.uid}')
record=$(harness_record "$ns/web") || fail "the harness has no record of $ns/web"
cid=$(jq -r '.containers[0].id' <<<"$record")
pid=$(jq -r '.containers[0].pid' <<<"$record")
rel=${HARNESS_CGROUP_ROOT#"$(_harness_v2_mount)"}
tap_check "the container's process is in kubepods/besteffort/pod<uid>/<id>" \
	grep -qx "0::$rel/kubepods/besteffort/pod$uid/$cid" "/proc/$pid/cgroup"
tap_check "status containerID names the runc container" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.status.containerStatuses[0].containerID}')\" = containerd://$cid ]"

check_exec() {
	local out
	out=$(harness_exec "$ns/web" -- sh -c 'cat /etc/hostname; exit 4')
	[ $? -eq 4 ] && [ "$out" = web ]
}
tap_check "exec without a tty: output and exit code" check_exec
check_exec_tty() {
	local out rc
	out=$(printf 'tty; exit 5\n' | harness_exec -t -i "$ns/web" -- sh 2>&1)
	rc=$?
	if [ $rc -ne 5 ] || [[ $out != *"/dev/pts/"* ]]; then
		echo "rc=$rc out=$out"
		return 1
	fi
}
tap_check "exec with a tty: a pty, and the exit code" check_exec_tty

# ---- exit codes -----------------------------------------------------------------------------------
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: three}
spec:
  nodeName: $node
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "exit 3"]}
EOF
failed() { [ "$(kubectl -n "$ns" get pod three -o jsonpath='{.status.phase}')" = Failed ]; }
tap_check "a container exiting 3 makes the pod Failed" wait_for 30 failed
tap_check "containerStatuses[0].state.terminated.exitCode is 3" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod three -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')\" = 3 ]"

kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  nodeName: $node
  containers:
  - {name: c, image: example.com/not-here:1.0}
EOF
pull_error() {
	[ "$(kubectl -n "$ns" get pod noimage -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')" = ErrImagePull ]
}
tap_check "an image the node lacks: waiting ErrImagePull" wait_for 30 pull_error

kubectl -n "$ns" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: unbound}
spec:
  containers:
  - {name: c, image: busybox, command: ["sleep", "60"]}
EOF
sleep 1
tap_check "a pod without spec.nodeName is not run" bash -c \
	"[ -z \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod unbound -o jsonpath='{.status.phase}')\" ] ||
	 [ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod unbound -o jsonpath='{.status.phase}')\" = Pending ]"
kubectl -n "$ns" delete pod unbound --wait=false >/dev/null

# ---- deletion -------------------------------------------------------------------------------------
netns=bwpod-$uid
start=$SECONDS
tap_check "kubectl delete returns once the harness confirmed" \
	kubectl -n "$ns" delete pod web --timeout=20s
tap_check "graceful stop: SIGTERM ended the pod before its grace period" bash -c "((SECONDS - $start < 9))"
tap_check "the pod's cgroup is gone" bash -c "! test -e '$HARNESS_CGROUP_ROOT/kubepods/besteffort/pod$uid'"
tap_check "the pod's netns is gone" bash -c "! ip netns list | grep '^$netns' >/dev/null"
tap_check "the runc container is gone" bash -c \
	"! runc --root '$HARNESS_STATE/state/runc' list -q 2>/dev/null | grep -x '$cid' >/dev/null"
tap_check "the pod's record is gone" bash -c "! test -e '$HARNESS_STATE/state/pods/$uid'"

# ---- the harness stops --------------------------------------------------------------------------
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: last}
spec:
  nodeName: $node
  containers:
  - {name: c, image: busybox, command: ["sleep", "600"]}
EOF
wait_for 30 running last || fail "pod last never became Running"
last_uid=$(kubectl -n "$ns" get pod last -o jsonpath='{.metadata.uid}')
kill -TERM "$HARNESS_PID"
wait_for 20 bash -c "! kill -0 $HARNESS_PID 2>/dev/null" || fail "the harness did not exit on SIGTERM"
tap_check "SIGTERM: the harness tore its pods down" bash -c \
	"! ip netns list | grep 'bwpod-$last_uid' >/dev/null && ! test -e '$HARNESS_CGROUP_ROOT'"
tap_check "SIGTERM: the node is NotReady" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' get node $node -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = False ]"

tap_done
