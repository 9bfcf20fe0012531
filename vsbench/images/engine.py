"""The container engine (podman by default, docker when chosen), driven through its CLI.

Only what vsbench needs: find the engine, build, import a root file system, inspect and remove
images. Every failure becomes one :class:`VsbError` line naming the command and its error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from ..errors import VsbError

ENGINES = ("podman", "docker")
SETUP_HINT = "run `vsbench setup --containers` (as root it installs and configures podman)"

TAG_PREFIX = "localhost/vsbench"  # vsbench's own images: <TAG_PREFIX>/<function>:<fingerprint>


def is_vsbench_image(tag: str) -> bool:
    """Whether ``tag`` names one of vsbench's own function images (by its name)."""
    return tag.startswith(TAG_PREFIX + "/")


@dataclass(frozen=True)
class ContainerEngine:
    name: str  # podman | docker
    exe: str

    def run(self, args: list[str], *, input: bytes | None = None, timeout_s: float = 600,
            what: str = "") -> subprocess.CompletedProcess:
        """Run ``<engine> args``; raise one clear line when it fails."""
        try:
            proc = subprocess.run([self.exe, *args], input=input, capture_output=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise VsbError(f"{self.name} {args[0]} ({what or ' '.join(args[:3])}) did not finish "
                           f"within {timeout_s:.0f} s") from None
        if proc.returncode != 0:
            raise VsbError(f"{self.name} {args[0]} failed ({what or ' '.join(args[:3])}): "
                           f"{last_line(proc.stderr) or f'exit {proc.returncode}'}")
        return proc

    def image_exists(self, tag: str) -> bool:
        return subprocess.run([self.exe, "image", "inspect", tag], capture_output=True,
                              timeout=60).returncode == 0

    def inspect_image(self, tag: str) -> dict[str, Any]:
        out = self.run(["image", "inspect", tag], what=f"image {tag}").stdout
        return json.loads(out)[0]

    def image_id(self, tag: str) -> str:
        return self.inspect_image(tag)["Id"]

    def history(self, tag: str) -> list[dict[str, Any]]:
        """Layers, newest first: created-by and size of each."""
        out = self.run(["history", "--no-trunc", "--format", "json", tag],
                       what=f"history of {tag}").stdout
        return json.loads(out or b"[]")

    def remove_image(self, tag: str) -> None:
        subprocess.run([self.exe, "rmi", tag], capture_output=True, timeout=120)


def last_line(stderr: bytes | str) -> str:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def find_engine(name: str = "podman") -> ContainerEngine:
    """The engine ``name`` (podman or docker) on PATH, or one clear error saying what to do."""
    if name not in ENGINES:
        raise VsbError(f"unknown container engine {name!r}; choose one of {', '.join(ENGINES)}")
    exe = shutil.which(name)
    if not exe:
        raise VsbError(f"{name} is not installed (not on PATH); {SETUP_HINT}")
    return ContainerEngine(name, exe)
