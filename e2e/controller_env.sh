# shellcheck shell=bash
# Sourced by e2e/test_controller_*.sh after lib.sh: runs bulwark-controller and simulated
# agents (build/e2e/ctrl-agent, e2e/tools/ctrl-agent.c) as processes against the local control
# plane, with a throwaway CA, node objects and node-bound ServiceAccount tokens of their own.
#
#   ctrl_setup               # CTRL_DIR, the CA + serving cert, the CRDs, SA bulwark-agent in $TEST_NS
#   ctrl_node NODE           # a Node object (removed at exit) and CTRL_DIR/tokens/NODE.token
#   ctrl_start NAME [ARGS]   # a controller; its push URL in CTRL_URL[NAME], metrics in CTRL_METRICS[NAME]
#   agent_start NAME ARGS    # ctrl-agent --controller URL ... printing events to CTRL_DIR/NAME.out
CONTROLLER=$BUILD/bin/bulwark-controller
CTRL_AGENT=$BUILD/e2e/ctrl-agent
[ -x "$CONTROLLER" ] || fail "$CONTROLLER is not built (make test-build)"

declare -A CTRL_PID CTRL_URL CTRL_METRICS AGENT_PID
CTRL_DIR=

ctrl_setup() {
	CTRL_DIR=$(mktemp -d /tmp/bulwark-ctrl-e2e.XXXXXX)
	on_exit "rm -rf $CTRL_DIR"
	mkdir -p "$CTRL_DIR/tokens"
	(
		cd "$CTRL_DIR" &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout ca.key -out ca.crt -days 1 -subj /CN=bulwark-e2e-ca &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
				-out tls.csr -subj /CN=bulwark-controller &&
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:bulwark-controller.%s.svc\n' \
				"$TEST_NS" >ext &&
			openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out tls.crt -days 1 -extfile ext
	) >"$CTRL_DIR/openssl.log" 2>&1 || fail "cannot make certificates: $(cat "$CTRL_DIR/openssl.log")"
	kubectl apply -f "$BULWARK_ROOT/crds/bulwarkpolicy.yaml" >/dev/null || fail "cannot install the CRD"
	kubectl wait --for=condition=Established --timeout=30s crd/bulwarkpolicies.bulwark.dev >/dev/null ||
		fail "the CRD is not established"
	wait_for 15 kubectl get bwp -A || fail "bulwarkpolicies are not served"
	kubectl -n "$TEST_NS" create serviceaccount bulwark-agent >/dev/null || fail "cannot create the agent SA"
}

# ctrl_node NODE: the Node object a bound token needs, and that token.
ctrl_node() {
	kubectl create -f - >/dev/null <<EOF || fail "cannot create node $1"
apiVersion: v1
kind: Node
metadata: {name: $1, labels: {bulwark.dev/e2e: "true"}}
EOF
	on_exit "kubectl delete node $1 --wait=false >/dev/null 2>&1"
	kubectl -n "$TEST_NS" create token bulwark-agent --bound-object-kind Node \
		--bound-object-name "$1" >"$CTRL_DIR/tokens/$1.token" || fail "cannot create a token for $1"
}

# ctrl_start NAME [ARGS...]: a controller on free loopback ports, accepting the test's agent SA.
ctrl_start() {
	local name=$1 log
	shift
	log=$CTRL_DIR/$name.log
	"$CONTROLLER" --kubeconfig "$KUBECONFIG" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
		--tls-cert "$CTRL_DIR/tls.crt" --tls-key "$CTRL_DIR/tls.key" \
		--agent-service-account "$TEST_NS:bulwark-agent" -v 2 "$@" >>"$log" 2>&1 &
	CTRL_PID[$name]=$!
	disown # killed at exit without bash reporting it
	on_exit "kill -9 ${CTRL_PID[$name]} 2>/dev/null"
	wait_for 20 grep -q '"msg":"serving metrics"' "$log" || fail "controller $name did not start: $(tail -n 5 "$log")"
	CTRL_URL[$name]=https://127.0.0.1:$(grep '"msg":"serving agents"' "$log" | tail -n 1 | jq -r .port)
	CTRL_METRICS[$name]=http://127.0.0.1:$(grep '"msg":"serving metrics"' "$log" | tail -n 1 | jq -r .port)
}

# ctrl_kill NAME [SIGNAL]: stops it and waits for it to be gone.
ctrl_kill() {
	kill "-${2:-TERM}" "${CTRL_PID[$1]}" 2>/dev/null
	wait_for 20 bash -c "! kill -0 ${CTRL_PID[$1]} 2>/dev/null" || fail "controller $1 did not stop"
}

ctrl_ready() { curl -sf "${CTRL_METRICS[$1]}/readyz" >/dev/null; }

# agent_start NAME URL [ctrl-agent ARGS...]
agent_start() {
	local name=$1 url=$2
	shift 2
	[ -x "$CTRL_AGENT" ] || fail "$CTRL_AGENT is not built (make test-build)"
	"$CTRL_AGENT" --controller "$url" --ca "$CTRL_DIR/ca.crt" --token-dir "$CTRL_DIR/tokens" \
		"$@" >"$CTRL_DIR/$name.out" 2>"$CTRL_DIR/$name.err" &
	AGENT_PID[$name]=$!
	disown
	on_exit "kill -9 ${AGENT_PID[$name]} 2>/dev/null"
}

# pod NAME NODE LABELS: a pod bound to NODE (no scheduler runs) in the test namespace.
pod() {
	kubectl -n "$TEST_NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {$3}}
spec:
  nodeName: $2
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
EOF
}

# status POLICY JQ: a field of the policy's status.
status() { kubectl -n "$TEST_NS" get bwp "$1" -o json | jq -r ".status$2"; }
condition() { kubectl -n "$TEST_NS" get bwp "$1" -o json | jq -r ".status.conditions[] | select(.type==\"$2\") | .$3"; }
# status_is POLICY JQ VALUE: for wait_for.
status_is() { [ "$(status "$1" "$2")" = "$3" ]; }
condition_is() { [ "$(condition "$1" "$2" "$3")" = "$4" ]; }

# events AGENT EV POD: how many EV events the agent printed for POD (namespace/name).
events() { jq -c "select(.ev==\"$2\" and .pod==\"$TEST_NS/$3\")" "$CTRL_DIR/$1.out" | wc -l; }
has_event() { [ "$(events "$1" "$2" "$3")" -ge 1 ]; }
