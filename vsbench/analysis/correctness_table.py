"""The ``correctness`` table: how right the application's answers were, per platform × regime ×
workload, from each run's ``correctness.parquet`` (:mod:`vsbench.run_correctness`).

Means over scored requests (a request's own figures are defined in :mod:`vsbench.correctness`):
clip recall, the share of clips with both ends within 0.2 s, the signed start and end errors
(mean, and the worst end cut), the last word present, WER, label recall and the query hit.

**Differs.** Within one platform and video, every run should give the same answer whatever
the regime. The reference digest is the one most requests of the platform gave; a group whose
requests gave any other digest is flagged (``differs``) with the number of such requests.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["CORRECTNESS_TABLE_COLUMNS", "correctness_table"]

MEANS = ["clips_recall", "boundary_ok_fraction", "start_err_mean_s", "end_err_mean_s",
         "last_word_present_fraction", "wer", "wer_matched", "labels_recall", "query_hit_ok"]
CORRECTNESS_TABLE_COLUMNS = [
    "platform", "regime", "workload", "reps", "ok_requests", "scored", *MEANS,
    "end_err_min_s", "digests", "differing_requests", "differs"]


def _mean(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(s.mean()) if len(s) else math.nan


def correctness_table(groups: dict) -> pd.DataFrame:
    """``groups``: (platform, regime, workload) -> runs (their archive's ``correctness``)."""
    frames = {}
    for key, runs in groups.items():
        parts = [r.archive.get("correctness") for r in runs]
        parts = [p for p in parts if isinstance(p, pd.DataFrame) and len(p)]
        frames[key] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    reference: dict[str, str] = {}
    for platform in {k[0] for k in frames}:
        digests = pd.concat([f["output_digest"] for k, f in frames.items()
                             if k[0] == platform and len(f)] or [pd.Series([], dtype=object)])
        digests = digests.dropna()
        if len(digests):
            reference[platform] = digests.value_counts().index[0]
    rows = []
    for (platform, regime, workload), f in frames.items():
        runs = groups[(platform, regime, workload)]
        ok = sum(int(((req["status"] == "ok") & ~req["warmup"].astype(bool)).sum())
                 for req in (r.archive["requests"] for r in runs))
        scored = f[pd.to_numeric(f["scored"], errors="coerce") == 1] if len(f) else f
        ref = reference.get(platform)
        other = int((f["output_digest"] != ref).sum()) if len(f) and ref else 0
        rows.append({
            "platform": platform, "regime": regime, "workload": workload, "reps": len(runs),
            "ok_requests": ok, "scored": len(scored),
            **{m: _mean(scored[m]) if len(scored) else math.nan for m in MEANS},
            "end_err_min_s": float(pd.to_numeric(scored["end_err_min_s"]).min())
            if len(scored) else math.nan,
            "digests": int(f["output_digest"].nunique()) if len(f) else 0,
            "differing_requests": other, "differs": other > 0,
        })
    return pd.DataFrame(rows, columns=CORRECTNESS_TABLE_COLUMNS)
