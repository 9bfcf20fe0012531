"""Each stage on real media from the synthetic corpus, called in-process as its replica would."""

from __future__ import annotations

import tarfile

import pytest

from functions.runtime.errors import BadInput
from functions.runtime.mediainfo import probe
from vsbench.corpus import load_truth, write_bad_inputs

TOL_S = 0.3


@pytest.fixture(scope="module")
def sample(corpus_dir, store):
    path = corpus_dir / "sample.mp4"
    return {"path": path, "uri": store.put_file(path, "uploads/t/sample.mp4"),
            "truth": load_truth(path)}


@pytest.fixture(scope="module")
def split(sample, store, tmp_path_factory):
    """ffmpeg-0's outputs for the sample video (shared by the later stages' tests)."""
    from functions.ffmpeg_0 import handler
    from functions.runtime.context import InvocationContext
    from functions.runtime.envelope import Envelope
    from functions.runtime.telemetry import InvocationMeter

    ctx = InvocationContext(Envelope("stage-test", "ffmpeg-0", {"video": sample["uri"]}, {}),
                            "ffmpeg-0", store, tmp_path_factory.mktemp("w"), InvocationMeter())
    return handler.handle(ctx)


def test_ffmpeg0_splits_video_and_16k_wav(split, sample, store, tmp_path):
    assert split["info"]["has_audio"] is True
    assert split["info"]["duration_s"] == pytest.approx(sample["truth"]["duration_s"], abs=0.15)
    wav = store.get_file(split["audio"], tmp_path / "a.wav")
    info = probe(wav)
    assert info.has_audio and not info.has_video and info.sample_rate == 16000
    video = probe(store.get_file(split["video"], tmp_path / "v.mp4"))
    assert video.has_video and not video.has_audio


def test_ffmpeg0_no_audio_track_is_not_an_error(run_stage, corpus_dir, store):
    uri = store.put_file(corpus_dir / "silent.mp4", "uploads/t/silent.mp4")
    out, _ = run_stage("ffmpeg-0", {"video": uri})
    assert out["info"]["has_audio"] is False and out["audio"] is None


@pytest.mark.parametrize("bad", ["text", "truncated", "audio_only"])
def test_ffmpeg0_bad_input(run_stage, store, tmp_path, bad):
    path = write_bad_inputs(tmp_path)[bad]
    uri = store.put_file(path, f"uploads/t/{path.name}")
    with pytest.raises(BadInput, match=path.name):
        run_stage("ffmpeg-0", {"video": uri})


def test_librosa_segments_match_truth(run_stage, split, sample, store):
    out, _ = run_stage("librosa", {"audio": split["audio"]})
    segments = store.get_json(out["segments"])
    truth = [s["speech"] for s in sample["truth"]["scenes"]]
    assert len(segments) == len(truth)
    for seg, ref in zip(segments, truth, strict=True):
        assert abs(seg["start_s"] - ref["start_s"]) <= TOL_S
        assert abs(seg["end_s"] - ref["end_s"]) <= TOL_S


def test_librosa_top_db_is_configurable(run_stage, split):
    loose, _ = run_stage("librosa", {"audio": split["audio"]},
                         {"top_db": 30, "min_gap_s": 60.0})
    assert loose["count"] == 1  # merging every gap leaves one segment


@pytest.mark.parametrize("mode", ["accurate", "keyframe"])
def test_ffmpeg1_cuts_one_clip_per_segment(run_stage, sample, store, tmp_path, mode):
    segs = [{"start_s": 1.0, "end_s": 3.5}, {"start_s": 5.6, "end_s": 7.9}]
    out, _ = run_stage("ffmpeg-1", {"video": sample["uri"], "segments": segs}, {"cut": mode})
    assert [c["index"] for c in out["clips"]] == [0, 1]
    for clip, seg in zip(out["clips"], segs, strict=True):
        info = probe(store.get_file(clip["uri"], tmp_path / f"{mode}-{clip['index']}.mp4"))
        want = seg["end_s"] - seg["start_s"]
        # keyframe copy starts at the keyframe before: longer, never shorter
        assert info.has_video and info.has_audio
        assert info.duration_s == pytest.approx(want, abs=0.15 if mode == "accurate" else 10)


