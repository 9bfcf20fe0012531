"""Correctness of one VideoSearcher request, scored against the corpus ground truth.

Inputs
------
``result`` is the orchestrator's result document (``result.json``: ``clips[]`` with
``start_s``, ``end_s``, ``transcript``, ``frames[].detections[]``; ``matches[]``; ``query``).
A client holds only its URI: ``RequestRecord.outputs["result"]``; :func:`load_result` fetches
it. ``truth`` is a corpus ``<name>.truth.json`` (:func:`vsbench.corpus.load_truth`). Times are
seconds of the original video on both sides. Both functions are pure and never raise on a
missing or malformed result: what cannot be scored is NaN (``scored`` = 0).

Definitions
-----------
- *Expected segments*: the truth scenes that have ``speech`` (one narrated sentence each).
  ``clips_expected`` counts them, ``clips_found`` counts the result's clips.
- *Matching*: expected segment and clip pairs are ranked by their overlap in seconds and taken
  greedily, largest first, one clip per segment at most and only when the overlap is > 0.
  ``clips_matched`` counts the pairs; ``clips_recall`` = matched / expected,
  ``clips_precision`` = matched / found.
- *Boundary errors* (matched pairs only), signed, ``clip time - speech time``:
  ``start_err_s`` > 0 means the clip starts after the speech does (its start is cut),
  ``end_err_s`` < 0 means the clip ends before the speech does (its end is cut).
  Reported as ``start_err_mean_s``, ``end_err_mean_s``, ``start_err_max_s`` (worst start
  cut), ``end_err_min_s`` (worst end cut), ``boundary_max_abs_s`` (largest |error| at either
  end), and ``boundary_ok_fraction``: matched clips with both |errors| <= ``BOUNDARY_TOL_S``.
  The truth's speech boundaries are the first and last samples within 40 dB of the
  sentence's peak (see :mod:`vsbench.corpus`).
- ``end_covered_fraction``: matched clips with ``end_err_s >= 0`` (nothing of the speech
  after the clip's end), from timing alone.
- ``last_word_present_fraction``: matched clips whose transcript's last two words (after
  :func:`vsbench.wer.normalize`) contain the truth sentence's last word. It needs the ASR to
  hear the word, so it also falls when recognition fails; read it beside
  ``end_covered_fraction``.
- ``wer``: corpus WER (:func:`vsbench.wer.corpus_wer`) of every expected sentence against
  its matched clip's transcript; an unmatched sentence counts against an empty transcript
  (all deletions). Words of unmatched extra clips are not counted. ``wer_matched`` is the
  same over matched clips only (recognition quality apart from segmentation).
- Labels: a scene's *detected* labels are the labels of detections on frames whose
  ``time_s`` lies in the scene's ``[start_s, end_s)``; *expected* labels are the truth
  scene's ``labels``. Summed over scenes: ``labels_recall`` = |expected and detected| /
  |expected|, ``labels_precision`` = |expected and detected| / |detected| (NaN when the
  denominator is 0: no expected labels in the truth, or nothing detected).
- Query: the *relevant* scenes are those whose truth sentence words or labels contain a
  query term (search's stop words dropped; plural "s" and search's synonyms applied). A
  clip belongs to the scene holding its midpoint. ``query_hit_ok`` = 1 when the top-ranked
  match's clip belongs to a relevant scene, 0 when it does not or nothing matched, NaN when
  the query has no terms or no scene is relevant. ``query_recall`` = relevant scenes with a
  matched clip / relevant scenes.
"""

from __future__ import annotations

import math
from typing import Any

from .wer import corpus_wer, normalize, wer

__all__ = ["BOUNDARY_TOL_S", "REQUEST_COLUMNS", "CLIP_COLUMNS", "load_result",
           "score_request", "score_clips", "match_clips"]

BOUNDARY_TOL_S = 0.2  # issue 11's goal: both clip ends within 0.2 s of the speech
NAN = float("nan")

