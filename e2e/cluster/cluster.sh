#!/usr/bin/env bash
# A real, local Kubernetes control plane for the e2e tests and the demo: one etcd and one
# kube-apiserver, built from the upstream Go modules pinned in versions.env, on loopback ports
# chosen at run time, with TLS everywhere and RBAC on. There is no kube-controller-manager,
# scheduler or kubelet (see "Without a controller-manager" below).
#
#   cluster.sh build              build etcd and kube-apiserver if out of date (build.sh)
#   cluster.sh up                 build if needed, start, wait until usable; a no-op when running
#   cluster.sh down               stop both (SIGTERM, then SIGKILL), remove the state dir
#   cluster.sh status             what runs, where; exit 0 only if both are running and healthy
#   cluster.sh env                export lines for a shell: eval "$(e2e/cluster/cluster.sh env)"
#   cluster.sh stop-apiserver | start-apiserver | restart-apiserver
#                                 for tests of clients that must survive an apiserver restart
#   cluster.sh compact-etcd       compact etcd to its current revision (forces 410 Gone on old
#                                 watches that reach etcd)
#   cluster.sh client-cert NAME CN [ORG...]
#                                 another client certificate from the cluster's CA, e.g. a node
#                                 identity: client-cert node1 system:node:node1 system:nodes
#   cluster.sh check | repin      versions.env against the go.mod files (build.sh)
#
# Environment:
#   CLUSTER_DIR      state dir (default $BUILD/cluster, BUILD default build); one cluster per dir,
#                    so several can run side by side
#   K8S_BIN_DIR      where build.sh puts the binaries (default build/k8s/bin)
#   KUBECTL          the kubectl to use (default the machine's kubectl.$KUBECTL_MINOR)
#   CLUSTER_TIMEOUT  seconds to wait for readiness (default 120); STOP_TIMEOUT for SIGTERM (10)
#   KEEP_STATE=1     down leaves the state dir (logs, etcd data) in place
#   CLUSTER_NODE_ADDRESS, CLUSTER_EGRESS_SOCKET
#                    a control plane for real nodes (e2e/node/node.sh sets both; docs/real-node.md):
#                    the address at which nodes and pods reach the apiserver (its serving
#                    certificate names it, and the "kubernetes" Service's endpoint is
#                    ADDRESS:port), and the unix socket of the HTTP CONNECT proxy through which
#                    the apiserver reaches kubelets, pods and Services (egress selector
#                    "cluster"; over TCP, kube-apiserver 1.33 insists on TLS to the proxy). Also turns on the ServiceAccount admission plugin and gives the
#                    apiserver a kubelet client certificate. Kept in the state dir for restarts.
#
# State dir layout: pki/ (certificates, keys), etcd-data/, etcd.{pid,log}, apiserver.{pid,log},
# ports, kubeconfig (admin, certificates embedded), env (what `env` prints).
#
# Without a controller-manager: namespaces being deleted stay Terminating (the namespace
# controller empties them; e2e/lib.sh does that job for test namespaces), nothing is garbage
# collected through ownerReferences, no ServiceAccount or token is created automatically, and
# Deployments/DaemonSets/Jobs never get pods. Pods are neither scheduled nor run: tests bind
# them to a node themselves, and the e2e node harness plays the kubelet.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
CLUSTER_DIR=$(realpath -m "${CLUSTER_DIR:-$BUILD/cluster}")
export K8S_BIN_DIR=${K8S_BIN_DIR:-$ROOT/build/k8s/bin}
CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-120}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$HERE/versions.env"
KUBECTL=${KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.$KUBECTL_MINOR}

# The Service range only has to exist; its first address is the "kubernetes" Service's
# ClusterIP, which the serving certificate names so in-cluster-style clients verify it.
SERVICE_CIDR=10.96.0.0/12
SERVICE_IP=10.96.0.1
SA_ISSUER=https://kubernetes.default.svc.cluster.local

PKI=$CLUSTER_DIR/pki

say() { printf 'cluster: %s\n' "$*"; }
# since START: seconds (one decimal) since START, an earlier $EPOCHREALTIME.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
err() { printf 'cluster: error: %s\n' "$*" >&2; }
die() {
	err "$*"
	exit 1
}

