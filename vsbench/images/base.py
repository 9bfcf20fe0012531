"""The default base image, built here: no registry can be reached, so nothing is pulled.

``debootstrap --variant=minbase`` writes a Debian root file system with python3 and venv from
Debian's archive; it is imported as ``localhost/vsbench/base:<suite>``. With a registry, pass
another base instead (``vsbench build --images --base python:3.11-slim``): the Containerfile
needs only ``python3`` with the venv module on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from ..errors import VsbError
from ..paths import vsb_home
from .engine import ContainerEngine, last_line

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ["python3", "python3-venv", "ca-certificates"]
DEFAULT_BASE = f"localhost/vsbench/base:{SUITE}"
TRIM = ["var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
        "usr/share/info", "usr/share/locale"]


@dataclass
class BaseBuild:
    tag: str
    image_id: str
    seconds: float
    built: bool  # False: it existed already


def build_base(engine: ContainerEngine, tag: str = DEFAULT_BASE, suite: str = SUITE,
               mirror: str = MIRROR, force: bool = False) -> BaseBuild:
    """Build the base image with debootstrap (about a minute here), unless it exists."""
    if engine.image_exists(tag) and not force:
        return BaseBuild(tag, engine.image_id(tag), 0.0, built=False)
    debootstrap = shutil.which("debootstrap")
    if not debootstrap:
        raise VsbError("debootstrap is not installed, so the base image cannot be built here; "
                       "run `vsbench setup --containers` as root, or pass --base IMAGE")
    if os.geteuid() != 0:
        raise VsbError("building the base image with debootstrap needs root; run "
                       "`sudo vsbench setup --containers`, or pass --base IMAGE")
    t0 = time.perf_counter()
    work = vsb_home() / "images"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        proc = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, rootfs,
             mirror], capture_output=True, timeout=1800)
        if proc.returncode != 0:
            raise VsbError(f"debootstrap {suite} from {mirror} failed: "
                           f"{last_line(proc.stderr) or last_line(proc.stdout)}")
        # Not part of the image: apt's package cache and lists (about 100 MB), docs, manuals,
        # translations. Functions need Python, its venv module and CA certificates.
        for sub in TRIM:
            shutil.rmtree(os.path.join(rootfs, sub), ignore_errors=True)
            os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        imp = subprocess.run([engine.exe, "import", "--change", 'CMD ["/bin/bash"]', "-", tag],
                             stdin=tar.stdout, capture_output=True, timeout=600)
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise VsbError(f"{engine.name} import of the base root fs failed: "
                           f"{last_line(imp.stderr) or f'tar exit {tar.returncode}'}")
    return BaseBuild(tag, engine.image_id(tag), round(time.perf_counter() - t0, 1), built=True)
