#!/usr/bin/env bash
# What the e2e tier must leave behind: nothing. tests/run.sh takes a snapshot before the cluster
# starts and checks after `cluster.sh down`, counting the check as a test.
#
#   e2e/cluster/leftovers.sh snapshot > FILE     the kernel objects that exist now
#   e2e/cluster/leftovers.sh check FILE [--cluster-kept]
#                                                exit 1, listing them, if anything is left over
#                                                (--cluster-kept: the cluster was meant to stay up,
#                                                so only kernel objects count)
#
# Left over means: a process whose command line names the cluster's state dir, the state dir
# itself, or a kernel object that the e2e tier may create and that was not in the snapshot: a
# named network namespace, a bpffs pin /sys/fs/bpf/bulwark*, a cgroup
# /sys/fs/cgroup/unified/bulwark* or *kubepods* (the node harness's kubelet-style cgroups).
# Comparing with a snapshot keeps the check about this run, not about the machine's history.
# The real-node tier runs it with CLUSTER_DIR=$BUILD/node: every process it starts (qemu, the
# ssh master, socat, kube-scheduler, kube-controller-manager, etcd, kube-apiserver) names that
# dir on its command line.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
CLUSTER_DIR=$(realpath -m "${CLUSTER_DIR:-$BUILD/cluster}")
CGROUP_ROOT=${CGROUP_ROOT:-/sys/fs/cgroup/unified}

kernel_objects() {
	local n
	if [ -d /run/netns ]; then
		for n in /run/netns/*; do
			[ -e "$n" ] && printf 'netns %s\n' "${n##*/}"
		done
	fi
	for n in /sys/fs/bpf/bulwark*; do
		[ -e "$n" ] && printf 'bpffs %s\n' "$n"
	done
	for n in "$CGROUP_ROOT"/bulwark* "$CGROUP_ROOT"/*kubepods*; do
		[ -d "$n" ] && printf 'cgroup %s\n' "$n"
	done
	return 0
}

# cluster_processes: pid and command of every process whose command line names the state dir.
cluster_processes() {
	local d cmd
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = $$ ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
		[[ $cmd == *"$CLUSTER_DIR/"* ]] || continue
		grep -qE '^State:[[:space:]]*Z' "$d/status" 2>/dev/null && continue
		printf 'process %s: %s\n' "${d#/proc/}" "${cmd:0:200}"
	done
}

check() {
	local before=$1 kept=${2:-} left=()
	[ -r "$before" ] || {
		echo "leftovers: no snapshot $before" >&2
		exit 2
	}
	mapfile -t left < <(
		if [ -z "$kept" ]; then
			cluster_processes
			[ ! -e "$CLUSTER_DIR" ] || printf 'state dir %s\n' "$CLUSTER_DIR"
		fi
		kernel_objects | sort | comm -13 <(sort "$before") -
	)
	if ((${#left[@]})); then
		echo "left over after the e2e tier:"
		printf '  %s\n' "${left[@]}"
		exit 1
	fi
	if [ -z "$kept" ]; then
		echo "nothing left over: no process of $CLUSTER_DIR, no state dir, no new netns, bpffs pin or cgroup"
	else
		echo "nothing left over: no new netns, bpffs pin or cgroup (the cluster in $CLUSTER_DIR stays up, as it was before)"
	fi
}

case ${1:-} in
snapshot) kernel_objects ;;
check)
	(($# == 2)) || { (($# == 3)) && [ "$3" = --cluster-kept ]; } || {
		echo "usage: leftovers.sh check SNAPSHOT [--cluster-kept]" >&2
		exit 2
	}
	check "$2" "${3:-}"
	;;
*)
	echo "usage: leftovers.sh snapshot > FILE | check FILE [--cluster-kept]" >&2
	exit 2
	;;
esac
