"""The simulator's validation: a run replayed from its own schedule and regime, through
VideoSearcher's flow, with constant times so every latency is exact."""

from __future__ import annotations

import pandas as pd
import pytest

from vsbench.archive import INVOCATION_COLUMNS, REQUEST_COLUMNS, write_archive
from vsbench.errors import VsbError
from vsbench.sim.replay import simulate_run, validate_run

T0 = 1_800_000_000.0
EXEC = {"orchestrator": 0.5, "ffmpeg-0": 0.2, "librosa": 0.3, "ffmpeg-1": 0.4,
        "ffmpeg-2": 0.5, "asr": 1.0, "ffmpeg-3": 0.6, "object-detector": 0.2, "search": 0.1}
COLD = 2.0  # every function's spawn → ready


def flow_latency(clips: int, cold: bool) -> float:
    """The orchestrator's view with width 1: stages in order, a clip's chains side by side."""
    c = COLD if cold else 0.0
    chain = max(EXEC["ffmpeg-2"] + EXEC["asr"], EXEC["ffmpeg-3"] + EXEC["object-detector"])
    first = max(EXEC["ffmpeg-2"] + EXEC["asr"] + 2 * c,
                EXEC["ffmpeg-3"] + EXEC["object-detector"] + 2 * c)
    return (c + (EXEC["ffmpeg-0"] + c) + (EXEC["librosa"] + c) + (EXEC["ffmpeg-1"] + c)
            + first + (clips - 1) * chain + (EXEC["search"] + c))


def make_flow_run(root, min_replicas: int, offsets: list[float], clips: int,
                  measured_ms: list[float]):
    pol = {"min_replicas": min_replicas, "max_replicas": 4, "idle_timeout_s": 30.0,
           "memory_mb": 512}
    requests, invocations, replicas = [], [], []
    for i, (off, lat) in enumerate(zip(offsets, measured_ms, strict=True)):
        rid = f"r{i}"
        ts = T0 + off
        requests.append({"seq": i, "request_id": rid, "warmup": False, "scheduled_offset_s": off,
                         "scheduled_ts": ts, "sent_ts": ts, "end_ts": ts + lat / 1000,
                         "status": "ok", "reason": None, "http_status": 200, "latency_ms": lat,
                         "service_ms": lat, "send_lag_ms": 0.0, "cold": min_replicas == 0,
                         "replica_id": "orchestrator-0", "e2e_ms": lat})
        calls = ["orchestrator", "ffmpeg-0", "librosa", "ffmpeg-1", "search"]
        calls += ["ffmpeg-2", "asr", "ffmpeg-3", "object-detector"] * clips
        for k, fn in enumerate(calls):
            invocations.append({
                "call_id": f"{rid}-{k}", "request_id": rid, "warmup": False, "function": fn,
                "replica_id": f"{fn}-0", "status": 200, "error": None, "cold": False,
                "start": "warm", "ts": ts, "queue_ms": 0.0, "duration_ms": EXEC[fn] * 1000,
                "lease_ts": ts, "end_ts": ts + EXEC[fn], "exec_ms": EXEC[fn] * 1000,
                "memory_mb": 512})
    for fn in EXEC:
        replicas.append({"function": fn, "replica_id": f"{fn}-0", "memory_mb": 512,
                         "spawn_ts": T0, "ready_ts": T0 + COLD, "stop_ts": T0 + 100,
                         "stop_reason": "idle", "served": 1, "alive_s": 100.0, "busy_s": 5.0,
                         "alive_total_s": 100.0, "busy_total_s": 5.0, "role": "replica"})
    prov = {"platform": "embedded", "regime": "r", "workload": "w", "rep": 1,
            "window": [T0, T0 + max(offsets) + 60],
            "config": {"regime": {fn: pol for fn in EXEC},
                       "experiment": {"app_config": {"max_parallel_clips": 1}}}}
    summary = {"check": {"ok": True}}
    return write_archive(root / "run", pd.DataFrame(requests, columns=REQUEST_COLUMNS),
                         pd.DataFrame(invocations, columns=INVOCATION_COLUMNS),
                         pd.DataFrame(replicas), [], [{"ts": T0, "cpu_percent": 1.0}], prov,
                         summary)


def test_a_warm_run_replays_the_flow_exactly(tmp_path):
    lat = flow_latency(3, cold=False) * 1000
    run = make_flow_run(tmp_path, 1, [0.0, 20.0, 40.0], 3, [lat] * 3)
    sim = simulate_run(run)["requests"]
    assert sim["latency_ms"].tolist() == pytest.approx([lat] * 3)
    assert not sim["cold"].any()
    row = validate_run(run)
    assert row["p50_err"] == pytest.approx(0.0) and row["cold_err_pts"] == 0.0


