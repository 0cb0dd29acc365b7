#!/usr/bin/env bash
# make images: the OCI images Bulwark runs as, and the workload images its tests use, written
# as OCI image layout tars into $OUT (default build/images), from this build and Debian
# packages only: no registry, no daemon, no prebuilt binary.
#
#   bulwark-agent.tar       $IMAGE_REPO/agent:$IMAGE_TAG       layers: base, runtime, agent
#   bulwark-controller.tar  $IMAGE_REPO/controller:$IMAGE_TAG  layers: base, runtime, controller
#   bulwark-webhook.tar     $IMAGE_REPO/webhook:$IMAGE_TAG     layers: base, runtime, webhook
#   bulwark-launch.tar      $IMAGE_REPO/launch:$IMAGE_TAG      layers: base, launch
#   busybox.tar             localhost/busybox:$BUSYBOX_TAG     layer:  base
#   python3.tar             localhost/debian-python3:bookworm   one mmdebstrap layer
#
# base     merged-/usr skeleton, /etc/passwd and group (root, nobody 65534, nonroot 65532) and
#          Debian's busybox-static with every applet: the manifests' init and cron steps use
#          sh, cp, chmod, cat, awk and sleep, the launcher's init container cp.
# runtime  the shared libraries the dynamically linked binaries load (ld.so, libc, libbpf,
#          libcurl and the rest of their closure, as ld.so resolves it on this Debian 12
#          machine, each file checked against its package's md5sums), curl, and each owning
#          package's copyright file. /etc/nsswitch.conf: files before DNS.
# COMP     /usr/local/bin/bulwark-COMP, stripped.
# python3  mmdebstrap of Debian bookworm, variant essential, plus python3 (ctypes too), with its own
#          apt configuration (never this machine's sources), without docs, man pages, caches
#          and logs.
#
# Same inputs, same digests: every mtime is SOURCE_DATE_EPOCH (default: the last commit's
# time), labels name IMAGE_TAG and IMAGE_REVISION (default: the commit), owners 0:0, entries
# sorted, gzip without name or time (images/oci_image.py). The digests go to $OUT/digests, the
# references and those inputs to $OUT/images.env (sourced by the tests).
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
OUT=${OUT:-$BUILD/images}
BIN=${BIN:-$BUILD/bin}
IMAGE_REPO=${IMAGE_REPO:-localhost/bulwark}
IMAGE_TAG=${IMAGE_TAG:-${VERSION:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo dev)}}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 1)}
export SOURCE_DATE_EPOCH
IMAGE_REVISION=${IMAGE_REVISION:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)}
PYTHON_SUITE=bookworm
DEB_CACHE=${DEB_CACHE:-$OUT/cache/debs}
OCI=$ROOT/images/oci_image.py
STAGE=$OUT/stage

die() {
	printf 'images: %s\n' "$*" >&2
	exit 1
}
progress() { printf 'images: %s\n' "$*"; }

for b in bulwark-agent bulwark-controller bulwark-webhook bulwark-launch; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is not built (make $BUILD/bin/$b)"
done
for tool in busybox curl strip mmdebstrap dpkg-query; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps)"
done

