"""ASR engines: pocketsphinx on synthesized speech; vosk/deepspeech via fakes and errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import wave
from pathlib import Path

import numpy as np
import pytest

from functions.asr.engines import (
    DeepSpeechEngine,
    EngineUnavailable,
    Transcript,
    Word,
    create_engine,
    read_wav,
    words_from_deepspeech,
    words_from_pocketsphinx,
    words_from_vosk,
)
from vsbench.wer import wer

SENTENCES = [
    "the cat is sleeping on the red blanket",
    "please open the door and turn on the light",
    "we will go to the market tomorrow morning",
]

# Minimal eSpeak NG synthesis over ctypes, run in a child process so that libespeak-ng's
# process-wide state (one init, one callback) never meets other tests' use of it.
# Voice en-us+m6 at 160 wpm: pocketsphinx's en-us model recognizes it well among the
# bundled voices, and its output is identical run to run (variants with "breath", such as
# f2 or f5, add noise that differs per process, which made WER flaky).
_SYNTH = r"""
import ctypes, json, sys, wave
import numpy as np, espeakng_loader
texts, out_dir = json.loads(sys.argv[1]), sys.argv[2]
lib = ctypes.CDLL(espeakng_loader.get_library_path())
lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                             ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
AUDIO_OUTPUT_SYNCHRONOUS, POS_CHARACTER, CHARS_UTF8, RATE = 2, 1, 1, 1
rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                             espeakng_loader.get_data_path().encode(), 0)
assert rate > 0, rate
chunks = []
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                      ctypes.c_void_p)
def on_audio(wav, n, events):
    if n > 0 and wav:
        chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0
