//go:build tools

// Package tools pins the control-plane and node commands so `go mod tidy` records their
// dependencies: kube-apiserver for every e2e tier, and kubelet, kube-scheduler,
// kube-controller-manager and kube-proxy for the real-node tier (e2e/node/).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
