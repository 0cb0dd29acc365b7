#!/usr/bin/env python3
"""Writes an OCI image layout tar (index.json, oci-layout, content-addressed blobs) from root
file trees, with no registry and no daemon: `ctr images import`, skopeo and podman read it.

    oci_image.py build --out agent.tar --ref localhost/bulwark/agent:1.0 --epoch 1700000000 \
        --layer stage/base --layer stage/agent --env PATH=/usr/bin --user 0

    oci_image.py digest agent.tar        # the manifest digest a runtime reports for it

A layer is a directory (its contents become the layer's root) or, with --layer-tar, a tar
archive of a root file system (mmdebstrap's output). Same inputs give the same bytes: entries
in sorted order, owners 0:0 for directories (tar inputs keep theirs, by number only), every
mtime clamped to --epoch (SOURCE_DATE_EPOCH), gzip without a name or time, JSON with sorted
keys. A second build can therefore be checked against the first by its digests.
"""

import argparse
import fnmatch
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import time

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def die(msg):
    sys.stderr.write(f"oci_image: {msg}\n")
    sys.exit(1)


class Hashing:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, out):
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def write(self, b):
        self.sha.update(b)
        self.size += len(b)
        return self.out.write(b)

    def flush(self):
        self.out.flush()

    def tell(self):
        return self.size

    def digest(self):
        return "sha256:" + self.sha.hexdigest()


