"""Where vsbench keeps state, caches and logs on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def vsb_home() -> Path:
    """``VSB_HOME``, else ``$XDG_CACHE_HOME/vsbench`` (``~/.cache/vsbench``)."""
    if os.environ.get("VSB_HOME"):
        return Path(os.environ["VSB_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vsbench"


def cluster_dir() -> Path:
    """The local cluster's binaries (built once per release, like Go's own build cache) and
    its state: one per machine (one pod bridge), whatever ``VSB_HOME`` is.
    ``VSB_CLUSTER_DIR``, else ``$XDG_CACHE_HOME/vsbench/cluster``."""
    if os.environ.get("VSB_CLUSTER_DIR"):
        return Path(os.environ["VSB_CLUSTER_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vsbench" / "cluster"


def numba_cache_dir() -> Path:
    """The numba JIT cache a function 'image' is built with (warmed by ``vsbench setup``)."""
    return vsb_home() / "cache" / "numba"


def function_env() -> dict[str, str]:
    """Environment every replica starts with, as a container image would bake it in."""
    env = {
        "NUMBA_CACHE_DIR": str(numba_cache_dir()),
        # One BLAS/OpenMP thread per replica: replicas, not threads, are the unit of scale.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env
