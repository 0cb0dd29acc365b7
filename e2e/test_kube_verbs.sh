#!/usr/bin/env bash
# Every verb of lib/kube's client against the real apiserver, and the errno each failure maps
# to: create (-EEXIST on a taken name), get (-ENOENT), merge patch, update with a stale
# resourceVersion (-ESTALE, reason Conflict) and with the current one, server-side apply with
# two field managers (-ESTALE without force), 422 (-EINVAL, message naming the field),
# update_status on a Pod, paged list with label and field selectors, delete with uid and
# resourceVersion preconditions. Then, as a user RBAC grants nothing, from a kubeconfig whose
# certificate paths are relative to it: 403 → -EPERM.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-verbs
ns=$TEST_NS
dir=$(mktemp -d)
on_exit "rm -rf $dir"

probe verbs "$ns" >"$dir/verbs" 2>"$dir/verbs.err" || true
grep -q '"ev":"VERBS"' "$dir/verbs" || fail "kube-probe verbs did not finish: $(tail -n 5 "$dir/verbs.err")"
while IFS= read -r line; do
	what=$(jq -r .what <<<"$line")
	if [ "$(jq -r .ok <<<"$line")" = true ]; then
		tap_ok "$what"
	else
		tap_not_ok "$what" "$(jq -c '{errno, want_errno, code, reason, message}' <<<"$line")"
	fi
done < <(grep '"ev":"CHECK"' "$dir/verbs")

# An identity with no RBAC bindings, its certificate next to a kubeconfig that names it by a
# relative path.
name=kube-verbs-$$
"$BULWARK_ROOT/e2e/cluster/cluster.sh" client-cert "$name" "bulwark-e2e-nobody" >/dev/null ||
	fail "cannot make a client certificate"
mkdir -p "$dir/kc/pki"
mv "$CLUSTER_DIR/pki/$name.crt" "$CLUSTER_DIR/pki/$name.key" "$dir/kc/pki/"
cp "$KUBE_CA_FILE" "$dir/kc/pki/ca.crt"
cat >"$dir/kc/config" <<EOF2
apiVersion: v1
kind: Config
current-context: nobody
contexts:
- name: nobody
  context: {cluster: local, user: nobody, namespace: $ns}
clusters:
- name: local
  cluster:
    server: $APISERVER_URL
    certificate-authority: pki/ca.crt
users:
- name: nobody
  user:
    client-certificate: pki/$name.crt
    client-key: pki/$name.key
EOF2
cd /
tap_check "403 is -EPERM (kubeconfig with relative certificate paths)" \
	"$PROBE" --kubeconfig "$dir/kc/config" forbidden "$ns"

# TLS verification is always on: a CA that did not sign the apiserver's certificate fails.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other-ca \
	-keyout "$dir/kc/pki/other.key" -out "$dir/kc/pki/ca.crt" 2>/dev/null || fail "openssl failed"
tls_refused() {
	local err
	if "$PROBE" --kubeconfig "$dir/kc/config" list configmaps "$ns" >/dev/null 2>"$dir/tls.err"; then
		echo "the request succeeded with the wrong CA"
		return 1
	fi
	err=$(cat "$dir/tls.err")
	grep -q 'Key was rejected by service' <<<"$err" || {
		echo "unexpected error: $err"
		return 1
	}
}
tap_check "a server certificate from another CA is refused (-EKEYREJECTED)" tls_refused
tap_done
