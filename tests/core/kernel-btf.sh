#!/usr/bin/env bash
# The matrix kernels' BTF, from Debian's kernel packages (pinned in e2e/cluster/kernels.env).
#
#   tests/core/kernel-btf.sh fetch    download what is missing; print NAME=BTF_FILE per kernel
#   tests/core/kernel-btf.sh latest   the newest package and version of each pinned suite
#   tests/core/kernel-btf.sh modules NAME   print the .deb with NAME's modules (downloads it)
#
# Everything lands in $BUILD/kernels: the .debs (kept: the VM runner boots their kernels),
# and per kernel NAME/VERSION/{vmlinuz,btf,release}. A kernel already extracted is not
# downloaded again, so after the first run this needs no network and takes no time.
#
# apt runs with a private configuration (its own sources.list, lists, cache and an empty
# parts) so that it never reads or changes the host's package state; the archive's
# signatures are checked against the host's debian-archive-keyring.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
# shellcheck source=../../e2e/cluster/kernels.env
. e2e/cluster/kernels.env

KDIR=$PWD/$BUILD/kernels
APTDIR=$KDIR/apt
MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "kernel-btf: $*" >&2
	exit 1
}

apt_setup() {
	mkdir -p "$APTDIR"/{lists/partial,cache/archives/partial,parts}
	local suites=() k s
	for k in $KERNELS; do
		s=KERNEL_${k}_SUITE
		[ -n "${!s:-}" ] || die "e2e/cluster/kernels.env: $s is not set"
		[[ " ${suites[*]} " == *" ${!s} "* ]] || suites+=("${!s}")
	done
	: >"$APTDIR/sources.list"
	for s in "${suites[@]}"; do
		echo "deb [arch=amd64 signed-by=$KEYRING] $MIRROR $s main" >>"$APTDIR/sources.list"
	done
	cat >"$APTDIR/apt.conf" <<-EOF
		Dir::Etc::sourcelist "$APTDIR/sources.list";
		Dir::Etc::sourceparts "$APTDIR/parts";
		Dir::Etc::parts "$APTDIR/parts";
		Dir::Etc::preferences "/dev/null";
		Dir::Etc::preferencesparts "$APTDIR/parts";
		Dir::State::Lists "$APTDIR/lists";
		Dir::State::status "/dev/null";
		Dir::Cache "$APTDIR/cache";
		APT::Architecture "amd64";
		APT::Architectures { "amd64"; };
		APT::Sandbox::User "root";
		Acquire::Languages "none";
		Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
	EOF
	export APT_CONFIG=$APTDIR/apt.conf
}

apt_update() {
	[ -n "${updated:-}" ] && return 0
	echo "kernel-btf: apt-get update (private lists under $APTDIR)" >&2
	apt-get -q update >"$APTDIR/update.log" 2>&1 || {
		cat "$APTDIR/update.log" >&2
		die "apt-get update failed"
	}
	updated=1
}

# The bzImage's compressed payload as an ELF vmlinux: the setup header says where the payload
# is and how long (boot protocol 2.08+, the same fields the kernel's own extract-vmlinux
# searches for by magic). xz and zstd payloads end with the 4-byte uncompressed size the
# kernel's build appends; gzip's needs no trim.
extract_vmlinux() {
	local vmlinuz=$1 out=$2 setup_sects payload_off payload_len start magic
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$vmlinuz" | tr -d ' ')
	((setup_sects)) || setup_sects=4
	payload_off=$(od -An -tu4 -j $((0x248)) -N4 "$vmlinuz" | tr -d ' ')
	payload_len=$(od -An -tu4 -j $((0x24c)) -N4 "$vmlinuz" | tr -d ' ')
	start=$(((setup_sects + 1) * 512 + payload_off))
	magic=$(od -An -tx1 -j "$start" -N6 "$vmlinuz" | tr -d ' \n')
	local -a decompress
	case $magic in
	28b52ffd*) decompress=(zstd -dcq) payload_len=$((payload_len - 4)) ;;
	fd377a585a00) decompress=(xz -dcq) payload_len=$((payload_len - 4)) ;;
	1f8b*) decompress=(gzip -dcq) ;;
	*) die "$vmlinuz: unknown payload compression (magic $magic)" ;;
	esac
	dd if="$vmlinuz" iflag=skip_bytes,count_bytes skip="$start" count="$payload_len" bs=1M status=none |
		"${decompress[@]}" >"$out"
	[ "$(od -An -tx1 -N4 "$out" | tr -d ' \n')" = 7f454c46 ] || die "$vmlinuz: the payload is not an ELF vmlinux"
}

