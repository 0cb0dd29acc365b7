#!/usr/bin/env bash
# bulwark-webhook as the real apiserver's admission webhook (over HTTPS on loopback, trusted
# through the caBundle it patched in itself): a selected pod comes back from `kubectl apply`
# mutated (seccomp Localhost profile named as lib/policy names it, Landlock launcher, ruleset),
# an unselected pod is untouched, impossible pods and invalid policies are refused with messages
# that name the field, what the webhook wrote cannot be edited afterwards, `kubectl exec` reaches
# the CONNECT review (an ExecSession with the caller's identity; an allowExec: false policy
# refuses it by name), and malformed, oversized and slow requests get 4xx or a timeout while the
# server stays up.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=webhook/webhook.sh
source "$(dirname "$0")/webhook/webhook.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"
POLICY_CHECK=$BUILD/e2e/policy_check
[ -x "$POLICY_CHECK" ] || fail "$POLICY_CHECK is not built (make test-build)"
check() { tap_check "$@" || true; }

test_namespace webhook
ns=$TEST_NS
webhook_start --idle-timeout 3
tap_ok "webhook ready; caBundle patched into both configurations"

# ---- policies ---------------------------------------------------------------------------------
kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot apply the policies"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp: {deny: [{syscalls: [ptrace]}]}
  landlock:
    filesystem:
      - {paths: [/bin, /lib, /usr], access: [execute, read_file, read_dir]}
  execRecording: {enabled: true}
---
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: lockdown}
spec:
  podSelector: {matchLabels: {app: vault}}
  execRecording: {enabled: true, allowExec: false}
EOF
tap_ok "valid policies are admitted"

# An invalid policy the CRD schema lets through (syscall names are known only to libseccomp):
# the webhook refuses it and the message names the field.
invalid_policy() {
	local out
	if out=$(kubectl -n "$ns" apply -f - 2>&1 <<EOF
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: typo}
spec:
  podSelector: {}
  seccomp: {allow: [read, notasyscall]}
EOF
	); then
		echo "accepted: $out"
		return 1
	fi
	echo "$out"
	grep -q 'admission webhook "policies.validate.bulwark.dev" denied the request' <<<"$out" &&
		grep -q 'spec.seccomp.allow\[1\]' <<<"$out" && grep -q notasyscall <<<"$out"
}
check "an invalid policy is refused, naming spec.seccomp.allow[1]" invalid_policy

# The webhook's informer must have seen the policies before pods are admitted against them.
wait_for 15 bash -c "curl -sS --cacert '$WEBHOOK_DIR/ca.crt' '$WEBHOOK_URL/metrics' |
	grep 'bulwark_webhook_policies{state=\"valid\"} 2' >/dev/null" || fail "the webhook never saw both policies"

# ---- a selected pod -------------------------------------------------------------------------------
cat >"$WEBHOOK_DIR/web.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: e2e-no-such-node
  containers:
    - name: app
      image: busybox
      command: [sh, -c]
      args: ["echo hello; sleep 3600"]
      securityContext: {seccompProfile: {type: Unconfined}}
EOF
apply_out=$(kubectl -n "$ns" apply -f "$WEBHOOK_DIR/web.yaml" 2>&1) || fail "pod web refused: $apply_out"
pod=$(kubectl -n "$ns" get pod web -o json)
# What lib/policy computes for this pod and these policies, as the controller would.
kubectl -n "$ns" get bwp web -o json >"$WEBHOOK_DIR/policy-web.json"
kubectl -n "$ns" get bwp lockdown -o json >"$WEBHOOK_DIR/policy-lockdown.json"
kubectl -n "$ns" create --dry-run=client -f "$WEBHOOK_DIR/web.yaml" -o json |
	jq --arg ns "$ns" '.metadata.namespace = $ns' >"$WEBHOOK_DIR/pod-web.json"
"$POLICY_CHECK" compile "$WEBHOOK_DIR/pod-web.json" "$WEBHOOK_DIR/policy-web.json" \
	"$WEBHOOK_DIR/policy-lockdown.json" >"$WEBHOOK_DIR/compiled.json" || fail "policy_check compile failed"
profile=$(jq -r '.seccomp.profileName' "$WEBHOOK_DIR/compiled.json")