REQUEST_COLUMNS = [
    "scored", "clips_expected", "clips_found", "clips_matched", "clips_recall",
    "clips_precision", "start_err_mean_s", "end_err_mean_s", "start_err_max_s", "end_err_min_s",
    "boundary_max_abs_s", "boundary_ok_fraction", "end_covered_fraction",
    "last_word_present_fraction", "wer", "wer_matched", "ref_words", "labels_recall",
    "labels_precision", "query_hit_ok", "query_recall",
]
CLIP_COLUMNS = [
    "scene_index", "scene", "speech_start_s", "speech_end_s", "clip_index", "clip_start_s",
    "clip_end_s", "start_err_s", "end_err_s", "boundary_ok", "last_word", "last_word_present",
    "ref_text", "transcript", "wer", "ref_words",
]


def load_result(outputs: dict | None, store) -> dict | None:
    """The result document a request's ``outputs`` (``RequestRecord.outputs``) point at, or
    None when there is none or it cannot be read (``store``: a ClaimCheckStore)."""
    try:
        return store.get_json(outputs["result"])
    except Exception:  # noqa: BLE001 - a missing result is scored as NaN, not an error
        return None


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _clips(result: Any) -> list[dict] | None:
    """The result's well-formed clips (numeric start <= end), or None if it has no clip list."""
    if not isinstance(result, dict) or not isinstance(result.get("clips"), list):
        return None
    out = []
    for c in result["clips"]:
        if not isinstance(c, dict):
            continue
        s, e = _num(c.get("start_s")), _num(c.get("end_s"))
        if s is not None and e is not None and e >= s:
            out.append({**c, "start_s": s, "end_s": e})
    return out


def _speech(truth: dict) -> list[dict]:
    return [sc for sc in truth.get("scenes") or [] if sc.get("speech")]


def match_clips(speech: list[tuple[float, float]],
                clips: list[tuple[float, float]]) -> dict[int, int]:
    """{speech index: clip index}: greedy one-to-one matching by overlap, largest first."""
    pairs = []
    for i, (s0, s1) in enumerate(speech):
        for j, (c0, c1) in enumerate(clips):
            overlap = min(s1, c1) - max(s0, c0)
            if overlap > 0:
                pairs.append((-overlap, i, j))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def _last_word_present(ref: str, transcript: str) -> bool:
    ref_words, hyp_words = normalize(ref), normalize(transcript)
    return bool(ref_words) and ref_words[-1] in hyp_words[-2:]


def score_clips(result: Any, truth: dict) -> list[dict[str, Any]]:
    """One row (``CLIP_COLUMNS``) per expected speech segment of ``truth``.

    A segment without a matched clip has ``clip_index`` None and NaN errors; its ``wer`` is
    1.0 (every word deleted). A result without a clip list gives ``[]``.
    """
    clips = _clips(result)
    if clips is None:
        return []
    scenes = _speech(truth)
    spans = [(float(sc["speech"]["start_s"]), float(sc["speech"]["end_s"])) for sc in scenes]
    matched = match_clips(spans, [(c["start_s"], c["end_s"]) for c in clips])
    rows = []
    for i, sc in enumerate(scenes):
        ref = sc["speech"].get("text") or ""
        (s0, s1), clip = spans[i], clips[matched[i]] if i in matched else None
        transcript = str(clip.get("transcript") or "") if clip else ""
        start_err = clip["start_s"] - s0 if clip else NAN
        end_err = clip["end_s"] - s1 if clip else NAN
        words = normalize(ref)
        rows.append({
            "scene_index": sc.get("index", i), "scene": sc.get("name"),
            "speech_start_s": s0, "speech_end_s": s1,
            "clip_index": clip.get("index") if clip else None,
            "clip_start_s": clip["start_s"] if clip else NAN,
            "clip_end_s": clip["end_s"] if clip else NAN,
            "start_err_s": start_err, "end_err_s": end_err,
            "boundary_ok": (abs(start_err) <= BOUNDARY_TOL_S and abs(end_err) <= BOUNDARY_TOL_S)
            if clip else None,
            "last_word": words[-1] if words else None,
            "last_word_present": _last_word_present(ref, transcript) if clip else None,
            "ref_text": ref, "transcript": transcript,
            "wer": wer(ref, transcript).wer, "ref_words": len(words),
        })
    return rows


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else NAN


def _ratio(num: float, den: float) -> float:
    return num / den if den else NAN