cb = CB(on_audio)
lib.espeak_SetSynthCallback(cb)
assert lib.espeak_SetVoiceByName(b"en-us+m6") == 0
lib.espeak_SetParameter(RATE, 160, 0)
for i, text in enumerate(texts):
    chunks.clear()
    t = text.encode()
    assert lib.espeak_Synth(t, len(t) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None) == 0
    pcm = np.concatenate(chunks).astype("<i2")
    with wave.open(f"{out_dir}/{i}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(pcm.tobytes())
"""


def _write_wav(path: Path, pcm: np.ndarray, rate: int, channels: int = 1, width: int = 2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    assert rate == 22050  # eSpeak NG's rate; 22050 * 320 / 441 = 16000
    y = resample_poly(pcm.astype(np.float32), 320, 441)
    pad = np.zeros(4800, np.float32)  # 0.3 s of silence around the speech, like real clips
    y = np.concatenate([pad, y, pad])
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> list[np.ndarray]:
    """SENTENCES spoken by eSpeak NG, as 16 kHz int16 arrays."""
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("scipy")
    out = tmp_path_factory.mktemp("speech")
    subprocess.run([sys.executable, "-c", _SYNTH, json.dumps(SENTENCES), str(out)],
                   check=True, timeout=120)
    clips = []
    for i in range(len(SENTENCES)):
        pcm, rate = read_wav(out / f"{i}.wav")
        clips.append(_to_16k(pcm, rate))
    return clips


@pytest.fixture(scope="module")
def sphinx():
    pytest.importorskip("pocketsphinx")
    return create_engine("pocketsphinx", {})


# ---------------------------------------------------------------- read_wav


def test_read_wav_roundtrip(tmp_path):
    pcm = np.array([0, 1, -1, 32767, -32768], np.int16)
    _write_wav(tmp_path / "a.wav", pcm, 16000)
    got, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and got.dtype == np.int16
    np.testing.assert_array_equal(got, pcm)


def test_read_wav_rejects_stereo_and_8bit(tmp_path):
    _write_wav(tmp_path / "st.wav", np.zeros(8, np.int16), 16000, channels=2)
    with pytest.raises(ValueError, match="16-bit PCM mono.*2 channel"):
        read_wav(tmp_path / "st.wav")
    _write_wav(tmp_path / "u8.wav", np.zeros(8, np.uint8), 16000, width=1)
    with pytest.raises(ValueError, match="8-bit"):
        read_wav(tmp_path / "u8.wav")


def test_read_wav_rejects_non_wav_and_missing(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a riff file at all")
    with pytest.raises(ValueError, match="x.wav: not a 16-bit PCM wav.*ffmpeg"):
        read_wav(tmp_path / "x.wav")
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "missing.wav")


# ---------------------------------------------------------------- factory


def test_unknown_engine_lists_known_ones():
    with pytest.raises(ValueError, match="deepspeech, pocketsphinx, vosk"):
        create_engine("whisper", {})


def test_unknown_option_is_rejected():
    with pytest.raises(ValueError, match="unknown option.*hmm"):
        create_engine("pocketsphinx", {"hmm": "/x"})


def test_engine_unavailable_is_a_runtime_error():
    assert issubclass(EngineUnavailable, RuntimeError)


# ---------------------------------------------------------------- pocketsphinx


def test_pocketsphinx_transcribes_speech(sphinx, speech):
    for sentence, pcm in zip(SENTENCES, speech, strict=True):
        t = sphinx.transcribe(pcm, 16000)
        assert isinstance(t, Transcript) and t.engine == "pocketsphinx"
        assert wer(sentence, t.text).wer <= 0.5, (sentence, t.text)
        assert t.text == " ".join(w.word for w in t.words)
        duration = pcm.size / 16000
        starts = [w.start_s for w in t.words]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        for w in t.words:
            assert 0.0 <= w.start_s < w.end_s <= duration + 1e-6
            assert w.confidence is None or 0.0 <= w.confidence <= 1.0
            assert "(" not in w.word and not w.word.startswith(("<", "["))
        # speech sits after 0.3 s of padding, so the first word cannot start at 0
        assert t.words[0].start_s >= 0.2


def test_pocketsphinx_silence_and_empty(sphinx):
    assert sphinx.transcribe(np.zeros(0, np.int16), 16000).words == []
    for pcm in (np.zeros(32000, np.int16), np.zeros(100, np.int16)):
        t = sphinx.transcribe(pcm, 16000)
        assert (t.text, t.words) == ("", [])


def test_pocketsphinx_rejects_other_rates_and_formats(sphinx):
    with pytest.raises(ValueError, match="22050 Hz.*16000 Hz.*resample"):
        sphinx.transcribe(np.zeros(22050, np.int16), 22050)
    with pytest.raises(ValueError, match="int16"):
        sphinx.transcribe(np.zeros(16000, np.float32), 16000)
    with pytest.raises(ValueError, match="mono"):
        sphinx.transcribe(np.zeros((16000, 2), np.int16), 16000)


def test_pocketsphinx_missing_lm_file():
    with pytest.raises(ValueError, match="lm file.*does not exist"):
        create_engine("pocketsphinx", {"lm": "/nonexistent/domain.lm"})


def test_pocketsphinx_domain_lm_and_dict(tmp_path, speech):
    """A domain LM + dict (only the sentences' words) is used when given."""
    from pocketsphinx import Config

    vocab = sorted({w for s in SENTENCES for w in s.split()})
    cmudict = Path(Config()["dict"])  # the bundled dictionary
    prons = [ln for ln in cmudict.read_text().splitlines()
             if ln.split(" ", 1)[0].split("(")[0] in vocab]
    (tmp_path / "d.dict").write_text("\n".join(prons) + "\n")
    grams = ["-99.0 <s> 0", "-1.0 </s> 0"] + [f"-1.3 {w} 0" for w in vocab]
    arpa = ["\\data\\", f"ngram 1={len(grams)}", "", "\\1-grams:", *grams, "", "\\end\\"]
    (tmp_path / "d.lm").write_text("\n".join(arpa) + "\n")
    engine = create_engine("pocketsphinx",
                           {"lm": str(tmp_path / "d.lm"), "dict": str(tmp_path / "d.dict")})
    for pcm in speech:
        words = engine.transcribe(pcm, 16000).text.split()
        assert words and set(words) <= set(vocab)


def test_words_from_pocketsphinx_fakes():
    seg = types.SimpleNamespace
    segs = [seg(word="<s>", start_frame=0, end_frame=9, prob=1.0),
            seg(word="the(2)", start_frame=10, end_frame=29, prob=0.9),
            seg(word="<sil>", start_frame=30, end_frame=34, prob=1.0),
            seg(word="[NOISE]", start_frame=35, end_frame=39, prob=1.0),
            seg(word="cat", start_frame=40, end_frame=79, prob=1.2),
            seg(word="</s>", start_frame=80, end_frame=80, prob=1.0)]
    assert words_from_pocketsphinx(segs, frate=100) == [
        Word("the", 0.10, 0.30, 0.9), Word("cat", 0.40, 0.80, 1.0)]


# ---------------------------------------------------------------- vosk


def test_words_from_vosk_fakes():
    results = [
        json.dumps({"result": [{"conf": 0.9, "start": 0.3, "end": 0.5, "word": "hello"},
                               {"conf": 1.0, "start": 0.5, "end": 0.9, "word": "world"}],
                    "text": "hello world"}),
        {"text": ""},  # a pause: no words
        {"result": [{"start": 1.5, "end": 1.8, "word": "again"}], "text": "again"},
    ]
    assert words_from_vosk(results) == [Word("hello", 0.3, 0.5, 0.9),
                                        Word("world", 0.5, 0.9, 1.0),
                                        Word("again", 1.5, 1.8, None)]


def test_vosk_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "vosk", None)  # makes `import vosk` fail
    with pytest.raises(EngineUnavailable, match="'vosk'.*pip install vosk"):
        create_engine("vosk", {"model_path": "/models/vosk"})


def _fake_vosk(monkeypatch, fed: list[int]):
    class Rec:
        def __init__(self, model, rate):
            self.n = 0

        def SetWords(self, on):  # noqa: N802 - vosk's API names
            assert on

        def AcceptWaveform(self, data):  # noqa: N802
            fed.append(len(data))
            self.n += 1
            return self.n == 2  # an utterance ends after the second chunk

        def Result(self):  # noqa: N802
            return json.dumps({"result": [{"conf": 1, "start": 0.1, "end": 0.4,
                                           "word": "one"}], "text": "one"})

        def FinalResult(self):  # noqa: N802
            return json.dumps({"result": [{"conf": 0.5, "start": 1.2, "end": 1.5,
                                           "word": "two"}], "text": "two"})

    mod = types.SimpleNamespace(SetLogLevel=lambda level: None, Model=lambda path: path,
                                KaldiRecognizer=Rec)
    monkeypatch.setitem(sys.modules, "vosk", mod)


def test_vosk_missing_model_path(monkeypatch, tmp_path):
    _fake_vosk(monkeypatch, [])
    monkeypatch.delenv("VSBENCH_VOSK_MODEL", raising=False)
    with pytest.raises(EngineUnavailable, match="no Vosk model.*model_path.*VSBENCH_VOSK_MODEL"):
        create_engine("vosk", {})
    with pytest.raises(EngineUnavailable, match="folder.*does not exist"):
        create_engine("vosk", {"model_path": str(tmp_path / "nope")})


def test_vosk_transcribe_with_fake_module(monkeypatch, tmp_path):
    fed: list[int] = []
    _fake_vosk(monkeypatch, fed)
    monkeypatch.setenv("VSBENCH_VOSK_MODEL", str(tmp_path))  # env works like the option
    engine = create_engine("vosk", {"chunk_s": 0.5})
    t = engine.transcribe(np.zeros(20000, np.int16), 16000)
    assert fed == [16000, 16000, 8000]  # 0.5 s chunks of int16 bytes
    assert t == Transcript("one two", [Word("one", 0.1, 0.4, 1.0), Word("two", 1.2, 1.5, 0.5)],
                           "vosk")


# ---------------------------------------------------------------- deepspeech


def _tokens(spec: str, step: float = 0.02):
    # one token per character, one model step apart
    return [types.SimpleNamespace(text=c, timestep=i, start_time=round(i * step, 3))
            for i, c in enumerate(spec)]


def test_words_from_deepspeech_fakes():
    words = words_from_deepspeech(_tokens("hi  there"), step_s=0.02, duration_s=0.17)
    assert words == [Word("hi", 0.0, 0.04, None), Word("there", 0.08, 0.17, None)]
    assert words_from_deepspeech([]) == []
    assert words_from_deepspeech(_tokens("   ")) == []


def test_deepspeech_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepspeech", None)
    with pytest.raises(EngineUnavailable, match="'deepspeech'.*pip install deepspeech"):
        create_engine("deepspeech", {"model_path": "/m.pbmm"})


def test_deepspeech_with_fake_module(monkeypatch, tmp_path):
    class Model:
        def __init__(self, path):
            self.scorer = None

        def enableExternalScorer(self, path):  # noqa: N802 - deepspeech's API names
            self.scorer = path

        def sampleRate(self):  # noqa: N802
            return 16000

        def sttWithMetadata(self, pcm, n):  # noqa: N802
            assert pcm.dtype == np.int16 and n == 1
            return types.SimpleNamespace(transcripts=[types.SimpleNamespace(
                confidence=-3.0, tokens=_tokens("a cat"))])

    monkeypatch.setitem(sys.modules, "deepspeech", types.SimpleNamespace(Model=Model))
    monkeypatch.delenv("VSBENCH_DEEPSPEECH_MODEL", raising=False)
    monkeypatch.delenv("VSBENCH_DEEPSPEECH_SCORER", raising=False)
    with pytest.raises(EngineUnavailable, match="no DeepSpeech model"):
        create_engine("deepspeech", {})
    model = tmp_path / "m.pbmm"
    model.write_bytes(b"")
    with pytest.raises(EngineUnavailable, match="scorer file.*does not exist"):
        create_engine("deepspeech", {"model_path": str(model), "scorer_path": "/no.scorer"})
    scorer = tmp_path / "s.scorer"
    scorer.write_bytes(b"")
    engine = create_engine("deepspeech", {"model_path": str(model), "scorer_path": str(scorer)})
    assert isinstance(engine, DeepSpeechEngine) and engine._model.scorer == str(scorer)
    t = engine.transcribe(np.zeros(16000, np.int16), 16000)
    assert t == Transcript("a cat", [Word("a", 0.0, 0.02, None),
                                     Word("cat", 0.04, 0.1, None)], "deepspeech")
    with pytest.raises(ValueError, match="8000 Hz"):
        engine.transcribe(np.zeros(8000, np.int16), 8000)
