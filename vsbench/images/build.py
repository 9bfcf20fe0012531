"""Function images: one per function, from one Containerfile, rebuilt only when needed.

The tag is ``vsbench/<function>:<fingerprint[:12]>``; the fingerprint covers the function's
code (its handler package and the shared runtime), its pinned packages, its model files and
the base image's id. ``build_image`` skips the build when the tag exists, so a second call
builds nothing and a changed handler rebuilds only its image. Packages are pinned to the
versions this host runs (the transitive closure of the function's requirements in the host's
environment), downloaded once into a wheelhouse, and installed in the image without an index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from functions.models import get_spec as model_spec
from functions.models import models_dir
from functions.registry import get_spec

from ..build import REPO, SHARED_SOURCES, function_requirements, runtime_requirements
from ..errors import VsbError
from ..paths import vsb_home
from .base import DEFAULT_BASE
from .engine import TAG_PREFIX, ContainerEngine, last_line

CONTAINERFILE = Path(__file__).with_name("Containerfile")


@dataclass
class ImageRecord:
    function: str
    tag: str
    fingerprint: str
    base: str
    base_id: str
    engine: str
    built: bool  # False: the tag existed, nothing was built
    seconds: float  # this call
    size_mb: float
    layers: list[dict] = field(default_factory=list)  # oldest first: created_by, size_mb
    packages: dict[str, str] = field(default_factory=dict)
    build_seconds: float | None = None  # the build that made the tag (None: not seen here)


def image_records_dir() -> Path:
    return vsb_home() / "builds" / "images"


# --- what goes into an image ---------------------------------------------------------------
def pinned_closure(requirements: list[str]) -> dict[str, str]:
    """Every distribution the requirements pull in, at the version installed here."""
    out: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise VsbError(f"{req.name} (needed by a function image) is not installed here; "
                           f"reinstall with pip install -e '.[test]'") from None
        out[name] = dist.version
        for dep in dist.requires or []:
            sub = Requirement(dep)
            # a dependency applies when unconditional, or under one of the requested extras
            if sub.marker is None or any(sub.marker.evaluate({"extra": e})
                                         for e in ("", *req.extras)):
                todo.append(sub)
    return dict(sorted(out.items()))


def image_pins(function: str) -> tuple[dict[str, str], dict[str, str]]:
    """(runtime layer pins, function layer pins): the function layer omits the runtime's."""
    runtime = pinned_closure(runtime_requirements())
    own = pinned_closure(function_requirements(function))
    return runtime, {k: v for k, v in own.items() if k not in runtime}


def _image_sources(function: str) -> tuple[list[Path], Path]:
    core = [REPO / s for s in SHARED_SOURCES]
    handler = REPO / Path(*get_spec(function).module.split(".")[:-1])
    return core, handler


def _py_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*.py")) if path.is_dir() else [path]


def image_fingerprint(function: str, base_id: str) -> str:
    """sha256 over code, pinned packages, model hashes, the Containerfile and the base."""
    runtime, own = image_pins(function)
    core, handler = _image_sources(function)
    h = hashlib.sha256()
    for f in [*(f for p in core for f in _py_files(p)), *_py_files(handler), CONTAINERFILE]:
        h.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f.name).encode())
        h.update(f.read_bytes())
    models = {m: [mf.sha256 or "unpinned" for mf in model_spec(m).files]
              for m in get_spec(function).models}
    h.update(json.dumps({"runtime": runtime, "function": own, "models": models,
                         "base": base_id, "warm": get_spec(function).warm_module},
                        sort_keys=True).encode())
    return h.hexdigest()


def image_tag(function: str, fingerprint: str) -> str:
    return f"{TAG_PREFIX}/{function}:{fingerprint[:12]}"


# --- the wheelhouse --------------------------------------------------------------------------
def wheelhouse() -> Path:
    return vsb_home() / "images" / "wheelhouse"


def _wheels_of(folder: Path, name: str, version: str) -> list[Path]:
    """Wheels of one pinned distribution in ``folder`` (file names normalise ``-``/``.``)."""
    stem = re.sub(r"[-_.]+", "_", name).lower()
    return [w for w in folder.glob("*.whl")
            if re.sub(r"[-_.]+", "_", w.name.split("-")[0]).lower() == stem
            and w.name.split("-")[1] == version]


def fill_wheelhouse(pins: dict[str, str]) -> Path:
    """Download the pinned wheels that are not there yet (from the package index, once)."""
    folder = wheelhouse()
    folder.mkdir(parents=True, exist_ok=True)
    missing = [f"{n}=={v}" for n, v in pins.items() if not _wheels_of(folder, n, v)]
    if missing:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "-q", "-d", str(folder), *missing],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise VsbError(f"pip download of the image packages failed: "
                           f"{last_line(proc.stderr)}")
    return folder