# log_tail NAME: the last lines of a component's log, indented, on stderr.
log_tail() {
	local log=$CLUSTER_DIR/$1.log
	[ -s "$log" ] || return 0
	printf 'cluster: last lines of %s:\n' "$log" >&2
	tail -n "${2:-25}" "$log" | sed 's/^/  | /' >&2
}

# ---- processes: ours are found by pid file and proven by their command line -------------------

# ours PID [NAME]: is PID a live etcd or kube-apiserver (NAME, if given) started for this state
# dir? Its command line says so: etcd's data dir or the apiserver's serving certificate is in it.
# That, not the pid file alone, makes a process ours: a reused pid or a process of another
# cluster (even one whose state dir is inside ours) is never signalled.
ours() {
	local pid=$1 want=${2:-} argv0 rest state mark
	{ IFS= read -r -d '' argv0 && rest=$(tr '\0' '\n'); } 2>/dev/null <"/proc/$pid/cmdline" || return 1
	case ${argv0##*/} in
	etcd) mark="--data-dir=$CLUSTER_DIR/etcd-data" ;;
	kube-apiserver) mark="--tls-cert-file=$PKI/apiserver.crt" ;;
	*) return 1 ;;
	esac
	[ -z "$want" ] || [ "${argv0##*/}" = "$want" ] || return 1
	grep -qxF -- "$mark" <<<"$rest" || return 1
	# A zombie (exited, not yet reaped by whoever inherited it) is not running.
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# owned_pid NAME: prints the pid of our running NAME (etcd, kube-apiserver), or fails.
owned_pid() {
	local pid
	pid=$(cat "$CLUSTER_DIR/$1.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && ours "$pid" "$1" || return 1
	printf '%s\n' "$pid"
}

# stray_pids: every process of this state dir, pid file or not (a crash between fork and pid
# file, or an overwritten pid file, must not leak one).
stray_pids() {
	local d
	for d in /proc/[0-9]*; do
		! ours "${d#/proc/}" || printf '%s\n' "${d#/proc/}"
	done
}

gone() { ! [ -d "/proc/$1" ] || grep -qE '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop_pid NAME PID: SIGTERM, wait STOP_TIMEOUT, then SIGKILL; fails if it survives that.
stop_pid() {
	local name=$1 pid=$2 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		gone "$pid" && return 0
		sleep 0.1
	done
	say "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		gone "$pid" && return 0
		sleep 0.1
	done
	err "$name (pid $pid) is still there after SIGKILL"
	return 1
}

# stop NAME: stops our NAME if it runs; forgets its pid file either way.
stop() {
	local name=$1 pid
	if pid=$(owned_pid "$name"); then
		stop_pid "$name" "$pid" || return 1
		say "stopped $name (pid $pid)"
	elif [ -e "$CLUSTER_DIR/$name.pid" ]; then
		say "$name was not running (pid file $(cat "$CLUSTER_DIR/$name.pid" 2>/dev/null) is stale or not ours; left alone)"
	fi
	rm -f "$CLUSTER_DIR/$name.pid"
}

# spawn NAME ARGS...: runs K8S_BIN_DIR/NAME ARGS in its own session (so a terminal's Ctrl-C or a
# test runner's process-group kill does not reach it), stdin closed, output to NAME.log. The
# process writes its own pid before exec, so the pid file is right even if setsid had to fork.
spawn() {
	local name=$1
	shift
	rm -f "$CLUSTER_DIR/$name.pid"
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' spawn "$CLUSTER_DIR/$name.pid" \
		"$K8S_BIN_DIR/$name" "$@" </dev/null >>"$CLUSTER_DIR/$name.log" 2>&1 &
	# Wait for the exec too: until then the pid is a shell, which owned_pid rightly disowns.
	local i pid=
	for ((i = 0; i < 100; i++)); do
		[ -n "$pid" ] || pid=$(cat "$CLUSTER_DIR/$name.pid" 2>/dev/null) || true
		if [ -n "$pid" ]; then
			ours "$pid" "$name" || gone "$pid" && return 0
		fi
		sleep 0.05
	done
	die "$name did not start (no pid file or no exec after 5s)"
}

# ---- ports ------------------------------------------------------------------------------------

# pick_port VAR...: sets each VAR to a loopback TCP port nobody uses now (and not one we already
# picked), below the kernel's ephemeral range so outgoing connections do not take it meanwhile.
# Another listener still can; start_etcd and start_apiserver retry on that.
PICKED=" "
pick_port() {
	local var p i lo=10000 hi
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	((hi - lo >= 1000)) || { lo=49152 hi=65535; }
	for var in "$@"; do
		for ((i = 0; i < 200; i++)); do
			p=$((lo + RANDOM % (hi - lo)))
			[[ $PICKED == *" $p "* ]] && continue
			[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
			break
		done
		((i < 200)) || die "found no free loopback port"
		PICKED+="$p "
		printf -v "$var" '%s' "$p"
	done
}

load_ports() {
	[ -r "$CLUSTER_DIR/ports" ] || die "no cluster state in $CLUSTER_DIR (run: e2e/cluster/cluster.sh up)"
	# shellcheck source=/dev/null
	source "$CLUSTER_DIR/ports"
}

save_ports() {
	printf 'ETCD_CLIENT_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' \
		"$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" >"$CLUSTER_DIR/ports"
}

# ---- health -----------------------------------------------------------------------------------

# https_get URL CA CERT KEY: the body, or fails (curl: TLS verified, short timeouts).
https_get() {
	curl -sSf --max-time 5 --cacert "$2" --cert "$3" --key "$4" "$1" 2>/dev/null
}

etcd_healthy() {
	https_get "https://127.0.0.1:$ETCD_CLIENT_PORT/health" "$PKI/ca.crt" "$PKI/etcd-client.crt" \
		"$PKI/etcd-client.key" | grep -q '"health":"true"'
}

apiserver_ready() {
	[ "$(https_get "https://127.0.0.1:$APISERVER_PORT/readyz" "$PKI/ca.crt" "$PKI/admin.crt" \
		"$PKI/admin.key")" = ok ]
}

# wait_healthy NAME CHECK: polls CHECK until it passes; fails early, with the log, if NAME dies.
wait_healthy() {
	local name=$1 check=$2 deadline=$((SECONDS + CLUSTER_TIMEOUT))
	while ! "$check"; do
		if ! owned_pid "$name" >/dev/null; then
			err "$name exited while starting"
			log_tail "$name"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			err "$name was not healthy after ${CLUSTER_TIMEOUT}s"
			log_tail "$name"
			return 1
		fi
		sleep 0.2
	done
}

# port_conflict NAME: did NAME fail because its port was taken meanwhile?
port_conflict() { grep -q 'address already in use' "$CLUSTER_DIR/$1.log" 2>/dev/null; }

# ---- the two components -----------------------------------------------------------------------

start_etcd() {
	local attempt
	for attempt in 1 2 3; do
		# Peer TLS is configured too, though a single member never talks to a peer, so that
		# no port of this cluster accepts plaintext.
		# --unsafe-no-fsync: the data is thrown away at `down`, and fsync on every write
		# makes a busy test run disk-bound. A crash of etcd alone loses nothing: the page
		# cache still holds the writes.
		spawn etcd --name=bulwark-e2e --data-dir="$CLUSTER_DIR/etcd-data" \
			--listen-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
			--advertise-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
			--listen-peer-urls="https://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-advertise-peer-urls="https://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-cluster="bulwark-e2e=https://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-cluster-state=new \
			--cert-file="$PKI/etcd-server.crt" --key-file="$PKI/etcd-server.key" \
			--trusted-ca-file="$PKI/ca.crt" --client-cert-auth \
			--peer-cert-file="$PKI/etcd-server.crt" --peer-key-file="$PKI/etcd-server.key" \
			--peer-trusted-ca-file="$PKI/ca.crt" --peer-client-cert-auth \
			--unsafe-no-fsync
		wait_healthy etcd etcd_healthy && return 0
		port_conflict etcd && ((attempt < 3)) || return 1
		say "etcd's port was taken meanwhile; retrying with other ports"
		stop etcd
		rm -rf "$CLUSTER_DIR/etcd-data"
		pick_port ETCD_CLIENT_PORT ETCD_PEER_PORT
		save_ports
	done
}

# node_mode: is this a control plane for real nodes (CLUSTER_NODE_ADDRESS at `up`)?
node_mode() { [ -r "$CLUSTER_DIR/node-mode" ]; }

# node_args: the flags that make the apiserver serve real nodes; see CLUSTER_NODE_ADDRESS.
node_args() {
	# shellcheck source=/dev/null
	source "$CLUSTER_DIR/node-mode"
	cat >"$CLUSTER_DIR/egress.yaml" <<-EOF
		apiVersion: apiserver.k8s.io/v1beta1
		kind: EgressSelectorConfiguration
		egressSelections:
		- name: cluster
		  connection:
		    proxyProtocol: HTTPConnect
		    transport:
		      uds:
		        udsName: $CLUSTER_EGRESS_SOCKET
	EOF
	printf '%s\n' --advertise-address="$CLUSTER_NODE_ADDRESS" \
		--egress-selector-config-file="$CLUSTER_DIR/egress.yaml" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP
}

apiserver_args() {
	if node_mode; then
		# The same as below but for what a real node changes: pods get ServiceAccount tokens
		# (kube-controller-manager makes the ServiceAccounts), and the "kubernetes" Service
		# points at the address the nodes reach the apiserver at.
		apiserver_common_args | grep -vE '^--(disable-admission-plugins|advertise-address|endpoint-reconciler-type)='
		node_args
		return
	fi
	apiserver_common_args
}

apiserver_common_args() {
	# shellcheck disable=SC2054 # commas inside flag values, not between array elements
	local a=(
		--bind-address=127.0.0.1 --secure-port="$APISERVER_PORT"
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key"
		--client-ca-file="$PKI/ca.crt"
		--etcd-servers="https://127.0.0.1:$ETCD_CLIENT_PORT"
		--etcd-cafile="$PKI/ca.crt" --etcd-certfile="$PKI/etcd-client.crt"
		--etcd-keyfile="$PKI/etcd-client.key"
		--authorization-mode=Node,RBAC
		# Tokens from `kubectl create token` and projected volumes are signed with sa.key;
		# TokenReview verifies them with sa.pub, for this issuer and audience.
		--service-account-issuer="$SA_ISSUER" --api-audiences="$SA_ISSUER"
		--service-account-signing-key-file="$PKI/sa.key" --service-account-key-file="$PKI/sa.pub"
		--service-cluster-ip-range="$SERVICE_CIDR"
		# The ServiceAccount admission plugin rejects every pod whose ServiceAccount does not
		# exist, and the "default" ServiceAccounts are made by kube-controller-manager, which
		# we do not run. Pods thus get no token volume unless they ask for one.
		--disable-admission-plugins=ServiceAccount
		# The agent's DaemonSet and the node harness's pods run privileged, as on a real cluster.
		--allow-privileged=true
		# The "kubernetes" Service's endpoint would be 127.0.0.1, which Endpoints validation
		# rejects as loopback; nothing here reaches the apiserver through that Service.
		--advertise-address=127.0.0.1 --endpoint-reconciler-type=none
		# The aggregation layer, as kubeadm sets it up: requests for an APIService go to its
		# server with this client certificate and the authenticated user in X-Remote-* headers.
		# Aggregator routing dials the Service's endpoint directly: there is no kube-proxy
		# to make a ClusterIP reachable.
		--requestheader-client-ca-file="$PKI/front-proxy-ca.crt"
		--requestheader-allowed-names=front-proxy-client
		--requestheader-username-headers=X-Remote-User
		--requestheader-group-headers=X-Remote-Group
		--requestheader-extra-headers-prefix=X-Remote-Extra-
		--proxy-client-cert-file="$PKI/front-proxy-client.crt"
		--proxy-client-key-file="$PKI/front-proxy-client.key"
		--enable-aggregator-routing=true
	)
	printf '%s\n' "${a[@]}"
}

start_apiserver() {
	local attempt args
	mapfile -t args < <(apiserver_args)
	for attempt in 1 2 3; do
		spawn kube-apiserver "${args[@]}"
		wait_healthy kube-apiserver apiserver_ready && return 0
		port_conflict kube-apiserver && ((attempt < 3)) || return 1
		say "the apiserver's port was taken meanwhile; retrying with another"
		stop kube-apiserver
		pick_port APISERVER_PORT
		save_ports
		mapfile -t args < <(apiserver_args)
	done
}

# ---- client configuration ---------------------------------------------------------------------

write_client_config() {
	local url="https://127.0.0.1:$APISERVER_PORT"
	(
		umask 077
		cat >"$CLUSTER_DIR/kubeconfig" <<-EOF
			apiVersion: v1
			kind: Config
			clusters:
			- name: bulwark-e2e
			  cluster:
			    server: $url
			    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
			users:
			- name: admin
			  user:
			    client-certificate-data: $(base64 -w0 "$PKI/admin.crt")
			    client-key-data: $(base64 -w0 "$PKI/admin.key")
			contexts:
			- name: bulwark-e2e
			  context:
			    cluster: bulwark-e2e
			    user: admin
			current-context: bulwark-e2e
		EOF
	)
	{
		printf '# The local control plane in %s (e2e/cluster/cluster.sh); source this file.\n' "$CLUSTER_DIR"
		local kv
		for kv in "CLUSTER_DIR=$CLUSTER_DIR" "KUBECONFIG=$CLUSTER_DIR/kubeconfig" "KUBECTL=$KUBECTL" \
			"APISERVER_URL=$url" "KUBE_CA_FILE=$PKI/ca.crt" \
			"KUBE_CLIENT_CERT_FILE=$PKI/admin.crt" "KUBE_CLIENT_KEY_FILE=$PKI/admin.key" \
			"SERVICE_ACCOUNT_ISSUER=$SA_ISSUER" "SERVICE_CLUSTER_IP_RANGE=$SERVICE_CIDR" \
			"ETCD_ENDPOINTS=https://127.0.0.1:$ETCD_CLIENT_PORT" "ETCD_CA_FILE=$PKI/ca.crt" \
			"ETCD_CERT_FILE=$PKI/etcd-client.crt" "ETCD_KEY_FILE=$PKI/etcd-client.key"; do
			printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
		done
	} >"$CLUSTER_DIR/env"
}

kc() { "$KUBECTL" --kubeconfig="$CLUSTER_DIR/kubeconfig" --request-timeout=5s "$@"; }

# wait_bootstrap: /readyz already waits for the RBAC bootstrap hook; the default namespace is
# made by a controller inside the apiserver shortly after, and tests create things in it.
wait_bootstrap() {
	local deadline=$((SECONDS + CLUSTER_TIMEOUT)) what
	for what in namespace/default namespace/kube-system clusterrole/cluster-admin \
		clusterrolebinding/cluster-admin clusterrole/system:node; do
		until kc get "$what" -o name >/dev/null 2>&1; do
			if ((SECONDS >= deadline)); then
				err "$what did not appear within ${CLUSTER_TIMEOUT}s"
				kc get "$what" >&2 || true
				return 1
			fi
			sleep 0.2
		done
	done
}

need_kubectl() {
	[ -x "$KUBECTL" ] || die "kubectl $KUBECTL_MINOR not found at $KUBECTL; the machine should ship it in /usr/lib/google-cloud-sdk/bin/ (set KUBECTL=/path/to/kubectl within one minor of Kubernetes $KUBERNETES_VERSION)"
}

# ---- commands ---------------------------------------------------------------------------------

cmd_up() {
	need_kubectl
	local start=$EPOCHREALTIME etcd_pid api_pid
	etcd_pid=$(owned_pid etcd) || etcd_pid=
	api_pid=$(owned_pid kube-apiserver) || api_pid=
	if [ -n "$etcd_pid" ] && [ -n "$api_pid" ]; then
		load_ports
		if apiserver_ready; then
			say "already up: https://127.0.0.1:$APISERVER_PORT (etcd pid $etcd_pid, kube-apiserver pid $api_pid, state $CLUSTER_DIR)"
			return 0
		fi
		die "etcd and kube-apiserver run but /readyz fails; see $CLUSTER_DIR/*.log, or restart: cluster.sh down && cluster.sh up"
	fi
	if [ -n "$etcd_pid$api_pid" ]; then
		[ -n "$etcd_pid" ] || { err "etcd is not running (kube-apiserver pid $api_pid is)"; log_tail etcd 5; }
		[ -n "$api_pid" ] || { err "kube-apiserver is not running (etcd pid $etcd_pid is)"; log_tail kube-apiserver 5; }
		die "the cluster in $CLUSTER_DIR is half up; start over with: e2e/cluster/cluster.sh down && e2e/cluster/cluster.sh up"
	fi
	if [ -e "$CLUSTER_DIR" ]; then
		[ -z "$(stray_pids)" ] || die "processes of $CLUSTER_DIR run without pid files; run: e2e/cluster/cluster.sh down"
		say "removing stale state in $CLUSTER_DIR (nothing of it runs)"
		rm -rf "$CLUSTER_DIR"
	fi
	"$HERE/build.sh"
	mkdir -p "$CLUSTER_DIR"
	if [ -n "${CLUSTER_NODE_ADDRESS:-}" ]; then
		[[ $CLUSTER_NODE_ADDRESS =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
			die "CLUSTER_NODE_ADDRESS='$CLUSTER_NODE_ADDRESS' is not an IPv4 address"
		[[ ${CLUSTER_EGRESS_SOCKET:-} == /* ]] ||
			die "CLUSTER_EGRESS_SOCKET='${CLUSTER_EGRESS_SOCKET:-}' is not an absolute path (needed with CLUSTER_NODE_ADDRESS)"
		printf 'CLUSTER_NODE_ADDRESS=%q\nCLUSTER_EGRESS_SOCKET=%q\n' "$CLUSTER_NODE_ADDRESS" "$CLUSTER_EGRESS_SOCKET" >"$CLUSTER_DIR/node-mode"
		"$HERE/certs.sh" all "$PKI" "$SERVICE_IP" "IP:$CLUSTER_NODE_ADDRESS"
		"$HERE/certs.sh" client "$PKI" apiserver-kubelet-client kube-apiserver-kubelet-client >/dev/null
	else
		"$HERE/certs.sh" all "$PKI" "$SERVICE_IP"
	fi
	pick_port ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT
	save_ports
	say "starting etcd $ETCD_VERSION on 127.0.0.1:$ETCD_CLIENT_PORT (state $CLUSTER_DIR)"
	if ! start_etcd; then
		stop etcd || true
		die "etcd did not start; the state dir is left for a look (cluster.sh down removes it)"
	fi
	say "starting kube-apiserver $KUBERNETES_VERSION on 127.0.0.1:$APISERVER_PORT"
	if ! start_apiserver; then
		stop kube-apiserver || true
		stop etcd || true
		die "kube-apiserver did not become ready; the state dir is left for a look (cluster.sh down removes it)"
	fi
	write_client_config
	if ! wait_bootstrap; then
		log_tail kube-apiserver
		cmd_down_processes || true
		die "the apiserver did not finish bootstrapping; the state dir is left for a look (cluster.sh down removes it)"
	fi
	say "up in $(since "$start"): https://127.0.0.1:$APISERVER_PORT; use it with: source $CLUSTER_DIR/env"
}

# cmd_down_processes: stops the apiserver, then etcd, then anything else of this state dir.
cmd_down_processes() {
	local rc=0 pid
	stop kube-apiserver || rc=1
	stop etcd || rc=1
	for pid in $(stray_pids); do
		say "stopping pid $pid of $CLUSTER_DIR, which had no pid file"
		stop_pid stray "$pid" || rc=1
	done
	[ -z "$(stray_pids)" ] || {
		err "processes of $CLUSTER_DIR are still running: $(stray_pids | tr '\n' ' ')"
		rc=1
	}
	return "$rc"
}

cmd_down() {
	local start=$EPOCHREALTIME
	if ! [ -e "$CLUSTER_DIR" ]; then
		[ -z "$(stray_pids)" ] || cmd_down_processes || die "could not stop every process"
		say "no cluster in $CLUSTER_DIR; nothing to do"
		return 0
	fi
	cmd_down_processes || die "could not stop every process; $CLUSTER_DIR is left in place"
	if [ "${KEEP_STATE:-0}" = 1 ]; then
		say "down in $(since "$start"); state kept in $CLUSTER_DIR (KEEP_STATE=1)"
	else
		rm -rf "$CLUSTER_DIR"
		say "down in $(since "$start"); removed $CLUSTER_DIR"
	fi
}

cmd_status() {
	local rc=0 pid
	if ! [ -r "$CLUSTER_DIR/ports" ]; then
		say "no cluster in $CLUSTER_DIR"
		return 1
	fi
	load_ports
	if pid=$(owned_pid etcd); then
		if etcd_healthy; then
			say "etcd            pid $pid, https://127.0.0.1:$ETCD_CLIENT_PORT, healthy"
		else
			say "etcd            pid $pid, https://127.0.0.1:$ETCD_CLIENT_PORT, NOT healthy"
			rc=1
		fi
	else
		say "etcd            not running"
		rc=1
	fi
	if pid=$(owned_pid kube-apiserver); then
		if apiserver_ready; then
			say "kube-apiserver  pid $pid, https://127.0.0.1:$APISERVER_PORT, ready"
		else
			say "kube-apiserver  pid $pid, https://127.0.0.1:$APISERVER_PORT, NOT ready"
			rc=1
		fi
	else
		say "kube-apiserver  not running"
		rc=1
	fi
	say "state           $CLUSTER_DIR (KUBECONFIG=$CLUSTER_DIR/kubeconfig)"
	return "$rc"
}

cmd_env() {
	[ -r "$CLUSTER_DIR/env" ] || die "no cluster in $CLUSTER_DIR (run: e2e/cluster/cluster.sh up)"
	cat "$CLUSTER_DIR/env"
}

cmd_start_apiserver() {
	load_ports
	owned_pid etcd >/dev/null || die "etcd of $CLUSTER_DIR is not running; start over with: cluster.sh down && cluster.sh up"
	local start=$EPOCHREALTIME pid args
	if pid=$(owned_pid kube-apiserver); then
		say "kube-apiserver already running (pid $pid)"
		return 0
	fi
	# The same port as before: clients under test must find it again where they left it.
	mapfile -t args < <(apiserver_args)
	spawn kube-apiserver "${args[@]}"
	wait_healthy kube-apiserver apiserver_ready || die "kube-apiserver did not become ready again"
	say "kube-apiserver ready again in $(since "$start") on https://127.0.0.1:$APISERVER_PORT"
}

cmd_stop_apiserver() {
	load_ports
	owned_pid kube-apiserver >/dev/null || die "kube-apiserver of $CLUSTER_DIR is not running"
	stop kube-apiserver
}

# cmd_compact_etcd: through etcd's gRPC gateway (JSON over HTTPS on the client port, with the
# apiserver's client certificate), so no etcdctl has to be built. A physical compaction returns
# only once the old revisions are gone.
cmd_compact_etcd() {
	load_ports
	owned_pid etcd >/dev/null || die "etcd of $CLUSTER_DIR is not running"
	local url="https://127.0.0.1:$ETCD_CLIENT_PORT/v3/kv" tls rev out
	tls=(--cacert "$PKI/ca.crt" --cert "$PKI/etcd-client.crt" --key "$PKI/etcd-client.key")
	# A range read of any key returns the store's current revision in its header.
	out=$(curl -sSf --max-time 10 "${tls[@]}" -X POST "$url/range" -d '{"key":"AA==","count_only":true}') ||
		die "reading etcd's revision failed"
	rev=$(jq -r '.header.revision' <<<"$out")
	[[ $rev =~ ^[0-9]+$ ]] || die "unexpected answer from etcd: $out"
	out=$(curl -sS --max-time 60 "${tls[@]}" -X POST "$url/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}") ||
		die "compacting etcd failed"
	if grep -q 'required revision has been compacted' <<<"$out"; then
		say "etcd was already compacted at revision $rev"
		return 0
	fi
	! jq -e '.error // .message' <<<"$out" >/dev/null 2>&1 || die "etcd refused the compaction: $out"
	say "etcd compacted at revision $rev"
}

cmd_client_cert() {
	(($# >= 2)) || die "usage: cluster.sh client-cert NAME CN [ORG...]"
	[ -r "$PKI/ca.key" ] || die "no cluster in $CLUSTER_DIR (run: e2e/cluster/cluster.sh up)"
	"$HERE/certs.sh" client "$PKI" "$@"
}

case ${1:-} in
build) "$HERE/build.sh" build ;;
check | repin) "$HERE/build.sh" "$1" ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
start-apiserver) cmd_start_apiserver ;;
stop-apiserver) cmd_stop_apiserver ;;
restart-apiserver)
	cmd_stop_apiserver
	cmd_start_apiserver
	;;
compact-etcd) cmd_compact_etcd ;;
client-cert)
	shift
	cmd_client_cert "$@"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
