"""A measured run simulated from its own schedule and regime: the simulator's validation.

For one run archive: the same requests at the same times (warm-ups included, before the
window as measured), every function under the run's own policy (:class:`SimPool`, the
platform's scaling and keep-alive code), VideoSearcher's flow as the orchestrator drives it
(``functions/orchestrator/pipeline.py``): ffmpeg-0 → librosa (when the video has audio) →
ffmpeg-1 → per clip, at most ``max_parallel_clips`` at once, [ffmpeg-2 → asr] beside
[ffmpeg-3 → object-detector] → search; the orchestrator holds its replica throughout. Each
request has the clips it had in the measurement; service and cold-start times are drawn from
the run's own samples (:mod:`.fit`), among those taken at about the load the simulated
machine has when the call or start begins (every pool on one :class:`~.engine.Machine`):
the measured machine's contention, by the load it was under. The orchestrator's own time
(its call's lease to end less the time any of its calls was in flight: preparing envelopes,
reading the gateway's answers, about 100 ms a request in the default study) is drawn from
the run's requests too and added before it answers.

Compared with the measurement (:func:`validate_run`): p50 and p99 latency of ok requests
(from the scheduled time), the share of requests with a cold call, and the replicas'
provisioned GB-s in the run's window (alive time × memory, keep-alive tails to their end),
as the cost model counts them.

Not modelled (where the simulator will miss): contention beyond what the load at a call's
start tells (a call that begins on a quiet machine and is overtaken by a burst is drawn as
quiet), retries and failures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vsbench.analysis.cost import run_cost
from vsbench.archive import archive_dir, load_archive, union_seconds
from vsbench.errors import VsbError
from vsbench.platform.policy import ScalingPolicy

from .engine import Call, Machine, SimPool, Simulator
from .fit import ORCHESTRATOR, Empirical, function_times

VALIDATION_COLUMNS = [
    "platform", "regime", "workload", "rep", "requests", "p50_ms", "sim_p50_ms", "p50_err",
    "p99_ms", "sim_p99_ms", "p99_err", "cold_fraction", "sim_cold_fraction", "cold_err_pts",
    "gb_s", "sim_gb_s", "gb_s_err", "within_goals"]
# the goals: p50 within 15 %, p99 within 25 %, cold fraction within 10 points, GB-s
# within 15 %
GOALS = {"p50_err": 0.15, "p99_err": 0.25, "cold_err_pts": 10.0, "gb_s_err": 0.15}


def _requests(a: dict[str, Any]) -> pd.DataFrame:
    """Per request: when it was due, whether a warm-up, its clips, whether it had audio."""
    req = a["requests"].copy()
    inv = a["invocations"]
    ok = inv[inv["status"] == 200]
    clips = ok[ok["function"] == "ffmpeg-2"].groupby("request_id").size()
    audio = set(ok.loc[ok["function"] == "librosa", "request_id"])
    req["clips"] = req["request_id"].map(clips).fillna(1).astype(int)
    req["audio"] = req["request_id"].isin(audio)
    req["due_ts"] = req["scheduled_ts"].where(~req["warmup"].astype(bool), req["sent_ts"])
    return req


def own_times(a: dict[str, Any]) -> Empirical:
    """The orchestrator's own time per measured request (module doc), in seconds."""
    inv = a["invocations"]
    inv = inv[(inv["status"] == 200) & ~inv["warmup"].astype(bool)]
    orch = inv[inv["function"] == ORCHESTRATOR].drop_duplicates("request_id")
    orch = orch.set_index("request_id")
    out = []
    for rid, g in inv[inv["function"] != ORCHESTRATOR].groupby("request_id"):
        if rid not in orch.index:
            continue
        covered = union_seconds(list(zip(g["ts"], g["end_ts"], strict=True)), -math.inf,
                                math.inf)  # any of its calls in flight
        o = orch.loc[rid]
        out.append(max(0.0, float(o["end_ts"] - o["lease_ts"]) - covered))
    return Empirical(out or [0.0])


