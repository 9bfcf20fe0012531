"""librosa: find speech segments (non-silent intervals) and write their timestamps.

``librosa.effects.split`` finds intervals louder than ``top_db`` below the peak; gaps shorter
than ``min_gap_s`` are merged (pauses inside a sentence), segments shorter than
``min_segment_s`` dropped (clicks). These are the segments' cores.

``edges: energy`` (default) then places each edge where the speech really starts and ends.
A threshold relative to the loudest frame cuts soft sentence endings (a voice trailing off,
a final "s", a quieter sentence than the loudest one): issue 11 saw clips end 0.25-0.35 s
early and lose their last word. So each core is grown outward, up to ``max_extend_s``, to
the first/last 20 ms frame still ``floor_margin_db`` above the recording's noise floor (its
10th-percentile frame level; never lower than ``floor_db`` below the loudest frame), and
then by a ``preroll_s`` before and a ``hangover_s`` after, for what is softer than that.
A segment never shrinks inside its core nor crosses the middle of the gap to the next core.

``edges: split`` keeps the cores' own edges, each padded by ``pad_s`` (the former behaviour,
kept to measure against).

Frame levels are computed a block of frames at a time (:func:`frame_rms`, :func:`split`: the
same figures and intervals as ``librosa.feature.rms`` and ``librosa.effects.split``), since
librosa squares every frame at once, a copy of the track as many times over as frames
overlap: 4 for split's 2048-sample frames every 512, which took a 10-minute track past the
function's 512 MB (measured: peak RSS 653 MB).
"""

from __future__ import annotations

import numpy as np

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadEnvelope, BadInput

# grow_edges' settings, each overridable by the stage config of the same name. preroll_s and
# hangover_s were tuned on the corpus preset "tuning" only (bench/correctness.py).
GROW_DEFAULTS = {"floor_margin_db": 6.0, "floor_db": 60.0, "max_extend_s": 0.6,
                 "preroll_s": 0.1, "hangover_s": 0.15}


# init() only imports librosa and loads numba's machine code (no thread, no socket): a fork
# server's template may run it once for all its replicas (functions/runtime/zygote.py).
FORK_SAFE_INIT = True


def init(config: dict) -> None:
    # Importing librosa and running split once loads numba's cached machine code
    # (NUMBA_CACHE_DIR, warmed at build time): part of this function's cold start.
    import librosa

    librosa.effects.split(np.zeros(4096, dtype=np.float32) + 1e-3, top_db=30)


FRAME_S = 0.02  # edge frames: 20 ms windows every 10 ms
HOP_S = 0.01
BLOCK_FRAMES = 4096  # frames squared at once (32 MB at 2048 samples a frame)


