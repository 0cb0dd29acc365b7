#!/usr/bin/env bash
# The manifests for real clusters (deploy/) against the real kube-apiserver:
#   - `kubectl apply --dry-run=server -k deploy/` accepts every object (schema, defaults,
#     admission: the apiserver validates them fully, it only does not store them);
#   - no Role or ClusterRole rule uses "*" in apiGroups, resources, verbs or resourceNames;
#   - every container, init containers and the CronJob's included, has CPU and memory
#     requests and a memory limit; no container is privileged, the agent adds exactly
#     BPF, PERFMON and NET_ADMIN and does not share the host's PID or network namespace;
#   - every bulwark_* metric the Grafana dashboard queries is exported by some component;
#   - the controller's certificate CronJob works as written: its two steps, taken from the
#     rendered manifests and run as its ServiceAccount with exactly its roles, create the
#     Secret and publish a CA bundle equal to the Secret's to the ConfigMap and the recordings
#     APIService, idempotently, and that
#     ServiceAccount cannot read any other Secret.
#
# Server dry-run needs the namespace to exist (a namespaced object in a missing namespace is
# refused even in dry-run). So, if bulwark-system does not exist, this test creates it for
# real from deploy/namespace.yaml and deletes it at exit; everything else is only dry-run,
# except the certificate step's ServiceAccount, Role and RoleBinding, which live in that
# namespace and go with it, and its ClusterRole, ClusterRoleBinding and the recordings
# APIService whose caBundle it sets, removed at exit. The webhook configurations are never
# created (failurePolicy Fail would break every later test's pods).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

cd "$BULWARK_ROOT" || fail "no $BULWARK_ROOT"
check() { tap_check "$@" || true; }
WEBHOOK=$BUILD/bin/bulwark-webhook
[ -x "$WEBHOOK" ] || fail "$WEBHOOK is not built (make)"
NS=bulwark-system

work=$(mktemp -d)
on_exit "rm -rf '$work'"

# ---- render -----------------------------------------------------------------------------------

kubectl kustomize deploy/ >"$work/all.yaml" || fail "kubectl kustomize deploy/ failed"
tap_ok "kubectl kustomize deploy/ renders"
# One JSON array of every object (client-side conversion; nothing is sent to be stored).
kubectl create --dry-run=client -o json -f "$work/all.yaml" | jq -s . >"$work/all.json" ||
	fail "cannot convert the rendered manifests to JSON"

# ---- server dry-run ---------------------------------------------------------------------------

if ! kubectl get namespace "$NS" >/dev/null 2>&1; then
	kubectl apply -f deploy/namespace.yaml >/dev/null || fail "cannot create namespace $NS"
	on_exit "delete_namespace $NS"
fi
dry_run() {
	local out
	out=$(kubectl apply --dry-run=server -k deploy/ 2>&1) || {
		echo "$out"
		return 1
	}
	# Every rendered object was answered for (CRDs included).
	local want got
	want=$(jq length "$work/all.json")
	got=$(grep -c '(server dry run)$' <<<"$out")
	[ "$want" = "$got" ] || {
		printf 'rendered %s objects, the apiserver answered for %s:\n%s\n' "$want" "$got" "$out"
		return 1
	}
}
check "kubectl apply --dry-run=server -k deploy/ accepts every object" dry_run

# ---- RBAC: no wildcards -----------------------------------------------------------------------

