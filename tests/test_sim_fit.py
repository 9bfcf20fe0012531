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
    # each run's 50 s warm-up call was running through every measured call and start; in
    # the first run the orchestrator's replica started at the same instant as detect's
    assert det.service.loads == [1, 1, 1] and det.cold_start.loads == [2, 1]
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


def test_each_sample_carries_the_machines_load_when_it_began(tmp_path):
    import pandas as pd

    from vsbench.sim.fit import _loads

    inv = pd.DataFrame({
        "function": ["orchestrator", "a", "a", "b", "b"],
        "lease_ts": [0.0, 1.0, 1.5, 2.0, 9.0],
        "end_ts": [10.0, 3.0, 2.5, 4.0, 9.5]})
    reps = pd.DataFrame({"function": ["b", "c"], "spawn_ts": [0.5, 1.8],
                         "ready_ts": [1.2, None]})  # c never came up: not load
    calls, starts = _loads(inv, reps)
    # a@1.0: b's start (0.5-1.2); a@1.5: the first a; b@2.0: both a; b@9.0: nothing;
    # the orchestrator waits on the others and is not load of its own
    assert calls.tolist()[1:] == [1, 1, 2, 0]
    assert starts.tolist() == [0, 2]  # c spawned at 1.8 while both a ran


def test_a_draw_at_a_load_takes_samples_from_about_that_load():
    import random

    e = Empirical([0.1, 0.2, 5.0, 6.0], loads=[0, 0, 10, 12])
    rng = random.Random(0)
    assert {e.at_load(rng, 0) for _ in range(50)} == {0.1, 0.2}
    assert {e.at_load(rng, 9) for _ in range(50)} == {5.0, 6.0}  # 9-12: one band
    assert {e.at_load(rng, 40) for _ in range(50)} == {5.0, 6.0}  # nearest band with samples
    assert {e.at_load(rng, 2) for _ in range(50)} == {0.1, 0.2}
    assert {e(rng) for _ in range(200)} == {0.1, 0.2, 5.0, 6.0}  # unconditioned: all
    with pytest.raises(ValueError, match="one load per sample"):
        Empirical([1.0], loads=[0, 1])
