#!/usr/bin/env bash
# A real Kubernetes cluster for the real-node tier: the local control plane (e2e/cluster, in
# node mode) plus kube-scheduler and kube-controller-manager on the host, and NODE_COUNT node
# VMs (e2e/vm: Debian trixie, systemd, containerd, runc, CNI) running kubelet and kube-proxy
# built from the same pinned k8s.io/kubernetes. docs/real-node.md has the design.
#
#   node.sh up      build what is missing, start everything, wait for every Node Ready, import
#                   every build/images/*.tar (and the pause image) into each node's containerd,
#                   write $NODE_DIR/env
#   node.sh down    stop and remove everything (VMs, processes, state), also after a failure
#   node.sh check   exit 0 if this machine can run the tier, else 77 with the reason
#   node.sh status  what runs
#
# $NODE_DIR/env (source it, or read it from tests) sets KUBECONFIG, KUBECTL, NODES (names,
# space-separated), NODE_DIR, CLUSTER_DIR; e2e/node/lib.sh has node_exec NAME CMD....
#
# Environment: NODE_DIR (default $BUILD/node), NODE_COUNT (default 1), NODE_READY_TIMEOUT
# (seconds, default 600), IMAGES_DIR (default build/images), VM_* (e2e/vm/vm.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
NODE_DIR=$(realpath -m "${NODE_DIR:-$BUILD/node}")
export CLUSTER_DIR=$NODE_DIR/cluster
export K8S_BIN_DIR=${K8S_BIN_DIR:-$ROOT/build/k8s/bin}
NODE_COUNT=${NODE_COUNT:-1}
NODE_READY_TIMEOUT=${NODE_READY_TIMEOUT:-600}
IMAGES_DIR=$(realpath -m "${IMAGES_DIR:-$ROOT/build/images}")
# shellcheck source-path=SCRIPTDIR source=../cluster/versions.env
source "$ROOT/e2e/cluster/versions.env"
KUBECTL=${KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.$KUBECTL_MINOR}

# Inside each guest (qemu's user network): the node's own address, qemu's gateway, and the
# guestfwd address at which the guest reaches the apiserver. Pods get 10.244.N.0/24 on node N.
NODE_IP=10.0.2.15
GUEST_GW=10.0.2.2
APISERVER_GUEST_IP=10.0.2.100
CLUSTER_CIDR=10.244.0.0/16
# The in-guest CONNECT proxy (tinyproxy) port: the apiserver's egress to kubelets and pods.
GUEST_PROXY_PORT=8888
# The sandbox image, built here from pause.c (e2e/cluster/build.sh node).
PAUSE_IMAGE=bulwark.local/pause:$KUBERNETES_VERSION
# The cluster DNS (e2e/node/coredns.yaml): CoreDNS built here, at the kube-dns ClusterIP.
COREDNS_IMAGE=bulwark.local/coredns:$COREDNS_VERSION
DNS_IP=10.96.0.10

