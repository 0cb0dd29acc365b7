# shellcheck shell=bash
# Sourced by e2e/test_chain_*.sh and demo/run.sh (after e2e/lib.sh): the whole Bulwark stack on
# the local control plane, the way a user meets it. One node (the node harness playing the
# kubelet, with real runc, cgroups and network namespaces), bulwark-webhook as the apiserver's
# admission webhook, bulwark-controller pushing over TLS, and a real bulwark-agent on that node
# (BPF, seccomp profiles, exec recording; not --simulate) holding a node-bound token.
#
#   stack_start PREFIX     namespace e2e-PREFIX-<random> in TEST_NS, then every component,
#                          waiting until each is ready; everything is torn down at exit
#   stack_agent_start      (re)starts the agent with the same node, dirs and token
#   stack_agent_kill [SIG] stops it (default TERM) and waits until it is gone
#   stack_metrics          the agent's /metrics
#   stack_pod_ready POD    true once POD of TEST_NS is Running (for wait_for)
#   stack_pod_wait POD [T] waits up to T seconds (60) for it to run; says why it did not
#   stack_pod_log POD [C]  the container's output so far (default container: the first)
#   stack_shell POD STEPS  an interactive shell in POD through a real pty (see below)
#   stack_stop             tears everything down (also registered to run at exit)
#   stack_detach FILE      leaves it running after exit; FILE is a script that stops it
#
# After stack_start: TEST_NS, HARNESS_NODE, HARNESS_* (e2e/harness/harness.sh), WEBHOOK_*
# (e2e/webhook/webhook.sh), CTRL_DIR and CTRL_URL[stack] (e2e/controller_env.sh), and
# STACK_DIR, STACK_AGENT_PID, AGENT_LOG, AGENT_URL (http://127.0.0.1:PORT, /metrics /healthz /readyz),
# AGENT_STATE (state.json, flows.jsonl), AGENT_RECORDINGS, AGENT_BPFFS, PROFILE_DIR (where the
# agent writes seccomp profiles on the node).
#
# The components reuse the helpers the component e2e tests use (harness_start, webhook_start,
# ctrl_setup/ctrl_start), so the chain runs each the way its own tests prove it; each runs as
# its ServiceAccount with the RBAC of deploy/ (moved into the test namespace). The agent's
# pins go to a bpffs directory of this node only, and `bulwark-agent --cleanup` with the same
# directories removes them at the end, so the e2e tier's leftover check sees nothing.

# shellcheck source=harness/harness.sh
source "$BULWARK_ROOT/e2e/harness/harness.sh"
# shellcheck source=webhook/webhook.sh
source "$BULWARK_ROOT/e2e/webhook/webhook.sh"
# shellcheck source=controller_env.sh
source "$BULWARK_ROOT/e2e/controller_env.sh"

AGENT_BIN=${AGENT_BIN:-$BUILD/bin/bulwark-agent}
LAUNCH_BIN=${LAUNCH_BIN:-$BUILD/bin/bulwark-launch}
# shellcheck disable=SC2034 # read by the tests and the demo
STACK_DIR='' STACK_NODE_IP='' STACK_AGENT_PID='' AGENT_LOG='' AGENT_URL='' AGENT_STATE='' AGENT_RECORDINGS=''
# shellcheck disable=SC2034
AGENT_BPFFS='' PROFILE_DIR=''
_STACK_UP=0 _STACK_FIRST_HANDLER=0

# stack_progress MSG: one line per step, so a slow start shows where it is.
stack_progress() { printf '   stack: %s\n' "$*"; }

