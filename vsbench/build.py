"""Per-function builds for the embedded platform: what a container image build bakes in.

A build resolves the function's code and dependencies into a fingerprint (sha256 over its
source files, the runtime, package versions, Python and model hashes) and prepares what a
replica must not redo at start: bytecode compiled, numba's JIT cache warmed (librosa),
models present and verified. The fingerprint is the function's "image" in deployments and
goes into provenance; container images later reuse the same seam.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from functions.registry import FUNCTIONS, get_spec

from .paths import vsb_home

REPO = Path(__file__).resolve().parents[1]

# Distributions each function imports (beyond the runtime's own).
FUNCTION_PACKAGES: dict[str, list[str]] = {
    "orchestrator": ["requests"],
    "ffmpeg-0": ["imageio-ffmpeg"],
    "librosa": ["librosa", "numba", "numpy", "soundfile"],
    "ffmpeg-1": ["imageio-ffmpeg"],
    "ffmpeg-2": ["imageio-ffmpeg"],
    "asr": ["pocketsphinx", "numpy"],
    "ffmpeg-3": ["imageio-ffmpeg"],
    "object-detector": ["onnxruntime", "opencv-python-headless", "numpy"],
    "search": [],
    "noop": [],
}
RUNTIME_PACKAGES = ["boto3", "botocore", "psutil"]
FUNCTION_MODELS: dict[str, list[str]] = {"object-detector": ["fastestdet"]}
SHARED_SOURCES = ["functions/runtime", "functions/registry.py", "vsbench/mediainfo.py",
                  "vsbench/models.py"]


@dataclass
class BuildRecord:
    function: str
    fingerprint: str
    image: str
    built_at: float
    seconds: float
    python: str
    packages: dict[str, str]
    models: dict[str, str]
    steps: list[str]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def function_sources(function: str) -> list[str]:
    """Source files a function's build depends on (for the pipeline's build rule)."""
    return [str(p) for p in _sources(function)]


def _sources(function: str) -> list[Path]:
    pkg = REPO / Path(*get_spec(function).module.split(".")[:-1])
    paths = [pkg, *(REPO / s for s in SHARED_SOURCES)]
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def fingerprint(function: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """sha256 of everything that makes the function's replica what it is."""
    from .models import get_spec as model_spec

    h = hashlib.sha256()
    for f in _sources(function):
        h.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f.name).encode())
        h.update(f.read_bytes())
    packages = {d: _version(d) for d in RUNTIME_PACKAGES + FUNCTION_PACKAGES.get(function, [])}
    models = {}
    for name in FUNCTION_MODELS.get(function, []):
        models[name] = ",".join(mf.sha256 or "unpinned" for mf in model_spec(name).files)
    h.update(json.dumps({"python": sys.version, "packages": packages, "models": models},
                        sort_keys=True).encode())
    return h.hexdigest(), packages, models


def build_dir() -> Path:
    return vsb_home() / "builds"


def build_function(function: str, warm: bool = True) -> BuildRecord:
    """Build one function (idempotent: a second build with the same fingerprint is quick)."""
    from .models import ensure_model
    from .setup_env import warm_numba_cache

    t0 = time.perf_counter()
    fp, packages, models = fingerprint(function)
    steps = []
    for f in {p.parent for p in _sources(function)}:
        compileall.compile_dir(str(f), quiet=1, maxlevels=0)
    steps.append("bytecode compiled")
    for name in FUNCTION_MODELS.get(function, []):
        ensure_model(name, download=True)
        steps.append(f"model {name} verified")
    if function == "librosa" and warm:
        warm_numba_cache()
        steps.append("numba cache warmed")
    rec = BuildRecord(function, fp, f"vsbench/{function}:{fp[:12]}", time.time(),
                      round(time.perf_counter() - t0, 3), platform.python_version(), packages,
                      models, steps)
    build_dir().mkdir(parents=True, exist_ok=True)
    (build_dir() / f"{function}.json").write_text(json.dumps(asdict(rec), indent=1))
    return rec


def current_build(function: str) -> BuildRecord | None:
    """The recorded build, if its fingerprint still matches the code and packages."""
    path = build_dir() / f"{function}.json"
    if not path.exists():
        return None
    rec = BuildRecord(**json.loads(path.read_text()))
    return rec if rec.fingerprint == fingerprint(function)[0] else None


def ensure_built(functions: list[str] | None = None) -> dict[str, BuildRecord]:
    out = {}
    for fn in functions or list(FUNCTIONS):
        out[fn] = current_build(fn) or build_function(fn)
    return out