def test_a_cold_run_pays_every_start_on_the_critical_path_then_keeps_warm(tmp_path):
    run = make_flow_run(tmp_path, 0, [0.0, 30.0, 100.0], 1, [1.0, 1.0, 1.0])
    sim = simulate_run(run)["requests"]
    # the first cold (done at about 16 s); the second within the 30 s keep-alive: warm; the
    # third after it: cold
    assert sim["cold"].tolist() == [True, False, True]
    assert sim["latency_ms"].tolist() == pytest.approx(
        [flow_latency(1, True) * 1000, flow_latency(1, False) * 1000,
         flow_latency(1, True) * 1000])


def test_a_run_without_a_functions_samples_says_what_is_missing(tmp_path):
    run = make_flow_run(tmp_path, 1, [0.0], 1, [1.0])
    inv = pd.read_parquet(run / "invocations.parquet")
    inv[inv["function"] != "search"].to_parquet(run / "invocations.parquet", index=False)
    with pytest.raises(VsbError, match="no ok call or no started replica of search"):
        simulate_run(run)


def test_the_orchestrators_own_time_is_drawn_from_the_run_and_added(tmp_path):
    """Its own time is its call less the time any of its calls was in flight: here every
    call of a request runs within its first second (asr's 1.0 s the longest), and the
    orchestrator's call is made to last 1.3 s: 0.3 s of its own."""
    from vsbench.archive import load_archive
    from vsbench.sim.replay import own_times

    lat = flow_latency(1, cold=False) * 1000
    run = make_flow_run(tmp_path, 1, [0.0, 20.0], 1, [lat + 300.0] * 2)
    inv = pd.read_parquet(run / "invocations.parquet")
    orch = inv["function"] == "orchestrator"
    inv.loc[orch, "end_ts"] = inv.loc[orch, "lease_ts"] + 1.3
    inv.to_parquet(run / "invocations.parquet", index=False)
    assert own_times(load_archive(run)).samples == pytest.approx([0.3, 0.3])
    sim = simulate_run(run)["requests"]
    assert sim["latency_ms"].tolist() == pytest.approx([lat + 300.0] * 2)
    assert validate_run(run)["p50_err"] == pytest.approx(0.0, abs=1e-6)


def test_service_times_are_drawn_at_the_simulated_machines_load(tmp_path):
    """Five requests measured, their calls one after another; four of them had their asr
    call run 5 s instead of 1 s, with three other calls beside it (load 3). Replayed, each
    request is alone on the machine: every asr call is drawn among the quiet samples (drawn
    from all five, all five requests would be quiet 1 time in 3,000)."""
    from vsbench.sim.fit import function_times

    lat = flow_latency(1, cold=False) * 1000
    offsets = [5.0, 25.0, 45.0, 65.0, 85.0]  # after the replicas' starts
    run = make_flow_run(tmp_path, 1, offsets, 1, [lat] * 5)
    inv = pd.read_parquet(run / "invocations.parquet")
    for _, g in inv[inv["function"] != "orchestrator"].groupby("request_id"):
        t = g["lease_ts"].min()
        for i in g.index:  # one after another: nothing else runs beside a call
            inv.loc[i, ["ts", "lease_ts"]] = t
            t += EXEC[inv.loc[i, "function"]] + 0.01
            inv.loc[i, "end_ts"] = t - 0.01
    extra = []
    for rid in ("r1", "r2", "r3", "r4"):
        busy = inv[(inv["request_id"] == rid) & (inv["function"] == "asr")].index[0]
        inv.loc[busy, "end_ts"] = inv.loc[busy, "lease_ts"] + 5.0
        beside = inv.loc[[busy] * 3].assign(call_id=[f"{rid}-x{k}" for k in range(3)],
                                            request_id="other", function="search")
        beside["lease_ts"] -= 0.1
        extra.append(beside)
    pd.concat([inv, *extra], ignore_index=True).to_parquet(run / "invocations.parquet",
                                                           index=False)
    asr = function_times([run])["asr"].service
    got = sorted(zip(asr.loads, asr.samples, strict=True))
    assert [x[0] for x in got] == [0, 3, 3, 3, 3]
    assert [x[1] for x in got] == pytest.approx([1.0, 5.0, 5.0, 5.0, 5.0])
    sim = simulate_run(run)["requests"]
    assert sim["latency_ms"].tolist() == pytest.approx([lat] * 5)
