"""The starters table and its report section, on made-up runs: a starter is set against the
regime that differs from it only by spawning, and the words follow the intervals."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from vsbench.analysis.report_starters import starter_rows, starter_sentences
from vsbench.analysis.starters import STARTER_COLUMNS, starters_table

POLICY = {"min_replicas": 0, "max_replicas": 4, "idle_timeout_s": 10, "memory_mb": 512}


def _run(regime, rep, latencies, starter="spawn", held_s=0.0):
    reps = pd.DataFrame({"role": ["replica", "template" if starter == "fork-server" else
                                  "replica"], "served": [3, 0], "alive_s": [10.0, held_s],
                         "memory_mb": [512, 512]})
    pol = {**POLICY, "starter": starter}
    run = SimpleNamespace(platform="embedded", regime=regime, workload="burst", rep=rep,
                          policies={"orchestrator": pol, "asr": pol},
                          archive={"replicas": reps})
    req = pd.DataFrame({"status": "ok", "latency_ms": latencies})
    return run, (req, pd.DataFrame())


def test_a_fork_server_against_its_spawn_regime():
    rng = np.random.default_rng(0)
    groups, measured = {}, {}
    for regime, starter, centre in (("cold", "spawn", 20000), ("cold-fs", "fork-server", 8000),
                                    ("warm", "spawn", 9000)):
        runs = []
        for rep in range(3):
            run, m = _run(regime, rep, rng.normal(centre, 300, 6), starter, held_s=60.0)
            if regime == "warm":
                run.policies = {f: {**p, "min_replicas": 1} for f, p in run.policies.items()}
            runs.append(run)
            measured[id(run)] = m
        groups[("embedded", regime, "burst")] = runs
    lat = pd.DataFrame([{"platform": "embedded", "regime": g, "workload": "burst", "n": 18,
                         "cold_fraction": c, "p50_ms": p, "p99_ms": p * 1.2,
                         "p50_cold_ms": p} for g, c, p in (("cold", 1.0, 20000),
                                                           ("cold-fs", 1.0, 8000),
                                                           ("warm", 0.0, 9000))])
    cost = pd.DataFrame([{"platform": "embedded", "regime": g, "workload": "burst",
                          "ok_requests": 18, "total_gb_s_per_ok": t,
                          "total_gb_s_per_ok_low": t * 0.9, "total_gb_s_per_ok_high": t * 1.1}
                         for g, t in (("cold", 50.0), ("cold-fs", 70.0), ("warm", 40.0))])
    st = starters_table(groups, measured, lat, cost, seed=1)
    assert list(st.columns) == STARTER_COLUMNS and len(st) == 1
    r = st.iloc[0]
    # against cold (equal but for the starter), not warm (min_replicas differs)
    assert (r["regime"], r["starter"], r["base_regime"]) == ("cold-fs", "fork-server", "cold")
    assert r["p50_verdict"] == "faster" and r["p50_ratio_high"] < 1
    assert r["cost_verdict"] == "higher"
    assert abs(r["held_gb_s_per_ok"] - 3 * 60.0 * 0.5 / 18) < 1e-9  # 3 templates at 0.5 GB
    [sentence] = starter_sentences(st, multi=False)
    assert "a fork server (cold-fs against cold): median latency shorter" in sentence
    assert "it costs more per ok request" in sentence
    assert starter_rows(st, multi=False)[0][:4] == ["cold-fs", "burst", "fork-server", "cold"]
    # no spawn twin: said so, no verdict invented
    del groups[("embedded", "cold", "burst")]
    st = starters_table(groups, measured, lat, cost, seed=1)
    assert st.iloc[0]["base_regime"] == "" and st.iloc[0]["p50_verdict"] == \
        "no detectable difference"
    assert "nothing to set it against" in starter_sentences(st, multi=False)[0]


def test_the_report_shows_the_section_only_with_rows(tmp_path):
    from vsbench.analysis.report import render_report

    st = pd.DataFrame([{c: np.nan for c in STARTER_COLUMNS} | {
        "platform": "embedded", "workload": "burst", "regime": "cold-pw", "starter": "prewarm",
        "base_regime": "cold", "p50_verdict": "faster", "p99_verdict": "no detectable "
        "difference", "cost_verdict": "higher", "p50_ratio": 0.4, "p50_ratio_low": 0.3,
        "p50_ratio_high": 0.5}])
    tables = tmp_path / "tables"
    tables.mkdir()
    st.to_parquet(tables / "starters.parquet")
    html = render_report(tables, None, tmp_path / "r.html").read_text()
    assert "What removes a cold start" in html and "pre-warmed spares (cold-pw against cold)" \
        in html
    (tables / "starters.parquet").unlink()
    pd.DataFrame(columns=STARTER_COLUMNS).to_parquet(tables / "starters.parquet")
    assert "What removes a cold start" not in render_report(tables, None,
                                                            tmp_path / "r.html").read_text()
