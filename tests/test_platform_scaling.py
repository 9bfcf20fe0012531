"""The embedded platform's scaling behaviour, on the noop control function (fast)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import wait_for

from functions.orchestrator.client import GatewayClient, RetryPolicy
from vsbench.errors import VsbError
from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.platform.policy import ScalingPolicy
from vsbench.platform.scaling import StartBackoff


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with EmbeddedPlatform(tmp_path_factory.mktemp("platform")) as p:
        yield p


@pytest.fixture
def noop(platform):
    """Deploy noop with a policy; removed afterwards so each test starts from nothing."""
    admin = platform.admin()

    def _deploy(**policy) -> ScalingPolicy:
        pol = ScalingPolicy(**{"memory_mb": 256, **policy}).validate()
        admin.deploy("noop", pol, "vsbench/noop:test")
        return pol

    yield _deploy
    try:
        admin.remove("noop")
    except Exception:
        pass


def invoke(platform, sleep_ms=0, timeout=30, **config):
    return requests.post(f"{platform.gateway_url}/function/noop", timeout=timeout,
                         json={"request_id": "t", "stage": "noop",
                               "config": {"sleep_ms": sleep_ms, **config}})


def replicas(platform):
    return platform.admin().function("noop")["replicas"]


def test_scale_from_zero_is_cold_then_warm_then_back_to_zero(platform, noop):
    noop(min_replicas=0, max_replicas=2, idle_timeout_s=1.0)
    assert replicas(platform) == 0
    first = invoke(platform)
    assert first.status_code == 200, first.text
    assert first.headers["X-Vsb-Cold"] == "1" and float(first.headers["X-Vsb-Queue-Ms"]) > 0
    second = invoke(platform)
    assert second.headers["X-Vsb-Cold"] == "0" and float(second.headers["X-Vsb-Queue-Ms"]) == 0
    assert second.headers["X-Vsb-Replica"] == first.headers["X-Vsb-Replica"]
    wait_for(lambda: replicas(platform) == 0, what="scale to zero")  # /system/functions says 0
    events = platform.logs.scale_events.where(function="noop")
    assert [e["reason"] for e in events] == ["scale_from_zero", "idle"]
    assert (events[0]["from"], events[0]["to"]) == (0, 1)
    assert (events[1]["from"], events[1]["to"]) == (1, 0)


def test_cold_calls_are_classed_scale_from_zero_or_scale_out(platform, noop):
    """From zero, the first call waits for a start with no ready replica: scale from zero.
    With one replica busy, a second call that waits for a new replica: scale out. A call
    served by a ready replica: warm. The class is in the header and the invocation log."""
    noop(min_replicas=0, max_replicas=2, max_inflight=1, idle_timeout_s=30)
    first = invoke(platform)
    assert first.headers["X-Vsb-Start"] == "scale_from_zero"
    with ThreadPoolExecutor(2) as ex:
        busy = ex.submit(invoke, platform, 3000)
        time.sleep(0.3)  # the ready replica is busy 2.7 s more: a noop starts well within
        second = ex.submit(invoke, platform).result()
        busy = busy.result()
    assert busy.headers["X-Vsb-Start"] == "warm"
    assert second.headers["X-Vsb-Start"] == "scale_out", second.headers
    assert second.headers["X-Vsb-Replica"] != busy.headers["X-Vsb-Replica"]
    starts = [r["start"] for r in platform.logs.invocations.where(function="noop")][-3:]
    assert sorted(starts) == ["scale_from_zero", "scale_out", "warm"]


def test_min_replicas_hold_and_start_at_deploy(platform, noop):
    noop(min_replicas=1, max_replicas=2, idle_timeout_s=0.3)
    platform.admin().wait_available(["noop"])
    r = invoke(platform)
    assert r.headers["X-Vsb-Cold"] == "0"  # the min replica was there before the request
    time.sleep(1.0)  # well past idle_timeout_s
    assert replicas(platform) == 1


def test_burst_respects_max_and_the_excess_waits(platform, noop):
    noop(min_replicas=0, max_replicas=2, max_inflight=1, idle_timeout_s=30,
         queue_timeout_s=30)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(len(platform.gateway.pools["noop"].live()))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: invoke(platform, sleep_ms=300), range(6)))
    stop.set()
    watcher.join()
    assert [r.status_code for r in results] == [200] * 6
    assert max(seen) == 2  # never above max_replicas
    queued = sorted(float(r.headers["X-Vsb-Queue-Ms"]) for r in results)
    assert queued[-1] >= 250  # the excess waited for a slot, then succeeded
    assert len({r.headers["X-Vsb-Replica"] for r in results}) == 2


def test_queue_timeout_gives_504_with_reason(platform, noop):
    noop(min_replicas=1, max_replicas=1, max_inflight=1, idle_timeout_s=None,
         queue_timeout_s=0.3)
    platform.admin().wait_available(["noop"])
    with ThreadPoolExecutor(3) as ex:
        results = list(ex.map(lambda _: invoke(platform, sleep_ms=1000), range(3)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 504, 504]
    err = next(r for r in results if r.status_code == 504).json()["error"]
    assert err["kind"] == "queue_timeout" and "queue_timeout_s" in err["message"]


def test_full_queue_gives_429_with_retry_after(platform, noop):
    noop(min_replicas=1, max_replicas=1, max_inflight=1, idle_timeout_s=None,
         queue_timeout_s=10)
    pool = platform.gateway.pools["noop"]
    pool.policy.max_queue = 1
    platform.admin().wait_available(["noop"])
    with ThreadPoolExecutor(3) as ex:
        results = list(ex.map(lambda _: invoke(platform, sleep_ms=500), range(3)))
    assert sorted(r.status_code for r in results) == [200, 200, 429]
    full = next(r for r in results if r.status_code == 429)
    assert full.headers["Retry-After"] == "1" and full.json()["error"]["kind"] == "queue_full"
    assert "queue full" in full.json()["error"]["message"]


def test_a_burst_of_100_from_zero_is_served_whole(platform, noop):
    """Knative's activator test, here: 100 concurrent calls at a function with no replica,
    within the queue bound, all 200."""
    noop(min_replicas=0, max_replicas=4, max_inflight=1, idle_timeout_s=30,
         queue_timeout_s=120)
    assert replicas(platform) == 0
    with ThreadPoolExecutor(100) as ex:
        results = list(ex.map(lambda _: invoke(platform, sleep_ms=50, timeout=180), range(100)))
    assert [r.status_code for r in results] == [200] * 100
    starts = {r.headers["X-Vsb-Start"] for r in results}
    assert "scale_from_zero" in starts and len({r.headers["X-Vsb-Replica"]
                                                for r in results}) <= 4


def test_sigkill_mid_invocation_fails_clearly_retry_succeeds_pool_recovers(platform, noop):
    noop(min_replicas=1, max_replicas=2, max_inflight=1, idle_timeout_s=None)
    platform.admin().wait_available(["noop"])
    pool = platform.gateway.pools["noop"]
    victim = pool.ready()[0].replica
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", invoke(platform, sleep_ms=3000)))
    t.start()
    wait_for(lambda: pool.ready() and pool.ready()[0].inflight == 1, what="in flight")
    victim.kill()
    t.join()
    r = out["r"]
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["kind"] == "replica_failed" and err["retryable"] is True
    assert victim.replica_id in err["message"] and "died" in err["message"]
    # The orchestrator's client retries a 502; the second attempt lands on a new replica.
    client = GatewayClient(platform.gateway_url, retry=RetryPolicy(backoff_s=0.05))
    victim2 = None

    def kill_first_attempt():
        nonlocal victim2
        wait_for(lambda: any(s.inflight for s in pool.ready()), what="retry in flight")
        victim2 = next(s for s in pool.ready() if s.inflight).replica
        victim2.kill()

    killer = threading.Thread(target=kill_first_attempt)
    killer.start()
    outputs = client.call("noop", {"request_id": "k", "config": {"sleep_ms": 1500}})
    killer.join()
    assert "pid" in outputs
    assert [rec.status for rec in client.records] == [502, 200]
    assert client.records[1].replica_id != victim2.replica_id
    wait_for(lambda: len(pool.ready()) >= 1 and all(s.replica.alive() for s in pool.ready()),
             what="pool recovered")
    reasons = [e["reason"] for e in platform.logs.scale_events.where(function="noop")]
    assert "replica_died" in reasons


def test_memory_limit_is_enforced(platform, noop):
    noop(min_replicas=1, max_replicas=1, idle_timeout_s=None, memory_mb=16)
    wait_for(lambda: platform.logs.scale_events.where(function="noop", reason="oom_killed"),
             what="oom kill")
    ev = platform.logs.scale_events.where(function="noop", reason="oom_killed")[0]
    assert ev["rss_mb"] > ev["limit_mb"] == 16


def test_scale_function_api_and_update(platform, noop):
    noop(min_replicas=0, max_replicas=3, idle_timeout_s=None)
    admin = platform.admin()
    assert admin.scale("noop", 5)["replicas"] == 3  # clamped to max
    wait_for(lambda: admin.function("noop")["availableReplicas"] == 3, what="3 ready")
    pids = {s.replica.pid for s in platform.gateway.pools["noop"].ready()}
    admin.scale("noop", 1)
    assert replicas(platform) == 1
    # A changed image/env replaces the replicas; a policy change alone does not.
    pol = ScalingPolicy(min_replicas=1, max_replicas=3, idle_timeout_s=None, memory_mb=256)
    body = pol.to_deployment("noop", "vsbench/noop:v2")
    r = requests.put(f"{platform.gateway_url}/system/functions", json=body,
                     auth=platform.auth.as_tuple())
    assert r.status_code == 200  # OpenFaaS: update answers 200
    wait_for(lambda: admin.function("noop")["availableReplicas"] == 1 and not (
        {s.replica.pid for s in platform.gateway.pools["noop"].ready()} & pids),
        what="replaced replica")
    assert admin.function("noop")["image"] == "vsbench/noop:v2"


def test_system_api_needs_basic_auth_and_never_logs_it(platform, noop):
    noop(min_replicas=0, max_replicas=1, idle_timeout_s=5)
    url = platform.gateway_url
    assert requests.get(f"{url}/system/functions").status_code == 401
    assert requests.get(f"{url}/system/functions", auth=("admin", "wrong")).status_code == 401
    assert requests.post(f"{url}/system/scale-function/noop",
                         json={"replicas": 1}).status_code == 401
    r = requests.get(f"{url}/system/functions", auth=platform.auth.as_tuple())
    assert r.status_code == 200 and r.json()[0]["name"] == "noop"
    assert invoke(platform).status_code == 200  # invoke routes are public, as in OpenFaaS
    assert requests.get(f"{url}/healthz").text == "OK"
    password = platform.auth.password
    assert password not in repr(platform.auth)
    for path in platform.state_dir.rglob("*"):
        if path.is_file() and path != platform.auth_file:
            assert password not in path.read_text(errors="replace"), path


def _metrics(platform) -> dict[str, float]:
    text = requests.get(f"{platform.gateway_url}/metrics").text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_use_openfaas_names(platform, noop):
    noop(min_replicas=0, max_replicas=1, idle_timeout_s=5)
    before = _metrics(platform)
    for _ in range(3):
        invoke(platform)
    after = _metrics(platform)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    fn = 'function_name="noop.openfaas-fn"'  # OpenFaaS's name.namespace
    assert delta(f'gateway_function_invocation_total{{{fn},code="200"}}') == 3
    assert delta(f'gateway_functions_seconds_count{{{fn},code="200"}}') == 3
    assert delta('vsbench_cold_starts_total{function_name="noop.openfaas-fn"}') == 1
    assert after['gateway_service_count{function_name="noop.openfaas-fn"}'] == 1
    assert 'vsbench_replica_seconds_total{function_name="noop.openfaas-fn",state="idle"}' in after


def test_deploy_checks_the_body_and_an_unknown_function_fails_to_start(platform):
    auth = platform.auth.as_tuple()
    url = f"{platform.gateway_url}/system/functions"
    r = requests.post(url, json={"service": "nope"}, auth=auth)
    assert r.status_code == 400 and "'image' is required" in r.text
    body = ScalingPolicy().to_deployment("noop", "x")
    body["labels"]["com.openfaas.scale.min"] = "9"
    r = requests.post(url, json=body, auth=auth)
    assert r.status_code == 400 and "max_replicas" in r.text
    body = ScalingPolicy(keepalive={"policy": "oracle"}).to_deployment("noop", "x")
    r = requests.post(url, json=body, auth=auth)
    assert r.status_code == 400 and "runs in `vsbench simulate` only" in r.text
    assert requests.post(f"{platform.gateway_url}/function/nope", json={}).status_code == 404
    # As on OpenFaaS, a well-formed deployment stands; its replicas say why they cannot start
    # (the process host runs the function runtime, which knows no "nope").
    r = requests.post(url, json={"service": "nope", "image": "x"}, auth=auth)
    assert r.status_code == 202
    admin = platform.admin()
    wait_for(lambda: admin.function("nope")["vsbench"]["start_failures"] >= 1,
             what="a failed start")
    assert "nope" in admin.function("nope")["vsbench"]["last_start_error"]
    with pytest.raises(VsbError, match="failed to start"):
        admin.wait_available(["nope"], timeout_s=60)


def test_gateway_logs_every_invocation(platform, noop):
    noop(min_replicas=0, max_replicas=1, idle_timeout_s=5)
    requests.post(f"{platform.gateway_url}/function/noop", json={"request_id": "abc"},
                  headers={"X-Vsb-Request-Id": "abc"})
    rec = platform.logs.invocations.where(request_id="abc")[0]
    assert rec["function"] == "noop" and rec["status"] == 200 and rec["cold"] is True
    lines = (platform.state_dir / "events" / "gateway_invocations.jsonl").read_text()
    assert json.loads(lines.splitlines()[-1])["request_id"] == "abc"


def test_start_backoff_doubles_to_a_bound_and_resets():
    b = StartBackoff(base_s=1.0, max_s=30.0)
    assert [b.failed("x", now=0.0) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert b.remaining(10.0) == 20.0 and b.last_error == "x" and b.failures == 7
    b.succeeded()
    assert b.remaining(0.0) == 0.0 and b.failures == 0 and b.last_error is None


def test_failed_init_is_one_502_naming_it_then_backoff_not_a_loop(platform, noop):
    admin = platform.admin()
    pol = ScalingPolicy(min_replicas=0, max_replicas=2, idle_timeout_s=None, memory_mb=256)
    admin.deploy("noop", pol, "vsbench/noop:test", {"VSB_NOOP_INIT_FAIL": "no model"})
    r = invoke(platform)
    assert r.status_code == 502
    msg = r.json()["error"]["message"]
    assert "replica noop-" in msg and "init failed on purpose: no model" in msg, msg
    t0 = time.monotonic()
    again = invoke(platform)  # backing off: fails at once, naming the last failure
    assert time.monotonic() - t0 < 0.5
    assert again.status_code == 503 and "no model" in again.json()["error"]["message"]
    assert "1 consecutive failed start" in again.json()["error"]["message"]
    # min_replicas=1 retries on its own, but only as the backoff allows: 1 s, then 2 s, ...
    admin.deploy("noop", ScalingPolicy(min_replicas=1, max_replicas=1, idle_timeout_s=None,
                                       memory_mb=256), "vsbench/noop:test",
                 {"VSB_NOOP_INIT_FAIL": "no model"})
    time.sleep(3.5)
    failed = platform.logs.scale_events.where(function="noop", reason="start_failed")
    assert 2 <= len(failed) <= 4, [e["backoff_s"] for e in failed]
    delays = [e["backoff_s"] for e in failed]
    assert delays == sorted(delays) and delays[0] == 1.0
    rec = platform.logs.replicas.where(function="noop", stop_reason="start_failed")[-1]
    assert "no model" in rec["error"] and rec["host"] == "process"
    # A working env replaces the config; the backoff resets and the replica starts.
    admin.deploy("noop", ScalingPolicy(min_replicas=1, max_replicas=1, idle_timeout_s=None,
                                       memory_mb=256), "vsbench/noop:test")
    admin.wait_available(["noop"], timeout_s=40)
    assert invoke(platform).status_code == 200


def test_histogram_keepalive_scales_to_zero_between_calls_yet_prewarms_for_the_next(
        platform, noop):
    """Calls 4.5 s apart (each ~0 s): once the histogram has 3 idle times (bin 4), each call
    ends with the replica stopped at once; the pre-warm window starts one 2 s later (bin 4's
    edge less the 50 % margin) and the next call finds it ready: warm, with no replica kept
    through the gap."""
    before = len(platform.logs.scale_events.where(function="noop"))  # earlier tests' noop
    seen = len(platform.logs.replicas.where(function="noop"))
    noop(min_replicas=0, max_replicas=1, idle_timeout_s=30,
         keepalive={"policy": "histogram", "bin_s": 1, "range_s": 20, "min_samples": 3,
                    "margin": 0.5, "min_cv": 1})
    starts = []
    for i in range(7):
        t0 = time.monotonic()
        r = invoke(platform)
        assert r.status_code == 200, r.text
        starts.append(r.headers["X-Vsb-Start"])
        if i < 6:
            time.sleep(max(0.0, 4.5 - (time.monotonic() - t0)))
    events = [e["reason"] for e in platform.logs.scale_events.where(function="noop")[before:]]
    # calls 1-4 learn (one replica kept under the 30 s fallback); after call 4 the windows
    # apply: stop at once, pre-warm, warm call, three times
    assert starts[0] == "scale_from_zero" and starts[4:] == ["warm"] * 3, starts
    assert events[:1] == ["scale_from_zero"]
    assert events[1:] == ["idle", "keepalive_prewarm"] * 3 + ["idle"] or \
        events[1:] == ["idle", "keepalive_prewarm"] * 3, events
    # what the archive's keep-alive projection reads: the window in force, here "stop at once"
    stopped = [r for r in platform.logs.replicas.where(function="noop")[seen:]
               if r["stop_reason"] == "idle"]
    assert stopped and all(r["idle_timeout_s"] == 0.0 for r in stopped)
