#!/usr/bin/env bash
# make images is reproducible: building every image again from the same binaries and Debian
# packages (the python3 root file system made again by mmdebstrap, from the same .debs) gives
# the digests of build/images, the ones the nodes run. Also: each layout is what a runtime
# reads (index.json names the image; every blob's name is its SHA-256), and no image is tagged
# :latest. Needs no node: it runs on the host.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
IMAGES=$BUILD/images
n=0 failed=0
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$n" "$1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
}

[ -r "$IMAGES/digests" ] || { echo "FAIL: no $IMAGES/digests (make images)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: mmdebstrap --mode=root needs root"; exit 77; }
again=$(mktemp -d "$BUILD/images-again.XXXXXX")
trap 'rm -rf "$again"' EXIT

# Each layout: index.json names the image, every blob is content-addressed.
layouts_ok=1 why=''
while read -r file ref digest _; do
	blobs=$(tar -tf "$IMAGES/$file" | grep -c '^blobs/sha256/.') || true
	named=$(python3 "$ROOT/images/oci_image.py" digest "$IMAGES/$file")
	[ "$named" = "$ref $digest" ] || { layouts_ok=0 why+="$file: index.json says '$named', digests says '$ref $digest'"$'\n'; }
	[[ $ref != *:latest ]] || { layouts_ok=0 why+="$file is tagged latest"$'\n'; }
	mkdir -p "$again/check"
	tar -xf "$IMAGES/$file" -C "$again/check"
	for b in "$again"/check/blobs/sha256/*; do
		[ "$(sha256sum <"$b" | cut -d' ' -f1)" = "$(basename "$b")" ] || { layouts_ok=0 why+="$file: blob $(basename "$b") is not its SHA-256"$'\n'; }
	done
	((blobs >= 3)) || { layouts_ok=0 why+="$file has $blobs blobs"$'\n'; }
	rm -rf "$again/check"
done <"$IMAGES/digests"
if ((layouts_ok)); then ok "every layout names its image (no :latest), every blob is content-addressed"; else not_ok "layouts" "$why"; fi

start=$SECONDS
# The same inputs as the first build: its tag, revision and time (images.env), the same
# binaries and .deb cache.
val() { sed -n "s/^$1=//p" "$IMAGES/images.env"; }
if OUT=$again/out DEB_CACHE=$IMAGES/cache/debs REBUILD_ROOTFS=1 IMAGE_TAG=$(val IMAGE_TAG) \
	IMAGE_REPO=$(val IMAGE_REPO) IMAGE_REVISION=$(val IMAGE_REVISION) \
	SOURCE_DATE_EPOCH=$(val SOURCE_DATE_EPOCH) BUILD=$BUILD "$ROOT/images/build.sh" >"$again/build.log" 2>&1; then
	ok "images/build.sh again ($((SECONDS - start))s)"
else
	not_ok "images/build.sh again" "$(tail -n 20 "$again/build.log")"
fi
while read -r file ref digest _; do
	got=$(awk -v f="$file" '$1 == f { print $3 }' "$again/out/digests" 2>/dev/null || true)
	if [ "$got" = "$digest" ]; then
		ok "$file: the same digest again ($ref $digest)"
	else
		not_ok "$file: the same digest again" "first $digest, again ${got:-none}"
	fi
done <"$IMAGES/digests"
echo "1..$n"
((failed == 0))
