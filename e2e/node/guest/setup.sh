#!/bin/sh
# Runs at boot from vm-setup (e2e/vm), before sshd: installs this node's runtime units. They
# start when e2e/node/node.sh runs start.sh, so a failure is reported to the host, not lost in
# the boot.
set -eu
mkdir -p /run/systemd/system/containerd.service.d
cp /run/vm/units/kubelet.service /run/vm/units/kube-proxy.service /run/systemd/system/
cp /run/vm/units/tinyproxy.service /run/systemd/system/bulwark-tinyproxy.service
cp /run/vm/units/containerd.conf /run/systemd/system/containerd.service.d/e2e-node.conf
systemctl daemon-reload
