#!/usr/bin/env bash
# Writes a one-layer OCI image layout tar, the form `ctr images import` reads, with nothing but
# coreutils, tar, gzip and jq: the sandbox ("pause") image of the real-node tier.
#
#   oci-image.sh OUT.tar NAME:TAG DIR ENTRYPOINT...
#
# DIR's tree is the layer. Every byte is a function of the inputs (sorted entries, owner 0,
# mtime 0, gzip without a name or time), so the same inputs give the same digests.
set -euo pipefail

die() {
	printf 'oci-image: error: %s\n' "$*" >&2
	exit 1
}
(($# >= 4)) || die "usage: oci-image.sh OUT.tar NAME:TAG DIR ENTRYPOINT..."
out=$1 ref=$2 dir=$3
shift 3
[[ $ref =~ ^[a-z0-9./-]+:[A-Za-z0-9._-]+$ ]] || die "image reference '$ref' is not NAME:TAG"
[ -d "$dir" ] || die "layer directory '$dir' does not exist"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
blobs=$work/blobs/sha256
mkdir -p "$blobs"

# blob FILE: moves FILE into the blob store under its digest; prints "DIGEST SIZE".
blob() {
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$blobs/$d"
	printf 'sha256:%s %s\n' "$d" "$s"
}

tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$work/layer.tar" .
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 <"$work/layer.tar" >"$work/layer.tar.gz"
rm "$work/layer.tar"
read -r layer layer_size < <(blob "$work/layer.tar.gz")

jq -cn --arg diff "$diff_id" --args '{architecture: "amd64", os: "linux",
	config: {Entrypoint: $ARGS.positional, WorkingDir: "/"},
	rootfs: {type: "layers", diff_ids: [$diff]}}' "$@" >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")

jq -cn --arg c "$config" --argjson cs "$config_size" --arg l "$layer" --argjson ls "$layer_size" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' \
	>"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")

# containerd names the image after io.containerd.image.name; other tools read ref.name.
jq -cn --arg m "$manifest" --argjson ms "$manifest_size" --arg ref "$ref" --arg tag "${ref##*:}" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
	platform: {architecture: "amd64", os: "linux"},
	annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": $tag}}]}' \
	>"$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
touch -d @0 "$work"/index.json "$work/oci-layout" "$blobs"/*
tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-cf "$out.tmp" oci-layout index.json blobs
mv -f "$out.tmp" "$out"
printf 'oci-image: %s -> %s (manifest %s)\n' "$ref" "$out" "$manifest"
