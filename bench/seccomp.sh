#!/usr/bin/env bash
# Cost of a seccomp profile per syscall, as ratios to no filter measured in the same run.
#
# Workloads (e2e/tools/seccomp_profile.c bench): a tight getppid loop, and a mixed
# open/read/stat/close loop. Profiles, each loaded with and without libseccomp's binary-tree
# optimisation (SCMP_FLTATR_CTL_OPTIMIZE=2):
#   runtime-default  what `base: RuntimeDefault` compiles to
#   allow-300        a policy allowing 300 syscalls by name (base None), compiled by us
#   args-300         300 allow rules that each check an argument: nothing is constant, so
#                    the kernel's allow-cache cannot skip the filter (the worst case)
# Prints a table and writes bench/results/seccomp.json. Each cell is the fastest of REPS fresh
# processes, with the configurations interleaved round-robin, so a burst of other load on the
# machine hits every configuration alike and the minimum is the least-disturbed run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TOOL=$BUILD/e2e/seccomp_profile
REPS=${REPS:-21}
GETPPID_N=${GETPPID_N:-300000}
MIXED_N=${MIXED_N:-30000}
[ -x "$TOOL" ] || { echo "bench/seccomp.sh: $TOOL not built (make test-build)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo '{}' >"$work/rd.policy.json"
"$TOOL" compile "$work/rd.policy.json" >"$work/runtime-default.json"
"$TOOL" synth-args 300 >"$work/args-300.json"
jq '{base: "None", defaultAction: "Errno",
	allow: (([.syscalls[].names[]] | map(select(. != "exit" and . != "exit_group")) | .[:298])
		+ ["exit", "exit_group"])}' \
	"$work/args-300.json" >"$work/allow.policy.json"
"$TOOL" compile "$work/allow.policy.json" >"$work/allow-300.json"

configs=(baseline runtime-default runtime-default+opt allow-300 allow-300+opt args-300 args-300+opt)
declare -A ns
for ((rep = 0; rep < REPS; rep++)); do
	for w in getppid mixed; do
		n=$GETPPID_N
		[ "$w" = mixed ] && n=$MIXED_N
		for c in "${configs[@]}"; do
			args=()
			p=${c%+opt}
			[ "$c" != baseline ] && args+=(--profile "$work/$p.json")
			[ "$c" != "$p" ] && args+=(--optimize)
			v=$("$TOOL" bench --workload "$w" --iterations "$n" "${args[@]}")
			if [ -z "${ns[$w,$c]:-}" ] || awk -v a="$v" -v b="${ns[$w,$c]}" 'BEGIN{exit !(a < b)}'; then
				ns[$w,$c]=$v
			fi
		done
	done
done

printf '%-22s %14s %8s %14s %8s\n' profile "getppid ns" ratio "mixed ns" ratio
json_rows=()
for c in "${configs[@]}"; do
	g=${ns[getppid,$c]} m=${ns[mixed,$c]}
	rg=$(awk -v a="$g" -v b="${ns[getppid,baseline]}" 'BEGIN{printf "%.2f", a/b}')
	rm=$(awk -v a="$m" -v b="${ns[mixed,baseline]}" 'BEGIN{printf "%.2f", a/b}')
	printf '%-22s %14s %8s %14s %8s\n' "$c" "$g" "${rg}x" "$m" "${rm}x"
	json_rows+=("$(jq -cn --arg c "$c" --argjson g "$g" --argjson m "$m" --argjson rg "$rg" \
		--argjson rm "$rm" '{profile: $c, getppid_ns: $g, getppid_ratio: $rg,
		mixed_ns: $m, mixed_ratio: $rm}')")
done

mkdir -p bench/results
printf '%s\n' "${json_rows[@]}" | jq -s --arg kernel "$(uname -r)" --argjson reps "$REPS" \
	--argjson getppid_n "$GETPPID_N" --argjson mixed_n "$MIXED_N" \
	'{benchmark: "seccomp", kernel: $kernel, reps: $reps, getppid_iterations: $getppid_n,
	  mixed_iterations: $mixed_n, note: "fastest of reps interleaved runs; ratios are ns/iteration over the unfiltered baseline of the same run; mixed = open+read+stat+close",
	  results: .}' >bench/results/seccomp.json
echo "wrote bench/results/seccomp.json"
