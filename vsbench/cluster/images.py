"""Images on the local cluster: none can be pulled, so they are imported into containerd.

The pod sandbox ("pause") image is built here: the release's own ``build/pause/linux/pause.c``
(from the Go module cache), compiled with ``gcc -static`` and packed as a one-layer image
archive. Function images come from the container engine's store (``podman save``) and are
imported with ``ctr images import``; pods name them with ``imagePullPolicy: Never``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..errors import VsbError

PAUSE_TAG = "3.10.2"  # the release's build/pause/Makefile TAG
PAUSE_IMAGE = f"localhost/vsbench/pause:{PAUSE_TAG}"
NAMESPACE = "k8s.io"  # containerd's namespace for the CRI


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_archive(binary: Path, entry: str, tag: str) -> bytes:
    """A docker-archive (what ``docker save`` writes) holding one static binary at ``/entry``."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(entry.lstrip("/"))
        data = binary.read_bytes()
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = _sha(layer_bytes)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Entrypoint": [entry], "User": "65535:65535"},
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
                         "history": [{"created_by": f"vsbench: {entry} built from source"}]},
                        sort_keys=True).encode()
    config_name = f"{_sha(config)}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": [f"{diff_id}/layer.tar"]}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, blob in ((f"{diff_id}/layer.tar", layer_bytes), (config_name, config),
                           ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(blob), 0
            tar.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def build_pause(source: Path, out_dir: Path) -> Path:
    """Compile ``pause.c`` statically; returns the image archive's path."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise VsbError("the local cluster's pause image is compiled from C: install gcc "
                       "(apt-get install gcc libc6-dev)")
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "pause"
    proc = subprocess.run([gcc, "-Os", "-static", f"-DVERSION={PAUSE_TAG}", "-o", str(binary),
                           str(source)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise VsbError(f"gcc -static {source.name} failed: {proc.stderr.strip()[-300:]} "
                       f"(static linking needs libc6-dev)")
    archive = out_dir / "pause.tar"
    archive.write_bytes(image_archive(binary, "/pause", PAUSE_IMAGE))
    return archive


def ctr(address: Path, *args: str, timeout: float = 600, stdin=None) -> str:
    exe = shutil.which("ctr")
    if exe is None:
        raise VsbError("containerd's `ctr` is missing: run `vsbench setup --cluster`")
    proc = subprocess.run([exe, "--address", str(address), "--namespace", NAMESPACE, *args],
                          capture_output=True, text=True, timeout=timeout, stdin=stdin)
    if proc.returncode != 0:
        raise VsbError(f"ctr {' '.join(args[:2])} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def cluster_images(address: Path) -> set[str]:
    return {line.split()[0] for line in ctr(address, "images", "list").splitlines()[1:]
            if line.strip()}


def import_archive(address: Path, archive: Path) -> None:
    ctr(address, "images", "import", str(archive), timeout=1800)


def import_from_engine(address: Path, image: str, engine_exe: str) -> float:
    """Copy ``image`` from the container engine's store into the cluster; seconds taken."""
    import time

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vsb-image-") as tmp:
        archive = Path(tmp) / "image.tar"
        proc = subprocess.run([engine_exe, "save", "--format", "docker-archive", "-o",
                               str(archive), image], capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            raise VsbError(f"cannot export {image} from {engine_exe}: "
                           f"{proc.stderr.strip()[-200:]}; run `vsbench build --images`")
        import_archive(address, archive)
    return time.perf_counter() - t0