no_wildcards() {
	local bad
	bad=$(jq -r '.[] | select(.kind == "Role" or .kind == "ClusterRole") | . as $o
		| (.rules // [])[] | select([(.apiGroups, .resources, .verbs, .resourceNames)
			| (. // [])[] | select(contains("*"))] | length > 0)
		| "\($o.kind)/\($o.metadata.name): \(tojson)"' "$work/all.json")
	[ -z "$bad" ] || {
		printf 'rules with a wildcard:\n%s\n' "$bad"
		return 1
	}
	# And the check saw roles at all (a renamed kind must not make it vacuous).
	[ "$(jq '[.[] | select(.kind == "Role" or .kind == "ClusterRole")] | length' "$work/all.json")" -ge 6 ]
}
check "no Role/ClusterRole rule uses \"*\"" no_wildcards

# Each rule says why it exists: a comment line right above every "- apiGroups:" of a file that
# defines a Role or ClusterRole (and the rendered count matches, so no rule hides in another
# style).
rules_commented() {
	local files bad n_src n_rendered
	mapfile -t files < <(grep -rlE '^kind: (Cluster)?Role$' deploy --include='*.yaml')
	((${#files[@]})) || {
		echo "no Role or ClusterRole in deploy/"
		return 1
	}
	bad=$(awk '/^  - apiGroups:/ && prev !~ /^  #/ { print FILENAME ":" FNR } { prev = $0 }' "${files[@]}")
	[ -z "$bad" ] || {
		printf 'RBAC rules without a comment saying why:\n%s\n' "$bad"
		return 1
	}
	n_src=$(cat "${files[@]}" | grep -c '^  - apiGroups:')
	n_rendered=$(jq '[.[] | select(.kind == "Role" or .kind == "ClusterRole") | .rules[]] | length' \
		"$work/all.json")
	[ "$n_src" = "$n_rendered" ] || {
		echo "$n_src rules in block style in deploy/, $n_rendered rendered"
		return 1
	}
}
check "every RBAC rule has a comment saying why" rules_commented

no_aggregation() {
	local bad
	bad=$(jq -r '.[] | select(.kind == "ClusterRole" and (.aggregationRule != null))
		| .metadata.name' "$work/all.json")
	[ -z "$bad" ] || {
		echo "aggregated ClusterRoles (their rules come from elsewhere): $bad"
		return 1
	}
}
check "no aggregated ClusterRole" no_aggregation

# ---- workloads --------------------------------------------------------------------------------

# containers.json: one object per container: {owner, init, c} (the CronJob's job template too).
jq '[.[] | select(.kind == "Deployment" or .kind == "DaemonSet" or .kind == "CronJob")
	| (if .kind == "CronJob" then .spec.jobTemplate.spec.template else .spec.template end) as $t
	| "\(.kind)/\(.metadata.name)" as $owner
	| (($t.spec.initContainers // [])[] | {owner: $owner, init: true, c: .}),
	  ($t.spec.containers[] | {owner: $owner, init: false, c: .})]' \
	"$work/all.json" >"$work/containers.json"

resources_set() {
	local bad n
	n=$(jq length "$work/containers.json")
	((n >= 6)) || {
		echo "only $n containers found in the rendered workloads"
		return 1
	}
	bad=$(jq -r '.[] | select((.c.resources.requests.cpu // "") == ""
		or (.c.resources.requests.memory // "") == ""
		or (.c.resources.limits.memory // "") == "")
		| "\(.owner) container \(.c.name): \(.c.resources // {} | tojson)"' "$work/containers.json")
	[ -z "$bad" ] || {
		printf 'containers without cpu+memory requests and a memory limit:\n%s\n' "$bad"
		return 1
	}
}
check "every container has cpu/memory requests and a memory limit" resources_set

nothing_privileged() {
	local bad
	bad=$(jq -r '.[] | select(.c.securityContext.privileged == true)
		| "\(.owner) container \(.c.name)"' "$work/containers.json")
	[ -z "$bad" ] || {
		echo "privileged containers: $bad"
		return 1
	}
}
check "no container is privileged" nothing_privileged

agent_rights() {
	local ds caps
	ds=$(jq -c '.[] | select(.kind == "DaemonSet" and .metadata.name == "bulwark-agent")' \
		"$work/all.json")
	[ -n "$ds" ] || {
		echo "no DaemonSet bulwark-agent"
		return 1
	}
	jq -e '.spec.template.spec | (.hostPID != true) and (.hostNetwork != true)
		and (.hostIPC != true)' <<<"$ds" >/dev/null || {
		echo "the agent shares a host namespace"
		return 1
	}
	caps=$(jq -c '[.spec.template.spec.containers[] | select(.name == "agent")
		| .securityContext.capabilities | (.add | sort), .drop]' <<<"$ds")
	[ "$caps" = '[["BPF","NET_ADMIN","PERFMON"],["ALL"]]' ] || {
		echo "agent capabilities: $caps (want add BPF, NET_ADMIN, PERFMON; drop ALL)"
		return 1
	}
	# Bidirectional propagation is refused for unprivileged containers; the node's token
	# must be the projected one (bound to the pod, hence to the node).
	jq -e '[.spec.template.spec.containers[].volumeMounts[]
		| select(.mountPropagation == "Bidirectional")] | length == 0' <<<"$ds" >/dev/null || {
		echo "the agent asks for Bidirectional mount propagation"
		return 1
	}
	jq -e '.spec.template.spec.automountServiceAccountToken == false and
		([.spec.template.spec.volumes[] | .projected.sources[]?.serviceAccountToken
			| select(. != null and .expirationSeconds <= 3600)] | length == 1)' \
		<<<"$ds" >/dev/null || {
		echo "the agent has no projected token of at most 1 h (or the automatic one too)"
		return 1
	}
}
check "agent: no host PID/network, adds exactly BPF PERFMON NET_ADMIN, projected token" agent_rights

# The webhook's init container copies bulwark-launch out of --launcher-image; an overlay that
# moves the images to another registry and tag (what a user's `images:` does) must move that
# one too, or pods would get another release's launcher, or none.
launcher_image() {
	local ov=$work/overlay rendered
	mkdir -p "$ov"
	cat >"$ov/kustomization.yaml" <<-EOF
		resources: [$(realpath --relative-to="$ov" deploy)]
		images:
		  - {name: bulwark/webhook, newName: registry.example/bulwark/webhook, newTag: "1.2.3"}
		  - {name: bulwark/launch, newName: registry.example/bulwark/launch, newTag: "1.2.3"}
	EOF
	rendered=$(kubectl kustomize "$ov" | kubectl create --dry-run=client -o json -f - | jq -s .) || return 1
	jq -e '.[] | select(.kind == "Deployment" and .metadata.name == "bulwark-webhook")
		| .spec.template.spec.containers[0]
		| .image == "registry.example/bulwark/webhook:1.2.3"
		  and any(.args[]; . == "--launcher-image=$(LAUNCHER_IMAGE)")
		  and any(.env[]; .name == "LAUNCHER_IMAGE" and .value == "registry.example/bulwark/launch:1.2.3")' \
		<<<"$rendered" >/dev/null || {
		echo "an overlay's images: did not rewrite the webhook's LAUNCHER_IMAGE along with its image"
		return 1
	}
}
check "an overlay's images: rewrites the webhook's --launcher-image too" launcher_image

# ---- the Grafana dashboard queries metrics that exist ----------------------------------------------

# Every bulwark_* name in a query is registered, as a string literal, by some component (a
# histogram's _bucket/_sum/_count series come from its base name). Catches renamed metrics.
dashboard_metrics() {
	local f=deploy/grafana/bulwark.json names missing="" m
	jq -e '.panels | length > 10' "$f" >/dev/null || {
		echo "$f is not a dashboard with panels"
		return 1
	}
	names=$(jq -r '.. | .expr? // empty' "$f" | grep -oE 'bulwark_[a-z_]+' |
		sed -E 's/_(bucket|sum|count)$//' | sort -u)
	[ -n "$names" ] || {
		echo "no bulwark_ metric in any query"
		return 1
	}
	for m in $names; do
		grep -rqF "\"$m\"" nodeagent controller webhook lib || missing+=" $m"
	done
	[ -z "$missing" ] || {
		echo "queried but exported by no component:$missing"
		return 1
	}
}
check "the Grafana dashboard queries only exported metrics" dashboard_metrics

# ---- the controller's certificate CronJob, as written --------------------------------------------

certs_job() {
	local cj sa=$work/sa out=$work/out server renew publish
	cj=$(jq -c '.[] | select(.kind == "CronJob" and .metadata.name == "bulwark-controller-certs")
		| .spec.jobTemplate.spec.template.spec' "$work/all.json")
	[ -n "$cj" ] || {
		echo "no CronJob bulwark-controller-certs"
		return 1
	}
	# Its ServiceAccount, Role and RoleBinding (in $NS), the ClusterRole and binding that let it
	# set the recordings APIService's caBundle, and that APIService, for real; the cluster-scoped
	# ones are removed at exit.
	jq '{apiVersion: "v1", kind: "List", items: [.[] | select(.metadata.name == "bulwark-certs"
		and ((.metadata.namespace == "'$NS'" and (.kind == "ServiceAccount" or .kind == "Role"
		      or .kind == "RoleBinding")) or .kind == "ClusterRole" or .kind == "ClusterRoleBinding"))]}' \
		"$work/all.json" >"$work/certs-rbac.json"
	[ "$(jq '.items | length' "$work/certs-rbac.json")" = 5 ] || {
		echo "want the ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding bulwark-certs"
		return 1
	}
	on_exit "kubectl delete clusterrole,clusterrolebinding bulwark-certs --ignore-not-found >/dev/null 2>&1"
	on_exit "kubectl delete apiservice v1.recordings.bulwark.dev --ignore-not-found >/dev/null 2>&1"
	kubectl apply -f "$work/certs-rbac.json" >/dev/null || return 1
	jq '.[] | select(.kind == "APIService")' "$work/all.json" | kubectl apply -f - >/dev/null ||
		return 1
	mkdir -p "$sa" "$out"
	kubectl -n "$NS" create token bulwark-certs >"$sa/token" || return 1
	kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >"$sa/ca.crt"
	server=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
	cat >"$work/sa.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters: [{name: c, cluster: {server: "$server", certificate-authority: "$sa/ca.crt"}}]
		users: [{name: u, user: {tokenFile: "$sa/token"}}]
		contexts: [{name: c, context: {cluster: c, user: u}}]
		current-context: c
	EOF
	# Step 1: the init container's command and args, with our kubeconfig and output dir.
	mapfile -t renew < <(jq -r '.initContainers[0] | (.command + .args)[]
		| sub("/run/bulwark-certs"; "'"$out"'")' <<<"$cj")
	[ "${renew[0]}" = /usr/local/bin/bulwark-webhook ] || {
		echo "unexpected renew command: ${renew[*]}"
		return 1
	}
	# Step 2: the publishing script, in the image's /bin/sh, against our apiserver.
	publish=$(jq -r '.containers[0].args[0]' <<<"$cj" | sed "s#/run/bulwark-certs#$out#g")
	local pass
	for pass in 1 2; do
		"$WEBHOOK" "${renew[@]:1}" --kubeconfig "$work/sa.kubeconfig" || {
			echo "pass $pass: bulwark-webhook certs failed"
			return 1
		}
		SA_DIR=$sa APISERVER=$server sh -ec "$publish" || {
			echo "pass $pass: publishing the CA failed"
			return 1
		}
	done
	local secret_ca cm_ca
	secret_ca=$(kubectl -n "$NS" get secret bulwark-controller-tls -o jsonpath='{.data.ca\.crt}' |
		base64 -d)
	cm_ca=$(kubectl -n "$NS" get configmap bulwark-controller-ca -o jsonpath='{.data.ca\.crt}')
	if [ -z "$secret_ca" ] || [ "$secret_ca" != "$cm_ca" ]; then
		printf 'Secret ca.crt and ConfigMap ca.crt differ:\n%s\n--\n%s\n' "$secret_ca" "$cm_ca"
		return 1
	fi
	grep -q 'BEGIN CERTIFICATE' <<<"$cm_ca" || {
		echo "the published bundle is not PEM"
		return 1
	}
	local api_ca
	api_ca=$(kubectl get apiservice v1.recordings.bulwark.dev -o jsonpath='{.spec.caBundle}' | base64 -d)
	[ "$api_ca" = "$secret_ca" ] || {
		printf 'the APIService caBundle is not the CA:\n%s\n' "$api_ca"
		return 1
	}
	# The ConfigMap carries no key, and the job's account reads no other Secret.
	kubectl -n "$NS" get configmap bulwark-controller-ca -o json |
		jq -e '.data | keys == ["ca.crt"]' >/dev/null || {
		echo "the ConfigMap holds more than ca.crt"
		return 1
	}
	can() { kubectl auth can-i "$@" -n "$NS" --as "system:serviceaccount:$NS:bulwark-certs" 2>/dev/null; }
	if [ "$(can get secrets/other)" != no ] || [ "$(can list secrets)" != no ] ||
		[ "$(can get secrets/bulwark-controller-tls)" != yes ]; then
		echo "bulwark-certs can read other Secrets, or not its own"
		return 1
	fi
}
if kubectl -n "$NS" get secret bulwark-controller-tls >/dev/null 2>&1; then
	tap_skip "certificate CronJob steps" "$NS/bulwark-controller-tls exists already (not ours to change)"
else
	check "certificate CronJob: Secret created, CA published to the ConfigMap and the recordings APIService, idempotent" certs_job
fi

tap_done
