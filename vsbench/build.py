"""Per-function builds for the embedded platform: what a container image build bakes in.

A build resolves the function's code and dependencies into a fingerprint (sha256 over its
source files, the runtime, package versions, Python and model hashes) and prepares what a
replica must not redo at start: bytecode compiled, numba's JIT cache warmed (librosa),
models present and verified. The fingerprint is the function's "image" in deployments and
goes into provenance; container images later reuse the same seam.
"""

from __future__ import annotations

import compileall
import functools
import hashlib
import json
import platform
import re
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from functions.registry import FUNCTIONS, get_spec

from .paths import vsb_home

REPO = Path(__file__).resolve().parents[1]

FUNCTIONS_PYPROJECT = REPO / "functions" / "pyproject.toml"
# What every function's replica contains besides its own handler package.
SHARED_SOURCES = ["functions/__init__.py", "functions/runtime", "functions/registry.py",
                  "functions/models.py"]


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


@functools.lru_cache(maxsize=1)
def _functions_project() -> dict:
    with open(FUNCTIONS_PYPROJECT, "rb") as f:
        return tomllib.load(f)["project"]


def runtime_requirements() -> list[str]:
    """Requirements every replica has (functions/pyproject.toml ``dependencies``)."""
    return list(_functions_project()["dependencies"])


def function_requirements(function: str) -> list[str]:
    """Requirements one function adds (its extra in functions/pyproject.toml)."""
    extras = _functions_project()["optional-dependencies"]
    get_spec(function)  # unknown names fail with the list of known ones
    return list(extras.get(function, []))


def distribution_name(requirement: str) -> str:
    """``'opencv-python-headless>=4.8,<5'`` → ``'opencv-python-headless'``."""
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip()


def function_packages(function: str) -> list[str]:
    """Distributions a function's replica imports: the runtime's, then its own."""
    reqs = runtime_requirements() + function_requirements(function)
    return list(dict.fromkeys(distribution_name(r) for r in reqs))


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
    from functions.models import get_spec as model_spec

    h = hashlib.sha256()
    for f in _sources(function):
        h.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f.name).encode())
        h.update(f.read_bytes())
    packages = {d: _version(d) for d in function_packages(function)}
    models = {}
    for name in get_spec(function).models:
        models[name] = ",".join(mf.sha256 or "unpinned" for mf in model_spec(name).files)
    h.update(json.dumps({"python": sys.version, "packages": packages, "models": models,
                         "requirements": runtime_requirements() + function_requirements(function)},
                        sort_keys=True).encode())
    return h.hexdigest(), packages, models


def build_dir() -> Path:
    return vsb_home() / "builds"


def build_function(function: str, warm: bool = True) -> BuildRecord:
    """Build one function (idempotent: a second build with the same fingerprint is quick)."""
    from functions.models import ensure_model

    from .setup_env import warm_numba_cache

    t0 = time.perf_counter()
    fp, packages, models = fingerprint(function)
    steps = []
    for f in {p.parent for p in _sources(function)}:
        compileall.compile_dir(str(f), quiet=1, maxlevels=0)
    steps.append("bytecode compiled")
    for name in get_spec(function).models:
        ensure_model(name, download=True)
        steps.append(f"model {name} verified")
    if get_spec(function).warm_module and warm:
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


def deploy_images(functions: list[str], host: str = "process") -> dict[str, str]:
    """The image each function is deployed with on ``host``: the fingerprinted build for
    process replicas (built here when stale), the function's container image otherwise."""
    if host in ("container", "kubernetes"):
        from .images import image_for

        return {fn: image_for(fn) for fn in functions}
    return {fn: rec.image for fn, rec in ensure_built(functions).items()}