@pytest.fixture(scope="module")
def clip(sample, store, tmp_path_factory):
    """The sample's cat scene as one accurate clip (via ffmpeg-1)."""
    from functions.ffmpeg_1 import handler
    from functions.runtime.context import InvocationContext
    from functions.runtime.envelope import Envelope
    from functions.runtime.telemetry import InvocationMeter

    scene = sample["truth"]["scenes"][1]
    seg = {"start_s": scene["speech"]["start_s"] - 0.1, "end_s": scene["speech"]["end_s"] + 0.1}
    env = Envelope("stage-test", "ffmpeg-1", {"video": sample["uri"], "segments": [seg]}, {})
    ctx = InvocationContext(env, "ffmpeg-1", store, tmp_path_factory.mktemp("c"),
                            InvocationMeter())
    return {**handler.handle(ctx)["clips"][0], "scene": scene}


def test_ffmpeg2_compresses_and_extracts_wav(run_stage, clip, store, tmp_path):
    out, ctx = run_stage("ffmpeg-2", {"clip": clip["uri"]}, {"clip_index": 0, "crf": 30})
    comp = probe(store.get_file(out["compressed"], tmp_path / "c.mp4"))
    assert comp.video_codec == "h264" and comp.has_audio
    wav = probe(store.get_file(out["audio"], tmp_path / "a.wav"))
    assert wav.sample_rate == 16000 and not wav.has_video
    assert ctx.meter.child_cpu_ms > 0  # ffmpeg's own CPU was measured


def test_asr_transcribes_the_clip(run_stage, clip, store):
    from vsbench.wer import wer

    comp, _ = run_stage("ffmpeg-2", {"clip": clip["uri"]}, {"clip_index": 0})
    out, _ = run_stage("asr", {"audio": comp["audio"]},
                       {"clip_index": 0, "clip_start_s": clip["start_s"]})
    result = wer(clip["scene"]["speech"]["text"], out["text"])
    print(f"asr: ref={clip['scene']['speech']['text']!r} hyp={out['text']!r} wer={result.wer:.2f}")
    assert out["text"] and result.wer <= 0.75
    times = [w["start_s"] for w in out["words"]]
    assert times == sorted(times)
    assert clip["start_s"] <= times[0] <= clip["end_s"]  # in seconds of the original video


def test_ffmpeg3_samples_frames_in_video_time(run_stage, clip, store, tmp_path):
    out, _ = run_stage("ffmpeg-3", {"clip": clip["uri"]},
                       {"clip_index": 0, "clip_start_s": clip["start_s"], "fps": 2.0})
    times = [f["time_s"] for f in out["index"]]
    duration = clip["end_s"] - clip["start_s"]
    assert len(times) == pytest.approx(duration * 2, abs=1.5)
    assert times[0] == pytest.approx(clip["start_s"], abs=0.01)
    assert all(clip["start_s"] - 0.01 <= t <= clip["end_s"] + 0.5 for t in times)
    with tarfile.open(store.get_file(out["frames"], tmp_path / "f.tar")) as tar:
        assert sorted(tar.getnames()) == sorted(f["file"] for f in out["index"])


def test_ffmpeg3_at_least_one_frame_for_a_tiny_clip(run_stage, sample):
    tiny, _ = run_stage("ffmpeg-1", {"video": sample["uri"],
                                     "segments": [{"start_s": 6.0, "end_s": 6.25}]})
    out, _ = run_stage("ffmpeg-3", {"clip": tiny["clips"][0]["uri"]},
                       {"clip_start_s": 6.0, "fps": 0.5})
    assert len(out["index"]) >= 1


def test_object_detector_finds_the_scene_object(run_stage, clip):
    frames, _ = run_stage("ffmpeg-3", {"clip": clip["uri"]},
                          {"clip_start_s": clip["start_s"]})
    out, _ = run_stage("object-detector", {"frames": frames["frames"], "index": frames["index"]})
    labels = {d["label"] for f in out["frames"] for d in f["detections"]}
    assert set(clip["scene"]["labels"]) <= labels  # the cat
    det = out["frames"][0]["detections"][0]
    assert len(det["box"]) == 4 and 0 < det["score"] <= 1


def test_object_detector_refuses_escaping_archive(run_stage, store, tmp_path):
    import io

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../../etc/evil.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    uri = store.put_file(evil, "uploads/t/evil.tar")
    with pytest.raises(BadInput, match="escapes"):
        run_stage("object-detector", {"frames": uri,
                                      "index": [{"file": "x.jpg", "time_s": 0.0}]})


# ---------------------------------------------------------------- segment edges (no media)

