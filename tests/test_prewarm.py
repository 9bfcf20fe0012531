"""The prewarm starter: spare replicas started ahead of demand, handed out on demand (the
call finds them ready: warm), replaced in the background, billed as idle when unused."""

from __future__ import annotations

import threading

import pytest
import requests
from conftest import wait_for

from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.platform.policy import PolicyError, ScalingPolicy


def test_prewarm_policy_travels_and_is_checked():
    p = ScalingPolicy(starter="prewarm", prewarm=2).validate()
    wire = p.to_deployment("noop", "img")
    assert wire["labels"]["vsbench.prewarm"] == "2"
    back = ScalingPolicy.from_deployment(wire)
    assert (back.starter, back.prewarm) == ("prewarm", 2)
    with pytest.raises(PolicyError, match="prewarm"):
        ScalingPolicy(starter="prewarm", prewarm=0).validate()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with EmbeddedPlatform(tmp_path_factory.mktemp("platform")) as p:
        yield p


def _invoke(platform, sleep_ms=0):
    return requests.post(f"{platform.gateway_url}/function/noop", timeout=60,
                         json={"request_id": "t", "stage": "noop",
                               "config": {"sleep_ms": sleep_ms}})


def test_a_spare_is_handed_out_warm_and_replaced(platform):
    pol = ScalingPolicy(min_replicas=0, max_replicas=2, memory_mb=256, idle_timeout_s=1.0,
                        starter="prewarm", prewarm=1).validate()
    platform.admin().deploy("noop", pol, "vsbench/noop:test")
    pool = platform.gateway.pools["noop"]
    wait_for(lambda: [s.state for s in pool.spares] == ["ready"], timeout=30,
             what="one ready spare")
    assert pool.live() == [] and platform.admin().function("noop")["replicas"] == 0
    spare = pool.spares[0].replica.replica_id
    r = _invoke(platform)
    assert r.status_code == 200 and r.headers["X-Vsb-Start"] == "warm"
    assert r.headers["X-Vsb-Replica"] == spare and float(r.headers["X-Vsb-Queue-Ms"]) < 50
    wait_for(lambda: len(pool.spares) == 1 and pool.spares[0].state == "ready"
             and pool.spares[0].replica.replica_id != spare, timeout=30, what="a new spare")
    # the served replica idles out as any other; the spare stays however long it waits
    wait_for(lambda: not pool.live(), timeout=30, what="the served replica idled out")
    [rec] = platform.logs.replicas.where(replica_id=spare)
    assert rec["role"] == "prewarm" and rec["stop_reason"] == "idle" and rec["served"] == 1
    assert len(pool.spares) == 1
    events = [e["reason"] for e in platform.logs.scale_events.where(function="noop")]
    assert "prewarm" in events and "prewarm_assigned" in events
    platform.admin().remove("noop")


def test_a_burst_takes_the_spare_then_waits_for_starts(platform):
    pol = ScalingPolicy(min_replicas=0, max_replicas=3, memory_mb=256, idle_timeout_s=None,
                        starter="prewarm", prewarm=1).validate()
    platform.admin().deploy("noop", pol, "vsbench/noop:test")
    pool = platform.gateway.pools["noop"]
    wait_for(lambda: [s.state for s in pool.spares] == ["ready"], timeout=30,
             what="one ready spare")
    out: list = []
    threads = [threading.Thread(target=lambda: out.append(_invoke(platform, 1000)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts = sorted(r.headers["X-Vsb-Start"] for r in out)
    assert [r.status_code for r in out] == [200] * 3
    assert starts.count("warm") >= 1 and set(starts) <= {"warm", "scale_out",
                                                          "scale_from_zero"}
    spares_before = {s.replica.replica_id for s in pool.spares}
    platform.admin().remove("noop")
    stopped = {r["replica_id"] for r in platform.logs.replicas.records
               if r["function"] == "noop" and r["stop_reason"] == "removed"}
    assert spares_before <= stopped  # spares stop with the function, and are recorded
