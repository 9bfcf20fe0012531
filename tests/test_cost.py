"""Cost model: hand-computed answers on a small archive, attribution, warm-up, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from vsbench.analysis.cost import (
    Prices,
    RunCost,
    invocation_costs,
    replica_costs,
    request_costs,
    run_cost,
)

approx = pytest.approx


def _requests(rows):
    return pd.DataFrame(rows, columns=["request_id", "status", "warmup", "scheduled_ts", "end_ts"])


def _invocations(rows):
    return pd.DataFrame(rows, columns=["request_id", "function", "replica_id", "exec_ms",
                                       "memory_mb", "status", "warmup"])


def _replicas(rows):
    return pd.DataFrame(rows, columns=["function", "replica_id", "memory_mb", "alive_s", "busy_s",
                                       "spawn_ts", "stop_ts"])


@pytest.fixture
def archive():
    """2 functions, 3 replicas, 4 requests (1 warm-up, 1 app_error with a retry), 1 orphan call.

    Hand-computed answers (GB = 1024 MB):
      replicas  d1: 1 GB, alive 10, busy 4 -> idle 6,  prov 10
                d2: 1 GB, alive 5,  busy 5 -> idle 0,  prov 5
                t1: 2 GB, alive 8,  busy 2 -> idle 12, prov 16      idle 18, prov 31
      calls     w0 detect 500 ms 1 GB  = 0.5 (warm-up, excluded)
                q1 detect 1000 ms 1 GB = 1.0, q1 transcribe 500 ms 2 GB = 1.0   -> q1 2.0
                q2 detect 250 ms = 0.25 (500), retry 750 ms = 0.75 (500)       -> q2 1.0
                q3 detect 2000 ms = 2.0                                        -> q3 2.0
                orphan (request_id None) detect 1000 ms = 1.0 (unattributed)
      run active = 6.0, measured active = 5.0, idle 18, total 24, ok requests 2 -> 12 per ok.
    """
    requests = _requests([
        ("w0", "ok", True, 100.0, 100.5),
        ("q1", "ok", False, 101.0, 102.0),
        ("q2", "app_error", False, 102.0, 103.5),
        ("q3", "ok", False, 103.0, 105.0),
    ])
    invocations = _invocations([
        ("w0", "detect", "d1", 500.0, 1024, 200, True),
        ("q1", "detect", "d1", 1000.0, 1024, 200, False),
        ("q1", "transcribe", "t1", 500.0, 2048, 200, False),
        ("q2", "detect", "d1", 250.0, 1024, 500, False),
        ("q2", "detect", "d2", 750.0, 1024, 500, False),
        ("q3", "detect", "d2", 2000.0, 1024, 200, False),
        (None, "detect", "d2", 1000.0, 1024, 200, False),
    ])
    replicas = _replicas([
        ("detect", "d1", 1024, 10.0, 4.0, 100.0, 110.0),
        ("detect", "d2", 1024, 5.0, 5.0, 102.0, 107.0),
        ("transcribe", "t1", 2048, 8.0, 2.0, 100.0, 108.0),
    ])
    return requests, invocations, replicas


def test_invocation_and_replica_costs(archive):
    _, invocations, replicas = archive
    inv = invocation_costs(invocations)
    assert list(inv["active_gb_s"]) == approx([0.5, 1.0, 1.0, 0.25, 0.75, 2.0, 1.0])
    # FAVE units (duration_s * memory_MB / 1024) equal active GB-s numerically.
    assert list(inv["fave_units"]) == approx(list(inv["active_gb_s"]), rel=1e-12)
    assert "active_gb_s" not in invocations  # input left untouched

    rep = replica_costs(replicas)
    assert list(rep["idle_gb_s"]) == approx([6.0, 0.0, 12.0])
    assert list(rep["provisioned_gb_s"]) == approx([10.0, 5.0, 16.0])
    assert list(rep["utilisation"]) == approx([0.4, 1.0, 0.25])


def test_request_costs_known_answers(archive):
    table = request_costs(*archive)
    assert list(table.columns) == ["request_id", "status", "active_gb_s", "idle_gb_s",
                                   "total_gb_s", "fave_units"]
    t = table.set_index("request_id")
    assert list(t.index) == ["q1", "q2", "q3"]  # warm-up excluded
    assert t.loc["q2", "status"] == "app_error"
    assert list(t["active_gb_s"]) == approx([2.0, 1.0, 2.0])  # q2: failed attempt + retry
    assert list(t["idle_gb_s"]) == approx([18 * 2 / 5, 18 * 1 / 5, 18 * 2 / 5])  # 7.2, 3.6, 7.2
    assert list(t["total_gb_s"]) == approx([9.2, 4.6, 9.2])
    assert list(t["fave_units"]) == approx(list(t["active_gb_s"]))
    # Proportional attribution sums back to the run's idle total.
    assert t["idle_gb_s"].sum() == approx(18.0)


def test_run_cost_known_answers(archive):
    rc = run_cost(*archive)
    assert rc.active_gb_s == approx(6.0)
    assert rc.idle_gb_s == approx(18.0)
    assert rc.total_gb_s == approx(24.0)
    assert rc.provisioned_gb_s == approx(31.0)
    assert rc.fave_units == approx(rc.active_gb_s)
    assert rc.ok_requests == 2
    assert rc.invocations == 6
    assert rc.gb_s_per_ok_request == approx(12.0)
    assert rc.unattributed_active_gb_s == approx(1.0)
    assert rc.warmup_active_gb_s == approx(0.5)
    assert rc.invocations_without_exec_ms == 0
    # Default list prices.
    usd = 24.0 * 0.0000166667 + 6 * 0.20 / 1e6
    assert rc.usd_total == approx(usd)
    assert rc.usd_per_ok_request == approx(usd / 2)

    f = rc.by_function.set_index("function")
    assert list(f.index) == ["detect", "transcribe"]
    assert list(f["active_gb_s"]) == approx([5.0, 1.0])
    assert list(f["idle_gb_s"]) == approx([6.0, 12.0])
    assert list(f["provisioned_gb_s"]) == approx([15.0, 16.0])
    assert list(f["invocations"]) == [5, 1]
    assert list(f["replicas"]) == [2, 1]
    assert list(f["alive_s"]) == approx([15.0, 8.0])
    assert list(f["busy_s"]) == approx([9.0, 2.0])
    assert list(f["utilisation"]) == approx([0.6, 0.25])


def test_configurable_prices(archive):
    rc = run_cost(*archive, prices=Prices(gb_s_usd=0.01, per_million_requests_usd=1e6))
    assert rc.usd_total == approx(24 * 0.01 + 6 * 1.0)
    assert rc.usd_per_ok_request == approx(6.24 / 2)


def test_idle_only_run():
    replicas = _replicas([("detect", "d1", 512, 30.0, 0.0, 0.0, 30.0)])
    rc = run_cost(_requests([]), _invocations([]), replicas)
    assert rc.active_gb_s == 0.0
    assert rc.fave_units == 0.0
    assert rc.idle_gb_s == approx(15.0)
    assert rc.provisioned_gb_s == approx(15.0)
    assert rc.usd_total == approx(15.0 * Prices().gb_s_usd)
    assert rc.ok_requests == 0
    assert math.isnan(rc.gb_s_per_ok_request)  # nothing to divide by
    row = rc.by_function.iloc[0]
    assert (row["function"], row["invocations"], row["replicas"]) == ("detect", 0, 1)
    assert row["utilisation"] == 0.0
    assert request_costs(_requests([]), _invocations([]), replicas).empty


def test_empty_tables_give_zeros():
    for tables in [(_requests([]), _invocations([]), _replicas([])),
                   (pd.DataFrame(), pd.DataFrame(), pd.DataFrame())]:
        rc = run_cost(*tables)
        assert (rc.active_gb_s, rc.idle_gb_s, rc.provisioned_gb_s, rc.usd_total) == (0, 0, 0, 0)
        assert rc.by_function.empty
        assert request_costs(*tables).empty
        json.dumps(rc.to_dict(), allow_nan=False)


def test_warmup_exclusion(archive):
    requests, invocations, replicas = archive
    base = run_cost(*archive)
    # More warm-up work, flagged either on the request or only on the invocation, changes
    # nothing but warmup_active_gb_s.
    extra_req = pd.concat([requests, _requests([("w1", "ok", True, 99.0, 99.5)])],
                          ignore_index=True)
    extra_inv = pd.concat([invocations, _invocations([
        ("w1", "detect", "d1", 4000.0, 1024, 200, False),      # warm-up by its request
        ("q1", "transcribe", "t1", 1000.0, 2048, 200, True),   # warm-up by its own flag
    ])], ignore_index=True)
    rc = run_cost(extra_req, extra_inv, replicas)
    assert rc.warmup_active_gb_s == approx(0.5 + 4.0 + 2.0)
    for name in ("active_gb_s", "idle_gb_s", "fave_units", "ok_requests", "invocations",
                 "gb_s_per_ok_request", "usd_total"):
        assert getattr(rc, name) == approx(getattr(base, name)), name
    table = request_costs(extra_req, extra_inv, replicas)
    assert list(table["request_id"]) == ["q1", "q2", "q3"]
    assert list(table["active_gb_s"]) == approx([2.0, 1.0, 2.0])
    # A failed warm-up request is not a measured request either.
    assert "w1" not in set(table["request_id"])


def test_attribution_sums_to_idle_with_dropped_and_zero_active():
    requests = _requests([
        ("a", "ok", False, 0.0, 1.0),
        ("b", "timeout", False, 0.0, 9.0),
        ("c", "dropped", False, 0.0, np.nan),
    ])
    invocations = _invocations([
        ("a", "f", "r1", 300.0, 256, 200, False),
        ("b", "f", "r1", 900.0, 256, 504, False),
    ])
    replicas = _replicas([("f", "r1", 256, 20.0, 3.0, 0.0, 20.0),
                          ("f", "r2", 256, 7.0, 9.0, 0.0, 7.0)])  # busy > alive: idle 0
    table = request_costs(requests, invocations, replicas)
    idle = 17.0 * 0.25
    assert table["idle_gb_s"].sum() == approx(idle)
    assert list(table["idle_gb_s"]) == approx([idle * 0.25, idle * 0.75, 0.0])
    assert list(table["total_gb_s"]) == approx(list(table["active_gb_s"] + table["idle_gb_s"]))
    # A call with no exec_ms (NaN) costs 0 and is counted.
    lost = pd.concat([invocations, _invocations([("c", "f", "r1", np.nan, 256, 504, False)])],
                     ignore_index=True)
    rc = run_cost(requests, lost, replicas)
    assert rc.active_gb_s == approx(0.3) and rc.invocations_without_exec_ms == 1
    # Nothing consumed: nothing attributed, no division by zero.
    none = request_costs(requests, _invocations([]), replicas)
    assert list(none["idle_gb_s"]) == [0.0, 0.0, 0.0]


def test_missing_columns_named(archive):
    requests, invocations, replicas = archive
    with pytest.raises(ValueError, match=r"invocations.*exec_ms, memory_mb"):
        run_cost(requests, invocations.drop(columns=["exec_ms", "memory_mb"]), replicas)
    with pytest.raises(ValueError, match=r"replicas.*busy_s"):
        replica_costs(replicas.drop(columns=["busy_s"]))
    with pytest.raises(ValueError, match=r"requests.*warmup"):
        request_costs(requests.drop(columns=["warmup"]), invocations, replicas)
    # Missing columns are an error even when the table has no rows.
    with pytest.raises(ValueError, match=r"replicas.*alive_s"):
        run_cost(requests, invocations, replicas.iloc[:0].drop(columns=["alive_s"]))


@pytest.mark.parametrize("table,column", [
    ("invocations", "exec_ms"), ("replicas", "alive_s"), ("replicas", "busy_s"),
])
def test_negative_times_rejected(archive, table, column):
    requests, invocations, replicas = archive
    tables = {"requests": requests, "invocations": invocations.copy(),
              "replicas": replicas.copy()}
    tables[table].loc[1, column] = -1.0
    with pytest.raises(ValueError, match=rf"{table}\.{column}.*negative"):
        run_cost(tables["requests"], tables["invocations"], tables["replicas"])


def test_to_dict_json_serialisable(archive):
    rc = run_cost(*archive)
    assert isinstance(rc, RunCost)
    d = json.loads(json.dumps(rc.to_dict(), allow_nan=False))
    assert d["total_gb_s"] == approx(24.0)
    assert d["fave_units"] == approx(d["active_gb_s"])
    assert [r["function"] for r in d["by_function"]] == ["detect", "transcribe"]
    assert d["by_function"][0]["invocations"] == 5
    # NaN ratios (idle-only run, zero-alive replica) become null, not invalid JSON.
    idle = run_cost(_requests([]), _invocations([]),
                    _replicas([("f", "r", 128, 0.0, 0.0, 0.0, 0.0)]))
    d = json.loads(json.dumps(idle.to_dict(), allow_nan=False))
    assert d["gb_s_per_ok_request"] is None
    assert d["by_function"][0]["utilisation"] is None
