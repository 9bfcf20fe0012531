"""The OpenFaaS python3-http template function of tests/data/openfaas/python3-http, as an image.

Built like ``faas-cli build`` would (template + handler + watchdog) on vsbench's base image;
the template's packages are copied from this test environment (nothing is fetched). The tag
carries a hash of everything in it, so a second build is skipped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

SOURCE = Path(__file__).parent / "data" / "openfaas" / "python3-http"
PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker",
            "waitress")
REPO = "localhost/openfaas-test/python3-http-echo"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(SOURCE).as_posix().encode())
            h.update(path.read_bytes())
    for name in PACKAGES:
        h.update(f"{name}=={metadata.version(name)}".encode())
    return h.hexdigest()[:12]


def build(exe: str = "podman") -> str:
    """The image's tag, built now if it is not in the store."""
    tag = f"{REPO}:{_fingerprint()}"
    if subprocess.run([exe, "image", "exists", tag]).returncode == 0:
        return tag
    with tempfile.TemporaryDirectory(prefix="vsb-of-template-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(SOURCE, ctx, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        site = ctx / "site"
        for name in PACKAGES:
            for f in metadata.distribution(name).files or []:
                src = Path(f.locate())
                inside = not f.parts[0].startswith("..")  # not scripts in ../../bin
                if src.is_file() and "__pycache__" not in f.parts and inside:
                    dest = site / f
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest)
        out = subprocess.run([exe, "build", "-t", tag, "-f", str(ctx / "Containerfile"),
                              str(ctx)], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"building {tag} failed: {out.stderr[-2000:]}")
    return tag
