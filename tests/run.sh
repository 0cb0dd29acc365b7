#!/usr/bin/env bash
# Runs Bulwark's test tiers and prints one closing line: "N passed, N failed, N skipped".
#
#   tests/run.sh                 every tier: format unit asan fuzz core kernel vm e2e
#   tests/run.sh unit kernel     only those tiers
#
# A test is an executable. cmocka tests speak TAP (CMOCKA_MESSAGE_OUTPUT=TAP) and every case
# counts; any other test counts once by its exit status: 0 passed, 77 skipped (it lacks a
# privilege or kernel feature; it says which), anything else failed. A test that prints TAP
# and then exits non-zero without a "not ok" line counts one extra failure, so a crash
# after the last case is never a pass.
#
# Environment: BUILD (default build), FUZZ_SECONDS (per fuzz target, default 10),
# TEST_TIMEOUT (seconds per test, default 900), TEST_FILTER (regex on test names), TEST_EXCLUDE (regex of tests to leave out).
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
TEST_FILTER=${TEST_FILTER:-}
TEST_EXCLUDE=${TEST_EXCLUDE:-}
LOGS=$BUILD/test-logs
export BUILD BULWARK_ROOT=$PWD

tiers=("$@")
((${#tiers[@]})) || tiers=(format unit asan fuzz core kernel vm e2e)

passed=0 failed=0 skipped=0
failures=()

note() { printf '%s\n' "$*"; }

# run_test TIER NAME CMD...: runs one test with its output in a log, and counts it.
run_test() {
	local tier=$1 name=$2
	shift 2
	if [ -n "$TEST_FILTER" ] && ! [[ "$tier/$name" =~ $TEST_FILTER ]]; then
		return 0
	fi
	if [ -n "$TEST_EXCLUDE" ] && [[ "$tier/$name" =~ $TEST_EXCLUDE ]]; then
		return 0
	fi
	local log=$LOGS/$tier/$name.log
	mkdir -p "$(dirname "$log")"
	local start=$SECONDS rc
	CMOCKA_MESSAGE_OUTPUT=TAP timeout --kill-after=10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	local secs=$((SECONDS - start))
	local ok notok skip
	ok=$(grep -cE '^ok [0-9]+' "$log")
	notok=$(grep -cE '^not ok [0-9]+' "$log")
	skip=$(grep -cE '^(not )?ok [0-9]+.*# ?SKIP' "$log")
	local p=0 f=0 s=0
	if ((ok + notok > 0)); then
		s=$skip
		p=$((ok - $(grep -cE '^ok [0-9]+.*# ?SKIP' "$log")))
		f=$((notok - $(grep -cE '^not ok [0-9]+.*# ?SKIP' "$log")))
		if ((rc != 0 && f == 0)); then
			f=1
		fi
	elif ((rc == 0)); then
		p=1
	elif ((rc == 77)); then
		s=1
	else
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	local status=PASS
	((s > 0 && p == 0 && f == 0)) && status=SKIP
	((f > 0)) && status=FAIL
	local detail=""
	((ok + notok > 1)) && detail=" ($p passed, $f failed, $s skipped)"
	((rc == 124 || rc == 137)) && detail+=" (timed out after ${TEST_TIMEOUT}s)"
	printf '%-4s %-48s %4ss%s\n' "$status" "$tier/$name" "$secs" "$detail"
	if [ "$status" = FAIL ]; then
		failures+=("$tier/$name")
		sed -e 's/^/     | /' "$log" | tail -n 40
	elif [ "$status" = SKIP ]; then
		grep -iE 'skip' "$log" | sed -n -e '1,2s/^/     | /p'
	fi
}

# The script check refuses early-exit readers behind a pipe (SIGPIPE under pipefail); its
# self-test plants them and expects them refused, so the check is seen to be able to fail.
tier_format() {
	run_test format clang-format make --no-print-directory format-check
	run_test format check-scripts tests/check_scripts.sh
	run_test format check-scripts-selftest tests/check_scripts_selftest.sh
	run_test format include-cycles tests/include_cycles.sh
	run_test format include-cycles-self-test tests/include_cycles.sh --self-test
}

tier_unit() {
	local t
	for t in "$BUILD"/tests/unit/test_*; do
		[ -x "$t" ] && run_test unit "$(basename "$t")" "$t"
	done
}

tier_asan() {
	local t
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for t in "$BUILD"/asan/tests/unit/test_*; do
		[ -x "$t" ] && run_test asan "$(basename "$t")" "$t"
	done
}

# Each fuzz target runs for FUZZ_SECONDS from a scratch copy of its seed corpus
# (tests/fuzz/corpus/NAME), so the repository's corpus is never modified by a run.
tier_fuzz() {
	local t name work
	for t in "$BUILD"/fuzz/bin/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		work=$(mktemp -d)
		[ -d "tests/fuzz/corpus/${name#fuzz_}" ] && cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$work/"
		# Crash inputs go to the logs (kept for the report), never into the work tree. libFuzzer
		# exits 77 on a crash by default, which this runner counts as a skip: make it 1.
		mkdir -p "$LOGS/fuzz/$name-artifacts"
		run_test fuzz "$name" "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
			-error_exitcode=1 -print_final_stats=1 -artifact_prefix="$LOGS/fuzz/$name-artifacts/" "$work"
		rm -rf "$work"
	done
}

# The CO-RE check: every BPF object relocated against the BTF of every kernel of the matrix
# (Debian's, pinned in e2e/cluster/kernels.env, downloaded once into $BUILD/kernels) and of
# this machine, then verified here (tests/core/core_check.c says why loading is needed). It
# loads programs and never attaches them; that takes root.
tier_core() {
	if [ "$(id -u)" -ne 0 ]; then
		run_test core relocations bash -c 'echo "SKIP: the CO-RE check loads BPF programs: it needs root"; exit 77'
		return 0
	fi
	run_test core kernel-btf tests/core/kernel-btf.sh fetch
	local kernels=()
	mapfile -t kernels < <(grep -E '^[a-z0-9_]+=/' "$LOGS/core/kernel-btf.log")
	[ -r /sys/kernel/btf/vmlinux ] && kernels+=("$(uname -r)=/sys/kernel/btf/vmlinux")
	((${#kernels[@]})) || return 0
	run_test core relocations "$BUILD/tests/core/core_check" "${kernels[@]}" -- "$BUILD"/bpf/*.bpf.o
}

# Kernel tests need root (BPF, cgroups, network namespaces); as anyone else they are skipped.
tier_kernel() {
	local t
	for t in "$BUILD"/tests/kernel/test_* tests/kernel/test_*.sh; do
		[ -x "$t" ] || continue
		if [ "$(id -u)" -ne 0 ]; then
			run_test kernel "$(basename "$t")" bash -c 'echo "SKIP: kernel tests need root"; exit 77'
		else
			run_test kernel "$(basename "$t")" "$t"
		fi
	done
}

# The kernel tier again, in a VM booted on Debian 13's kernel (6.12): tests/vm-kernel/run.sh.
# `make vm-matrix` boots every kernel of e2e/cluster/kernels.env.
# The node harness's runpod test is left out in the VM: the harness is the stand-in kubelet of
# the host's e2e tier, and inside the VM's chroot of the host root its in-container checks fail
# (runc exec cannot enter the container's /tmp; the argv check reads the guest's PID 1). The
# real node tier runs real containers on this kernel instead.
tier_vm() {
	TEST_EXCLUDE=${TEST_EXCLUDE:-kernel/test_harness_runpod} run_test vm kernel-trixie tests/vm-kernel/run.sh trixie
}

# The e2e tier starts one local control plane for all its tests and stops it afterwards; tests
# read its address from $CLUSTER_DIR/env (default $BUILD/cluster; see e2e/lib.sh). A last test,
# e2e/leftovers, fails if a process, the state dir, or a netns/bpffs pin/cgroup survives.
tier_e2e() {
	local t tests=()
	for t in e2e/test_*.sh; do
		[ -x "$t" ] && tests+=("$t")
	done
	((${#tests[@]})) || return 0
	# What exists before the cluster starts, so the leftover check below sees only this run's.
	e2e/cluster/leftovers.sh snapshot >"$LOGS/e2e-before.snapshot"
	# A cluster someone started by hand (make cluster-up) is used and left running.
	local kept=()
	e2e/cluster/cluster.sh status >/dev/null 2>&1 && kept=(--cluster-kept)
	note "e2e: starting the local control plane (e2e/cluster/cluster.sh up; the first build takes minutes)"
	# Shown as it happens: the first build's progress lines are all there is to see for minutes.
	e2e/cluster/cluster.sh up 2>&1 | tee "$LOGS/cluster-up.log" | sed -u 's/^/     /'
	if ((PIPESTATUS[0] != 0)); then
		run_test e2e cluster-up bash -c "cat '$LOGS/cluster-up.log'; exit 1"
	else
		for t in "${tests[@]}"; do
			run_test e2e "$(basename "$t" .sh)" "$t"
		done
	fi
	if ((${#kept[@]})); then
		note "e2e: the cluster was running before this run; left up (e2e/cluster/cluster.sh down stops it)"
	else
		e2e/cluster/cluster.sh down >"$LOGS/cluster-down.log" 2>&1 ||
			run_test e2e cluster-down bash -c "cat '$LOGS/cluster-down.log'; exit 1"
	fi
	run_test e2e leftovers e2e/cluster/leftovers.sh check "$LOGS/e2e-before.snapshot" "${kept[@]}"
}

# The real-node tier: one real cluster (e2e/node/node.sh up: the control plane plus kubelet and
# kube-proxy in a QEMU VM) for all of e2e/node/test_*.sh, removed afterwards; a last test,
# node/leftovers, fails if a VM, process or the state dir survives. A machine that cannot run
# the VM skips the tier with the reason (node.sh check).
tier_node() {
	local t tests=() reason rc=0
	for t in e2e/node/test_*.sh; do
		[ -x "$t" ] && tests+=("$t")
	done
	((${#tests[@]})) || return 0
	reason=$(e2e/node/node.sh check 2>&1) || rc=$?
	if ((rc != 0)); then
		run_test node real-node bash -c 'printf "%s\n" "$1"; exit "$2"' _ "$reason" "$rc"
		return 0
	fi
	e2e/cluster/leftovers.sh snapshot >"$LOGS/node-before.snapshot"
	note "node: starting the real-node cluster (e2e/node/node.sh up; a cold machine builds kubelet & co and the VM image first)"
	e2e/node/node.sh up 2>&1 | tee "$LOGS/node-up.log" | sed -u 's/^/     /'
	if ((PIPESTATUS[0] != 0)); then
		run_test node node-up bash -c "cat '$LOGS/node-up.log'; exit 1"
	else
		for t in "${tests[@]}"; do
			run_test node "$(basename "$t" .sh)" "$t"
		done
	fi
	e2e/node/node.sh down >"$LOGS/node-down.log" 2>&1 ||
		run_test node node-down bash -c "cat '$LOGS/node-down.log'; exit 1"
	CLUSTER_DIR=$BUILD/node run_test node leftovers e2e/cluster/leftovers.sh check "$LOGS/node-before.snapshot"
}

mkdir -p "$LOGS"
for tier in "${tiers[@]}"; do
	if ! declare -F "tier_$tier" >/dev/null; then
		echo "tests/run.sh: unknown tier '$tier' (tiers: format unit asan fuzz core kernel vm e2e node)" >&2
		exit 2
	fi
	note "== $tier"
	"tier_$tier"
done

if ((${#failures[@]})); then
	note ""
	note "failed: ${failures[*]}"
	note "logs: $LOGS/"
fi
note ""
note "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && passed + skipped > 0))
