"""Minimal text-to-speech over libespeak-ng via ctypes.

The `espeakng-loader` PyPI package ships only the shared library and its data
directory (no `espeak-ng` CLI), so we drive the C API directly:

    espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
    espeak_SetSynthCallback(cb)      # cb collects int16 chunks
    espeak_SetVoiceByName(voice); espeak_SetParameter(espeakRATE, wpm, 0)
    espeak_Synth(text, ...); espeak_Synchronize()

libespeak-ng keeps global state and is not thread-safe, so the library is
initialised once per process and every synthesis holds a module lock.

Reproducibility: espeak-ng's pitch-flutter index and voice-roughness cycle
counter are C statics that are never reset, so the same sentence synthesized
twice in one process comes out slightly different (other length and samples).
We therefore run from an overlay of the data directory that adds a voice
variant with `flutter 0` and `roughness 8` (= off); with it, output depends
only on (text, voice, rate, pitch). See `STEADY_VARIANT`.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["TTSError", "synthesize", "sample_rate", "DEFAULT_VOICE", "DEFAULT_RATE_WPM"]

DEFAULT_VOICE = "en-us"
DEFAULT_RATE_WPM = 145
# Variant added to the overlay data dir (voices/!v/<name>): no flutter, no roughness.
STEADY_VARIANT = "vsbench_steady"
_STEADY_VARIANT_TEXT = "language variant\nname vsbench_steady\nflutter 0\nroughness 8\n"

# Constants from espeak-ng/speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4

# int callback(short *wav, int numsamples, espeak_EVENT *events); return 0 = continue.
_SYNTH_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class TTSError(RuntimeError):
    """Raised when libespeak-ng cannot be loaded or synthesis fails."""


@dataclass
class _Engine:
    lib: ctypes.CDLL
    sample_rate: int
    data_path: str    # the espeak-ng-data dir actually used (overlay if possible)
    callback: object  # keep the ctypes callback alive for the process lifetime
    chunks: list[np.ndarray]


_lock = threading.Lock()
_engine: _Engine | None = None


def _make_overlay(data_path: str) -> str:
    """Build a temp dir mirroring `data_path` via symlinks, plus our steady variant.

    Only voices/ and voices/!v/ are real directories; everything else links to
    the installed package data, so this costs a few hundred symlinks, no copies.
    """
    root = tempfile.mkdtemp(prefix="vsbench-espeak-")
    atexit.register(shutil.rmtree, root, True)
    overlay = os.path.join(root, "espeak-ng-data")
    os.mkdir(overlay)
    for name in os.listdir(data_path):
        if name != "voices":
            os.symlink(os.path.join(data_path, name), os.path.join(overlay, name))
    src_voices = os.path.join(data_path, "voices")
    voices = os.path.join(overlay, "voices")
    os.mkdir(voices)
    if os.path.isdir(src_voices):
        for name in os.listdir(src_voices):
            if name != "!v":
                os.symlink(os.path.join(src_voices, name), os.path.join(voices, name))
    variants = os.path.join(voices, "!v")
    os.mkdir(variants)
    src_variants = os.path.join(src_voices, "!v")
    if os.path.isdir(src_variants):
        for name in os.listdir(src_variants):
            os.symlink(os.path.join(src_variants, name), os.path.join(variants, name))
    with open(os.path.join(variants, STEADY_VARIANT), "w", encoding="ascii") as fh:
        fh.write(_STEADY_VARIANT_TEXT)
    return overlay


def _load() -> _Engine:
    """Load and initialise libespeak-ng once (caller holds _lock)."""
    global _engine
    if _engine is not None:
        return _engine
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise TTSError(
            "speech synthesis needs the 'espeakng-loader' package (pip install espeakng-loader)"
        ) from exc
    try:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_path = espeakng_loader.get_data_path()
    except (OSError, RuntimeError) as exc:
        raise TTSError(
            f"could not load libespeak-ng from the 'espeakng-loader' package: {exc}"
        ) from exc

    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CB]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int

    # Passing the data dir explicitly: the library's compiled-in default path
    # points at the wheel builder's filesystem.
    try:
        data_path = _make_overlay(data_path)
    except OSError:  # e.g. no symlink support: still works, just not reproducible
        pass
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
    if rate <= 0:
        raise TTSError(f"espeak_Initialize failed (returned {rate}); data path {data_path}")

    chunks: list[np.ndarray] = []

    def _on_audio(wav, numsamples, _events):  # called synchronously inside espeak_Synth
        if wav and numsamples > 0:
            pcm = np.ctypeslib.as_array(wav, shape=(numsamples,))
            chunks.append(pcm.astype(np.int16, copy=True))
        return 0

    cb = _SYNTH_CB(_on_audio)
    lib.espeak_SetSynthCallback(cb)
    _engine = _Engine(lib=lib, sample_rate=rate, data_path=data_path, callback=cb, chunks=chunks)
    return _engine


def sample_rate() -> int:
    """Return the native output sample rate of espeak-ng (22050 Hz in practice)."""
    with _lock:
        return _load().sample_rate


def synthesize(
    text: str,
    voice: str = DEFAULT_VOICE,
    rate_wpm: int = DEFAULT_RATE_WPM,
    pitch: int | None = None,
    steady: bool = True,
) -> tuple[np.ndarray, int]:
    """Synthesize `text` and return (mono int16 samples, sample_rate).

    With `steady` (default) and a voice without its own "+variant", the
    flutter-free variant is used so the result is reproducible for a given
    (text, voice, rate_wpm, pitch) and library build, whatever was synthesized
    before in this process. Falls back to "en" if `voice` is unknown.
    """
    if not text.strip():
        raise ValueError("synthesize() needs non-empty text")
    with _lock:
        eng = _load()
        lib = eng.lib
        names = [voice, "en"]
        if steady and "+" not in voice:
            names = [f"{voice}+{STEADY_VARIANT}", voice, f"en+{STEADY_VARIANT}", "en"]
        if not any(lib.espeak_SetVoiceByName(n.encode()) == _EE_OK for n in names):
            raise TTSError(f"espeak-ng voice {voice!r} (and fallback 'en') not available")
        # Set every parameter each call: they are global and sticky across calls.
        lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
        lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
        lib.espeak_SetParameter(_PARAM_PITCH, 50 if pitch is None else int(pitch), 0)
        lib.espeak_SetParameter(_PARAM_RANGE, 50, 0)
        eng.chunks.clear()
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        err = lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != _EE_OK:
            raise TTSError(f"espeak_Synth failed with error {err}")
        lib.espeak_Synchronize()
        samples = np.concatenate(eng.chunks) if eng.chunks else np.zeros(0, np.int16)
        eng.chunks.clear()
        return samples, eng.sample_rate
