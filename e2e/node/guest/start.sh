#!/bin/bash
# Run by e2e/node/node.sh over ssh once the node VM is up: kernel settings a kubelet node
# needs (this guest's own), containerd, the images, then the node services.
#   start.sh IMAGE_TAR...
set -euo pipefail
modprobe -a overlay br_netfilter
# Bridged pod-to-pod traffic must pass iptables, or a Service's DNAT misses same-node pods.
sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
systemctl start containerd
for i in $(seq 1 300); do
	ctr version >/dev/null 2>&1 && break
	sleep 0.2
done
ctr version >/dev/null || { journalctl -u containerd --no-pager | tail -n 20; exit 1; }
for tar in "$@"; do
	start=$EPOCHREALTIME
	# --no-unpack would defer the unpack to the first container; unpacking now keeps pod
	# starts (and the tests' timings) about the pod, not about the import.
	ctr -n k8s.io images import "$tar" >/dev/null
	awk -v n="${tar##*/}" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "imported %s in %.1fs\n", n, b - a }'
done
systemctl start bulwark-tinyproxy kubelet kube-proxy