# --- building ------------------------------------------------------------------------------
def _copy_py_tree(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest / src.name, ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "pyproject.toml"))
    else:
        shutil.copy2(src, dest / src.name)


def _context(function: str, tmp: Path, runtime: dict[str, str], own: dict[str, str],
             wheels: Path) -> Path:
    ctx = tmp / "context"
    for sub in ("requirements", "core", "handler", "models", "wheels"):
        (ctx / sub).mkdir(parents=True)
    (ctx / "requirements" / "runtime.txt").write_text(
        "".join(f"{n}=={v}\n" for n, v in runtime.items()))
    (ctx / "requirements" / "function.txt").write_text(
        "".join(f"{n}=={v}\n" for n, v in own.items()))
    core, handler = _image_sources(function)
    for src in core:
        _copy_py_tree(src, ctx / "core")
    _copy_py_tree(handler, ctx / "handler")
    for name in get_spec(function).models:
        for mf in model_spec(name).files:
            src = models_dir() / name / mf.path
            if not src.is_file():
                raise VsbError(f"model file {src} for {function}'s image is missing; run "
                               f"`vsbench setup` (or set VSB_MODELS_DIR)")
            (ctx / "models" / name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / "models" / name / mf.path)
    for n, v in {**runtime, **own}.items():  # hard links: no copy of hundreds of MB
        for w in _wheels_of(wheels, n, v):
            try:
                os.link(w, ctx / "wheels" / w.name)
            except OSError:
                shutil.copy2(w, ctx / "wheels" / w.name)
    shutil.copy2(CONTAINERFILE, ctx / "Containerfile")
    return ctx


def build_image(function: str, engine: ContainerEngine, base: str = DEFAULT_BASE,
                force: bool = False) -> ImageRecord:
    """Build one function's image unless its fingerprinted tag exists already."""
    if not engine.image_exists(base):
        hint = ("build it with `vsbench setup --containers`" if base == DEFAULT_BASE
                else "pull or build it first")
        raise VsbError(f"base image {base} is not in {engine.name}'s store; {hint}")
    base_id = engine.image_id(base)
    fp = image_fingerprint(function, base_id)
    tag = image_tag(function, fp)
    runtime, own = image_pins(function)
    t0 = time.perf_counter()
    built = False
    if force or not engine.image_exists(tag):
        wheels = fill_wheelhouse({**runtime, **own})
        (vsb_home() / "images").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=vsb_home() / "images", prefix="ctx-") as tmp:
            ctx = _context(function, Path(tmp), runtime, own, wheels)
            warm = get_spec(function).warm_module or ""
            args = ["build", "--network", "host", "-f", str(ctx / "Containerfile"),
                    "-t", tag, "--build-arg", f"BASE={base}",
                    "--build-arg", f"FUNCTION={function}",
                    "--build-arg", f"WARM_MODULE={warm}",
                    "--build-arg", f"FINGERPRINT={fp}"]
            if engine.name == "podman":
                args.insert(1, "--layers")
            engine.run([*args, str(ctx)], timeout_s=3600, what=f"image of {function}")
        built = True
    seconds = round(time.perf_counter() - t0, 2)
    info = engine.inspect_image(tag)
    layers = [{"created_by": (h.get("CreatedBy") or h.get("created_by") or "")[:160],
               "size_mb": round((h.get("Size") or h.get("size") or 0) / 2**20, 2)}
              for h in reversed(engine.history(tag))]
    record_path = image_records_dir() / f"{function}.json"
    previous = _read_record(record_path)
    build_seconds = seconds if built else (
        previous.build_seconds if previous and previous.tag == tag else None)
    rec = ImageRecord(function, tag, fp, base, base_id, engine.name, built, seconds,
                      round(info.get("Size", 0) / 2**20, 1), layers, {**runtime, **own},
                      build_seconds)
    image_records_dir().mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(asdict(rec), indent=1))
    if built and previous and previous.tag != tag:
        engine.remove_image(previous.tag)  # superseded: keep the store from growing per edit
    return rec


def _read_record(path: Path) -> ImageRecord | None:
    try:
        return ImageRecord(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def image_for(function: str) -> str:
    """The tag of the function's current image (from its last build), or a clear error."""
    rec = _read_record(image_records_dir() / f"{function}.json")
    if rec is None:
        raise VsbError(f"no image for {function}; build it with `vsbench build --images`")
    return rec.tag