def _tone_with_soft_tail(tail_db: float = -35.0, sr: int = 16000):
    """1 s tone at 1.0-2.0 s, then 0.3 s of it `tail_db` softer (2.0-2.3 s), over a
    -55 dBFS noise floor: a sentence whose last sounds are soft."""
    import numpy as np

    t = np.arange(3 * sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 220 * t)
    y = np.random.default_rng(0).standard_normal(t.size) * 10 ** (-55 / 20)
    y += np.where((t >= 1.0) & (t < 2.0), tone, 0.0)
    y += np.where((t >= 2.0) & (t < 2.3), tone * 10 ** (tail_db / 20), 0.0)
    return y.astype(np.float32), sr


def test_energy_edges_keep_a_soft_ending_that_split_edges_cut():
    from functions.librosa_segments.handler import GROW_DEFAULTS, speech_segments

    y, sr = _tone_with_soft_tail()
    (old_start, old_end), = speech_segments(y, sr, edges="split")
    (start, end), = speech_segments(y, sr)  # energy edges: the default
    assert old_end < 2.3 - 0.1  # the former edges cut the soft ending (issue 11)
    assert 2.3 <= end <= 2.3 + GROW_DEFAULTS["hangover_s"] + 0.03
    assert 1.0 - GROW_DEFAULTS["preroll_s"] - 0.03 <= start <= 1.0


def test_energy_edges_stay_tight_on_an_abrupt_ending():
    from functions.librosa_segments.handler import GROW_DEFAULTS, speech_segments

    y, sr = _tone_with_soft_tail(tail_db=-120.0)  # nothing after 2.0 s but the noise
    (_, end), = speech_segments(y, sr)
    assert 2.0 <= end <= 2.0 + GROW_DEFAULTS["hangover_s"] + 0.03


def test_grown_segments_never_cross_the_gap_middle():
    import numpy as np

    from functions.librosa_segments.handler import speech_segments

    sr = 16000
    t = np.arange(4 * sr) / sr
    y = 0.5 * np.sin(2 * np.pi * 220 * t) * (((t > 0.5) & (t < 1.5)) | ((t > 2.1) & (t < 3.0)))
    segs = speech_segments(y.astype(np.float32), sr, min_gap_s=0.3, hangover_s=0.5,
                           preroll_s=0.5)
    assert len(segs) == 2 and segs[0][1] <= segs[1][0]  # they may touch, never overlap
    assert 1.5 < segs[0][1] < 2.1


def test_segments_of_silence_and_bad_edges():
    import numpy as np

    from functions.librosa_segments.handler import speech_segments

    assert speech_segments(np.zeros(16000, np.float32), 16000) == []
    with pytest.raises(ValueError, match="edges"):
        speech_segments(np.ones(16000, np.float32), 16000, edges="bogus")


def test_librosa_refuses_unknown_edges(run_stage, split):
    from functions.runtime.errors import BadEnvelope

    with pytest.raises(BadEnvelope, match="edges"):
        run_stage("librosa", {"audio": split["audio"]}, {"edges": "bogus"})


@pytest.mark.parametrize("uri, words", [
    ("s3://elsewhere/uploads/t/sample.mp4", "stages read only from their platform's bucket"),
    ("s3://vsbench/uploads/t/../../requests/x/secret", "'..' segment"),
    ("s3://vsbench/uploads//t/sample.mp4", "empty, '.' or '..' segment"),
    ("s3://vsbench/requests/someone-else/ffmpeg-0/audio.wav", "belongs to another request"),
    ("s3://vsbench/private/keys.txt", "outside this request's objects"),
])
def test_input_keys_that_leave_the_requests_prefix_are_refused(run_stage, sample, uri, words):
    with pytest.raises(BadInput) as err:
        run_stage("ffmpeg-0", {"video": uri})
    assert words in str(err.value) and err.value.status == 422
    with pytest.raises(BadInput):  # the same rule for every stage that reads an input
        run_stage("search", {"clips": uri})


def test_input_limits_refuse_before_work(run_stage, sample):
    with pytest.raises(BadInput, match=r"more than the limit of 0.001 MB \(config max_input_mb"):
        run_stage("ffmpeg-0", {"video": sample["uri"]}, {"max_input_mb": 0.001})
    with pytest.raises(BadInput, match=r"more than the limit of 2 s \(config max_duration_s\)"):
        run_stage("ffmpeg-0", {"video": sample["uri"]}, {"max_duration_s": 2})


def test_odd_object_names_are_processed(run_stage, sample, store):
    odd = store.put_file(sample["path"], "uploads/t/my vidéo (1); $(rm -rf x) 'n'.MP4")
    out, _ = run_stage("ffmpeg-0", {"video": odd})
    assert out["info"]["has_audio"] is True and out["video"].startswith("s3://vsbench/requests/")
