"""vsbench.correctness on hand-built results and truth (no function runs)."""

from __future__ import annotations

import copy
import math

import pytest

from vsbench.correctness import (
    CLIP_COLUMNS,
    REQUEST_COLUMNS,
    load_result,
    match_clips,
    score_clips,
    score_request,
)

SCENES = [  # (name, scene span, speech span, sentence, labels)
    ("cat", (0.0, 4.0), (1.0, 3.0), "the little cat is looking at me", ["cat"]),
    ("cup", (4.0, 8.0), (5.0, 7.2), "there is a cup of coffee on the table", ["cup"]),
    ("rocket", (8.0, 11.0), (9.0, 10.5), "the rocket stands on the pad", []),
]


@pytest.fixture
def truth():
    scenes = []
    for i, (name, (a, b), (s, e), text, labels) in enumerate(SCENES):
        scenes.append({"index": i, "name": name, "start_s": a, "end_s": b, "labels": labels,
                       "speech": {"start_s": s, "end_s": e, "text": text}})
    return {"schema": "vsbench.corpus.truth/1", "duration_s": 11.0, "scenes": scenes}


@pytest.fixture
def perfect(truth):
    clips = []
    for i, sc in enumerate(truth["scenes"]):
        sp = sc["speech"]
        frames = [{"time_s": sp["start_s"] + 0.5,
                   "detections": [{"label": lab, "score": 0.9} for lab in sc["labels"]]}]
        clips.append({"index": i, "start_s": sp["start_s"], "end_s": sp["end_s"],
                      "transcript": sp["text"], "words": [], "frames": frames})
    return {"query": "cup", "clips": clips,
            "matches": [{"clip": 1, "score": 1.0, "why": ["transcript: cup"]}]}


def test_columns_are_the_keys(perfect, truth):
    assert list(score_request(perfect, truth)) == REQUEST_COLUMNS
    assert all(list(r) == CLIP_COLUMNS for r in score_clips(perfect, truth))


def test_perfect_result_scores_perfectly(perfect, truth):
    s = score_request(perfect, truth)
    assert s["scored"] == 1
    assert s["clips_expected"] == s["clips_found"] == s["clips_matched"] == 3
    assert s["clips_recall"] == s["clips_precision"] == 1.0
    assert s["start_err_mean_s"] == s["end_err_mean_s"] == s["boundary_max_abs_s"] == 0.0
    assert s["boundary_ok_fraction"] == s["end_covered_fraction"] == 1.0
    assert s["last_word_present_fraction"] == 1.0
    assert s["wer"] == s["wer_matched"] == 0.0
    assert s["ref_words"] == 7 + 9 + 6
    assert s["labels_recall"] == s["labels_precision"] == 1.0
    assert s["query_hit_ok"] == 1.0 and s["query_recall"] == 1.0


def test_truncated_clip_gives_negative_end_error(perfect, truth):
    perfect["clips"][0]["end_s"] = 2.7  # 0.3 s before the speech ends
    perfect["clips"][0]["transcript"] = "the little cat is looking at"
    s = score_request(perfect, truth)
    assert s["end_err_min_s"] == pytest.approx(-0.3)
    assert s["end_err_mean_s"] == pytest.approx(-0.1)
    assert s["boundary_max_abs_s"] == pytest.approx(0.3)
    assert s["boundary_ok_fraction"] == pytest.approx(2 / 3)
    assert s["end_covered_fraction"] == pytest.approx(2 / 3)
    assert s["last_word_present_fraction"] == pytest.approx(2 / 3)
    row = score_clips(perfect, truth)[0]
    assert row["end_err_s"] == pytest.approx(-0.3) and row["last_word_present"] is False


def test_late_start_is_positive_and_padding_is_not_a_cut(perfect, truth):
    perfect["clips"][1].update(start_s=5.15, end_s=7.35)  # starts late, ends with padding
    s = score_request(perfect, truth)
    assert s["start_err_max_s"] == pytest.approx(0.15)
    assert s["end_err_min_s"] == 0.0 and s["end_covered_fraction"] == 1.0
    assert s["boundary_ok_fraction"] == 1.0  # both within 0.2 s