# download PACKAGE VERSION NAME: the .deb into $KDIR/debs (once); prints its path.
download() {
	local deb=$KDIR/debs/${1}_${2//:/%3a}_amd64.deb
	if ! [ -s "$deb" ]; then
		apt_update
		mkdir -p "$KDIR/debs"
		echo "kernel-btf: downloading $1=$2 ($3)" >&2
		(cd "$KDIR/debs" && apt-get -q download "$1=$2") >"$APTDIR/download-$3.log" 2>&1 || {
			cat "$APTDIR/download-$3.log" >&2
			die "$1=$2 is not in the archive (any more?): bump $3's pins in e2e/cluster/kernels.env (see: $0 latest)"
		}
	fi
	echo "$deb"
}

# fetch_one NAME: prints NAME=BTF_FILE, downloading and extracting when not cached.
fetch_one() {
	local k=$1 s p v
	s=KERNEL_${k}_SUITE p=KERNEL_${k}_PACKAGE v=KERNEL_${k}_VERSION
	[ -n "${!p:-}" ] && [ -n "${!v:-}" ] || die "e2e/cluster/kernels.env: $p or $v is not set"
	local dir=$KDIR/$k/${!v}
	if ! [ -s "$dir/btf" ]; then
		mkdir -p "$dir"
		local deb path
		deb=$(download "${!p}" "${!v}" "$k")
		path=$(dpkg-deb -c "$deb" | awk '$6 ~ /\/vmlinuz/ && !p {p = $6} END {print p}')
		[ -n "$path" ] || die "$deb has no vmlinuz: is $p the package with the kernel image?"
		dpkg-deb --fsys-tarfile "$deb" | tar -xO "$path" >"$dir/vmlinuz.tmp"
		extract_vmlinux "$dir/vmlinuz.tmp" "$dir/vmlinux.tmp"
		objcopy -O binary --only-section=.BTF "$dir/vmlinux.tmp" "$dir/btf.tmp"
		rm -f "$dir/vmlinux.tmp"
		[ -s "$dir/btf.tmp" ] || die "$deb: its vmlinux has no .BTF section (CONFIG_DEBUG_INFO_BTF)"
		bpftool btf dump file "$dir/btf.tmp" >/dev/null || die "$deb: its .BTF does not parse"
		# The release: /boot/vmlinuz-RELEASE, or /usr/lib/modules/RELEASE/vmlinuz.
		path=${path#./boot/vmlinuz-}
		path=${path#./usr/lib/modules/}
		echo "${path%/vmlinuz}" >"$dir/release"
		mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
		mv "$dir/btf.tmp" "$dir/btf"
	fi
	echo "$k=$dir/btf"
}

latest() {
	apt_update
	local k s
	for k in $KERNELS; do
		s=KERNEL_${k}_SUITE
		# The newest kernel image of the suite: its linux-image-amd64 metapackage's target.
		apt-cache show "linux-image-amd64/${!s}" 2>/dev/null |
			awk -v k="$k" -v s="${!s}" '
				/^Version:/ { ver = $2 }
				/^Depends:/ { if (match($0, /linux-image-[^ ,]+-amd64/)) pkg = substr($0, RSTART, RLENGTH) }
				END { printf "%s (%s): %s %s\n", k, s, pkg, ver }'
	done
	echo "(from 7.x on, PACKAGE is that image's linux-binary-* dependency, which has the vmlinuz)"
}

[ "$(uname -m)" = x86_64 ] || {
	echo "SKIP: the kernel matrix is Debian's amd64 kernels; this machine is $(uname -m)"
	exit 77
}
apt_setup
case ${1:-fetch} in
fetch) for k in $KERNELS; do fetch_one "$k"; done ;;
modules)
	k=${2:-}
	p=KERNEL_${k}_PACKAGE m=KERNEL_${k}_MODULES v=KERNEL_${k}_VERSION
	[ -n "$k" ] && [ -n "${!p:-}" ] || die "usage: $0 modules NAME (kernels: $KERNELS)"
	download "${!m:-${!p}}" "${!v}" "$k"
	;;
latest) latest ;;
*) die "usage: $0 [fetch|latest]" ;;
esac
