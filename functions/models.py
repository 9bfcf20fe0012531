"""Model registry and provisioning: where model files live, how to fetch and verify them.

Each model lives in its own folder ``models_dir()/<name>/``. A file with a pinned
sha256 is downloaded from its public URL (pinned at a commit) when missing, and is
always checked against the hash before use. Files with no pinned hash are never
downloaded: the user supplies them and opts in explicitly.

Stdlib only, so importing this module costs nothing at a function's cold start.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ENV_MODELS_DIR = "VSB_MODELS_DIR"
# Opt-in for files whose hash is not pinned in the registry (see ensure_model).
ENV_TRUST_UNVERIFIED = "VSB_TRUST_UNVERIFIED_MODELS"

# darknet data/coco.names order (index = class id of the COCO-80 detectors here).
COCO80: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorbike",
    "aeroplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "sofa",
    "pottedplant",
    "bed",
    "diningtable",
    "toilet",
    "tvmonitor",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)


class ModelError(Exception):
    """A model file is missing, corrupt, unverifiable or could not be downloaded."""


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, relative to the model's folder."""

    path: str
    url: str | None  # public, pinned at a commit; None = never downloaded
    sha256: str | None  # None = not pinned: refused unless the user opts in
    size: int | None = None  # bytes; a cheap early check before hashing


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its detector kind, files, licence and notes."""

    name: str
    kind: str  # detector kind understood by functions/object_detector/detector.py
    files: tuple[ModelFile, ...]
    licence: str
    optional: bool = False  # optional models are skipped by verify_all() by default
    notes: str = ""
    classes: tuple[str, ...] = field(default=COCO80, repr=False)


REGISTRY: dict[str, ModelSpec] = {
    "fastestdet": ModelSpec(
        name="fastestdet",
        kind="fastestdet",
        files=(
            ModelFile(
                path="FastestDet.onnx",
                url=(
                    "https://github.com/dog-qiuqiu/FastestDet/raw/"
                    "97df0a850c4949dcd7d9abf9c539679eee6b6a90/example/onnx-runtime/FastestDet.onnx"
                ),
                sha256="31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880",
                size=998_169,
            ),
        ),
        licence="BSD-3-Clause (c) 2022 xuehao.ma; keep the notice when redistributing",
        notes="COCO-80, 352x352 BGR input, anchor-free; the default detector.",
    ),
    # The seed's detector. No ONNX export of yolov4-tiny has a public URL pinned at a
    # commit whose sha256 we could check (the ONNX model zoo only has full YOLOv4),
    # so the file is user-supplied, e.g. exported from darknet's yolov4-tiny.cfg/.weights
    # with Tianxiaomo/pytorch-YOLOv4 (outputs `boxes`, `confs`).
    "yolov4-tiny": ModelSpec(
        name="yolov4-tiny",
        kind="yolov4-tiny",
        files=(ModelFile(path="yolov4-tiny.onnx", url=None, sha256=None),),
        licence="darknet weights: YOLO licence (public domain); check the exporter's licence",
        optional=True,
        notes="COCO-80, 416x416 RGB input; user-supplied, unverified.",
    ),
}


def models_dir() -> Path:
    """Root folder of the models: ``$VSB_MODELS_DIR``, else the user's cache folder."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "vsbench" / "models"


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; ModelError listing known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}"
        ) from None


def model_path(name: str) -> Path:
    """Where the model's main (first) file is expected; does not check it exists."""
    spec = get_spec(name)
    return models_dir() / spec.name / spec.files[0].path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _trust_from_env() -> bool:
    return os.environ.get(ENV_TRUST_UNVERIFIED, "").strip().lower() in ("1", "true", "yes")