def _labels(clips: list[dict], truth: dict) -> tuple[float, float]:
    scenes = truth.get("scenes") or []
    detected: list[set[str]] = [set() for _ in scenes]
    for clip in clips:
        for frame in clip.get("frames") or []:
            t = _num(frame.get("time_s")) if isinstance(frame, dict) else None
            if t is None:
                continue
            for k, sc in enumerate(scenes):
                if float(sc["start_s"]) <= t < float(sc["end_s"]):
                    detected[k] |= {str(d.get("label")) for d in frame.get("detections") or []
                                    if isinstance(d, dict) and d.get("label")}
    expected = [set(sc.get("labels") or []) for sc in scenes]
    hits = sum(len(e & d) for e, d in zip(expected, detected, strict=True))
    return (_ratio(hits, sum(len(e) for e in expected)),
            _ratio(hits, sum(len(d) for d in detected)))


def _query_forms(query: str) -> list[set[str]]:
    from functions.search.matching import SYNONYMS, terms

    out = []
    for term in dict.fromkeys(terms(query)):
        forms = {term}
        if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
            forms.add(term[:-1])
        for form in list(forms):
            forms |= SYNONYMS.get(form, set())
        out.append(forms)
    return out


def _query(result: dict, clips: list[dict], truth: dict, query: str | None) -> tuple[float, float]:
    forms = _query_forms(query if query is not None else str(result.get("query") or ""))
    scenes = truth.get("scenes") or []
    relevant = set()
    for k, sc in enumerate(scenes):
        words = set(normalize((sc.get("speech") or {}).get("text") or ""))
        words |= {w for lab in sc.get("labels") or [] for w in (lab, *lab.split())}
        if any(f & words for f in forms):
            relevant.add(k)
    if not forms or not relevant:
        return NAN, NAN

    def scene_of(clip_index: Any) -> int | None:
        for c in clips:
            if c.get("index") == clip_index:
                mid = (c["start_s"] + c["end_s"]) / 2
                for k, sc in enumerate(scenes):
                    if float(sc["start_s"]) <= mid < float(sc["end_s"]):
                        return k
        return None

    matches = [m for m in result.get("matches") or []
               if isinstance(m, dict) and (_num(m.get("score")) or 0) > 0]
    hit = 1.0 if matches and scene_of(matches[0].get("clip")) in relevant else 0.0
    found = {scene_of(m.get("clip")) for m in matches} & relevant
    return hit, len(found) / len(relevant)


def score_request(result: Any, truth: dict, query: str | None = None) -> dict[str, Any]:
    """Score one request's result document against ``truth``: a flat dict of REQUEST_COLUMNS.

    ``query`` defaults to the result's own ``query``. A missing or malformed result (None,
    no clip list) gives ``scored`` 0 and NaN everywhere but ``clips_expected``.
    """
    out: dict[str, Any] = {k: NAN for k in REQUEST_COLUMNS}
    out["clips_expected"] = len(_speech(truth))
    clips = _clips(result)
    if clips is None:
        out["scored"] = 0
        return out
    rows = score_clips(result, truth)
    matched = [r for r in rows if r["clip_index"] is not None]
    starts = [r["start_err_s"] for r in matched]
    ends = [r["end_err_s"] for r in matched]
    total = corpus_wer((r["ref_text"], r["transcript"]) for r in rows)
    labels_recall, labels_precision = _labels(clips, truth)
    query_hit, query_recall = _query(result, clips, truth, query)
    out.update({
        "scored": 1, "clips_found": len(clips), "clips_matched": len(matched),
        "clips_recall": _ratio(len(matched), len(rows)),
        "clips_precision": _ratio(len(matched), len(clips)),
        "start_err_mean_s": _mean(starts), "end_err_mean_s": _mean(ends),
        "start_err_max_s": max(starts, default=NAN), "end_err_min_s": min(ends, default=NAN),
        "boundary_max_abs_s": max((abs(x) for x in starts + ends), default=NAN),
        "boundary_ok_fraction": _mean([float(r["boundary_ok"]) for r in matched]),
        "end_covered_fraction": _mean([float(e >= 0) for e in ends]),
        "last_word_present_fraction": _mean([float(r["last_word_present"]) for r in matched]),
        "wer": total.wer if total.ref_words else NAN,
        "wer_matched": corpus_wer((r["ref_text"], r["transcript"]) for r in matched).wer
        if matched else NAN,
        "ref_words": total.ref_words,
        "labels_recall": labels_recall, "labels_precision": labels_precision,
        "query_hit_ok": query_hit, "query_recall": query_recall,
    })
    return out
