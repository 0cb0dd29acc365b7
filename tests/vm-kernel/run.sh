#!/usr/bin/env bash
# The kernel tier on one of the matrix kernels (e2e/cluster/kernels.env), booted under QEMU.
#
#   tests/vm-kernel/run.sh NAME        e.g. trixie (6.12) or bookworm (6.1)
#
# The guest is this machine, read-only: Debian's kernel from the pinned package, a small
# initramfs (busybox, the kernel's own 9p and overlay modules), and this machine's root shared
# read-only over 9p as the lower layer of an overlay whose upper layer is guest memory. So the
# guest runs exactly the binaries and libraries that `make test-build` made and linked here,
# writes nothing back, and has no network device at all. Its /sys/fs/cgroup is a pure cgroup v2
# mount (as on a modern host), its /tmp a tmpfs.
#
# The guest runs `tests/run.sh kernel` (TEST_FILTER passes through). Its console is printed here
# as it comes, as TAP comments, then one TAP case per guest test (from the guest runner's
# PASS/FAIL/SKIP lines), so tests/run.sh counts each; the exit status is the guest's. Environment: VM_TIMEOUT (seconds for the
# whole run, default 3600), VM_SMP (2), VM_MEM (MiB, 2048), VM_ACCEL (tcg,thread=multi: KVM
# cannot boot a stock kernel on this kind of machine, see docs/kernel-matrix.md).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
name=${1:-}
[ -n "$name" ] || {
	echo "usage: $0 NAME (a kernel of e2e/cluster/kernels.env)" >&2
	exit 2
}
# shellcheck source=../../e2e/cluster/kernels.env
. e2e/cluster/kernels.env
p=KERNEL_${name}_PACKAGE v=KERNEL_${name}_VERSION
[ -n "${!p:-}" ] || {
	echo "$0: no kernel '$name' in e2e/cluster/kernels.env (kernels: $KERNELS)" >&2
	exit 2
}
command -v qemu-system-x86_64 >/dev/null || {
	echo "SKIP: qemu-system-x86_64 is not installed"
	exit 77
}
[ "$(id -u)" -eq 0 ] || {
	echo "SKIP: the guest's view of this machine's root needs root to read"
	exit 77
}

tests/core/kernel-btf.sh fetch >/dev/null
kdir=$BUILD/kernels/$name/${!v}
release=$(cat "$kdir/release")
deb=$(tests/core/kernel-btf.sh modules "$name")
work=$ROOT/$BUILD/vm-kernel/$name
rm -rf "$work"
mkdir -p "$work/initrd/bin" "$work/initrd/modules" "$work/mods"

# ---- the initramfs: busybox and the modules that reach the root share ---------------------------
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/mods" --wildcards '*/kernel/fs/*' '*/kernel/net/9p/*' \
	'*/kernel/drivers/virtio/*' '*/kernel/drivers/net/veth.ko*'
