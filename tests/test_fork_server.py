"""The fork-server starter: replicas forked from a resident template serve as spawned ones do
(the same answers for every function), a dead template is replaced, and a start it was
serving fails with the reason."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import requests
from conftest import wait_for

from vsbench.errors import VsbError
from vsbench.platform.daemon import _alive
from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.platform.fork_server import ForkedReplica, ForkServer
from vsbench.platform.policy import PolicyError, ScalingPolicy


def test_starter_is_validated_and_travels_as_a_label():
    with pytest.raises(PolicyError, match="starter must be one of spawn, fork-server"):
        ScalingPolicy(starter="zygote").validate()
    p = ScalingPolicy(starter="fork-server").validate()
    wire = p.to_deployment("noop", "img")
    assert wire["labels"]["vsbench.starter"] == "fork-server"
    assert ScalingPolicy.from_deployment(wire).starter == "fork-server"
    assert "vsbench.starter" not in ScalingPolicy().to_deployment("noop", "img")["labels"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with EmbeddedPlatform(tmp_path_factory.mktemp("platform")) as p:
        yield p


def _invoke(platform, fn="noop"):
    return requests.post(f"{platform.gateway_url}/function/{fn}", timeout=60,
                         json={"request_id": "t", "stage": fn, "config": {}})


def test_forked_replicas_serve_and_leave_nothing_behind(platform):
    pol = ScalingPolicy(min_replicas=0, max_replicas=2, memory_mb=256, idle_timeout_s=None,
                        starter="fork-server").validate()
    platform.admin().deploy("noop", pol, "vsbench/noop:test")
    template = platform.gateway.pools["noop"].factory.template
    assert template.alive() and template.ready_ms > 0  # started with the deployment
    r = _invoke(platform)
    assert r.status_code == 200 and r.headers["X-Vsb-Start"] == "scale_from_zero"
    [slot] = platform.gateway.pools["noop"].ready()
    rep = slot.replica
    assert isinstance(rep, ForkedReplica) and rep.pid == r.json()["outputs"]["pid"]
    assert rep.pid != template.proc.pid and os.getpgid(rep.pid) == rep.pid  # own session
    with open(f"/proc/{rep.pid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == template.proc.pid  # its child
    platform.admin().remove("noop")
    wait_for(lambda: not rep.alive() and not template.alive(), what="replica and template gone")
    # the template is billed: a replica record with role template, never busy
    [rec] = [r for r in platform.logs.replicas.records
             if r["function"] == "noop" and r.get("role") == "template"
             and r["pid"] == template.proc.pid]
    assert rec["stop_reason"] == "removed" and rec["busy_s"] == 0 and rec["served"] == 0
    assert rec["alive_s"] > 0 and rec["memory_mb"] == 256 and rec["peak_rss_mb"] > 5


def test_templates_are_charged_as_idle_memory_and_left_out_of_counts():
    import pandas as pd

    from vsbench.analysis.cost import run_cost
    from vsbench.archive import INVOCATION_COLUMNS, build_replicas, serving_replicas

    pool_log = [
        {"function": "asr", "replica_id": "asr-template-9", "role": "template",
         "spawn_ts": 100.0, "ready_ts": 101.0, "stop_ts": 150.0,
         "stop_reason": "platform_down", "memory_mb": 1024, "served": 0, "busy_s": 0.0},
        {"function": "asr", "replica_id": "asr-0", "spawn_ts": 110.0, "ready_ts": 110.2,
         "stop_ts": 150.0, "stop_reason": "platform_down", "memory_mb": 1024,
         "idle_timeout_s": None, "min_replicas": 1, "served": 0, "busy_s": 0.0}]
    reps = build_replicas(pool_log, [], pd.DataFrame(columns=INVOCATION_COLUMNS), (105.0, 145.0))
    tmpl = reps[reps["role"] == "template"].iloc[0]
    assert tmpl["end_kind"] == "window" and tmpl["alive_s"] == 40.0  # the window, as a replica
    assert list(serving_replicas(reps)["replica_id"]) == ["asr-0"]
    cost = run_cost(pd.DataFrame(columns=["request_id", "status", "warmup"]),
                    pd.DataFrame(columns=INVOCATION_COLUMNS), reps)
    assert cost.idle_gb_s == pytest.approx((40.0 + 35.0) * 1.0)  # both, at 1 GB


def test_template_death_fails_the_start_it_served_and_is_replaced(tmp_path):
    server = ForkServer("noop", {}, tmp_path).start()
    first = server.proc.pid
    os.kill(first, signal.SIGSTOP)  # it takes the request and never answers
    out: dict = {}

    def start():
        rep = ForkedReplica("noop", "noop-x", {}, tmp_path)
        rep.server = server
        try:
            rep.spawn()
        except VsbError as exc:
            out["error"] = str(exc)

    t = threading.Thread(target=start)
    t.start()
    time.sleep(0.5)
    os.kill(first, signal.SIGKILL)
    t.join(30)
    assert "fork server of noop could not start replica noop-x: it died" in out["error"]
    rep = ForkedReplica("noop", "noop-y", {}, tmp_path)  # the next start replaces it
    rep.server = server
    rep.spawn()
    rep.wait_ready(60)
    assert server.restarts == 1 and server.proc.pid != first and rep.alive()
    server.stop()  # a replica outlives its template: it watches the platform, not it
    time.sleep(0.3)
    assert rep.alive()
    rep.stop()
    assert not rep.alive() and not _alive(first)


def test_a_host_without_the_starter_refuses_the_deployment(platform, monkeypatch):
    monkeypatch.setattr(platform.provider, "starters", ("spawn",), raising=False)
    pol = ScalingPolicy(starter="fork-server").validate()
    with pytest.raises(VsbError, match="starts replicas with spawn, not fork-server"):
        platform.admin().deploy("noop", pol, "vsbench/noop:test")


@pytest.mark.slow
def test_forked_replicas_give_the_same_answers_as_spawned_ones(corpus_dir, tmp_path):
    """Every function of the application, forked, on the sample video: the same answer."""
    from vsbench.process import run_orchestrator
    from vsbench.regimes import load_config, resolve_regime
    from vsbench.run_correctness import output_digest

    answers = {}
    for starter in ("spawn", "fork-server"):
        policies = {fn: ScalingPolicy(**{**p.to_dict(), "starter": starter}).validate()
                    for fn, p in resolve_regime(load_config(), "warm").items()}
        with EmbeddedPlatform(tmp_path / starter) as platform:
            platform.deploy(policies)
            kinds = {type(s.replica).__name__ for pool in platform.gateway.pools.values()
                     for s in pool.ready()}
            assert kinds == {"ForkedReplica" if starter == "fork-server" else "ProcessReplica"}
            result = run_orchestrator(platform.gateway_url, platform.store,
                                      corpus_dir / "sample.mp4", "cat")
        answers[starter] = result
    assert answers["spawn"]["status"] == answers["fork-server"]["status"] == "ok"
    assert output_digest(answers["spawn"]) == output_digest(answers["fork-server"])
    assert [c["transcript"] for c in answers["spawn"]["clips"]] == [
        c["transcript"] for c in answers["fork-server"]["clips"]]
