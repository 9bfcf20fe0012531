"""``vsbench setup``: provision what a function image would bake in, once, before any run.

Models are fetched from their pinned URLs and sha256-checked (or taken from
``VSB_MODELS_DIR``); numba's JIT cache for librosa is warmed, so a replica's cold start is
process start + imports + model load, not a 30 s compile. Nothing is fetched later.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from functions.registry import get_spec

from .errors import VsbError
from .paths import function_env, numba_cache_dir


@dataclass
class SetupStep:
    name: str
    seconds: float
    detail: str


def warm_numba_cache() -> SetupStep:
    t0 = time.perf_counter()
    numba_cache_dir().mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **function_env()}
    module = get_spec("librosa").warm_module
    proc = subprocess.run([sys.executable, "-m", module], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise VsbError(f"warming librosa's numba cache failed: {tail[0]}")
    return SetupStep("numba cache", time.perf_counter() - t0, str(numba_cache_dir()))


def provision_models() -> list[SetupStep]:
    from functions.models import ModelError, ensure_model

    steps = []
    for name in ("fastestdet",):
        t0 = time.perf_counter()
        try:
            path = ensure_model(name, download=True)
        except ModelError as exc:
            raise VsbError(str(exc)) from None
        steps.append(SetupStep(f"model {name}", time.perf_counter() - t0, str(path)))
    return steps


def check_tools() -> SetupStep:
    t0 = time.perf_counter()
    from functions.runtime.media import ffmpeg_exe

    missing = []
    try:
        ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg without a binary for this platform
        missing.append(f"ffmpeg (imageio-ffmpeg: {exc})")
    try:
        from .tts import synthesize

        synthesize("ready")
    except Exception as exc:
        missing.append(f"espeak-ng (espeakng-loader: {exc})")
    try:
        import pocketsphinx  # noqa: F401
    except Exception as exc:
        missing.append(f"pocketsphinx ({exc})")
    if missing:
        raise VsbError("missing tools: " + "; ".join(missing) + " — reinstall with "
                       "pip install -e '.[test]'")
    return SetupStep("tools", time.perf_counter() - t0, "ffmpeg, espeak-ng, pocketsphinx")


def run_setup() -> list[SetupStep]:
    steps = [check_tools(), *provision_models(), warm_numba_cache()]
    return steps
