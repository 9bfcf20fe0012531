"""Cold-start components per platform (vsbench.analysis.startup) on hand-made lifecycles."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from vsbench.analysis.startup import STARTUP_COLUMNS, replica_components, startup_table


def _replica(fn, spawn, proc, up, imp, init, ready, create=None, start=None):
    return {"function": fn, "spawn_ts": spawn, "create_done_ts": create, "start_call_ts": start,
            "process_start_ts": proc, "runtime_up_ts": up, "import_ms": imp, "init_ms": init,
            "ready_ts": ready}


def _run(platform, rows):
    return SimpleNamespace(platform=platform, archive={"replicas": pd.DataFrame(rows)})


def test_components_add_up_and_engine_parts_only_exist_on_containers():
    process = _run("embedded", [
        _replica("asr", 100.0, 100.010, 100.110, 20.0, 300.0, 100.450),
        _replica("asr", 200.0, 200.030, 200.130, 20.0, 300.0, 200.470),
        _replica("asr", 300.0, None, None, None, None, None),  # never ready: left out
    ])
    container = _run("embedded-container", [
        _replica("asr", 100.0, 100.150, 100.250, 20.0, 300.0, 100.600, create=100.060,
                 start=100.070),
    ])
    t = startup_table([process, container], {"asr": 0})
    assert list(t.columns) == STARTUP_COLUMNS
    p = t[t.platform == "embedded"].iloc[0]
    c = t[t.platform == "embedded-container"].iloc[0]
    assert p.replicas == 2 and c.replicas == 1
    assert math.isclose(p.provision_ms, 20.0) and math.isclose(p.runtime_up_ms, 100.0)
    assert math.isclose(p.ready_ms, 460.0)
    assert math.isclose(p.other_ms, 460.0 - (20 + 100 + 20 + 300))
    assert math.isnan(p.engine_create_ms) and math.isnan(p.engine_start_ms)
    assert math.isclose(c.engine_create_ms, 60.0) and math.isclose(c.engine_start_ms, 80.0)
    assert math.isclose(c.provision_ms, 150.0)  # create + the gap + start


def test_no_replicas_gives_an_empty_table_with_its_columns():
    assert list(startup_table([]).columns) == STARTUP_COLUMNS
    empty = _run("embedded", [])
    assert startup_table([empty]).empty
    assert replica_components(pd.DataFrame({"function": ["x"]})).empty