def _check_existing(spec: ModelSpec, mf: ModelFile, dest: Path, trust_unverified: bool) -> None:
    if mf.sha256 is None:
        if trust_unverified:
            return
        raise ModelError(
            f"model {spec.name} has no pinned sha256, so {dest} (sha256 {sha256_file(dest)}) "
            f"cannot be verified. To use it anyway pass trust_unverified=True or set "
            f"{ENV_TRUST_UNVERIFIED}=1; better, pin that hash in functions/models.py."
        )
    actual = sha256_file(dest)
    if actual != mf.sha256:
        raise ModelError(
            f"{dest} is corrupt or a different file: sha256 expected {mf.sha256}, got {actual}. "
            f"Delete it to download it again from {mf.url}, or point {ENV_MODELS_DIR} at a folder "
            f"holding the right {spec.name}/{mf.path}."
        )


def _download(spec: ModelSpec, mf: ModelFile, dest: Path, timeout: float) -> None:
    """Fetch ``mf.url`` into ``dest`` via a temp file in the same folder, verified, then renamed."""
    assert mf.url is not None and mf.sha256 is not None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Same folder, so the final os.replace is an atomic rename on one filesystem.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise ModelError(
            f"cannot write model {spec.name} into {dest.parent}: {e}. Set {ENV_MODELS_DIR} to a "
            f"writable folder, or one that already holds {spec.name}/{mf.path}."
        ) from e
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(mf.url, timeout=timeout) as resp,
            ):
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    h.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise ModelError(
                f"could not download model {spec.name} from {mf.url}: {reason}. Without internet, "
                f"copy the file to {dest} or set {ENV_MODELS_DIR} to a folder holding "
                f"{spec.name}/{mf.path}."
            ) from e
        actual = h.hexdigest()
        if actual != mf.sha256:
            raise ModelError(
                f"downloaded {mf.url} but its sha256 is {actual}, expected {mf.sha256}; "
                f"the file was discarded. The URL may be serving another file: check it, or put "
                f"the right file at {dest}."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_model(
    name: str, download: bool = True, trust_unverified: bool | None = None, timeout: float = 60.0
) -> Path:
    """Make sure every file of model ``name`` is present and verified; return the main file.

    Present files are checked against their pinned sha256. Missing files with a pinned
    hash are downloaded (when ``download``), verified, then atomically moved in place.
    Files with no pinned hash are never downloaded; a present one is accepted only with
    ``trust_unverified`` (default: env ``VSB_TRUST_UNVERIFIED_MODELS=1``).
    Raises ModelError with a message saying what to do.
    """
    spec = get_spec(name)
    if trust_unverified is None:
        trust_unverified = _trust_from_env()
    folder = models_dir() / spec.name
    for mf in spec.files:
        dest = folder / mf.path
        if dest.is_file():
            _check_existing(spec, mf, dest, trust_unverified)
            continue
        if mf.sha256 is None or mf.url is None:
            raise ModelError(
                f"model {spec.name} has no pinned sha256/URL, so it is never downloaded; put the "
                f"ONNX file at {dest} (i.e. ${ENV_MODELS_DIR}/{spec.name}/{mf.path}) and pass "
                f"trust_unverified=True or set {ENV_TRUST_UNVERIFIED}=1."
            )
        if not download:
            raise ModelError(
                f"model file {dest} is missing and downloading is off; download it from {mf.url} "
                f"or set {ENV_MODELS_DIR} to a folder holding {spec.name}/{mf.path}."
            )
        _download(spec, mf, dest, timeout)
    return folder / spec.files[0].path


def verify_all(
    include_optional: bool = False, download: bool = False
) -> dict[str, Path | ModelError]:
    """Check every registered model; map each name to its path or to the ModelError raised.

    Optional models (no pinned hash) are skipped unless ``include_optional``.
    Never raises for a single model, so a caller can report all problems at once.
    """
    results: dict[str, Path | ModelError] = {}
    for name, spec in REGISTRY.items():
        if spec.optional and not include_optional:
            continue
        try:
            results[name] = ensure_model(name, download=download)
        except ModelError as e:
            results[name] = e
    return results
