#!/usr/bin/env bash
# The real node works as a user's node does: Ready with Debian's kernel and pure cgroup v2, a
# pod Running from an image imported into containerd, `kubectl logs` and a real `kubectl exec`
# (kube-apiserver -> egress proxy -> kubelet -> containerd -> runc), a ServiceAccount token
# mounted, a Service's ClusterIP reaching a pod (kube-proxy, iptables), and a Deployment and a
# DaemonSet made available by the controller-manager and scheduler. TAP, one case per claim.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
ROOT=$NODE_LIB_ROOT
WAIT=${NODE_TEST_TIMEOUT:-300}
# A name of its own per run: an earlier run's namespace may still be terminating.
NS=node-basics-$$
NODE=${NODES%% *}

cleanup() { kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

# ---- the node -----------------------------------------------------------------------------
want_kernel=$(cat "$("$ROOT/e2e/vm/rootfs.sh" path)/kernel-release")
tap_check "node $NODE is Ready" \
	kc wait --for=condition=Ready "node/$NODE" --timeout=60s
have_kernel=$(kc get node "$NODE" -o jsonpath='{.status.nodeInfo.kernelVersion}')
echo "# node kernel $have_kernel, VM image kernel $want_kernel"
tap_check "the node runs the VM image's kernel ($want_kernel)" [ "$have_kernel" = "$want_kernel" ]
runtime=$(kc get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')
kubelet=$(kc get node "$NODE" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
echo "# runtime $runtime, kubelet $kubelet"
# shellcheck source=../cluster/versions.env
source "$ROOT/e2e/cluster/versions.env"
tap_check "kubelet is the pinned $KUBERNETES_VERSION on containerd" \
	bash -c '[ "$1" = "$2" ] && [[ $3 == containerd://* ]]' _ "$kubelet" "$KUBERNETES_VERSION" "$runtime"
fstype=$(node_exec "$NODE" stat -fc %T /sys/fs/cgroup)
tap_check "the guest has pure cgroup v2 (/sys/fs/cgroup is $fstype)" [ "$fstype" = cgroup2fs ]

# ---- a workload image: the images tier's busybox, or one made here from busybox-static -----
images=$(node_exec "$NODE" ctr -n k8s.io images ls -q)
image=$(grep -E '(^|/)busybox:' <<<"$images" | grep -v '@' | sed -n 1p || true)
if [ -z "$image" ]; then
	image=bulwark.local/node-test-busybox:1
	work=$NODE_DIR/images/busybox-root
	rm -rf "$work"
	mkdir -p "$work/bin" "$work/tmp"
	cp /bin/busybox "$work/bin/busybox"
	for a in sh cat echo mkdir sleep httpd nc nslookup printf test; do
		ln -s busybox "$work/bin/$a"
	done
	"$ROOT/e2e/node/oci-image.sh" "$NODE_DIR/images/node-test-busybox.tar" "$image" "$work" /bin/sh
	node_exec "$NODE" ctr -n k8s.io images import "/bulwark/${NODE_DIR#"$ROOT"/}/images/node-test-busybox.tar"
fi
echo "# workload image: $image"

kc create namespace "$NS" >/dev/null
# The ServiceAccount "default" comes from kube-controller-manager, as on any cluster.
tap_check "kube-controller-manager made the namespace's default ServiceAccount" \
	wait_for "serviceaccount default in $NS" "$WAIT" kc -n "$NS" get serviceaccount default

kc -n "$NS" apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $image
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /srv && echo hello-from-web > /srv/index.html && echo web-started && exec httpd -f -p 8080 -h /srv']
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF2
t0=$SECONDS
tap_check "a pod (image $image) becomes Ready" \
	kc -n "$NS" wait --for=condition=Ready pod/web --timeout="${WAIT}s"
echo "# first pod Ready after $((SECONDS - t0))s"
on=$(kc -n "$NS" get pod web -o jsonpath='{.spec.nodeName}')
tap_check "the scheduler bound the pod to $NODE (it is on '$on')" [ "$on" = "$NODE" ]

# ---- logs and exec go from the apiserver to the kubelet ------------------------------------
logs=$(kc -n "$NS" logs web 2>&1 || true)
echo "# logs: $logs"
tap_check "kubectl logs returns the container's output" grep -qx web-started <<<"$logs"
out=$(kc -n "$NS" exec web -- cat /srv/index.html 2>&1 || true)
tap_check "kubectl exec runs a command in the container (read: '$out')" [ "$out" = hello-from-web ]
rc=0
kc -n "$NS" exec web -- sh -c 'exit 7' || rc=$?
tap_check "kubectl exec returns the command's exit status (got $rc, want 7)" [ "$rc" = 7 ]
out=$(printf 'ping\n' | kc -n "$NS" exec -i web -- cat 2>&1 || true)
tap_check "kubectl exec -i carries stdin (echoed '$out')" [ "$out" = ping ]

# ---- the ServiceAccount token ---------------------------------------------------------------
sa=/var/run/secrets/kubernetes.io/serviceaccount
token=$(kc -n "$NS" exec web -- cat "$sa/token" 2>/dev/null || true)
ns_in_pod=$(kc -n "$NS" exec web -- cat "$sa/namespace" 2>/dev/null || true)
claims=$(cut -d. -f2 <<<"$token" | tr '_-' '/+' | base64 -d 2>/dev/null || true)
# base64 -d may complain about missing padding after printing everything; the JSON is there.
claims=$(printf '%s' "$claims" | sed 's/}[^}]*$/}/')
echo "# token claims: ${claims:0:300}"
tap_check "a ServiceAccount token is mounted (namespace $ns_in_pod, subject default)" \
	bash -c '[ "$1" = "$2" ] && jq -e --arg s "system:serviceaccount:$2:default" ".sub == \$s" <<<"$3" >/dev/null' \
	_ "$ns_in_pod" "$NS" "$claims"
ca_in_pod=$(kc -n "$NS" exec web -- cat "$sa/ca.crt" 2>/dev/null || true)
tap_check "the pod's ca.crt is the cluster CA (kube-root-ca.crt)" \
	bash -c 'diff <(printf "%s\n" "$1") "$2" >/dev/null' _ "$ca_in_pod" "$CLUSTER_DIR/pki/ca.crt"

# ---- a Service's ClusterIP --------------------------------------------------------------------
svc_ip=$(kc -n "$NS" get service web -o jsonpath='{.spec.clusterIP}')
echo "# service web: $svc_ip:80"
http_get_from_node() {
	local out
	out=$(node_sh "$NODE" "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 socat - TCP:$svc_ip:80") &&
		grep -q hello-from-web <<<"$out"
}
tap_check "the Service's ClusterIP reaches the pod from the node (kube-proxy)" \
	wait_for "http://$svc_ip/ from $NODE" "$WAIT" http_get_from_node
http_get_from_pod() {
	local out
	out=$(kc -n "$NS" exec web -- sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc $svc_ip 80") &&
		grep -q hello-from-web <<<"$out"
}
tap_check "the Service's ClusterIP reaches the pod from a pod (hairpin through the bridge)" \
	wait_for "http://$svc_ip/ from pod web" "$WAIT" http_get_from_pod

# The "kubernetes" Service leads pods to the apiserver (guestfwd on the node, then the host).
# Go's TLS server answers plain HTTP with a 400 naming the mistake: that text can only come
# from the apiserver.
api_from_pod() {
	local out
	out=$(kc -n "$NS" exec web -- sh -c 'printf "GET /livez HTTP/1.0\r\n\r\n" | nc 10.96.0.1 443') &&
		grep -q 'HTTP request to an HTTPS server' <<<"$out"
}
tap_check "a pod reaches the apiserver through the kubernetes Service (10.96.0.1:443)" \
	wait_for "the apiserver at 10.96.0.1:443 from pod web" 60 api_from_pod

# ---- cluster DNS (CoreDNS at the kubelet's clusterDNS) -----------------------------------------
resolve() {
	local out
	out=$(kc -n "$NS" exec web -- nslookup "$1" 2>&1) || return 1
	echo "$out" | sed 's/^/# /'
	grep -qF "$2" <<<"$out"
}
tap_check "a pod resolves the Service web.$NS.svc.cluster.local to $svc_ip" \
	wait_for "DNS for web.$NS.svc.cluster.local" 120 resolve "web.$NS.svc.cluster.local" "$svc_ip"
tap_check "a pod resolves kubernetes.default by its search path" \
	wait_for "DNS for kubernetes.default" 60 resolve kubernetes.default 10.96.0.1

# ---- controllers: a Deployment and a DaemonSet ------------------------------------------------
kc -n "$NS" apply -f - >/dev/null <<EOF2
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleeper}
spec:
  replicas: 2
  selector: {matchLabels: {app: sleeper}}
  template:
    metadata: {labels: {app: sleeper}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: sleep, image: $image, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: everywhere}
spec:
  selector: {matchLabels: {app: everywhere}}
  template:
    metadata: {labels: {app: everywhere}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: sleep, image: $image, imagePullPolicy: Never, command: [sleep, "3600"]}
EOF2
tap_check "the Deployment (2 replicas) becomes Available" \
	kc -n "$NS" wait --for=condition=Available deployment/sleeper --timeout="${WAIT}s"
ds_ready() {
	local want have
	want=$(kc -n "$NS" get daemonset everywhere -o jsonpath='{.status.desiredNumberScheduled}')
	have=$(kc -n "$NS" get daemonset everywhere -o jsonpath='{.status.numberAvailable}')
	[ -n "$want" ] && [ "$want" = "$(wc -w <<<"$NODES")" ] && [ "$have" = "$want" ]
}
tap_check "the DaemonSet is available on every node ($NODES)" \
	wait_for "daemonset everywhere available" "$WAIT" ds_ready

kc -n "$NS" get pods -o wide | sed 's/^/# /'
tap_done