# _stack_launcher_image: the image the webhook's init container copies bulwark-launch from:
# busybox (for cp) plus the static launcher at the path the webhook is told.
# Not under STACK_DIR, which holds tokens and stays 0700.
_stack_launcher_image() {
	local dir
	dir=$(mktemp -d /tmp/bulwark-launcher-image.XXXXXX)
	[ "${KEEP_STACK_DIR:-0}" = 1 ] || on_exit "rm -rf '$dir'"
	mkdir -p "$dir/usr/local/bin"
	# Copied with its modes: the image root must be traversable by the init container's
	# non-root user.
	chmod 755 "$dir" "$dir/usr" "$dir/usr/local" "$dir/usr/local/bin"
	cp "$LAUNCH_BIN" "$dir/usr/local/bin/bulwark-launch"
	HARNESS_IMAGES="bulwark=$dir ${HARNESS_IMAGES:-}"
}

# _agent_url SINCE: the metrics address the agent logged after line SINCE of its log.
_agent_url() {
	local port
	port=$(tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep '"msg":"serving metrics and health"' |
		tail -n 1 | jq -r .port) && [ -n "$port" ] && echo "http://127.0.0.1:$port"
}

# _stack_rbac COMPONENT SA: deploy/COMPONENT/rbac.yaml moved into TEST_NS (namespaced objects
# into it, cluster-scoped names suffixed with it, subjects pointed at it; ServiceAccounts are
# created, not applied, since ctrl_setup may have made one already), and a kubeconfig in
# STACK_DIR/COMPONENT.kubeconfig that authenticates as SA. The components then run with exactly
# the permissions a real install grants them, so the chain also proves the RBAC is enough.
_stack_rbac() {
	local component=$1 sa=$2 objs token name
	objs=$(kubectl create --dry-run=client -f "$BULWARK_ROOT/deploy/$component/rbac.yaml" -o json |
		jq -s --arg ns "$TEST_NS" '
		{apiVersion: "v1", kind: "List", items: map(select(.kind != "ServiceAccount"))} | .items |= map(
			# Bindings to kube-system Roles (the front-proxy CA reader) stay there, named
			# after the test namespace.
			(if .metadata.namespace == "kube-system" then .metadata.name += "-" + $ns
			 elif .metadata.namespace then .metadata.namespace = $ns else . end)
			| (if .kind == "ClusterRole" or .kind == "ClusterRoleBinding"
			   then .metadata.name += "-" + $ns else . end)
			| (if .kind == "ClusterRoleBinding" then .roleRef.name += "-" + $ns else . end)
			| (if .subjects then .subjects |= map(.namespace = $ns) else . end))') ||
		fail "cannot read deploy/$component/rbac.yaml"
	kubectl -n "$TEST_NS" get serviceaccount "$sa" >/dev/null 2>&1 ||
		kubectl -n "$TEST_NS" create serviceaccount "$sa" >/dev/null || fail "cannot create SA $sa"
	kubectl apply -f - >/dev/null <<<"$objs" || fail "cannot create the $component's RBAC"
	on_exit "kubectl delete clusterrole,clusterrolebinding $sa-$TEST_NS --ignore-not-found >/dev/null 2>&1"
	for name in $(jq -r '.items[] | select(.metadata.namespace == "kube-system") | .metadata.name' <<<"$objs"); do
		on_exit "kubectl -n kube-system delete rolebinding $name --ignore-not-found >/dev/null 2>&1"
	done
	token=$(kubectl -n "$TEST_NS" create token "$sa" --duration=2h) ||
		fail "cannot get a token for ServiceAccount $sa"
	cat >"$STACK_DIR/$component.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$APISERVER_URL", certificate-authority: "$KUBE_CA_FILE"}}]
users: [{name: $sa, user: {token: "$token"}}]
contexts: [{name: $sa, context: {cluster: local, user: $sa, namespace: "$TEST_NS"}}]
current-context: $sa
KC
}

_agent_ready() {
	local url
	kill -0 "$STACK_AGENT_PID" 2>/dev/null && url=$(_agent_url "$1") && curl -sf "$url/readyz" >/dev/null
}

