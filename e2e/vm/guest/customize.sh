#!/usr/bin/env bash
# mmdebstrap's customize hook: installs the guest files (files/ mirrors the guest's tree) into
# the rootfs and sets up what every VM of e2e/vm needs, whatever it is used for.
#   customize.sh GUEST_DIR ROOTFS
set -euo pipefail
guest=$1 root=$2

cp -a --no-preserve=ownership "$guest/files/." "$root/"
chmod 755 "$root/usr/local/sbin/vm-setup"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$root/etc/fstab"
printf 'vm\n' >"$root/etc/hostname"
# No nameserver: the guest reaches nothing outside (qemu's user network runs with restrict=on),
# and a resolver that never answers only makes tools wait.
: >"$root/etc/resolv.conf"
# Booted as root with the host's key only (vm-setup installs it); no password anywhere.
passwd --root "$root" -d root >/dev/null
chroot "$root" systemctl enable vm-setup.service >/dev/null 2>&1
# Services a user of the VM starts with its own configuration (e2e/node/guest-setup.sh), never
# with the package defaults: they would race vm-setup at boot.
chroot "$root" systemctl disable containerd.service tinyproxy.service >/dev/null 2>&1 || true
# What slows a TCG boot and does nothing here.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	fstrim.timer systemd-timesyncd.service >/dev/null 2>&1 || true
