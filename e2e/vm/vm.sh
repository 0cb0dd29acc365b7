#!/usr/bin/env bash
# Boots, drives and stops one VM made by e2e/vm/rootfs.sh, under QEMU's TCG (KVM cannot boot a
# stock kernel on this kind of machine; docs/real-node.md). The VM is disposable: its disk is a
# qcow2 overlay on the cached image, thrown away at stop.
#
#   vm.sh start DIR        boot the VM whose state dir is DIR; wait until sshd answers
#   vm.sh exec DIR CMD...  run CMD (one shell command line, like ssh) in the guest as root;
#                          stdin, stdout, stderr and the exit status are the command's
#   vm.sh stop DIR         stop qemu (SIGTERM, then SIGKILL), the ssh master; remove DIR
#   vm.sh status DIR       exit 0 if the VM of DIR runs
#
# DIR/share/ must hold the guest's own files before start (shared read-only as /run/vm; see
# e2e/vm/guest/files/usr/local/sbin/vm-setup): hostname, net ("ADDRESS/PREFIX GATEWAY"), and
# optionally setup.sh, run at boot before sshd. start adds authorized_keys.
#
# Environment for start:
#   VM_IMAGE_DIR    what rootfs.sh built (default: `rootfs.sh path`)
#   VM_SMP, VM_MEM  vCPUs (2) and MiB of memory (2048)
#   VM_BUILD_SHARE  host dir shared read-only as /bulwark (default the repository root)
#   VM_HOSTFWD      extra host->guest forwards, space-separated HOSTPORT:GUESTPORT (127.0.0.1 only)
#   VM_GUESTFWD     guest->host forwards, space-separated GUESTIP:PORT=HOSTPORT: a connection
#                   from the guest to GUESTIP:PORT reaches 127.0.0.1:HOSTPORT on the host
#   VM_BOOT_TIMEOUT seconds to wait for sshd (default 300: a TCG boot takes about a minute)
#   VM_ACCEL        qemu -accel value (default tcg,thread=multi,tb-size=512)
#
# Network: qemu's user network with restrict=on: the guest reaches nothing on the host or
# beyond except the guestfwd addresses, and the host reaches the guest only through hostfwd
# ports bound to 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

say() { printf 'vm: %s\n' "$*" >&2; }
die() {
	printf 'vm: error: %s\n' "$*" >&2
	exit 1
}

# ours PID DIR: is PID a live qemu started for DIR? Its command line names DIR's pid file.
ours() {
	local cmd
	cmd=$(tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ $(head -n1 <<<"$cmd") == *qemu-system-x86_64 ]] || return 1
	grep -qxF -- "$2/qemu.pid" <<<"$cmd" || return 1
	! grep -qE '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

qemu_pid() {
	local pid
	pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && ours "$pid" "$1" || return 1
	printf '%s\n' "$pid"
}

ssh_args() {
	local dir=$1
	# shellcheck source=/dev/null
	source "$dir/ports"
	printf '%s\n' -i "$dir/id" -p "$VM_SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
		-o ServerAliveInterval=15 -o ServerAliveCountMax=8 \
		-o ControlMaster=auto -o ControlPath="$dir/ssh.ctl" -o ControlPersist=900 root@127.0.0.1
}

vm_exec() {
	local dir=$1 args
	shift
	mapfile -t args < <(ssh_args "$dir")
	exec ssh "${args[@]}" -- "$@"
}

