"""librosa: find speech segments (non-silent intervals) and write their timestamps.

``librosa.effects.split`` finds intervals louder than ``top_db`` below the peak; gaps shorter
than ``min_gap_s`` are merged (pauses inside a sentence), segments shorter than
``min_segment_s`` dropped (clicks), and each kept segment padded by ``pad_s``.
"""

from __future__ import annotations

import numpy as np

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadInput


def init(config: dict) -> None:
    # Importing librosa and running split once loads numba's cached machine code
    # (NUMBA_CACHE_DIR, warmed at build time): part of this function's cold start.
    import librosa

    librosa.effects.split(np.zeros(4096, dtype=np.float32) + 1e-3, top_db=30)


def speech_segments(
    y: np.ndarray,
    sr: int,
    top_db: float = 30.0,
    min_gap_s: float = 0.5,
    min_segment_s: float = 0.3,
    pad_s: float = 0.1,
) -> list[tuple[float, float]]:
    """Speech segments of a mono signal, in seconds, after merging and dropping."""
    import librosa

    duration = len(y) / sr
    if len(y) == 0 or not np.any(y):
        return []
    intervals = librosa.effects.split(y, top_db=top_db)
    merged: list[list[float]] = []
    for start, end in intervals:
        s, e = start / sr, end / sr
        if merged and s - merged[-1][1] < min_gap_s:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    out = []
    for s, e in merged:
        if e - s < min_segment_s:
            continue
        out.append((round(max(0.0, s - pad_s), 3), round(min(duration, e + pad_s), 3)))
    return out


def handle(ctx: InvocationContext) -> dict:
    import librosa

    wav = ctx.fetch(ctx.input("audio"), "audio.wav")
    try:
        y, sr = librosa.load(str(wav), sr=None, mono=True)
    except Exception as exc:
        raise BadInput(f"librosa cannot read the audio: {exc}") from exc
    segments = speech_segments(
        y, int(sr),
        top_db=float(ctx.cfg("top_db", 30.0, float)),
        min_gap_s=float(ctx.cfg("min_gap_s", 0.5, float)),
        min_segment_s=float(ctx.cfg("min_segment_s", 0.3, float)),
        pad_s=float(ctx.cfg("pad_s", 0.1, float)),
    )
    data = [{"index": i, "start_s": s, "end_s": e} for i, (s, e) in enumerate(segments)]
    return {"segments": ctx.put_json(data, "segments.json"), "count": len(data),
            "audio_duration_s": round(len(y) / sr, 3)}