modfile() { find "$work/mods" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) -print -quit; }
order=()
# add MODULE: its dependencies first (the depends= of its .modinfo section), then itself.
# Built-in ones have no file.
add() {
	local f d ko=$work/initrd/modules/$1.ko
	[[ " ${order[*]} " == *" $1 "* ]] && return 0
	f=$(modfile "$1")
	[ -n "$f" ] || return 0
	case $f in
	*.xz) xz -dc "$f" >"$ko" ;;
	*.zst) zstd -dcq "$f" >"$ko" ;;
	*) cp "$f" "$ko" ;;
	esac
	for d in $(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout | tr '\0' '\n' |
		sed -n 's/^depends=//p' | tr ',' ' '); do
		add "$d"
	done
	order+=("$1")
}
# The root share, and veth for the tests' network namespaces (the guest has no module tree).
for m in virtio_pci 9pnet_virtio 9p overlay veth; do add "$m"; done
printf '%s\n' "${order[@]}" >"$work/initrd/modules/order"
cp /bin/busybox "$work/initrd/bin/busybox"
for a in sh mount mkdir insmod chroot cat poweroff echo sleep ip; do ln -s busybox "$work/initrd/bin/$a"; done
cat >"$work/initrd/init" <<EOF
#!/bin/sh
# The guest's init: the modules, this machine's root as the lower layer of an overlay, then
# the kernel tier in a chroot of it. "VM-EXIT rc=N" is the last line the host reads.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Loopback only: the tests talk to servers they start on 127.0.0.1.
ip link set lo up
for m in \$(cat /modules/order); do insmod /modules/\$m.ko || echo "init: insmod \$m failed"; done
mkdir -p /lower /upper /root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower || echo "init: 9p mount failed"
mount -t tmpfs -o size=1536m upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /root || echo "init: overlay failed"
mount -t proc proc /root/proc
mount -t sysfs sys /root/sys
mount -t devtmpfs dev /root/dev
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /root/dev/pts
mount -t tmpfs tmpfs /root/dev/shm
mount -t tmpfs tmpfs /root/tmp
mount -t tmpfs tmpfs /root/run
# The checkout may live under /tmp or /run, which the guest has just covered with tmpfs: the
# repository is also shared on its own and mounted at its own path, writable through an overlay.
mkdir -p /repo /upper/repo /upper/repowork /root$ROOT
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 repo /repo || echo "init: repo 9p mount failed"
mount -t overlay -o lowerdir=/repo,upperdir=/upper/repo,workdir=/upper/repowork overlay /root$ROOT || echo "init: repo overlay failed"
mount -t cgroup2 cgroup2 /root/sys/fs/cgroup
mount -t bpf bpf /root/sys/fs/bpf
mount -t tracefs tracefs /root/sys/kernel/tracing 2>/dev/null
echo "VM-KERNEL \$(cat /proc/sys/kernel/osrelease)"
chroot /root /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root BUILD=$BUILD TEST_FILTER='${TEST_FILTER:-}' TEST_EXCLUDE='${TEST_EXCLUDE:-}' TEST_TIMEOUT=${TEST_TIMEOUT:-1800} \
	/bin/bash -c 'cd $ROOT && tests/run.sh kernel; rc=\$?
		echo "== what the tests reported about this kernel (their TAP comments)"
		grep -H "^# [a-z0-9 ]*[:=]" $BUILD/test-logs/kernel/*.log | sed "s|^$BUILD/test-logs/kernel/||"
		echo "== every failed check with the lines after it (the runner shows only a log'"'"'s tail)"
		grep -H -A3 "^not ok [0-9]" $BUILD/test-logs/kernel/*.log | sed "s|^$BUILD/test-logs/kernel/||"
		exit \$rc'
echo "VM-EXIT rc=\$?"
poweroff -f
EOF
chmod 755 "$work/initrd/init"
mkdir -p "$work/initrd"/{proc,sys,dev}
(cd "$work/initrd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.cpio.gz"

# ---- boot ------------------------------------------------------------------------------------
echo "vm-kernel: booting $name ($release) under ${VM_ACCEL:-tcg,thread=multi}, modules: ${order[*]}"
console=$work/console.log
: >"$console"
qemu-system-x86_64 -name "bulwark-vm-kernel-$name" -accel "${VM_ACCEL:-tcg,thread=multi,tb-size=512}" \
	-cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" -nographic -no-reboot -nic none \
	-kernel "$kdir/vmlinuz" -initrd "$work/initrd.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet mitigations=off rdinit=/init" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$ROOT",mount_tag=repo,security_model=none,readonly=on,multidevs=remap \
	-serial "file:$console" -monitor none -display none </dev/null >"$work/qemu.log" 2>&1 &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true' EXIT
# The console as it grows, until the guest's last line, qemu's exit or the limit.
deadline=$((SECONDS + ${VM_TIMEOUT:-3600}))
shown=0
while :; do
	lines=$(wc -l <"$console")
	if ((lines > shown)); then
		sed -n "$((shown + 1)),${lines}p" "$console" | tr -d '\r' | sed 's/^/# /'
		shown=$lines
	fi
	grep -q '^VM-EXIT rc=' "$console" && break
	kill -0 "$qemu" 2>/dev/null || break
	((SECONDS < deadline)) || {
		echo "vm-kernel: no result after ${VM_TIMEOUT:-3600}s" >&2
		exit 1
	}
	sleep 1
done
rc=$(tr -d '\r' <"$console" | sed -n 's/^VM-EXIT rc=\([0-9]*\)$/\1/p' | tail -n1)
[ -n "$rc" ] || {
	echo "vm-kernel: the guest stopped without a result; qemu said:" >&2
	cat "$work/qemu.log" >&2
	exit 1
}
tr -d '\r' <"$console" | awk -v k="$name ($release)" '
	/^(PASS|FAIL|SKIP) +kernel\// { n++; st[n] = $1; t[n] = $2 }
	END {
		print "1.." n
		for (i = 1; i <= n; i++)
			printf "%s %d - %s on %s%s\n", st[i] == "FAIL" ? "not ok" : "ok", i, t[i], k,
				st[i] == "SKIP" ? " # SKIP (see its lines above)" : ""
	}'
exit "$rc"
