"""A real run of VideoSearcher with faults injected (replicas killed, the store down): every
scheduled request still ends with exactly one terminal record, the faults are archived, each
failure names its reason and the fault that hit it, and the reliability table counts them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vsbench.analysis.reliability import reliability_tables
from vsbench.analysis.runs import load_runs
from vsbench.archive import FAULT_COLUMNS, load_archive

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_with_kills_and_an_outage_ends_every_request_and_archives_the_faults(tmp_path):
    from vsbench.experiment import ExperimentSpec, run_experiment

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["workloads"] = {"faulty": {"pattern": "steady", "rate": 0.5, "duration_s": 8}}
    config["experiment"].update(
        cooldown_s=0.5, retries=2, app_config={"max_parallel_clips": 1},
        faults={"faulty": [{"kind": "kill_replica", "every_s": 2, "times": 3},
                           {"kind": "storage_outage", "at_s": 7, "duration_s": 2}],
                "other": [{"kind": "gateway_restart", "at_s": 1}]})  # not this run's
    out = run_experiment(config, ExperimentSpec("warm", "faulty", 1, tmp_path))
    a = load_archive(out)
    req, faults = a["requests"], a["faults"]
    assert a["summary"]["check"]["ok"] is True  # every request: exactly one terminal status
    assert list(faults.columns) == FAULT_COLUMNS
    assert faults["kind"].tolist().count("kill_replica") == 3
    assert faults["kind"].tolist().count("storage_outage") == 1
    assert "gateway_restart" not in set(faults["kind"])
    assert set(faults["outcome"]) <= {"injected", "missed"}
    outage = faults[faults["kind"] == "storage_outage"].iloc[0]
    assert outage["outcome"] == "injected" and outage["end_ts"] - outage["ts"] >= 2
    kills = faults[(faults["kind"] == "kill_replica") & (faults["outcome"] == "injected")]
    assert len(kills) >= 1  # 4 requests of ~10 s each: some replica is busy at 2, 4 or 6 s
    died = a["replicas"][a["replicas"]["stop_reason"] == "died"]["replica_id"]
    assert set(kills["replica_id"]) <= set(died)
    assert (req["attempts"] >= 1).all()
    failed = req[req["status"] != "ok"]
    assert failed["reason"].notna().all()
    # a failure during the run came from a fault, and says which
    assert failed["fault"].notna().all(), failed[["status", "reason", "fault"]]
    assert set(req["fault"].dropna()) <= set(faults["fault_id"])
    assert a["provenance"]["config"]["experiment"]["faults"]["faulty"][0]["every_s"] == 2
    rel, events = reliability_tables(load_runs([out]))
    assert len(rel) == 1 and len(events) == len(faults)
    row = rel.iloc[0]
    assert row["kills"] == len(kills) and row["storage_outages"] == 1
    assert row["ok"] + row["app_error"] + row["http_error"] + row["timeout"] \
        + row["dropped"] == row["requests"] == 4
