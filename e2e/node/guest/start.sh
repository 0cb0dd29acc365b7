#!/bin/bash
# Run by e2e/node/node.sh over ssh once the node VM is up: kernel settings a kubelet node
# needs (this guest's own), containerd, the images, then the node services.
#   start.sh IMAGE_TAR...
set -euo pipefail
modprobe -a overlay br_netfilter
# Bridged pod-to-pod traffic must pass iptables, or a Service's DNAT misses same-node pods.
sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
# eth1: the link between the node VMs, with this node's node IP, and a route to each other
# node's pod range. What leaves through eth0 (to the apiserver) is masqueraded to eth0's address;
# pod-to-pod traffic is not.
read -r link_addr </run/vm/link
ip link set eth1 up
ip addr add "$link_addr" dev eth1
while read -r dst via; do
	ip route add "$dst" via "$via" dev eth1
done </run/vm/routes
iptables -t nat -A POSTROUTING -s 10.244.0.0/16 -o eth0 -j MASQUERADE
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
