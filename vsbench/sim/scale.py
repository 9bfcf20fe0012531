"""Keep-alive policies compared at scale: a trace of many functions over days, each trace
function played against a VideoSearcher function's measured times (:mod:`.fit`), under
fixed timeouts, the hybrid histogram policy and the oracle (:mod:`vsbench.platform.keepalive`).

Each trace function is its own deployment (scale from zero, one call per replica at a time,
up to ``max_replicas``), mapped to a VideoSearcher function by a hash of its name, so the
mapping is the same in every run. Per policy the table gives calls, cold starts (their share
overall and the 75th percentile of the functions' own shares, the paper's Figure 15
measure), and the memory replicas held: alive and idle GB-s at each function's limit.

The oracle swept over its break-even time ``b`` traces the best a keep-alive-only policy can
do: it has the cold starts of the fixed timeout ``b`` and none of its idle time that ended in
a stop (keeping a replica exactly through the gaps shorter than ``b`` minimises idle time
plus cold starts priced at ``b``): the bound the others are read against. A policy that
pre-warms (the histogram) is outside that class and may pass it.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vsbench.errors import VsbError
from vsbench.platform.policy import ScalingPolicy

from .engine import Call, SimPool, Simulator
from .fit import FunctionTimes, function_times
from .trace import MINUTES_PER_DAY, TraceFunction, read_trace, synthetic_trace

SCALE_COLUMNS = ["policy", "keepalive", "parameter_s", "functions", "calls", "cold_starts",
                 "cold_pct", "p75_function_cold_pct", "alive_gb_s", "idle_gb_s",
                 "idle_gb_s_per_call", "sim_events", "wall_s", "settings", "trace",
                 "trace_days", "times_from"]

FIXED_TIMEOUTS_S = [1, 10, 60, 300, 600, 1800, 3600, 7200]
# the study's simulation block (config `simulation:`); one definition of its defaults
SIM_DEFAULTS: dict[str, Any] = {"trace": [], "functions": 200, "days": 1, "seed": 0,
                                "max_rate_per_min": 10.0, "timeouts_s": FIXED_TIMEOUTS_S,
                                "max_replicas": 100}
# the paper's histogram: 1-minute bins over 4 hours, 5th/99th percentiles, 10 % margin, and
# the "standard keep-alive" (the whole range) while a histogram is unrepresentative
PAPER_HISTOGRAM = {"policy": "histogram", "bin_s": 60, "range_s": 14400, "head_pct": 5,
                   "tail_pct": 99, "margin": 0.10, "min_samples": 10, "min_cv": 2.0,
                   "max_out_of_range": 0.5}


@dataclass
class PolicyCase:
    name: str
    keepalive: dict[str, Any]
    idle_timeout_s: float | None  # fixed: the timeout; histogram: its fallback
    parameter_s: float | None = None  # what the case sweeps (timeout, break-even)


def default_cases(timeouts: Iterable[float] = FIXED_TIMEOUTS_S) -> list[PolicyCase]:
    timeouts = list(timeouts)
    cases = [PolicyCase(f"fixed-{t:g}s", {"policy": "fixed"}, float(t), float(t))
             for t in timeouts]
    cases.append(PolicyCase("histogram", dict(PAPER_HISTOGRAM),
                            float(PAPER_HISTOGRAM["range_s"])))
    cases += [PolicyCase(f"oracle-{t:g}s", {"policy": "oracle", "break_even_s": float(t)},
                         None, float(t)) for t in timeouts]
    return cases


def mapped_function(key: str, names: list[str]) -> str:
    """The VideoSearcher function a trace function plays (stable across runs)."""
    return names[zlib.crc32(key.encode()) % len(names)]


def simulate_case(trace: list[TraceFunction], times: dict[str, FunctionTimes],
                  case: PolicyCase, seed: int = 0, max_replicas: int = 100) -> dict[str, Any]:
    names = sorted(times)
    calls = colds = events = 0
    alive = idle = 0.0
    shares = []
    t0 = time.perf_counter()
    for tf in trace:
        ft = times[mapped_function(tf.key, names)]
        arrivals = tf.arrivals(seed)
        policy = ScalingPolicy(min_replicas=0, max_replicas=max_replicas,
                               idle_timeout_s=case.idle_timeout_s, memory_mb=ft.memory_mb,
                               max_queue=10**9, keepalive=dict(case.keepalive)).validate()
        sim = Simulator(seed=zlib.crc32(f"{seed}/{tf.key}".encode()))
        pool = SimPool(sim, tf.key, policy, ft.service, ft.cold_start, record_calls=False)
        for t in arrivals:
            sim.at(t, pool.invoke, Call(tf.key, t))
        sim.run(until=len(tf.counts) * 60.0)  # the trace's end: nothing billed beyond
        pool.close()
        a, i = pool.gb_s()
        calls += len(arrivals)  # a call still waiting at the trace's end counts, as warm
        colds += pool.cold_starts
        alive, idle, events = alive + a, idle + i, events + sim.events
        shares.append(100.0 * pool.cold_starts / len(arrivals) if arrivals else 0.0)
    shares.sort()
    settings = {**case.keepalive, "idle_timeout_s": case.idle_timeout_s,
                "max_replicas": max_replicas}
    return {"policy": case.name, "keepalive": case.keepalive["policy"],
            "parameter_s": case.parameter_s, "functions": len(trace), "calls": calls,
            "cold_starts": colds, "cold_pct": 100.0 * colds / calls if calls else math.nan,
            "p75_function_cold_pct": shares[min(len(shares) - 1, int(0.75 * len(shares)))]
            if shares else math.nan,
            "alive_gb_s": alive, "idle_gb_s": idle,
            "idle_gb_s_per_call": idle / calls if calls else math.nan,
            "sim_events": events, "wall_s": time.perf_counter() - t0,
            "settings": json.dumps(settings, sort_keys=True)}


def compare(trace: list[TraceFunction], times: dict[str, FunctionTimes],
            cases: list[PolicyCase] | None = None, seed: int = 0,
            max_replicas: int = 100) -> pd.DataFrame:
    rows = [simulate_case(trace, times, c, seed, max_replicas)
            for c in cases or default_cases()]
    return pd.DataFrame(rows, columns=SCALE_COLUMNS)


def scale_study(archives: list[Path], sim: dict[str, Any] | None = None) -> pd.DataFrame:
    """The ``keepalive_scale`` table: every policy case on the study's trace (the files of
    ``sim["trace"]`` in the Azure layout, else the synthetic generator), with service and
    cold-start times from ``archives`` (:func:`.fit.function_times`)."""
    cfg = {**SIM_DEFAULTS, **(sim or {})}
    unknown = sorted(set(cfg) - set(SIM_DEFAULTS))
    if unknown:
        raise VsbError(f"simulation: unknown key(s) {unknown}; known: {sorted(SIM_DEFAULTS)}")
    times = function_times(archives)
    if cfg["trace"]:
        paths = [Path(p) for p in cfg["trace"]]
        trace = read_trace(paths, max_functions=cfg["functions"])
        source = "Azure Functions 2019: " + ", ".join(p.name for p in paths)
    else:
        trace = synthetic_trace(cfg["functions"], cfg["days"], cfg["seed"],
                                cfg["max_rate_per_min"])
        source = (f"synthetic (ATC'20 statistics, seed {cfg['seed']}, rates clipped at "
                  f"{cfg['max_rate_per_min']:g}/min)")
    df = compare(trace, times, default_cases(cfg["timeouts_s"]), cfg["seed"],
                 cfg["max_replicas"])
    df["trace"] = source
    df["trace_days"] = max(len(f.counts) for f in trace) / MINUTES_PER_DAY
    df["times_from"] = f"{len(archives)} run archive(s): " + ", ".join(sorted(times))
    return df
