#!/usr/bin/env bash
# make deps: installs what Bulwark's build, tests and demo need on a Debian machine.
# Idempotent: packages already installed are skipped, and apt-get runs only when one is missing.
set -euo pipefail

packages=(
	# build
	build-essential pkg-config clang llvm libclang-rt-14-dev bpftool clang-format
	libbpf-dev libelf-dev zlib1g-dev libseccomp-dev libcurl4-openssl-dev libyaml-dev
	libjansson-dev libmicrohttpd-dev libgnutls28-dev libcap-dev libcmocka-dev
	# the node harness and kernel tests
	runc busybox-static iproute2 iptables iperf3 openssl jq procps psmisc util-linux
	# the Landlock kernel test and bench drive a small python3 probe inside the sandbox
	python3
	# exec recording: npm fetches the web player at build time; the CLI test plays exports
	# with asciinema and checks the web replay in headless Chromium (its DOM, and a screenshot
	# read back with OCR)
	nodejs asciinema chromium tesseract-ocr
	# the real-node tier (e2e/vm, e2e/node): a Debian rootfs (mmdebstrap, mke2fs -d) booted
	# under QEMU's TCG, driven over ssh; socat carries the guest's connections to the apiserver.
	# make images also uses mmdebstrap, for the workload image with python3.
	qemu-system-x86 qemu-utils mmdebstrap e2fsprogs debian-archive-keyring openssh-client socat
	# unzip for the Go module cache's zip files is not needed; curl is used by scripts
	curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
done

if ((${#missing[@]})); then
	echo "deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: need root to apt-get install (run as root, or install them yourself)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "deps: all ${#packages[@]} Debian packages present"
fi

# Go builds etcd and kube-apiserver from pinned modules (e2e/cluster/). Debian's golang is too
# old for Kubernetes 1.33, and downloading a toolchain would mean a prebuilt binary, so we need
# the Go that the machine provides.
need_go=1.24
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
if ! command -v go >/dev/null; then
	echo "deps: Go >= $need_go is required to build the local control plane (not found)" >&2
	exit 1
fi
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$need_go" "$have" | sort -V | sed -n 1p)" != "$need_go" ]; then
	echo "deps: Go >= $need_go is required, found $have" >&2
	exit 1
fi