def test_missing_clip_lowers_recall(perfect, truth):
    del perfect["clips"][2]
    s = score_request(perfect, truth)
    assert s["clips_matched"] == 2 and s["clips_recall"] == pytest.approx(2 / 3)
    assert s["clips_precision"] == 1.0
    assert s["wer"] == pytest.approx(6 / 22)  # the missing sentence's words are deletions
    assert s["wer_matched"] == 0.0
    row = score_clips(perfect, truth)[2]
    assert row["clip_index"] is None and math.isnan(row["end_err_s"]) and row["wer"] == 1.0


def test_one_merged_clip_matches_one_segment(perfect, truth):
    merged = copy.deepcopy(perfect["clips"][0])
    merged.update(start_s=0.9, end_s=7.3)  # two sentences in one clip: one match only
    perfect["clips"] = [merged]
    s = score_request(perfect, truth)
    assert s["clips_found"] == 1 and s["clips_matched"] == 1
    assert match_clips([(1.0, 3.0), (5.0, 7.2)], [(0.9, 7.3)]) == {1: 0}  # larger overlap


def test_wrong_transcript_raises_wer(perfect, truth):
    perfect["clips"][1]["transcript"] = "there is a cop of toffee on the cable"
    s = score_request(perfect, truth)
    assert s["wer"] == pytest.approx(3 / 22)
    assert score_clips(perfect, truth)[1]["wer"] == pytest.approx(3 / 9)
    assert s["last_word_present_fraction"] == pytest.approx(2 / 3)


def test_labels_precision_and_recall(perfect, truth):
    perfect["clips"][0]["frames"][0]["detections"].append({"label": "dog", "score": 0.4})
    perfect["clips"][1]["frames"][0]["detections"] = []
    s = score_request(perfect, truth)
    assert s["labels_recall"] == pytest.approx(1 / 2)
    assert s["labels_precision"] == pytest.approx(1 / 2)


def test_query_hit_wrong_and_no_terms(perfect, truth):
    perfect["matches"] = [{"clip": 0, "score": 1.0}, {"clip": 1, "score": 0.5}]
    s = score_request(perfect, truth)
    assert s["query_hit_ok"] == 0.0 and s["query_recall"] == 1.0
    perfect["matches"] = []
    assert score_request(perfect, truth)["query_hit_ok"] == 0.0
    assert math.isnan(score_request(perfect, truth, query="the")["query_hit_ok"])
    assert math.isnan(score_request(perfect, truth, query="giraffe")["query_hit_ok"])
    # synonyms and plurals as search applies them: "kitten" finds the cat scene
    perfect["matches"] = [{"clip": 0, "score": 1.0}]
    assert score_request(perfect, truth, query="kittens")["query_hit_ok"] == 1.0


@pytest.mark.parametrize("bad", [None, {}, "x", {"clips": "no"}, {"result": "s3://b/k"}])
def test_bad_or_missing_outputs_give_nan(truth, bad):
    s = score_request(bad, truth)
    assert s["scored"] == 0 and s["clips_expected"] == 3
    assert all(math.isnan(v) for k, v in s.items() if k not in ("scored", "clips_expected"))
    assert score_clips(bad, truth) == []


def test_malformed_clips_are_skipped_not_fatal(perfect, truth):
    perfect["clips"][0]["start_s"] = "soon"
    perfect["clips"][1]["frames"] = [{"time_s": None}, "junk"]
    perfect["clips"].append("not a clip")
    s = score_request(perfect, truth)
    assert s["clips_found"] == 2 and s["clips_matched"] == 2


def test_no_speech_in_truth_gives_nan_rates(perfect, truth):
    for sc in truth["scenes"]:
        sc["speech"] = None
    s = score_request(perfect, truth)
    assert s["clips_expected"] == 0 and s["scored"] == 1
    assert math.isnan(s["clips_recall"]) and math.isnan(s["wer"])


def test_load_result_fetches_or_gives_none():
    class Store:
        def get_json(self, uri):
            if uri != "s3://b/result.json":
                raise KeyError(uri)
            return {"clips": []}

    assert load_result({"result": "s3://b/result.json"}, Store()) == {"clips": []}
    assert load_result({"result": "s3://b/other"}, Store()) is None
    assert load_result(None, Store()) is None