free_port() {
	local p i lo=10000 hi
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	for ((i = 0; i < 200; i++)); do
		p=$((lo + RANDOM % (hi - lo)))
		[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && break
	done
	((i < 200)) || die "found no free loopback port"
	printf '%s\n' "$p"
}

start() {
	local dir=$1
	[[ $dir == /* ]] || dir=$PWD/$dir
	local img=${VM_IMAGE_DIR:-$("$HERE/rootfs.sh" path)}
	[ -s "$img/rootfs.img" ] || die "no VM image in $img (run e2e/vm/rootfs.sh)"
	[ -r "$dir/share/hostname" ] && [ -r "$dir/share/net" ] ||
		die "$dir/share must hold hostname and net before start"
	! qemu_pid "$dir" >/dev/null || die "a VM already runs for $dir"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (make deps)"
	rm -f "$dir/id" "$dir/id.pub" "$dir/overlay.qcow2" "$dir/console.log" "$dir/ssh.ctl"
	ssh-keygen -q -t ed25519 -N '' -C "vm@$dir" -f "$dir/id"
	cp "$dir/id.pub" "$dir/share/authorized_keys"
	# cache=unsafe: the overlay is thrown away at stop, so its flushes buy nothing.
	qemu-img create -q -f qcow2 -F raw -b "$img/rootfs.img" "$dir/overlay.qcow2"
	VM_SSH_PORT=$(free_port)
	printf 'VM_SSH_PORT=%s\n' "$VM_SSH_PORT" >"$dir/ports"
	local net="user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2,hostfwd=tcp:127.0.0.1:$VM_SSH_PORT-:22"
	local f i=0
	for f in ${VM_HOSTFWD:-}; do
		[[ $f =~ ^([0-9]+):([0-9]+)$ ]] || die "VM_HOSTFWD entry '$f' is not HOSTPORT:GUESTPORT"
		net+=",hostfwd=tcp:127.0.0.1:${BASH_REMATCH[1]}-:${BASH_REMATCH[2]}"
	done
	for f in ${VM_GUESTFWD:-}; do
		[[ $f =~ ^(10\.0\.2\.[0-9]+):([0-9]+)=([0-9]+)$ ]] ||
			die "VM_GUESTFWD entry '$f' is not 10.0.2.X:PORT=HOSTPORT"
		# qemu splits its arguments at spaces and commas, so the command is a script.
		printf '#!/bin/sh\nexec socat STDIO TCP:127.0.0.1:%s\n' "${BASH_REMATCH[3]}" >"$dir/guestfwd-$i.sh"
		chmod 755 "$dir/guestfwd-$i.sh"
		net+=",guestfwd=tcp:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}-cmd:$dir/guestfwd-$i.sh"
		i=$((i + 1))
	done
	local share=${VM_BUILD_SHARE:-$ROOT}
	local start=$SECONDS
	qemu-system-x86_64 -name "vm-$(cat "$dir/share/hostname")" \
		-accel "${VM_ACCEL:-tcg,thread=multi,tb-size=512}" -cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "console=ttyS0 root=/dev/vda rw net.ifnames=0 mitigations=off quiet systemd.show_status=0" \
		-drive "file=$dir/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
		-netdev "$net" -device virtio-net-pci,netdev=n0 \
		-device virtio-rng-pci \
		-fsdev "local,id=build,path=$share,security_model=none,readonly=on" \
		-device virtio-9p-pci,fsdev=build,mount_tag=build \
		-fsdev "local,id=vmrun,path=$dir/share,security_model=none,readonly=on" \
		-device virtio-9p-pci,fsdev=vmrun,mount_tag=vmrun \
		-display none -monitor none -serial "file:$dir/console.log" \
		-daemonize -pidfile "$dir/qemu.pid" ||
		die "qemu did not start"
	local deadline=$((SECONDS + ${VM_BOOT_TIMEOUT:-300}))
	while ! (vm_exec "$dir" true) 2>/dev/null; do
		if ! qemu_pid "$dir" >/dev/null; then
			tail -n 30 "$dir/console.log" | sed 's/^/  | /' >&2
			die "qemu exited while the VM booted (console: $dir/console.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$dir/console.log" | sed 's/^/  | /' >&2
			die "the VM's sshd did not answer within ${VM_BOOT_TIMEOUT:-300}s (console: $dir/console.log)"
		fi
		sleep 2
	done
	say "VM $(cat "$dir/share/hostname") up in $((SECONDS - start))s (ssh 127.0.0.1:$VM_SSH_PORT)"
}

stop() {
	local dir=$1 pid i
	[[ $dir == /* ]] || dir=$PWD/$dir
	if [ -S "$dir/ssh.ctl" ]; then
		local args
		mapfile -t args < <(ssh_args "$dir")
		ssh "${args[@]}" -O exit 2>/dev/null || true
	fi
	if pid=$(qemu_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			qemu_pid "$dir" >/dev/null || break
			sleep 0.1
		done
		if qemu_pid "$dir" >/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				qemu_pid "$dir" >/dev/null || break
				sleep 0.1
			done
		fi
		! qemu_pid "$dir" >/dev/null || die "qemu (pid $pid) survived SIGKILL"
		say "stopped the VM of $dir (pid $pid)"
	fi
	rm -rf "$dir"
}

case ${1:-} in
start | stop | status | exec) ;;
*) die "usage: vm.sh start DIR | exec DIR CMD... | stop DIR | status DIR" ;;
esac
(($# >= 2)) || die "usage: vm.sh $1 DIR ..."
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
status) qemu_pid "$2" >/dev/null ;;
exec)
	dir=$2
	shift 2
	vm_exec "$dir" "$@"
	;;
esac
