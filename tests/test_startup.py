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


def test_platform_summary_follows_the_sign_of_the_data():
    from vsbench.analysis.report import _startup_summary

    st = pd.DataFrame([
        {"function": "a", "platform": "embedded", "provision_ms": 100.0, "ready_ms": 500.0},
        {"function": "b", "platform": "embedded", "provision_ms": 100.0, "ready_ms": 900.0},
        {"function": "a", "platform": "kubernetes", "provision_ms": 700.0, "ready_ms": 1200.0},
        {"function": "b", "platform": "kubernetes", "provision_ms": 650.0, "ready_ms": 1500.0},
        {"function": "a", "platform": "embedded-container", "provision_ms": 40.0,
         "ready_ms": 400.0},
    ])
    lines = _startup_summary(st)
    assert len(lines) == 2
    k8s = next(x for x in lines if "on kubernetes" in x)
    assert "575 ms longer to provision" in k8s and "650 ms longer from spawn to ready" in k8s
    assert "over the 2 functions" in k8s
    ctr = next(x for x in lines if "on embedded-container" in x)
    assert "60 ms shorter to provision" in ctr and "over the 1 function both" in ctr
    assert _startup_summary(st[st["platform"] == "embedded"]) == []
