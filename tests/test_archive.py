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
    build_replicas,
    check_tables,
    keepalive_ends,
    load_archive,
    union_seconds,
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
    assert union_seconds([(0, 2), (1, 3), (5, 6)], 0, 10) == 4
    assert union_seconds([(0, 2), (1, 3), (5, 6)], 2.5, 5.5) == pytest.approx(1.0)


def _rec(rid, last, stop_ts=110.0, reason="platform_down", timeout=30.0, floor=0, fn="asr"):
    return {"function": fn, "replica_id": rid, "spawn_ts": 0.0, "ready_ts": 1.0,
            "last_active_ts": last, "stop_ts": stop_ts, "stop_reason": reason,
            "idle_timeout_s": timeout, "min_replicas": floor, "memory_mb": 1024}


def test_a_30s_keepalive_is_charged_to_its_end_not_to_the_window():
    """The window closes at 100 s, the platform goes down at 110 s: a replica last active at
    95 s with a 30 s keep-alive is charged to 125 s (25 s after the window), marked."""
    window = (0.0, 100.0)
    reps = build_replicas([_rec("a", 95.0)], [], _invocations([]).assign(
        replica_id=[], lease_ts=[], end_ts=[]), window)
    row = reps.iloc[0]
    assert row["end_kind"] == "keepalive" and row["end_ts"] == pytest.approx(125.0)
    assert row["alive_s"] == pytest.approx(125.0) and row["tail_s"] == pytest.approx(25.0)


def test_keepalive_ends_follow_the_pool():
    ends = keepalive_ends([
        _rec("idle-stopped", 10.0, stop_ts=41.0, reason="idle"),   # a real stop: as it was
        _rec("late-stop", 90.0, stop_ts=104.0, reason="idle"),     # after the window: real
        _rec("old", 80.0, floor=1), _rec("new", 90.0, floor=1),    # one kept by min_replicas
        _rec("never", 50.0, timeout=None, fn="search"),            # never scales down
        _rec("expired", 60.0, timeout=5.0, fn="ffmpeg-0"),         # past its keep-alive
    ], hi=100.0)
    assert ends["idle-stopped"] == (41.0, "stopped") and ends["late-stop"] == (104.0, "stopped")
    # the pool stops the replica idle longest first, and keeps min_replicas
    assert ends["old"] == (110.0, "keepalive") and ends["new"] == (100.0, "window")
    assert ends["never"] == (100.0, "window") and ends["expired"] == (100.0, "window")


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
    assert (reps["alive_s"] <= window[1] - window[0] + reps["tail_s"] + 1e-6).all()
    assert set(reps["end_kind"]) <= {"stopped", "keepalive", "window"}
    assert (reps["busy_s"] <= reps["alive_s"] + 1e-6).all()
    assert reps["ready_ts"].notna().all() and reps["stop_reason"].notna().all()
    prov = a["provenance"]
    assert prov["git"]["commit"] and prov["machine"]["cpu_count"] >= 1
    assert prov["config"]["scheduled_requests"] == 2 and prov["builds"]["asr"].startswith(
        "vsbench/asr:")
    assert len(a["system"]) >= 1
    cost = run_cost(req, inv, reps)
    assert cost.ok_requests == 2 and cost.active_gb_s > 0 and cost.idle_gb_s > 0
    # both answers scored against the video's truth while the store was up: the same answer
    scores = a["correctness"]
    assert sorted(scores["request_id"]) == sorted(measured["request_id"])
    assert (scores["scored"] == 1).all() and scores["output_digest"].nunique() == 1
    assert (scores["clips_recall"] > 0).all() and scores["wer"].notna().all()
    json.dumps(cost.to_dict())


def test_docs_describe_the_correctness_columns():
    from vsbench.run_correctness import CORRECTNESS_COLUMNS

    text = (REPO / "docs" / "archive.md").read_text()
    body = text.split("## correctness.parquet", 1)[1].split("\n## ", 1)[0]
    assert [c for c in re.findall(r"`([a-z_0-9]+)`", body.split("Columns:", 1)[1])
            if c in CORRECTNESS_COLUMNS or "_" in c] == CORRECTNESS_COLUMNS


def test_output_digest_is_the_answer_not_its_timing():
    from vsbench.run_correctness import output_digest

    clip = {"start_s": 1.0, "end_s": 2.0, "transcript": "a cat",
            "frames": [{"detections": [{"label": "cat"}]}], "timings": {"ms": 5}}
    a = output_digest({"clips": [clip], "matches": [{"clip": 0, "score": 1.0}]})
    b = output_digest({"clips": [{**clip, "end_s": 2.001, "timings": {"ms": 9}}],
                       "matches": [{"clip": 0, "score": 0.5}]})
    c = output_digest({"clips": [{**clip, "transcript": "a hat"}], "matches": [{"clip": 0}]})
    assert a == b and a != c and output_digest(None) is None