def frame_rms(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """``librosa.feature.rms(y=y, frame_length=..., hop_length=..., center=True)[0]``, a
    block of frames at a time (module doc)."""
    import librosa

    pad = frame_length // 2
    frames = librosa.util.frame(np.pad(y, (pad, pad), mode="constant"),
                                frame_length=frame_length, hop_length=hop_length)  # a view
    out = np.empty(frames.shape[-1], dtype=np.float32)
    for i in range(0, frames.shape[-1], BLOCK_FRAMES):
        block = frames[:, i:i + BLOCK_FRAMES]
        out[i:i + BLOCK_FRAMES] = np.sqrt(np.mean(np.square(block, dtype=np.float32), axis=0))
    return out


def split(y: np.ndarray, top_db: float, frame_length: int = 2048,
          hop_length: int = 512) -> np.ndarray:
    """``librosa.effects.split(y, top_db=top_db)`` on :func:`frame_rms`: the intervals
    (start, end samples) of frames louder than ``top_db`` below the loudest."""
    import librosa

    db = librosa.amplitude_to_db(frame_rms(y, frame_length, hop_length), ref=np.max,
                                 top_db=None)
    loud = db > -top_db
    edges = np.flatnonzero(np.diff(loud.astype(int))) + 1
    if loud[0]:
        edges = np.r_[0, edges]
    if loud[-1]:
        edges = np.r_[edges, len(loud)]
    edges = np.minimum(librosa.frames_to_samples(edges, hop_length=hop_length), y.shape[-1])
    return edges.reshape((-1, 2))


def _frame_db(y: np.ndarray, sr: int) -> np.ndarray:
    """Level of 20 ms frames every 10 ms (frame k centred on k * HOP_S), in dB."""
    rms = frame_rms(y, max(1, round(FRAME_S * sr)), max(1, round(HOP_S * sr)))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def grow_edges(
    cores: list[list[float]], y: np.ndarray, sr: int,
    floor_margin_db: float = GROW_DEFAULTS["floor_margin_db"],
    floor_db: float = GROW_DEFAULTS["floor_db"],
    max_extend_s: float = GROW_DEFAULTS["max_extend_s"],
    preroll_s: float = GROW_DEFAULTS["preroll_s"],
    hangover_s: float = GROW_DEFAULTS["hangover_s"],
) -> list[list[float]]:
    """Grow each core [start, end] (seconds) to the speech's own soft edges (module doc)."""
    db = _frame_db(y, sr)
    threshold = max(float(np.percentile(db, 10)) + floor_margin_db, float(db.max()) - floor_db)
    loud = np.flatnonzero(db > threshold) * HOP_S  # centres of frames above the threshold
    duration = len(y) / sr
    out = []
    for i, (s, e) in enumerate(cores):
        lo = max(s - max_extend_s, (cores[i - 1][1] + s) / 2 if i else 0.0)
        hi = min(e + max_extend_s, (e + cores[i + 1][0]) / 2 if i + 1 < len(cores) else duration)
        inside = loud[(loud >= lo) & (loud <= hi)]
        first = inside[0] - FRAME_S / 2 if inside.size else s
        last = inside[-1] + FRAME_S / 2 if inside.size else e
        # Never inside the core: a noisy recording's floor may sit above the core's edges.
        out.append([max(lo, min(s, first - preroll_s)), min(hi, max(e, last + hangover_s))])
    return out


def speech_segments(
    y: np.ndarray,
    sr: int,
    top_db: float = 30.0,
    min_gap_s: float = 0.5,
    min_segment_s: float = 0.3,
    pad_s: float = 0.1,
    edges: str = "energy",
    **grow: float,
) -> list[tuple[float, float]]:
    """Speech segments of a mono signal, in seconds, after merging and dropping.

    ``grow`` holds :func:`grow_edges`' settings (``edges="energy"`` only).
    """
    if edges not in ("energy", "split"):
        raise ValueError(f"edges must be 'energy' or 'split', got {edges!r}")
    duration = len(y) / sr
    if len(y) == 0 or not np.any(y):
        return []
    intervals = split(y, top_db)
    merged: list[list[float]] = []
    for start, end in intervals:
        s, e = start / sr, end / sr
        if merged and s - merged[-1][1] < min_gap_s:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    cores = [[s, e] for s, e in merged if e - s >= min_segment_s]
    if edges == "split":
        return [(round(max(0.0, s - pad_s), 3), round(min(duration, e + pad_s), 3))
                for s, e in cores]
    return [(round(s, 3), round(e, 3)) for s, e in grow_edges(cores, y, sr, **grow)]


def handle(ctx: InvocationContext) -> dict:
    import librosa

    wav = ctx.fetch(ctx.input("audio"), "audio.wav")
    try:
        y, sr = librosa.load(str(wav), sr=None, mono=True)
    except Exception as exc:
        raise BadInput(f"librosa cannot read the audio: {exc}") from exc
    edges = ctx.cfg("edges", "energy", str)
    if edges not in ("energy", "split"):
        raise BadEnvelope(f"config 'edges' must be 'energy' or 'split', got {edges!r}")
    grow = {k: float(ctx.cfg(k, GROW_DEFAULTS[k], (int, float))) for k in GROW_DEFAULTS}
    segments = speech_segments(
        y, int(sr),
        top_db=float(ctx.cfg("top_db", 30.0, float)),
        min_gap_s=float(ctx.cfg("min_gap_s", 0.5, float)),
        min_segment_s=float(ctx.cfg("min_segment_s", 0.3, float)),
        pad_s=float(ctx.cfg("pad_s", 0.1, float)),
        edges=edges, **(grow if edges == "energy" else {}),
    )
    data = [{"index": i, "start_s": s, "end_s": e} for i, (s, e) in enumerate(segments)]
    return {"segments": ctx.put_json(data, "segments.json"), "count": len(data),
            "audio_duration_s": round(len(y) / sr, 3)}
