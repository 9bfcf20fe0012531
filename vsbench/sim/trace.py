"""Invocation traces in the Azure Functions 2019 layout, read from the published files or
made by a generator that follows the published statistics.

The layout (``invocations_per_function_md.anon.d01.csv`` … ``d14``, Shahrad et al.,
"Serverless in the Wild", ATC'20): one row per function and day, columns ``HashOwner,
HashApp, HashFunction, Trigger`` then ``1`` … ``1440``, the function's invocations in each
minute of the day. Several day files in order make a trace of several days; a function
missing from a day had no call that day.

The files count calls per minute, not their times: the calls of a minute are spread over it
at uniform random times (seeded), as any replay of this trace must do.

The generator writes the same layout. Its parameters follow the paper's Figure 5 and
Table 2: the average rate of a function (calls per minute over the trace) is log-normal,
with 45 % of functions called at most once an hour and 81 % at most once a minute; 15.6 %
are timers (called periodically, the paper's share of timer triggers), the rest arrive as a
Poisson process.
"""

from __future__ import annotations

import csv
import math
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsbench.errors import VsbError

MINUTES_PER_DAY = 1440
KEY_COLUMNS = ["HashOwner", "HashApp", "HashFunction", "Trigger"]

# the published statistics the generator follows (ATC'20, Figure 5 and Table 2)
SHARE_AT_MOST_HOURLY = 0.45  # of functions, average rate <= 1 call per hour
SHARE_AT_MOST_PER_MINUTE = 0.81  # <= 1 call per minute
SHARE_TIMER = 0.156
MAX_RATE_PER_MIN = 1000.0


def _lognormal_params() -> tuple[float, float]:
    """(mu, sigma) of log10(calls per minute) meeting both published shares."""
    from statistics import NormalDist

    z_hour = NormalDist().inv_cdf(SHARE_AT_MOST_HOURLY)
    z_min = NormalDist().inv_cdf(SHARE_AT_MOST_PER_MINUTE)
    lo, hi = math.log10(1 / 60), 0.0
    sigma = (hi - lo) / (z_min - z_hour)
    return hi - z_min * sigma, sigma


@dataclass
class TraceFunction:
    key: str  # HashOwner/HashApp/HashFunction
    trigger: str
    counts: np.ndarray  # calls per minute over the whole trace

    def arrivals(self, seed: int) -> list[float]:
        """Call times in seconds from the trace's start, each minute's spread uniformly."""
        rng = np.random.default_rng(zlib.crc32(f"{seed}/{self.key}".encode()))
        minutes = np.repeat(np.arange(len(self.counts), dtype=float), self.counts)
        return np.sort((minutes + rng.random(len(minutes))) * 60.0).tolist()


def read_trace(paths: list[Path], max_functions: int | None = None) -> list[TraceFunction]:
    """Functions of one or more day files (in the order given: day 1, day 2 …)."""
    days: list[dict[str, tuple[str, np.ndarray]]] = []
    for path in paths:
        days.append(dict(_read_day(Path(path))))
    keys: dict[str, str] = {}
    for day in days:
        for k, (trigger, _) in day.items():
            keys.setdefault(k, trigger)
    out = []
    for k in list(keys)[:max_functions] if max_functions else keys:
        counts = np.concatenate([d[k][1] if k in d else np.zeros(MINUTES_PER_DAY, np.int64)
                                 for d in days])
        if counts.sum():
            out.append(TraceFunction(k, keys[k], counts))
    if not out:
        raise VsbError(f"no function with a call in {', '.join(map(str, paths))}")
    return out


def _read_day(path: Path) -> Iterator[tuple[str, tuple[str, np.ndarray]]]:
    minutes = [str(m) for m in range(1, MINUTES_PER_DAY + 1)]
    try:
        fh = open(path, newline="")
    except OSError as exc:
        raise VsbError(f"{path}: cannot read the trace ({exc.strerror}); give a file in the "
                       f"Azure Functions 2019 layout (invocations_per_function_md.anon.d01.csv)"
                       ) from None
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in KEY_COLUMNS + ["1", "1440"] if c not in (reader.fieldnames or [])]
        if missing:
            raise VsbError(f"{path}: not in the Azure Functions 2019 layout: no column(s) "
                           f"{', '.join(missing)} (expected {', '.join(KEY_COLUMNS)}, 1 … 1440)")
        for line, row in enumerate(reader, start=2):
            try:
                counts = np.array([int(row[m] or 0) for m in minutes], dtype=np.int64)
            except ValueError as exc:
                raise VsbError(f"{path}, line {line}: a minute's count is not a whole number "
                               f"({exc})") from None
            if (counts < 0).any():
                raise VsbError(f"{path}, line {line}: a negative count of calls")
            key = "/".join(row[c] for c in KEY_COLUMNS[:3])
            yield key, (row["Trigger"], counts)


def synthetic_trace(functions: int, days: int = 1, seed: int = 0,
                    max_rate_per_min: float = MAX_RATE_PER_MIN) -> list[TraceFunction]:
    """``functions`` functions over ``days`` days following the published statistics; a
    rate above ``max_rate_per_min`` is clipped to it (such functions are warm under any
    keep-alive, and they dominate the simulation's cost)."""
    if functions < 1 or days < 1:
        raise VsbError("a synthetic trace needs at least 1 function and 1 day")
    mu, sigma = _lognormal_params()
    rng = random.Random(seed)
    n_min = days * MINUTES_PER_DAY
    out = []
    for i in range(functions):
        rate = min(max_rate_per_min, 10 ** rng.gauss(mu, sigma))  # calls per minute
        timer = rng.random() < SHARE_TIMER
        counts = np.zeros(n_min, dtype=np.int64)
        if timer:  # every 1/rate minutes (whole seconds), from a random phase
            period = max(1.0, round(60.0 / rate)) / 60.0
            t = rng.random() * period
            idx = np.arange(t, n_min, period).astype(np.int64)
            np.add.at(counts, idx[idx < n_min], 1)
        else:
            counts = np.random.default_rng(rng.getrandbits(32)).poisson(rate, n_min)
        if counts.sum():
            key = f"synthetic/app{i}/fn{i}"
            out.append(TraceFunction(key, "timer" if timer else "http", counts))
    return out


def write_trace(functions: list[TraceFunction], out_dir: Path, stem: str =
                "invocations_per_function_md.anon") -> list[Path]:
    """The trace as day files in the published layout (``<stem>.d01.csv`` …)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n_days = max(len(f.counts) for f in functions) // MINUTES_PER_DAY
    paths = []
    for d in range(n_days):
        path = out_dir / f"{stem}.d{d + 1:02d}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(KEY_COLUMNS + [str(m) for m in range(1, MINUTES_PER_DAY + 1)])
            for f in functions:
                day = f.counts[d * MINUTES_PER_DAY:(d + 1) * MINUTES_PER_DAY]
                if day.sum():
                    w.writerow(f.key.split("/") + [f.trigger] + day.tolist())
        paths.append(path)
    return paths