# owner FILE: the installed Debian package that owns FILE, as PKG (dpkg knows merged-/usr files
# by either name); fails for a file no package owns.
owner() {
	local f=$1 alt
	case $f in
	/usr/lib/* | /usr/bin/* | /usr/sbin/*) alt=${f#/usr} ;;
	*) alt=/usr$f ;;
	esac
	dpkg-query -S "$f" 2>/dev/null | sed -n 1p | cut -d: -f1 && return 0
	dpkg-query -S "$alt" 2>/dev/null | sed -n 1p | cut -d: -f1 && return 0
	return 1
}

# verified FILE PKG: FILE's bytes are the ones PKG shipped (its md5sums list).
verified() {
	local f=$1 pkg=$2 sums='' s want
	for s in /var/lib/dpkg/info/"$pkg".md5sums /var/lib/dpkg/info/"$pkg":*.md5sums; do
		[ ! -r "$s" ] || sums=$s
	done
	[ -n "$sums" ] || return 1
	want=$(awk -v a="${f#/}" -v b="usr/${f#/}" -v c="${f#/usr/}" '$2 == a || $2 == b || $2 == c { print $1; exit }' "$sums")
	[ -n "$want" ] && [ "$(md5sum <"$f" | cut -d' ' -f1)" = "$want" ]
}

# in_image PATH: where PATH of this (merged-/usr) machine goes in the image.
in_image() {
	case $1 in
	/lib64/* | /lib/* | /bin/* | /sbin/*) echo "/usr$1" ;;
	*) echo "$1" ;;
	esac
}

# put_file STAGEDIR FILE: FILE (following its symlinks, each kept as a symlink) into
# STAGEDIR at its image path, checked against its package; echoes the package.
put_file() {
	local dir=$1 f=$2 dest target pkg
	while [ -L "$f" ]; do
		target=$(readlink "$f")
		dest=$dir$(in_image "$f")
		mkdir -p "$(dirname "$dest")"
		ln -sfn "$target" "$dest"
		[[ $target == /* ]] || target=$(dirname "$f")/$target
		f=$target
	done
	pkg=$(owner "$f") || die "$f belongs to no Debian package"
	verified "$f" "$pkg" || die "$f differs from what package $pkg shipped (dpkg --verify $pkg)"
	dest=$dir$(in_image "$f")
	mkdir -p "$(dirname "$dest")"
	cp --preserve=mode "$f" "$dest"
	echo "$pkg"
}

# copyrights STAGEDIR PKG...: each package's copyright file, as Debian ships it.
copyrights() {
	local dir=$1 pkg
	shift
	for pkg in "$@"; do
		mkdir -p "$dir/usr/share/doc/$pkg"
		cp "/usr/share/doc/$pkg/copyright" "$dir/usr/share/doc/$pkg/copyright" ||
			die "package $pkg has no copyright file"
	done
}

# pkgversions PKG...: "pkg=version pkg=version" for the image's label.
pkgversions() {
	local pkg
	for pkg in "$@"; do
		printf '%s=%s ' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg")"
	done | sed 's/ $//'
}

stage_base() {
	local d=$STAGE/base bb pkg a
	mkdir -p "$d"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,proc,sys,dev,root,tmp}
	chmod 1777 "$d/tmp"
	chmod 700 "$d/root"
	for a in bin sbin lib lib64; do ln -s "usr/$a" "$d/$a"; done
	bb=$(readlink -f "$(command -v busybox)")
	pkg=$(put_file "$d" "$bb")
	[ "$pkg" = busybox-static ] || die "busybox comes from $pkg, not busybox-static (make deps)"
	BUSYBOX_VERSION=$(dpkg-query -W -f='${Version}' busybox-static)
	for a in $("$bb" --list); do
		[ -e "$d/usr/bin/$a" ] || ln -s busybox "$d/usr/bin/$a"
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
		'nonroot:x:65532:65532:nonroot:/nonexistent:/bin/false' >"$d/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' >"$d/etc/group"
	chmod 644 "$d/etc/passwd" "$d/etc/group"
	copyrights "$d" busybox-static
}

stage_runtime() {
	local d=$STAGE/runtime lib pkgs=()
	mkdir -p "$d/etc" "$d/usr/bin"
	# ldd prints what ld.so loads, in load order; vdso has no file.
	while read -r lib; do
		pkgs+=("$(put_file "$d" "$lib")")
	done < <(ldd "$BIN/bulwark-agent" "$BIN/bulwark-controller" "$BIN/bulwark-webhook" \
		"$(command -v curl)" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } NF == 2 && $1 ~ /^\// { print $1 }' | sort -u)
	pkgs+=("$(put_file "$d" "$(readlink -f "$(command -v curl)")")")
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	copyrights "$d" "${pkgs[@]}"
	RUNTIME_PACKAGES=$(pkgversions "${pkgs[@]}")
	printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$d/etc/nsswitch.conf"
	chmod 644 "$d/etc/nsswitch.conf"
}

stage_bin() { # stage_bin NAME: /usr/local/bin/NAME, stripped
	local d=$STAGE/$1
	mkdir -p "$d/usr/local/bin"
	strip --strip-unneeded -o "$d/usr/local/bin/$1" "$BIN/$1"
	chmod 755 "$d/usr/local/bin/$1"
}

# image FILE REF ARGS...: oci_image.py build, recording the digest.
image() {
	local file=$1 ref=$2 line
	shift 2
	line=$(python3 "$OCI" build --out "$OUT/$file" --ref "$ref" \
		--label "org.opencontainers.image.version=$IMAGE_TAG" \
		--label "org.opencontainers.image.revision=$IMAGE_REVISION" \
		"$@") || die "cannot write $file"
	printf '%s %s\n' "$file" "$line" >>"$OUT/digests.new"
	progress "$file: $line"
}

# python_rootfs TAR: Debian bookworm (essential) plus python3, by mmdebstrap with its
# default mirror and own apt configuration. The downloaded packages are kept in $DEB_CACHE, so
# a rebuild installs the very same files without downloading them again; the root file system
# itself is kept in $OUT/cache and made again only when this script changed (or with
# REBUILD_ROOTFS=1).
python_rootfs() {
	local tar=$1 cache=$DEB_CACHE
	if [ "${REBUILD_ROOTFS:-0}" != 1 ] && [ "$tar" -nt "$0" ]; then
		progress "python3: reusing $tar (REBUILD_ROOTFS=1 makes it again)"
		return 0
	fi
	progress "python3: mmdebstrap $PYTHON_SUITE (about a minute)"
	mkdir -p "$cache"
	mmdebstrap --quiet --mode=root --variant=essential --include=python3 \
		--format=tar \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"" \
		--setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
		--customize-hook="sync-out /var/cache/apt/archives '$cache'" \
		"$PYTHON_SUITE" "$tar.tmp" >"$OUT/python3-mmdebstrap.log" 2>&1 ||
		die "mmdebstrap failed: $(tail -n 5 "$OUT/python3-mmdebstrap.log")"
	mv "$tar.tmp" "$tar"
}

mkdir -p "$OUT"
rm -rf "$STAGE" "$OUT/digests.new"
mkdir -p "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
progress "staging (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, tag $IMAGE_TAG)"
stage_base
stage_runtime
for b in bulwark-agent bulwark-controller bulwark-webhook bulwark-launch; do stage_bin "$b"; done

path=PATH=/usr/local/bin:/usr/bin:/usr/sbin
debian="org.debian.packages=$RUNTIME_PACKAGES busybox-static=$BUSYBOX_VERSION"
for c in agent controller webhook; do
	user=65532:65532
	[ $c != agent ] || user=0:0
	image "bulwark-$c.tar" "$IMAGE_REPO/$c:$IMAGE_TAG" --env "$path" --user "$user" \
		--entrypoint "[\"/usr/local/bin/bulwark-$c\"]" --label "$debian" \
		--layer "$STAGE/base" --layer "$STAGE/runtime" --layer "$STAGE/bulwark-$c"
done
image bulwark-launch.tar "$IMAGE_REPO/launch:$IMAGE_TAG" --env "$path" --user 65534:65534 \
	--cmd '["/usr/local/bin/bulwark-launch", "--help"]' \
	--label "org.debian.packages=busybox-static=$BUSYBOX_VERSION" \
	--layer "$STAGE/base" --layer "$STAGE/bulwark-launch"
busybox_tag=${BUSYBOX_VERSION#*:}
busybox_tag=${busybox_tag//[^A-Za-z0-9_.-]/_}
image busybox.tar "localhost/busybox:$busybox_tag" --env "$path" --cmd '["sh"]' \
	--label "org.debian.packages=busybox-static=$BUSYBOX_VERSION" --layer "$STAGE/base"

mkdir -p "$OUT/cache"
python_rootfs "$OUT/cache/python3-rootfs.tar"
image python3.tar "localhost/debian-python3:$PYTHON_SUITE" \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["python3"]' \
	--exclude 'dev/*' --exclude 'var/cache/apt/*' --exclude 'var/lib/apt/lists/*' \
	--exclude 'var/log/*' --exclude 'var/cache/ldconfig/*' \
	--exclude 'var/cache/debconf/*-old' \
	--layer-tar "$OUT/cache/python3-rootfs.tar"

mv "$OUT/digests.new" "$OUT/digests"
{
	echo "# written by images/build.sh (make images)"
	printf 'AGENT_IMAGE=%s\n' "$IMAGE_REPO/agent:$IMAGE_TAG"
	printf 'CONTROLLER_IMAGE=%s\n' "$IMAGE_REPO/controller:$IMAGE_TAG"
	printf 'WEBHOOK_IMAGE=%s\n' "$IMAGE_REPO/webhook:$IMAGE_TAG"
	printf 'LAUNCH_IMAGE=%s\n' "$IMAGE_REPO/launch:$IMAGE_TAG"
	printf 'IMAGE_REPO=%s\nIMAGE_TAG=%s\nIMAGE_REVISION=%s\nSOURCE_DATE_EPOCH=%s\n' \
		"$IMAGE_REPO" "$IMAGE_TAG" "$IMAGE_REVISION" "$SOURCE_DATE_EPOCH"
	printf 'BUSYBOX_IMAGE=%s\n' "localhost/busybox:$busybox_tag"
	printf 'PYTHON_IMAGE=%s\n' "localhost/debian-python3:$PYTHON_SUITE"
} >"$OUT/images.env"
progress "done: $(wc -l <"$OUT/digests") images in $OUT (digests: $OUT/digests)"