def dir_entries(root, epoch):
    """(TarInfo, path or None) for every file under root, sorted by name, owned by 0:0."""
    names = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for n in dirs + files:
            names.append(os.path.relpath(os.path.join(top, n), root))
    for name in sorted(names):
        path = os.path.join(root, name)
        st = os.lstat(path)
        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.mtime = min(int(st.st_mtime), epoch)
        if stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
            yield ti, None
        elif stat.S_ISLNK(st.st_mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(path)
            yield ti, None
        elif stat.S_ISREG(st.st_mode):
            ti.size = st.st_size
            yield ti, path
        else:
            die(f"{path}: only directories, files and symlinks go into a layer")


def tar_entries(archive, epoch, excludes):
    """The members of a root file system tar, renamed without "./", sorted, normalized."""
    src = tarfile.open(archive, "r:*")
    members = []
    for ti in src.getmembers():
        name = ti.name[2:] if ti.name.startswith("./") else ti.name
        name = name.rstrip("/")
        if name in ("", ".") or any(fnmatch.fnmatch(name, e) for e in excludes):
            continue
        ti.name = name
        if ti.islnk() and ti.linkname.startswith("./"):
            ti.linkname = ti.linkname[2:]
        ti.uname = ti.gname = ""
        ti.mtime = min(int(ti.mtime), epoch)
        ti.pax_headers = {}
        members.append(ti)
    members.sort(key=lambda t: t.name)
    for ti in members:
        yield ti, (src.extractfile(ti) if ti.isreg() else None)


def write_layer(entries, blobdir):
    """Writes one gzip layer into blobdir; returns (descriptor, diff_id)."""
    with tempfile.NamedTemporaryFile(dir=blobdir, delete=False) as tmp:
        gz_hash = Hashing(tmp)
        with gzip.GzipFile(filename="", mode="wb", fileobj=gz_hash, compresslevel=6, mtime=0) as gz:
            tar_hash = Hashing(gz)
            with tarfile.open(fileobj=tar_hash, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for ti, src in entries:
                    if isinstance(src, str):
                        with open(src, "rb") as f:
                            tar.addfile(ti, f)
                    else:
                        tar.addfile(ti, src)
    digest = gz_hash.digest()
    os.rename(tmp.name, os.path.join(blobdir, digest.split(":")[1]))
    return {"mediaType": MT_LAYER, "digest": digest, "size": gz_hash.size}, tar_hash.digest()


def write_json_blob(obj, blobdir, media_type):
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobdir, digest.split(":")[1]), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def keyvals(pairs, what):
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            die(f"--{what} {p!r}: want KEY=VALUE")
        out[k] = v
    return out


def json_list(s, what):
    try:
        v = json.loads(s)
    except json.JSONDecodeError as e:
        die(f"--{what}: not JSON ({e})")
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        die(f"--{what}: want a JSON list of strings, like [\"/bin/sh\"]")
    return v


def build(a):
    ref = a.ref
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag or not tag:
        die(f"--ref {ref!r}: want NAME:TAG")
    if tag == "latest":
        die("--ref: a tag other than latest (kubelets pull :latest every time)")
    if not a.layers:
        die("at least one --layer or --layer-tar")
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(a.epoch))
    work = tempfile.mkdtemp(prefix="oci-image.", dir=os.path.dirname(os.path.abspath(a.out)))
    try:
        write_image(a, ref, tag, created, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_image(a, ref, tag, created, work):
    blobdir = os.path.join(work, "blobs", "sha256")
    os.makedirs(blobdir)
    layers, diff_ids, history = [], [], []
    for kind, src in a.layers:
        if kind == "dir":
            if not os.path.isdir(src):
                die(f"--layer {src}: not a directory")
            entries = dir_entries(src, a.epoch)
        else:
            if not os.path.isfile(src):
                die(f"--layer-tar {src}: no such file")
            entries = tar_entries(src, a.epoch, a.exclude)
        desc, diff_id = write_layer(entries, blobdir)
        layers.append(desc)
        diff_ids.append(diff_id)
        history.append({"created": created, "created_by": f"images/oci_image.py {os.path.basename(src)}"})
    cfg = {}
    if a.env:
        cfg["Env"] = [f"{k}={v}" for k, v in keyvals(a.env, "env").items()]
    if a.entrypoint:
        cfg["Entrypoint"] = json_list(a.entrypoint, "entrypoint")
    if a.cmd:
        cfg["Cmd"] = json_list(a.cmd, "cmd")
    if a.user:
        cfg["User"] = a.user
    if a.workdir:
        cfg["WorkingDir"] = a.workdir
    labels = keyvals(a.label, "label")
    if labels:
        cfg["Labels"] = labels
    config = {
        "architecture": a.arch, "os": "linux", "created": created, "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }
    config_desc = write_json_blob(config, blobdir, MT_CONFIG)
    annotations = {"org.opencontainers.image.created": created, **labels}
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config_desc,
                "layers": layers, "annotations": annotations}
    man_desc = write_json_blob(manifest, blobdir, MT_MANIFEST)
    # containerd names the image after io.containerd.image.name; the OCI annotation is the tag.
    man_desc["platform"] = {"architecture": a.arch, "os": "linux"}
    man_desc["annotations"] = {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [man_desc]}
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": json.dumps(index, sort_keys=True, separators=(",", ":")).encode()}
    tmp_out = a.out + ".tmp"
    with tarfile.open(tmp_out, "w", format=tarfile.USTAR_FORMAT) as out:
        def entry(n, size=0, dir_=False):
            ti = tarfile.TarInfo(n)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = a.epoch, 0, 0, "", ""
            ti.type, ti.mode = (tarfile.DIRTYPE, 0o755) if dir_ else (tarfile.REGTYPE, 0o644)
            ti.size = size
            return ti
        out.addfile(entry("blobs", dir_=True))
        out.addfile(entry("blobs/sha256", dir_=True))
        for b in sorted(os.listdir(blobdir)):
            p = os.path.join(blobdir, b)
            with open(p, "rb") as f:
                out.addfile(entry(f"blobs/sha256/{b}", os.path.getsize(p)), f)
            os.unlink(p)
        for n in sorted(files):
            out.addfile(entry(n, len(files[n])), io.BytesIO(files[n]))
    os.rename(tmp_out, a.out)
    print(f"{ref} {man_desc['digest']} {sum(d['size'] for d in layers)}")


def digest(a):
    with tarfile.open(a.archive) as t:
        try:
            index = json.load(t.extractfile("index.json"))
        except KeyError:
            die(f"{a.archive}: no index.json (not an OCI image layout)")
    for m in index.get("manifests", []):
        print(m["annotations"].get("io.containerd.image.name", "-"), m["digest"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd_name", required=True)
    b = sub.add_parser("build", help="write an image layout tar")
    b.add_argument("--out", required=True)
    b.add_argument("--ref", required=True, help="NAME:TAG, e.g. localhost/bulwark/agent:1.0")
    b.add_argument("--epoch", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")),
                   help="mtime clamp and creation time (default: $SOURCE_DATE_EPOCH)")
    b.add_argument("--layer", dest="layers", action="append", default=[],
                   type=lambda s: ("dir", s), help="a directory: one layer, in order")
    b.add_argument("--layer-tar", dest="layers", action="append", type=lambda s: ("tar", s),
                   help="a root file system tar: one layer, in order")
    b.add_argument("--exclude", action="append", default=[],
                   help="glob of --layer-tar entries to leave out (e.g. 'dev/*')")
    b.add_argument("--env", action="append", default=[])
    b.add_argument("--entrypoint")
    b.add_argument("--cmd")
    b.add_argument("--user")
    b.add_argument("--workdir")
    b.add_argument("--label", action="append", default=[])
    b.add_argument("--arch", default="amd64")
    b.set_defaults(func=build)
    d = sub.add_parser("digest", help="print each image's name and manifest digest")
    d.add_argument("archive")
    d.set_defaults(func=digest)
    a = p.parse_args()
    if a.cmd_name == "build" and a.epoch <= 0:
        die("--epoch or SOURCE_DATE_EPOCH: a positive time (the git commit's)")
    a.func(a)


if __name__ == "__main__":
    main()
