"""What the simulator draws from: each function's service and cold-start times, as the
empirical distributions of measured run archives (no fitted curve, no figure typed in).

* **service**: a call's time on its replica, lease to end (``end_ts - lease_ts`` of the
  archive's ok invocations: the replica's work, its object-store traffic included; the
  gateway's queueing is what the simulator adds).
* **cold start**: a replica's spawn to ready (``ready_ts - spawn_ts`` of replicas that
  started and served; fork-server templates left out).
* **memory**: the function's memory limit in those runs (what the platform bills).
* **load**: with each sample, the machine's load when it began: how many other calls were
  running (lease to end, the orchestrator's left out: it waits on the others) and how many
  replicas were starting (spawn to ready) at that instant, in the same run.

A draw is a uniform pick among the samples (``random.Random.choice``). A draw *at a load*
(:meth:`Empirical.at_load`) picks among the samples taken at a similar load (the same
:func:`load_band`; the nearest band with samples when that one has none): the contention of
the machine the samples were measured on (two cores shared by every replica), carried over
to a simulated machine as loaded as the measured one was.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vsbench.archive import load_archive, serving_replicas
from vsbench.errors import VsbError

ORCHESTRATOR = "orchestrator"  # waits on the calls it makes: not load of its own


def load_band(load: int) -> int:
    """Loads grouped on a half-log scale: 0, 1, 2, 3, 4-5, 6-8, 9-12, 13-17, ..."""
    return round(2 * math.log2(load + 1))


@dataclass
class Empirical:
    samples: list[float]  # seconds
    loads: list[int] | None = None  # the machine's load at each sample (module doc)

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("an empirical distribution needs at least one sample")
        if self.loads is not None and len(self.loads) != len(self.samples):
            raise ValueError("one load per sample")
        self._bands: dict[int, list[float]] = {}
        for i, x in enumerate(self.samples):
            self._bands.setdefault(load_band(self.loads[i]) if self.loads else 0, []).append(x)
        self._keys = sorted(self._bands)

    def __call__(self, rng: random.Random) -> float:
        return rng.choice(self.samples)

    def at_load(self, rng: random.Random, load: int) -> float:
        """A draw among the samples taken at about this load (module doc)."""
        band = load_band(load)
        got = self._bands.get(band)
        if got is None:
            keys = self._keys
            i = bisect.bisect_left(keys, band)
            near = keys[max(0, i - 1):i + 1]
            got = self._bands[min(near, key=lambda k: (abs(k - band), k))]
        return rng.choice(got)

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


def _loads(inv: pd.DataFrame, reps: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The machine's load (module doc) when each call was leased and each replica spawned,
    the call or replica itself not counted."""
    calls = ((inv["function"] != ORCHESTRATOR) & inv["lease_ts"].notna()
             & inv["end_ts"].notna())
    starts = (reps["spawn_ts"].notna() & reps["ready_ts"].notna()) if len(reps) else None
    begins = [inv.loc[calls, "lease_ts"].to_numpy(float)]
    ends = [inv.loc[calls, "end_ts"].to_numpy(float)]
    if starts is not None:
        begins.append(reps.loc[starts, "spawn_ts"].to_numpy(float))
        ends.append(reps.loc[starts, "ready_ts"].to_numpy(float))
    begins, ends = np.sort(np.concatenate(begins)), np.sort(np.concatenate(ends))

    def at(ts: pd.Series, own: pd.Series) -> pd.Series:
        t = ts.fillna(0.0).to_numpy(float)
        n = np.searchsorted(begins, t, "right") - np.searchsorted(ends, t, "right")
        return pd.Series(np.maximum(n - own.to_numpy(int), 0), index=ts.index)

    return (at(inv["lease_ts"], calls),
            at(reps["spawn_ts"], starts) if starts is not None else pd.Series([], dtype=int))


def function_times(archives: Iterable[Path]) -> dict[str, FunctionTimes]:
    """Per function, the service and cold-start samples of every archive given, each with
    the machine's load it was taken at. A function without an ok call or without a replica
    that started is left out."""
    calls, starts, paths = [], [], []
    for path in archives:
        try:
            a = load_archive(Path(path))
        except (OSError, ValueError) as exc:
            raise VsbError(f"{path}: not a run archive ({exc}); give folders that hold "
                           f"invocations.parquet and replicas.jsonl") from None
        paths.append(str(path))
        inv, all_reps = a["invocations"], a["replicas"]
        call_load, start_load = _loads(inv, all_reps)
        inv = inv.assign(load=call_load)
        calls.append(inv[(inv["status"] == 200) & ~inv["warmup"].astype(bool)])
        reps = serving_replicas(all_reps.assign(load=start_load) if len(all_reps) else all_reps)
        if len(reps):
            starts.append(reps[reps["ready_ts"].notna() & (reps["served"].fillna(0) > 0)])
    if not paths:
        raise VsbError("no run archive given to draw service and cold-start times from")
    inv = pd.concat(calls) if calls else pd.DataFrame()
    rep = pd.concat(starts) if starts else pd.DataFrame()
    out = {}
    for fn, g in inv.groupby("function") if len(inv) else ():
        g = g.assign(s=g["end_ts"] - g["lease_ts"])
        g = g[g["s"] >= 0]  # NaN compares false: dropped too
        r = rep[rep["function"] == fn] if len(rep) else rep
        if len(r):
            r = r.assign(s=r["ready_ts"] - r["spawn_ts"])
            r = r[r["s"] >= 0]
        if len(g) and len(r):
            out[fn] = FunctionTimes(
                fn, Empirical(g["s"].tolist(), g["load"].astype(int).tolist()),
                Empirical(r["s"].tolist(), r["load"].astype(int).tolist()),
                int(g["memory_mb"].max()), paths)
    if not out:
        raise VsbError(f"no function with both an ok call and a started replica in "
                       f"{len(paths)} archive(s): nothing to draw from")
    return out
