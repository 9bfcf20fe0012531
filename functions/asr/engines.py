"""Speech-to-text engines behind one interface.

``create_engine(name, options)`` loads an engine's model once (a replica calls it in
``init()``); ``engine.transcribe(pcm16, sample_rate)`` then decodes a mono int16 clip into a
:class:`Transcript` with per-word timestamps in seconds from the clip's start.

Engines:

* ``pocketsphinx`` (default): pocketsphinx 5 with its bundled en-us model, works offline.
  Options: ``lm`` (language model path), ``dict`` (pronunciation dictionary path), to use
  a domain language model. Audio must be 16 kHz.
* ``vosk``: needs the ``vosk`` package and an unpacked Vosk model folder, given as
  ``options["model_path"]`` or ``$VSBENCH_VOSK_MODEL``.
* ``deepspeech``: needs the ``deepspeech`` package (wheels exist only for Python <= 3.9) and
  a ``.pbmm``/``.tflite`` model (``options["model_path"]`` or ``$VSBENCH_DEEPSPEECH_MODEL``),
  optionally a scorer (``options["scorer_path"]`` or ``$VSBENCH_DEEPSPEECH_SCORER``).

An engine whose package or model is missing raises :class:`EngineUnavailable` with a
one-line message saying what is missing and what to do.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "Word", "Transcript", "AsrEngine", "EngineUnavailable", "ENGINES", "create_engine",
    "read_wav", "PocketSphinxEngine", "VoskEngine", "DeepSpeechEngine",
    "words_from_pocketsphinx", "words_from_vosk", "words_from_deepspeech",
]


@dataclass
class Word:
    """One recognized word; times in seconds from the start of the clip."""

    word: str
    start_s: float
    end_s: float
    confidence: float | None  # engine-specific score in [0, 1]; None when it gives none


@dataclass
class Transcript:
    """Text of a clip (words joined by spaces), its timed words, and the engine's name."""

    text: str
    words: list[Word]
    engine: str


class AsrEngine(Protocol):
    """What every engine offers; ``create_engine`` returns one."""

    name: str

    def transcribe(self, pcm16: np.ndarray, sample_rate: int) -> Transcript:
        """Decode a mono int16 clip."""
        ...


class EngineUnavailable(RuntimeError):
    """The engine's package or model is not there; the message says what to do."""