def simulate_run(path: Path, seed: int = 0, archive: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Simulate the run archived at ``path`` (``archive``: its tables, if already loaded);
    returns the simulated requests and GB-s, and what :mod:`.archive` writes an archive from
    (simulated times are seconds from ``t0``, the first request's due time)."""
    a = archive if archive is not None else load_archive(Path(path))
    prov = a["provenance"]
    cfg = prov.get("config") or {}
    policies = {fn: ScalingPolicy.from_dict(dict(p)) for fn, p in (cfg.get("regime") or {}).items()}
    if ORCHESTRATOR not in policies:
        raise VsbError(f"{path}: the run's regime has no orchestrator policy: not a "
                       f"VideoSearcher run the simulator can replay")
    times = function_times([Path(path)])
    req = _requests(a)
    flow = ["orchestrator", "ffmpeg-0", "ffmpeg-1", "ffmpeg-2", "ffmpeg-3", "object-detector",
            "search"] + (["librosa", "asr"] if req["audio"].any() else [])
    missing = sorted(set(flow) - set(times))
    if missing:
        raise VsbError(f"{path}: no ok call or no started replica of {', '.join(missing)} in "
                       f"the run: nothing to draw its times from")
    width = int(((cfg.get("experiment") or {}).get("app_config") or {})
                .get("max_parallel_clips", 8))
    t_first = float(req["due_ts"].min())
    w0 = float((prov.get("window") or [t_first])[0])

    own = own_times(a)
    sim = Simulator(seed=seed)
    machine = Machine()

    def at_load(e):
        return lambda rng: e.at_load(rng, machine.load)

    pools = {fn: SimPool(sim, fn, pol, at_load(times[fn].service), at_load(times[fn].cold_start),
                         machine=machine)
             for fn, pol in policies.items() if fn in times}
    results: dict[str, dict[str, Any]] = {}

    def child(fn: str, then, tag) -> None:
        pools[fn].invoke(Call(fn, sim.now, done=lambda c: (tag["calls"].append(c), then())))

    def program(row) -> Any:
        def run(call: Call, finish) -> None:
            tag = call.tag
            todo = list(range(int(row.clips)))
            running = [0]

            def search_done() -> None:
                sim.at(sim.now + own(sim.rng), finish)

            def clip_done() -> None:
                running[0] -= 1
                if todo:
                    start_clip()
                elif running[0] == 0:
                    child("search", search_done, tag)

            def start_clip() -> None:
                todo.pop()
                running[0] += 1
                left = [2]

                def chain_done() -> None:
                    left[0] -= 1
                    if left[0] == 0:
                        clip_done()
                child("ffmpeg-2", (lambda: child("asr", chain_done, tag)) if row.audio
                      else chain_done, tag)
                child("ffmpeg-3", lambda: child("object-detector", chain_done, tag), tag)

            def fan_out() -> None:
                for _ in range(min(width, len(todo))):
                    start_clip()

            after_librosa = lambda: child("ffmpeg-1", fan_out, tag)  # noqa: E731
            child("ffmpeg-0", (lambda: child("librosa", after_librosa, tag)) if row.audio
                  else after_librosa, tag)
        return run

    for row in req.itertuples():
        t = float(row.due_ts) - t_first
        tag = {"calls": [], "warmup": bool(row.warmup)}
        results[row.request_id] = tag
        c = Call(ORCHESTRATOR, t, program=program(row), tag=tag,
                 done=lambda c, tag=tag: tag.__setitem__("orch", c))
        sim.at(t, pools[ORCHESTRATOR].invoke, c)
    sim.run()
    horizon = float((prov.get("window") or [0, 0])[1] or 0) - t_first
    # what is still up was kept by min_replicas (or never scales down): charged to the
    # window's end as measured (a stop check past it found the floor and left it)
    last_end = max((t["orch"].end for t in results.values()
                    if "orch" in t and not math.isnan(t["orch"].end)), default=0.0)
    sim.now = max(horizon, last_end)
    for pool in pools.values():
        pool.close()
    since = w0 - t_first
    rows = []
    for rid, tag in results.items():
        o = tag.get("orch")
        if tag["warmup"] or o is None or o.start_class == "refused":
            continue
        rows.append({"request_id": rid, "latency_ms": (o.end - o.arrival) * 1000,
                     "cold": o.cold or any(c.cold for c in tag["calls"])})
    return {"requests": pd.DataFrame(rows),
            "gb_s": sum(p.alive_gb_s(since) for p in pools.values()),
            # what an archive of the simulation is written from (.archive)
            "schedule": req, "tags": results, "pools": pools, "t0": t_first, "since": since}


def _err(sim: float, real: float) -> float:
    return abs(sim - real) / real if real else math.nan


def validate_run(path: Path, seed: int = 0, write_root: Path | None = None) -> dict[str, Any]:
    """One row of the validation table: the run measured against its simulation, which is
    also written as an archive below ``write_root`` when given (:mod:`.archive`)."""
    a = load_archive(Path(path))
    prov = a["provenance"]
    req = a["requests"]
    measured = req[(req["status"] == "ok") & ~req["warmup"].astype(bool)]
    inv = a["invocations"]
    cold_ids = set(inv.loc[inv["cold"].astype(bool) & ~inv["warmup"].astype(bool),
                           "request_id"])
    cold = measured["request_id"].isin(cold_ids) | measured["cold"].fillna(False).astype(bool)
    gb_s = run_cost(req, inv, a["replicas"]).provisioned_gb_s
    s = simulate_run(path, seed, archive=a)
    if write_root is not None:
        from .archive import write_simulated  # it builds on this module

        write_simulated(path, archive_dir(write_root, prov.get("platform"), prov.get("regime"),
                                          prov.get("workload"), prov.get("rep")), seed, s, a)
    sim = s["requests"]
    lat, slat = measured["latency_ms"].to_numpy(float), sim["latency_ms"].to_numpy(float)
    row = {"platform": prov.get("platform"), "regime": prov.get("regime"),
           "workload": prov.get("workload"), "rep": prov.get("rep"),
           "requests": len(measured),
           "p50_ms": float(np.percentile(lat, 50)), "sim_p50_ms": float(np.percentile(slat, 50)),
           "p99_ms": float(np.percentile(lat, 99)), "sim_p99_ms": float(np.percentile(slat, 99)),
           "cold_fraction": float(cold.mean()), "sim_cold_fraction": float(sim["cold"].mean()),
           "gb_s": float(gb_s), "sim_gb_s": float(s["gb_s"])}
    row["p50_err"] = _err(row["sim_p50_ms"], row["p50_ms"])
    row["p99_err"] = _err(row["sim_p99_ms"], row["p99_ms"])
    row["cold_err_pts"] = abs(row["sim_cold_fraction"] - row["cold_fraction"]) * 100
    row["gb_s_err"] = _err(row["sim_gb_s"], row["gb_s"])
    row["within_goals"] = all(row[k] <= v for k, v in GOALS.items())
    return row


def validation_table(paths: list[Path], seed: int = 0,
                     write_root: Path | None = None) -> pd.DataFrame:
    return pd.DataFrame([validate_run(p, seed, write_root) for p in paths],
                        columns=VALIDATION_COLUMNS)
