"""Tests for the synthetic corpus (vsbench.corpus), TTS wrapper and media probe."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from functions.runtime.mediainfo import decode_audio, ffmpeg_exe, probe
from vsbench import corpus, tts
from vsbench.corpus import build_corpus, generate_video, load_truth, preset_spec, write_bad_inputs


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """All presets of data/corpus.yaml, generated once (~3 s)."""
    out = tmp_path_factory.mktemp("corpus")
    return {p.stem: p for p in build_corpus(out)}


def _speech(truth: dict) -> list[dict]:
    return [s["speech"] for s in truth["scenes"] if s["speech"]]


# ---------------------------------------------------------------- tts

def test_tts_is_repeatable_in_one_process():
    a, sr = tts.synthesize("the cat is on the table")
    tts.synthesize("something else in between, to disturb any state")
    b, sr2 = tts.synthesize("the cat is on the table")
    assert sr == sr2 == tts.sample_rate() > 8000
    assert a.dtype == np.int16 and a.size > sr // 2
    assert np.array_equal(a, b)


def test_tts_missing_library_names_package(monkeypatch):
    import espeakng_loader

    monkeypatch.setattr(tts, "_engine", None)  # restored after the test
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: "/nonexistent/libespeak-ng.so")
    with pytest.raises(tts.TTSError, match="espeakng-loader"):
        tts.synthesize("hello")


# ---------------------------------------------------------------- config

def test_presets_cover_required_labels():
    sample = preset_spec("sample")
    labels = {lab for sc in sample.scenes for lab in sc.labels}
    assert {"person", "cat", "cup", "motorbike"} <= labels
    assert 4 <= len(sample.scenes) <= 6
    assert all(sc.text for sc in sample.scenes)
    assert len(preset_spec("short").scenes) == 2
    assert preset_spec("silent").audio is False
    with pytest.raises(KeyError):
        preset_spec("nope")


def test_correctness_parts_are_new_sentences_in_natural_delivery():
    spec = {n: preset_spec(n) for n in ("tuning", "heldout")}
    texts = {n: [sc.text for sc in s.scenes] for n, s in spec.items()}
    older = {sc.text for n in ("sample", "short", "noise") for sc in preset_spec(n).scenes}
    assert all(len(t) == len(set(t)) >= 6 for t in texts.values())
    assert not set(texts["tuning"]) & set(texts["heldout"])  # the parts share no sentence
    assert not (set(texts["tuning"]) | set(texts["heldout"])) & older
    assert all(s.level_spread_db > 0 and s.trail_off_db > 0 for s in spec.values())


def test_natural_delivery_softens_levels_and_endings_keeping_the_span():
    plain = preset_spec("short")
    natural = dataclasses.replace(plain, level_spread_db=10.0, trail_off_db=20.0,
                                  trail_off_s=0.5)
    text = plain.scenes[0].text
    a, b = corpus._speech(text, plain, 0), corpus._speech(text, natural, 0)
    assert len(a) == len(b)  # the truth's span: taken before the trail-off
    n = round(0.5 * plain.sample_rate)
    gain = b[: len(b) - n] / np.where(a[: len(a) - n] == 0, 1, a[: len(a) - n])
    level = np.median(gain[a[: len(a) - n] != 0])
    assert 10 ** (-10 / 20) <= level <= 1.0  # one level for the sentence, within the spread
    tail = slice(len(a) - 800, None)  # last 50 ms: ~20 dB down, plus the level
    drop_db = 20 * np.log10(np.abs(a[tail]).max() / np.abs(b[tail]).max())
    assert 18.0 <= drop_db + 20 * np.log10(level) <= 20.5
    assert np.array_equal(b, corpus._speech(text, natural, 0))  # seeded: repeatable
    levels = {round(float(np.abs(corpus._speech(text, natural, i)).max()), 6) for i in range(4)}
    assert len(levels) > 1  # each scene its own level


def test_spec_hash_ignores_natural_delivery_at_defaults():
    spec = preset_spec("short")
    old_style = {k: v for k, v in dataclasses.asdict(spec).items()
                 if k not in ("level_spread_db", "trail_off_db", "trail_off_s")}
    blob = json.dumps([corpus.GENERATOR_VERSION, old_style], sort_keys=True)
    assert spec.spec_hash() == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert dataclasses.replace(spec, trail_off_db=20.0).spec_hash() != spec.spec_hash()


def test_letterbox_keeps_aspect_with_black_bars():
    w, h = 640, 480
    frame = np.frombuffer(corpus._scene_frame("chelsea", None, w, h), np.uint8).reshape(h, w, 3)
    # chelsea is 451x300 -> 640x426: ~27 px black bars top and bottom, none at the sides.
    assert frame[:20].max() == 0 and frame[-20:].max() == 0
    assert frame[h // 2, :5].max() > 0 and frame[h // 2, -5:].max() > 0
    grey = np.frombuffer(corpus._scene_frame("camera", None, w, h), np.uint8).reshape(h, w, 3)
    assert np.array_equal(grey[..., 0], grey[..., 1])  # grey photo expanded to 3 channels


# ---------------------------------------------------------------- generated videos

@pytest.mark.parametrize("name", ["sample", "short", "noise"])
def test_video_matches_truth(built, name):
    truth = load_truth(built[name])
    info = probe(built[name])
    assert info.has_video and info.has_audio and truth["has_audio"]
    assert info.duration_s == pytest.approx(truth["duration_s"], abs=0.05)
    assert (info.width, info.height) == (truth["width"], truth["height"]) == (640, 480)
    assert info.fps == pytest.approx(truth["fps"])
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.sample_rate == truth["audio"]["sample_rate"]
    if name == "sample":
        assert 20.0 <= truth["duration_s"] <= 30.0


@pytest.mark.parametrize("name", ["sample", "short", "noise", "tuning", "heldout"])
def test_truth_segments_inside_scenes_and_ordered(built, name):
    truth = load_truth(built[name])
    scenes = truth["scenes"]
    assert scenes[0]["start_s"] == 0.0 and scenes[-1]["end_s"] == truth["duration_s"]
    for prev, cur in zip(scenes, scenes[1:], strict=False):
        assert prev["end_s"] == cur["start_s"]  # contiguous
    prev_end = 0.0
    for sc in scenes:
        sp = sc["speech"]
        assert sp and sp["text"]
        assert sc["start_s"] < sp["start_s"] < sp["end_s"] < sc["end_s"]
        assert sp["start_s"] - prev_end >= (0.5 if prev_end == 0.0 else 1.5)  # lead-in / gaps
        prev_end = sp["end_s"]


@pytest.mark.parametrize("name", ["sample", "short"])
def test_librosa_split_finds_truth_segments(built, name, tmp_path):
    import librosa
    import soundfile

    wav = tmp_path / "a.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(built[name]), "-vn",
                    "-ac", "1", "-ar", "16000", str(wav)], check=True)
    y, sr = soundfile.read(wav, dtype="float32")
    assert sr == 16000
    found = [[a / sr, b / sr] for a, b in librosa.effects.split(y, top_db=30)]
    merged: list[list[float]] = []  # join word-level splits within a sentence
    for a, b in found:
        if merged and a - merged[-1][1] < 0.5:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    truth = _speech(load_truth(built[name]))
    assert len(merged) == len(truth)
    for (a, b), sp in zip(merged, truth, strict=True):
        assert a == pytest.approx(sp["start_s"], abs=0.3)
        assert b == pytest.approx(sp["end_s"], abs=0.3)


def test_silent_preset_has_no_audio_stream(built):
    info = probe(built["silent"])
    truth = load_truth(built["silent"])
    assert info.has_video and not info.has_audio
    assert truth["has_audio"] is False and truth["audio"] is None
    assert all(sc["speech"] is None for sc in truth["scenes"]) and len(truth["scenes"]) == 2
    assert info.duration_s == pytest.approx(truth["duration_s"], abs=0.05)
    with pytest.raises(ValueError, match="no audio stream"):
        decode_audio(built["silent"])


def test_decoded_audio_has_speech_where_truth_says(built):
    y = decode_audio(built["short"])
    truth = load_truth(built["short"])
    assert len(y) / 16000 == pytest.approx(truth["duration_s"], abs=0.05)
    for sp in _speech(truth):
        a, b = int(sp["start_s"] * 16000), int(sp["end_s"] * 16000)
        gap = y[int((sp["end_s"] + 0.3) * 16000): int((sp["end_s"] + 0.7) * 16000)]
        assert np.sqrt(np.mean(y[a:b] ** 2)) > 10 * np.sqrt(np.mean(gap ** 2))


def test_generation_is_deterministic(built, tmp_path):
    spec = preset_spec("short")
    again = generate_video(spec, tmp_path / "again")
    assert load_truth(again) == load_truth(built["short"])
    assert again.read_bytes() == built["short"].read_bytes()


def test_reuse_skips_unchanged(built, tmp_path):
    spec = preset_spec("silent")
    first = generate_video(spec, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert generate_video(spec, tmp_path, reuse=True).stat().st_mtime_ns == stamp


# ---------------------------------------------------------------- bad inputs / probe

def test_bad_inputs(built, tmp_path):
    bad = write_bad_inputs(tmp_path, source=built["short"])
    assert {"empty", "text", "truncated", "truncated_nomoov", "audio_only"} <= set(bad)
    assert all(p.is_file() for p in bad.values())
    assert bad["empty"].stat().st_size == 0
    for name in ("empty", "text", "truncated_nomoov"):
        with pytest.raises(ValueError, match="not a readable media file"):
            probe(bad[name])
    size = built["short"].stat().st_size
    assert bad["truncated"].stat().st_size == pytest.approx(0.4 * size, abs=2)
    only = probe(bad["audio_only"])
    assert only.has_audio and not only.has_video and only.width is None


def test_probe_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "missing.mp4")