pod_has() { jq -e "$1" <<<"$pod" >/dev/null || {
	echo "pod does not satisfy $1:"
	jq -c "${2:-.spec}" <<<"$pod"
	return 1
}; }
check "the profile name is lib/policy's (bulwark/<sha256>.json)" \
	bash -c "[[ '$profile' =~ ^bulwark/[0-9a-f]{64}\\.json$ ]]"
check "container: seccompProfile Localhost with that profile" pod_has \
	".spec.containers[0].securityContext.seccompProfile == {type: \"Localhost\", localhostProfile: \"$profile\"}"
check "pod-level seccompProfile is the same" pod_has \
	".spec.securityContext.seccompProfile.localhostProfile == \"$profile\""
check "Unconfined was overridden with a warning" grep -q "Unconfined overridden by Localhost $profile (Enforce policy $ns/web)" <<<"$apply_out"
check "command runs through bulwark-launch with the ruleset; args folded in" pod_has \
	'.spec.containers[0].command == ["/bulwark/bin/bulwark-launch","--ruleset","/bulwark/landlock/ruleset.json","--","sh","-c","echo hello; sleep 3600"] and (.spec.containers[0].args == null)'
check "init container copies the launcher from the launcher image" pod_has \
	'.spec.initContainers[0] | .name == "bulwark-launcher" and .image == "bulwark:e2e" and .command == ["cp","/usr/local/bin/bulwark-launch","/bulwark/bin/bulwark-launch"]'
check "launcher emptyDir and ruleset downwardAPI volumes" pod_has \
	'([.spec.volumes[] | select(.name == "bulwark-launcher") | .emptyDir] | length == 1) and ([.spec.volumes[] | select(.name == "bulwark-landlock") | .downwardAPI.items[0].fieldRef.fieldPath] == ["metadata.annotations['"'"'bulwark.dev/landlock-ruleset'"'"']"])'
check "the ruleset annotation is the compiled Landlock ruleset" bash -c \
	"[ \"\$(jq -cS '.metadata.annotations[\"bulwark.dev/landlock-ruleset\"] | fromjson' <<<'$(jq -c . <<<"$pod")')\" = \"\$(jq -cS .landlock '$WEBHOOK_DIR/compiled.json')\" ]"
gen=$(kubectl -n "$ns" get bwp web -o jsonpath='{.metadata.generation}')
check "provenance annotations: policies with generations, the hash" pod_has \
	".metadata.annotations[\"bulwark.dev/policies\"] == \"$ns/web@$gen\" and (.metadata.annotations[\"bulwark.dev/policy-hash\"] | test(\"^[0-9a-f]{64}$\"))" .metadata

# Re-admitting the stored pod (as a copy under a new name) changes nothing but the name.
readmit() {
	local again
	# kubectl rewrites its own last-applied annotation on create, so it is left out.
	local strip='del(.metadata.name, .metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields, .metadata.annotations["bulwark.dev/policy-hash"], .metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"], .status)'
	again=$(jq '.metadata.name = "web-again" | del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields, .metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"], .status)' <<<"$pod" |
		kubectl -n "$ns" create --dry-run=server -f - -o json 2>&1) || {
		echo "$again"
		return 1
	}
	diff <(jq -S "$strip" <<<"$pod") <(jq -S "$strip" <<<"$again")
}
check "re-admitting a mutated pod changes nothing" readmit

# ---- an unselected pod --------------------------------------------------------------------------
kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "pod plain refused"
apiVersion: v1
kind: Pod
metadata: {name: plain, labels: {app: other}}
spec:
  nodeName: e2e-no-such-node
  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
EOF
plain=$(kubectl -n "$ns" get pod plain -o json)
check "an unselected pod is untouched" jq -e \
	'(.metadata.annotations // {} | keys | map(select(startswith("bulwark.dev/"))) | length == 0) and .spec.initContainers == null and .spec.containers[0].command == ["sleep","3600"] and .spec.containers[0].securityContext.seccompProfile == null and .spec.securityContext.seccompProfile == null' <<<"$plain"

# ---- impossible pods and tampering -------------------------------------------------------------
no_command() {
	local out
	if out=$(kubectl -n "$ns" create -f - 2>&1 <<EOF
apiVersion: v1
kind: Pod
metadata: {name: nocmd, labels: {app: web}}
spec: {containers: [{name: app, image: busybox}]}
EOF
	); then
		echo "accepted: $out"
		return 1
	fi
	echo "$out"
	grep -q 'spec.containers\[0\].command: required' <<<"$out" && grep -q 'set command' <<<"$out"
}
check "a selected pod without command is refused under Enforce Landlock, saying what to set" no_command

