#!/usr/bin/env bash
# Certificate rotation under load: with a 12 s serving certificate (renewed at 2/3 of its life,
# so every ~8 s), the apiserver keeps calling the webhook (server-side dry-run pod creations,
# which run mutating admission) and clients keep opening new TLS connections to it, for 30 s.
# Several certificates must be served in that time and not one review may fail: lib/httpd picks
# the new pair up at the next handshake, connections in flight keep theirs, and a key written a
# moment before its certificate is never served with the old one.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=webhook/webhook.sh
source "$(dirname "$0")/webhook/webhook.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"
check() { tap_check "$@" || true; }
command -v openssl >/dev/null || skip "openssl is needed to read the served certificate"

test_namespace webhook-rot
ns=$TEST_NS
webhook_start --cert-validity 12s

kubectl -n "$ns" apply -f - >/dev/null <<EOF || fail "cannot apply the policy"
apiVersion: bulwark.dev/v1alpha1
kind: BulwarkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  seccomp: {}
EOF
wait_for 15 bash -c "curl -sS --cacert '$WEBHOOK_DIR/ca.crt' '$WEBHOOK_URL/metrics' |
	grep 'bulwark_webhook_policies{state=\"valid\"} 1' >/dev/null" || fail "the webhook never saw the policy"

cat >"$WEBHOOK_DIR/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {generateName: web-, labels: {app: web}}
spec: {containers: [{name: app, image: busybox, command: [sleep, "1"]}]}
EOF
review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"rot-1","kind":{"kind":"Pod","version":"v1"},"resource":{"resource":"pods","version":"v1"},"namespace":"'$ns'","operation":"CREATE","object":{"metadata":{"name":"p","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'

SECONDS_TO_RUN=30
results=$WEBHOOK_DIR/results
mkdir -p "$results"

# Through the apiserver: each admission must come back mutated.
through_apiserver() {
	local end=$((SECONDS + SECONDS_TO_RUN)) out
	while ((SECONDS < end)); do
		if out=$(kubectl -n "$ns" create --dry-run=server -f "$WEBHOOK_DIR/pod.yaml" \
			-o jsonpath='{.spec.securityContext.seccompProfile.type}' 2>&1) &&
			[ "$out" = Localhost ]; then
			echo ok
		else
			echo "fail: $out"
		fi
	done >"$results/apiserver-$1"
}
# Straight to the webhook, a new TLS connection per request.
direct() {
	local end=$((SECONDS + SECONDS_TO_RUN)) out
	while ((SECONDS < end)); do
		if out=$(curl -sS --max-time 5 --cacert "$WEBHOOK_DIR/ca.crt" -H 'Content-Type: application/json' \
			--data "$review" "$WEBHOOK_URL/mutate-pods" 2>&1) && grep -q '"uid":"rot-1"' <<<"$out" &&
			grep -q '"patch"' <<<"$out"; then
			echo ok
		else
			echo "fail: $out"
		fi
	done >"$results/direct"
}
# Which certificate is served, twice a second.
serials() {
	local end=$((SECONDS + SECONDS_TO_RUN))
	while ((SECONDS < end)); do
		openssl s_client -connect "${WEBHOOK_URL#https://}" -CAfile "$WEBHOOK_DIR/ca.crt" </dev/null 2>/dev/null |
			openssl x509 -noout -serial 2>/dev/null
		sleep 0.5
	done >"$results/serials"
}

through_apiserver 1 &
p1=$!
through_apiserver 2 &
p2=$!
direct &
p3=$!
serials &
p4=$!
wait $p1 $p2 $p3 $p4

total=$(cat "$results"/apiserver-* "$results/direct" | wc -l)
failed=$(cat "$results"/apiserver-* "$results/direct" | grep -vc '^ok$' || true)
distinct=$(sort -u "$results/serials" | grep -c serial || true)
echo "# $total reviews, $failed failed; $distinct distinct serving certificates seen"
check "the serving certificate rotated at least twice during the run ($distinct seen)" \
	test "$distinct" -ge 3
check "the webhook logged each renewal" grep -q '"msg":"webhook certificates renewed"' "$WEBHOOK_DIR/webhook.log"
check "no review failed across rotations ($failed of $total)" bash -c \
	"[ $failed -eq 0 ] && [ $total -gt 50 ] || { grep -vh '^ok$' '$results'/apiserver-* '$results/direct' | sort | uniq -c | sed -n 1,10p; exit 1; }"
secret_cert=$(kubectl -n "$ns" get secret bulwark-webhook-tls -o jsonpath='{.data.tls\.crt}' | base64 -d)
check "the Secret holds the certificate on disk" bash -c "[ \"\$1\" = \"\$(cat '$WEBHOOK_DIR/tls.crt')\" ]" _ "$secret_cert"
ca_bundle_current() {
	local want have
	want=$(base64 -w0 "$WEBHOOK_DIR/ca.crt")
	have=$(kubectl get mutatingwebhookconfiguration "$WEBHOOK_NAME" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
	[ "$want" = "$have" ] && [ "$(grep -c 'BEGIN CERTIFICATE' "$WEBHOOK_DIR/ca.crt")" = 1 ]
}
check "the CA bundle is the one CA, unchanged by serving-certificate rotation" ca_bundle_current
tap_done