say() { printf 'node: %s\n' "$*"; }
err() { printf 'node: error: %s\n' "$*" >&2; }
die() {
	err "$*"
	exit 1
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0fs", b - a }'; }

node_names() {
	local i
	for ((i = 1; i <= NODE_COUNT; i++)); do
		printf 'node-%d\n' "$i"
	done
}

# ---- can this machine run it? -----------------------------------------------------------------

# preflight: prints why the tier cannot run here and fails, or succeeds silently.
preflight() {
	local t
	[ "$(id -u)" -eq 0 ] || {
		echo "the real-node tier needs root (mmdebstrap, mke2fs -d of a rootfs with its owners)"
		return 1
	}
	[[ $NODE_COUNT =~ ^[1-9]$ ]] || {
		echo "NODE_COUNT='$NODE_COUNT' must be 1 to 9"
		return 1
	}
	((NODE_COUNT == 1)) || {
		echo "NODE_COUNT=$NODE_COUNT: only one node is supported so far (two nodes each have qemu's user network to themselves; docs/real-node.md)"
		return 1
	}
	for t in qemu-system-x86_64 qemu-img mmdebstrap mke2fs ssh ssh-keygen socat jq openssl; do
		command -v "$t" >/dev/null || {
			echo "$t is missing (make deps installs it)"
			return 1
		}
	done
	[ -x "$KUBECTL" ] || {
		echo "kubectl $KUBECTL_MINOR not found at $KUBECTL"
		return 1
	}
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || {
		echo "Debian's archive keyring is missing (debian-archive-keyring)"
		return 1
	}
}

# ---- host processes: kube-scheduler and kube-controller-manager -------------------------------

HOST_DIR=$NODE_DIR/host

# host_pid NAME: the pid of our running NAME, or fails. Ours: its command line names our
# kubeconfig (kube-scheduler, kube-controller-manager) or our egress socket (the socat bridge).
host_pid() {
	local pid cmd
	pid=$(cat "$HOST_DIR/$1.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmd=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	if [ "$1" = egress-bridge ]; then
		[[ $(head -n1 <<<"$cmd") == */socat ]] || [ "$(head -n1 <<<"$cmd")" = socat ] || return 1
		grep -qF -- "UNIX-LISTEN:$HOST_DIR/egress.sock," <<<"$cmd" || return 1
	else
		[ "$(head -n1 <<<"$cmd")" = "$K8S_BIN_DIR/$1" ] || return 1
		grep -qxF -- "--kubeconfig=$CLUSTER_DIR/$1.kubeconfig" <<<"$cmd" || return 1
	fi
	! grep -qE '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# host_spawn NAME ARGV...: runs ARGV in its own session, pid in HOST_DIR/NAME.pid.
host_spawn() {
	local name=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' spawn "$HOST_DIR/$name.pid" "$@" \
		</dev/null >>"$HOST_DIR/$name.log" 2>&1 &
	local i
	for ((i = 0; i < 100; i++)); do
		host_pid "$name" && return 0
		sleep 0.05
	done
	die "$name did not start; see $HOST_DIR/$name.log"
}

host_stop() {
	local name=$1 pid i
	pid=$(cat "$HOST_DIR/$name.pid" 2>/dev/null) || return 0
	if host_pid "$name"; then
		# The whole session (host_spawn's setsid): socat's per-connection children too.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			host_pid "$name" || break
			sleep 0.1
		done
		! host_pid "$name" || kill -KILL -- "-$pid" 2>/dev/null || true
		say "stopped $name (pid $pid)"
	fi
	rm -f "$HOST_DIR/$name.pid"
}

# kubeconfig FILE SERVER CERT KEY: a kubeconfig with the cluster CA and a client certificate.
kubeconfig() {
	local file=$1 server=$2 crt=$3 key=$4
	(
		umask 077
		cat >"$file" <<-EOF
			apiVersion: v1
			kind: Config
			clusters:
			- name: bulwark
			  cluster:
			    server: $server
			    certificate-authority-data: $(base64 -w0 "$CLUSTER_DIR/pki/ca.crt")
			users:
			- name: user
			  user:
			    client-certificate-data: $(base64 -w0 "$crt")
			    client-key-data: $(base64 -w0 "$key")
			contexts:
			- name: bulwark
			  context: {cluster: bulwark, user: user}
			current-context: bulwark
		EOF
	)
}

# client NAME CN ORG...: a client certificate from the cluster CA, as CLUSTER_DIR/pki/NAME.*.
client() { "$ROOT/e2e/cluster/cluster.sh" client-cert "$@" >/dev/null; }

# start_egress_bridge PORT: the apiserver's egress socket, each connection carried to
# 127.0.0.1:PORT, qemu's hostfwd to the node's tinyproxy. socat because the apiserver speaks
# CONNECT over a unix socket only without TLS, and qemu forwards TCP only.
start_egress_bridge() {
	mkdir -p "$HOST_DIR"
	host_spawn egress-bridge socat "UNIX-LISTEN:$HOST_DIR/egress.sock,fork,mode=600" "TCP:127.0.0.1:$1"
}

start_host_components() {
	local url=$1 pki=$CLUSTER_DIR/pki
	mkdir -p "$HOST_DIR"
	client kube-scheduler system:kube-scheduler
	client kube-controller-manager system:kube-controller-manager
	kubeconfig "$CLUSTER_DIR/kube-scheduler.kubeconfig" "$url" "$pki/kube-scheduler.crt" "$pki/kube-scheduler.key"
	kubeconfig "$CLUSTER_DIR/kube-controller-manager.kubeconfig" "$url" \
		"$pki/kube-controller-manager.crt" "$pki/kube-controller-manager.key"
	# One of each, so no leader election; no serving port (nothing scrapes them here).
	host_spawn kube-scheduler "$K8S_BIN_DIR/kube-scheduler" --kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
		--leader-elect=false --secure-port=0
	# --use-service-account-credentials: each controller acts as its own ServiceAccount, with
	# the RBAC roles the apiserver bootstraps for them (as kubeadm runs it). root-ca-file fills
	# every namespace's kube-root-ca.crt, which the pods' token volumes mount.
	host_spawn kube-controller-manager "$K8S_BIN_DIR/kube-controller-manager" \
		--kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" --leader-elect=false --secure-port=0 \
		--use-service-account-credentials=true \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--cluster-cidr="$CLUSTER_CIDR" --allocate-node-cidrs=false \
		--controllers='*,-cloud-node-lifecycle'
}

# ---- node VMs ---------------------------------------------------------------------------------

# write_node_share NAME INDEX APISERVER_PORT: the files the VM reads from /run/vm.
write_node_share() {
	local name=$1 idx=$2 port=$3 share=$NODE_DIR/vm/$1/share pki=$CLUSTER_DIR/pki
	local podcidr=10.244.$idx.0/24 b
	mkdir -p "$share/bin" "$share/units" "$share/cni"
	printf '%s\n' "$name" >"$share/hostname"
	printf '%s/24 %s\n' "$NODE_IP" "$GUEST_GW" >"$share/net"
	printf 'NODE_NAME=%s\nNODE_IP=%s\n' "$name" "$NODE_IP" >"$share/node.env"
	cp "$HERE/guest/setup.sh" "$HERE/guest/start.sh" "$share/"
	cp "$HERE/guest/"*.service "$HERE/guest/containerd.conf" "$share/units/"
	for b in kubelet kube-proxy; do
		# A hard link when the build tree allows it: the share is read-only, and copying
		# 100 MB per run buys nothing.
		ln -f "$K8S_BIN_DIR/$b" "$share/bin/$b" 2>/dev/null || cp "$K8S_BIN_DIR/$b" "$share/bin/$b"
	done
	cp "$pki/ca.crt" "$share/ca.crt"
	client "$name" "system:node:$name" system:nodes
	kubeconfig "$share/kubelet.kubeconfig" "https://$APISERVER_GUEST_IP:$port" "$pki/$name.crt" "$pki/$name.key"
	client kube-proxy-"$name" system:kube-proxy
	kubeconfig "$share/kube-proxy.kubeconfig" "https://$APISERVER_GUEST_IP:$port" \
		"$pki/kube-proxy-$name.crt" "$pki/kube-proxy-$name.key"
	# The share is read by root in the guest only; 9p passes the modes through.
	chmod 644 "$share/kubelet.kubeconfig" "$share/kube-proxy.kubeconfig"
	cat >"$share/kubelet.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		# The apiserver authenticates with its kubelet client certificate (from the cluster CA);
		# anything else is refused. Every authenticated caller may do everything: the only one is
		# the apiserver, which has authorized the request already.
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: false}
		  x509: {clientCAFile: /run/vm/ca.crt}
		authorization: {mode: AlwaysAllow}
		cgroupDriver: systemd
		containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
		clusterDomain: cluster.local
		clusterDNS: [$DNS_IP]
		# Pod seccomp profiles of type Localhost live under the kubelet's root, here
		# /var/lib/kubelet/seccomp; RuntimeDefault is not forced on pods that ask for nothing.
		seccompDefault: false
		failSwapOn: false
		resolvConf: /etc/resolv.conf
		# TCG runs everything about ten times slower: generous runtime timeouts, and no eviction
		# of a small disk or memory because of a momentary spike.
		runtimeRequestTimeout: 10m
		serializeImagePulls: false
		evictionHard: {memory.available: "64Mi", nodefs.available: "2%", imagefs.available: "2%"}
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		maxPods: 60
		podCIDR: $podcidr
	EOF
	cat >"$share/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		mode: iptables
		clientConnection: {kubeconfig: /run/vm/kube-proxy.kubeconfig}
		clusterCIDR: $CLUSTER_CIDR
		# conntrack sysctls belong to the guest but kube-proxy's defaults would raise them on a
		# 2 GiB VM for nothing.
		conntrack: {maxPerCore: 0}
	EOF
	cat >"$share/containerd.toml" <<-EOF
		version = 2
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMAGE"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = true
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "/run/vm/cni"
	EOF
	cat >"$share/cni/10-bulwark.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "bulwark",
		  "plugins": [
		    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
		     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$podcidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
	EOF
	# tinyproxy takes CONNECT from the apiserver (via qemu's hostfwd, so from the gateway's
	# address) to any port of the node, its pods and its Services. No ConnectPort line: every
	# port is allowed.
	cat >"$share/tinyproxy.conf" <<-EOF
		Port $GUEST_PROXY_PORT
		Listen $NODE_IP
		Timeout 3600
		MaxClients 200
		Allow $GUEST_GW
		DisableViaHeader Yes
		LogLevel Warning
		User tinyproxy
		Group tinyproxy
	EOF
}

image_tars() {
	printf '%s\n' /run/vm/pause.tar /run/vm/coredns.tar
	local t
	for t in "$IMAGES_DIR"/*.tar; do
		[ -e "$t" ] || continue
		case $t in
		"$ROOT"/*) printf '/bulwark/%s\n' "${t#"$ROOT"/}" ;;
		*) die "IMAGES_DIR $IMAGES_DIR is outside the repository, which is all the VM sees" ;;
		esac
	done
}

start_node() {
	local name=$1 port=$2 proxy_port=$3 dir=$NODE_DIR/vm/$1 t0=$EPOCHREALTIME tars
	VM_HOSTFWD="$proxy_port:$GUEST_PROXY_PORT" VM_GUESTFWD="$APISERVER_GUEST_IP:$port=$port" \
		"$ROOT/e2e/vm/vm.sh" start "$dir"
	say "$name: booted in $(since "$t0")"
	t0=$EPOCHREALTIME
	mapfile -t tars < <(image_tars)
	"$ROOT/e2e/vm/vm.sh" exec "$dir" /run/vm/start.sh "${tars[@]}" 2>&1 | sed "s/^/node: $name: /"
	((PIPESTATUS[0] == 0)) || die "$name: start.sh failed"
	say "$name: containerd, ${#tars[@]} images, kubelet, kube-proxy started in $(since "$t0")"
}

# wait_node_ready NAME DEADLINE: the Node object appears (kubelet registers it), then Ready.
wait_node_ready() {
	local name=$1 deadline=$2 ready
	while ((SECONDS < deadline)); do
		ready=$(kc get node "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || ready=
		[ "$ready" = True ] && return 0
		"$ROOT/e2e/vm/vm.sh" status "$NODE_DIR/vm/$name" || {
			err "the VM of $name stopped"
			return 1
		}
		sleep 2
	done
	return 1
}

# ---- commands ---------------------------------------------------------------------------------

kc() { "$KUBECTL" --kubeconfig="$CLUSTER_DIR/kubeconfig" "$@"; }

cmd_up() {
	local reason t0=$EPOCHREALTIME
	reason=$(preflight) || die "$reason"
	[ ! -e "$NODE_DIR" ] || {
		say "removing the state of an earlier run ($NODE_DIR)"
		cmd_down
	}
	mkdir -p "$NODE_DIR"
	# Whatever ends `up` early (a die, a failed command under set -e, a signal) takes down what
	# it started, unless KEEP_NODE=1 leaves it for a look.
	trap 'up_failed' EXIT
	say "building the control plane and node binaries (e2e/cluster/build.sh node)"
	"$ROOT/e2e/cluster/build.sh" node 2>&1 | sed -u 's/^/node: /'
	((PIPESTATUS[0] == 0)) || die "build failed"
	"$ROOT/e2e/vm/rootfs.sh" 2>&1 | sed -u 's/^/node: /'
	((PIPESTATUS[0] == 0)) || die "VM image build failed"
	mkdir -p "$NODE_DIR/images"
	local pause_root=$NODE_DIR/images/pause-root
	mkdir -p "$pause_root"
	cp "$K8S_BIN_DIR/pause" "$pause_root/pause"
	"$HERE/oci-image.sh" "$NODE_DIR/images/pause.tar" "$PAUSE_IMAGE" "$pause_root" /pause | sed 's/^/node: /'
	local dns_root=$NODE_DIR/images/coredns-root
	mkdir -p "$dns_root"
	cp "$K8S_BIN_DIR/coredns" "$dns_root/coredns"
	"$HERE/oci-image.sh" "$NODE_DIR/images/coredns.tar" "$COREDNS_IMAGE" "$dns_root" /coredns | sed 's/^/node: /'
	local proxy_port
	proxy_port=$(free_port)
	start_egress_bridge "$proxy_port"
	say "starting the control plane in $CLUSTER_DIR"
	CLUSTER_NODE_ADDRESS=$APISERVER_GUEST_IP CLUSTER_EGRESS_SOCKET=$HOST_DIR/egress.sock \
		CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-300} "$ROOT/e2e/cluster/cluster.sh" up 2>&1 | sed -u 's/^/node: /'
	((PIPESTATUS[0] == 0)) || die "the control plane did not start"
	# shellcheck source=/dev/null
	source "$CLUSTER_DIR/ports"
	start_host_components "https://127.0.0.1:$APISERVER_PORT"
	local name idx=0
	for name in $(node_names); do
		idx=$((idx + 1))
		write_node_share "$name" "$idx" "$APISERVER_PORT"
		cp "$NODE_DIR/images/pause.tar" "$NODE_DIR/images/coredns.tar" "$NODE_DIR/vm/$name/share/"
		start_node "$name" "$APISERVER_PORT" "$proxy_port"
	done
	local t1=$EPOCHREALTIME
	for name in $(node_names); do
		if ! wait_node_ready "$name" "$((SECONDS + NODE_READY_TIMEOUT))"; then
			kc get nodes -o wide >&2 || true
			"$ROOT/e2e/vm/vm.sh" exec "$NODE_DIR/vm/$name" journalctl -u kubelet --no-pager -n 40 >&2 || true
			die "node $name was not Ready within ${NODE_READY_TIMEOUT}s"
		fi
	done
	say "every node Ready $(since "$t1") after kubelet start"
	t1=$EPOCHREALTIME
	sed "s#image: IMAGE#image: $COREDNS_IMAGE#" "$HERE/coredns.yaml" | kc apply -f - >/dev/null
	if ! kc -n kube-system wait --for=condition=Available deployment/coredns --timeout="${NODE_READY_TIMEOUT}s" >/dev/null; then
		kc -n kube-system get pods -o wide >&2 || true
		kc -n kube-system logs deployment/coredns --tail=20 >&2 || true
		die "CoreDNS did not become available within ${NODE_READY_TIMEOUT}s"
	fi
	say "cluster DNS (CoreDNS $COREDNS_VERSION at $DNS_IP) available in $(since "$t1")"
	{
		printf '# The real-node cluster (e2e/node/node.sh up); source this file.\n'
		cat "$CLUSTER_DIR/env"
		printf 'export NODE_DIR=%q\nexport NODES=%q\n' "$NODE_DIR" "$(node_names | tr '\n' ' ' | sed 's/ $//')"
	} >"$NODE_DIR/env"
	trap - EXIT
	say "up in $(since "$t0"): $(node_names | tr '\n' ' ')Ready; source $NODE_DIR/env"
}

up_failed() {
	local rc=$?
	if [ "${KEEP_NODE:-0}" = 1 ]; then
		err "up failed; everything is left in $NODE_DIR (KEEP_NODE=1); node.sh down removes it"
	else
		err "up failed; cleaning up (KEEP_NODE=1 would keep it)"
		cmd_down || true
	fi
	exit "$((rc == 0 ? 1 : rc))"
}

free_port() {
	local p i lo=10000 hi
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	for ((i = 0; i < 200; i++)); do
		p=$((lo + RANDOM % (hi - lo)))
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && break
	done
	((i < 200)) || die "found no free loopback port"
	printf '%s\n' "$p"
}

cmd_down() {
	local rc=0 d
	if [ -d "$NODE_DIR/vm" ]; then
		for d in "$NODE_DIR"/vm/*/; do
			[ -d "$d" ] || continue
			"$ROOT/e2e/vm/vm.sh" stop "${d%/}" || rc=1
		done
	fi
	host_stop kube-controller-manager || rc=1
	host_stop kube-scheduler || rc=1
	host_stop egress-bridge || rc=1
	if [ -e "$CLUSTER_DIR" ]; then
		"$ROOT/e2e/cluster/cluster.sh" down 2>&1 | sed 's/^/node: /' || rc=1
	fi
	((rc == 0)) || die "could not stop everything; $NODE_DIR is left in place"
	rm -rf "$NODE_DIR"
	say "down: removed $NODE_DIR"
}

cmd_status() {
	local rc=0 name
	[ -d "$NODE_DIR" ] || {
		say "no real-node cluster in $NODE_DIR"
		return 1
	}
	"$ROOT/e2e/cluster/cluster.sh" status || rc=1
	for name in kube-scheduler kube-controller-manager; do
		if host_pid "$name"; then say "$name running"; else
			say "$name NOT running"
			rc=1
		fi
	done
	for name in $(node_names); do
		if "$ROOT/e2e/vm/vm.sh" status "$NODE_DIR/vm/$name"; then say "VM $name running"; else
			say "VM $name NOT running"
			rc=1
		fi
	done
	kc get nodes -o wide 2>/dev/null || rc=1
	return "$rc"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
check)
	if reason=$(preflight); then
		say "this machine can run the real-node tier"
	else
		echo "SKIP: $reason"
		exit 77
	fi
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
