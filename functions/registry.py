"""The functions VideoSearcher is made of: name, handler module, default memory limit.

Names are the deployed (OpenFaaS) names; modules are importable Python paths. The memory
limit is the figure the cost model bills (and that providers enforce where they can).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    module: str
    memory_mb: int
    timeout_s: float
    description: str
    storage: bool = True  # needs the S3 client (built during the replica's init)
    models: tuple[str, ...] = ()  # functions.models entries baked into its build/image
    warm_module: str | None = None  # run once at build time (``python -m``) to fill caches


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("orchestrator", "functions.orchestrator.handler", 256, 900.0,
                     "drives the stages, fans out per clip, retries, aggregates"),
        FunctionSpec("ffmpeg-0", "functions.ffmpeg_0.handler", 256, 120.0,
                     "split a video into video-only + 16 kHz mono wav"),
        FunctionSpec("librosa", "functions.librosa_segments.handler", 512, 120.0,
                     "speech segments (librosa.effects.split) as timestamps",
                     warm_module="functions.librosa_segments.warm"),
        FunctionSpec("ffmpeg-1", "functions.ffmpeg_1.handler", 256, 120.0,
                     "cut one clip per speech segment"),
        FunctionSpec("ffmpeg-2", "functions.ffmpeg_2.handler", 256, 120.0,
                     "compress a clip (libx264) and extract 16 kHz mono wav"),
        FunctionSpec("asr", "functions.asr.handler", 512, 300.0,
                     "transcribe a clip (pocketsphinx by default)"),
        FunctionSpec("ffmpeg-3", "functions.ffmpeg_3.handler", 256, 120.0,
                     "sample frames from a clip"),
        FunctionSpec("object-detector", "functions.object_detector.handler", 512, 120.0,
                     "detect COCO objects on frames (onnxruntime, decode + NMS)",
                     models=("fastestdet",)),
        FunctionSpec("search", "functions.search.handler", 128, 60.0,
                     "rank clips matching a query by transcript words and labels"),
    )
}

# Deployable but not part of the application: controls for measuring the platform itself.
UTILITY_FUNCTIONS: dict[str, FunctionSpec] = {
    "noop": FunctionSpec("noop", "functions.noop.handler", 96, 60.0,
                         "answers at once (or after sleep_ms): the platform's own overhead",
                         storage=False),
}
ALL_FUNCTIONS = {**FUNCTIONS, **UTILITY_FUNCTIONS}


def get_spec(name: str) -> FunctionSpec:
    try:
        return ALL_FUNCTIONS[name]
    except KeyError:
        known = ", ".join(ALL_FUNCTIONS)
        raise KeyError(f"unknown function {name!r}; known functions: {known}") from None


def load_handler(name: str) -> ModuleType:
    """Import a function's handler module (the ``import`` part of a cold start)."""
    return importlib.import_module(get_spec(name).module)
