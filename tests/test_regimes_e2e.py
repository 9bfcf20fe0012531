"""VideoSearcher under the deployment regimes: real cold starts, warm pools, failures."""

from __future__ import annotations

import threading
import time

import pytest

from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.process import run_orchestrator
from vsbench.regimes import load_config, resolve_regime

pytestmark = pytest.mark.slow
STAGES = {"ffmpeg-0", "librosa", "ffmpeg-1", "ffmpeg-2", "asr", "ffmpeg-3", "object-detector",
          "search"}
# One clip at a time: each function sees at most one call at once, so one replica serves it
# and a second request cannot need a replica the first did not start.
SERIAL = {"max_parallel_clips": 1}


@pytest.fixture
def platform(tmp_path):
    with EmbeddedPlatform(tmp_path / "platform") as p:
        yield p


def _run(platform, video, query="cup"):
    return run_orchestrator(platform.gateway_url, platform.store, video, query, SERIAL)


def test_cold_regime_cold_then_warm_then_zero(platform, corpus_dir):
    policies = resolve_regime(load_config(), "cold")
    # No keep-alive limit until both requests are done: on a slow machine the first request
    # outlasts any fixed keep-alive of its early stages, and the second would be cold again.
    for p in policies.values():
        p.idle_timeout_s = None
    platform.deploy(policies)
    admin = platform.admin()
    assert all(f["replicas"] == 0 for f in admin.functions())
    video = corpus_dir / "short.mp4"

    first = _run(platform, video)
    assert first["status"] == "ok" and first["cold"] is True
    assert first["timings"]["orchestrator_cold"] is True
    stages = first["timings"]["stages"]
    assert set(stages) == STAGES
    assert all(stages[s]["cold"] >= 1 for s in STAGES), {s: stages[s]["cold"] for s in stages}

    second = _run(platform, video)
    assert second["cold"] is False
    assert all(v["cold"] == 0 for v in second["timings"]["stages"].values())

    idle = 2.0
    for p in policies.values():
        p.idle_timeout_s = idle
    platform.deploy(policies, wait=False)  # an update: the same replicas, a 2 s keep-alive
    deadline = time.monotonic() + idle + 20
    while time.monotonic() < deadline and any(f["replicas"] for f in admin.functions()):
        time.sleep(0.2)
    assert [f["replicas"] for f in admin.functions()] == [0] * 9  # back at zero
    idle_events = platform.logs.scale_events.where(reason="idle")
    assert {e["function"] for e in idle_events} == STAGES | {"orchestrator"}


def test_warm_regime_never_cold_and_survives_a_killed_replica(platform, corpus_dir):
    platform.deploy(resolve_regime(load_config(), "warm"))
    assert all(f["availableReplicas"] >= 1 for f in platform.admin().functions())
    video = corpus_dir / "short.mp4"
    first = _run(platform, video)
    assert first["status"] == "ok" and first["cold"] is False

    # SIGKILL the asr replica while it transcribes; the orchestrator's retry must succeed.
    pool = platform.gateway.pools["asr"]
    killed = []

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [s for s in pool.ready() if s.inflight]
            if busy:
                busy[0].replica.kill()
                killed.append(busy[0].replica.replica_id)
                return
            time.sleep(0.002)

    t = threading.Thread(target=killer)
    t.start()
    result = _run(platform, video)
    t.join()
    assert killed, "asr was never seen in flight"
    assert result["status"] == "ok"
    asr = result["timings"]["stages"]["asr"]
    assert asr["attempts"] == asr["calls"] + 1  # one failed attempt, retried
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pool.ready():
        time.sleep(0.1)
    assert pool.ready() and pool.ready()[0].replica.replica_id != killed[0]  # recovered
    events = platform.logs.scale_events.where(function="asr", reason="replica_died")
    assert events and events[0]["replica"] == killed[0]
