"""What the simulator draws from: each function's service and cold-start times, as the
empirical distributions of measured run archives (no fitted curve, no figure typed in).

* **service**: a call's time on its replica, lease to end (``end_ts - lease_ts`` of the
  archive's ok invocations: the replica's work, its object-store traffic included; the
  gateway's queueing is what the simulator adds).
* **cold start**: a replica's spawn to ready (``ready_ts - spawn_ts`` of replicas that
  started and served; fork-server templates left out).
* **memory**: the function's memory limit in those runs (what the platform bills).

A draw is a uniform pick among the samples (``random.Random.choice``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vsbench.archive import load_archive, serving_replicas
from vsbench.errors import VsbError


@dataclass
class Empirical:
    samples: list[float]  # seconds

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("an empirical distribution needs at least one sample")

    def __call__(self, rng: random.Random) -> float:
        return rng.choice(self.samples)

    def median(self) -> float:
        s = sorted(self.samples)
        return s[len(s) // 2]


@dataclass
class FunctionTimes:
    function: str
    service: Empirical
    cold_start: Empirical
    memory_mb: int
    sources: list[str] = field(default_factory=list)


def function_times(archives: Iterable[Path]) -> dict[str, FunctionTimes]:
    """Per function, the service and cold-start samples of every archive given. A function
    without an ok call or without a replica that started is left out."""
    calls, starts, paths = [], [], []
    for path in archives:
        try:
            a = load_archive(Path(path))
        except (OSError, ValueError) as exc:
            raise VsbError(f"{path}: not a run archive ({exc}); give folders that hold "
                           f"invocations.parquet and replicas.jsonl") from None
        paths.append(str(path))
        inv = a["invocations"]
        calls.append(inv[(inv["status"] == 200) & ~inv["warmup"].astype(bool)])
        reps = serving_replicas(a["replicas"])
        if len(reps):
            starts.append(reps[reps["ready_ts"].notna() & (reps["served"].fillna(0) > 0)])
    if not paths:
        raise VsbError("no run archive given to draw service and cold-start times from")
    inv = pd.concat(calls) if calls else pd.DataFrame()
    rep = pd.concat(starts) if starts else pd.DataFrame()
    out = {}
    for fn, g in inv.groupby("function") if len(inv) else ():
        service = (g["end_ts"] - g["lease_ts"]).dropna()
        r = rep[rep["function"] == fn] if len(rep) else rep
        cold = (r["ready_ts"] - r["spawn_ts"]).dropna() if len(r) else pd.Series([], dtype=float)
        service, cold = service[service >= 0], cold[cold >= 0]
        if len(service) and len(cold):
            out[fn] = FunctionTimes(fn, Empirical(service.tolist()), Empirical(cold.tolist()),
                                    int(g["memory_mb"].max()), paths)
    if not out:
        raise VsbError(f"no function with both an ok call and a started replica in "
                       f"{len(paths)} archive(s): nothing to draw from")
    return out
