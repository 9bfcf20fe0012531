"""The whole application through the orchestrator, a gateway and one replica per function."""

from __future__ import annotations

import pytest

from functions.search.matching import search
from vsbench.corpus import load_truth
from vsbench.wer import corpus_wer

pytestmark = pytest.mark.slow
TOL_S = 0.3


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.regimes import load_config, resolve_regime

    with EmbeddedPlatform(tmp_path_factory.mktemp("platform")) as p:
        p.deploy(resolve_regime(load_config(), "warm"))
        yield p


def _process(platform, path, query):
    from vsbench.process import run_orchestrator

    return run_orchestrator(platform.gateway_url, platform.store, path, query)


@pytest.fixture(scope="module")
def sample_result(platform, corpus_dir):
    return _process(platform, corpus_dir / "sample.mp4", "motorcycle")


def test_sample_clip_boundaries_match_truth(sample_result, corpus_dir):
    truth = load_truth(corpus_dir / "sample.mp4")
    assert sample_result["status"] == "ok"
    assert sample_result["video"] == {**sample_result["video"], "has_audio": True}
    assert sample_result["video"]["duration_s"] == pytest.approx(truth["duration_s"], abs=0.15)
    clips = sample_result["clips"]
    assert len(clips) == len(truth["scenes"])
    for clip, scene in zip(clips, truth["scenes"], strict=True):
        assert abs(clip["start_s"] - scene["speech"]["start_s"]) <= TOL_S, (clip, scene)
        assert abs(clip["end_s"] - scene["speech"]["end_s"]) <= TOL_S, (clip, scene)


def test_sample_expected_label_on_a_frame_of_each_scene(sample_result, corpus_dir):
    truth = load_truth(corpus_dir / "sample.mp4")
    for clip, scene in zip(sample_result["clips"], truth["scenes"], strict=True):
        assert clip["frames"], f"no frames for clip {clip['index']}"
        assert all(scene["start_s"] - 0.01 <= f["time_s"] < scene["end_s"]
                   for f in clip["frames"])
        for label in scene["labels"]:
            assert any(label in {d["label"] for d in f["detections"]} for f in clip["frames"]), \
                f"{label} not detected in clip {clip['index']} ({scene['name']})"


def test_sample_query_returns_the_scene_clip(sample_result, corpus_dir):
    truth = load_truth(corpus_dir / "sample.mp4")
    moto = next(s["index"] for s in truth["scenes"] if s["name"] == "motorcycle")
    assert sample_result["matches"][0]["clip"] == moto  # the request's own query
    # Every other scene's object, searched over the same request's clips.
    for scene in truth["scenes"]:
        for label in scene["labels"]:
            top = search(sample_result["clips"], label)[0]
            assert top.clip == scene["index"] or label == "person", (label, top)


def test_sample_transcript_wer(sample_result, corpus_dir):
    truth = load_truth(corpus_dir / "sample.mp4")
    pairs = [(s["speech"]["text"], c["transcript"])
             for s, c in zip(truth["scenes"], sample_result["clips"], strict=True)]
    result = corpus_wer(pairs)
    for ref, hyp in pairs:
        print(f"  ref: {ref}\n  hyp: {hyp}")
    print(f"corpus WER (pocketsphinx, bundled en-us): {result.wer:.3f}")
    assert result.wer <= 0.5


def test_sample_timings_cover_every_stage(sample_result):
    stages = sample_result["timings"]["stages"]
    n = len(sample_result["clips"])
    assert {s: stages[s]["calls"] for s in stages} == {
        "ffmpeg-0": 1, "librosa": 1, "ffmpeg-1": 1, "ffmpeg-2": n, "asr": n,
        "ffmpeg-3": n, "object-detector": n, "search": 1}
    assert sample_result["timings"]["e2e_ms"] > 0


def test_no_audio_video_is_one_clip_with_empty_transcript(platform, corpus_dir):
    truth = load_truth(corpus_dir / "silent.mp4")
    result = _process(platform, corpus_dir / "silent.mp4", "person")
    assert result["status"] == "ok" and result["video"]["has_audio"] is False
    (clip,) = result["clips"]
    assert clip["start_s"] == 0.0
    assert clip["end_s"] == pytest.approx(truth["duration_s"], abs=0.15)
    assert clip["transcript"] == ""
    labels = {d["label"] for f in clip["frames"] for d in f["detections"]}
    assert {lab for s in truth["scenes"] for lab in s["labels"]} <= labels
    assert result["matches"][0]["clip"] == 0
    assert "asr" not in result["timings"]["stages"]


def test_state_json_written_for_the_request(platform, sample_result):
    state = platform.store.get_json(
        platform.store.uri(f"requests/{sample_result['request_id']}/orchestrator/state.json"))
    assert state["status"] == "ok" and state["result"].endswith("result.json")
    assert {c["function"] for c in state["calls"]} >= {"ffmpeg-0", "asr", "search"}
