# shellcheck shell=bash
# Sourced by e2e/test_webhook_*.sh (after e2e/lib.sh and test_namespace): runs bulwark-webhook on
# loopback as the local apiserver's admission webhook for the test's namespace only, with
# self-managed certificates (the caBundle patched into this test's own webhook configurations).
#
#   webhook_start [EXTRA FLAGS...]   sets WEBHOOK_URL, WEBHOOK_DIR (tls.crt, tls.key, ca.crt,
#                                    webhook.log), WEBHOOK_PID, WEBHOOK_NAME
#   webhook_curl PATH [CURL ARGS...] HTTPS to the webhook, trusting its CA
#
# The webhook runs as a ServiceAccount of the test namespace bound to deploy/webhook/rbac.yaml
# (renamed into the namespace), so the tests also prove that RBAC is enough. Everything is
# stopped and removed when the test exits.

WEBHOOK_BIN=${WEBHOOK_BIN:-$BUILD/bin/bulwark-webhook}

_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

webhook_install_crds() {
	kubectl apply -f "$BULWARK_ROOT/crds/bulwarkpolicy.yaml" -f "$BULWARK_ROOT/crds/execsession.yaml" \
		>/dev/null || fail "cannot install the CRDs"
	kubectl wait --for=condition=Established --timeout=30s crd/bulwarkpolicies.bulwark.dev \
		crd/execsessions.bulwark.dev >/dev/null || fail "the CRDs are not Established"
	wait_for 15 kubectl get bwp -A || fail "bulwarkpolicies are not served"
	wait_for 15 kubectl get bwes -A || fail "execsessions are not served"
}

webhook_curl() {
	local path=$1
	shift
	curl -sS --max-time 10 --cacert "$WEBHOOK_DIR/ca.crt" "$@" "$WEBHOOK_URL$path"
}

_webhook_ready() {
	kill -0 "$WEBHOOK_PID" || return 1
	webhook_curl /readyz -f >/dev/null || return 1
	local kind
	for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
		# Every webhook of the configuration carries the bundle.
		kubectl get "$kind" "$WEBHOOK_NAME" -o json |
			jq -e '[.webhooks[].clientConfig.caBundle // ""] | all(length > 0)' >/dev/null ||
			return 1
	done
}

webhook_stop() {
	[ -n "${WEBHOOK_PID:-}" ] || return 0
	kill -TERM "$WEBHOOK_PID" 2>/dev/null
	local _
	for _ in $(seq 50); do
		kill -0 "$WEBHOOK_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$WEBHOOK_PID" 2>/dev/null
	wait "$WEBHOOK_PID" 2>/dev/null
	WEBHOOK_PID=
}

# _webhook_rbac: deploy/webhook/rbac.yaml moved into $TEST_NS (cluster-scoped names suffixed, the
# webhook configurations' resourceNames renamed), and a kubeconfig with the ServiceAccount's
# token in $WEBHOOK_DIR/kubeconfig.
_webhook_rbac() {
	local objs
	objs=$(kubectl create --dry-run=client -f "$BULWARK_ROOT/deploy/webhook/rbac.yaml" -o json |
		jq -s --arg ns "$TEST_NS" --arg cfg "$WEBHOOK_NAME" '
		{apiVersion: "v1", kind: "List", items: .} | .items |= map(
			(if .metadata.namespace then .metadata.namespace = $ns else . end)
			| (if .kind == "ClusterRole" or .kind == "ClusterRoleBinding"
			   then .metadata.name += "-" + $ns else . end)
			| (if .kind == "ClusterRoleBinding" then .roleRef.name += "-" + $ns else . end)
			| (if .subjects then .subjects |= map(.namespace = $ns) else . end)
			| (if .rules then .rules |= map(if .resourceNames == ["bulwark"]
			   then .resourceNames = [$cfg] else . end) else . end))') ||
		fail "cannot read deploy/webhook/rbac.yaml"
	kubectl apply -f - >/dev/null <<<"$objs" || fail "cannot create the webhook's RBAC"
	on_exit "kubectl delete clusterrole,clusterrolebinding bulwark-webhook-$TEST_NS --ignore-not-found >/dev/null 2>&1"
	local token
	token=$(kubectl -n "$TEST_NS" create token bulwark-webhook --duration=2h) ||
		fail "cannot get a token for the webhook's ServiceAccount"
	cat >"$WEBHOOK_DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$APISERVER_URL", certificate-authority: "$KUBE_CA_FILE"}}]
users: [{name: webhook, user: {token: "$token"}}]
contexts: [{name: webhook, context: {cluster: local, user: webhook, namespace: "$TEST_NS"}}]
current-context: webhook
KC
}

webhook_start() {
	[ -x "$WEBHOOK_BIN" ] || fail "$WEBHOOK_BIN is not built (make test-build)"
	[ -n "${TEST_NS:-}" ] || fail "webhook_start needs test_namespace first"
	webhook_install_crds
	local id port
	id=${TEST_NS#e2e-}
	port=$(_free_port)
	WEBHOOK_NAME=bulwark-$TEST_NS
	WEBHOOK_URL=https://127.0.0.1:$port
	WEBHOOK_DIR=$(mktemp -d /tmp/bulwark-webhook-e2e.XXXXXX)
	# Registered first, so it runs last: after the webhook stopped, whatever failed before.
	[ "${KEEP_WEBHOOK_DIR:-0}" = 1 ] || on_exit "rm -rf '$WEBHOOK_DIR'"
	kubectl label namespace "$TEST_NS" "bulwark.dev/webhook-e2e=$id" --overwrite >/dev/null ||
		fail "cannot label $TEST_NS"
	sed -e "s|@NAME@|$WEBHOOK_NAME|g" -e "s|@URL@|$WEBHOOK_URL|g" -e "s|@ID@|$id|g" \
		"$BULWARK_ROOT/e2e/webhook/configurations.yaml" | kubectl apply -f - >/dev/null ||
		fail "cannot create the webhook configurations"
	on_exit "kubectl delete mutatingwebhookconfiguration,validatingwebhookconfiguration $WEBHOOK_NAME --ignore-not-found >/dev/null 2>&1"
	_webhook_rbac
	"$WEBHOOK_BIN" --kubeconfig "$WEBHOOK_DIR/kubeconfig" --listen "127.0.0.1:$port" \
		--tls-cert "$WEBHOOK_DIR/tls.crt" --tls-key "$WEBHOOK_DIR/tls.key" \
		--ca-file "$WEBHOOK_DIR/ca.crt" --self-signed-secret "$TEST_NS/bulwark-webhook-tls" \
		--cert-ip 127.0.0.1 --mutating-webhook-config "$WEBHOOK_NAME" \
		--validating-webhook-config "$WEBHOOK_NAME" --cert-check-interval 1s \
		--launcher-image "${WEBHOOK_LAUNCHER_IMAGE:-bulwark:e2e}" \
		--launcher-path "${WEBHOOK_LAUNCHER_PATH:-/usr/local/bin/bulwark-launch}" \
		"$@" -v 2 >"$WEBHOOK_DIR/webhook.log" 2>&1 &
	WEBHOOK_PID=$!
	on_exit webhook_stop
	wait_for 30 _webhook_ready || {
		sed 's/^/  | /' "$WEBHOOK_DIR/webhook.log" | tail -n 20 >&2
		fail "bulwark-webhook never became ready"
	}
}