tamper() {
	local out
	if out=$(kubectl -n "$ns" annotate pod web --overwrite 'bulwark.dev/landlock-ruleset={"layers":[]}' 2>&1); then
		echo "accepted: $out"
		return 1
	fi
	echo "$out"
	grep -q 'pods.validate.bulwark.dev' <<<"$out" && grep -q 'cannot be changed' <<<"$out"
}
check "the ruleset annotation cannot be rewritten after admission" tamper
check "other annotations still can" kubectl -n "$ns" annotate pod web --overwrite team=payments

# ---- pods/exec -------------------------------------------------------------------------------------
me=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')
exec_out=$(kubectl -n "$ns" exec web -c app -- echo hi 2>&1) && fail "exec succeeded without a kubelet: $exec_out"
session_ok() {
	local s
	s=$(kubectl -n "$ns" get bwes -o json | jq -c '.items[] | select(.spec.pod == "web")') || return 1
	[ -n "$s" ] || {
		echo "no ExecSession for pod web; exec said: $exec_out"
		return 1
	}
	jq -e --arg me "$me" '.spec.user.username == $me and .spec.container == "app" and
		.spec.command == ["echo","hi"] and .spec.node == "e2e-no-such-node" and
		(.spec.requestUID | length > 0) and .spec.tty == false and .status.phase == "Requested"' \
		<<<"$s" || {
		echo "$s"
		return 1
	}
}
check "kubectl exec reaches the CONNECT review: an ExecSession with the caller ($me)" session_ok
check "...and the exec itself then fails for lack of a kubelet (expected)" bash -c \
	"! grep -q 'admission webhook' <<<'$exec_out'"

kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "pod vault refused"
apiVersion: v1
kind: Pod
metadata: {name: vault, labels: {app: vault}}
spec:
  nodeName: e2e-no-such-node
  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
EOF
exec_denied() {
	local out
	out=$(kubectl -n "$ns" exec vault -- id 2>&1) && {
		echo "exec allowed: $out"
		return 1
	}
	echo "$out"
	grep -q 'admission webhook "exec.bulwark.dev" denied the request' <<<"$out" &&
		grep -q "forbidden by BulwarkPolicy \[\"$ns/lockdown\"\]" <<<"$out"
}
check "exec into a pod whose policy says allowExec: false is refused, naming the policy" exec_denied
attach_denied() {
	local out
	out=$(kubectl -n "$ns" attach vault 2>&1) && return 1
	grep -q "attach into pod $ns/vault is forbidden" <<<"$out" || {
		echo "$out"
		return 1
	}
}
check "attach too" attach_denied
debug_denied() {
	local out
	out=$(kubectl -n "$ns" debug vault --image=busybox -- true 2>&1) && {
		echo "ephemeral container added: $out"
		return 1
	}
	echo "$out"
	grep -q 'ephemeral.bulwark.dev' <<<"$out" &&
		grep -q "ephemeral containers (kubectl debug) to pod $ns/vault is forbidden by BulwarkPolicy \[\"$ns/lockdown\"\]" <<<"$out"
}
check "kubectl debug (an ephemeral container) is refused there too" debug_denied
check "...and allowed where exec is" kubectl -n "$ns" debug web --image=busybox -- true

# ---- bad input straight to the server ---------------------------------------------------------------
status_of() {
	local path=$1
	shift
	webhook_curl "$path" -o /dev/null -w '%{http_code}' -X POST "$@" 2>/dev/null
}
json=(-H 'Content-Type: application/json')
check "malformed JSON -> 400" bash -c "[ \"\$1\" = 400 ]" _ "$(status_of /mutate-pods "${json[@]}" --data '{"apiVersion":')"
check "wrong kind -> 400" bash -c "[ \"\$1\" = 400 ]" _ "$(status_of /mutate-pods "${json[@]}" \
	--data '{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"x"}}')"
check "missing request.uid -> 400 naming it" bash -c \
	"webhook_curl() { curl -sS --max-time 10 --cacert '$WEBHOOK_DIR/ca.crt' \"\$@\"; }
	 webhook_curl -X POST -H 'Content-Type: application/json' --data '{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"kind\":{\"kind\":\"Pod\"}}}' '$WEBHOOK_URL/exec' | grep 'request.uid: required' >/dev/null"