# ---------------------------------------------------------------- audio input


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM mono wav into ``(int16 samples, sample_rate)``.

    Raises ``ValueError`` naming the file for anything else (stereo, 8/24/32-bit, float or
    compressed wav, not a wav at all), and ``OSError`` when the file cannot be opened.
    """
    fix = "convert it with: ffmpeg -i IN -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav"
    try:
        with wave.open(os.fspath(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        # wave.Error covers float/compressed formats ("unknown format: 3") and non-RIFF files
        raise ValueError(f"{path}: not a 16-bit PCM wav ({exc}); {fix}") from exc
    if channels != 1 or width != 2:
        raise ValueError(
            f"{path}: expected 16-bit PCM mono wav, got {channels} channel(s) of "
            f"{8 * width}-bit samples; {fix}"
        )
    return np.frombuffer(frames, dtype="<i2").astype(np.int16), rate


def _as_pcm16(pcm16: np.ndarray, engine: str) -> np.ndarray:
    """Check the input is mono int16 and return it as a contiguous 1-D array."""
    a = np.asarray(pcm16)
    if a.ndim == 2 and 1 in a.shape:  # (n, 1) or (1, n): one channel, just shaped oddly
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"asr engine {engine!r}: expected mono audio, got shape {a.shape}")
    if a.dtype != np.int16:
        raise ValueError(
            f"asr engine {engine!r}: expected int16 PCM samples, got dtype {a.dtype} "
            "(scale floats in [-1, 1] by 32767 and cast to int16)"
        )
    return np.ascontiguousarray(a)


def _check_options(engine: str, options: Mapping[str, Any], allowed: set[str]) -> None:
    # Unknown keys are almost always typos; failing loudly beats silently using defaults.
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"asr engine {engine!r}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(allowed)) or 'none'}"
        )


def _import_engine(engine: str, module: str, install_hint: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EngineUnavailable(
            f"asr engine {engine!r} unavailable: Python package {module!r} is not installed "
            f"({exc}); {install_hint}, or use engine 'pocketsphinx'"
        ) from exc


def _model_path(engine: str, options: Mapping[str, Any], key: str, env: str, what: str,
                *, want_dir: bool, required: bool = True) -> str | None:
    """Resolve a model path from ``options[key]`` or ``$env`` and check that it exists."""
    value = options.get(key) or os.environ.get(env)
    if not value:
        if not required:
            return None
        raise EngineUnavailable(
            f"asr engine {engine!r} unavailable: no {what} given; set options[{key!r}] or "
            f"${env} to its path, or use engine 'pocketsphinx'"
        )
    p = Path(value)
    if not (p.is_dir() if want_dir else p.is_file()):
        kind = "folder" if want_dir else "file"
        raise EngineUnavailable(
            f"asr engine {engine!r} unavailable: {what} {kind} {value!r} (from "
            f"{'options[' + repr(key) + ']' if options.get(key) else '$' + env}) does not "
            f"exist; point it at an existing {kind}, or use engine 'pocketsphinx'"
        )
    return str(p)


def _transcript(words: list[Word], engine: str) -> Transcript:
    return Transcript(" ".join(w.word for w in words), words, engine)


# ---------------------------------------------------------------- pocketsphinx

# Non-words in pocketsphinx's segmentation: <s>, </s>, <sil>, [NOISE], ++UH++, ...
_PS_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
# Alternate pronunciations are listed as "the(2)", "read(3)": same word.
_PS_ALT = re.compile(r"\(\d+\)$")


def words_from_pocketsphinx(segments: Iterable[Any], frate: int = 100) -> list[Word]:
    """Turn pocketsphinx ``Decoder.seg()`` segments into :class:`Word` s.

    Each segment needs ``word``, ``start_frame``, ``end_frame`` (inclusive) and ``prob``
    (posterior in [0, 1], used as confidence). Fillers are dropped and "(N)" alternate
    pronunciation suffixes stripped. ``frate`` is frames per second (100 = 10 ms frames).
    """
    words = []
    for seg in segments:
        if _PS_FILLER.match(seg.word):
            continue
        prob = getattr(seg, "prob", None)
        words.append(Word(
            word=_PS_ALT.sub("", seg.word),
            start_s=round(seg.start_frame / frate, 3),
            end_s=round((seg.end_frame + 1) / frate, 3),  # end_frame is inclusive
            confidence=None if prob is None else min(1.0, max(0.0, float(prob))),
        ))
    return words


class PocketSphinxEngine:
    """pocketsphinx 5 with the bundled en-us acoustic model (16 kHz audio only)."""

    name = "pocketsphinx"
    OPTIONS = {"lm", "dict"}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        _check_options(self.name, options, self.OPTIONS)
        from pocketsphinx import Decoder  # import here: only this engine needs it

        kwargs: dict[str, Any] = {
            "loglevel": "ERROR",
            # Dither (a half-bit of noise) keeps digitally silent stretches, common in
            # synthesized or edited audio, from producing -inf log energies that wreck
            # recognition; a fixed seed keeps results reproducible run to run.
            "dither": True,
            "seed": 1,
        }
        for key in ("lm", "dict"):
            if options.get(key):
                path = Path(options[key])
                if not path.is_file():
                    raise ValueError(f"asr engine 'pocketsphinx': {key} file {str(path)!r} "
                                     "does not exist")
                kwargs[key] = str(path)
        self._decoder = Decoder(**kwargs)
        self.sample_rate = int(self._decoder.config["samprate"])
        self.frate = int(self._decoder.config["frate"])

    def transcribe(self, pcm16: np.ndarray, sample_rate: int) -> Transcript:
        """Decode the whole clip as one utterance; silence or no audio gives no words."""
        pcm = _as_pcm16(pcm16, self.name)
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"asr engine 'pocketsphinx': audio is {sample_rate} Hz but the model needs "
                f"{self.sample_rate} Hz; resample the clip first (e.g. ffmpeg -ar "
                f"{self.sample_rate})"
            )
        if pcm.size == 0:
            return _transcript([], self.name)
        d = self._decoder
        d.start_utt()
        # full_utt: the clip is the whole utterance, so cepstral mean normalization uses
        # the clip's own statistics instead of a running estimate.
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        if d.hyp() is None:  # nothing recognized (e.g. clip shorter than a few frames)
            return _transcript([], self.name)
        return _transcript(words_from_pocketsphinx(d.seg(), self.frate), self.name)


# ---------------------------------------------------------------- vosk


def words_from_vosk(results: Iterable[str | Mapping[str, Any]]) -> list[Word]:
    """Collect the timed words of successive Vosk results (``Result()``/``FinalResult()``).

    Each result is the JSON text or its parsed dict; with ``SetWords(True)`` it holds
    ``{"result": [{"word", "start", "end", "conf"}, ...], "text": ...}``. Results without
    words (silence: ``{"text": ""}``) contribute nothing.
    """
    words = []
    for result in results:
        data = json.loads(result) if isinstance(result, str | bytes) else result
        for w in data.get("result", []):
            conf = w.get("conf")
            words.append(Word(w["word"], float(w["start"]), float(w["end"]),
                              None if conf is None else float(conf)))
    return words


class VoskEngine:
    """Vosk (Kaldi) with a model folder; any sample rate (Kaldi resamples internally)."""

    name = "vosk"
    OPTIONS = {"model_path", "chunk_s"}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        _check_options(self.name, options, self.OPTIONS)
        self._vosk = _import_engine(self.name, "vosk", "pip install vosk")
        path = _model_path(self.name, options, "model_path", "VSBENCH_VOSK_MODEL",
                           "Vosk model", want_dir=True)
        self._vosk.SetLogLevel(-1)
        self._model = self._vosk.Model(path)
        self.chunk_s = float(options.get("chunk_s", 0.5))

    def transcribe(self, pcm16: np.ndarray, sample_rate: int) -> Transcript:
        """Feed the clip in chunks to a fresh recognizer and collect every result's words."""
        pcm = _as_pcm16(pcm16, self.name)
        if pcm.size == 0:
            return _transcript([], self.name)
        rec = self._vosk.KaldiRecognizer(self._model, float(sample_rate))
        rec.SetWords(True)
        step = max(1, int(self.chunk_s * sample_rate))
        results = []
        for i in range(0, pcm.size, step):
            # True means Vosk closed an utterance at a pause; its words are in Result().
            if rec.AcceptWaveform(pcm[i:i + step].tobytes()):
                results.append(rec.Result())
        results.append(rec.FinalResult())
        return _transcript(words_from_vosk(results), self.name)


