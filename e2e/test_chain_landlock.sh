#!/usr/bin/env bash
# The Landlock chain, as a user sees it: `kubectl apply` of a BulwarkPolicy → the webhook
# puts the compiled ruleset on the pod, adds the launcher's init container and wraps the
# command → the node runs it (bulwark-launch restricts itself, then execs the application) →
# the application cannot write /etc or bind a port the policy does not grant, can write /tmp,
# and serves on its own port, which the host reaches.
#
# Landlock restricts the container's own process tree (an exec'd process does not go through
# the launcher), so the application's command makes the attempts and the test reads its log.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=stack.sh
source "$(dirname "$0")/stack.sh"

check() { tap_check "$@" || true; }
not() { ! "$@"; }
# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the kernel's ABI, or -1.
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
[ "$abi" -ge 4 ] || skip "Landlock ABI $abi: TCP port rules need ABI 4"

stack_start chain-landlock
ns=$TEST_NS

kubectl -n "$ns" apply -f - >/dev/null <<'EOF' || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web-fs}
spec:
  podSelector: {matchLabels: {app: web}}
  landlock:
    compatibility: HardRequirement
    filesystem:
      # the busybox image: a static busybox, no /lib (HardRequirement refuses a missing path)
      - {paths: [/bin, /usr, /etc, /proc, /dev, /bulwark], access: [execute, read_file, read_dir]}
      - {paths: [/dev/null], access: [read_file, write_file]}
      - {paths: [/tmp], access: [read_file, write_file, read_dir, make_reg, make_dir, remove_file, truncate]}
    network:
      - {ports: [8080], access: [bind_tcp]}
EOF
cat >"$STACK_DIR/web.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $HARNESS_NODE
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox
      command: [sh, -c]
      args:
        - |
          touch /etc/x 2>&1 | sed 's/^/etc-write: /'
          [ -e /etc/x ] && echo "etc-write: created"
          mkdir -p /tmp/www && echo "served from /tmp/www" >/tmp/www/index.html && echo "tmp-write: ok"
          nc -l -p 9090 >/tmp/nc.out 2>&1 & sleep 1; kill $! 2>/dev/null
          sed 's/^/bind-9090: /' /tmp/nc.out
          echo ready
          exec httpd -f -p 8080 -h /tmp/www
EOF
# Admission composes the policies in the webhook's cache: wait until a server-side dry run of
# the pod comes back mutated, so the real create is too.
mutated() {
	kubectl -n "$ns" create --dry-run=server -f "$STACK_DIR/web.yaml" -o json |
		jq -e '[.spec.initContainers[]?.name] | index("bulwark-launcher") != null' >/dev/null
}
wait_for 15 mutated || fail "the webhook never mutated the pod for the policy"
kubectl -n "$ns" apply -f "$STACK_DIR/web.yaml" >/dev/null || fail "pod web refused"
stack_pod_wait web || fail "pod web never ran"
wait_for 15 bash -c "grep -q ready '$HARNESS_STATE'/state/pods/*/logs/app.log" ||
	fail "the application never got through its checks: $(stack_pod_log web app)"
log=$(stack_pod_log web app)

check "the webhook wrapped the command in bulwark-launch" bash -c \
	"[ \"\$('$KUBECTL' --kubeconfig='$KUBECONFIG' -n $ns get pod web -o jsonpath='{.spec.containers[0].command[0]}')\" = /bulwark/bin/bulwark-launch ]"
check "touch /etc/x: Permission denied" grep -qE '^etc-write: .*/etc/x.*Permission denied' <<<"$log"
check "/etc/x was not created" not grep -q 'etc-write: created' <<<"$log"
check "writing /tmp works" grep -qx 'tmp-write: ok' <<<"$log"
check "binding a port the policy does not grant (9090): Permission denied" \
	grep -qE '^bind-9090: .*Permission denied' <<<"$log"
ip=$(kubectl -n "$ns" get pod web -o jsonpath='{.status.podIP}')
# The host reaches the pod's address; nc as in the network chain test.
serving() { printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 "$ip" 8080 2>&1; }
wait_for 10 bash -c "$(declare -f serving); ip=$ip; serving | grep served >/dev/null" || true
out=$(serving) || true
check "the application binds its own port 8080 and serves the host ($ip:8080)" \
	grep -qx "served from /tmp/www" <<<"$out"
record=$(harness_record "$ns/web") || fail "the harness has no record of $ns/web"
pid=$(jq -r '.containers[] | select(.name == "app") | .pid' <<<"$record")
check "the application is httpd, exec'd by the launcher with no_new_privs" bash -c \
	"tr '\\0' ' ' </proc/$pid/cmdline | grep '^httpd -f -p 8080' >/dev/null && grep -qP '^NoNewPrivs:\\t1' /proc/$pid/status"
tap_done
