"""Scoring a run's outputs while its object store is still up (``correctness.parquet``).

Every ok measured request's result document is fetched from the store and scored against the
corpus truth of the video it processed (:func:`vsbench.correctness.score_request`), and given
an **output digest**: a hash of what the application answered (each clip's bounds to 10 ms,
its transcript and its detected labels, and the ranked matches). The same video and query
give the same digest under every regime when the functions are deterministic, so a run whose
digests differ from the other runs' is flagged by the analysis
(:mod:`vsbench.analysis.correctness_table`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from .correctness import REQUEST_COLUMNS, load_result, score_request

__all__ = ["CORRECTNESS_COLUMNS", "output_digest", "score_run"]

CORRECTNESS_COLUMNS = ["request_id", "output_digest", *REQUEST_COLUMNS]


def output_digest(result: Any) -> str | None:
    """A short hash of the answer (None when there is no result document)."""
    if not isinstance(result, dict):
        return None
    clips = []
    for c in result.get("clips") or []:
        if not isinstance(c, dict):
            continue
        labels = sorted({d.get("label") for f in c.get("frames") or [] if isinstance(f, dict)
                         for d in f.get("detections") or [] if isinstance(d, dict)} - {None})
        bounds = [round(float(c[k]), 2) if isinstance(c.get(k), int | float) else None
                  for k in ("start_s", "end_s")]
        clips.append([*bounds, c.get("transcript"), labels])
    matches = [m.get("clip") if isinstance(m, dict) else m for m in result.get("matches") or []]
    text = json.dumps({"clips": clips, "matches": matches}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def score_run(records: list, store, truth: dict, query: str | None) -> pd.DataFrame:
    """One row per ok measured request (``CORRECTNESS_COLUMNS``); ``records``: the run's
    RequestRecords, ``store``: a ClaimCheckStore on the run's object store."""
    rows: list[dict[str, Any]] = []
    for rec in records:
        if rec.warmup or rec.status != "ok":
            continue
        result = load_result(rec.outputs, store)
        rows.append({"request_id": rec.request_id, "output_digest": output_digest(result),
                     **score_request(result, truth, query)})
    return pd.DataFrame(rows, columns=CORRECTNESS_COLUMNS)
