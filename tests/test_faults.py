"""Faults: the config's ``experiment.faults`` parsed and planned, and the platform injecting
each kind through ``POST /system/faults`` (noop replicas and the real S3 server)."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import requests
from conftest import wait_for

from functions.runtime.claimcheck import ClaimCheckStore
from functions.runtime.errors import StorageUnavailable
from vsbench.errors import VsbError
from vsbench.faults import FaultSpec, attribute, parse_faults, plan_faults
from vsbench.platform.daemon import _alive
from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.platform.policy import ScalingPolicy


# --- config --------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, words", [
    ({"kind": "kill_replica"}, "a list"),
    ([{"kind": "meteor"}], "one of kill_replica"),
    ([{"kind": "kill_replica"}], "'every_s' or 'times'"),
    ([{"kind": "kill_replica", "every_s": 0}], "more than 0"),
    ([{"kind": "kill_replica", "every_s": -1}], "'every_s' must be a number"),
    ([{"kind": "kill_replica", "times": 2.5}], "'times' must be an integer"),
    ([{"kind": "kill_replica", "times": 2, "at_s": 3}], "unknown keys ['at_s']"),
    ([{"kind": "storage_outage", "at_s": 3}], "needs 'duration_s'"),
    ([{"kind": "gateway_restart"}], "needs 'at_s'"),
    ([{"kind": "kill_replica", "times": 2, "busy": "yes"}], "'busy' must be true or false"),
])
def test_bad_fault_config_is_one_clear_error(raw, words):
    with pytest.raises(VsbError) as err:
        parse_faults(raw)
    assert words in str(err.value) and "experiment.faults" in str(err.value)


def test_plan_every_times_and_spread():
    every = plan_faults(parse_faults([{"kind": "kill_replica", "every_s": 4}]), 20)
    assert [p.offset_s for p in every] == [4, 8, 12, 16, 20]
    capped = plan_faults([FaultSpec("kill_replica", every_s=4, times=2, start_s=1)], 20)
    assert [(p.offset_s, p.until_s) for p in capped] == [(1, 5), (5, 9)]
    spread = plan_faults([FaultSpec("kill_replica", times=3)], 20)
    assert [p.offset_s for p in spread] == [5, 10, 15]
    mixed = plan_faults(parse_faults([
        {"kind": "storage_outage", "at_s": 7, "duration_s": 2},
        {"kind": "kill_replica", "every_s": 5}]), 12)
    assert [(p.spec.kind, p.offset_s) for p in mixed] == [
        ("kill_replica", 5), ("storage_outage", 7), ("kill_replica", 10)]


def test_attribution_kill_by_replica_outage_by_time():
    faults = pd.DataFrame([
        {"fault_id": "kill_replica-0", "kind": "kill_replica", "ts": 10.0, "end_ts": 10.0,
         "outcome": "injected", "replica_id": "ffmpeg-0-1"},
        {"fault_id": "storage_outage-1", "kind": "storage_outage", "ts": 20.0,
         "end_ts": 25.0, "outcome": "injected", "replica_id": None},
        {"fault_id": "kill_replica-2", "kind": "kill_replica", "ts": 30.0, "end_ts": 30.0,
         "outcome": "missed", "replica_id": None}])
    requests_ = pd.DataFrame({"request_id": ["a", "b", "c", "d"],
                              "sent_ts": [9.0, 9.5, 24.0, 29.0],
                              "scheduled_ts": [9.0, 9.5, 24.0, 29.0],
                              "end_ts": [12.0, 11.0, 26.0, 31.0]})
    calls = pd.DataFrame({"request_id": ["a", "b"], "replica_id": ["ffmpeg-0-1", "asr-0"],
                          "ts": [9.8, 9.8], "duration_ms": [500.0, 500.0]})
    hit = attribute(faults, requests_, calls)
    # a: on the killed replica; b: elsewhere at the time; c: during the outage; d: missed kill
    assert hit.tolist() == ["kill_replica-0", None, "storage_outage-1", None]


# --- the platform ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with EmbeddedPlatform(tmp_path_factory.mktemp("platform")) as p:
        yield p


def _fault(platform, **body) -> requests.Response:
    return platform.admin().post_fault(body)


def _invoke(platform, sleep_ms=0, timeout=30):
    return requests.post(f"{platform.gateway_url}/function/noop", timeout=timeout,
                         json={"request_id": "t", "stage": "noop",
                               "config": {"sleep_ms": sleep_ms}})


def _deploy_noop(platform, **policy):
    pol = ScalingPolicy(**{"memory_mb": 256, "idle_timeout_s": None, **policy}).validate()
    platform.admin().deploy("noop", pol, "vsbench/noop:test")
    platform.admin().wait_available(["noop"])


def test_fault_api_rejects_bad_bodies_and_needs_auth(platform):
    assert requests.post(f"{platform.gateway_url}/system/faults",
                         json={"kind": "kill_replica"}).status_code == 401
    for body in ({"kind": "volcano"}, {"kind": "storage_outage"},
                 {"kind": "storage_outage", "duration_s": -1},
                 {"kind": "kill_replica", "busy": 3}):
        r = _fault(platform, **body)
        assert r.status_code == 400 and r.json()["error"]["kind"] == "bad_request", body


def test_kill_replica_picks_a_busy_one_and_the_call_fails_retryably(platform):
    _deploy_noop(platform, min_replicas=2, max_replicas=2, max_inflight=1)
    pool = platform.gateway.pools["noop"]
    r = _fault(platform, kind="kill_replica")  # nobody busy: nothing to kill
    assert r.status_code == 409 and r.json()["error"]["kind"] == "no_target"
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", _invoke(platform, sleep_ms=3000)))
    t.start()
    wait_for(lambda: any(s.inflight for s in pool.ready()), what="a busy replica")
    busy = next(s for s in pool.ready() if s.inflight).replica
    idle = next(s for s in pool.ready() if not s.inflight).replica
    r = _fault(platform, kind="kill_replica", function="noop", seed=1)
    t.join()
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["replica_id"] == busy.replica_id and rec["inflight"] == 1
    assert out["r"].status_code == 502 and out["r"].json()["error"]["retryable"] is True
    assert idle.alive() and not busy.alive()
    assert platform.logs.faults.where(kind="kill_replica", replica_id=busy.replica_id)
    wait_for(lambda: len(pool.ready()) == 2, timeout=30, what="the pool back to 2")
    platform.admin().remove("noop")


def test_storage_outage_then_the_store_answers_again_with_its_data(platform):
    store = ClaimCheckStore(platform.s3.settings())
    uri = store.put_bytes(b"before", "faults/before")
    r = _fault(platform, kind="storage_outage", duration_s=1.0)
    assert r.status_code == 202, r.text
    ts = r.json()["ts"]
    with pytest.raises(StorageUnavailable) as err:  # one clear, retryable error
        ClaimCheckStore(platform.s3.settings()).get_bytes(uri)
    assert err.value.retryable and err.value.status == 503
    wait_for(lambda: platform.logs.faults.where(kind="storage_outage", ts=ts), timeout=60,
             what="the outage over")
    rec = platform.logs.faults.where(kind="storage_outage", ts=ts)[0]
    assert "error" not in rec and rec["end_ts"] - rec["ts"] >= 1.0
    assert ClaimCheckStore(platform.s3.settings()).get_bytes(uri) == b"before"


def test_gateway_restart_reaps_its_replicas_and_serves_again(platform):
    _deploy_noop(platform, min_replicas=1, max_replicas=2)
    old = platform.gateway
    pids = [s.replica.pid for s in old.pools["noop"].ready()]
    assert pids and all(_alive(p) for p in pids)
    r = _fault(platform, kind="gateway_restart", down_s=0.5)
    assert r.status_code == 202, r.text
    ts = r.json()["ts"]
    wait_for(lambda: platform.logs.faults.where(kind="gateway_restart", ts=ts), timeout=60,
             what="the restart over")
    rec = platform.logs.faults.where(kind="gateway_restart", ts=ts)[0]
    assert "error" not in rec and rec["replicas_stopped"] == 1 and rec["functions"] >= 1
    assert platform.gateway is not old and platform.gateway.port == old.port
    assert not any(_alive(p) for p in pids)  # reaped, not orphaned
    stopped = platform.logs.replicas.where(function="noop", stop_reason="gateway_restart")
    assert len(stopped) == 1
    platform.admin().wait_available(["noop"])
    assert _invoke(platform).status_code == 200
    platform.admin().remove("noop")


def test_outage_under_way_when_the_platform_stops_leaves_no_server(tmp_path):
    p = EmbeddedPlatform(tmp_path / "p").start()
    try:
        assert p.admin().post_fault({"kind": "storage_outage", "duration_s": 30}).status_code \
            == 202
        time.sleep(0.5)
    finally:
        t0 = time.monotonic()
        p.stop()
    assert time.monotonic() - t0 < 20  # the outage's wait ends with the platform
    assert p.s3.proc is None


def test_reliability_rows_in_the_report():
    from vsbench.analysis.reliability import FAULT_EVENT_COLUMNS, RELIABILITY_COLUMNS
    from vsbench.analysis.report_rq import fault_event_rows, reliability_rows

    rel = pd.DataFrame([{
        "platform": "embedded", "regime": "warm", "workload": "kills", "rep": 1,
        "faults_injected": 24, "kills": 23, "storage_outages": 1, "gateway_restarts": 0,
        "faults_missed": 1, "requests": 25, "ok": 24, "app_error": 1, "http_error": 0,
        "timeout": 0, "dropped": 0, "ok_fraction": 0.96, "hit": 10, "hit_ok": 9,
        "app_retries": 12, "sender_retries": 3, "p50_unhit_ms": 11000.0,
        "p50_added_ms": 2500.0, "top_failure": "retries_exhausted: asr (×1)"}],
        columns=RELIABILITY_COLUMNS)
    [row] = reliability_rows(rel, multi=False)
    assert row[:6] == ["warm", "kills", "1", "23 kills, 1 outages, 1 missed", "25", "96.0%"]
    assert row[6:9] == ["1 / 0 / 0 / 0", "9/10", "12 + 3"]
    ev = pd.DataFrame([
        {"platform": "embedded", "regime": "warm", "workload": "kills", "rep": 1,
         "fault_id": f"{k}-{i}", "kind": k, "outcome": o, "at_s": 5.0 * i, "lasted_s": 0.0,
         "function": None, "replica_id": None, "hit": 1, "hit_ok": 1, "p50_added_ms": 10.0,
         "error": None}
        for i, (k, o) in enumerate([("kill_replica", "injected"), ("kill_replica", "missed"),
                                    ("storage_outage", "injected")])],
        columns=FAULT_EVENT_COLUMNS)
    # injected kills are summed per run above; what lasted, and what missed, get a row
    assert [r[3:5] for r in fault_event_rows(ev, multi=False)] == [
        ["kill_replica", "missed"], ["storage_outage", "injected"]]
    assert fault_event_rows(pd.DataFrame(), multi=False) == []
