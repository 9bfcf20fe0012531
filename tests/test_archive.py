"""The archive: completeness checks, schema (kept equal to docs/archive.md), a real run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vsbench.archive import (
    INVOCATION_COLUMNS,
    REPLICA_COLUMNS,
    REQUEST_COLUMNS,
    _union_seconds,
    check_tables,
    load_archive,
)

REPO = Path(__file__).resolve().parents[1]


def _requests(statuses, warmup=0):
    rows = [{"seq": i, "request_id": f"r{i}", "warmup": False, "status": s}
            for i, s in enumerate(statuses)]
    rows += [{"seq": i, "request_id": f"w{i}", "warmup": True, "status": "ok"}
             for i in range(warmup)]
    return pd.DataFrame(rows)


def _invocations(ids):
    return pd.DataFrame({"request_id": ids, "function": ["asr"] * len(ids)})


def test_complete_archive_passes():
    check = check_tables(_requests(["ok", "dropped", "timeout"], warmup=1),
                         _invocations(["r0", "r0", "w0"]), scheduled=3)
    assert check.ok, check.problems
    assert check.terminal == {"ok": 1, "app_error": 0, "http_error": 0, "timeout": 1,
                              "dropped": 1}
    assert "all 3 scheduled requests have exactly one terminal record" in check.sentence()


def test_missing_duplicate_and_unfinished_requests_are_reported():
    req = _requests(["ok", "ok", ""])
    req.loc[1, "seq"] = 0  # seq 1 missing, seq 0 twice
    check = check_tables(req, _invocations([]), scheduled=3)
    assert not check.ok
    text = " ".join(check.problems)
    assert "missing seq [1]" in text and "duplicated [0]" in text
    assert "without a terminal status" in text


def test_orphan_invocations_are_reported():
    check = check_tables(_requests(["ok"]), _invocations(["r0", "zz"]), scheduled=1)
    assert not check.ok and "1 invocations belong to no request" in check.problems[0]


def test_busy_union_clips_and_merges():
    assert _union_seconds([(0, 2), (1, 3), (5, 6)], 0, 10) == 4
    assert _union_seconds([(0, 2), (1, 3), (5, 6)], 2.5, 5.5) == pytest.approx(1.0)


def _documented_columns(section: str) -> list[str]:
    text = (REPO / "docs" / "archive.md").read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    cols = []
    for line in body.splitlines():
        if line.startswith("| `"):
            cols += re.findall(r"`([a-z_0-9]+)`", line.split("|")[1])
    return cols


def test_docs_describe_every_column():
    assert _documented_columns("requests.parquet") == REQUEST_COLUMNS
    assert set(_documented_columns("invocations.parquet")) == set(INVOCATION_COLUMNS)
    assert _documented_columns("replicas.jsonl") == REPLICA_COLUMNS


@pytest.mark.slow
def test_experiment_writes_a_complete_archive(tmp_path):
    from vsbench.analysis.cost import run_cost
    from vsbench.experiment import ExperimentSpec, run_experiment

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["workloads"] = {"pair": {"pattern": "burst", "burst_size": 2, "duration_s": 1}}
    config["experiment"].update(warmup_requests=1, cooldown_s=0.5,
                                app_config={"max_parallel_clips": 1})
    out = run_experiment(config, ExperimentSpec("warm", "pair", 1, tmp_path))
    assert out == tmp_path / "raw" / "embedded" / "warm" / "pair" / "rep1"
    a = load_archive(out)
    req, inv, reps = a["requests"], a["invocations"], a["replicas"]
    assert list(req.columns) == REQUEST_COLUMNS and list(inv.columns) == INVOCATION_COLUMNS
    assert a["summary"]["check"]["ok"] is True
    measured = req[~req["warmup"]]
    assert sorted(measured["seq"]) == [0, 1] and set(measured["status"]) == {"ok"}
    assert req["warmup"].sum() == 1 and inv["warmup"].any()
    assert (measured["latency_ms"] >= measured["service_ms"]).all()
    assert set(inv["function"]) >= {"orchestrator", "ffmpeg-0", "asr", "search"}
    ok_calls = inv[inv["status"] == 200]
    assert ok_calls["exec_ms"].notna().all() and ok_calls["cpu_ms"].gt(0).all()
    # Warm regime, one clip at a time: the lone warm-up found every min replica up; the pair
    # of concurrent requests may need a second replica of a stage, which is a cold start.
    assert not inv[inv["warmup"]]["cold"].any()
    assert inv["cold"].dtype == bool
    window = a["provenance"]["window"]
    assert (reps["alive_s"] <= window[1] - window[0] + 1e-6).all()
    assert (reps["busy_s"] <= reps["alive_s"] + 1e-6).all()
    assert reps["ready_ts"].notna().all() and reps["stop_reason"].notna().all()
    prov = a["provenance"]
    assert prov["git"]["commit"] and prov["machine"]["cpu_count"] >= 1
    assert prov["config"]["scheduled_requests"] == 2 and prov["builds"]["asr"].startswith(
        "vsbench/asr:")
    assert len(a["system"]) >= 1
    cost = run_cost(req, inv, reps)
    assert cost.ok_requests == 2 and cost.active_gb_s > 0 and cost.idle_gb_s > 0
    json.dumps(cost.to_dict())