# stack_agent_start: the agent for HARNESS_NODE; returns once it applied the controller's first
# snapshot (/readyz). Restarts append to the same log, so a test can read one history.
stack_agent_start() {
	local since=0
	[ ! -e "$AGENT_LOG" ] || since=$(wc -l <"$AGENT_LOG")
	# Without CAP_DAC_READ_SEARCH, as in the DaemonSet: no open_by_handle_at(2).
	setpriv --inh-caps=-dac_read_search --bounding-set=-dac_read_search \
		"$AGENT_BIN" --node "$HARNESS_NODE" --controller "${CTRL_URL[stack]}" \
		--controller-ca "$CTRL_DIR/ca.crt" --token-file "$STACK_DIR/agent.token" \
		--cgroup-root "$HARNESS_CGROUP_ROOT" --kubelet-root "$HARNESS_KUBELET_ROOT" \
		--bpffs "$AGENT_BPFFS" --state-dir "$AGENT_STATE" --recordings-dir "$AGENT_RECORDINGS" \
		--runtime-state-dirs "$HARNESS_STATE/state/runc" \
		--kubeconfig "$STACK_DIR/agent.kubeconfig" --metrics-listen 127.0.0.1:0 \
		--recordings-listen 127.0.0.1:0 -v "${STACK_AGENT_V:-2}" \
		>>"$AGENT_LOG" 2>&1 &
	STACK_AGENT_PID=$!
	disown # stopped by stack_stop without bash reporting it
	# Only this start's lines count: a restarted agent serves on another port.
	wait_for 60 _agent_ready "$since" || {
		tail -n 20 "$AGENT_LOG" | sed 's/^/  | /' >&2
		fail "bulwark-agent on $HARNESS_NODE never became ready"
	}
	AGENT_URL=$(_agent_url "$since")
}

stack_agent_kill() {
	[ -n "$STACK_AGENT_PID" ] || return 0
	kill "-${1:-TERM}" "$STACK_AGENT_PID" 2>/dev/null
	wait_for 20 bash -c "! kill -0 $STACK_AGENT_PID 2>/dev/null" || fail "bulwark-agent did not stop"
	STACK_AGENT_PID=
}

stack_metrics() { curl -sf "$AGENT_URL/metrics"; }

stack_pod_ready() {
	[ "$(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.status.phase}')" = Running ]
}

# stack_pod_wait POD [TIMEOUT]: until POD runs; fails at once, with its status and the output of
# its containers, if it ended instead.
stack_pod_wait() {
	local deadline=$((SECONDS + ${2:-60})) phase c
	while phase=$(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.status.phase}'); do
		case $phase in
		Running) return 0 ;;
		Failed | Succeeded) break ;;
		esac
		((SECONDS < deadline)) || break
		sleep 0.2
	done
	printf 'pod %s is %s: %s\n' "$1" "${phase:-missing}" \
		"$(kubectl -n "$TEST_NS" get pod "$1" -o json | jq -c .status.containerStatuses)" >&2
	for c in $(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.spec.containers[*].name}'); do
		stack_pod_log "$1" "$c" 2>/dev/null | tail -n 5 | sed "s/^/  | $c: /" >&2
	done
	return 1
}

stack_pod_log() {
	local uid c=${2:-}
	uid=$(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.metadata.uid}') || return 1
	[ -n "$c" ] || c=$(kubectl -n "$TEST_NS" get pod "$1" -o jsonpath='{.spec.containers[0].name}')
	cat "$HARNESS_STATE/state/pods/$uid/logs/$c.log"
}

