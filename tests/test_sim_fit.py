"""The simulator's times come from run archives: service lease→end of ok calls, cold start
spawn→ready of replicas that served, each function's memory limit."""

from __future__ import annotations

import pytest
from test_tables import make_run

from vsbench.errors import VsbError
from vsbench.sim.fit import Empirical, function_times


def test_times_are_the_archives_own_samples(tmp_path):
    a = make_run(tmp_path, "cold", 1, [1000.0, 1200.0], [True, False],
                 {"orchestrator": (30.0, 5.0), "detect": (20.0, 2.0)})
    b = make_run(tmp_path, "warm", 1, [900.0], [False], {"detect": (10.0, 1.0)})
    times = function_times([a, b])
    assert set(times) == {"orchestrator", "detect"}
    det = times["detect"]
    assert sorted(det.service.samples) == pytest.approx([0.5, 0.5, 0.5])  # warm-up left out
    assert det.cold_start.samples == pytest.approx([0.4, 0.4])  # spawn 5.0 → ready 5.4
    assert det.memory_mb == 2048 and len(det.sources) == 2
    assert times["orchestrator"].service.median() == pytest.approx(1.0)


def test_templates_are_not_cold_starts(tmp_path):
    import pandas as pd

    a = make_run(tmp_path, "cold", 1, [1000.0], [True], {"detect": (20.0, 2.0)})
    reps = pd.read_json(a / "replicas.jsonl", lines=True)
    tpl = reps.iloc[0].to_dict() | {"replica_id": "detect-template", "role": "template",
                                    "ready_ts": reps.iloc[0]["spawn_ts"] + 9.0}
    reps = pd.concat([reps.assign(role="replica"), pd.DataFrame([tpl])])
    reps.to_json(a / "replicas.jsonl", orient="records", lines=True)
    assert function_times([a])["detect"].cold_start.samples == pytest.approx([0.4])


def test_no_archive_or_nothing_to_draw_from_says_so(tmp_path):
    with pytest.raises(VsbError, match="no run archive given"):
        function_times([])
    with pytest.raises(VsbError, match="not a run archive"):
        function_times([tmp_path])
    a = make_run(tmp_path, "cold", 1, [1000.0], [True], {})  # calls, but no replica record
    with pytest.raises(VsbError, match="nothing to draw from"):
        function_times([a])
    with pytest.raises(ValueError):
        Empirical([])
