#!/usr/bin/env bash
# Start-up cost of bulwark-launch: the same command run directly and through the launcher
# (an empty ruleset, a typical one-layer ruleset, and three layers), timed over many runs in
# interleaved rounds, reported as ratios against the direct run measured in the same session.
# Writes bench/results/landlock.json.  RUNS=N runs per case (default 900), ROUNDS=N (9).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LAUNCH=$PWD/$BUILD/bin/bulwark-launch
RUNS=${RUNS:-900}
OUT=bench/results/landlock.json
[ -x "$LAUNCH" ] || { echo "bench-landlock: $LAUNCH is not built (make)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ALL_FS='["execute","write_file","read_file","read_dir","remove_dir","remove_file","make_char","make_dir","make_reg","make_sock","make_fifo","make_block","make_sym","refer","truncate","ioctl_dev"]'
LAYER='{"ruleset":[{"handledAccessFs":'"$ALL_FS"',"handledAccessNet":["bind_tcp","connect_tcp"],"scoped":["abstract_unix_socket","signal"]}],"pathBeneath":[{"allowedAccess":["execute","read_file","read_dir"],"parent":["/usr","/lib","/bin","/etc"]},{"allowedAccess":["read_file","write_file","read_dir","make_reg","remove_file","truncate"],"parent":["/tmp"]}],"netPort":[{"allowedAccess":["connect_tcp"],"port":[443,5432]},{"allowedAccess":["bind_tcp"],"port":[8080]}]}'
P='{"name":"bench/p","mode":"Enforce"}'
echo '{"compatibility":"BestEffort","policies":[],"layers":[]}' >"$tmp/empty.json"
echo '{"compatibility":"BestEffort","policies":['"$P"'],"layers":['"$LAYER"']}' >"$tmp/one.json"
echo '{"compatibility":"BestEffort","policies":['"$P,$P,$P"'],"layers":['"$LAYER,$LAYER,$LAYER"']}' >"$tmp/three.json"

# batch CMD... : mean microseconds per run of CMD over one batch of RUNS/ROUNDS runs.
batch() {
	local i start end n=$((RUNS / ROUNDS))
	start=$(date +%s%N)
	for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1; done
	end=$(date +%s%N)
	echo $(((end - start) / n / 1000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Every case runs once per round, interleaved, and a case's figure is the median of its
# rounds, so load from other processes on the machine hits every case alike.
ROUNDS=${ROUNDS:-9}
cmds=("/bin/true" "/bin/busybox sh -c true")
cases=()
for c in "${cmds[@]}"; do
	for rs in direct empty one three; do cases+=("$c|$rs"); done
done
declare -A samples us
for key in "${cases[@]}"; do
	read -ra argv <<<"${key%|*}"
	rs=${key#*|}
	if [ "$rs" = direct ]; then run=("${argv[@]}"); else run=("$LAUNCH" --ruleset "$tmp/$rs.json" -- "${argv[@]}"); fi
	"${run[@]}" >/dev/null 2>&1 || { echo "bench-landlock: '${run[*]}' fails" >&2; exit 1; }
done
for ((round = 0; round < ROUNDS; round++)); do
	for key in "${cases[@]}"; do
		read -ra argv <<<"${key%|*}"
		rs=${key#*|}
		if [ "$rs" = direct ]; then run=("${argv[@]}"); else run=("$LAUNCH" --ruleset "$tmp/$rs.json" -- "${argv[@]}"); fi
		samples["$key"]+=" $(batch "${run[@]}")"
	done
done
for key in "${cases[@]}"; do
	# shellcheck disable=SC2086
	us["$key"]=$(median ${samples["$key"]})
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-26s %10s %10s %12s %12s %14s\n' command "direct(us)" "empty(x)" "1 layer(x)" "3 layers(x)" "+1 layer(us)"
json_cases=""
for c in "${cmds[@]}"; do
	d=${us["$c|direct"]}
	printf '%-26s %10s %10s %12s %12s %14s\n' "$c" "$d" "$(ratio "${us["$c|empty"]}" "$d")" \
		"$(ratio "${us["$c|one"]}" "$d")" "$(ratio "${us["$c|three"]}" "$d")" \
		"$((us["$c|one"] - d))"
	json_cases+="${json_cases:+,}{\"command\":\"$c\",\"directUs\":$d,\"emptyRulesetUs\":${us["$c|empty"]},\"oneLayerUs\":${us["$c|one"]},\"threeLayersUs\":${us["$c|three"]},\"oneLayerRatio\":$(ratio "${us["$c|one"]}" "$d"),\"threeLayersRatio\":$(ratio "${us["$c|three"]}" "$d"),\"addedUsOneLayer\":$((us["$c|one"] - d)),\"landlockUsOneLayer\":$((us["$c|one"] - us["$c|empty"]))}"
done
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))' 2>/dev/null || echo unknown)
mkdir -p "$(dirname "$OUT")"
printf '{"benchmark":"landlock","runs":%d,"rounds":%d,"landlockAbi":"%s","kernel":"%s","launcherBytes":%d,"cases":[%s]}\n' \
	"$RUNS" "$ROUNDS" "$abi" "$(uname -r)" "$(stat -c %s "$LAUNCH")" "$json_cases" >"$OUT"
echo "wrote $OUT"