# stack_shell POD [--wait TEXT | --type LINE]...: an interactive shell in POD's first container
# through a real pty (the harness's exec -t, as the kubelet runs kubectl exec -it), driven by
# e2e/chain/pty_session.py: waits for the prompt, performs the steps (each --type after the
# shell prompts again), then types exit. Prints what the terminal showed.
stack_shell() {
	local pod=$1 steps=() typed=0
	shift
	# Like a person, type the next command only once the shell prompts again.
	while (($#)); do
		if [ "$1" = --type ] && ((typed++)); then
			steps+=(--wait "# ")
		fi
		steps+=("$1" "$2")
		shift 2
	done
	((typed == 0)) || steps+=(--wait "# ")
	python3 "$BULWARK_ROOT/e2e/chain/pty_session.py" --wait "# " "${steps[@]}" --type exit -- \
		"$HARNESS_BIN" --state-dir "$HARNESS_STATE/state" --cgroup-root "$HARNESS_CGROUP_ROOT" \
		exec -t -i "$TEST_NS/$pod" -- sh
}

# _node_ip: this host's first global IPv4 address. The API server refuses to proxy to loopback
# (Endpoints validation), so the aggregated API is reached on it; the traffic stays on this
# host all the same.
_node_ip() {
	ip -4 -o addr show scope global up | awk 'NR == 1 {split($4, a, "/"); print a[1]}' | grep .
}

_api_available() {
	[ "$(kubectl get apiservice v1.recordings.bulwark.dev \
		-o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ]
}

# _stack_recordings_api: the APIService v1.recordings.bulwark.dev in front of the stack's
# controller, as deploy/controller/deployment.yaml has it, except that the Service has no
# selector (no controller pod here) and an Endpoints object of our own points at the
# controller's --api-listen address. Removed before the controller stops.
_stack_recordings_api() {
	local log=$CTRL_DIR/stack.log port
	wait_for 20 grep -q '"msg":"serving the recordings API"' "$log" ||
		fail "the controller does not serve the recordings API: $(tail -n 5 "$log")"
	port=$(grep '"msg":"serving the recordings API"' "$log" | tail -n 1 | jq -r .port)
	kubectl apply -f - >/dev/null 2>&1 <<EOF || fail "cannot register the recordings API"
apiVersion: v1
kind: Service
metadata: {name: bulwark-controller, namespace: $TEST_NS}
spec:
  ports: [{name: api, port: 443, targetPort: $port}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: bulwark-controller, namespace: $TEST_NS}
subsets: [{addresses: [{ip: $STACK_NODE_IP}], ports: [{name: api, port: $port}]}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.recordings.bulwark.dev, labels: {bulwark.dev/e2e: "true"}}
spec:
  group: recordings.bulwark.dev
  version: v1
  service: {namespace: $TEST_NS, name: bulwark-controller, port: 443}
  caBundle: $(base64 -w0 "$CTRL_DIR/ca.crt")
  groupPriorityMinimum: 1000
  versionPriority: 15
EOF
	# Runs before the controller's own handler kills it: an APIService without a server would
	# make every later discovery (kubectl) warn.
	on_exit "kubectl delete apiservice v1.recordings.bulwark.dev --ignore-not-found >/dev/null 2>&1"
	wait_for 30 _api_available || fail "APIService v1.recordings.bulwark.dev never became Available: $(kubectl get apiservice v1.recordings.bulwark.dev -o json | jq -c .status)"
}

stack_start() {
	_STACK_FIRST_HANDLER=${#_ON_EXIT[@]}
	[ -x "$AGENT_BIN" ] || fail "$AGENT_BIN is not built (make test-build)"
	[ -x "$LAUNCH_BIN" ] || fail "$LAUNCH_BIN is not built (make test-build)"
	test_namespace "$1"
	STACK_DIR=$(mktemp -d /tmp/bulwark-stack.XXXXXX)
	[ "${KEEP_STACK_DIR:-0}" = 1 ] || on_exit "rm -rf '$STACK_DIR'"
	_stack_launcher_image

	stack_progress "node: bulwark-node-harness (runc, kubelet cgroups, a netns per pod)"
	# shellcheck disable=SC2119 # a node name of its own
	harness_start
	stack_progress "node $HARNESS_NODE is Ready"
	AGENT_STATE=$HARNESS_STATE/agent
	AGENT_RECORDINGS=$HARNESS_STATE/recordings
	AGENT_BPFFS=/sys/fs/bpf/bulwark-$HARNESS_NODE # bulwark-e2e-node-…
	AGENT_LOG=$STACK_DIR/agent.log
	# shellcheck disable=SC2034 # read by the tests and the demo
	PROFILE_DIR=$HARNESS_KUBELET_ROOT/seccomp/bulwark
	# Registered before the other components start, so it runs after they were stopped by
	# their own handlers; it is idempotent.
	on_exit stack_stop
	_STACK_UP=1

	stack_progress "bulwark-webhook: admission for $TEST_NS (CRDs, RBAC, self-managed TLS)"
	# shellcheck disable=SC2119 # no extra flags
	webhook_start
	stack_progress "bulwark-webhook is ready at $WEBHOOK_URL"

	stack_progress "bulwark-controller: TLS push stream, agents authenticated by TokenReview"
	ctrl_setup
	_stack_rbac controller bulwark-controller
	local api_args=()
	if [ "${STACK_RECORDINGS_API:-0}" = 1 ]; then
		STACK_NODE_IP=$(_node_ip) || fail "the recordings API needs a non-loopback address on this host"
		api_args=(--api-listen "$STACK_NODE_IP:0")
	fi
	KUBECONFIG=$STACK_DIR/controller.kubeconfig ctrl_start stack "${api_args[@]}"
	stack_progress "bulwark-controller serves agents at ${CTRL_URL[stack]}"
	if [ "${STACK_RECORDINGS_API:-0}" = 1 ]; then
		_stack_recordings_api
		stack_progress "the API server serves recordings.bulwark.dev/v1 from bulwark-controller"
	fi

	stack_progress "bulwark-agent on $HARNESS_NODE with a token bound to the Node object"
	_stack_rbac agent bulwark-agent
	kubectl -n "$TEST_NS" create token bulwark-agent --bound-object-kind Node \
		--bound-object-name "$HARNESS_NODE" --duration 2h >"$STACK_DIR/agent.token" ||
		fail "cannot create a node-bound token for the agent"
	stack_agent_start
	stack_progress "bulwark-agent is connected and synced ($AGENT_URL)"
}

# stack_stop: the agent first (SIGTERM leaves enforcement in place), then --cleanup with the
# same directories so no pin, profile or state survives, then the rest in reverse start order.
stack_stop() {
	[ "$_STACK_UP" = 1 ] || return 0
	_STACK_UP=0
	stack_agent_kill TERM
	"$AGENT_BIN" --cleanup --node "$HARNESS_NODE" --cgroup-root "$HARNESS_CGROUP_ROOT" \
		--kubelet-root "$HARNESS_KUBELET_ROOT" --bpffs "$AGENT_BPFFS" --state-dir "$AGENT_STATE" \
		--recordings-dir "$AGENT_RECORDINGS" >>"$AGENT_LOG" 2>&1 ||
		printf 'warning: bulwark-agent --cleanup failed: %s\n' "$(tail -n 3 "$AGENT_LOG")" >&2
	[ -n "${CTRL_PID[stack]:-}" ] && kill -TERM "${CTRL_PID[stack]}" 2>/dev/null
	webhook_stop
	harness_stop
}

# stack_detach FILE: leaves the stack running when this shell exits (KEEP=1 in the demo) and
# writes FILE, a script that stops it later: the exit handlers stack_start registered, with the
# functions and variables they use.
stack_detach() {
	local file=$1 i
	{
		printf '#!/usr/bin/env bash\n# Stops the Bulwark stack of namespace %s (written by stack_detach).\n' "$TEST_NS"
		declare -p BUILD BULWARK_ROOT KUBECTL KUBECONFIG TEST_NS
		# shellcheck disable=SC2046 # variable names, split on purpose
		declare -p $(compgen -v | grep -E '^(HARNESS_|WEBHOOK_|STACK_|AGENT_|CTRL_|PROFILE_DIR|_STACK_)')
		declare -f
		for ((i = ${#_ON_EXIT[@]} - 1; i >= _STACK_FIRST_HANDLER; i--)); do
			printf '%s\n' "${_ON_EXIT[i]}"
		done
	} >"$file" || fail "cannot write $file"
	chmod 700 "$file"
	_ON_EXIT=("${_ON_EXIT[@]:0:_STACK_FIRST_HANDLER}")
}
