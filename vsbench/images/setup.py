"""``vsbench setup --containers``: check, install where allowed, configure, build the base.

Containers are opt-in (the default study runs process replicas). This checks for podman (or
docker) and debootstrap; as root it installs the missing ones with apt-get, otherwise it
prints the one command to run. It applies the engine settings this kind of machine needs
(cgroup v1 without systemd, no CAP_SYS_RESOURCE: ``cgroup_manager = "cgroupfs"``, lowered
``default_ulimits``, and ``runtime = "runc"``) and builds the base image with debootstrap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import VsbError
from .base import build_base
from .engine import find_engine, last_line

APT_PACKAGES = {"podman": ["podman", "buildah", "runc", "uidmap", "fuse-overlayfs"],
                "docker": ["docker.io"], "debootstrap": ["debootstrap"]}
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
REQUIRED = {("containers", "default_ulimits"): ["nofile=20000:20000", "nproc=32768:32768"],
            ("engine", "cgroup_manager"): "cgroupfs",
            # crun refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode not
            # supported"), and podman prefers it whenever it is installed
            ("engine", "runtime"): "runc",
            ("engine", "events_logger"): "file"}
MARK = "# written by vsbench setup --containers"


@dataclass
class ContainerSetupStep:
    name: str
    seconds: float
    detail: str


def _missing_tools(engine: str) -> list[str]:
    need = [engine, "debootstrap"]
    return [t for t in need if not shutil.which(t)]


def install_tools(engine: str) -> ContainerSetupStep:
    t0 = time.perf_counter()
    missing = _missing_tools(engine)
    if not missing:
        return ContainerSetupStep("tools", 0.0, f"{engine} and debootstrap present")
    packages = [p for t in missing for p in APT_PACKAGES[t]]
    command = "apt-get update && apt-get install -y " + " ".join(packages)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise VsbError(f"missing {', '.join(missing)}; install with: sudo sh -c '{command}' "
                       f"(or your system's package manager), then run this again")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if proc.returncode != 0:
            raise VsbError(f"{' '.join(cmd[:2])} failed: {last_line(proc.stderr)}")
    still = _missing_tools(engine)
    if still:
        raise VsbError(f"installed {' '.join(packages)} but {', '.join(still)} is still missing")
    return ContainerSetupStep("tools", time.perf_counter() - t0, "installed " + " ".join(packages))


def _render_conf() -> str:
    lines = [MARK]
    for table in ("containers", "engine"):
        lines.append(f"[{table}]")
        for (t, key), value in REQUIRED.items():
            if t == table:
                v = ("[" + ", ".join(f'"{x}"' for x in value) + "]" if isinstance(value, list)
                     else f'"{value}"')
                lines.append(f"{key} = {v}")
    return "\n".join(lines) + "\n"


def conf_problems(path: Path = CONTAINERS_CONF) -> list[str]:
    """Settings of ``path`` that differ from what this machine needs (empty: all set)."""
    try:
        conf = tomllib.loads(path.read_text())
    except FileNotFoundError:
        conf = {}
    except tomllib.TOMLDecodeError as exc:
        return [f"{path} is not valid TOML ({exc})"]
    return [f"[{t}] {k} = {v!r}" for (t, k), v in REQUIRED.items()
            if conf.get(t, {}).get(k) != v]


def configure_podman(path: Path = CONTAINERS_CONF) -> ContainerSetupStep:
    problems = conf_problems(path)
    if not problems:
        return ContainerSetupStep("podman config", 0.0, f"{path} already set")
    ours = not path.exists() or path.read_text().startswith(MARK)
    if ours and os.access(path.parent if path.parent.exists() else path.parent.parent, os.W_OK):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render_conf())
        return ContainerSetupStep("podman config", 0.0, f"wrote {path}")
    raise VsbError(f"{path} needs: {'; '.join(problems)} (this machine: cgroup v1 without "
                   f"systemd and no CAP_SYS_RESOURCE); add them and run this again")


def run_container_setup(engine_name: str = "podman") -> list[ContainerSetupStep]:
    steps = [install_tools(engine_name)]
    if engine_name == "podman":
        steps.append(configure_podman())
    engine = find_engine(engine_name)
    base = build_base(engine)
    steps.append(ContainerSetupStep(
        "base image", base.seconds,
        f"{base.tag} {'built' if base.built else 'present'} ({base.image_id[:12]})"))
    return steps
