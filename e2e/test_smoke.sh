#!/usr/bin/env bash
# Smoke test of the local control plane and of Bulwark's API: the apiserver is the pinned
# version, every CRD in crds/ installs and becomes Established, its resources are served under
# bulwark.dev, and a BulwarkPolicy can be stored and read back (and a malformed one is refused
# by the CRD's schema). The CRDs stay installed: later tests use them.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"
# shellcheck source=cluster/versions.env
source e2e/cluster/versions.env

server_version() {
	local v
	v=$(kubectl version -o json | jq -r '.serverVersion.gitVersion')
	[ "$v" = "$KUBERNETES_VERSION" ] || {
		echo "the apiserver says $v, versions.env pins $KUBERNETES_VERSION"
		return 1
	}
}
tap_check "apiserver reports $KUBERNETES_VERSION" server_version

shopt -s nullglob
files=(crds/*.yaml)
((${#files[@]})) || fail "crds/ has no *.yaml: nothing to install"

crds=()
for f in "${files[@]}"; do
	if out=$(kubectl apply -f "$f" -o name 2>&1); then
		tap_ok "kubectl apply -f $f"
		while read -r name; do
			[[ $name == customresourcedefinition.apiextensions.k8s.io/* ]] && crds+=("${name#*/}")
		done <<<"$out"
	else
		tap_not_ok "kubectl apply -f $f" "$out"
	fi
done
((${#crds[@]})) || fail "no CustomResourceDefinition was applied from ${files[*]}"

# read_back CRD: the stored CRD is in bulwark.dev, and its resource is served there.
read_back() {
	local crd=$1 group plural served
	group=$(kubectl get crd "$crd" -o jsonpath='{.spec.group}')
	plural=$(kubectl get crd "$crd" -o jsonpath='{.spec.names.plural}')
	[ "$group" = bulwark.dev ] || {
		echo "$crd: group '$group', want bulwark.dev"
		return 1
	}
	[ "$plural.$group" = "$crd" ] || {
		echo "$crd: named for '$plural.$group'"
		return 1
	}
	served=$(kubectl api-resources --api-group=bulwark.dev -o name)
	grep -qxF "$crd" <<<"$served" || {
		echo "$crd is not among the served bulwark.dev resources: $served"
		return 1
	}
}

for crd in "${crds[@]}"; do
	tap_check "$crd is Established" kubectl wait --for=condition=Established --timeout=60s "crd/$crd"
	tap_check "$crd is served under bulwark.dev" read_back "$crd"
done

if ! kubectl get crd bulwarkpolicies.bulwark.dev >/dev/null 2>&1; then
	tap_not_ok "BulwarkPolicy round trip" "crds/ does not define bulwarkpolicies.bulwark.dev"
	tap_done
	exit 1
fi

test_namespace smoke
ns=$TEST_NS

policy() {
	cat <<-EOF
		apiVersion: bulwark.dev/v1alpha1
		kind: BulwarkPolicy
		metadata: {name: $1}
		spec:
		  podSelector: {matchLabels: {app: smoke}}
		  mode: $2
		  network:
		    egress:
		      defaultAction: Deny
		      rules:
		        - {action: Allow, cidrs: ["10.96.0.10/32"], protocol: UDP, ports: [{port: 53}]}
	EOF
}

create_policy() { policy smoke Audit | kubectl -n "$ns" create -f -; }
tap_check "create a BulwarkPolicy" create_policy

round_trip() {
	local got
	got=$(kubectl -n "$ns" get bwp smoke -o json |
		jq -c '[.spec.mode, .spec.podSelector.matchLabels.app, .spec.network.egress.rules[0].cidrs[0],
			.spec.network.egress.rules[0].ports[0].port]')
	[ "$got" = '["Audit","smoke","10.96.0.10/32",53]' ] || {
		echo "read back $got"
		return 1
	}
}
tap_check "read it back by its short name (bwp)" round_trip
in_category() { kubectl -n "$ns" get bulwark -o name | grep -x bulwarkpolicy.bulwark.dev/smoke >/dev/null; }
tap_check "it is listed in the bulwark category" in_category

rejected() {
	local out
	if out=$(policy bad Bogus | kubectl -n "$ns" create -f - 2>&1); then
		echo "mode Bogus was accepted: $out"
		return 1
	fi
	grep -q 'spec.mode' <<<"$out" || {
		echo "the rejection does not name spec.mode: $out"
		return 1
	}
}
tap_check "the schema refuses mode: Bogus, naming spec.mode" rejected
# The CRD's OpenAPI, which explain reads, is published a little after Established.
wait_for 30 kubectl explain bulwarkpolicy.spec.mode >/dev/null || true
tap_check "kubectl explain bulwarkpolicy.spec.mode" kubectl explain bulwarkpolicy.spec.mode

tap_done
