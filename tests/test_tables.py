"""Aggregation into tables: small synthetic archives with hand-computed answers.

The study (:func:`build_study`): functions ``orchestrator`` (1 GB) and ``detect`` (2 GB), each
request calls both (1000 ms and 500 ms of execution: 1 + 1 = 2 active GB-s per request).

=======  ====  =================================  ======  ======================  =========
regime   rep   ok latencies (ms)                  cold    replicas (alive/busy s)  idle GB-s
=======  ====  =================================  ======  ======================  =========
cold     1     1000 2000 3000 4000 (+1 timeout)   1st,3rd  10/4 and 10/2          6 + 16 = 22
cold     2     5000                               none     10/4 and 10/2          22
warm     1     500 600 700 800                    none     10/4 and 10/2          22
idle-2s  1     1000 ×4                            all      3/2 and 3/2            1 + 2 = 3
idle-30s 1     1000 ×4                            1st      10/4 and 10/2          22
=======  ====  =================================  ======  ======================  =========

Every run also has one warm-up request (latency 99999 ms, cold, 100 GB-s of calls) that must be
left out everywhere. ``sweep-idle-2s`` and ``sweep-idle-30s`` (idle-2s and idle-30s above)
differ from ``cold`` only in their idle timeout, so ``cold`` is their base regime. A cold call
of the first request of a run scaled from zero; the others scaled out.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vsbench.analysis.stats import fraction_ci
from vsbench.analysis.tables import (
    TABLE_COLUMNS,
    aggregate,
    as_dir,
    build_tables,
    load_runs,
    read_tables,
    write_tables,
)
from vsbench.archive import INVOCATION_COLUMNS, REQUEST_COLUMNS, write_archive

approx = pytest.approx
T0 = 1_700_000_000.0


def _policies(min_replicas: int, idle_timeout_s):
    base = {"max_replicas": 4, "target_inflight": 1, "max_inflight": 1, "queue_timeout_s": 120,
            "min_replicas": min_replicas, "idle_timeout_s": idle_timeout_s}
    return {"orchestrator": {**base, "memory_mb": 1024}, "detect": {**base, "memory_mb": 2048}}


REGIMES = {"cold": _policies(0, 10), "warm": _policies(1, None),
           "sweep-idle-2s": _policies(0, 2), "sweep-idle-30s": _policies(0, 30)}


def make_run(root, regime, rep, latencies, cold, replicas, workload="steady", timeouts=0):
    """Write one synthetic archive; returns its folder."""
    rid = lambda i: f"{regime}-{workload}-rep{rep}-{i:05d}"  # noqa: E731
    requests, invocations = [], []
    rows = [(f"{regime}-{workload}-rep{rep}-warmup0", True, "ok", 99999.0, True)]
    rows += [(rid(i), False, "ok", lat, c)
             for i, (lat, c) in enumerate(zip(latencies, cold, strict=True))]
    rows += [(rid(len(latencies) + j), False, "timeout", 300000.0, False)
             for j in range(timeouts)]
    seq = 0
    for request_id, warmup, status, lat, c in rows:
        ts = T0 + (0 if warmup else 10 + seq)
        requests.append({"seq": 0 if warmup else seq, "request_id": request_id,
                         "warmup": warmup, "scheduled_offset_s": float(seq), "scheduled_ts": ts,
                         "sent_ts": ts, "end_ts": ts + lat / 1000, "status": status,
                         "reason": None if status == "ok" else status, "http_status": 200,
                         "latency_ms": lat, "service_ms": lat, "send_lag_ms": 0.0,
                         "cold": False, "replica_id": "orchestrator-0", "e2e_ms": lat})
        if not warmup:
            seq += 1
        if status != "ok":
            continue
        for func, exec_ms, is_cold in (("orchestrator", 1000.0, False), ("detect", 500.0, c)):
            mem = REGIMES[regime][func]["memory_mb"]
            exec_ms = 50000.0 if warmup else exec_ms
            invocations.append({
                "call_id": f"{request_id}-{func}", "request_id": request_id, "warmup": warmup,
                "function": func, "replica_id": f"{func}-0", "status": 200, "error": None,
                "cold": is_cold, "start": ("scale_from_zero" if seq <= 1 else "scale_out")
                if is_cold else "warm", "ts": ts, "queue_ms": 300.0 if is_cold else 1.0,
                "duration_ms": exec_ms, "lease_ts": ts, "end_ts": ts + exec_ms / 1000,
                "exec_ms": exec_ms, "cpu_ms": exec_ms / 2, "storage_get_ms": 5.0,
                "storage_put_ms": 5.0, "bytes_in": 2048, "bytes_out": 1024,
                "replica_invocation": 1, "memory_mb": mem})
    reps = []
    for func, (alive, busy) in replicas.items():
        reps.append({"function": func, "replica_id": f"{func}-0",
                     "memory_mb": REGIMES[regime][func]["memory_mb"], "spawn_ts": T0 + 5,
                     "ready_ts": T0 + 5.4, "stop_ts": T0 + 5 + alive, "stop_reason": "idle",
                     "import_ms": 300.0, "init_ms": 100.0 if func == "detect" else 1.0,
                     "served": 1, "alive_s": alive, "busy_s": busy, "alive_total_s": alive,
                     "busy_total_s": busy})
    req = pd.DataFrame(requests, columns=REQUEST_COLUMNS)
    inv = pd.DataFrame(invocations, columns=INVOCATION_COLUMNS)
    scheduled = len(latencies) + timeouts
    counts = {"ok": len(latencies), "app_error": 0, "http_error": 0, "timeout": timeouts,
              "dropped": 0}
    provenance = {
        "git": {"commit": "abc123", "dirty": False},
        "packages": {"vsbench": "0.1.0", "pandas": pd.__version__},
        "machine": {"hostname": "test", "os": "Linux", "cpu_model": "Test CPU", "cpu_count": 2,
                    "memory_gb": 8.0, "python": "3.11"},
        "platform": "embedded", "regime": regime, "workload": workload, "rep": rep,
        "started_ts": T0, "ended_ts": T0 + 60, "window": [T0 + 10, T0 + 40],
        "config": {"regime": REGIMES[regime],
                   "workload": {"pattern": "steady", "rate": 0.2, "duration_s": 30,
                                "burst_size": None, "trace_path": None},
                   "experiment": {"video": "short", "query": "cat", "warmup_requests": 1},
                   "schedule_fingerprint": "f" * 8, "scheduled_requests": scheduled},
        "s3": "moto", "functions": ["orchestrator", "detect"],
    }
    summary = {"check": {"ok": True, "scheduled": scheduled, "terminal": counts,
                         "invocations": len(inv), "problems": []},
               "window_s": 30.0, "scheduled": scheduled, "invocations": len(inv),
               "replicas": len(reps)}
    system = [{"ts": T0 + 10, "cpu_percent": 50.0, "mem_used_mb": 1000.0, "load1": 1.0},
              {"ts": T0 + 11, "cpu_percent": 70.0, "mem_used_mb": 1200.0, "load1": 2.0}]
    out = root / "raw" / "embedded" / regime / workload / f"rep{rep}"
    return write_archive(out, req, inv, pd.DataFrame(reps), [], system, provenance, summary)


FULL = {"orchestrator": (10.0, 4.0), "detect": (10.0, 2.0)}


def build_study(root, sweep: bool = True) -> list:
    paths = [
        make_run(root, "cold", 1, [1000, 2000, 3000, 4000], [True, False, True, False], FULL,
                 timeouts=1),
        make_run(root, "cold", 2, [5000], [False], FULL),
        make_run(root, "warm", 1, [500, 600, 700, 800], [False] * 4, FULL),
    ]
    if sweep:
        paths += [
            make_run(root, "sweep-idle-2s", 1, [1000] * 4, [True] * 4,
                     {"orchestrator": (3.0, 2.0), "detect": (3.0, 2.0)}),
            make_run(root, "sweep-idle-30s", 1, [1000] * 4, [True, False, False, False], FULL),
        ]
    return paths


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    paths = build_study(root)
    runs = load_runs([p / "summary.json" for p in reversed(paths)])  # files or folders
    return runs, build_tables(runs)


def _row(df, **kw):
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (kw, len(sel))
    return sel.iloc[0]


def test_load_runs_identity_and_order(study):
    runs, _ = study
    assert [(r.regime, r.rep) for r in runs] == [
        ("cold", 1), ("cold", 2), ("sweep-idle-2s", 1), ("sweep-idle-30s", 1), ("warm", 1)]
    assert runs[0].platform == "embedded" and runs[0].workload == "steady"
    assert set(runs[0].archive) >= {"requests", "invocations", "replicas", "provenance"}


def test_table_shapes_and_columns(study):
    _, t = study
    for name, cols in TABLE_COLUMNS.items():
        assert list(t[name].columns) == cols, name
    assert len(t["runs"]) == 5
    assert len(t["latency"]) == len(t["cost"]) == 4           # cold pooled over its 2 reps
    assert len(t["cold_starts"]) == 8                           # 4 regimes × 2 functions
    assert len(t["sweeps"]) == 3                                # 2 points and the base
    assert len(t["pareto"]) == 4
    assert len(t["start_classes"]) == 4 * 3                     # request + 2 functions
    assert len(t["comparisons"]) == 1                           # cold vs warm only
    # least warm capacity first, the sweep last (by timeout)
    assert list(t["latency"]["regime"]) == ["cold", "warm", "sweep-idle-2s", "sweep-idle-30s"]
    assert list(t["cold_starts"]["function"][:2]) == ["orchestrator", "detect"]


def test_runs_table(study):
    _, t = study
    r = _row(t["runs"], regime="cold", rep=1)
    assert (r["scheduled"], r["ok"], r["timeout"], r["dropped"]) == (5, 4, 1, 0)
    assert r["invocations"] == 8                                # warm-up calls left out
    assert r["cold_requests"] == 2 and r["cold_request_fraction"] == 0.5
    assert r["cold_orchestrator_fraction"] == 0.0
    assert (r["cpu_percent_mean"], r["load1_max"], r["window_s"]) == (60.0, 2.0, 30.0)
    assert bool(r["complete"]) is True


def test_latency_table(study):
    _, t = study
    c = _row(t["latency"], regime="cold")
    assert (c["reps"], c["n_measured"], c["n"]) == (2, 6, 5)
    assert c["ok_fraction"] == approx(5 / 6)
    assert c["p50_ms"] == 3000 and c["mean_ms"] == 3000
    assert c["p50_low_ms"] <= 3000 <= c["p50_high_ms"]
    assert c["p99_ms"] == approx(4960)
    assert c["p90_ms"] <= c["p90_high_ms"] <= 5000
    assert c["cold_requests"] == 2
    assert (c["cold_fraction"], c["cold_fraction_low"], c["cold_fraction_high"]) == \
        approx(fraction_ci(2, 5))
    assert c["p50_cold_ms"] == 2000 and c["p50_warm_ms"] == 4000
    w = _row(t["latency"], regime="warm")
    assert w["p50_ms"] == 650 and w["cold_fraction"] == 0 and math.isnan(w["p50_cold_ms"])


def test_cold_starts_table(study):
    _, t = study
    d = _row(t["cold_starts"], regime="cold", function="detect")
    assert (d["invocations"], d["cold"], d["memory_mb"]) == (5, 2, 2048)
    assert d["cold_fraction"] == approx(0.4)
    assert d["cold_fraction_high"] == approx(fraction_ci(2, 5)[2])
    assert d["cold_queue_mean_ms"] == 300 and d["cold_queue_p50_ms"] == 300
    assert d["warm_queue_mean_ms"] == 1
    assert d["exec_mean_ms"] == 500 and d["storage_mean_ms"] == 10
    assert d["invocations_per_request"] == approx(5 / 6)
    assert (d["replicas"], d["replicas_started_in_window"]) == (2, 0)  # spawned before window
    assert d["init_mean_ms"] == 100 and d["startup_mean_ms"] == approx(400, abs=1e-3)
    o = _row(t["cold_starts"], regime="warm", function="orchestrator")
    assert o["cold"] == 0 and o["cold_fraction"] == 0 and math.isnan(o["cold_queue_mean_ms"])


def test_cost_table(study):
    _, t = study
    c = _row(t["cost"], regime="cold")
    # active 8 + 2 GB-s, idle 22 + 22 GB-s, 5 ok requests (warm-up's 100 GB-s left out)
    assert (c["ok_requests"], c["active_gb_s"], c["idle_gb_s"]) == (5, approx(10), approx(44))
    assert c["total_gb_s_per_ok"] == approx(54 / 5)
    assert c["active_gb_s_per_ok"] == approx(2) and c["fave_units_per_ok"] == approx(2)
    assert c["idle_gb_s_per_ok"] == approx(44 / 5)
    assert c["provisioned_gb_s_per_ok"] == approx(2 * (10 + 20) / 5)
    assert c["idle_share"] == approx(44 / 54)
    assert c["usd_per_1k_ok"] == approx(
        (54 * 0.0000166667 + 10 * 0.2 / 1e6) * 1000 / 5)
    w = _row(t["cost"], regime="warm")
    assert w["total_gb_s_per_ok"] == approx(30 / 4)
    f = _row(t["cost_by_function"], regime="cold", function="detect")
    assert f["idle_gb_s"] == approx(32) and f["utilisation"] == approx(0.2)


def test_sweeps_table(study):
    _, t = study
    sw = t["sweeps"]
    assert list(sw["regime"]) == ["sweep-idle-2s", "cold", "sweep-idle-30s"]
    assert set(sw["factor"]) == {"idle_timeout_s"} and list(sw["value"]) == [2.0, 10.0, 30.0]
    assert list(sw["base_regime"]) == ["cold"] * 3 and list(sw["is_base"]) == [False, True, False]
    assert list(sw["reps"]) == [1, 2, 1]
    assert list(sw["cold_request_fraction"]) == approx([1.0, 0.4, 0.25])
    assert list(sw["idle_gb_s_per_ok"]) == approx([3 / 4, 44 / 5, 22 / 4])
    assert list(sw["total_gb_s_per_ok"]) == approx([(8 + 3) / 4, 54 / 5, (8 + 22) / 4])
    assert list(sw["p50_ms"]) == [1000.0, 3000.0, 1000.0]
    # idle-2s: the first request scaled from zero, the other three scaled out
    assert list(sw["scale_from_zero_fraction"]) == approx([0.25, 0.2, 0.25])
    assert list(sw["scale_out_fraction"]) == approx([0.75, 0.2, 0.0])
    for c in ("total_gb_s_per_ok", "p50"):
        low, high = (f"{c}_low", f"{c}_high") if c.endswith("ok") else ("p50_low_ms", "p50_high_ms")
        est = sw[c if c.endswith("ok") else "p50_ms"]
        assert (sw[low] <= est + 1e-9).all() and (est <= sw[high] + 1e-9).all()


def test_start_classes_table(study):
    _, t = study
    sc = t["start_classes"]
    r = _row(sc, regime="cold", level="request")
    # cold: rep 1 requests 1 (from zero) and 3 (scale out) were cold, of 5 ok requests
    assert (r["n"], r["warm"], r["scale_from_zero"], r["scale_out"]) == (5, 3, 1, 1)
    assert r["warm_fraction"] == approx(0.6) and r["scale_out_high"] == approx(
        fraction_ci(1, 5)[2])
    d = _row(sc, regime="cold", level="detect")
    assert (d["n"], d["scale_from_zero"], d["scale_out"], d["unclassified"]) == (5, 1, 1, 0)
    o = _row(sc, regime="cold", level="orchestrator")
    assert o["warm"] == 5 and o["warm_fraction"] == 1.0


def test_pareto_table(study):
    _, t = study
    p = t["pareto"].set_index("regime")
    # steady: cold 3000 ms at 10.8 GB-s, warm 650 ms at 7.5, idle-2s 1000 at 2.75,
    # idle-30s 1000 at 7.5: warm and idle-2s are the p50 frontier
    assert bool(p.loc["warm", "frontier_p50"]) and bool(p.loc["sweep-idle-2s", "frontier_p50"])
    assert not p.loc["cold", "frontier_p50"] and not p.loc["sweep-idle-30s", "frontier_p50"]
    assert set(p.loc["cold", "dominated_by_p50"].split(", ")) == {
        "warm", "sweep-idle-2s", "sweep-idle-30s"}
    assert set(p.loc["sweep-idle-30s", "dominated_by_p50"].split(", ")) == {
        "warm", "sweep-idle-2s"}  # warm: as costly, faster
    assert p.loc["warm", "dominated_by_p50"] == ""


def test_comparisons_table(study):
    _, t = study
    c = _row(t["comparisons"], regime_a="cold", regime_b="warm")
    assert (c["n_a"], c["n_b"]) == (5, 4)
    assert (c["median_a_ms"], c["median_b_ms"]) == (3000, 650)
    assert c["median_ratio"] == approx(3000 / 650)
    assert c["median_ratio_low"] <= c["median_ratio"] <= c["median_ratio_high"]
    assert (c["reps_a"], c["reps_b"]) == (2, 1)
    assert c["latency_verdict"] in ("slower", "no detectable difference")
    assert c["cost_verdict"] in ("higher", "lower", "no detectable difference")
    assert c["cliffs_delta"] == 1.0 and c["magnitude"] == "large"
    assert c["cost_ratio"] == approx((54 / 5) / (30 / 4))


def test_provenance_tables(study):
    _, t = study
    pol = _row(t["policies"], regime="warm", function="detect")
    assert pol["min_replicas"] == 1 and math.isinf(pol["idle_timeout_s"])
    assert pol["memory_mb"] == 2048
    assert list(t["workloads"]["workload"]) == ["steady"]
    assert t["workloads"]["params"].iloc[0] == "rate=0.2"
    assert set(t["provenance"]["git_commit"]) == {"abc123"}
    assert _row(t["packages"], package="vsbench")["runs"] == 5


def test_no_sweep_and_no_runs(tmp_path):
    t = build_tables(load_runs(build_study(tmp_path, sweep=False)))
    assert t["sweeps"].empty and list(t["sweeps"].columns) == TABLE_COLUMNS["sweeps"]
    empty = build_tables([])
    assert all(df.empty and list(df.columns) == TABLE_COLUMNS[n] for n, df in empty.items())


def test_write_tables_csv_rounded_parquet_exact(study, tmp_path):
    _, t = study
    written = write_tables(t, tmp_path / "tables")
    for name in TABLE_COLUMNS:
        assert (tmp_path / "tables" / f"{name}.csv") in written
        assert (tmp_path / "tables" / f"{name}.parquet").exists()
    pq = pd.read_parquet(tmp_path / "tables" / "cost.parquet")
    assert pq.loc[pq["regime"] == "cold", "idle_share"].iloc[0] == 44 / 54
    csv_text = (tmp_path / "tables" / "cost.csv").read_text()
    assert "0.814815" in csv_text and "0.8148148148" not in csv_text
    assert pd.read_csv(tmp_path / "tables" / "sweeps.csv").shape == (3, len(TABLE_COLUMNS[
        "sweeps"]))


def test_aggregate_accepts_the_rule_s_file_list(tmp_path):
    """A rule may declare its tables as files; aggregate writes into their folder."""
    paths = build_study(tmp_path / "results", sweep=False)
    out = tmp_path / "tables"
    declared = [out / f"{n}.{ext}" for n in ("runs", "latency") for ext in ("csv", "parquet")]
    aggregate([p / "summary.json" for p in paths], [str(p) for p in declared])
    assert all(p.exists() for p in declared) and (out / "cost.parquet").exists()
    assert set(read_tables(declared)) >= {"runs", "latency", "sweeps"}
    with pytest.raises(ValueError, match="one folder"):
        as_dir([tmp_path / "a" / "x.csv", tmp_path / "b" / "y.csv"])


def test_correctness_table_scores_and_flags_a_regime_whose_answers_differ(tmp_path):
    from vsbench.run_correctness import CORRECTNESS_COLUMNS

    paths = build_study(tmp_path, sweep=False)
    for path in paths:
        req = pd.read_parquet(path / "requests.parquet")
        ok = req[(req["status"] == "ok") & ~req["warmup"]]
        warm = "/warm/" in str(path)
        rows = [{"request_id": rid, "output_digest": "other" if warm and i == 0 else "same",
                 "scored": 1, "clips_recall": 1.0, "boundary_ok_fraction": 0.5,
                 "end_err_min_s": -0.1 * (i + 1), "wer": 0.2, "last_word_present_fraction": 1.0}
                for i, rid in enumerate(ok["request_id"])]
        pd.DataFrame(rows, columns=CORRECTNESS_COLUMNS).to_parquet(path / "correctness.parquet")
    c = build_tables(load_runs(paths))["correctness"].set_index("regime")
    assert (c.loc["cold", "scored"], c.loc["cold", "ok_requests"]) == (5, 5)
    assert c.loc["cold", "boundary_ok_fraction"] == 0.5 and c.loc["cold", "wer"] == approx(0.2)
    assert c.loc["cold", "end_err_min_s"] == approx(-0.4)  # the worst end cut of any request
    assert not c.loc["cold", "differs"]
    assert bool(c.loc["warm", "differs"]) and c.loc["warm", "differing_requests"] == 1
