"""A simulated run written as an archive: the measured archive's schema, marked simulated,
and the same tables and cost model give the simulation's own figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_sim_replay import flow_latency, make_flow_run

from vsbench.analysis.cost import run_cost
from vsbench.analysis.tables import aggregate
from vsbench.archive import INVOCATION_COLUMNS, REQUEST_COLUMNS, load_archive
from vsbench.sim.archive import write_simulated
from vsbench.sim.replay import simulate_run, validation_table


def test_a_simulation_is_an_archive_marked_simulated_with_its_own_figures(tmp_path):
    run = make_flow_run(tmp_path, 0, [0.0, 30.0, 100.0], 2, [1.0, 1.0, 1.0])
    s = simulate_run(run)
    out = write_simulated(run, tmp_path / "sim", result=s)
    a = load_archive(out)
    assert list(a["requests"].columns) == REQUEST_COLUMNS
    assert list(a["invocations"].columns) == INVOCATION_COLUMNS
    assert a["summary"]["check"]["ok"] and a["summary"]["simulated"] is True
    assert a["provenance"]["simulated"]["from"] == str(run)
    assert (a["replicas"]["host"] == "simulated").all()
    req = a["requests"]
    assert req["latency_ms"].tolist() == pytest.approx(s["requests"]["latency_ms"].tolist())
    assert req["cold"].tolist() == [True, False, True]
    # one call per function and stage: orchestrator, 3 stages before the clips, 2 clips of
    # 4 calls, search
    inv = a["invocations"]
    assert inv.groupby("request_id").size().tolist() == [1 + 3 + 2 * 4 + 1] * 3
    starts = inv.groupby("request_id")["start"].agg(set)
    # the first request starts every function (its second clip reuses the first's replicas)
    assert "scale_from_zero" in starts["r0"] and starts["r1"] == {"warm"}
    first = inv[inv["request_id"] == "r0"]
    assert (first["lease_ts"] >= first["ts"]).all() and (first["end_ts"] > first["lease_ts"]).all()
    # the cost model reads the same GB-s as the validation
    cost = run_cost(a["requests"], inv, a["replicas"])
    assert cost.provisioned_gb_s == pytest.approx(s["gb_s"])
    assert cost.ok_requests == 3


def test_the_validation_writes_every_run_and_the_tables_say_simulated(tmp_path):
    lat = flow_latency(1, cold=False) * 1000
    run = make_flow_run(tmp_path / "measured", 1, [0.0, 20.0], 1, [lat, lat])
    df = validation_table([run], write_root=tmp_path / "simulated")
    [summary] = sorted((tmp_path / "simulated" / "raw").glob("*/*/*/rep*/summary.json"))
    assert summary.parent.relative_to(tmp_path / "simulated").as_posix() == "raw/embedded/r/w/rep1"
    assert json.loads(summary.read_text())["simulated"] is True
    aggregate([str(summary)], str(tmp_path / "tables"))
    runs = pd.read_parquet(tmp_path / "tables" / "runs.parquet")
    assert runs["simulated"].tolist() == [True] and runs["complete"].tolist() == [True]
    latency = pd.read_parquet(tmp_path / "tables" / "latency.parquet")
    assert latency["p50_ms"].iloc[0] == pytest.approx(df["sim_p50_ms"].iloc[0])


def test_the_cli_writes_archives_with_validate_only(tmp_path, capsys):
    from vsbench.cli import main

    run = make_flow_run(tmp_path / "measured", 1, [0.0, 20.0], 1, [1000.0, 1000.0])
    assert main(["simulate", "--validate", "--archive", str(run),
                 "--write-archives", str(tmp_path / "sim")]) == 0
    assert (tmp_path / "sim" / "raw" / "embedded" / "r" / "w" / "rep1" / "summary.json").is_file()
    capsys.readouterr()
    assert main(["simulate", "--archive", str(run), "--write-archives", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--write-archives" in err and "--validate" in err and "\n" not in err
    assert not (tmp_path / "x").exists()