# ---------------------------------------------------------------- deepspeech


def words_from_deepspeech(tokens: Iterable[Any], step_s: float = 0.02,
                          duration_s: float | None = None) -> list[Word]:
    """Assemble words from DeepSpeech metadata tokens (one character each).

    Each token has ``text`` (a character; " " separates words) and ``start_time`` (seconds).
    A word starts at its first character and ends one model step (``step_s``, 20 ms for
    DeepSpeech 0.9) after its last, capped at ``duration_s`` when given. DeepSpeech has no
    per-word confidence, so ``confidence`` is None.
    """
    words: list[Word] = []
    chars: list[str] = []
    start = last = 0.0

    def flush() -> None:
        if chars:
            end = last + step_s
            if duration_s is not None:
                end = min(end, duration_s)
            words.append(Word("".join(chars), round(start, 3), round(max(end, start), 3), None))
            chars.clear()

    for tok in tokens:
        if tok.text.isspace() or tok.text == "":
            flush()
            continue
        if not chars:
            start = float(tok.start_time)
        chars.append(tok.text)
        last = float(tok.start_time)
    flush()
    return words


class DeepSpeechEngine:
    """Mozilla DeepSpeech 0.9 with a model file and an optional external scorer."""

    name = "deepspeech"
    OPTIONS = {"model_path", "scorer_path"}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        _check_options(self.name, options, self.OPTIONS)
        ds = _import_engine(self.name, "deepspeech",
                            "pip install deepspeech (wheels exist only for Python <= 3.9)")
        model = _model_path(self.name, options, "model_path", "VSBENCH_DEEPSPEECH_MODEL",
                            "DeepSpeech model (.pbmm/.tflite)", want_dir=False)
        scorer = _model_path(self.name, options, "scorer_path", "VSBENCH_DEEPSPEECH_SCORER",
                             "DeepSpeech scorer", want_dir=False, required=False)
        self._model = ds.Model(model)
        if scorer:
            self._model.enableExternalScorer(scorer)
        self.sample_rate = int(self._model.sampleRate())

    def transcribe(self, pcm16: np.ndarray, sample_rate: int) -> Transcript:
        """Decode the clip with ``sttWithMetadata`` and time words from character tokens."""
        pcm = _as_pcm16(pcm16, self.name)
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"asr engine 'deepspeech': audio is {sample_rate} Hz but the model needs "
                f"{self.sample_rate} Hz; resample the clip first"
            )
        if pcm.size == 0:
            return _transcript([], self.name)
        meta = self._model.sttWithMetadata(pcm, 1)
        if not meta.transcripts:
            return _transcript([], self.name)
        words = words_from_deepspeech(meta.transcripts[0].tokens,
                                      duration_s=pcm.size / sample_rate)
        return _transcript(words, self.name)


# ---------------------------------------------------------------- factory

ENGINES: dict[str, type] = {
    PocketSphinxEngine.name: PocketSphinxEngine,
    VoskEngine.name: VoskEngine,
    DeepSpeechEngine.name: DeepSpeechEngine,
}


def create_engine(name: str, options: Mapping[str, Any] | None = None) -> AsrEngine:
    """Load engine ``name`` with ``options`` (model loaded here, once).

    Raises ``ValueError`` for an unknown engine name or option, and
    :class:`EngineUnavailable` when the engine's package or model is missing.
    """
    cls = ENGINES.get(str(name).strip().lower())
    if cls is None:
        raise ValueError(f"unknown asr engine {name!r}; known engines: "
                         f"{', '.join(sorted(ENGINES))}")
    return cls(options or {})
