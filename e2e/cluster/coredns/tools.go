//go:build tools

// Package tools pins the CoreDNS command so `go mod tidy` records its dependencies.
package tools

import _ "github.com/coredns/coredns"
