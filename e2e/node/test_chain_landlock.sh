#!/usr/bin/env bash
# The Landlock chain on a real node (the stand-in's version is e2e/test_chain_landlock.sh):
# `kubectl apply` of a BulwarkPolicy → the webhook puts the compiled ruleset on the pod, adds
# the init container that copies bulwark-launch out of the launcher image (the image
# `make images` built, named by the overlay) and wraps the command → kubelet runs the init
# container, then the application through the launcher, which restricts itself on the node's
# kernel (Debian's, Landlock ABI 6) and execs it → the application cannot write /etc or bind a
# port the policy does not grant, can write /tmp, and serves on its own port to another pod.
# shellcheck source-path=SCRIPTDIR source=bulwark.sh
source "$(dirname "$0")/bulwark.sh"

check() { tap_check "$@" || true; }
not() { ! "$@"; }

bulwark_install
abi=$(agent_get "$NODE" /healthz | jq -r '.features.landlock.abi') || abi=0
printf '# Landlock ABI on %s: %s\n' "$NODE" "$abi"
[ "$abi" -ge 4 ] || skip "Landlock ABI $abi on $NODE: TCP port rules need ABI 4"
node_namespace chain-landlock
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
      # the busybox image: /bin is a symlink to usr/bin, a static busybox, no libraries
      - {paths: [/usr, /etc, /proc, /dev, /bulwark], access: [execute, read_file, read_dir]}
      - {paths: [/dev/null], access: [read_file, write_file]}
      - {paths: [/tmp], access: [read_file, write_file, read_dir, make_reg, make_dir, remove_file, truncate]}
    network:
      - {ports: [8080], access: [bind_tcp]}
EOF
work=$(mktemp -d /tmp/bulwark-node-landlock.XXXXXX)
on_exit "rm -rf '$work'"
cat >"$work/web.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: $BUSYBOX_IMAGE
      command: [sh, -c]
      args:
        - |
          touch /etc/x 2>&1 | sed 's/^/etc-write: /'
          [ -e /etc/x ] && echo "etc-write: created"
          mkdir -p /tmp/www && echo "served from /tmp/www" >/tmp/www/index.html && echo "tmp-write: ok"
          nc -l -p 9090 >/tmp/nc.out 2>&1 & sleep 3; kill \$! 2>/dev/null
          sed 's/^/bind-9090: /' /tmp/nc.out
          echo ready
          exec httpd -f -p 8080 -h /tmp/www
EOF
mutated() {
	kubectl -n "$ns" create --dry-run=server -f "$work/web.yaml" -o json |
		jq -e '[.spec.initContainers[]?.name] | index("bulwark-launcher") != null' >/dev/null
}
wait_for "$T" mutated || fail "the webhook never mutated the pod for the policy"
kubectl -n "$ns" apply -f "$work/web.yaml" >/dev/null || fail "pod web refused"
pod_wait web || fail "pod web never became Ready"
logged() { grep -q '^ready$' <<<"$(kubectl -n "$ns" logs web -c app)"; }
wait_for "$T" logged || fail "the application never got through its checks: $(kubectl -n "$ns" logs web -c app 2>&1)"
log=$(kubectl -n "$ns" logs web -c app)
printf '%s\n' "$log" | sed 's/^/# app: /'
pod=$(kubectl -n "$ns" get pod web -o json)

check "the webhook added the launcher init container, from $LAUNCH_IMAGE" jq -e --arg img "$LAUNCH_IMAGE" \
	'.spec.initContainers[] | select(.name == "bulwark-launcher") | .image == $img' <<<"$pod"
check "kubelet ran it to completion (exit 0)" jq -e \
	'.status.initContainerStatuses[] | select(.name == "bulwark-launcher") | .state.terminated.exitCode == 0' <<<"$pod"
check "the command goes through /bulwark/bin/bulwark-launch" jq -e \
	'.spec.containers[0].command[0] == "/bulwark/bin/bulwark-launch"' <<<"$pod"
check "touch /etc/x: Permission denied" grep -qE '^etc-write: .*/etc/x.*Permission denied' <<<"$log"
check "/etc/x was not created" not grep -q 'etc-write: created' <<<"$log"
check "writing /tmp works" grep -qx 'tmp-write: ok' <<<"$log"
check "binding a port the policy does not grant (9090): Permission denied" \
	grep -qE '^bind-9090: .*Permission denied' <<<"$log"

# Another pod (no policy) reaches the application's own port.
kubectl -n "$ns" run client --image="$BUSYBOX_IMAGE" --restart=Never --overrides="{\"spec\":{\"nodeName\":\"$NODE\"}}" \
	--command -- sleep 3600 >/dev/null || fail "cannot start the client pod"
pod_wait client || fail "pod client never became Ready"
ip=$(jq -r .status.podIP <<<"$pod")
serving() {
	# shellcheck disable=SC2016 # expanded by the pod's shell
	grep -q served <<<"$(kubectl -n "$ns" exec client -- sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 "$0" 8080' "$ip" 2>&1)"
}
check "the application binds its own port 8080 and serves another pod ($ip:8080)" wait_for 60 serving
status=$(kubectl -n "$ns" exec web -c app -- cat /proc/1/status 2>&1) || true
check "the application runs with no_new_privs (set by the launcher)" grep -qP '^NoNewPrivs:\t1' <<<"$status"
tap_done
