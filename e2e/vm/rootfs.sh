#!/usr/bin/env bash
# Builds a bootable Debian VM: a rootfs from mmdebstrap, made into an ext4 image with
# `mke2fs -d`, and the kernel and initrd that Debian installed into it, extracted for qemu's
# -kernel/-initrd. Reused by the real-node tier (e2e/node/) and by anything else that needs a
# second kernel (e2e/vm/vm.sh boots it).
#
#   e2e/vm/rootfs.sh            build (or reuse) $VM_DIR: rootfs.img vmlinuz initrd.img stamp
#   e2e/vm/rootfs.sh path       print $VM_DIR
#
# Environment:
#   VM_SUITE     Debian suite (default trixie; bookworm works too)
#   VM_KERNEL    the kernel package (default linux-image-amd64, the suite's own kernel)
#   VM_MIRROR    the Debian mirror (default http://deb.debian.org/debian)
#   VM_DIR       output dir (default build/vm/$VM_SUITE; the suite and kernel name it)
#   VM_IMAGE_SIZE  ext4 image size (default 6G; sparse, so it costs what is written)
#
# apt inside mmdebstrap sees only the sources given here (one mirror line, Debian's keyring):
# the host's /etc/apt is never read, so what the VM gets does not depend on the host.
# A second run with the same inputs (this script, the guest files, the package list) reuses the
# cached image: the stamp is a hash of them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VM_SUITE=${VM_SUITE:-trixie}
VM_KERNEL=${VM_KERNEL:-linux-image-amd64}
VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
VM_DIR=${VM_DIR:-$ROOT/build/vm/$VM_SUITE-${VM_KERNEL#linux-image-}}
VM_IMAGE_SIZE=${VM_IMAGE_SIZE:-6G}

say() { printf 'vm: %s\n' "$*"; }
die() {
	printf 'vm: error: %s\n' "$*" >&2
	exit 1
}

# The guest's packages. Beyond a systemd system: what a kubelet node needs (containerd, runc,
# CNI plugins, iptables/conntrack for kube-proxy, mount/nsenter from util-linux), sshd for
# commands from the host, tinyproxy for the apiserver's way into the node (docs/real-node.md),
# busybox-static for the images built here.
PACKAGES=(
	systemd systemd-sysv udev dbus kmod "$VM_KERNEL" initramfs-tools zstd
	iproute2 iptables conntrack ethtool socat procps util-linux mount e2fsprogs
	containerd runc containernetworking-plugins
	openssh-server tinyproxy busybox-static
)

want_stamp() {
	{
		printf '%s\n' "$VM_SUITE" "$VM_KERNEL" "$VM_MIRROR" "$VM_IMAGE_SIZE" "${PACKAGES[@]}"
		cat "$HERE/rootfs.sh"
		find "$HERE/guest" -type f -print0 | sort -z | xargs -0 sha256sum
	} | sha256sum | cut -d' ' -f1
}

build() {
	local want tmp start=$SECONDS
	want=$(want_stamp)
	if [ -s "$VM_DIR/rootfs.img" ] && [ "$(cat "$VM_DIR/stamp" 2>/dev/null)" = "$want" ]; then
		say "VM image is up to date ($VM_DIR)"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "building the VM rootfs needs root (mmdebstrap in root mode, mke2fs -d keeps owners)"
	local t
	for t in mmdebstrap mke2fs; do
		command -v "$t" >/dev/null || die "$t is missing (make deps installs it)"
	done
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || die "Debian's archive keyring is missing (debian-archive-keyring)"
	mkdir -p "$VM_DIR"
	tmp=$(mktemp -d "$VM_DIR/.build.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	say "mmdebstrap $VM_SUITE ($VM_KERNEL, ${#PACKAGES[@]} packages) into $tmp/root; about 2 minutes"
	# --include's list is one argument, comma-separated. The customize hook installs the guest
	# files (systemd units, configs) and enables them; see e2e/vm/guest/.
	mmdebstrap --variant=minbase --mode=root --format=directory \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		--aptopt='Acquire::Languages "none"' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
		--include="$(
			IFS=,
			echo "${PACKAGES[*]}"
		)" \
		--customize-hook="'$HERE/guest/customize.sh' '$HERE/guest' \"\$1\"" \
		"$VM_SUITE" "$tmp/root" "deb $VM_MIRROR $VM_SUITE main" >"$tmp/mmdebstrap.log" 2>&1 ||
		{
			tail -n 30 "$tmp/mmdebstrap.log" | sed 's/^/  | /' >&2
			die "mmdebstrap failed"
		}
	say "rootfs in $((SECONDS - start))s ($(du -sm "$tmp/root" | cut -f1) MB)"
	local kernel initrd
	kernel=$(find "$tmp/root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)
	initrd=$(find "$tmp/root/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n1)
	[ -n "$kernel" ] || die "no /boot/vmlinuz-* in the rootfs"
	[ -n "$initrd" ] || die "no /boot/initrd.img-* in the rootfs (initramfs-tools did not run?)"
	cp "$kernel" "$tmp/vmlinuz"
	cp "$initrd" "$tmp/initrd.img"
	basename "$kernel" | sed 's/^vmlinuz-//' >"$tmp/kernel-release"
	rm -f "$tmp/rootfs.img"
	mke2fs -q -t ext4 -L vmroot -E root_owner=0:0 -d "$tmp/root" "$tmp/rootfs.img" "$VM_IMAGE_SIZE" ||
		die "mke2fs -d failed"
	mv -f "$tmp/rootfs.img" "$tmp/vmlinuz" "$tmp/initrd.img" "$tmp/kernel-release" "$VM_DIR/"
	printf '%s\n' "$want" >"$VM_DIR/stamp"
	say "VM image built in $((SECONDS - start))s: $VM_DIR (kernel $(cat "$VM_DIR/kernel-release"))"
}

case ${1:-build} in
build) build ;;
path) printf '%s\n' "$VM_DIR" ;;
*) die "unknown command '$1' (build, path)" ;;
esac