check "not JSON content -> 415" bash -c "[ \"\$1\" = 415 ]" _ "$(status_of /mutate-pods -H 'Content-Type: text/plain' --data 'x')"
head -c $((4 << 20)) /dev/zero | tr '\0' ' ' >"$WEBHOOK_DIR/big.json"
check "a body over the 3 MiB limit -> 413" bash -c "[ \"\$1\" = 413 ]" _ \
	"$(status_of /mutate-pods "${json[@]}" --data-binary "@$WEBHOOK_DIR/big.json")"
check "GET on a review route -> 4xx" bash -c "[[ \"\$1\" == 4?? ]]" _ \
	"$(webhook_curl /mutate-pods -o /dev/null -w '%{http_code}' 2>/dev/null)"
# A client that sends half a request and stalls is dropped after the idle timeout (3 s here).
slow_client() {
	python3 - "$WEBHOOK_URL" "$WEBHOOK_DIR/ca.crt" <<'PY'
import socket, ssl, sys, time
host, port = sys.argv[1].rsplit("/", 1)[1].split(":")
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
s.sendall(b"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 1000\r\n\r\n{\"apiVersion\":")
start = time.time()
s.settimeout(20)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except (socket.timeout, ssl.SSLError, ConnectionResetError) as e:
    if isinstance(e, socket.timeout):
        print("still open after 20 s"); sys.exit(1)
took = time.time() - start
print("closed after %.1f s: %r" % (took, data[:60]))
sys.exit(0 if took < 15 else 1)
PY
}
check "a stalled client is disconnected by the idle timeout" slow_client
check "the server survived all of it (/healthz)" bash -c "kill -0 $WEBHOOK_PID && curl -sf --cacert '$WEBHOOK_DIR/ca.crt' '$WEBHOOK_URL/healthz'"

# ---- metrics ---------------------------------------------------------------------------------------
metrics=$(webhook_curl /metrics)
check "latency histogram by operation and result" grep -q \
	'bulwark_webhook_admission_duration_seconds_bucket{operation="mutate_pods",result="patched",le="0.001"}' <<<"$metrics"
check "reviews by kind and result" grep -qE \
	'bulwark_webhook_reviews_total\{kind="PodExecOptions",result="denied"\} [1-9]' <<<"$metrics"
check "refused bodies are counted" grep -qE \
	'bulwark_webhook_reviews_total\{kind="invalid",result="invalid"\} [1-9]' <<<"$metrics"
check "ExecSessions created are counted" grep -qE \
	'bulwark_webhook_exec_sessions_total\{result="created"\} [1-9]' <<<"$metrics"
check "certificate expiry is exported" grep -qE \
	'^bulwark_webhook_certificate_expiry_timestamp_seconds [0-9]' <<<"$metrics"

# ---- `bulwark-webhook certs`: one renewal pass, for an init container or a Job ------------------
certs_mode() {
	local name=certs-mode-tls rv1 rv2
	"$WEBHOOK_BIN" certs --kubeconfig "$KUBECONFIG" --self-signed-secret "$ns/$name" \
		--cert-dns-name webhook.example -v 0 || return 1
	kubectl -n "$ns" get secret "$name" -o json |
		jq -e '.type == "kubernetes.io/tls" and (.data | keys == ["ca.crt","ca.key","tls.crt","tls.key"])' ||
		return 1
	rv1=$(kubectl -n "$ns" get secret "$name" -o jsonpath='{.metadata.resourceVersion}')
	"$WEBHOOK_BIN" certs --kubeconfig "$KUBECONFIG" --self-signed-secret "$ns/$name" \
		--cert-dns-name webhook.example -v 0 || return 1
	rv2=$(kubectl -n "$ns" get secret "$name" -o jsonpath='{.metadata.resourceVersion}')
	[ "$rv1" = "$rv2" ] || {
		echo "a second pass rewrote a valid Secret ($rv1 -> $rv2)"
		return 1
	}
}
check "certs mode creates the Secret once and leaves a valid one alone" certs_mode
check "a bad flag is a usage error (exit 2)" bash -c "'$WEBHOOK_BIN' --no-such-flag >/dev/null 2>&1; [ \$? -eq 2 ]"
check "--version" "$WEBHOOK_BIN" --version

tap_done
