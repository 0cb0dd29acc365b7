#!/usr/bin/env bash
# Bearer tokens from a file rotate (bound ServiceAccount tokens do; the kubelet rewrites the
# projected file): one long-lived client reading its kubeconfig's tokenFile keeps working when
# the token it holds is invalidated and the file gets a new one. The first request after the
# rotation gets 401, the client re-reads the file and retries once, and the caller sees success.
# A token file that only holds an invalid token gives -EACCES.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=kube_probe.sh
source "$(dirname "$0")/kube_probe.sh"

test_namespace kube-token
ns=$TEST_NS
dir=$(mktemp -d)
on_exit "rm -rf $dir"

kubectl -n "$ns" create configmap target --from-literal=a=b >/dev/null
kubectl -n "$ns" create role reader --verb=get --resource=configmaps >/dev/null
kubectl -n "$ns" create rolebinding reader --role=reader --serviceaccount="$ns:reader" >/dev/null
kubectl -n "$ns" create serviceaccount reader >/dev/null
kubectl -n "$ns" create token reader >"$dir/token" || fail "TokenRequest failed"

cat >"$dir/config" <<EOF2
apiVersion: v1
kind: Config
current-context: sa
contexts:
- name: sa
  context: {cluster: local, user: sa, namespace: $ns}
clusters:
- name: local
  cluster: {server: "$APISERVER_URL", certificate-authority: "$KUBE_CA_FILE"}
users:
- name: sa
  user: {tokenFile: token}
EOF2

mkfifo "$dir/in"
"$PROBE" --kubeconfig "$dir/config" get-loop "$ns" <"$dir/in" >"$dir/out" 2>"$dir/err" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"
exec 3>"$dir/in"
# expect_errno N ERRNO: the Nth GET's answer had ERRNO.
expect_errno() {
	wait_for 15 bash -c "[ \$(grep -c '\"ev\":\"GET\"' '$dir/out') -ge $1 ]" || fail "no answer $1: $(cat "$dir/err")"
	sed -n "${1}p" "$dir/out" | jq -e --argjson e "$2" '.errno == $e' >/dev/null || {
		sed -n "${1}p" "$dir/out"
		return 1
	}
}

echo target >&3
tap_check "the ServiceAccount token from tokenFile works" expect_errno 1 0

# Invalidate the held token (a new ServiceAccount of the same name has a new UID) and put a
# token of the new one in the file, as a rotation would.
kubectl -n "$ns" delete serviceaccount reader >/dev/null
kubectl -n "$ns" create serviceaccount reader >/dev/null
kubectl -n "$ns" create token reader >"$dir/token.new" || fail "TokenRequest failed"
wait_for 15 bash -c "! curl -sf --cacert '$KUBE_CA_FILE' -H \"Authorization: Bearer \$(cat '$dir/token')\" \
	'$APISERVER_URL/api/v1/namespaces/$ns/configmaps/target' >/dev/null" ||
	fail "the old token still works"
mv "$dir/token.new" "$dir/token"
echo target >&3
tap_check "after rotation the client re-reads the file on 401 and succeeds" expect_errno 2 0

# Only invalid tokens left (the held one revoked, the file garbage): the caller gets -EACCES
# (13) after the one re-read, not a retry loop. (A valid cached token would still be used until
# the 60 s refresh: the file is only re-read early on a 401.)
cp "$dir/token" "$dir/token.held"
printf 'not-a-valid-token\n' >"$dir/token"
kubectl -n "$ns" delete serviceaccount reader >/dev/null
# The apiserver caches successful token reviews for a few seconds.
wait_for 30 bash -c "! curl -sf --cacert '$KUBE_CA_FILE' -H \"Authorization: Bearer \$(cat '$dir/token.held')\" \
	'$APISERVER_URL/api/v1/namespaces/$ns/configmaps/target' >/dev/null" ||
	fail "the revoked token still works"
echo target >&3
tap_check "an invalid token is -EACCES" expect_errno 3 13
exec 3>&-
wait "$pid" || true
tap_done
