"""asr (the seed's "deepspeech" stage): transcribe a clip's 16 kHz mono wav.

Engines sit behind one interface (``engines.create_engine``): pocketsphinx with its bundled
en-us model by default; vosk and deepspeech when installed and given a model path. The
default engine is loaded once per replica in ``init()``.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadInput, Unavailable

_engines: dict[str, tuple[object, threading.Lock]] = {}
_lock = threading.Lock()
_defaults: dict = {"engine": "pocketsphinx", "options": {}}


def _get_engine(name: str, options: dict):
    from .engines import EngineUnavailable, create_engine

    key = name + repr(sorted(options.items()))
    with _lock:
        if key not in _engines:
            try:
                # Decoders are not thread-safe: concurrent requests on one replica take turns
                # (replicas, not threads, are the unit of scale).
                _engines[key] = (create_engine(name, options), threading.Lock())
            except (EngineUnavailable, ValueError) as exc:
                raise Unavailable(str(exc)) from exc
        return _engines[key]


# init() loads the pocketsphinx decoder (a C object; no thread, no socket): a fork server's
# template may run it once, each forked replica decoding on its own copy.
FORK_SAFE_INIT = True
FORK_PRELOAD = ("pocketsphinx",)


def init(config: dict) -> None:
    _defaults.update({k: v for k, v in config.items() if k in _defaults})
    _get_engine(_defaults["engine"], dict(_defaults["options"]))


def handle(ctx: InvocationContext) -> dict:
    from .engines import read_wav

    engine, engine_lock = _get_engine(ctx.cfg("engine", _defaults["engine"], str),
                         dict(ctx.cfg("options", _defaults["options"], dict)))
    wav = ctx.fetch(ctx.input("audio"), "audio.wav")
    try:
        pcm, rate = read_wav(wav)
    except (ValueError, OSError) as exc:
        raise BadInput(f"cannot read the clip's wav: {exc}") from exc
    try:
        with engine_lock:
            transcript = engine.transcribe(pcm, rate)
    except ValueError as exc:  # wrong rate or shape: the audio, not the engine, is at fault
        raise BadInput(f"cannot transcribe the clip's wav: {exc}") from exc
    offset = float(ctx.cfg("clip_start_s", 0.0, float))
    words = [
        {**asdict(w), "start_s": round(w.start_s + offset, 3), "end_s": round(w.end_s + offset, 3)}
        for w in transcript.words
    ]
    data = {"text": transcript.text, "words": words, "engine": transcript.engine}
    index = int(ctx.cfg("clip_index", 0, int))
    return {"transcript": ctx.put_json(data, f"clip-{index:03d}/transcript.json"),
            "text": transcript.text, "words": words}
