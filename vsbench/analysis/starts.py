"""How each call and each request found its replicas: the start classes of RQ2.

An invocation's class is the gateway's (``invocations.start``, :data:`STARTS`): ``warm`` (a
ready replica served it, perhaps after queueing), ``scale_from_zero`` (it waited for a
replica to start while the function had no ready replica) or ``scale_out`` (it waited for a
new replica while every ready one was busy). Archives written before the gateway classed
starts give ``unclassified`` for their cold calls.

A request is ``scale_from_zero`` when any of its invocations was, else ``scale_out`` when any
was, else ``unclassified`` when any cold call was, else ``warm``.

The ``start_classes`` table has one row per platform × regime × workload × level: level
``request`` (over ok requests) and one level per function (over its invocations), with each
class's count and fraction and Wilson 95 % intervals (fractions of independent trials: runs
share cold starts, so read them beside the run-level latency intervals).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..platform.scaling import STARTS
from .stats import fraction_ci

__all__ = ["START_CLASS_COLUMNS", "CLASSES", "invocation_starts", "request_starts",
           "start_classes_table"]

UNCLASSIFIED = "unclassified"
CLASSES = (*STARTS, UNCLASSIFIED)
REQUEST_LEVEL = "request"
START_CLASS_COLUMNS = [
    "platform", "regime", "workload", "level", "n",
    *[f"{c}{suffix}" for c in CLASSES for suffix in ("", "_fraction", "_low", "_high")]]


def invocation_starts(inv: pd.DataFrame) -> pd.Series:
    """Each invocation's class (``unclassified`` for a cold call without one)."""
    cold = inv["cold"].astype(bool) if "cold" in inv else pd.Series(False, index=inv.index)
    start = inv["start"] if "start" in inv else pd.Series(None, index=inv.index, dtype=object)
    known = start.where(start.isin(STARTS))
    return known.fillna(cold.map({True: UNCLASSIFIED, False: "warm"})).astype(str)


def request_starts(req: pd.DataFrame, inv: pd.DataFrame) -> pd.Series:
    """Each request's class, from its invocations (index aligned with ``req``)."""
    if not len(inv):
        return pd.Series("warm", index=req.index, dtype=object)
    rank = {"scale_from_zero": 3, "scale_out": 2, UNCLASSIFIED: 1, "warm": 0}
    ranked = invocation_starts(inv).map(rank)
    worst = ranked.groupby(inv["request_id"]).max()
    names = {v: k for k, v in rank.items()}
    return req["request_id"].map(worst).fillna(0).astype(int).map(names)


def _row(key: tuple[str, str, str], level: str, classes: pd.Series) -> dict[str, Any]:
    platform, regime, workload = key
    row: dict[str, Any] = {"platform": platform, "regime": regime, "workload": workload,
                           "level": level, "n": len(classes)}
    counts = classes.value_counts()
    for c in CLASSES:
        k = int(counts.get(c, 0))
        p, lo, hi = fraction_ci(k, len(classes))
        row.update({c: k, f"{c}_fraction": p, f"{c}_low": lo, f"{c}_high": hi})
    return row


def start_classes_table(groups: dict, measured: dict, forder: dict[str, int]) -> pd.DataFrame:
    """``groups``: (platform, regime, workload) -> runs; ``measured``: id(run) -> (measured
    requests with their ``start`` class, measured invocations); ``forder``: function order."""
    rows = []
    for key, runs in groups.items():
        req = pd.concat([measured[id(r)][0] for r in runs], ignore_index=True)
        inv = pd.concat([measured[id(r)][1] for r in runs], ignore_index=True)
        ok = req[req["status"] == "ok"]
        rows.append(_row(key, REQUEST_LEVEL, ok["start"] if len(ok) else pd.Series([], dtype=str)))
        if not len(inv):
            continue
        inv = inv.assign(_class=invocation_starts(inv))
        for f in sorted(set(inv["function"].dropna()),
                        key=lambda f: (forder.get(f, len(forder)), f)):
            rows.append(_row(key, f, inv.loc[inv["function"] == f, "_class"]))
    return pd.DataFrame(rows, columns=START_CLASS_COLUMNS)
