#!/usr/bin/env bash
# Cost of composing pods' policies in the controller (lib/policy), as a ratio against the
# uncached compile measured in the same run: PODS pods of two workloads (web front ends and
# databases, each selected by its own policy plus a namespace-wide exec-recording policy) are
# compiled once without and once with a policy_cache. The cache compiles each distinct set of
# selecting policies once; the ratio says how much of a full recompile (a policy changed, every
# selected pod is recomputed) it saves. Writes bench/results/policy.json.  PODS=N (default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
CHECK=$BUILD/e2e/policy_check
PODS=${PODS:-5000}
OUT=bench/results/policy.json
[ -x "$CHECK" ] || { echo "bench-policy: $CHECK is not built (make test-build)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The policies of examples/web-frontend.yaml and examples/database.yaml, as JSON.
cat >"$tmp/web.json" <<'JSON'
{"apiVersion":"bulwark.dev/v1alpha1","kind":"BulwarkPolicy",
 "metadata":{"name":"web-frontend","namespace":"shop","generation":1},
 "spec":{"podSelector":{"matchLabels":{"app":"web"}},"mode":"Enforce",
  "network":{"egress":{"defaultAction":"Deny","rules":[
     {"cidrs":["10.96.0.10/32"],"protocol":"UDP","ports":[{"port":53}]},
     {"cidrs":["10.96.0.10/32"],"protocol":"TCP","ports":[{"port":53}]},
     {"cidrs":["10.96.14.20/32"],"protocol":"TCP","ports":[{"port":8443}]}]},
   "ingress":{"defaultAction":"Deny","rules":[{"protocol":"TCP","ports":[{"port":8080}]}]}},
  "seccomp":{"base":"None","defaultAction":"Errno","defaultErrno":"EPERM","allow":["@system-service"]},
  "landlock":{"filesystem":[{"paths":["/"],"access":["execute","read_file","read_dir"]},
     {"paths":["/tmp"],"access":["read_file","write_file","read_dir","remove_dir","remove_file","make_dir","make_reg","truncate"]}],
   "network":[{"ports":[8080],"access":["bind_tcp"]},{"ports":[53,8443],"access":["connect_tcp"]}]},
  "execRecording":{"enabled":true,"allowExec":true}}}
JSON
cat >"$tmp/db.json" <<'JSON'
{"apiVersion":"bulwark.dev/v1alpha1","kind":"BulwarkPolicy",
 "metadata":{"name":"database","namespace":"shop","generation":1},
 "spec":{"podSelector":{"matchLabels":{"app":"postgres"}},
  "network":{"ingress":{"defaultAction":"Deny","rules":[{"cidrs":["10.244.1.0/24"],"protocol":"TCP","ports":[{"port":5432}]}]},
   "egress":{"defaultAction":"Deny","rules":[{"cidrs":["10.96.0.10/32"],"protocol":"UDP","ports":[{"port":53}]}]}},
  "seccomp":{"base":"RuntimeDefault","deny":[{"syscalls":["ptrace","process_vm_readv","process_vm_writev"]}]}}}
JSON
cat >"$tmp/audit.json" <<'JSON'
{"apiVersion":"bulwark.dev/v1alpha1","kind":"BulwarkPolicy",
 "metadata":{"name":"record-all","namespace":"shop","generation":4},
 "spec":{"podSelector":{},"mode":"Audit","execRecording":{"enabled":true}}}
JSON
echo '{"metadata":{"namespace":"shop","uid":"u","labels":{"app":"web"}},"spec":{"nodeName":"node-a"}}' >"$tmp/pod-web.json"
echo '{"metadata":{"namespace":"shop","uid":"u","labels":{"app":"postgres"}},"spec":{"nodeName":"node-b"}}' >"$tmp/pod-db.json"

result=$("$CHECK" bench "$PODS" "$tmp/pod-web.json" "$tmp/pod-db.json" -- \
	"$tmp/web.json" "$tmp/db.json" "$tmp/audit.json")
jq -n --argjson r "$result" '$r + {
	ratio_cached_vs_uncached: (($r.cached_us / $r.uncached_us) * 1000 | round / 1000),
	speedup: (($r.uncached_us / $r.cached_us) * 10 | round / 10)}' >"$OUT"
jq -r '"policy compile: \(.pods) pods, uncached \(.uncached_us) us/pod, cached \(.cached_us) us/pod: cached/uncached = \(.ratio_cached_vs_uncached) (\(.speedup)x faster), cache hits \(.cache_hits), misses \(.cache_misses)"' "$OUT"
